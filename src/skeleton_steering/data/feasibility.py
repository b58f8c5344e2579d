"""Physical feasibility of a trajectory: can a body on a floor produce this root motion?

Three numbers per clip, computed from qpos alone (numpy + native MuJoCo kinematics):

* `com_acc_p95_g`: 95th percentile of the whole-body centre of mass's horizontal acceleration,
  in g. The COM only accelerates sideways when the floor pushes it; in real walking the ground
  shear is about 0.2-0.25 body weight.
* `friction_demand_p95`: 95th percentile, over supported frames, of |horizontal COM force| /
  vertical ground reaction = |a_xy| / (g + a_z). The feet slip when this exceeds the floor's
  friction coefficient (1.0 in our model); real walking needs about 0.2-0.3.
* `root_speed_variation`: the largest relative deviation of the pelvis's horizontal speed from
  its mean over a stride, max over strides (real walking: about 0.15). Strides run from one
  touchdown of a foot to its next; without usable touchdowns a window of `gait_period` slides
  over the clip.

Finite differences of 100-150 Hz positions amplify noise by rate^2, so positions are low-pass
filtered first (zero-phase Butterworth, `cutoff_hz` = 6 Hz by default: the usual choice for gait
kinematics, well above the step frequency of about 2 Hz). A frame is "supported" when some
foot is planted (sole within `contact_height` of the floor, moving slower than `contact_speed`)
and the vertical reaction g + a_z is at least a tenth of body weight (in flight the ratio
means nothing).

The public names (`FeasibilityConfig`, `com_positions`, `lowpass`, `com_acceleration`,
`friction_demand`, `foot_contacts`, `touchdowns`, `stride_speed_variation`, `feasibility_qa`)
are used by the sample generator and the retargeting QA; keep them stable.
"""

from __future__ import annotations

import dataclasses
import itertools

import mujoco
import numpy as np
from scipy.signal import butter, filtfilt

from skeleton_steering.skeleton import kinematics
from skeleton_steering.skeleton import model as skel

GRAVITY = 9.81


@dataclasses.dataclass(frozen=True)
class FeasibilityConfig:
    """Settings of the feasibility measures (not thresholds: those live in RetargetConfig)."""

    cutoff_hz: float = 6.0
    # A foot whose lowest sole corner is this close to the floor (m) supports the body.
    contact_height: float = 0.03
    # ... and moves slower than this (m/s, horizontal) is planted.
    contact_speed: float = 0.5
    # Fallback stride length (s) when touchdowns cannot be found.
    gait_period: float = 1.1
    # Strides slower than this (m/s) are standing, not walking: their relative variation is
    # left out.
    min_stride_speed: float = 0.3


def com_positions(m: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Whole-body centre of mass (T, 3), world frame, of every frame of qpos (T, nq)."""
    fk = kinematics.forward_kinematics(m, qpos, fields=("subtree_com",))
    root = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "pelvis")
    return fk["subtree_com"][:, root]


def lowpass(x: np.ndarray, rate: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 4th-order Butterworth low-pass of `x` (T, ...) along time."""
    if cutoff_hz <= 0 or cutoff_hz >= 0.5 * rate:
        return np.array(x, dtype=float)
    b, a = butter(2, cutoff_hz / (0.5 * rate))  # filtfilt doubles the order
    x = np.asarray(x, dtype=float)
    # Pad by a period of the cutoff (scipy's default, 9 samples, leaves edge transients), and
    # filter only what deviates from the line between the end samples: the filter's start-up
    # assumes a constant signal, and on a walking path its transient, differentiated twice,
    # would read as a push of a few hundredths of g.
    pad = min(max(3 * max(len(a), len(b)), round(rate / cutoff_hz)), x.shape[0] - 1)
    if pad < 1:
        return x.copy()
    u = np.linspace(0.0, 1.0, x.shape[0]).reshape(-1, *([1] * (x.ndim - 1)))
    line = x[:1] + u * (x[-1:] - x[:1])
    return line + filtfilt(b, a, x - line, axis=0, padlen=pad)


def com_acceleration(com: np.ndarray, rate: float, cutoff_hz: float = 6.0) -> np.ndarray:
    """Acceleration (T, 3) of the filtered COM path (T, 3) sampled at `rate` Hz."""
    if com.shape[0] < 3:
        return np.zeros_like(com)
    smooth = lowpass(com, rate, cutoff_hz)
    dt = 1.0 / rate
    return np.gradient(np.gradient(smooth, dt, axis=0), dt, axis=0)


def foot_contacts(
    m: mujoco.MjModel, qpos: np.ndarray, rate: float, config: FeasibilityConfig | None = None
) -> np.ndarray:
    """(T, 2) bool: right / left foot planted (sole near the floor and the foot nearly still).

    Height alone is not enough: a swing foot passes a few centimetres above the floor.
    """
    config = config or FeasibilityConfig()
    fk = kinematics.forward_kinematics(m, qpos, fields=("geom_xpos", "geom_xmat"))
    corners = kinematics.foot_corners(m, fk["geom_xpos"], fk["geom_xmat"])
    low = corners[..., 2].min(axis=2) < config.contact_height
    if qpos.shape[0] < 3:
        return low
    centre = lowpass(fk["geom_xpos"][:, kinematics.foot_geom_ids(m), :2], rate, config.cutoff_hz)
    speed = np.linalg.norm(np.gradient(centre, 1.0 / rate, axis=0), axis=-1)
    return low & (speed < config.contact_speed)


def friction_demand(acc: np.ndarray, supported: np.ndarray) -> np.ndarray:
    """|a_xy| / (g + a_z) on the supported frames (1-D array; empty when none)."""
    vertical = GRAVITY + acc[:, 2]
    ok = supported & (vertical > 0.1 * GRAVITY)
    return np.linalg.norm(acc[ok, :2], axis=-1) / vertical[ok]


def touchdowns(contact: np.ndarray) -> np.ndarray:
    """Frame indices where a foot's contact (T,) starts (after at least one frame off)."""
    c = np.asarray(contact, dtype=bool)
    return np.flatnonzero(~c[:-1] & c[1:]) + 1


def _strides(contacts: np.ndarray, rate: float, period: float) -> list[tuple[int, int]]:
    strides: list[tuple[int, int]] = []
    for foot in range(contacts.shape[1]):
        td = touchdowns(contacts[:, foot])
        for a, b in itertools.pairwise(td):
            if 0.4 * period <= (b - a) / rate <= 2.0 * period:
                strides.append((int(a), int(b)))
    return strides


def stride_speed_variation(
    root_xy: np.ndarray,
    rate: float,
    contacts: np.ndarray | None = None,
    config: FeasibilityConfig | None = None,
) -> tuple[float, int]:
    """Largest relative deviation of horizontal root speed from its stride mean, and strides.

    `root_xy` (T, 2) is the pelvis path, `contacts` (T, 2) the feet's contact flags. Returns
    (0.0, 0) when the clip holds no walking stride.
    """
    config = config or FeasibilityConfig()
    if root_xy.shape[0] < 3:
        return 0.0, 0
    smooth = lowpass(root_xy, rate, config.cutoff_hz)
    speed = np.linalg.norm(np.gradient(smooth, 1.0 / rate, axis=0), axis=-1)
    strides = _strides(contacts, rate, config.gait_period) if contacts is not None else []
    if not strides:
        width = round(config.gait_period * rate)
        step = max(1, width // 4)
        strides = [(a, a + width) for a in range(0, len(speed) - width + 1, step)]
    worst, used = 0.0, 0
    for a, b in strides:
        seg = speed[a:b]
        mean = float(seg.mean()) if seg.size else 0.0
        if mean < config.min_stride_speed:
            continue
        used += 1
        worst = max(worst, float(np.abs(seg - mean).max() / mean))
    return worst, used


def feasibility_qa(
    m: mujoco.MjModel | None,
    qpos: np.ndarray,
    rate: float,
    config: FeasibilityConfig | None = None,
) -> dict[str, float]:
    """The three feasibility measures (and what they were computed over) of qpos (T, nq)."""
    config = config or FeasibilityConfig()
    m = m or skel.load_mj_model()
    acc = com_acceleration(com_positions(m, qpos), rate, config.cutoff_hz)
    horizontal_g = np.linalg.norm(acc[:, :2], axis=-1) / GRAVITY
    contacts = foot_contacts(m, qpos, rate, config)
    demand = friction_demand(acc, contacts.any(axis=1))
    variation, strides = stride_speed_variation(qpos[:, :2], rate, contacts, config)
    return {
        "com_acc_p95_g": float(np.percentile(horizontal_g, 95)) if horizontal_g.size else 0.0,
        "friction_demand_p95": float(np.percentile(demand, 95)) if demand.size else 0.0,
        "supported_share": float(contacts.any(axis=1).mean()) if contacts.size else 0.0,
        "root_speed_variation": variation,
        "strides": strides,
    }
