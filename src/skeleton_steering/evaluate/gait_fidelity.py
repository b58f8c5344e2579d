"""Gait fidelity: the policy's gait against its demonstrations' at the speed it walks.

Measured on steady walking only: inside each stretch of an episode with one command, the
steps from `GAIT_SETTLE_SECONDS` after the command began (or after the restart that followed a
fall) to the stretch's end. Those stretches are analysed exactly as the demo clips were
(`data.gait_analysis`: straight strides between touchdowns), and every comparison uses the
frames inside kept strides, on both sides:

  speed_mps                 stride distance / stride time: the speed the gait is matched at
  straight_speed_mps        mean planar speed over the whole steady stretches, and
  speed_error_mps           its distance from the commanded speed
  cadence_spm, demo_cadence_spm, cadence_ratio
                            steps per minute; the demos' from their speed-cadence fit at
                            `speed_mps`; ratio policy / demos
  step_length_m, demo_step_length_m, step_length_ratio
                            the demos' = speed / (their cadence / 60)
  knee_swing_peak_deg       peak knee flexion in swing (stride mean), against the demos' at
                            that speed (`knee_swing_peak_gap_deg` = policy - demos)
  joint_p5_gap_deg, joint_p95_gap_deg, mean_percentile_gap_deg
                            |policy - demos| of each hinge joint's 5th / 95th percentile angle
                            and their mean over all joints and both percentiles
  step_width_m, double_support, clearance_m, arm_swing_deg (each with demo_...)
  joint_velocity_rms_ratio  RMS of all hinge joint velocities, policy / demos
  cost_of_transport         mechanical: mean sum_j |torque_j * joint velocity_j| / (m g v)
                            from the actuators' forces (the demos have none to compare)
  frechet                   Frechet distance of the (s, s') discriminator features per feature
                            group, normalized by the demos' mean and sd; `frechet_mean` their
                            mean. The demos' side pools all their straight strides (every
                            speed), so a policy held at one speed keeps a floor above 0.

Nothing here rewards failing: with fewer than `MIN_GAIT_STRIDES` strides (standing, falling,
shuffling) or a fall inside the gait stretches the measurement is invalid and every goal fails;
the numbers that exist are still reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from skeleton_steering.data import gait_analysis
from skeleton_steering.data import gait_stats as gs
from skeleton_steering.data.gait_analysis import CURVES
from skeleton_steering.data.gait_stats import GaitStats
from skeleton_steering.skeleton import model as skel

GAIT_SETTLE_SECONDS = 2.0
MIN_GAIT_STRIDES = 6
GRAVITY = 9.81
MIN_COT_SPEED = 0.1  # m/s: slower, cost per distance means nothing

# The goals for a policy that walks like its demos (value name, test, target).
CADENCE_RATIO_TOLERANCE = 0.10  # |cadence ratio - 1| <=
KNEE_PEAK_TOLERANCE_DEG = 5.0  # |knee swing peak - demos'| <=
PERCENTILE_GAP_GOAL_DEG = 4.0  # mean p5/p95 joint-angle gap <=
SPEED_ERROR_GOAL_MPS = 0.15  # |straight-line speed - command| <=
GOALS: tuple[tuple[str, str, float], ...] = (
    ("cadence", f"cadence within {CADENCE_RATIO_TOLERANCE:.0%} of the demos' at its speed",
     CADENCE_RATIO_TOLERANCE),
    ("knee_swing_peak", f"knee swing peak within {KNEE_PEAK_TOLERANCE_DEG:g} deg",
     KNEE_PEAK_TOLERANCE_DEG),
    ("percentile_gap", f"mean p5/p95 joint-angle gap <= {PERCENTILE_GAP_GOAL_DEG:g} deg",
     PERCENTILE_GAP_GOAL_DEG),
    ("speed", f"straight-line speed within {SPEED_ERROR_GOAL_MPS:g} m/s of the command",
     SPEED_ERROR_GOAL_MPS),
)


@dataclasses.dataclass(frozen=True)
class Stretch:
    """Steady walking under one command: poses and velocities (T, ...) at the control rate."""

    qpos: np.ndarray
    qvel: np.ndarray
    command_speed: float
    power: np.ndarray | None = None  # (T,) W; None where no actuators ran (demo clips)
    fell: bool = False  # the stretch ends in a fall


def steady_stretches(qpos: np.ndarray, qvel: np.ndarray, power: np.ndarray,
                     target_speed: np.ndarray, since_change: np.ndarray, fell: np.ndarray,
                     dt: float, settle: float = GAIT_SETTLE_SECONDS) -> list[Stretch]:
    """The steady stretches of one episode's rollout arrays (T, ...)."""
    steps = len(since_change)
    # A new stretch begins where the clock restarts (a command change or the restart after a
    # fall); the steps before `settle` of each are dropped.
    starts = np.flatnonzero(np.diff(since_change, prepend=np.inf) < 0)
    starts = np.union1d(starts, [0])
    ends = np.append(starts[1:], steps)
    out = []
    for a, b in zip(starts, ends, strict=True):
        first = a + int(np.ceil(settle / dt - 1e-9))
        if b - first < 2:
            continue
        out.append(Stretch(qpos[first:b], qvel[first:b], float(np.mean(target_speed[first:b])),
                           power[first:b], bool(np.asarray(fell[first:b]).any())))
    return out


@dataclasses.dataclass(frozen=True)
class Measured:
    """The gait of a set of stretches, before comparison."""

    strides: gait_analysis.Strides
    steady_seconds: float
    straight_speed: float  # over whole stretches
    command_speed: float
    angles_deg: np.ndarray  # (N, J) stride frames
    velocities: np.ndarray  # (N, J)
    pairs: np.ndarray  # (M, 2F) feature pairs inside strides
    power: np.ndarray | None  # (N,) W, stride frames
    falls: int


def measure(stretches: Sequence[Stretch], rate: float) -> Measured:
    m = skel.load_mj_model()
    parts = [gait_analysis.analyze(s.qpos, rate, m) for s in stretches]
    strides = gait_analysis.Strides.join(parts)
    angles, velocities, kept, power = [], [], [], []
    distance = duration = command = 0.0
    for i, s in enumerate(stretches):
        mask = strides.frames(i, s.qpos.shape[0])
        angles.append(gs.hinge_angles_deg(s.qpos[mask]))
        velocities.append(gs.hinge_velocities(s.qvel[mask]))
        kept.append((s.qpos, s.qvel, mask))
        if s.power is not None:
            power.append(np.asarray(s.power)[mask])
        seconds = (s.qpos.shape[0] - 1) / rate
        distance += float(np.linalg.norm(np.diff(s.qpos[:, :2], axis=0), axis=1).sum())
        duration += seconds
        command += s.command_speed * seconds
    joints = len(skel.HINGE_JOINTS)
    return Measured(
        strides=strides,
        steady_seconds=duration,
        straight_speed=distance / duration if duration > 0 else float("nan"),
        command_speed=command / duration if duration > 0 else float("nan"),
        angles_deg=np.concatenate(angles) if angles else np.zeros((0, joints)),
        velocities=np.concatenate(velocities) if velocities else np.zeros((0, joints)),
        pairs=gs.frame_pairs(kept, m),
        power=np.concatenate(power) if len(power) == len(stretches) and power else None,
        falls=sum(s.fell for s in stretches),
    )


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and np.isfinite(a) else float("nan")


def _nan_if_empty(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _goal_results(out: dict[str, Any], valid: bool) -> dict[str, Any]:
    checks = {
        "cadence": abs(out["cadence_ratio"] - 1.0),
        "knee_swing_peak": abs(out["knee_swing_peak_gap_deg"]),
        "percentile_gap": out["mean_percentile_gap_deg"],
        "speed": out["speed_error_mps"],
    }
    goals = {}
    for name, text, limit in GOALS:
        value = float(checks[name])
        goals[name] = {"goal": text, "value": value, "limit": limit,
                       "pass": bool(valid and np.isfinite(value) and value <= limit)}
    return goals


def compare(measured: Measured, stats: GaitStats, total_mass: float) -> dict[str, Any]:
    """The gait fidelity summary of `measured` against the demos' `stats` (see the module)."""
    st = measured.strides
    n = st.count
    seconds = float(np.sum(120.0 / st.values["cadence"])) if n else 0.0
    stride_distance = float(np.sum(st.values["speed"] * 120.0 / st.values["cadence"])) if n else 0.0
    speed = stride_distance / seconds if seconds > 0 else float("nan")
    cadence = 120.0 * n / seconds if seconds > 0 else float("nan")
    demo_cadence = stats.cadence_at(speed) if np.isfinite(speed) else float("nan")
    demo = stats.at_speed(speed if np.isfinite(speed) else measured.straight_speed)
    demo_step = 60.0 * speed / demo_cadence if demo_cadence > 0 else float("nan")
    have_frames = measured.angles_deg.shape[0] > 0
    p5 = np.percentile(measured.angles_deg, 5, axis=0) if have_frames else None
    p95 = np.percentile(measured.angles_deg, 95, axis=0) if have_frames else None
    gaps5 = np.abs(p5 - demo.joint_p5) if have_frames else None
    gaps95 = np.abs(p95 - demo.joint_p95) if have_frames else None
    vel_rms = float(np.sqrt(np.mean(measured.velocities**2))) if have_frames else float("nan")
    demo_vel_rms = float(np.sqrt(np.mean(demo.joint_vel_rms**2)))
    cot = float("nan")
    if measured.power is not None and measured.power.size and speed > MIN_COT_SPEED:
        cot = float(np.mean(measured.power)) / (total_mass * GRAVITY * speed)
    frechet = stats.frechet_to(measured.pairs) if measured.pairs.shape[0] > 1 else {}
    reasons = []
    if n < MIN_GAIT_STRIDES:
        reasons.append(f"{n} straight walking strides, fewer than {MIN_GAIT_STRIDES}")
    if measured.falls:
        reasons.append(f"{measured.falls} fall(s) inside the steady stretches")
    out: dict[str, Any] = {
        "available": True,
        "valid": not reasons,
        "invalid_reason": "; ".join(reasons) or None,
        "steady_seconds": measured.steady_seconds,
        "strides": n,
        "speed_mps": speed,
        "straight_speed_mps": measured.straight_speed,
        "command_speed_mps": measured.command_speed,
        "speed_error_mps": abs(measured.straight_speed - measured.command_speed),
        "cadence_spm": cadence,
        "demo_cadence_spm": demo_cadence,
        "cadence_ratio": _ratio(cadence, demo_cadence),
        "step_length_m": _nan_if_empty(st.values["step_length"]),
        "demo_step_length_m": demo_step,
        "step_length_ratio": _ratio(_nan_if_empty(st.values["step_length"]), demo_step),
        "knee_swing_peak_deg": _nan_if_empty(st.values["knee_swing_peak_deg"]),
        "demo_knee_swing_peak_deg": demo.values["knee_swing_peak_deg"],
        "knee_swing_peak_gap_deg": (_nan_if_empty(st.values["knee_swing_peak_deg"])
                                    - demo.values["knee_swing_peak_deg"]),
        "mean_percentile_gap_deg": (float(np.mean(np.concatenate([gaps5, gaps95])))
                                    if have_frames else float("nan")),
        "max_percentile_gap_deg": (float(np.max(np.concatenate([gaps5, gaps95])))
                                   if have_frames else float("nan")),
    }
    for field, stride_key in (("step_width_m", "step_width"), ("double_support", "double_support"),
                              ("clearance_m", "clearance_m"), ("arm_swing_deg", "arm_swing_deg")):
        out[field] = _nan_if_empty(st.values[stride_key])
        out[f"demo_{field}"] = demo.values[stride_key]
    out.update({
        "joint_velocity_rms": vel_rms,
        "demo_joint_velocity_rms": demo_vel_rms,
        "joint_velocity_rms_ratio": _ratio(vel_rms, demo_vel_rms),
        "cost_of_transport": cot,
        "frechet": frechet,
        "frechet_mean": float(np.mean(list(frechet.values()))) if frechet else float("nan"),
        "joint_p5_gap_deg": ({j: float(g) for j, g in zip(stats.joints, gaps5, strict=True)}
                             if have_frames else {}),
        "joint_p95_gap_deg": ({j: float(g) for j, g in zip(stats.joints, gaps95, strict=True)}
                              if have_frames else {}),
        "demo": {"strides": stats.strides, "speed_range_mps": list(stats.speed_range),
                 "cadence_fit": {"a": float(stats.cadence_fit[0]),
                                 "b": float(stats.cadence_fit[1])},
                 "matched_speed_mps": demo.speed, "extrapolated": demo.extrapolated},
        "cycle": {
            "curves": [label for _, label, _ in CURVES],
            "policy_mean": st.curves.mean(axis=0).tolist() if n else None,
            "policy_sd": st.curves.std(axis=0).tolist() if n else None,
            "demo_mean": demo.curve_mean.tolist(),
            "demo_sd": demo.curve_sd.tolist(),
        },
    })  # fmt: skip
    out["goals"] = _goal_results(out, out["valid"])
    return out


def unavailable(reason: str) -> dict[str, Any]:
    """The gait section of an evaluation that has no demo statistics to compare with."""
    return {"available": False, "reason": reason,
            "goals": {name: {"goal": text, "value": None, "limit": limit, "pass": False}
                      for name, text, limit in GOALS}}


def total_mass() -> float:
    return float(skel.load_mj_model().body_mass.sum())


def steady_mask(since_change: np.ndarray, dt: float,
                settle: float = GAIT_SETTLE_SECONDS) -> np.ndarray:
    """(T,) bool: the steps of one episode's rollout that belong to a steady stretch."""
    return np.asarray(since_change) >= np.ceil(settle / dt - 1e-9) * dt - 1e-9


def of_rollout(
    qpos: np.ndarray,
    qvel: np.ndarray,
    power: np.ndarray,
    records: Sequence[Any],
    stats: GaitStats,
    settle: float = GAIT_SETTLE_SECONDS,
) -> dict[str, Any]:
    """Gait fidelity of an evaluation: (E, T, ...) rollout arrays and one `SteeringRecord`
    per parallel episode (its `since_change`, `target_speed`, `fell` and `dt`)."""
    stretches = []
    for e, rec in enumerate(records):
        stretches += steady_stretches(qpos[e], qvel[e], power[e], rec.target_speed,
                                      rec.since_change, rec.fell, rec.dt, settle)
    rate = 1.0 / records[0].dt
    out = compare(measure(stretches, rate), stats, total_mass())
    return {"settle_seconds": settle, **out}
