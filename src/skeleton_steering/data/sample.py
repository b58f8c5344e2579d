"""The bundled sample clips: synthetic KIT-like walking in AMASS format.

Real KIT data cannot be downloaded on every machine, so `skeleton-steering sample-kit --out
DIR` writes clips the whole pipeline runs on: straight walking at several speeds and turns to
both sides, several seconds each, 100 Hz, laid out like KIT
(`<out>/KIT/<subject>/<motion>_poses.npz`, plus each subject's `shape.npz`). THEY ARE
SYNTHETIC: smooth periodic gait, no noise, no starts or stops. To train on real data, download
KIT from AMASS (https://amass.is.tue.mpg.de, SMPL-H "KIT.tar.bz2"), unpack it, and run
`skeleton-steering extract --kit-root <unpacked dir> --out results/expert_dataset` (or set the
workflow's `kit_root`); everything downstream is the same.

A clip is an SMPL body walking, built the way a motion-capture fit describes one: local joint
rotations relative to the SMPL template's rest pose (`smpl_template`), so it reaches the
skeleton through the same retargeting as real data. Deterministic given the seed:

* Centre of mass and pelvis: the planned path (the clip's speed, constant; lateral sway of
  +-2 cm toward the stance foot; turns yaw it smoothly over the clip's middle half) is meant
  for the whole-body centre of mass. The swinging limbs pull the COM back and forth against
  the pelvis, so the pelvis takes part of the opposite (measured on the retargeted skeleton,
  whose segment masses decide): its forward speed then varies by about +-15 % at the step
  frequency while the COM's stays nearly constant, as in real walking. Vertical oscillation
  of 3 cm peak to peak, highest in mid-stance (less at fast cadence: at most 0.12 g); pelvic
  obliquity, rotation and tilt from normative curves (`gait`).
* Feet: footprints under the path (step width 10 cm, toe-out 7 deg), placed so the hip passes
  over the ankle early in stance. A stance foot rolls heel -> flat -> toe tip about points that
  stay on the floor (heel rocker, foot flat, push-off about the toe tip), so it never slides;
  the swing foot travels between footprints on a minimum-jerk path with toe clearance. The
  toes stay in line with the foot, as on our skeleton's rigid foot box: a push-off about the
  toe base (toes flat, as people do) measured 5-12 cm/s of skating on the retargeted skeleton,
  whose box then pivots about its front edge, against about 1 cm/s for this one.
* Legs: two-segment inverse kinematics of the template's thigh and shank from each hip to its
  ankle, the knee in the plane of the foot's heading; so hip flexion, adduction and rotation,
  knee and ankle all follow from the pelvis and foot motion instead of being prescribed. The
  pelvis height is the highest that keeps every knee at least 4 deg flexed.
* Trunk, arms and head: lumbar counter-rotation, lateral bending and flexion against the
  pelvis; arm swing (shoulder flexion with abduction and rotation), elbow flexion, and a few
  degrees of forearm pro/supination and wrist motion coupled to the swing; the head stays
  level, facing the path.
* Subjects have a size factor: the whole body is scaled uniformly (the translation by the
  size, betas[0] as a stature hint), as AMASS subjects differ from the template.

The SMPL pelvis carries the posterior tilt real fits show (about 9 deg, with the spine chain
flexed to keep the trunk upright): the mean root pitch of the ACCAD walks in AMASS is -8 to
-10 deg, their spine chain's flexion about 13 deg.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from rich.console import Console
from scipy.spatial.transform import Rotation

from skeleton_steering.data import gait, smpl_template
from skeleton_steering.data.amass import AmassClip, write_clip
from skeleton_steering.data.feasibility import lowpass
from skeleton_steering.io_utils import atomic_write, atomic_write_text
from skeleton_steering.progress import track
from skeleton_steering.skeleton import model as skel

J = smpl_template.JOINT_INDEX
_C = Rotation.from_matrix(smpl_template.OURS_TO_SMPL)  # ours -> SMPL coordinates
SIDES = (("r", -1.0), ("l", 1.0))  # (suffix, lateral sign: +1 = left, our +Y)

# Gait parameters (see the module docstring); lengths in metres of the template body.
VERTICAL_AMPLITUDE = 0.015
MAX_VERTICAL_ACC = 0.12
LATERAL_SWAY = 0.02
STEP_WIDTH = 0.10
TOE_OUT = np.deg2rad(7.0)
HIP_OVER_ANKLE = 0.24  # share of the cycle after heel strike when the hip passes the ankle
HEEL_STRIKE_PITCH = np.deg2rad(18.0)  # toe up at heel strike
FOOT_FLAT = 0.08  # end of the heel rocker (share of the cycle)
HEEL_OFF = 0.36
TOE_OFF_PITCH = np.deg2rad(48.0)  # heel up at toe off
SWING_LIFT = 0.025  # extra ankle height at the top of the swing
MIN_KNEE_FLEXION = np.deg2rad(4.0)
# How much of the limbs' pull on the COM the pelvis takes back (see generate_motion): shares
# (a + b * speed, clipped to [0, 1]) of the offset's slow part (below COM_SPLIT x the stride
# frequency) and of the rest. Chosen by measurement: taking all of it keeps the COM smoothest
# but swings the pelvis speed beyond +-20 % in slow walking; taking none leaves fast walking
# above the friction limit.
COM_ITERATIONS = 3
COM_SLOW_SHARE = (-0.3, 0.3)
COM_FAST_SHARE = (0.2, 0.5)
COM_SPLIT = 2.5
# Real SMPL fits of walking tilt the pelvis back about 9 deg and flex the spine chain to match.
PELVIS_TILT_OFFSET = np.deg2rad(-9.0)
TRUNK_LEAN = np.deg2rad(3.0)  # forward lean of the trunk, plus 1.5 deg per m/s
# Foot geometry in the foot frame (x forward, z up, origin at the ankle), beyond the joints
# the template gives: the heel's floor contact and the toe tip (SMPL's "foot" joint sits at
# the base of the toes).
HEEL_BACK = 0.06
TOE_TIP = 0.06
BALL_HEIGHT = 0.02  # the toe-base joint above the floor with the foot flat


@dataclasses.dataclass(frozen=True)
class Subject:
    name: str
    gender: str
    size: float  # subject size relative to the template body (scales the whole body)


@dataclasses.dataclass(frozen=True)
class MotionSpec:
    motion: str  # file stem without "_poses"
    speed: float  # target mean speed on the skeleton, m/s
    turn_deg: float  # total heading change (+ = left)
    duration: float  # seconds


SUBJECTS = (Subject("sample1", "male", 1.03), Subject("sample2", "female", 0.94))
MOTIONS = (
    MotionSpec("walking_slow01", 0.8, 0.0, 6.0),
    MotionSpec("walking_medium01", 1.2, 0.0, 6.0),
    MotionSpec("walking_fast01", 1.6, 0.0, 6.0),
    MotionSpec("walking_turn_left01", 1.1, 90.0, 7.0),
    MotionSpec("walking_turn_right01", 1.1, -90.0, 7.0),
)


# -- the template body -------------------------------------------------------------------------


def _align(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction `a` to direction `b`."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        return Rotation.identity()
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c))


@dataclasses.dataclass(frozen=True)
class _Body:
    """The template's segment lengths and rest offsets, in our axes (x forward, y left, z up).

    `neutral[j]` maps a segment's anatomical neutral frame (legs vertical, feet flat pointing
    forward, arms hanging, palms in) to the frame SMPL's joint j has at rest, so the world
    rotation of SMPL joint j for an anatomical orientation A is A * neutral[j]^-1 (in our
    axes; conjugated by C for SMPL's).
    """

    joints: np.ndarray  # (22, 3) rest positions relative to the pelvis
    thigh: dict[str, float]
    shank: dict[str, float]
    ankle_to_ball: dict[str, np.ndarray]  # in the foot frame (toe-out removed)
    neutral: dict[int, Rotation]


@cache
def _body() -> _Body:
    j = smpl_template.template_joints_ours()
    neutral: dict[int, Rotation] = {}
    thigh, shank, ball = {}, {}, {}
    down = np.array([0.0, 0.0, -1.0])
    for side, sign in SIDES:
        hip, knee, ankle, foot = (J[f"{side}_{n}"] for n in ("hip", "knee", "ankle", "foot"))
        thigh[side] = float(np.linalg.norm(j[knee] - j[hip]))
        shank[side] = float(np.linalg.norm(j[ankle] - j[knee]))
        neutral[hip] = _align(down, j[knee] - j[hip])
        neutral[knee] = _align(down, j[ankle] - j[knee])
        to_ball = j[foot] - j[ankle]
        forward = np.array([np.hypot(to_ball[0], to_ball[1]), 0.0, to_ball[2]])
        neutral[ankle] = _align(forward, to_ball)
        ball[side] = forward
        hanging = Rotation.from_euler("x", sign * np.pi / 2)  # down -> lateral (T-pose)
        shoulder, elbow, wrist = (J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist"))
        lateral = np.array([0.0, sign, 0.0])
        neutral[shoulder] = _align(lateral, j[elbow] - j[shoulder]) * hanging
        neutral[elbow] = _align(lateral, j[wrist] - j[elbow]) * hanging
        neutral[wrist] = neutral[elbow]
    return _Body(j, thigh, shank, ball, neutral)


# -- pelvis and feet ---------------------------------------------------------------------------


def _heading(times: np.ndarray, duration: float, turn: float) -> np.ndarray:
    u = np.clip((times - 0.25 * duration) / (0.5 * duration), 0.0, 1.0)
    return turn * (3 * u**2 - 2 * u**3)


def _rz(yaw: np.ndarray) -> np.ndarray:
    """(..., 2, 2) planar rotations."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything of a clip but the pelvis height: time base, pelvis path and footprints."""

    times: np.ndarray
    phase: np.ndarray  # right-leg phase (cycles)
    yaw: np.ndarray  # heading of the path
    pelvis_xy: np.ndarray  # (T, 2)
    pelvis_dz: np.ndarray  # (T,) vertical oscillation about the pelvis height
    pelvis_rot: Rotation  # anatomical pelvis orientation (T)
    stance: float  # stance share of the cycle
    stride_frequency: float
    # (times, path centre without sway, yaw) on a fine grid one stride beyond both ends
    fine: tuple[np.ndarray, np.ndarray, np.ndarray]


def _plan(spec: MotionSpec, rate: float, speed: float, rng: np.random.Generator) -> _Plan:
    frames = round(spec.duration * rate) + 1
    times = np.arange(frames) / rate
    freq = gait.stride_frequency(spec.speed) * rng.uniform(0.97, 1.03)
    phase0 = rng.uniform(0.0, 1.0)
    yaw0 = rng.uniform(-np.pi, np.pi)
    start = rng.uniform(-1.0, 1.0, size=2)
    turn = np.deg2rad(spec.turn_deg)
    # A fine grid one stride beyond both ends, for footprints placed outside the clip.
    pad = 1.5 / freq
    fine_t = np.arange(-pad, spec.duration + pad, 0.002)

    def path(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ph = phase0 + freq * t
        yaw = yaw0 + _heading(t, spec.duration, turn)
        return ph, yaw, np.full(t.shape, speed)

    ph_f, yaw_f, v_f = path(fine_t)
    heading = np.stack([np.cos(yaw_f), np.sin(yaw_f)], -1)
    step = 0.5 * (v_f[1:, None] * heading[1:] + v_f[:-1, None] * heading[:-1]) * np.diff(fine_t)[
        :, None]
    centre = np.concatenate([np.zeros((1, 2)), np.cumsum(step, axis=0)])
    centre -= np.array([np.interp(0.0, fine_t, centre[:, k]) for k in range(2)]) - start
    # Sway toward the stance foot: right (-y) in the right leg's mid-stance.
    sway = -LATERAL_SWAY * np.cos(2 * np.pi * (ph_f - 0.3))
    left = np.stack([-np.sin(yaw_f), np.cos(yaw_f)], -1)
    fine_xy = centre + sway[:, None] * left
    ph, yaw, _ = path(times)
    pelvis_xy = np.stack([np.interp(times, fine_t, fine_xy[:, k]) for k in range(2)], -1)
    # Capped so the vertical acceleration stays under MAX_VERTICAL_ACC g at faster cadence.
    omega = 4 * np.pi * freq
    amplitude = min(VERTICAL_AMPLITUDE, MAX_VERTICAL_ACC * 9.81 / omega**2)
    pelvis_dz = amplitude * np.cos(4 * np.pi * (ph - 0.3))
    pelvis_rot = Rotation.from_euler("ZYX", np.stack([
        yaw + gait.curve("pelvis_rotation", ph), gait.curve("pelvis_tilt", ph),
        -gait.curve("pelvis_obliquity", ph)], axis=1))
    return _Plan(times, ph, yaw, pelvis_xy, pelvis_dz, pelvis_rot,
                 gait.stance_fraction(spec.speed), freq, (fine_t, centre, yaw_f))


def _foot_frame(yaw: np.ndarray, pitch: np.ndarray) -> Rotation:
    """World orientation of a foot: heading `yaw`, `pitch` > 0 heel up (toes down)."""
    return Rotation.from_euler("ZY", np.stack([yaw, pitch], -1))


def _foot_motion(plan: _Plan, side: str, sign: float) -> tuple[np.ndarray, Rotation]:
    """World ankle positions (T, 3) and foot orientations of one foot over the clip."""
    body = _body()
    ball = body.ankle_to_ball[side]
    ankle_height = BALL_HEIGHT - ball[2]  # ankle above the floor, foot flat
    heel = np.array([-HEEL_BACK, 0.0, -ankle_height])
    tip = np.array([ball[0] + TOE_TIP, 0.0, -ankle_height])
    # Own phase: the left leg runs half a cycle behind the right.
    own = plan.phase if side == "r" else plan.phase - 0.5
    fine_t, fine_xy, fine_yaw = plan.fine
    slope = (own[-1] - own[0]) / (plan.times[-1] - plan.times[0])
    fine_own = own[0] + slope * (fine_t - plan.times[0])
    first, last = int(np.floor(own[0])) - 1, int(np.ceil(own[-1])) + 1
    steps = np.arange(first, last + 1)
    # Footprint k: the flat foot's ankle, where the path is when the hip passes over it.
    t_over = np.interp(steps + HIP_OVER_ANKLE, fine_own, fine_t)
    over_xy = np.stack([np.interp(t_over, fine_t, fine_xy[:, k]) for k in range(2)], -1)
    over_yaw = np.interp(t_over, fine_t, fine_yaw)
    lateral = np.stack([-np.sin(over_yaw), np.cos(over_yaw)], -1)
    prints = over_xy + sign * 0.5 * STEP_WIDTH * lateral
    print_yaw = over_yaw + sign * TOE_OUT

    k = np.floor(own).astype(int) - first
    u = own - np.floor(own)
    st = plan.stance
    ankle = np.zeros((own.size, 3))
    yaw = print_yaw[k].copy()
    pitch = np.zeros(own.size)

    def planted(idx: np.ndarray, p: np.ndarray, pivot: np.ndarray) -> np.ndarray:
        """Ankle of footprint idx with the foot pitched by p about `pivot` (foot frame)."""
        rot = _foot_frame(print_yaw[idx], p)
        flat = np.concatenate([prints[idx], np.full((idx.size, 1), ankle_height)], -1)
        fixed = flat + _foot_frame(print_yaw[idx], np.zeros(idx.size)).apply(pivot)
        return fixed - rot.apply(pivot)

    rocker = u < FOOT_FLAT
    p = -HEEL_STRIKE_PITCH * (1.0 - gait.min_jerk(u / FOOT_FLAT))
    ankle[rocker] = planted(k[rocker], p[rocker], heel)
    pitch[rocker] = p[rocker]
    flat = (u >= FOOT_FLAT) & (u < HEEL_OFF)
    ankle[flat] = planted(k[flat], np.zeros(flat.sum()), heel)
    push = (u >= HEEL_OFF) & (u < st)
    p = TOE_OFF_PITCH * gait.min_jerk((u - HEEL_OFF) / (st - HEEL_OFF))
    ankle[push] = planted(k[push], p[push], tip)
    pitch[push] = p[push]
    swing = u >= st
    w = gait.min_jerk((u[swing] - st) / (1.0 - st))
    ks = k[swing]
    off = planted(ks, np.full(ks.size, TOE_OFF_PITCH), tip)
    on = planted(ks + 1, np.full(ks.size, -HEEL_STRIKE_PITCH), heel)
    raw = (u[swing] - st) / (1.0 - st)
    lift = SWING_LIFT * np.sin(np.pi * raw**0.75) ** 1.5
    ankle[swing] = off + (on - off) * w[:, None]
    ankle[swing, 2] += lift
    pitch[swing] = TOE_OFF_PITCH + (-HEEL_STRIKE_PITCH - TOE_OFF_PITCH) * w
    yaw[swing] = print_yaw[ks] + (print_yaw[ks + 1] - print_yaw[ks]) * w
    return ankle, _foot_frame(yaw, pitch)


# -- legs --------------------------------------------------------------------------------------


def _hips(plan: _Plan, pelvis_xy: np.ndarray, height: float) -> dict[str, np.ndarray]:
    body = _body()
    pelvis = np.concatenate([pelvis_xy, (height + plan.pelvis_dz)[:, None]], -1)
    smpl_pelvis = _smpl_pelvis(plan)
    return {side: pelvis + smpl_pelvis.apply(body.joints[J[f"{side}_hip"]])
            for side, _ in SIDES}


def _smpl_pelvis(plan: _Plan) -> Rotation:
    """World rotation of SMPL's pelvis joint (our axes): the anatomical pelvis with the tilt
    real fits give SMPL's pelvis."""
    return plan.pelvis_rot * Rotation.from_euler("y", PELVIS_TILT_OFFSET)


def _pelvis_height(plan: _Plan, pelvis_xy: np.ndarray,
                   feet: dict[str, tuple[np.ndarray, Rotation]]) -> float:
    """The highest pelvis that keeps every knee at least MIN_KNEE_FLEXION flexed."""
    body = _body()
    hips = _hips(plan, pelvis_xy, 0.0)
    best = np.inf
    for side, _ in SIDES:
        a, b = body.thigh[side], body.shank[side]
        reach = np.sqrt(a * a + b * b + 2 * a * b * np.cos(MIN_KNEE_FLEXION))
        d = feet[side][0] - hips[side]
        horizontal = np.linalg.norm(d[:, :2], axis=-1)
        if (horizontal >= reach).any():
            raise ValueError("stride too long for the template's legs")
        best = min(best, float(np.min(np.sqrt(reach**2 - horizontal**2) + d[:, 2])))
    return best


def _leg(hip: np.ndarray, ankle: np.ndarray, foot: Rotation, a: float, b: float
         ) -> tuple[Rotation, Rotation]:
    """Anatomical world orientations of thigh and shank: two-segment IK from hip to ankle,
    the knee bending forward in the plane that holds the foot's heading."""
    d = ankle - hip
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    dn = d / dist
    forward = foot.apply([1.0, 0.0, 0.0])
    forward[:, 2] = 0.0
    axis = np.cross(-dn, forward)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    dist = np.minimum(dist[:, 0], a + b - 1e-9)
    alpha = np.arccos(np.clip((a * a + dist**2 - b * b) / (2 * a * dist), -1.0, 1.0))
    thigh_dir = Rotation.from_rotvec(-axis * alpha[:, None]).apply(dn)
    knee = hip + a * thigh_dir
    shank_dir = ankle - knee
    shank_dir /= np.linalg.norm(shank_dir, axis=-1, keepdims=True)

    def frame(down: np.ndarray) -> Rotation:
        z = -down
        y = axis - np.sum(axis * z, -1, keepdims=True) * z
        y /= np.linalg.norm(y, axis=-1, keepdims=True)
        return Rotation.from_matrix(np.stack([np.cross(y, z), y, z], axis=-1))

    return frame(thigh_dir), frame(shank_dir)


# -- the whole body ----------------------------------------------------------------------------


def _upper_body(plan: _Plan, speed: float) -> dict[str, Rotation]:
    """Anatomical world orientations of torso and head, and arm segments."""
    ph = plan.phase
    n = ph.size
    lean = TRUNK_LEAN + np.deg2rad(1.5) * speed
    lumbar = Rotation.from_euler("ZYX", np.stack([
        gait.curve("lumbar_rotation", ph),
        lean + gait.curve("lumbar_flexion", ph) - gait.curve("pelvis_tilt", ph),
        # The trunk stays near vertical while the pelvis rolls: bend against the obliquity.
        1.5 * gait.curve("pelvis_obliquity", ph)], axis=1))
    torso = plan.pelvis_rot * lumbar
    out = {"torso": torso, "head": Rotation.from_euler("ZY", np.stack(
        [plan.yaw, np.full(n, np.deg2rad(5.0))], -1))}
    # Arm swing varies widely between people (20-45 deg of shoulder flexion at 1.2 m/s): 1.3x
    # the group mean, as in AMASS's ACCAD walks.
    arm_gain = 1.3 * float(np.clip(speed / 1.2, 0.5, 1.4))
    for side, sign in SIDES:
        own = ph if side == "r" else ph - 0.5
        flex = gait.curve("shoulder_flexion", own, arm_gain)
        swing = (flex - np.mean(flex)) / max(np.ptp(flex), 1e-6)  # -0.5 .. 0.5
        abd = gait.curve("shoulder_abduction", own)
        # Internal rotation grows as the arm swings back; forearm pronation and the wrist
        # follow the swing by a few degrees (small, but never still).
        rot = np.deg2rad(8.0) - np.deg2rad(20.0) * swing
        elbow = gait.curve("elbow_flexion", own, arm_gain)
        pron = np.deg2rad(10.0) + np.deg2rad(6.0) * np.sin(2 * np.pi * (own - 0.1))
        wrist_flex = np.deg2rad(5.0) + np.deg2rad(5.0) * np.sin(2 * np.pi * (own - 0.2))
        wrist_dev = np.deg2rad(5.0) + np.deg2rad(2.5) * np.sin(2 * np.pi * (own + 0.05))
        zeros = np.zeros(n)
        shoulder = Rotation.from_euler("YXZ", np.stack(
            [-flex, sign * abd, -sign * rot], -1))
        humerus = torso * shoulder
        forearm = humerus * Rotation.from_euler("YZ", np.stack([-elbow, -sign * pron], -1))
        hand = forearm * Rotation.from_euler("XYZ", np.stack(
            [-sign * wrist_flex, -wrist_dev, zeros], -1))
        out[f"humerus_{side}"], out[f"forearm_{side}"], out[f"hand_{side}"] = (
            humerus, forearm, hand)
    return out


def _smpl_pose(world: dict[int, Rotation]) -> tuple[np.ndarray, np.ndarray]:
    """AMASS root_orient (T, 3) and body_pose (T, 21, 3) from SMPL joints' world rotations
    (in our axes); joints not given rotate with their parent."""
    glob: list[Rotation] = []
    body = []
    for j, parent in enumerate(smpl_template.PARENTS):
        w = world.get(j, glob[parent] if parent >= 0 else None)
        glob.append(w)
        if parent >= 0:
            # SMPL's local rotation in SMPL's axes: C (W_parent^-1 W_j) C^-1.
            body.append((_C * glob[parent].inv() * w * _C.inv()).as_rotvec())
    return (glob[0] * _C.inv()).as_rotvec(), np.stack(body, axis=1)


def _spine_split(pelvis: Rotation, torso: Rotation) -> list[Rotation]:
    """World rotations of spine1..3: the trunk's rotation against the pelvis spread evenly."""
    rel = (pelvis.inv() * torso).as_rotvec()
    return [pelvis * Rotation.from_rotvec(rel * k / 3.0) for k in (1, 2, 3)]


@dataclasses.dataclass(frozen=True)
class GeneratedClip:
    """A generated clip in AMASS terms, and (on demand) the skeleton motion it retargets to."""

    root_orient: np.ndarray  # (T, 3)
    body_pose: np.ndarray  # (T, 21, 3)
    trans: np.ndarray  # (T, 3)
    rate: float
    speed: float  # mean speed along the path of the template body, scaled to the skeleton
    size: float = 1.0

    def as_amass(self, path: str = "sample") -> AmassClip:
        return AmassClip(path, self.root_orient, self.body_pose, self.trans, self.rate,
                         "neutral", np.zeros(16), "SMPL-H")

    @cached_property
    def qpos(self) -> np.ndarray:
        """(T, 34) the clip retargeted onto the skeleton at its own rate."""
        from skeleton_steering.data.retarget import RetargetConfig, retarget_clip

        return retarget_clip(self.as_amass(), RetargetConfig(frequency=self.rate)).qpos


@cache
def skeleton_to_template_length() -> float:
    """Our skeleton's leg length (hip to ankle, standing) over the template's."""
    m = skel.load_mj_model()
    d = mujoco.MjData(m)
    d.qpos[:] = skel.standing_qpos()
    mujoco.mj_kinematics(m, d)
    ours = d.xpos[m.body("femur_r").id, 2] - d.xpos[m.body("foot_r").id, 2]
    body = _body()
    return float(ours / (body.thigh["r"] + body.shank["r"]))


def _com_offset(root_orient: np.ndarray, body_pose: np.ndarray, pelvis: np.ndarray,
                rate: float) -> np.ndarray:
    """Horizontal offset (T, 2) of the whole-body COM from the pelvis, in template metres, as
    the skeleton has it once retargeted (its segment masses and geometry decide the COM)."""
    from skeleton_steering.data.feasibility import com_positions
    from skeleton_steering.data.retarget import RetargetConfig, retarget_clip

    clip = AmassClip("sample", root_orient, body_pose, pelvis - smpl_template.PELVIS_REST, rate,
                     "neutral", np.zeros(16), "SMPL-H")
    result = retarget_clip(clip, RetargetConfig(frequency=rate))
    scale = float(result.qa["scale"])
    com = com_positions(skel.load_mj_model(), result.qpos)
    return (com[:, :2] - result.qpos[:, :2]) / scale


def _pose(plan: _Plan, pelvis_xy: np.ndarray, feet: dict[str, tuple[np.ndarray, Rotation]],
          upper: dict[str, Rotation]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """root_orient, body_pose and the pelvis joint's world path (T, 3) for a pelvis path."""
    body = _body()
    height = _pelvis_height(plan, pelvis_xy, feet)
    hips = _hips(plan, pelvis_xy, height)
    pelvis_smpl = _smpl_pelvis(plan)
    world: dict[int, Rotation] = {0: pelvis_smpl}
    for k, w in zip(("spine1", "spine2", "spine3"), _spine_split(pelvis_smpl, upper["torso"]),
                    strict=True):
        world[J[k]] = w
    # The neck takes half of the head's rotation against the trunk.
    half = 0.5 * (world[J["spine3"]].inv() * upper["head"]).as_rotvec()
    world[J["neck"]] = world[J["spine3"]] * Rotation.from_rotvec(half)
    world[J["head"]] = upper["head"]
    for side, _ in SIDES:
        ankle, foot = feet[side]
        thigh, shank = _leg(hips[side], ankle, foot, body.thigh[side], body.shank[side])
        for joint, anat in (("hip", thigh), ("knee", shank), ("ankle", foot),
                            ("shoulder", upper[f"humerus_{side}"]),
                            ("elbow", upper[f"forearm_{side}"]),
                            ("wrist", upper[f"hand_{side}"])):
            j = J[f"{side}_{joint}"]
            world[j] = anat * body.neutral[j].inv()
        world[J[f"{side}_collar"]] = world[J["spine3"]]
    root_orient, body_pose = _smpl_pose(world)
    pelvis = np.concatenate([pelvis_xy, (height + plan.pelvis_dz)[:, None]], -1)
    return root_orient, body_pose, pelvis


def generate_motion(
    spec: MotionSpec, rate: float = 100.0, size: float = 1.0, seed: int = 0,
    m: mujoco.MjModel | None = None,
) -> GeneratedClip:
    """One clip of `spec` at `rate` Hz for a subject of `size`, deterministic given `seed`.

    The speed is the skeleton's: the template body walks at `spec.speed` divided by the ratio
    of our leg length to the template's, so the retargeted clip walks at `spec.speed`. (`m` is
    accepted for callers that pass the model along; the generator does not need it.)
    """
    del m
    rng = np.random.default_rng(seed)
    speed = spec.speed / skeleton_to_template_length()
    plan = _plan(spec, rate, speed, rng)
    feet = {side: _foot_motion(plan, side, sign) for side, sign in SIDES}
    upper = _upper_body(plan, spec.speed)
    # The planned path is meant for the centre of mass: the swinging limbs pull the COM back
    # and forth against the pelvis (as the skeleton's segment masses have it once
    # retargeted), so the pelvis takes part of the opposite, more of the quick part that
    # makes ground forces than of the step-frequency part that makes its speed vary (a few
    # fixed-point steps; the legs follow the pelvis through the IK).
    slow_share, fast_share = (float(np.clip(a + b * spec.speed, 0.0, 1.0))
                              for a, b in (COM_SLOW_SHARE, COM_FAST_SHARE))
    pelvis_xy = plan.pelvis_xy
    for _ in range(COM_ITERATIONS):
        root_orient, body_pose, pelvis = _pose(plan, pelvis_xy, feet, upper)
        offset = _com_offset(root_orient, body_pose, pelvis, rate)
        offset -= np.mean(offset, axis=0)
        slow = lowpass(offset, rate, COM_SPLIT * plan.stride_frequency)
        pelvis_xy = plan.pelvis_xy - slow_share * slow - fast_share * (offset - slow)
    root_orient, body_pose, pelvis = _pose(plan, pelvis_xy, feet, upper)
    # The floor is at z = 0; a bigger subject is the same motion scaled up.
    trans = size * pelvis - smpl_template.PELVIS_REST
    achieved = _stride_speed(pelvis_xy, rate, plan.stride_frequency)
    return GeneratedClip(root_orient, body_pose, trans, rate,
                         achieved * skeleton_to_template_length(), size)


def _stride_speed(path: np.ndarray, rate: float, freq: float) -> float:
    """Mean speed over whole strides (insensitive to the sway inside a stride)."""
    lag = max(1, round(rate / freq))
    if path.shape[0] <= lag:
        return float(np.linalg.norm(path[-1] - path[0]) * rate / max(path.shape[0] - 1, 1))
    return float(np.mean(np.linalg.norm(path[lag:] - path[:-lag], axis=1)) * rate / lag)


def write_sample_kit(
    out: str | Path, seed: int = 0, rate: float = 100.0, console: Console | None = None,
) -> dict[str, Any]:
    """Write the sample clips under `out/KIT/<subject>/` and `out/sample_kit.json`.

    Returns the summary written to `sample_kit.json` (one entry per clip with its target and
    achieved speed). Deterministic given `seed` and `rate`.
    """
    out = Path(out)
    jobs = [(s, spec) for s in SUBJECTS for spec in MOTIONS]
    clips = []
    for k, (subject, spec) in enumerate(track(jobs, "sample clips", console=console)):
        clip = generate_motion(spec, rate, subject.size, seed * 1000 + k)
        rel = Path("KIT") / subject.name / f"{spec.motion}_poses.npz"
        write_clip(out / rel, clip.root_orient, clip.body_pose, clip.trans, rate,
                   subject.gender, _betas(subject))
        clips.append({"path": rel.as_posix(), "subject": subject.name, "motion": spec.motion,
                      "target_speed_m_s": spec.speed, "speed_m_s": round(clip.speed, 4),
                      "turn_deg": spec.turn_deg, "frames": int(clip.trans.shape[0]),
                      "rate": rate, "subject_size": subject.size})
    for subject in SUBJECTS:
        betas = _betas(subject)
        atomic_write(out / "KIT" / subject.name / "shape.npz",
                     lambda fh, b=betas, g=subject.gender: np.savez(fh, betas=b,
                                                                    gender=np.array(g)))
    summary = {"synthetic": True, "seed": seed, "rate": rate, "generator": __name__,
               "clips": clips}
    atomic_write_text(out / "sample_kit.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _betas(subject: Subject) -> np.ndarray:
    betas = np.zeros(16)
    betas[0] = 10.0 * (subject.size - 1.0)  # first shape component ~ stature
    return betas
