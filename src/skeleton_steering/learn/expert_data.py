"""The expert data a training run needs, read from the cache format (`data.cache`).

A cache directory holds `expert_traj.npz` (the trajectory: qpos (T, 34) / qvel (T, 33), the
frames reference-state initialization starts episodes from) and `expert_disc_obs.npz` (`obs`
and `next_obs`, each (M, F): discriminator features of consecutive frames inside a clip).
`cache.load_expert_cache` reads and cross-checks both files; this module adds what training
needs on top: the feature size matches the environment, the frame rate matches its control
rate (the discriminator compares demo and policy transitions one control step apart), and the
values are finite. The discriminator sees a transition as one vector [s, s'] (2F), so the pairs
are kept concatenated.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco
import numpy as np
from rich.console import Console

from skeleton_steering.skeleton import model
from skeleton_steering.skeleton.features import body_state_features


class ExpertDataError(ValueError):
    """Expert data is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class ExpertData:
    qpos: np.ndarray | None  # (T, nq) start frames, or None for the env's standing pose
    qvel: np.ndarray | None  # (T, nv)
    disc_pairs: np.ndarray  # (M, 2F) float32 demo transitions [s, s']
    source: str


def _check(where: str, array: np.ndarray, width: int) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != width or array.shape[0] == 0:
        raise ExpertDataError(f"{where} must have shape (N >= 1, {width}), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ExpertDataError(f"{where} must be floating point, got {array.dtype}")
    if not np.isfinite(array).all():
        raise ExpertDataError(f"{where} contains NaN or infinite values")
    return array.astype(np.float32)


def load_cache(
    cache_dir: str | Path, disc_obs_size: int, control_dt: float, nq: int = 34, nv: int = 33
) -> ExpertData:
    """Read a cache directory and check it fits an env with these sizes and control step."""
    from skeleton_steering.data.cache import DISC_NAME, TRAJ_NAME, load_expert_cache

    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        raise ExpertDataError(f"data.cache_dir: directory not found: {cache_dir}")
    cache = load_expert_cache(cache_dir)
    traj_file, disc_file = cache_dir / TRAJ_NAME, cache_dir / DISC_NAME
    qpos = _check(f"{traj_file}: field 'qpos'", cache.traj.qpos, nq)
    qvel = _check(f"{traj_file}: field 'qvel'", cache.traj.qvel, nv)
    obs = _check(f"{disc_file}: field 'obs'", cache.disc_obs, disc_obs_size)
    next_obs = _check(f"{disc_file}: field 'next_obs'", cache.next_disc_obs, disc_obs_size)
    control_hz = 1.0 / control_dt
    if abs(cache.traj.frequency - control_hz) > 0.01 * control_hz:
        raise ExpertDataError(
            f"{traj_file}: frequency {cache.traj.frequency:g} Hz differs from the env's control "
            f"rate {control_hz:g} Hz; rebuild the cache at the control rate"
        )
    return ExpertData(qpos, qvel, np.concatenate([obs, next_obs], axis=1), str(cache_dir))


def from_trajectory(
    trajectory: str | Path, run_dir: str | Path, disc_obs_size: int, control_dt: float,
    console: Console | None = None,
) -> ExpertData:
    """Expert data of a trajectory file (ours or LocoMuJoCo's), cached in `run_dir`.

    `run_dir/expert_traj.npz` and `run_dir/expert_disc_obs.npz` are built at the control rate
    on first use and reused while their key (the trajectory's content hash, the control rate,
    the model and the feature function) still matches; any change rebuilds them.
    """
    from skeleton_steering.data.cache import CacheSettings, ensure_cache

    trajectory = Path(trajectory)
    if not trajectory.is_file():
        raise ExpertDataError(f"data.trajectory: file not found: {trajectory}")
    # The cache is built at this run's control rate, not the default one: the discriminator
    # compares demo and policy transitions one control step apart.
    settings = CacheSettings(frequency=round(1.0 / control_dt, 2))
    cache_dir = ensure_cache(trajectory, run_dir, settings, console)
    expert = load_cache(cache_dir, disc_obs_size, control_dt)
    return dataclasses.replace(expert, source=f"{trajectory} (cached in {cache_dir})")


def frame_features(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Discriminator features of each frame (T, F), via native MuJoCo forward kinematics."""
    mj_model = model.load_mj_model()
    data = mujoco.MjData(mj_model)
    sites = model.build_index(mj_model).key_sites
    out = []
    for q, v in zip(np.asarray(qpos), np.asarray(qvel), strict=True):
        data.qpos[:] = q
        data.qvel[:] = v
        mujoco.mj_kinematics(mj_model, data)
        out.append(np.asarray(body_state_features(q, v, data.site_xpos[sites].copy())))
    return np.stack(out).astype(np.float32)


def pairs_from_frames(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """[s_t, s_{t+1}] for consecutive frames of one clip; a single frame pairs with itself."""
    feats = frame_features(qpos, qvel)
    if len(feats) == 1:
        return np.concatenate([feats, feats], axis=1)
    return np.concatenate([feats[:-1], feats[1:]], axis=1)


def standing_demo() -> ExpertData:
    """The standing pose as the only demo transition (standing still), and as the start frame.

    A stand-in for tests and for runs without any motion data: it teaches balance, not gait.
    """
    qpos = model.standing_qpos()[None]
    qvel = np.zeros((1, 33), dtype=np.float32)
    return ExpertData(qpos, qvel, pairs_from_frames(qpos, qvel), "standing pose")
