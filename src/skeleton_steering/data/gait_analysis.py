"""Strides of recorded walking: cadence, footprints, clearance and joint angles over the cycle.

One analysis serves both sides of a gait comparison, the demonstrations (`gait_stats`) and an
evaluated policy (`evaluate.gait_fidelity`), so both are measured alike. Input is one
continuous stretch of skeleton states (qpos (T, nq) at `rate` Hz; no reset inside it).

Foot contact is the one the data stage's feasibility check uses (`feasibility.foot_contacts`:
the sole's lowest corner within 3 cm of the floor and the foot slower than 0.5 m/s). A stride
of a foot runs from one of its touchdowns to its next; it is kept when it lasts
`MIN_STRIDE_S`..`MAX_STRIDE_S`, the pelvis covers it at `MIN_STRIDE_SPEED` or more, and the
pelvis heading turns less than `MAX_STRIDE_TURN_DEG` over it (straight walking: turns and
shuffles on the spot are not gait to compare). Per kept stride:

  cadence            120 / stride duration (steps per minute: two steps per stride)
  speed              pelvis horizontal displacement / duration (m/s)
  step length        half the distance between the foot's two footprints (m)
  step width         distance of the other foot's footprint inside the stride from the line
                     through the foot's two footprints (m)
  knee swing peak    largest knee flexion (deg) while the foot is off the floor
  double support     share of the stride's frames with both feet down
  clearance          highest point the foot's sole reaches while off the floor (m)
  arm swing          peak-to-peak shoulder flexion (deg) of the same side
  cycle curves       hip flexion, knee flexion, ankle dorsiflexion (deg) of the foot's side,
                     resampled to `CYCLE_POINTS` points from touchdown to touchdown

Footprints are the foot box's centre at touchdown.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from skeleton_steering.data import feasibility
from skeleton_steering.skeleton import kinematics, spatial
from skeleton_steering.skeleton import model as skel

CYCLE_POINTS = 51  # 0, 2, ..., 100 % of the cycle
SIDES = ("r", "l")  # the feet's order in `feasibility.foot_contacts`
# (joint, sign that makes flexion / dorsiflexion positive): our knee flexes negative.
CURVES: tuple[tuple[str, str, float], ...] = (
    ("hip_flexion", "hip flexion", 1.0),
    ("knee_angle", "knee flexion", -1.0),
    ("ankle_angle", "ankle dorsiflexion", 1.0),
)
KNEE_CURVE = 1  # index of knee flexion in CURVES
MIN_STRIDE_S = 0.5
MAX_STRIDE_S = 2.0
MIN_STRIDE_SPEED = 0.3  # m/s: slower is standing or shuffling, not a walking stride
MAX_STRIDE_TURN_DEG = 15.0
STRIDE_FIELDS = ("cadence", "speed", "step_length", "step_width", "knee_swing_peak_deg",
                 "double_support", "clearance_m", "arm_swing_deg")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Strides:
    """Kept strides of one or more stretches: scalars per stride, curves (S, 3, CYCLE_POINTS)."""

    values: dict[str, np.ndarray]  # STRIDE_FIELDS -> (S,)
    curves: np.ndarray
    spans: np.ndarray  # (S, 3) int: stretch, first frame, touchdown frame ending the stride

    @property
    def count(self) -> int:
        return int(self.curves.shape[0])

    @staticmethod
    def empty() -> Strides:
        return Strides({k: np.zeros(0) for k in STRIDE_FIELDS},
                       np.zeros((0, len(CURVES), CYCLE_POINTS)), np.zeros((0, 3), np.int64))

    @staticmethod
    def join(parts: list[Strides]) -> Strides:
        """The strides of several stretches; part i's spans get stretch index i."""
        if not parts:
            return Strides.empty()
        spans = [np.column_stack([np.full(len(p.spans), i), p.spans[:, 1:]])
                 for i, p in enumerate(parts)]
        return Strides(
            {k: np.concatenate([p.values[k] for p in parts]) for k in STRIDE_FIELDS},
            np.concatenate([p.curves for p in parts]),
            np.concatenate(spans).astype(np.int64),
        )

    def frames(self, stretch: int, length: int, keep: np.ndarray | None = None) -> np.ndarray:
        """(length,) bool: frames of `stretch` inside a stride (of those `keep` selects)."""
        mask = np.zeros(length, dtype=bool)
        for i, (s, a, b) in enumerate(self.spans):
            if s == stretch and (keep is None or keep[i]):
                mask[a:b] = True
        return mask


def _curve_columns(side: str) -> np.ndarray:
    index = skel.default_index()
    return np.array([index.joint_qpos[f"{joint}_{side}"] for joint, _, _ in CURVES])


def _resample_cycle(values: np.ndarray) -> np.ndarray:
    """(n, k) samples from touchdown to the next touchdown (inclusive) -> (k, CYCLE_POINTS)."""
    src = np.linspace(0.0, 1.0, values.shape[0])
    dst = np.linspace(0.0, 1.0, CYCLE_POINTS)
    return np.stack([np.interp(dst, src, values[:, j]) for j in range(values.shape[1])])


def _step_width(first: np.ndarray, second: np.ndarray, other: np.ndarray) -> float:
    """Distance of footprint `other` from the line through `first` and `second` (2-D)."""
    along = second - first
    norm = np.linalg.norm(along)
    if norm < 1e-6:
        return float("nan")
    rel = other - first
    return float(abs(along[0] * rel[1] - along[1] * rel[0]) / norm)


def analyze(qpos: np.ndarray, rate: float, m: mujoco.MjModel | None = None) -> Strides:
    """The kept strides of one continuous stretch `qpos` (T, nq) sampled at `rate` Hz."""
    m = m or skel.load_mj_model()
    qpos = np.asarray(qpos, np.float64)
    frames = qpos.shape[0]
    if frames < 3:
        return Strides.empty()
    contacts = feasibility.foot_contacts(m, qpos, rate)
    fk = kinematics.forward_kinematics(m, qpos, fields=("geom_xpos", "geom_xmat"))
    feet = fk["geom_xpos"][:, kinematics.foot_geom_ids(m)]  # (T, 2, 3) box centres
    sole = kinematics.foot_corners(m, fk["geom_xpos"], fk["geom_xmat"])[..., 2].min(axis=2)
    heading = np.unwrap(np.asarray(spatial.heading_of(qpos[:, 3:7]), np.float64))
    index = skel.default_index()
    both_down = contacts.all(axis=1)
    values: dict[str, list[float]] = {k: [] for k in STRIDE_FIELDS}
    curves, spans = [], []
    downs = [feasibility.touchdowns(contacts[:, f]) for f in range(2)]
    for f, side in enumerate(SIDES):
        other = downs[1 - f]
        arm = index.joint_qpos[f"arm_flex_{side}"]
        knee = index.joint_qpos[f"knee_angle_{side}"]
        columns = _curve_columns(side)
        signs = np.array([sign for _, _, sign in CURVES])
        for a, b in zip(downs[f][:-1], downs[f][1:], strict=True):
            duration = (b - a) / rate
            speed = np.linalg.norm(qpos[b, :2] - qpos[a, :2]) / duration
            turn = np.degrees(abs(heading[b] - heading[a]))
            if not (MIN_STRIDE_S <= duration <= MAX_STRIDE_S and speed >= MIN_STRIDE_SPEED
                    and turn < MAX_STRIDE_TURN_DEG):
                continue
            inside = other[(other > a) & (other < b)]
            swing = ~contacts[a:b, f]
            if inside.size == 0 or not swing.any():
                continue  # no step of the other foot, or never off the floor: no gait cycle
            values["cadence"].append(120.0 / duration)
            values["speed"].append(float(speed))
            values["step_length"].append(
                0.5 * float(np.linalg.norm(feet[b, f, :2] - feet[a, f, :2])))
            values["step_width"].append(
                _step_width(feet[a, f, :2], feet[b, f, :2], feet[inside[0], 1 - f, :2]))
            flexion = -qpos[a:b, knee][swing]
            values["knee_swing_peak_deg"].append(float(np.degrees(flexion.max())))
            values["double_support"].append(float(both_down[a:b].mean()))
            values["clearance_m"].append(float(sole[a:b, f][swing].max()))
            values["arm_swing_deg"].append(float(np.degrees(np.ptp(qpos[a:b + 1, arm]))))
            curves.append(np.degrees(_resample_cycle(qpos[a:b + 1, columns] * signs)))
            spans.append((0, a, b))
    return Strides(
        {k: np.asarray(v, np.float64) for k, v in values.items()},
        np.asarray(curves, np.float64).reshape(-1, len(CURVES), CYCLE_POINTS),
        np.asarray(spans, np.int64).reshape(-1, 3),
    )
