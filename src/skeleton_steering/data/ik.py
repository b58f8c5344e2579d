"""Pin stance feet with a small inverse-kinematics step on each leg.

Moving the root keeps one planted foot still, not two: while both feet are down (double
support in walking, the whole stance of a jump) our pelvis and legs are not the subject's, and
each foot would slide by half the difference. So after the root is planted, each stance foot's
supporting sole corner is pulled onto its pinned position by the leg's own hip and knee
(damped least squares on native MuJoCo Jacobians, a few iterations a frame). The pull is
weighted (`weight`, 0..1); joint ranges hold, no joint moves by more than a few degrees, and
the knee is never pushed further into hyperextension than the motion already had it.
"""

from __future__ import annotations

import mujoco
import numpy as np

from skeleton_steering.skeleton import model as skel

_LEG_JOINTS = {
    0: ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r"),
    1: ("hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l"),
}
_FOOT_BODY = {0: "foot_r", 1: "foot_l"}


def pin_feet(
    m: mujoco.MjModel,
    qpos: np.ndarray,
    corner_local: np.ndarray,
    targets: np.ndarray,
    weight: np.ndarray,
    iterations: int = 3,
    damping: float = 0.05,
    max_hip_change: float = np.deg2rad(4.5),
    max_knee_change: float = np.deg2rad(10.0),
) -> np.ndarray:
    """qpos (T, nq) with the legs turned so each weighted foot point reaches its target.

    `corner_local` (T, 2, 3) is the supporting point of each foot in its body frame,
    `targets` (T, 2, 3) where it should be (world), `weight` (T, 2) how far to go (0 = leave
    the leg as it is). The hip joints move by at most `max_hip_change`, the knee by at most
    `max_knee_change` (rad): the pull corrects the differences between the two bodies, it does
    not make a new pose (what it cannot reach stays as sliding, which the QA measures).
    Returns a new array.
    """
    out = np.array(qpos, dtype=float)
    d = mujoco.MjData(m)
    jacp = np.zeros((3, m.nv))
    legs = {}
    for f, names in _LEG_JOINTS.items():
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
        legs[f] = (
            np.array([m.jnt_qposadr[j] for j in jids]),
            np.array([m.jnt_dofadr[j] for j in jids]),
            m.jnt_range[jids].copy(),
            mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, _FOOT_BODY[f]),
        )
    knee_col = 3
    max_change = np.array([max_hip_change] * 3 + [max_knee_change])
    for t in np.flatnonzero(weight.max(axis=1) > 0):
        d.qpos[:] = out[t]
        for f in (0, 1):
            w = weight[t, f]
            if w <= 0:
                continue
            qadr, vadr, ranges, body = legs[f]
            lo, hi = ranges[:, 0].copy(), ranges[:, 1].copy()
            hi[knee_col] = min(hi[knee_col], max(out[t, qadr[knee_col]], 0.0))
            start = d.qpos[qadr].copy()
            lo_t, hi_t = np.maximum(lo, start - max_change), np.minimum(hi, start + max_change)
            goal = None
            for _ in range(iterations + 1):
                mujoco.mj_kinematics(m, d)
                mujoco.mj_comPos(m, d)
                point = d.xpos[body] + d.xmat[body].reshape(3, 3) @ corner_local[t, f]
                if goal is None:
                    goal = point + w * (targets[t, f] - point)
                err = goal - point
                if float(err @ err) < 1e-8 or _ == iterations:
                    break
                mujoco.mj_jac(m, d, jacp, None, point, body)
                jac = jacp[:, vadr]
                step = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(3), err)
                d.qpos[qadr] = np.clip(d.qpos[qadr] + step, lo_t, hi_t)
            if not np.isfinite(d.qpos[qadr]).all():
                d.qpos[qadr] = start
        out[t] = d.qpos
    return out


def foot_point_local(m: mujoco.MjModel, foot: int, corner: np.ndarray) -> np.ndarray:
    """Sole corners (N, 3) of foot 0 (right) / 1 (left) by index 0..3, in the foot body frame
    (the corner order of `kinematics.foot_corners`)."""
    gid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, skel.FOOT_GEOMS[foot])
    size = m.geom_size[gid]
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)[corner]
    local = np.column_stack([signs[:, 0] * size[0], signs[:, 1] * size[1],
                             np.full(len(corner), -size[2])])
    # The geom frame sits in the body at geom_pos with geom_quat.
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, m.geom_quat[gid])
    return m.geom_pos[gid] + local @ rot.reshape(3, 3).T
