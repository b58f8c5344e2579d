"""The correspondence between SMPL body joints and the skeleton's hinge joints (both ways).

A plain rotation mapping: it treats SMPL's rest pose as our zero pose, so real clips lose the
template's knee flexion and toe-out and arms above the shoulder come out wrong. Retargeting
uses `pose_fit` instead; this module stays for tools that need the exact, invertible pairing
of SMPL rotations and our hinges (and its tests of the axis conventions).

Frames. SMPL's body rest frame is Y up, facing +Z (so +X is the body's left); AMASS's
`root_orient` maps it into a Z-up world. Our pelvis frame is X forward, Y left, Z up, and the
world is Z up too, so worlds need no change and body frames differ by the fixed rotation
`C` (our coordinates -> SMPL coordinates: x_ours -> z_smpl, y_ours -> x_smpl, z_ours -> y_smpl).

Segments. Every body of ours that carries hinges corresponds to a chain of SMPL joints:

    femur  <- hip          tibia <- knee          foot <- ankle
    torso  <- spine1 * spine2 * spine3 (the lumbar joints take the whole spine chain)
    humerus <- collar * shoulder     forearm <- elbow (flexion, pro/supination)     hand <- wrist

Neck, head, toes and hands of SMPL have no counterpart and are ignored. Both rest poses have
every segment frame aligned with the pelvis, except the arms: SMPL rests in a T-pose, ours with
the arms hanging, so arm segments carry a fixed offset A (a 90 degree turn about the forward
axis). With G the world orientation of an SMPL segment, ours is O = G C A, hence the relative
rotation of a segment to its parent is Q = A_p^T C^T P C A_s, where P is the product of the
SMPL local rotations along the chain.

Hinges. MuJoCo composes the hinges of one body in order (intrinsic rotations), so a body's
relative rotation is R_axis1(a1) R_axis2(a2) ... with axes read from the compiled model
(OpenSim conventions: e.g. hip flexion about -Y, right adduction about +X, left about -X).
`smpl_to_skeleton` decomposes Q into exactly that Euler sequence (scipy, vectorized over
frames); for bodies with fewer than three hinges the sequence is completed with the missing
axis and that angle, which the skeleton cannot express, is dropped. `skeleton_to_smpl` is the
exact inverse for poses the skeleton can express (spine rotation split evenly over the three
spine joints, collars left at rest); the sample generator uses it, which makes the round trip
testable.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import cache

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from skeleton_steering.skeleton import model as skel

SMPL_BODY_JOINTS: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle",
    "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder",
    "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)  # fmt: skip
_SMPL = {name: i for i, name in enumerate(SMPL_BODY_JOINTS)}

# Our coordinates -> SMPL body coordinates.
C_MATRIX = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
_C = Rotation.from_matrix(C_MATRIX)
_ARM_R = Rotation.from_euler("x", -np.pi / 2)  # right arm: hanging -> T-pose (lateral, -Y)
_ARM_L = Rotation.from_euler("x", np.pi / 2)  # left arm: hanging -> T-pose (lateral, +Y)
_I = Rotation.identity()

# our body -> (SMPL chain, rest offset of the parent segment, rest offset of this segment)
_SEGMENTS: dict[str, tuple[tuple[str, ...], Rotation, Rotation]] = {
    "femur_r": (("r_hip",), _I, _I),
    "tibia_r": (("r_knee",), _I, _I),
    "foot_r": (("r_ankle",), _I, _I),
    "femur_l": (("l_hip",), _I, _I),
    "tibia_l": (("l_knee",), _I, _I),
    "foot_l": (("l_ankle",), _I, _I),
    "torso": (("spine1", "spine2", "spine3"), _I, _I),
    "humerus_r": (("r_collar", "r_shoulder"), _I, _ARM_R),
    "forearm_r": (("r_elbow",), _ARM_R, _ARM_R),
    "hand_r": (("r_wrist",), _ARM_R, _ARM_R),
    "humerus_l": (("l_collar", "l_shoulder"), _I, _ARM_L),
    "forearm_l": (("l_elbow",), _ARM_L, _ARM_L),
    "hand_l": (("l_wrist",), _ARM_L, _ARM_L),
}
# Chain joints that stay at rest when building SMPL poses (the whole rotation goes elsewhere).
_REST_IN_CHAIN = {"r_collar", "l_collar"}


@dataclasses.dataclass(frozen=True)
class _Segment:
    body: str
    chain: tuple[int, ...]  # SMPL joint indices
    parent_offset: Rotation
    offset: Rotation
    hinges: tuple[int, ...]  # positions in model.HINGE_JOINTS
    seq: str  # intrinsic Euler sequence (scipy upper case), completed to three axes
    signs: np.ndarray  # hinge angle = sign * Euler angle


def _axis_letter(axis: np.ndarray, joint: str) -> tuple[str, float]:
    k = int(np.argmax(np.abs(axis)))
    if not np.isclose(abs(axis[k]), 1.0) or np.count_nonzero(np.abs(axis) > 1e-9) != 1:
        raise ValueError(f"joint '{joint}': axis {axis} is not a coordinate axis")
    return "XYZ"[k], float(np.sign(axis[k]))


@cache
def _segments() -> tuple[_Segment, ...]:
    m = skel.load_mj_model()
    hinge_pos = {name: i for i, name in enumerate(skel.HINGE_JOINTS)}
    out = []
    for body, (chain, parent_offset, offset) in _SEGMENTS.items():
        bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body)
        joints = [j for j in range(m.njnt) if m.jnt_bodyid[j] == bid]
        names = [m.joint(j).name for j in joints]
        letters, signs = zip(*(_axis_letter(m.jnt_axis[j], m.joint(j).name) for j in joints),
                             strict=True)
        seq = "".join(letters)
        seq += "".join(a for a in "XYZ" if a not in seq)
        out.append(
            _Segment(
                body=body,
                chain=tuple(_SMPL[c] for c in chain),
                parent_offset=parent_offset,
                offset=offset,
                hinges=tuple(hinge_pos[n] for n in names),
                seq=seq,
                signs=np.array(signs),
            )
        )
    return tuple(out)


def _chain_product(rotations: list[Rotation], chain: tuple[int, ...]) -> Rotation:
    prod = rotations[chain[0]]
    for j in chain[1:]:
        prod = prod * rotations[j]
    return prod


def smpl_to_skeleton(root: Rotation, body: list[Rotation]) -> tuple[np.ndarray, np.ndarray]:
    """Root quaternion (T, 4) wxyz and hinge angles (T, 27) in `model.HINGE_JOINTS` order.

    `root` is SMPL's global root orientation (T frames); `body[k]` the local rotation of SMPL
    joint k (k = 0..21; entry 0 is ignored, pass `root` or anything there). No joint limits are
    applied here.
    """
    frames = len(root)
    angles = np.zeros((frames, len(skel.HINGE_JOINTS)))
    for seg in _segments():
        P = _chain_product(body, seg.chain)
        Q = seg.parent_offset.inv() * _C.inv() * P * _C * seg.offset
        with warnings.catch_warnings():
            # At gimbal lock (e.g. arms at 90 degrees abduction) scipy sets the last angle to
            # zero and warns; the rotation is still represented exactly.
            warnings.simplefilter("ignore", UserWarning)
            euler = Q.as_euler(seg.seq)  # upper case: intrinsic, as MuJoCo composes hinges
        n = len(seg.hinges)
        angles[:, list(seg.hinges)] = euler[:, :n] * seg.signs
    pelvis = (root * _C).as_quat(scalar_first=True)
    return pelvis, angles


def smpl_rotvec_to_skeleton(
    root_orient: np.ndarray, body_pose: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`smpl_to_skeleton` from AMASS axis-angle arrays: root (T, 3), body (T, 21, 3)."""
    root = Rotation.from_rotvec(root_orient)
    body = [root] + [Rotation.from_rotvec(body_pose[:, k]) for k in range(body_pose.shape[1])]
    return smpl_to_skeleton(root, body)


def skeleton_to_smpl(root_quat: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AMASS axis-angle (root_orient (T, 3), body_pose (T, 21, 3)) of skeleton poses.

    `root_quat` (T, 4) wxyz is the pelvis orientation, `angles` (T, 27) the hinge angles.
    """
    frames = angles.shape[0]
    body = np.zeros((frames, len(SMPL_BODY_JOINTS), 3))
    for seg in _segments():
        euler = np.zeros((frames, 3))
        euler[:, : len(seg.hinges)] = angles[:, list(seg.hinges)] * seg.signs
        Q = Rotation.from_euler(seg.seq, euler)
        P = _C * seg.parent_offset * Q * seg.offset.inv() * _C.inv()
        moving = [j for j in seg.chain if SMPL_BODY_JOINTS[j] not in _REST_IN_CHAIN]
        part = P.as_rotvec() / len(moving)
        for j in moving:
            body[:, j] = part
    root = Rotation.from_quat(root_quat, scalar_first=True) * _C.inv()
    return root.as_rotvec(), body[:, 1:]
