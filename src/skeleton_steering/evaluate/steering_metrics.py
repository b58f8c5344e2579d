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

Turns are timed on their own (`turn_times`): the heading error of the judged steps mixes how
straight the character walks with how long it takes to come round, and the second dominates
it on a schedule of sharp turns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

SPEED_TOLERANCE = 0.5
COS_TOLERANCE = 0.7
# A command change of at least this heading change is a turn (well below the scripted
# schedule's 45, 90 and 135 deg, so rounding never decides); it is done once the direction
# of travel first comes within TURN_REACHED_DEG of the new heading (the heading-error goal).
TURN_MIN_CHANGE_DEG = 30.0
TURN_REACHED_DEG = 20.0


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


def _angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| wrapped to [0, pi]."""
    return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


def turn_times(
    record: SteeringRecord, lost: np.ndarray, moving_threshold: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds each turn of the record took, and whether it was finished: a pair of (N,) arrays.

    A turn is a command change (not the restart after a fall) whose heading differs from the
    previous command's by at least TURN_MIN_CHANGE_DEG. It is finished at the first upright
    step walking within TURN_REACHED_DEG of the new heading at a speed that passes the
    good-step criterion (within SPEED_TOLERANCE of the target, and above `moving_threshold`):
    the direction of a character swaying on the spot points anywhere, so standing still
    never finishes a turn. An unfinished turn counts the whole time to the next command change
    (or the end), and steps lost to a fall (`lost`) never finish one, so falling or stopping
    never makes a turn look quicker.
    """
    n = len(record.fell)
    if n == 0:
        return np.zeros(0), np.zeros(0, bool)
    restart = np.zeros(n, bool)
    restart[1:] = np.asarray(record.fell, bool)[:-1]
    new_command = (np.asarray(record.since_change) == 0.0) & ~restart
    new_command[0] = False
    starts = np.flatnonzero(new_command)
    change = _angle_error(record.target_yaw[starts], record.target_yaw[starts - 1])
    turns = starts[change >= np.radians(TURN_MIN_CHANGE_DEG)]
    ends = np.searchsorted(starts, turns, side="right")
    ends = np.append(starts, n)[ends]
    speed = np.linalg.norm(record.velocity, axis=-1)
    direction = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    reached = (
        good_steps(record, moving_threshold)
        & ~np.asarray(lost, bool)
        & (speed > moving_threshold)
        & (_angle_error(direction, record.target_yaw) <= np.radians(TURN_REACHED_DEG))
    )
    times, done = np.zeros(len(turns)), np.zeros(len(turns), bool)
    for i, (t0, t1) in enumerate(zip(turns, ends, strict=True)):
        hit = np.flatnonzero(reached[t0:t1])
        done[i] = len(hit) > 0
        times[i] = (hit[0] if done[i] else t1 - t0) * record.dt
    return times, done


def summarize(
    record: SteeringRecord,
    settle_seconds: float = 1.0,
    moving_threshold: float = 0.1,
    lost: np.ndarray | None = None,
    turns: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Success share (fall-aware), upright share, heading and speed errors, turn times, falls
    per minute, distance walked, and the mean style reward when the record has one.

    `turns`: `turn_times` of the record, when already known (pooled rollouts pass their own,
    so that the end of one rollout and the start of the next never make a turn).
    """
    if lost is None:
        lost = lost_to_falls(record.fell, record.dt, settle_seconds)
    if turns is None:
        turns = turn_times(record, lost, moving_threshold)
    turn_seconds, turn_done = turns
    judged, good = judged_and_good(record, settle_seconds, moving_threshold, lost)
    upright = judged & ~lost
    speed = np.linalg.norm(record.velocity, axis=-1)
    # Errors describe how the character walks while up; falls are scored by the shares.
    moving = upright & (speed > moving_threshold)
    heading = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    heading_err = _angle_error(heading, record.target_yaw)
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
        "turns": len(turn_seconds),
        "turn_time_s": float(turn_seconds.mean()) if len(turn_seconds) else float("nan"),
        "turns_finished": float(turn_done.mean()) if len(turn_done) else float("nan"),
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
    losts = [lost_to_falls(r.fell, r.dt, settle_seconds) for r in records]
    turns = [turn_times(r, lo, moving_threshold) for r, lo in zip(records, losts, strict=True)]
    out = summarize(
        pooled, settle_seconds, moving_threshold, np.concatenate(losts),
        (np.concatenate([t[0] for t in turns]), np.concatenate([t[1] for t in turns])),
    )  # fmt: skip
    lengths = np.concatenate([episode_lengths(r.fell) for r in records]) * dt
    out.update(
        distance_m=float(np.mean([distance(r) for r in records])),
        falls=int(pooled.fell.sum()),
        episode_count=len(lengths),
        episode_length_mean_s=float(lengths.mean()),
        episode_length_min_s=float(lengths.min()),
    )
    return out
