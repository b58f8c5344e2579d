"""Rotations about the vertical axis and quaternion helpers (JAX, wxyz quaternions).

Everything the steering task measures is expressed in the root's *heading frame*: the world
frame turned about Z by the yaw of the pelvis' forward (X) axis. Quantities expressed there do
not change when the whole scene is turned about the vertical, which is what makes the policy's
observation heading-invariant.
"""

from __future__ import annotations

import jax.numpy as jp


def quat_mul(a: jp.ndarray, b: jp.ndarray) -> jp.ndarray:
    """Hamilton product of wxyz quaternions (broadcasts over leading axes)."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return jp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_rotate(q: jp.ndarray, v: jp.ndarray) -> jp.ndarray:
    """Rotate vectors `v` by unit quaternions `q`."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * jp.cross(u, v)
    return v + w * t + jp.cross(u, t)


def quat_to_tan_norm(q: jp.ndarray) -> jp.ndarray:
    """6-D continuous orientation: the rotated X (tangent) and Z (normal) axes."""
    x = quat_rotate(q, jp.broadcast_to(jp.array([1.0, 0.0, 0.0]), (*q.shape[:-1], 3)))
    z = quat_rotate(q, jp.broadcast_to(jp.array([0.0, 0.0, 1.0]), (*q.shape[:-1], 3)))
    return jp.concatenate([x, z], axis=-1)


def yaw_quat(yaw: jp.ndarray) -> jp.ndarray:
    """Quaternion of a rotation by `yaw` radians about +Z."""
    half = 0.5 * yaw
    zero = jp.zeros_like(yaw)
    return jp.stack([jp.cos(half), zero, zero, jp.sin(half)], axis=-1)


def heading_of(q: jp.ndarray) -> jp.ndarray:
    """Yaw of the body's forward (X) axis projected onto the ground plane."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    fx = 1.0 - 2.0 * (y * y + z * z)
    fy = 2.0 * (x * y + w * z)
    return jp.arctan2(fy, fx)


def rotate_z(v: jp.ndarray, angle: jp.ndarray) -> jp.ndarray:
    """Rotate 2-D or 3-D vectors about +Z by `angle` (broadcast over leading axes)."""
    c, s = jp.cos(angle), jp.sin(angle)
    x = c * v[..., 0] - s * v[..., 1]
    y = s * v[..., 0] + c * v[..., 1]
    return jp.concatenate([x[..., None], y[..., None], v[..., 2:]], axis=-1)
