"""Steering metrics from per-step records of a rollout (ProtoMotions' success criterion).

A step *fails* when the planar speed misses the target by more than 0.5 m/s, or when the
character moves (speed above `moving_threshold`) in a direction whose cosine with the target
direction is below 0.7. Steps inside the settling window after a command change are not
judged: the policy needs time to turn and speed up. Numbers compare across seeds and with
ProtoMotions' steering results because the thresholds are the same.

Falling never improves a score: the step that falls and the restart after it (the
`settle_seconds` following a fall, which the new episode needs to get going) are judged, and
failed, whatever the command clock says. Without this, every restart would open a fresh
settling window that hides the fall (a policy falling 75 times a minute scored 71 % good steps
on 7 judged steps). `upright_share` is the share of schedule time not lost to falls that way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

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
    style: np.ndarray | None = None  # (T,) AMP style reward of each step, when scored


def good_steps(record: SteeringRecord, moving_threshold: float = 0.1) -> np.ndarray:
    """Boolean (T,): the step meets both the speed and the direction criterion."""
    speed = np.linalg.norm(record.velocity, axis=-1)
    target_dir = np.stack([np.cos(record.target_yaw), np.sin(record.target_yaw)], axis=-1)
    cos = np.sum(record.velocity * target_dir, axis=-1) / np.maximum(speed, 1e-8)
    speed_ok = np.abs(speed - record.target_speed) <= SPEED_TOLERANCE
    direction_ok = (speed <= moving_threshold) | (cos >= COS_TOLERANCE)
    return speed_ok & direction_ok & ~record.fell


def lost_to_falls(fell: np.ndarray, dt: float, settle_seconds: float) -> np.ndarray:
    """Boolean (T,): the step falls, or lies in the `settle_seconds` restart after a fall."""
    fell = np.asarray(fell, bool)
    steps = np.arange(len(fell))
    last_fall = np.maximum.accumulate(np.where(fell, steps, -1))
    restart_steps = round(settle_seconds / dt)
    return (last_fall >= 0) & (steps - last_fall <= restart_steps)


def judged_and_good(
    record: SteeringRecord,
    settle_seconds: float = 1.0,
    moving_threshold: float = 0.1,
    lost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (T,) pair: which steps are judged, and which of them are good (fall-aware).

    `lost`: `lost_to_falls` of the record, when already known (pooled rollouts pass their
    own, so that a fall at the end of one does not spill into the next).
    """
    if lost is None:
        lost = lost_to_falls(record.fell, record.dt, settle_seconds)
    # Steps after the restart window: the episode clock restarts at a fall in `since_change`,
    # so only the command clock could hold a step back from being judged there.
    judged = (record.since_change >= settle_seconds) | lost
    good = good_steps(record, moving_threshold) & judged & ~lost
    return judged, good


def summarize(
    record: SteeringRecord,
    settle_seconds: float = 1.0,
    moving_threshold: float = 0.1,
    lost: np.ndarray | None = None,
) -> dict[str, float]:
    """Success share (fall-aware), upright share, heading and speed errors, falls per minute,
    distance walked, and the mean style reward when the record has one."""
    if lost is None:
        lost = lost_to_falls(record.fell, record.dt, settle_seconds)
    judged, good = judged_and_good(record, settle_seconds, moving_threshold, lost)
    upright = judged & ~lost
    speed = np.linalg.norm(record.velocity, axis=-1)
    # Errors describe how the character walks while up; falls are scored by the shares.
    moving = upright & (speed > moving_threshold)
    heading = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    heading_err = np.abs((heading - record.target_yaw + np.pi) % (2 * np.pi) - np.pi)
    minutes = len(speed) * record.dt / 60.0
    return {
        "success_rate": float(good[judged].mean()) if judged.any() else float("nan"),
        "judged_steps": int(judged.sum()),
        "lost_steps": int(lost.sum()),
        "upright_share": float(1.0 - lost.mean()) if len(lost) else float("nan"),
        "heading_error_deg": float(np.degrees(heading_err[moving]).mean())
        if moving.any()
        else float("nan"),
        "speed_error_mps": float(np.abs(speed - record.target_speed)[upright].mean())
        if upright.any()
        else float("nan"),
        "falls_per_minute": float(record.fell.sum() / minutes) if minutes > 0 else float("nan"),
        "distance_m": distance(record),
        **({"style_reward": float(np.mean(record.style))} if record.style is not None else {}),
    }


def distance(record: SteeringRecord) -> float:
    """Metres walked: planar speed integrated over the rollout."""
    return float(np.linalg.norm(record.velocity, axis=-1).sum() * record.dt)


def seconds_since_change(changed: np.ndarray, fell: np.ndarray, dt: float) -> np.ndarray:
    """`since_change` of a rollout that restarts after every fall.

    `changed[t]`: the command at step t differs from step t-1's; `fell[t]`: the episode ended
    at step t, so step t+1 starts a new one. Step 0, a changed command and the step after a
    fall all count 0 s; the count grows by `dt` per step after that.
    """
    changed = np.asarray(changed, bool)
    event = changed.copy()
    event[0] = True
    event[1:] |= np.asarray(fell, bool)[:-1]
    steps = np.arange(len(event))
    last_event = np.maximum.accumulate(np.where(event, steps, 0))
    return (steps - last_event) * dt


def episode_lengths(fell: np.ndarray) -> np.ndarray:
    """Steps of each episode of a rollout that restarts after every fall.

    A fall ends its episode (the falling step counts); the end of the rollout ends the last
    one, unless it ended with a fall. E.g. falls at steps 4 and 9 of 12 give [5, 5, 2].
    """
    ends = np.flatnonzero(np.asarray(fell, bool)) + 1
    bounds = np.concatenate([[0], ends, [len(fell)]])
    lengths = np.diff(bounds)
    return lengths[lengths > 0]


def summarize_rollouts(
    records: Sequence[SteeringRecord], settle_seconds: float = 1.0, moving_threshold: float = 0.1
) -> dict[str, float]:
    """`summarize` over the steps of several rollouts pooled, plus falls and episode lengths.

    Shares, errors and rates pool every step of every rollout (a rollout with more judged steps
    weighs more); `distance_m` is the mean per rollout; episode lengths (s) come from
    `episode_lengths` of each rollout.
    """
    if not records:
        raise ValueError("summarize_rollouts needs at least one rollout")
    dt = records[0].dt
    styles = [r.style for r in records]
    pooled = SteeringRecord(
        velocity=np.concatenate([r.velocity for r in records]),
        target_yaw=np.concatenate([r.target_yaw for r in records]),
        target_speed=np.concatenate([r.target_speed for r in records]),
        fell=np.concatenate([r.fell for r in records]),
        since_change=np.concatenate([r.since_change for r in records]),
        dt=dt,
        style=None if any(s is None for s in styles) else np.concatenate(styles),
    )
    lost = np.concatenate([lost_to_falls(r.fell, r.dt, settle_seconds) for r in records])
    out = summarize(pooled, settle_seconds, moving_threshold, lost)
    lengths = np.concatenate([episode_lengths(r.fell) for r in records]) * dt
    out.update(
        distance_m=float(np.mean([distance(r) for r in records])),
        falls=int(pooled.fell.sum()),
        episode_count=len(lengths),
        episode_length_mean_s=float(lengths.mean()),
        episode_length_min_s=float(lengths.min()),
    )
    return out
