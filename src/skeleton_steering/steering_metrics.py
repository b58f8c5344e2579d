"""Steering metrics from per-step records of a rollout (ProtoMotions' success criterion).

A step *fails* when the planar speed misses the target by more than 0.5 m/s, or when the
character moves (speed above `moving_threshold`) in a direction whose cosine with the target
direction is below 0.7. Steps inside the settling window after a command change or a reset
are not judged: the policy needs time to turn and speed up. Numbers compare across seeds and
with ProtoMotions' steering results because the thresholds are the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np

SPEED_TOLERANCE = 0.5
COS_TOLERANCE = 0.7


@dataclasses.dataclass(frozen=True)
class SteeringRecord:
    """Per-step arrays of one rollout of one environment, all of length T."""

    velocity: np.ndarray  # (T, 2) planar root velocity, world frame, m/s
    target_yaw: np.ndarray  # (T,) commanded direction, radians
    target_speed: np.ndarray  # (T,) commanded speed, m/s
    fell: np.ndarray  # (T,) bool: the episode ended in a fall at this step
    since_change: np.ndarray  # (T,) seconds since the last command change or reset
    dt: float  # control period, s


def good_steps(record: SteeringRecord, moving_threshold: float = 0.1) -> np.ndarray:
    """Boolean (T,): the step meets both the speed and the direction criterion."""
    speed = np.linalg.norm(record.velocity, axis=-1)
    target_dir = np.stack([np.cos(record.target_yaw), np.sin(record.target_yaw)], axis=-1)
    cos = np.sum(record.velocity * target_dir, axis=-1) / np.maximum(speed, 1e-8)
    speed_ok = np.abs(speed - record.target_speed) <= SPEED_TOLERANCE
    direction_ok = (speed <= moving_threshold) | (cos >= COS_TOLERANCE)
    return speed_ok & direction_ok & ~record.fell


def summarize(
    record: SteeringRecord, settle_seconds: float = 1.0, moving_threshold: float = 0.1
) -> dict[str, float]:
    """Success share, heading and speed errors, falls per minute and distance walked."""
    good = good_steps(record, moving_threshold)
    judged = record.since_change >= settle_seconds
    speed = np.linalg.norm(record.velocity, axis=-1)
    moving = judged & (speed > moving_threshold)
    heading = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    heading_err = np.abs((heading - record.target_yaw + np.pi) % (2 * np.pi) - np.pi)
    minutes = len(speed) * record.dt / 60.0
    return {
        "success_rate": float(good[judged].mean()) if judged.any() else float("nan"),
        "judged_steps": int(judged.sum()),
        "heading_error_deg": float(np.degrees(heading_err[moving]).mean())
        if moving.any()
        else float("nan"),
        "speed_error_mps": float(np.abs(speed - record.target_speed)[judged].mean())
        if judged.any()
        else float("nan"),
        "falls_per_minute": float(record.fell.sum() / minutes) if minutes > 0 else float("nan"),
        "distance_m": float(speed.sum() * record.dt),
    }
