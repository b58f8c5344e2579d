"""Expert caches: the trajectory with its kinematics, and the discriminator's demo pairs.

`build_cache(trajectory, out_dir)` writes two files:

* `expert_traj.npz`: the trajectory (resampled to the environment's control rate unless
  configured otherwise) with `xpos`, `xquat`, `cvel`, `subtree_com`, `site_xpos`, `site_xmat`
  from native MuJoCo forward kinematics, plus body and site names (`trajectory` format).
* `expert_disc_obs.npz`: `obs` and `next_obs` (M, 82) float32, the discriminator features
  (`features.body_state_features`, the function the environment uses, imported) of every
  consecutive frame pair (t, t+1) inside one clip, never across clips; `frame_index` (M,)
  (index of t in the trajectory), `clip_index` (M,), `frequency`, `cache_key`.

Both carry `cache_key`: a sha256 over the trajectory file's bytes, the settings, the model
MJCF, the feature function's source and CACHE_VERSION. `load_expert_cache(dir, trajectory)`
recomputes it and raises `StaleCacheError` on a mismatch instead of silently reusing old data;
`ensure_cache` rebuilds when stale. `ensure_default_walk_data(run_dir)` produces the bundled
sample walking data end to end (generate -> extract -> retarget -> cache) under `run_dir`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import itertools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from skeleton_steering.config import to_dict
from skeleton_steering.data.resample import MAX_FREQUENCY
from skeleton_steering.data.trajectory import (
    Trajectory,
    TrajectoryError,
    load_trajectory,
    resample,
    save_trajectory,
)
from skeleton_steering.io_utils import atomic_write
from skeleton_steering.npz_io import NpzError, read_npz
from skeleton_steering.progress import track
from skeleton_steering.skeleton import features, kinematics
from skeleton_steering.skeleton import model as skel
from skeleton_steering.skeleton.physics import PhysicsConfig

CACHE_VERSION = 1
TRAJ_NAME = "expert_traj.npz"
DISC_NAME = "expert_disc_obs.npz"
_KIN_FIELDS = ("xpos", "xquat", "cvel", "subtree_com", "site_xpos", "site_xmat")


class StaleCacheError(ValueError):
    """A cache is missing, broken, or was built from other inputs or settings."""


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    """How the cache is built."""

    # Frequency of the cached trajectory in Hz; 0 means the environment's control rate.
    frequency: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.frequency <= MAX_FREQUENCY:  # also false for nan
            raise ValueError(f"frequency must be 0..{MAX_FREQUENCY:g} Hz (0 = control rate), "
                             f"got {self.frequency}")

    def output_frequency(self) -> float:
        if self.frequency > 0:
            return self.frequency
        return round(1.0 / PhysicsConfig().control_dt, 2)


@dataclasses.dataclass(frozen=True)
class ExpertCache:
    """A loaded cache: the trajectory and the demo transition features."""

    traj: Trajectory
    disc_obs: np.ndarray  # (M, F) features of frame t
    next_disc_obs: np.ndarray  # (M, F) features of frame t + 1
    frame_index: np.ndarray  # (M,) t
    clip_index: np.ndarray  # (M,)
    cache_key: str


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(trajectory: str | Path, settings: CacheSettings | None = None) -> str:
    """Hash of everything a cache depends on (see the module docstring)."""
    settings = settings or CacheSettings()
    parts = {
        "version": CACHE_VERSION,
        "trajectory": _sha256_bytes(Path(trajectory).read_bytes()),
        "settings": to_dict(settings),
        "frequency": settings.output_frequency(),
        "model": _sha256_bytes(skel.asset_path().read_bytes()),
        "features": _sha256_bytes(inspect.getsource(features).encode()),
    }
    return _sha256_bytes(json.dumps(parts, sort_keys=True).encode())


def pair_indices(split_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame t, clip) of every consecutive pair (t, t+1) that stays inside one clip."""
    frames, clips = [], []
    for c, (start, end) in enumerate(itertools.pairwise(split_points)):
        t = np.arange(int(start), int(end) - 1)
        frames.append(t)
        clips.append(np.full(t.shape, c))
    return (np.concatenate(frames).astype(np.int32), np.concatenate(clips).astype(np.int32))


def disc_features(qpos: np.ndarray, qvel: np.ndarray, key_pos: np.ndarray) -> np.ndarray:
    """`features.body_state_features` of every frame (T, F), vmapped with JAX."""
    import jax

    fn = jax.jit(jax.vmap(features.body_state_features))
    return np.asarray(fn(qpos.astype(np.float32), qvel.astype(np.float32),
                         key_pos.astype(np.float32)))


def frame_features(traj: Trajectory) -> np.ndarray:
    """Discriminator features (T, F) of every frame of `traj`, which carries kinematics
    (`with_kinematics`): what `expert_disc_obs.npz` holds, before pairing."""
    key_pos = traj.site_xpos[:, skel.default_index().key_sites]
    return disc_features(traj.qpos, traj.qvel, key_pos)


def with_kinematics(traj: Trajectory, console: Console | None = None) -> Trajectory:
    """`traj` with per-frame body and site kinematics from native MuJoCo."""
    m = skel.load_mj_model()
    qpos = traj.qpos.astype(np.float64)
    frames = track(range(traj.n_frames), "forward kinematics", console=console)
    fk = kinematics.forward_kinematics(m, qpos, traj.qvel.astype(np.float64), _KIN_FIELDS,
                                       frames=frames)
    index = skel.default_index()
    bodies = tuple(sorted(index.body, key=index.body.get))
    sites = tuple(sorted(index.site, key=index.site.get))
    return dataclasses.replace(
        traj, body_names=bodies, site_names=sites,
        **{f: fk[f].astype(np.float32) for f in _KIN_FIELDS},
    )


def build_cache(
    trajectory: str | Path, out_dir: str | Path, settings: CacheSettings | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Write `expert_traj.npz` and `expert_disc_obs.npz` for `trajectory` into `out_dir`.

    Returns a summary (paths, frames, pairs, clips, key).
    """
    settings = settings or CacheSettings()
    trajectory = Path(trajectory)
    out_dir = Path(out_dir)
    key = cache_key(trajectory, settings)
    traj = load_trajectory(trajectory)
    traj = resample(traj.without_kinematics(), settings.output_frequency())
    traj = with_kinematics(traj, console)
    traj = dataclasses.replace(traj, metadata={
        **traj.metadata, "cache_key": key, "cache_source": str(trajectory),
        "cache_settings": to_dict(settings),
    })
    feats = frame_features(traj)
    frame, clip = pair_indices(traj.split_points)
    disc = {
        "obs": feats[frame].astype(np.float32),
        "next_obs": feats[frame + 1].astype(np.float32),
        "frame_index": frame,
        "clip_index": clip,
        "frequency": np.array(traj.frequency),
        "cache_key": np.array(key),
    }
    # Both files or neither, and no folder left behind: the trajectory is saved under a hidden
    # name and renamed once the pairs are written; a folder this call made goes on failure.
    made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    pending = out_dir / f".{TRAJ_NAME}.pending"
    try:
        save_trajectory(traj, pending)
        atomic_write(out_dir / DISC_NAME, lambda fh: np.savez(fh, **disc))
        os.replace(pending, out_dir / TRAJ_NAME)
    except BaseException as err:
        pending.unlink(missing_ok=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(err, OSError) and ".pending" in str(err.filename):
            raise type(err)(err.errno, err.strerror, str(out_dir / TRAJ_NAME)) from err
        raise
    return {"trajectory": str(out_dir / TRAJ_NAME), "disc_obs": str(out_dir / DISC_NAME),
            "frames": traj.n_frames, "pairs": int(frame.size), "clips": traj.n_clips,
            "feature_size": int(feats.shape[1]), "frequency": traj.frequency, "cache_key": key}


def load_expert_cache(
    cache_dir: str | Path, trajectory: str | Path | None = None,
    settings: CacheSettings | None = None,
) -> ExpertCache:
    """Load `expert_traj.npz` + `expert_disc_obs.npz` from `cache_dir`.

    Checks the two files belong together; with `trajectory` (the source file) also that the
    cache was built from it with `settings`. Raises `StaleCacheError` (a `ValueError`) when a
    file is missing or broken or the keys differ.
    """
    cache_dir = Path(cache_dir)
    traj_path, disc_path = cache_dir / TRAJ_NAME, cache_dir / DISC_NAME
    for path in (traj_path, disc_path):
        if not path.is_file():
            raise StaleCacheError(f"{path}: cache file missing (run `skeleton-steering cache`)")
    try:
        traj = load_trajectory(traj_path)
        arrays = read_npz(disc_path).arrays
    except (TrajectoryError, NpzError) as err:
        raise StaleCacheError(f"cache in {cache_dir} is unreadable: {err}") from err
    for name in ("obs", "next_obs", "frame_index", "clip_index", "cache_key"):
        if name not in arrays:
            raise StaleCacheError(f"{disc_path}: field '{name}' missing")
    key = str(arrays["cache_key"].reshape(()))
    if traj.metadata.get("cache_key") != key:
        raise StaleCacheError(f"{cache_dir}: {TRAJ_NAME} and {DISC_NAME} come from different "
                              "builds; rebuild the cache")
    if trajectory is not None:
        expected = cache_key(trajectory, settings)
        if expected != key:
            raise StaleCacheError(
                f"{cache_dir}: cache is stale: built from other inputs or settings than "
                f"{trajectory}; rebuild it with `skeleton-steering cache`"
            )
    obs, next_obs = arrays["obs"], arrays["next_obs"]
    if obs.shape != next_obs.shape or obs.ndim != 2 or obs.shape[0] != arrays["frame_index"].size:
        raise StaleCacheError(f"{disc_path}: field 'obs'/'next_obs' shapes {obs.shape} / "
                              f"{next_obs.shape} disagree")
    return ExpertCache(traj=traj, disc_obs=obs, next_disc_obs=next_obs,
                       frame_index=arrays["frame_index"], clip_index=arrays["clip_index"],
                       cache_key=key)


def ensure_cache(
    trajectory: str | Path, out_dir: str | Path, settings: CacheSettings | None = None,
    console: Console | None = None,
) -> Path:
    """`out_dir`, after (re)building the cache when it is missing or stale."""
    try:
        load_expert_cache(out_dir, trajectory, settings)
    except StaleCacheError:
        build_cache(trajectory, out_dir, settings, console)
    return Path(out_dir)


def ensure_default_walk_data(
    run_dir: str | Path, seed: int = 0, console: Console | None = None
) -> Path:
    """Cache directory of the bundled sample walking data under `run_dir/expert_data/`.

    Generates the sample clips (`sample`), extracts them (`kit_extract`), retargets them
    (`retarget`) and caches the result, each step only when its output is missing; returns
    the directory holding `expert_traj.npz` and `expert_disc_obs.npz` (load it with
    `load_expert_cache`). Used by `train --env_id SkeletonTorque.walk.mocap` without a
    configured trajectory.
    """
    from skeleton_steering.data.kit_extract import MANIFEST_NAME, extract
    from skeleton_steering.data.retarget import retarget_manifest
    from skeleton_steering.data.sample import write_sample_kit

    base = Path(run_dir) / "expert_data"
    sample_dir = base / "sample_kit"
    dataset = base / "expert_dataset"
    traj = base / "kit_expert_traj.npz"
    if not (sample_dir / "sample_kit.json").is_file():
        write_sample_kit(sample_dir, seed=seed, console=console)
    if not (dataset / MANIFEST_NAME).is_file():
        extract(sample_dir, dataset, console=console)
    if not traj.is_file():
        retarget_manifest(dataset / MANIFEST_NAME, traj, console=console)
    return ensure_cache(traj, base / "cache", console=console)
