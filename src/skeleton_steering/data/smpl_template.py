"""The SMPL body template at rest: joint positions, kinematic tree, and forward kinematics.

Frame. SMPL's body frame is Y up, facing +Z, so +X is the body's left. AMASS's `root_orient`
rotates this frame into its Z-up world; `trans` is added in that world. Positions here are
metres, in SMPL's frame, unless a name says `_ours` (our pelvis frame: X forward, Y left, Z up;
`OURS_TO_SMPL` maps ours to SMPL's).

Figures. `TEMPLATE_JOINTS` are the published rest joint locations of SMPL's gender-neutral
template (betas = 0): the 22 body joints, pelvis included, as the joint regressor gives them
(and as they appear as body offsets in PHC/ProtoMotions' `smpl_humanoid` MJCF). Shape (betas)
is not modelled: a subject's bone lengths differ from these by a few per cent, which changes no
angle measured from them by more than about a degree; retargeting scales the root path to our
leg length separately.

Rest pose vs our zero pose. Our skeleton at zero stands with every segment vertical (feet
pointing straight forward, arms hanging); SMPL's template differs, and a rotation copied from
SMPL onto our joints carries these differences with it unless they are taken out:

* knee: the shank leans back against the thigh, the knee rests about 6 deg flexed;
* toe-out: the feet point about 12 deg outward;
* thighs: the knees sit wider than the hips, about 5 deg of abduction per side;
* pelvis: the spine leaves the pelvis leaning back about 14 deg (the template's pelvis is
  tilted forward against an upright trunk);
* arms: T-pose (upper arms horizontal, slightly behind and below the shoulder line).

`REST_FACTS` holds these numbers, computed from the positions (degrees).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

SMPL_BODY_JOINTS: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle",
    "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder",
    "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)  # fmt: skip
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SMPL_BODY_JOINTS)}
# Parent of each joint in SMPL's kinematic tree (-1: the root).
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
)  # fmt: skip

# Our pelvis-frame coordinates -> SMPL body coordinates (x_ours -> z, y_ours -> x, z_ours -> y).
OURS_TO_SMPL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])

# Offset of each joint from its parent at rest, in SMPL's frame (x left, y up, z forward), m.
_OFFSETS = np.array([
    [-0.0018, -0.2233, 0.0282],   # pelvis (from the model origin)
    [0.0695, -0.0914, -0.0068],   # l_hip
    [-0.0677, -0.0905, -0.0043],  # r_hip
    [-0.0025, 0.1090, -0.0267],   # spine1
    [0.0343, -0.3752, -0.0045],   # l_knee
    [-0.0383, -0.3826, -0.0089],  # r_knee
    [0.0055, 0.1352, 0.0011],     # spine2
    [-0.0136, -0.3980, -0.0437],  # l_ankle
    [0.0158, -0.3984, -0.0423],   # r_ankle
    [0.0015, 0.0529, 0.0254],     # spine3
    [0.0264, -0.0558, 0.1193],    # l_foot (toes)
    [-0.0254, -0.0481, 0.1233],   # r_foot (toes)
    [-0.0028, 0.2139, -0.0429],   # neck
    [0.0788, 0.1217, -0.0341],    # l_collar
    [-0.0818, 0.1188, -0.0386],   # r_collar
    [0.0052, 0.0650, 0.0513],     # head
    [0.0910, 0.0305, -0.0089],    # l_shoulder
    [-0.0960, 0.0326, -0.0091],   # r_shoulder
    [0.2596, -0.0128, -0.0275],   # l_elbow
    [-0.2537, -0.0133, -0.0214],  # r_elbow
    [0.2492, 0.0090, -0.0012],    # l_wrist
    [-0.2553, 0.0078, -0.0056],   # r_wrist
])  # fmt: skip


def _absolute(offsets: np.ndarray) -> np.ndarray:
    out = np.zeros_like(offsets)
    for j, parent in enumerate(PARENTS):
        out[j] = offsets[j] + (out[parent] if parent >= 0 else 0.0)
    return out


# Rest joint positions (22, 3), SMPL frame, metres, relative to the model origin.
TEMPLATE_JOINTS: np.ndarray = _absolute(_OFFSETS)
TEMPLATE_JOINTS.setflags(write=False)
# The pelvis joint at rest: AMASS puts the pelvis at `trans + PELVIS_REST` (world frame; the
# root rotation turns the body about this point, so the offset itself is not rotated).
PELVIS_REST: np.ndarray = TEMPLATE_JOINTS[0].copy()
PELVIS_REST.setflags(write=False)


def bone_offsets() -> np.ndarray:
    """Rest offset (22, 3) of every joint from its parent, SMPL frame (row 0: the pelvis)."""
    return _OFFSETS.copy()


def template_joints_ours() -> np.ndarray:
    """Rest joint positions (22, 3) relative to the pelvis joint, in our pelvis-frame axes."""
    return (TEMPLATE_JOINTS - TEMPLATE_JOINTS[0]) @ OURS_TO_SMPL


def _deg(x: float) -> float:
    return float(np.degrees(x))


def _rest_facts() -> dict[str, float]:
    j = template_joints_ours()  # x forward, y left, z up
    i = JOINT_INDEX
    facts: dict[str, float] = {}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        thigh = j[i[f"{side}_knee"]] - j[i[f"{side}_hip"]]
        shank = j[i[f"{side}_ankle"]] - j[i[f"{side}_knee"]]
        foot = j[i[f"{side}_foot"]] - j[i[f"{side}_ankle"]]
        # Sagittal lean of each segment, positive when its lower end is forward.
        thigh_lean = np.arctan2(thigh[0], -thigh[2])
        shank_lean = np.arctan2(shank[0], -shank[2])
        facts[f"knee_flexion_{side}"] = _deg(thigh_lean - shank_lean)
        facts[f"hip_flexion_{side}"] = _deg(thigh_lean)
        facts[f"thigh_abduction_{side}"] = _deg(np.arctan2(sign * thigh[1], -thigh[2]))
        facts[f"toe_out_{side}"] = _deg(np.arctan2(sign * foot[1], foot[0]))
    spine = j[i["spine1"]] - j[i["pelvis"]]
    facts["spine_lean_back"] = _deg(np.arctan2(-spine[0], spine[2]))
    for side, sign in (("l", 1.0), ("r", -1.0)):
        upper = j[i[f"{side}_elbow"]] - j[i[f"{side}_shoulder"]]
        facts[f"arm_elevation_{side}"] = _deg(np.arctan2(upper[2], sign * upper[1]))
    return facts


# Rest-pose facts of the template, degrees: knee_flexion_{l,r}, hip_flexion_{l,r} (thigh lean
# forward), thigh_abduction_{l,r}, toe_out_{l,r}, spine_lean_back, arm_elevation_{l,r} (above
# horizontal).
REST_FACTS: dict[str, float] = _rest_facts()


def posed_joints(
    root: Rotation, local: list[Rotation], trans: np.ndarray | None = None
) -> np.ndarray:
    """World joint positions (T, 22, 3) of the template posed by SMPL rotations.

    `root` is the global root orientation (T frames, SMPL frame -> world), `local[k]` the local
    rotation of joint k relative to its parent (k = 1..21; entry 0 is ignored). With `trans`
    (T, 3) the result is in AMASS's world (pelvis at trans + PELVIS_REST); without it, relative
    to the pelvis joint. Betas are ignored (neutral template).
    """
    frames = len(root)
    glob: list[Rotation] = [root]
    pos = np.zeros((frames, len(SMPL_BODY_JOINTS), 3))
    if trans is not None:
        pos[:, 0] = trans + PELVIS_REST
    for j in range(1, len(SMPL_BODY_JOINTS)):
        parent = PARENTS[j]
        pos[:, j] = pos[:, parent] + glob[parent].apply(_OFFSETS[j])
        glob.append(glob[parent] * local[j])
    return pos


def posed_joints_rotvec(
    root_orient: np.ndarray, body_pose: np.ndarray, trans: np.ndarray | None = None
) -> np.ndarray:
    """`posed_joints` from AMASS axis-angle arrays: root (T, 3), body (T, 21, 3)."""
    root = Rotation.from_rotvec(root_orient)
    local = [root] + [Rotation.from_rotvec(body_pose[:, k]) for k in range(body_pose.shape[1])]
    return posed_joints(root, local, trans)
