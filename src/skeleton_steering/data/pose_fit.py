"""Hinge angles of the skeleton that reproduce an SMPL pose's segment directions.

The source geometry is the SMPL template posed by the clip's rotations
(`smpl_template.posed_joints`), so the rest-pose differences between SMPL and our zero pose
(knee flexion, toe-out, thigh abduction, T-pose arms; `smpl_template.REST_FACTS`) are in the
targets and never copied into our angles. Each chain is solved from the pelvis outwards, every
joint against the orientation its parent actually reached after clipping to the joint range,
so a limited parent is compensated by its children where they can, and a pose outside the
skeleton's reach comes out as the nearest one it can express instead of a different one.

* Pelvis: SMPL's root orientation, as is (hip flexion then equals the source's thigh-vs-pelvis
  angle; the lumbar takes the whole spine chain).
* Hip / shoulder (flexion, adduction, rotation): flexion and adduction in closed form from the
  thigh (hip -> knee) or upper-arm (shoulder -> elbow) direction; of the two solutions the one
  that needs less clipping wins (the arm above the shoulder takes the second). The long-axis
  rotation is the least-squares fit of the distal segments' directions about that axis (shank
  and foot for the hip, forearm and the upper arm's own forward axis for the shoulder): it sets
  toe-out and the knee's swing plane together.
* Knee: the thigh-shank angle in the knee's plane; hyperextension beyond 3 deg is eased
  back. Elbow: the full angle between the two segments.
* Ankle: the foot's pitch against the shank (the foot's forward axis is the template's
  ankle -> toe direction, levelled).
* Lumbar, pro/supination, wrist: the remaining relative rotation of the source segment frame
  decomposed into the hinges' Euler sequence (these never approach gimbal lock in practice).
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import cache

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from skeleton_steering.data import smpl_template as st
from skeleton_steering.skeleton import model as skel

_J = st.JOINT_INDEX
# Knee hyperextension beyond this (rad) is eased back; _KNEE_EASE (1/rad) sets how softly.
_KNEE_FLOOR = np.deg2rad(-3.0)
_KNEE_EASE = 1.0 / np.deg2rad(1.0)
_C = Rotation.from_matrix(st.OURS_TO_SMPL)
# Our arm segments hang (-Z); SMPL's rest arms point sideways: the segment frame offset.
_ARM_REST = {"r": Rotation.from_euler("x", -np.pi / 2), "l": Rotation.from_euler("x", np.pi / 2)}


@dataclasses.dataclass(frozen=True)
class _Hinges:
    index: dict[str, int]  # hinge name -> column in model.HINGE_JOINTS order
    axis: dict[str, np.ndarray]
    lo: np.ndarray
    hi: np.ndarray


@cache
def _hinges() -> _Hinges:
    m = skel.load_mj_model()
    index, axis = {}, {}
    for col, name in enumerate(skel.HINGE_JOINTS):
        jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
        index[name] = col
        axis[name] = np.array(m.jnt_axis[jid], dtype=float)
    lo = np.array([m.jnt_range[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n), 0]
                   for n in skel.HINGE_JOINTS])
    hi = np.array([m.jnt_range[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n), 1]
                   for n in skel.HINGE_JOINTS])
    return _Hinges(index, axis, lo, hi)


@dataclasses.dataclass
class PoseFit:
    """Result of `fit_pose`: pelvis quaternions (T, 4) wxyz, hinge angles (T, 27) within the
    joint ranges, and which raw values had to be clipped (T, 27) bool."""

    root_quat: np.ndarray
    angles: np.ndarray
    clipped: np.ndarray


class _Solver:
    def __init__(self, frames: int) -> None:
        self.h = _hinges()
        self.angles = np.zeros((frames, len(skel.HINGE_JOINTS)))
        self.clipped = np.zeros_like(self.angles, dtype=bool)

    def set(self, name: str, raw: np.ndarray) -> np.ndarray:
        col = self.h.index[name]
        value = np.clip(raw, self.h.lo[col], self.h.hi[col])
        self.angles[:, col] = value
        self.clipped[:, col] = np.abs(value - raw) > 1e-9
        return value

    def rot(self, name: str, value: np.ndarray) -> np.ndarray:
        """(T, 3, 3) rotation of hinge `name` by `value`."""
        return Rotation.from_rotvec(self.h.axis[name][None] * value[:, None]).as_matrix()

    def sign(self, name: str) -> float:
        """+1 / -1: the hinge turns about + / - its coordinate axis."""
        axis = self.h.axis[name]
        return float(axis[np.argmax(np.abs(axis))])

    def cost(self, name: str, raw: np.ndarray) -> np.ndarray:
        col = self.h.index[name]
        return np.abs(np.clip(raw, self.h.lo[col], self.h.hi[col]) - raw)


def _local(frame: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """World vectors (T, 3) in the coordinates of frames (T, 3, 3) (columns = axes)."""
    return np.einsum("tji,tj->ti", frame, vec)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _swing(s: _Solver, flex: str, add: str, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flexion and adduction (raw, unclipped) that point the segment's -Z along d (T, 3).

    The segment direction is R_flex R_add (0, 0, -1) = (sin f cos a, sin a, -cos f cos a) with
    f the turn about -Y and a about +X; of the two solutions, take the cheaper to clip.
    """
    a1 = np.arcsin(np.clip(d[:, 1], -1.0, 1.0))
    f1 = np.arctan2(d[:, 0], -d[:, 2])
    a2 = np.where(a1 >= 0, np.pi, -np.pi) - a1
    f2 = np.arctan2(-d[:, 0], d[:, 2])
    sf, sa = -s.sign(flex), s.sign(add)  # hinge value = sign * turn about +axis
    q1 = (sf * f1, sa * a1)
    q2 = (sf * f2, sa * a2)
    c1 = s.cost(flex, q1[0]) + s.cost(add, q1[1])
    c2 = s.cost(flex, q2[0]) + s.cost(add, q2[1])
    pick = c2 < c1 - 1e-6
    return np.where(pick, q2[0], q1[0]), np.where(pick, q2[1], q1[1])


def _twist(targets: list[np.ndarray], vecs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Turn r about +Z (T,) maximizing sum w * t . Rz(r) v for local targets t and vectors v."""
    cos = sum(w * (v[:, 0] * t[:, 0] + v[:, 1] * t[:, 1]) for t, v, w in
              zip(targets, vecs, weights, strict=True))
    sin = sum(w * (v[:, 0] * t[:, 1] - v[:, 1] * t[:, 0]) for t, v, w in
              zip(targets, vecs, weights, strict=True))
    return np.arctan2(sin, cos)


def _euler(s: _Solver, names: tuple[str, ...], rel: np.ndarray) -> None:
    """Decompose relative rotations (T, 3, 3) into the hinges `names` (intrinsic order)."""
    letters = "".join("XYZ"[int(np.argmax(np.abs(s.h.axis[n])))] for n in names)
    seq = letters + "".join(a for a in "XYZ" if a not in letters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: still an exact rotation
        euler = Rotation.from_matrix(rel).as_euler(seq)
    for k, name in enumerate(names):
        s.set(name, euler[:, k] * s.sign(name))


def _leg(s: _Solver, side: str, pelvis: np.ndarray, joints: np.ndarray,
         foot_fwd: np.ndarray, knee_axis: np.ndarray) -> None:
    hip, knee, ankle = (joints[:, _J[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
    thigh, shank = _unit(knee - hip), _unit(ankle - knee)
    suffix = "r" if side == "r" else "l"
    flex, add, rot = (f"hip_{n}_{suffix}" for n in ("flexion", "adduction", "rotation"))
    f_raw, a_raw = _swing(s, flex, add, _local(pelvis, thigh))
    f, a = s.set(flex, f_raw), s.set(add, a_raw)
    # Knee: the angle between thigh and shank in the knee's plane (about the mean lateral axis
    # of the source thigh and shank frames), flexion positive. ACCAD's fits read up to 7 deg
    # of hyperextension at late stance, more than walking knees do and enough to lock ours
    # straight; beyond `_KNEE_FLOOR` the value is eased back (smoothly, and counted as
    # clipped where it moves by more than half a degree).
    swung = pelvis @ s.rot(flex, f) @ s.rot(add, a)
    cross = np.cross(thigh, shank)
    sagittal = np.arctan2(np.einsum("ti,ti->t", cross, knee_axis),
                          np.einsum("ti,ti->t", thigh, shank))
    bend = _KNEE_FLOOR + np.logaddexp(0.0, _KNEE_EASE * (sagittal - _KNEE_FLOOR)) / _KNEE_EASE
    knee_name = f"knee_angle_{suffix}"
    k = s.set(knee_name, s.sign(knee_name) * bend)
    s.clipped[:, s.h.index[knee_name]] |= np.abs(bend - sagittal) > np.deg2rad(0.5)
    # Ankle: foot pitch against the shank (0 when the foot is perpendicular to it).
    ankle_name = f"ankle_angle_{suffix}"
    pitch = np.arcsin(np.clip(-np.einsum("ti,ti->t", foot_fwd, shank), -1.0, 1.0))
    an = s.set(ankle_name, pitch)
    frame = swung
    # Long-axis rotation: best fit of shank and foot directions about the thigh.
    knee_frame = s.rot(knee_name, k)
    shank_local = knee_frame @ np.array([0.0, 0.0, -1.0])
    foot_local = knee_frame @ s.rot(ankle_name, an) @ np.array([1.0, 0.0, 0.0])
    r = _twist([_local(frame, shank), _local(frame, foot_fwd)], [shank_local, foot_local],
               [1.0, 1.0])
    s.set(rot, s.sign(rot) * r)


def _arm(s: _Solver, side: str, torso: np.ndarray, joints: np.ndarray,
         glob: list[Rotation]) -> None:
    sh, el, wr = (joints[:, _J[f"{side}_{j}"]] for j in ("shoulder", "elbow", "wrist"))
    upper, fore = _unit(el - sh), _unit(wr - el)
    suffix = side
    flex, add, rot = (f"arm_{n}_{suffix}" for n in ("flex", "add", "rot"))
    f_raw, a_raw = _swing(s, flex, add, _local(torso, upper))
    f, a = s.set(flex, f_raw), s.set(add, a_raw)
    frame = torso @ s.rot(flex, f) @ s.rot(add, a)
    elbow_name = f"elbow_flex_{suffix}"
    bend = np.arccos(np.clip(np.einsum("ti,ti->t", upper, fore), -1.0, 1.0))
    e = s.set(elbow_name, bend)
    src_fore = (glob[_J[f"{side}_elbow"]] * _C * _ARM_REST[side]).as_matrix()
    pro = f"pro_sup_{suffix}"
    r, p = _arm_twist(s, rot, pro, frame, s.rot(elbow_name, e),
                      fore, src_fore[:, :, 0])
    frame = frame @ s.rot(rot, s.set(rot, r)) @ s.rot(elbow_name, e)
    frame = frame @ s.rot(pro, s.set(pro, p))
    src_hand = (glob[_J[f"{side}_wrist"]] * _C * _ARM_REST[side]).as_matrix()
    rel = np.einsum("tji,tjk->tik", frame, src_hand)
    _euler(s, (f"wrist_flex_{suffix}", f"wrist_dev_{suffix}"), rel)


_TWIST_CANDIDATES = 49
# Weight of the forearm frame (after clipping pro/supination) against the forearm direction.
_FRAME_WEIGHT = 1.0


def _arm_twist(s: _Solver, rot: str, pro: str, frame: np.ndarray, elbow: np.ndarray,
               fore: np.ndarray, fore_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper-arm rotation and pro/supination (hinge values, in range) for one arm.

    The rotation sets the plane the elbow bends in, so it decides where the forearm points;
    pro/supination then turns the forearm's own frame towards the source's (`fore_x`, its
    forward axis). Where the elbow's plane disagrees with the source forearm (a carrying angle
    our hinge elbow does not have) the best rotation may need more pro/supination than the
    joint allows; so the rotation is searched over its whole range, scoring the forearm
    direction and the forearm frame reached after clipping, and refined between grid points.
    """
    col_r, col_p = s.h.index[rot], s.h.index[pro]
    grid = np.linspace(s.h.lo[col_r], s.h.hi[col_r], _TWIST_CANDIDATES)
    fwd = np.broadcast_to(np.array([1.0, 0.0, 0.0]), fore.shape)
    costs, pros = [], []
    for value in grid:
        turn = Rotation.from_rotvec(s.h.axis[rot] * value).as_matrix()
        fa = frame @ turn @ elbow  # forearm frame before pro/supination
        raw = s.sign(pro) * _twist([_local(fa, fore_x)], [fwd], [1.0])
        p = np.clip(raw, s.h.lo[col_p], s.h.hi[col_p])
        x = np.einsum("tij,j->ti", fa @ s.rot(pro, p), np.array([1.0, 0.0, 0.0]))
        direction = -fa[:, :, 2]
        costs.append((1.0 - np.einsum("ti,ti->t", direction, fore))
                     + _FRAME_WEIGHT * (1.0 - np.einsum("ti,ti->t", x, fore_x)))
        pros.append(raw)
    cost = np.stack(costs, axis=1)  # (T, K)
    k = np.argmin(cost, axis=1)
    t = np.arange(cost.shape[0])
    inner = np.clip(k, 1, len(grid) - 2)
    c0, c1, c2 = cost[t, inner - 1], cost[t, inner], cost[t, inner + 1]
    curve = c0 - 2.0 * c1 + c2
    shift = np.where((k == inner) & (curve > 1e-12), 0.5 * (c0 - c2) / np.maximum(curve, 1e-12),
                     0.0)
    step = grid[1] - grid[0]
    r = np.clip(grid[k] + np.clip(shift, -1.0, 1.0) * step, grid[0], grid[-1])
    # Pro/supination for the refined rotation (closed form again).
    fa = frame @ s.rot(rot, r) @ elbow
    p = s.sign(pro) * _twist([_local(fa, fore_x)], [fwd], [1.0])
    return r, p


def _foot_forward() -> dict[str, np.ndarray]:
    """Rest forward direction of each foot in SMPL coordinates: ankle -> toe, levelled."""
    out = {}
    for side in ("l", "r"):
        v = st.TEMPLATE_JOINTS[_J[f"{side}_foot"]] - st.TEMPLATE_JOINTS[_J[f"{side}_ankle"]]
        v = v * np.array([1.0, 0.0, 1.0])
        out[side] = v / np.linalg.norm(v)
    return out


def global_rotations(root: Rotation, local: list[Rotation]) -> list[Rotation]:
    """World rotation of every SMPL joint frame (22 entries) from root and local rotations."""
    glob = [root]
    for j in range(1, len(st.SMPL_BODY_JOINTS)):
        glob.append(glob[st.PARENTS[j]] * local[j])
    return glob


def fit_pose(root: Rotation, local: list[Rotation]) -> PoseFit:
    """Fit the skeleton to SMPL rotations: root (T) and local[k] for joints k = 1..21."""
    frames = len(root)
    s = _Solver(frames)
    glob = global_rotations(root, local)
    joints = st.posed_joints(root, local)
    pelvis_rot = root * _C
    pelvis = pelvis_rot.as_matrix()
    torso_src = (glob[_J["spine3"]] * _C).as_matrix()
    lumbar = ("lumbar_extension", "lumbar_bending", "lumbar_rotation")
    _euler(s, lumbar, np.einsum("tji,tjk->tik", pelvis, torso_src))
    torso = pelvis
    for name in lumbar:
        torso = torso @ s.rot(name, s.angles[:, s.h.index[name]])
    fwd = _foot_forward()
    for side in ("r", "l"):
        foot_fwd = glob[_J[f"{side}_ankle"]].apply(fwd[side])
        lateral = sum((glob[_J[f"{side}_{j}"]] * _C).apply(np.array([0.0, 1.0, 0.0]))
                      for j in ("hip", "knee"))
        _leg(s, side, pelvis, joints, foot_fwd, _unit(lateral))
        _arm(s, side, torso, joints, glob)
    return PoseFit(pelvis_rot.as_quat(scalar_first=True), s.angles, s.clipped)
