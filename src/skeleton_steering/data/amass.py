"""Reading KIT clips in AMASS's npz format, with every field checked.

Two layouts exist (DESIGN.md "Formats"):

* SMPL-H (AMASS's original release, KIT's `<motion>_poses.npz`): `poses` T x 156 axis-angle,
  root + 21 body joints first (66 values), then 30 hand joints; `mocap_framerate`.
* SMPL-X ("N" files, `<motion>_stageii.npz`): `poses` T x 165 (root + 21 body joints first, then
  jaw, eyes, hands) plus `root_orient` T x 3 and `pose_body` T x 63; `mocap_frame_rate`.

A bare T x 66 `poses` (root + body only) is accepted too. Subject shape files (`shape.npz` in
AMASS's SMPL-H release, `*_stagei.npz` in its SMPL-X one, or any archive with `betas` and no
pose or translation) are not clips: `is_shape_file` recognises them by name, and `read_clip`
refuses one by content with a `ShapeFileError` that says what it is. Only the root and the 21
body joints are used. Both frame-rate spellings are accepted; `gender` may be stored as str or
bytes. Archives are read with `npz_io.read_npz` (no unpickling); an object array in any field
this module reads is an error, as is a missing, mis-shaped, empty or non-finite field. Every
error is an `AmassFormatError` (a `ValueError`) whose message names the file and the field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from skeleton_steering.npz_io import NpzError, read_npz

N_BODY_JOINTS = 21
POSE_WIDTHS = {66: "bare (root + 21 body joints)", 156: "SMPL-H", 165: "SMPL-X"}
RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
GENDERS = ("male", "female", "neutral")
_KNOWN_FIELDS = ("poses", "trans", "root_orient", "pose_body", "betas", "gender", *RATE_KEYS)
# Keys that look like a frame rate but are not AMASS's; named in the error so users see why.
_RATE_LOOKALIKES = ("framerate", "frame_rate", "fps", "mocap_fps", "rate", "frequency")


# File-name endings of subject shape files (betas only): SMPL-H's shape.npz, SMPL-X's stage i.
SHAPE_FILE_SUFFIXES = ("shape.npz", "_stagei.npz")
_MOTION_FIELDS = ("poses", "root_orient", "pose_body", "trans")


def is_shape_file(path: str | Path) -> bool:
    """Whether the file name says it is a subject shape file, not a motion clip."""
    return Path(path).name.endswith(SHAPE_FILE_SUFFIXES)


class AmassFormatError(ValueError):
    """A clip is not a valid AMASS npz; the message names the file and the field."""

    def __init__(self, path: str | Path, field: str | None, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"field '{field}'" if field else "archive"
        super().__init__(f"{path}: {where}: {problem}")


@dataclasses.dataclass(frozen=True)
class AmassClip:
    """The parts of one AMASS clip the pipeline uses.

    root_orient (T, 3) and body_pose (T, 21, 3) are axis-angle (SMPL body frame: Y up, facing
    +Z; root_orient maps it to AMASS's Z-up world); trans (T, 3) metres.
    """

    path: str
    root_orient: np.ndarray
    body_pose: np.ndarray
    trans: np.ndarray
    rate: float
    gender: str
    betas: np.ndarray
    layout: str

    @property
    def frames(self) -> int:
        return int(self.trans.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.frames - 1) / self.rate


class ShapeFileError(AmassFormatError):
    """The file holds a subject's body shape (betas), not a motion."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, None, "a subject shape file (betas only), not a motion clip")


def _numeric(path: Path, field: str, value: np.ndarray) -> np.ndarray:
    if value.dtype.kind not in "fiu":
        raise AmassFormatError(path, field, f"must be numeric, got dtype {value.dtype}")
    return value.astype(np.float64)


def _matrix(path: Path, field: str, value: np.ndarray, widths: tuple[int, ...]) -> np.ndarray:
    value = _numeric(path, field, value)
    if value.ndim != 2 or value.shape[1] not in widths:
        expect = " or ".join(f"T x {w}" for w in widths)
        raise AmassFormatError(path, field, f"shape {value.shape}, expected {expect}")
    if value.shape[0] == 0:
        raise AmassFormatError(path, field, "has zero frames")
    bad = ~np.isfinite(value).all(axis=1)
    if bad.any():
        frames = np.flatnonzero(bad)
        raise AmassFormatError(
            path,
            field,
            f"{frames.size} frame(s) contain NaN or infinite values (first: frame {frames[0]})",
        )
    return value


def _rate(path: Path, arrays: dict[str, np.ndarray]) -> float:
    found = [k for k in RATE_KEYS if k in arrays]
    if not found:
        lookalike = [k for k in arrays if k.lower() in _RATE_LOOKALIKES]
        hint = f"; found unsupported key(s) {lookalike}" if lookalike else ""
        raise AmassFormatError(
            path, None, f"no frame rate: expected 'mocap_framerate' or 'mocap_frame_rate'{hint}"
        )
    key = found[0]
    value = arrays[key]
    if value.dtype.kind not in "fiu" or value.size != 1:
        raise AmassFormatError(path, key, f"must be one number, got {value.dtype} {value.shape}")
    rate = float(value.reshape(()))
    if not np.isfinite(rate) or rate <= 0:
        raise AmassFormatError(path, key, f"must be a positive frame rate, got {rate}")
    return rate


def _gender(path: Path, arrays: dict[str, np.ndarray]) -> str:
    if "gender" not in arrays:
        return "neutral"
    value = arrays["gender"]
    if value.size != 1 or value.dtype.kind not in "SU":
        raise AmassFormatError(
            path, "gender", f"must be one string, got {value.dtype} {value.shape}"
        )
    item = value.reshape(()).item()
    if isinstance(item, bytes):
        try:
            item = item.decode("utf-8")
        except UnicodeDecodeError as err:
            raise AmassFormatError(path, "gender", "bytes are not valid utf-8") from err
    gender = str(item).strip().lower()
    if gender not in GENDERS:
        raise AmassFormatError(path, "gender", f"must be one of {list(GENDERS)}, got {gender!r}")
    return gender


def _betas(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    if "betas" not in arrays:
        return np.zeros(0)
    betas = _numeric(path, "betas", arrays["betas"]).reshape(-1)
    if not np.isfinite(betas).all():
        raise AmassFormatError(path, "betas", "contains NaN or infinite values")
    return betas


def read_clip(path: str | Path) -> AmassClip:
    """Read and validate one AMASS clip; raises `AmassFormatError` naming file and field."""
    path = Path(path)
    try:
        contents = read_npz(path)
    except NpzError as err:
        raise AmassFormatError(path, None, str(err).removeprefix(f"{path}: ")) from err
    arrays = contents.arrays
    for name in contents.object_members:
        if name in _KNOWN_FIELDS:
            raise AmassFormatError(path, name, "is an object array (refusing to unpickle it)")
    if "betas" in arrays and not any(f in arrays for f in _MOTION_FIELDS):
        raise ShapeFileError(path)

    if "root_orient" in arrays or "pose_body" in arrays:
        for field in ("root_orient", "pose_body"):
            if field not in arrays:
                raise AmassFormatError(path, field, "missing (SMPL-X files need both "
                                       "'root_orient' and 'pose_body')")
        root = _matrix(path, "root_orient", arrays["root_orient"], (3,))
        body = _matrix(path, "pose_body", arrays["pose_body"], (3 * N_BODY_JOINTS,))
        if root.shape[0] != body.shape[0]:
            raise AmassFormatError(
                path, "pose_body", f"has {body.shape[0]} frames, root_orient has {root.shape[0]}"
            )
        layout = "SMPL-X"
        if "poses" in arrays:
            poses = _matrix(path, "poses", arrays["poses"], tuple(POSE_WIDTHS))
            if poses.shape[0] != root.shape[0]:
                raise AmassFormatError(
                    path, "poses", f"has {poses.shape[0]} frames, root_orient has {root.shape[0]}"
                )
    elif "poses" in arrays:
        poses = _matrix(path, "poses", arrays["poses"], tuple(POSE_WIDTHS))
        root = poses[:, :3]
        body = poses[:, 3 : 3 + 3 * N_BODY_JOINTS]
        layout = POSE_WIDTHS[poses.shape[1]].split(" ")[0]
    else:
        raise AmassFormatError(path, "poses", "missing (and no 'root_orient'/'pose_body' either)")

    if "trans" not in arrays:
        raise AmassFormatError(path, "trans", "missing")
    trans = _matrix(path, "trans", arrays["trans"], (3,))
    if trans.shape[0] != root.shape[0]:
        raise AmassFormatError(
            path, "trans", f"has {trans.shape[0]} frames, the poses have {root.shape[0]}"
        )
    return AmassClip(
        path=str(path),
        root_orient=root,
        body_pose=body.reshape(-1, N_BODY_JOINTS, 3),
        trans=trans,
        rate=_rate(path, arrays),
        gender=_gender(path, arrays),
        betas=_betas(path, arrays),
        layout=layout,
    )


def write_clip(
    path: str | Path,
    root_orient: np.ndarray,
    body_pose: np.ndarray,
    trans: np.ndarray,
    rate: float,
    gender: str = "neutral",
    betas: np.ndarray | None = None,
    layout: str = "SMPL-H",
) -> Path:
    """Write an AMASS-format clip atomically (SMPL-H: poses T x 156; SMPL-X: T x 165 + parts).

    Hands (and for SMPL-X jaw and eyes) are zero. Used by the sample generator and tests.
    """
    from skeleton_steering.io_utils import atomic_write

    frames = trans.shape[0]
    body = np.asarray(body_pose, dtype=np.float64).reshape(frames, 3 * N_BODY_JOINTS)
    root = np.asarray(root_orient, dtype=np.float64).reshape(frames, 3)
    betas = np.zeros(16) if betas is None else np.asarray(betas, dtype=np.float64)
    if layout == "SMPL-H":
        poses = np.zeros((frames, 156))
        poses[:, :3] = root
        poses[:, 3:66] = body
        fields = {
            "trans": np.asarray(trans, dtype=np.float64),
            "gender": np.array(gender),
            "mocap_framerate": np.array(float(rate)),
            "betas": betas,
            "dmpls": np.zeros((frames, 8)),
            "poses": poses,
        }
    elif layout == "SMPL-X":
        poses = np.zeros((frames, 165))
        poses[:, :3] = root
        poses[:, 3:66] = body
        fields = {
            "gender": np.array(gender),
            "surface_model_type": np.array("smplx"),
            "mocap_frame_rate": np.array(float(rate)),
            "mocap_time_length": np.array(frames / float(rate)),
            "trans": np.asarray(trans, dtype=np.float64),
            "poses": poses,
            "betas": betas,
            "root_orient": root,
            "pose_body": body,
            "pose_hand": np.zeros((frames, 90)),
            "pose_jaw": np.zeros((frames, 3)),
            "pose_eye": np.zeros((frames, 6)),
        }
    else:
        raise ValueError(f"layout must be 'SMPL-H' or 'SMPL-X', got {layout!r}")
    return atomic_write(path, lambda fh: np.savez(fh, **fields))
