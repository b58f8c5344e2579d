"""Forward kinematics of many frames with native MuJoCo, and the feet's floor geometry.

`forward_kinematics` runs `mj_kinematics` (plus `mj_comPos`/`mj_comVel` when centre-of-mass
quantities are asked for) frame by frame into preallocated arrays: a few microseconds a frame,
so tens of thousands of frames a second on one core. `foot_corners` gives the four sole
corners of each foot box, the points that touch the floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import mujoco
import numpy as np

from skeleton_steering.skeleton import model as skel

FIELDS = ("xpos", "xquat", "site_xpos", "site_xmat", "geom_xpos", "geom_xmat", "cvel",
          "subtree_com")  # fmt: skip
_NEEDS_COM = {"cvel", "subtree_com"}


def forward_kinematics(
    m: mujoco.MjModel,
    qpos: np.ndarray,
    qvel: np.ndarray | None = None,
    fields: Sequence[str] = ("xpos", "xquat", "site_xpos", "site_xmat"),
    frames: Iterable[int] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays (T, ...) of the MjData `fields` for every frame of `qpos` (T, nq).

    `cvel` needs `qvel` (T, nv). `frames`, when given, is iterated instead of `range(T)` (a
    progress-tracking wrapper around it, for instance) and must yield 0..T-1 in order.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown kinematics fields {sorted(unknown)}; known: {FIELDS}")
    if "cvel" in fields and qvel is None:
        raise ValueError("'cvel' needs qvel")
    count = qpos.shape[0]
    d = mujoco.MjData(m)
    out = {f: np.zeros((count, *getattr(d, f).shape)) for f in fields}
    views = [(out[f], getattr(d, f)) for f in fields]
    com = bool(_NEEDS_COM & set(fields))
    for i in range(count) if frames is None else frames:
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        if com:
            mujoco.mj_comPos(m, d)
            if qvel is not None:
                d.qvel[:] = qvel[i]
                mujoco.mj_comVel(m, d)
        for dst, src in views:
            dst[i] = src
    return out


def foot_geom_ids(m: mujoco.MjModel) -> np.ndarray:
    """Geom ids of the two foot boxes (right, left)."""
    return np.array(
        [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in skel.FOOT_GEOMS]
    )


def foot_corners(m: mujoco.MjModel, geom_xpos: np.ndarray, geom_xmat: np.ndarray) -> np.ndarray:
    """World positions (T, 2, 4, 3) of the four bottom corners of each foot box.

    `geom_xpos` (T, ngeom, 3) and `geom_xmat` (T, ngeom, 9) come from `forward_kinematics`.
    """
    ids = foot_geom_ids(m)
    size = m.geom_size[ids]  # (2, 3) half sizes
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    local = np.zeros((2, 4, 3))
    local[:, :, 0] = signs[None, :, 0] * size[:, None, 0]
    local[:, :, 1] = signs[None, :, 1] * size[:, None, 1]
    local[:, :, 2] = -size[:, None, 2]
    rot = geom_xmat[:, ids].reshape(-1, 2, 3, 3)
    return geom_xpos[:, ids, None, :] + np.einsum("tfij,fcj->tfci", rot, local)
