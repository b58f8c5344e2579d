"""Time resampling and finite-difference velocities, vectorized over frames (numpy).

Positions are interpolated linearly, orientations by SLERP (shortest arc); velocities are
derived from the resampled positions so the two always agree: central differences inside a
clip, one-sided at its ends, never across a clip boundary. The free joint's velocity follows
MuJoCo: linear in the world frame, angular in the body frame.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

# Highest output rate the data stages accept: above mocap's fastest (1 kHz) a resampled clip
# only grows (at 1e9 Hz one second would take gigabytes).
MAX_FREQUENCY = 1000.0


def time_grid(frames: int, src_rate: float, dst_rate: float) -> np.ndarray:
    """Sample times (seconds from the first frame) at `dst_rate` inside a clip of `frames`."""
    duration = (frames - 1) / src_rate
    count = int(np.floor(duration * dst_rate + 1e-9)) + 1
    return np.arange(count) / dst_rate


def _bracket(times: np.ndarray, frames: int, src_rate: float) -> tuple[np.ndarray, np.ndarray]:
    pos = np.clip(times * src_rate, 0.0, frames - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), max(frames - 2, 0))
    frac = pos - i0
    return i0, frac


def interp_linear(values: np.ndarray, src_rate: float, times: np.ndarray) -> np.ndarray:
    """`values` (T, ...) sampled at `src_rate`, linearly interpolated at `times` (seconds)."""
    frames = values.shape[0]
    if frames == 1:
        return np.repeat(values, len(times), axis=0)
    i0, frac = _bracket(times, frames, src_rate)
    frac = frac.reshape(-1, *([1] * (values.ndim - 1)))
    return values[i0] * (1.0 - frac) + values[i0 + 1] * frac


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Shortest-arc SLERP between unit quaternions (..., 4) (any component order) at `u`."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)
    dot = np.abs(dot)
    u = np.asarray(u)[..., None] if np.ndim(u) == q0.ndim - 1 else np.asarray(u)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    w0 = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / safe)
    w1 = np.where(small, u, np.sin(u * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def interp_quat(quats: np.ndarray, src_rate: float, times: np.ndarray) -> np.ndarray:
    """Unit quaternions (T, ..., 4) sampled at `src_rate`, SLERPed at `times` (seconds)."""
    frames = quats.shape[0]
    if frames == 1:
        return np.repeat(quats, len(times), axis=0)
    i0, frac = _bracket(times, frames, src_rate)
    frac = frac.reshape(-1, *([1] * (quats.ndim - 2)))
    return slerp(quats[i0], quats[i0 + 1], frac)


def _gradient(values: np.ndarray, dt: float) -> np.ndarray:
    if values.shape[0] < 2:
        return np.zeros_like(values)
    return np.gradient(values, dt, axis=0)


def angular_velocity_body(quat_wxyz: np.ndarray, dt: float) -> np.ndarray:
    """Body-frame angular velocity (T, 3) of one clip's orientations (T, 4) wxyz.

    The mean of the backward and forward body-frame rotation increments (a central
    difference), one-sided at the ends.
    """
    frames = quat_wxyz.shape[0]
    if frames < 2:
        return np.zeros((frames, 3))
    rot = Rotation.from_quat(quat_wxyz, scalar_first=True)
    step = (rot[:-1].inv() * rot[1:]).as_rotvec() / dt  # body frame of the earlier frame
    omega = np.zeros((frames, 3))
    omega[0] = step[0]
    omega[-1] = step[-1]
    omega[1:-1] = 0.5 * (step[:-1] + step[1:])
    return omega


def qvel_from_qpos(qpos: np.ndarray, dt: float) -> np.ndarray:
    """qvel (T, nv) of one clip of free-root qpos (T, 7 + n): MuJoCo's free-joint convention."""
    lin = _gradient(qpos[:, 0:3], dt)
    ang = angular_velocity_body(qpos[:, 3:7], dt)
    hinge = _gradient(qpos[:, 7:], dt)
    return np.concatenate([lin, ang, hinge], axis=1)


def resample_qpos(qpos: np.ndarray, src_rate: float, dst_rate: float) -> np.ndarray:
    """One clip's free-root qpos resampled: root position and hinges linear, root SLERP."""
    times = time_grid(qpos.shape[0], src_rate, dst_rate)
    pos = interp_linear(qpos[:, 0:3], src_rate, times)
    quat = interp_quat(qpos[:, 3:7], src_rate, times)
    hinge = interp_linear(qpos[:, 7:], src_rate, times)
    return np.concatenate([pos, quat, hinge], axis=1)
