"""The trajectory format: LocoMuJoCo's key names, our Z-up convention, safe I/O.

A trajectory is one or more clips of the skeleton's qpos (T, 34) / qvel (T, 33) at one
`frequency`, concatenated; `split_points` holds each clip's start index plus the end (T).
Optional per-frame kinematics (`xpos`, `xquat`, `cvel`, `subtree_com`, `site_xpos`,
`site_xmat`) come from forward kinematics (see `cache`). Files are `np.savez` archives with
LocoMuJoCo's keys in its order; absent fields are empty float32 arrays of shape (0,), names
that are absent are empty string arrays, and `metadata` is a JSON string. Nothing is pickled.

Loading (`load_trajectory(path) -> Trajectory`) reads the archive member by member, skipping
object-dtype members from their header without unpickling (LocoMuJoCo stores `None` fields
that way), validates every field, and brings the data into our convention:

* our files carry `metadata["convention"] == CONVENTION` (root rest quaternion identity, pelvis
  X forward, Y left, Z up);
* anything else is read as LocoMuJoCo's SkeletonTorque: root rest quaternion (0.7071, 0.7071,
  0, 0) (pelvis Y up), standing root height 0.975 m. The root orientation is turned into ours,
  the body-frame angular velocity with it, the root raised by the difference in standing
  height, and joints are reordered by name. Its per-body kinematics refer to its own bodies and
  are dropped (the cache recomputes them).

Either way the result must be upright (pelvis up axis pointing up in most frames); if it is
not, or the joint names differ, `TrajectoryError` says what differs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from skeleton_steering.data import resample as rs
from skeleton_steering.io_utils import atomic_write
from skeleton_steering.npz_io import NpzError, read_npz
from skeleton_steering.skeleton import model as skel

CONVENTION = "skeleton_steering/z-up/identity-root-rest"
KINEMATIC_FIELDS = ("xpos", "xquat", "cvel", "subtree_com", "site_xpos", "site_xmat")
LOCOMUJOCO_ROOT_REST = np.array([0.70710678, 0.70710678, 0.0, 0.0])
LOCOMUJOCO_STANDING_HEIGHT = 0.975
# Our body coordinates -> LocoMuJoCo's pelvis coordinates (its Y up = our Z, its Z = our -Y).
_OURS_TO_LOCO = Rotation.from_euler("x", -np.pi / 2)


class TrajectoryError(ValueError):
    """A trajectory file or object is invalid; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Concatenated clips at one frequency (see the module docstring for the fields)."""

    qpos: np.ndarray
    qvel: np.ndarray
    split_points: np.ndarray
    frequency: float
    joint_names: tuple[str, ...] = skel.JOINT_NAMES
    xpos: np.ndarray | None = None
    xquat: np.ndarray | None = None
    cvel: np.ndarray | None = None
    subtree_com: np.ndarray | None = None
    site_xpos: np.ndarray | None = None
    site_xmat: np.ndarray | None = None
    body_names: tuple[str, ...] | None = None
    site_names: tuple[str, ...] | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.qpos.shape[0])

    @property
    def n_clips(self) -> int:
        return int(len(self.split_points) - 1)

    @property
    def dt(self) -> float:
        return 1.0 / self.frequency

    def clip_slice(self, i: int) -> slice:
        return slice(int(self.split_points[i]), int(self.split_points[i + 1]))

    def clip_ids(self) -> np.ndarray:
        """Clip index (T,) of every frame."""
        return np.repeat(np.arange(self.n_clips), np.diff(self.split_points))

    def without_kinematics(self) -> Trajectory:
        return dataclasses.replace(
            self, **dict.fromkeys(KINEMATIC_FIELDS), body_names=None, site_names=None
        )

    def validate(self, where: str = "trajectory") -> None:
        """Raise `TrajectoryError` unless shapes, names, frequency and split points agree."""
        _check_core(where, self.qpos, self.qvel, self.split_points, self.frequency,
                    self.joint_names)
        for name in KINEMATIC_FIELDS:
            value = getattr(self, name)
            if value is not None and (value.shape[0] != self.n_frames
                                      or not np.isfinite(value).all()):
                raise TrajectoryError(
                    f"{where}: field '{name}' must have {self.n_frames} finite frames, "
                    f"got shape {value.shape}"
                )


def _check_core(where: str, qpos, qvel, split_points, frequency, joint_names) -> None:
    def fail(field: str, problem: str) -> None:
        raise TrajectoryError(f"{where}: field '{field}': {problem}")

    if qpos.ndim != 2 or qpos.shape[1] != 7 + len(joint_names) - 1:
        fail("qpos", f"shape {qpos.shape}, expected (T, {7 + len(joint_names) - 1}) for "
                     f"{len(joint_names)} joints (free root + hinges)")
    if qvel.ndim != 2 or qvel.shape[1] != 6 + len(joint_names) - 1:
        fail("qvel", f"shape {qvel.shape}, expected (T, {6 + len(joint_names) - 1})")
    if qpos.shape[0] != qvel.shape[0]:
        fail("qvel", f"has {qvel.shape[0]} frames, qpos has {qpos.shape[0]}")
    if qpos.shape[0] == 0:
        fail("qpos", "has zero frames")
    for field, value in (("qpos", qpos), ("qvel", qvel)):
        bad = ~np.isfinite(value).all(axis=1)
        if bad.any():
            fail(field, f"{int(bad.sum())} frame(s) with NaN or infinite values "
                        f"(first: frame {int(np.flatnonzero(bad)[0])})")
    if not (np.isfinite(frequency) and frequency > 0):
        fail("frequency", f"must be a positive number, got {frequency}")
    sp = np.asarray(split_points)
    if sp.ndim != 1 or len(sp) < 2 or sp[0] != 0 or sp[-1] != qpos.shape[0] or (
        np.diff(sp) <= 0
    ).any():
        fail("split_points", f"must rise strictly from 0 to {qpos.shape[0]}, got {sp.tolist()}")


# -- saving -----------------------------------------------------------------------------------


def _empty() -> np.ndarray:
    return np.zeros((0,), dtype=np.float32)


def save_trajectory(traj: Trajectory, path: str | Path) -> Path:
    """Write `traj` atomically in LocoMuJoCo's key order (no pickled members)."""
    path = Path(path)
    traj.validate(str(path))
    metadata = {**traj.metadata, "convention": CONVENTION}
    fields: dict[str, np.ndarray] = {
        "qpos": traj.qpos.astype(np.float32),
        "qvel": traj.qvel.astype(np.float32),
    }
    for name in KINEMATIC_FIELDS:
        value = getattr(traj, name)
        fields[name] = _empty() if value is None else value.astype(np.float32)
    fields["split_points"] = np.asarray(traj.split_points, dtype=np.int32)
    fields["joint_names"] = np.array(traj.joint_names, dtype=str)
    fields["frequency"] = np.array(float(traj.frequency))
    fields["body_names"] = np.array(traj.body_names or [], dtype=str)
    fields["site_names"] = np.array(traj.site_names or [], dtype=str)
    fields["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    m = skel.load_mj_model()
    fields["njnt"] = np.array(m.njnt)
    fields["jnt_type"] = m.jnt_type.astype(np.int32)
    return atomic_write(path, lambda fh: np.savez(fh, **fields))


# -- loading ----------------------------------------------------------------------------------


def _names(arrays: dict[str, np.ndarray], key: str, path: Path) -> tuple[str, ...] | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.size == 0:
        return None
    if value.ndim != 1 or value.dtype.kind not in "SU":
        raise TrajectoryError(f"{path}: field '{key}' must be a list of names, got "
                              f"{value.dtype} {value.shape}")
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in value.tolist())


def _metadata(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    value = arrays.get("metadata")
    if value is None or value.size != 1 or value.dtype.kind not in "SU":
        return {}
    try:
        data = json.loads(value.reshape(()).item())
    except (json.JSONDecodeError, TypeError) as err:
        raise TrajectoryError(f"{path}: field 'metadata' is not valid JSON ({err})") from err
    return data if isinstance(data, dict) else {}


def _float_matrix(arrays: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in arrays:
        raise TrajectoryError(f"{path}: field '{key}' missing")
    value = arrays[key]
    if value.dtype.kind not in "fiu":
        raise TrajectoryError(f"{path}: field '{key}' must be numeric, got {value.dtype}")
    return value.astype(np.float32)


def _upright_share(quat_wxyz: np.ndarray) -> float:
    up = Rotation.from_quat(quat_wxyz, scalar_first=True).apply([0.0, 0.0, 1.0])
    return float(np.mean(up[:, 2] > 0.5))


def _reorder(names: tuple[str, ...], qpos: np.ndarray, qvel: np.ndarray, path: Path):
    ours = skel.JOINT_NAMES
    missing = [n for n in ours if n not in names]
    extra = [n for n in names if n not in ours]
    if missing or extra or names[0] != skel.ROOT_JOINT:
        raise TrajectoryError(
            f"{path}: field 'joint_names' does not match the skeleton: missing {missing}, "
            f"unexpected {extra}" + ("" if names[0] == skel.ROOT_JOINT else
                                     f", first joint is '{names[0]}' (expected the free 'root')")
        )
    src = {n: i - 1 for i, n in enumerate(names)}
    order = np.array([src[n] for n in skel.HINGE_JOINTS])
    qpos = np.concatenate([qpos[:, :7], qpos[:, 7:][:, order]], axis=1)
    qvel = np.concatenate([qvel[:, :6], qvel[:, 6:][:, order]], axis=1)
    return qpos, qvel


def load_trajectory(path: str | Path) -> Trajectory:
    """Load and validate a trajectory file (ours or LocoMuJoCo's), in our convention.

    Returns a `Trajectory` with qpos (T, 34) float32, qvel (T, 33) float32, split_points int32,
    frequency, joint names in `model.JOINT_NAMES` order, optional kinematics and metadata.
    Raises `TrajectoryError` (a `ValueError`) naming the file and the field on bad input.
    """
    path = Path(path)
    try:
        contents = read_npz(path)
    except NpzError as err:
        raise TrajectoryError(str(err)) from err
    arrays = contents.arrays
    for name in ("qpos", "qvel", "joint_names", "frequency", "split_points"):
        if name in contents.object_members:
            raise TrajectoryError(f"{path}: field '{name}' is an object (pickled) array; "
                                  "refusing to unpickle it, store it as a plain array")
    qpos = _float_matrix(arrays, "qpos", path)
    qvel = _float_matrix(arrays, "qvel", path)
    names = _names(arrays, "joint_names", path)
    if names is None:
        raise TrajectoryError(f"{path}: field 'joint_names' missing or empty")
    if "frequency" not in arrays or arrays["frequency"].size != 1 or \
            arrays["frequency"].dtype.kind not in "fiu":
        raise TrajectoryError(f"{path}: field 'frequency' missing or not one number")
    frequency = float(arrays["frequency"].reshape(()))
    if "split_points" in arrays:
        split = arrays["split_points"]
        if split.dtype.kind not in "iu":
            raise TrajectoryError(f"{path}: field 'split_points' must be integers, "
                                  f"got {split.dtype}")
        split = split.astype(np.int32).reshape(-1)
    else:
        split = np.array([0, qpos.shape[0]], dtype=np.int32)
    _check_core(str(path), qpos, qvel, split, frequency, names)
    metadata = _metadata(arrays, path)
    if contents.object_members:
        metadata["skipped_object_fields"] = list(contents.object_members)

    ours = metadata.get("convention") == CONVENTION
    qpos, qvel = _reorder(names, qpos, qvel, path)
    kin: dict[str, np.ndarray | None] = dict.fromkeys(KINEMATIC_FIELDS)
    body_names = site_names = None
    if ours:
        for key in KINEMATIC_FIELDS:
            value = arrays.get(key)
            if value is not None and value.size > 0:
                kin[key] = value.astype(np.float32)
        body_names = _names(arrays, "body_names", path)
        site_names = _names(arrays, "site_names", path)
    else:
        qpos, qvel = _from_locomujoco(qpos, qvel, path)
        dropped = [k for k in KINEMATIC_FIELDS if k in arrays and arrays[k].size > 0]
        metadata = {**metadata, "converted_from": "locomujoco", "dropped_fields": dropped,
                    "source_joint_order": list(names)}
    if _upright_share(qpos[:, 3:7]) < 0.5:
        rest = "identity" if ours else "(0.7071, 0.7071, 0, 0)"
        raise TrajectoryError(
            f"{path}: field 'qpos': root orientation is not upright in most frames when read "
            f"with a root rest quaternion {rest} ({'ours' if ours else 'LocoMuJoCo'} "
            "convention); the file uses another convention"
        )
    traj = Trajectory(qpos=qpos, qvel=qvel, split_points=split, frequency=frequency,
                      body_names=body_names, site_names=site_names, metadata=metadata, **kin)
    traj.validate(str(path))
    return traj


def _from_locomujoco(qpos: np.ndarray, qvel: np.ndarray, path: Path):
    quat = qpos[:, 3:7].astype(np.float64)
    if _upright_share(quat) > 0.5:
        raise TrajectoryError(
            f"{path}: field 'metadata': no '{CONVENTION}' convention tag, so the file was read "
            "as LocoMuJoCo's (root rest quaternion (0.7071, 0.7071, 0, 0), pelvis Y up), but "
            "its root is already upright with an identity rest: tag the file or convert it"
        )
    rot = Rotation.from_quat(quat, scalar_first=True) * _OURS_TO_LOCO
    qpos = qpos.copy()
    qvel = qvel.copy()
    qpos[:, 3:7] = rot.as_quat(scalar_first=True, canonical=True)
    qpos[:, 2] += skel.STANDING_ROOT_HEIGHT - LOCOMUJOCO_STANDING_HEIGHT
    qvel[:, 3:6] = _OURS_TO_LOCO.inv().apply(qvel[:, 3:6].astype(np.float64))
    return qpos.astype(np.float32), qvel.astype(np.float32)


# -- operations -------------------------------------------------------------------------------


def concatenate(trajs: Sequence[Trajectory], metadata: dict[str, Any] | None = None) -> Trajectory:
    """One trajectory of all clips of `trajs` (same frequency and joints); kinematics dropped."""
    if not trajs:
        raise TrajectoryError("concatenate: no trajectories given")
    freq = trajs[0].frequency
    for t in trajs:
        if not np.isclose(t.frequency, freq):
            raise TrajectoryError(f"concatenate: frequencies differ ({freq} vs {t.frequency})")
        if t.joint_names != trajs[0].joint_names:
            raise TrajectoryError("concatenate: joint names differ")
    split = [0]
    for t in trajs:
        split.extend((split[-1] + np.asarray(t.split_points[1:])).tolist())
    return Trajectory(
        qpos=np.concatenate([t.qpos for t in trajs]).astype(np.float32),
        qvel=np.concatenate([t.qvel for t in trajs]).astype(np.float32),
        split_points=np.array(split, dtype=np.int32),
        frequency=freq,
        joint_names=trajs[0].joint_names,
        metadata=metadata or {},
    )


def from_clips(
    clips: Sequence[tuple[np.ndarray, np.ndarray]], frequency: float,
    metadata: dict[str, Any] | None = None,
) -> Trajectory:
    """A trajectory from (qpos, qvel) pairs of clips at `frequency`."""
    split = np.concatenate([[0], np.cumsum([q.shape[0] for q, _ in clips])]).astype(np.int32)
    return Trajectory(
        qpos=np.concatenate([q for q, _ in clips]).astype(np.float32),
        qvel=np.concatenate([v for _, v in clips]).astype(np.float32),
        split_points=split,
        frequency=float(frequency),
        metadata=metadata or {},
    )


def resample(traj: Trajectory, frequency: float) -> Trajectory:
    """`traj` at `frequency`: clip by clip, root SLERP, velocities from the new positions.

    Kinematic fields are dropped (recompute them with `cache`).
    """
    if np.isclose(frequency, traj.frequency):
        return traj
    clips = []
    for i in range(traj.n_clips):
        qpos = rs.resample_qpos(traj.qpos[traj.clip_slice(i)].astype(np.float64),
                                traj.frequency, frequency)
        clips.append((qpos, rs.qvel_from_qpos(qpos, 1.0 / frequency)))
    out = from_clips(clips, frequency, {**traj.metadata, "resampled_from": traj.frequency})
    return dataclasses.replace(out, joint_names=traj.joint_names)
