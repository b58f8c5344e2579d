"""The bundled sample clips: synthetic KIT-like walking in AMASS format.

Real KIT data cannot be downloaded on every machine, so `skeleton-steering sample-kit --out
DIR` writes clips the whole pipeline runs on: straight walking at several speeds and turns to
both sides, several seconds each, 100 Hz, laid out like KIT
(`<out>/KIT/<subject>/<motion>_poses.npz`, plus each subject's `shape.npz`). THEY ARE
SYNTHETIC: smooth periodic gait, no noise, no starts or stops. To train on real data, download
KIT from AMASS (https://amass.is.tue.mpg.de, SMPL-H "KIT.tar.bz2"), unpack it, and run
`skeleton-steering extract --kit-root <unpacked dir> --out results/expert_dataset` (or set the
workflow's `data.kit_root`); everything downstream is the same.

How a clip is made (deterministic given the seed):

* Joint-angle curves over the gait cycle are Fourier series fitted (least squares) to group-mean
  normative adult gait kinematics at natural cadence, digitized as keypoints rounded to about a
  degree: sagittal hip, knee and ankle after Winter (Biomechanics and Motor Control of Human
  Movement, 4th ed., 2009) and Perry & Burnfield (Gait Analysis, 2nd ed., 2010); hip
  ab/adduction and pelvic obliquity/rotation after Kadaba et al. (J Orthop Res 8:383, 1990);
  shoulder and elbow swing after Collins et al. (Proc R Soc B 276:3679, 2009). Speed sets the
  stride frequency (0.35 + 0.45 v Hz, close to measured cadence-speed relations) and the
  amplitude of hip, knee and arm motion; the left leg runs half a cycle behind the right.
* Turns yaw the pelvis smoothly by the clip's total turn angle over its middle half.
* The root path is not prescribed: forward kinematics of the skeleton gives the feet's sole
  corners, the root height puts the lowest corner on the floor, and the horizontal path keeps
  the lowest corner of the stance foot still, so the clip walks without skating. The amplitude
  is then calibrated (a few fixed-point steps) until the clip reaches its target speed.
* Each subject has a size factor; the clip's translation is the skeleton's root path scaled
  by it (AMASS subjects differ in size from the skeleton; retargeting scales it back).
* The SMPL-H pose comes from `smpl_mapping.skeleton_to_smpl`, the exact inverse of the
  retargeting map, so a generated clip retargets back to its own joint angles.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from rich.console import Console
from scipy.spatial.transform import Rotation

from skeleton_steering.data.amass import write_clip
from skeleton_steering.data.retarget import SMPL_PELVIS_OFFSET
from skeleton_steering.data.smpl_mapping import skeleton_to_smpl
from skeleton_steering.io_utils import atomic_write, atomic_write_text
from skeleton_steering.progress import track
from skeleton_steering.skeleton import kinematics
from skeleton_steering.skeleton import model as skel

# Normative keypoints: (percent of the gait cycle from right heel strike, degrees).
NORMATIVE: dict[str, tuple[tuple[float, float], ...]] = {
    # Relative to a level pelvis: the normative values relative to the (about 10 degrees
    # anteriorly tilted) anatomical pelvis, minus 10.
    "hip_flexion": ((0, 20), (10, 17), (20, 9), (30, 0), (40, -8), (50, -16), (55, -18),
                    (60, -15), (65, -7), (70, 3), (75, 12), (80, 18), (85, 21), (90, 22),
                    (95, 21)),
    "knee_flexion": ((0, 4), (5, 10), (10, 16), (15, 18), (20, 16), (25, 12), (30, 8),
                     (35, 5), (40, 4), (45, 5), (50, 8), (55, 15), (60, 28), (65, 45),
                     (70, 58), (73, 61), (77, 59), (80, 53), (85, 40), (90, 23), (95, 9)),
    # Swing returns to neutral about 10 percent sooner than normative and dorsiflexes a few
    # degrees more: the rigid foot box has no toes to bend, so the normative swing would
    # scrape the floor with the box's front edge.
    "ankle_dorsiflexion": ((0, 0), (4, -4), (8, -5), (12, -2), (20, 3), (30, 7), (40, 10),
                           (45, 11), (50, 9), (55, 2), (58, -6), (62, -14), (65, -14),
                           (70, -3), (75, 4), (80, 8), (85, 8), (90, 5), (95, 2)),
    "hip_adduction": ((0, 2), (10, 6), (20, 7), (30, 5), (40, 3), (50, 0), (60, -5),
                      (70, -7), (80, -4), (90, -1)),
    "pelvis_obliquity": ((0, 0), (10, 3), (20, 4), (30, 3), (40, 1), (50, 0), (60, -3),
                         (70, -4), (80, -3), (90, -1)),  # right side up +
    "pelvis_rotation": ((0, 4), (12.5, 3), (25, 0), (37.5, -3), (50, -4), (62.5, -3),
                        (75, 0), (87.5, 3)),  # right side forward +
    "pelvis_tilt": ((0, 0), (12.5, 1.5), (25, 0), (37.5, -1.5), (50, 0), (62.5, 1.5),
                    (75, 0), (87.5, -1.5)),  # anterior +
    "shoulder_flexion": ((0, -16), (15, -12), (30, -3), (45, 7), (55, 8), (70, 0),
                         (85, -10)),
    "elbow_flexion": ((0, 15), (25, 22), (50, 32), (75, 22)),
}
HARMONICS = {"knee_flexion": 6, "ankle_dorsiflexion": 6, "hip_flexion": 4}
DEFAULT_HARMONICS = 2


@dataclasses.dataclass(frozen=True)
class Subject:
    name: str
    gender: str
    size: float  # subject size relative to the skeleton (scales the translation)


@dataclasses.dataclass(frozen=True)
class MotionSpec:
    motion: str  # file stem without "_poses"
    speed: float  # target mean speed, m/s
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


@cache
def _fourier(name: str) -> np.ndarray:
    """Coefficients [a0, a1, b1, ..., aH, bH] of the curve `name` (degrees, phase in cycles)."""
    points = np.array(NORMATIVE[name], dtype=float)
    phase = points[:, 0] / 100.0
    basis = _basis(phase, HARMONICS.get(name, DEFAULT_HARMONICS))
    coef, *_ = np.linalg.lstsq(basis, points[:, 1], rcond=None)
    return coef


def _basis(phase: np.ndarray, harmonics: int) -> np.ndarray:
    cols = [np.ones_like(phase)]
    for h in range(1, harmonics + 1):
        cols += [np.cos(2 * np.pi * h * phase), np.sin(2 * np.pi * h * phase)]
    return np.stack(cols, axis=-1)


def curve(name: str, phase: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Fitted normative curve `name` in radians at `phase` (cycles); `gain` scales it about
    its mean."""
    coef = _fourier(name)
    harmonics = (len(coef) - 1) // 2
    values = _basis(np.asarray(phase, dtype=float), harmonics) @ coef
    return np.deg2rad(coef[0] + gain * (values - coef[0]))


def stride_frequency(speed: float) -> float:
    """Strides per second at `speed` m/s."""
    return 0.35 + 0.45 * speed


def _joint_angles(phase: np.ndarray, speed: float, gain: float) -> np.ndarray:
    """Hinge angles (T, 27) for right-leg phase `phase`."""
    idx = {n: i for i, n in enumerate(skel.HINGE_JOINTS)}
    out = np.zeros((phase.size, len(skel.HINGE_JOINTS)))
    knee_gain = max(1.0, 1.0 + 0.5 * (gain - 1.0))  # swing clearance needs the full knee
    arm_gain = float(np.clip(speed / 1.2, 0.4, 1.5))
    for side, ph in (("r", phase), ("l", phase + 0.5)):
        out[:, idx[f"hip_flexion_{side}"]] = curve("hip_flexion", ph, gain)
        out[:, idx[f"hip_adduction_{side}"]] = curve("hip_adduction", ph)
        out[:, idx[f"knee_angle_{side}"]] = -curve("knee_flexion", ph, knee_gain)
        out[:, idx[f"ankle_angle_{side}"]] = curve("ankle_dorsiflexion", ph)
        # Arms swing with the opposite leg: the shoulder curve is phased to its own side.
        out[:, idx[f"arm_flex_{side}"]] = curve("shoulder_flexion", ph, arm_gain)
        out[:, idx[f"arm_add_{side}"]] = -0.1
        out[:, idx[f"elbow_flex_{side}"]] = curve("elbow_flexion", ph, arm_gain)
    # The trunk counter-rotates against the pelvis and leans forward a little with speed.
    out[:, idx["lumbar_rotation"]] = -0.5 * curve("pelvis_rotation", phase)
    out[:, idx["lumbar_bending"]] = 0.5 * curve("pelvis_obliquity", phase)
    out[:, idx["lumbar_extension"]] = -0.02 - 0.03 * speed
    return out


def _heading(times: np.ndarray, duration: float, turn: float) -> np.ndarray:
    u = np.clip((times - 0.25 * duration) / (0.5 * duration), 0.0, 1.0)
    return turn * (3 * u**2 - 2 * u**3)


def stance_window(phase: np.ndarray) -> np.ndarray:
    """(T, 2) bool: whether the right / left foot may carry the body at right-leg `phase`.

    A foot may from shortly before its heel strike to its toe-off (STANCE = (-0.05, 0.65)
GAIN_RANGE = (0.9, 1.35) of
    its own cycle); the windows overlap in double support.
    """
    lo, hi = STANCE
    own = np.stack([np.asarray(phase), np.asarray(phase) + 0.5], axis=-1)
    return ((own - lo) % 1.0) < (hi - lo)


STANCE = (-0.05, 0.65)
GAIN_RANGE = (0.9, 1.35)


def _root_path(
    m: mujoco.MjModel, qpos: np.ndarray, phase: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Root heights that put the lowest sole corner on the floor, and the horizontal path
    that keeps the lowest corner of the stance foot still (in double support the lower of
    the two feet whose stance window is open)."""
    fk = kinematics.forward_kinematics(m, qpos, fields=("geom_xpos", "geom_xmat"))
    corners = kinematics.foot_corners(m, fk["geom_xpos"], fk["geom_xmat"])
    z = corners[..., 2]
    height = -z.min(axis=(1, 2))
    frames = qpos.shape[0]
    t = np.arange(frames - 1)
    foot_z = np.where(stance_window(phase[:-1]), z[:-1].min(axis=2), np.inf)
    foot = foot_z.argmin(axis=1)
    corner = z[t, foot].argmin(axis=1)
    step = corners[t + 1, foot, corner, :2] - corners[t, foot, corner, :2]
    path = np.zeros((frames, 2))
    path[1:] = -np.cumsum(step, axis=0)
    return height, path


def _stride_speed(path: np.ndarray, rate: float, freq: float) -> float:
    """Mean speed over whole strides (insensitive to the sway inside a stride)."""
    lag = max(1, round(rate / freq))
    if path.shape[0] <= lag:
        return float(np.linalg.norm(path[-1] - path[0]) * rate / max(path.shape[0] - 1, 1))
    return float(np.mean(np.linalg.norm(path[lag:] - path[:-lag], axis=1)) * rate / lag)


@dataclasses.dataclass(frozen=True)
class GeneratedClip:
    qpos: np.ndarray  # (T, 34) the skeleton motion the clip was made from (ground truth)
    root_orient: np.ndarray  # (T, 3)
    body_pose: np.ndarray  # (T, 21, 3)
    trans: np.ndarray  # (T, 3)
    rate: float
    speed: float  # achieved mean speed along the path, m/s
    gain: float


def generate_motion(
    spec: MotionSpec, rate: float = 100.0, size: float = 1.0, seed: int = 0,
    m: mujoco.MjModel | None = None,
) -> GeneratedClip:
    """One clip of `spec` at `rate` Hz for a subject of `size`, deterministic given `seed`."""
    m = m or skel.load_mj_model()
    rng = np.random.default_rng(seed)
    frames = round(spec.duration * rate) + 1
    times = np.arange(frames) / rate
    freq = stride_frequency(spec.speed) * rng.uniform(0.97, 1.03)
    phase0 = rng.uniform(0.0, 1.0)
    phase = phase0 + freq * times
    yaw0 = rng.uniform(-np.pi, np.pi)
    start = rng.uniform(-1.0, 1.0, size=2)
    yaw = yaw0 + _heading(times, spec.duration, np.deg2rad(spec.turn_deg))
    # Pelvis: heading + rotation about the vertical, tilt about the lateral axis, obliquity
    # (right side up = negative roll about our forward X).
    root = Rotation.from_euler(
        "ZYX",
        np.stack([yaw + curve("pelvis_rotation", phase), curve("pelvis_tilt", phase),
                  -curve("pelvis_obliquity", phase)], axis=1),
    )
    qpos = np.zeros((frames, m.nq))
    qpos[:, 3:7] = root.as_quat(scalar_first=True)
    # Calibrate: the amplitude gain sets the stride length; below GAIN_RANGE[0] the swing foot
    # would scrape, so slower clips lower the stride frequency instead.
    gain = float(np.clip(spec.speed / 1.2, *GAIN_RANGE))
    for _ in range(5):
        qpos[:, 7:] = _joint_angles(phase, spec.speed, gain)
        height, path = _root_path(m, qpos, phase)
        ratio = spec.speed / max(_stride_speed(path, rate, freq), 1e-3)
        if gain * ratio < GAIN_RANGE[0]:
            gain, freq = GAIN_RANGE[0], freq * ratio
            phase = phase0 + freq * times
        else:
            gain = float(min(gain * ratio, GAIN_RANGE[1]))
    qpos[:, 7:] = _joint_angles(phase, spec.speed, gain)
    height, path = _root_path(m, qpos, phase)
    speed = _stride_speed(path, rate, freq)
    qpos[:, 0:2] = path + start
    qpos[:, 2] = height
    root_orient, body_pose = skeleton_to_smpl(qpos[:, 3:7], qpos[:, 7:])
    trans = size * qpos[:, 0:3] - SMPL_PELVIS_OFFSET
    return GeneratedClip(qpos, root_orient, body_pose, trans, rate, float(speed), gain)


def write_sample_kit(
    out: str | Path, seed: int = 0, rate: float = 100.0, console: Console | None = None,
) -> dict[str, Any]:
    """Write the sample clips under `out/KIT/<subject>/` and `out/sample_kit.json`.

    Returns the summary written to `sample_kit.json` (one entry per clip with its target and
    achieved speed). Deterministic given `seed` and `rate`.
    """
    out = Path(out)
    m = skel.load_mj_model()
    jobs = [(s, spec) for s in SUBJECTS for spec in MOTIONS]
    clips = []
    for k, (subject, spec) in enumerate(track(jobs, "sample clips", console=console)):
        clip = generate_motion(spec, rate, subject.size, seed * 1000 + k, m)
        rel = Path("KIT") / subject.name / f"{spec.motion}_poses.npz"
        write_clip(out / rel, clip.root_orient, clip.body_pose, clip.trans, rate,
                   subject.gender, _betas(subject))
        clips.append({"path": rel.as_posix(), "subject": subject.name, "motion": spec.motion,
                      "target_speed_m_s": spec.speed, "speed_m_s": round(clip.speed, 4),
                      "turn_deg": spec.turn_deg, "frames": int(clip.qpos.shape[0]),
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
