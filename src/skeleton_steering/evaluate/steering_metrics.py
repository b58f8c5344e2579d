"""Steering metrics from per-step records of a rollout: which steps follow the command.

A step is *good* when all three hold (the constants below; `criterion()` names them in every
evaluation's JSON):

  speed      the planar speed is within SPEED_TOLERANCE of the commanded speed;
  direction  the character moves (faster than MOVING_THRESHOLD) in a direction whose cosine
             with the commanded direction is at least COS_TOLERANCE (ProtoMotions' test);
  facing     the pelvis faces the command: the cosine of its heading with the commanded
             direction is at least FACING_COS_TOLERANCE, so walking sideways or backwards
             along the command fails.

Only a (near) zero command (at most ZERO_COMMAND_SPEED) is met by standing: then the speed
test alone decides. Any other command needs the character to walk, so standing still at a
0.5 m/s command fails even though 0 is within the speed tolerance.

Two views of the share of good steps, both in the headline:

  settled    (`success_rate`) steps within SETTLE_SECONDS of a command change are not judged,
             as in ProtoMotions, so the number says how well a command is held once taken up;
  all steps  (`success_rate_all`) every step is judged, turns included.

Falling never improves a score: the step that falls and the restart after it (the
SETTLE_SECONDS following a fall, which the new episode needs to get going) are judged, and
failed, in both views, whatever the command clock says. Without this, every restart would open
a fresh settling window that hides the fall. `upright_share` is the share of schedule time not
lost to falls that way.

Turns are timed on their own (`turn_times`): a turn is finished once the direction of travel
comes within TURN_REACHED_DEG of the new heading on good steps and stays there for
TURN_HOLD_SECONDS (a single step that sweeps through the heading does not finish it);
`turn_overshoot_deg` is how far past the new heading the direction of travel swings after it
first comes within TURN_REACHED_DEG.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

SPEED_TOLERANCE = 0.5  # m/s
COS_TOLERANCE = 0.7  # direction of travel against the command (45.6 deg)
FACING_COS_TOLERANCE = 0.7  # pelvis heading against the command (45.6 deg)
MOVING_THRESHOLD = 0.1  # m/s: slower than this is standing
ZERO_COMMAND_SPEED = 0.1  # m/s: a command this slow asks the character to stand
SETTLE_SECONDS = 1.0  # ProtoMotions' settling window after a command change
# A command change of at least this heading change is a turn (well below the scripted
# schedule's 45, 90 and 135 deg, so rounding never decides); it is done once the direction
# of travel comes within TURN_REACHED_DEG of the new heading (the heading-error goal) on good
# steps and holds it for TURN_HOLD_SECONDS.
TURN_MIN_CHANGE_DEG = 30.0
TURN_REACHED_DEG = 20.0
TURN_HOLD_SECONDS = 0.5


def criterion(settle_seconds: float = SETTLE_SECONDS) -> dict[str, float]:
    """The constants of the good-step and turn criteria, as an evaluation records them."""
    return {
        "speed_tolerance_mps": SPEED_TOLERANCE,
        "cos_tolerance": COS_TOLERANCE,
        "facing_cos_tolerance": FACING_COS_TOLERANCE,
        "moving_threshold_mps": MOVING_THRESHOLD,
        "zero_command_speed_mps": ZERO_COMMAND_SPEED,
        "settle_seconds": settle_seconds,
        "turn_min_change_deg": TURN_MIN_CHANGE_DEG,
        "turn_reached_deg": TURN_REACHED_DEG,
        "turn_hold_seconds": TURN_HOLD_SECONDS,
    }


@dataclasses.dataclass(frozen=True)
class SteeringRecord:
    """Per-step arrays of one rollout of one environment, all of length T."""

    velocity: np.ndarray  # (T, 2) planar root velocity, world frame, m/s
    facing_yaw: np.ndarray  # (T,) heading of the pelvis, world frame, radians
    target_yaw: np.ndarray  # (T,) commanded direction, radians
    target_speed: np.ndarray  # (T,) commanded speed, m/s
    fell: np.ndarray  # (T,) bool: the episode ended in a fall at this step
    since_change: np.ndarray  # (T,) seconds since the last command change or reset
    dt: float  # control period, s
    style: np.ndarray | None = None  # (T,) AMP style reward of each step, when scored


def _angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| wrapped to [0, pi]."""
    return np.abs(_signed_angle(a, b))


def _signed_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b wrapped to [-pi, pi)."""
    return (np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi


def good_steps(record: SteeringRecord, moving_threshold: float = MOVING_THRESHOLD) -> np.ndarray:
    """Boolean (T,): the step meets the speed, direction and facing criteria (module doc)."""
    speed = np.linalg.norm(record.velocity, axis=-1)
    target_dir = np.stack([np.cos(record.target_yaw), np.sin(record.target_yaw)], axis=-1)
    cos = np.sum(record.velocity * target_dir, axis=-1) / np.maximum(speed, 1e-8)
    stand = np.asarray(record.target_speed) <= ZERO_COMMAND_SPEED
    speed_ok = np.abs(speed - record.target_speed) <= SPEED_TOLERANCE
    direction_ok = (speed > moving_threshold) & (cos >= COS_TOLERANCE)
    facing_ok = np.cos(_signed_angle(record.facing_yaw, record.target_yaw)) >= FACING_COS_TOLERANCE
    return speed_ok & (stand | (direction_ok & facing_ok)) & ~np.asarray(record.fell, bool)


def lost_to_falls(fell: np.ndarray, dt: float, settle_seconds: float) -> np.ndarray:
    """Boolean (T,): the step falls, or lies in the `settle_seconds` restart after a fall."""
    fell = np.asarray(fell, bool)
    steps = np.arange(len(fell))
    last_fall = np.maximum.accumulate(np.where(fell, steps, -1))
    restart_steps = round(settle_seconds / dt)
    return (last_fall >= 0) & (steps - last_fall <= restart_steps)


def judged_and_good(
    record: SteeringRecord,
    settle_seconds: float = SETTLE_SECONDS,
    moving_threshold: float = MOVING_THRESHOLD,
    lost: np.ndarray | None = None,
    *,
    settled: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (T,) pair: which steps are judged, and which of them are good (fall-aware).

    `settled`: steps within `settle_seconds` of a command change are not judged; otherwise
    every step is. `lost`: `lost_to_falls` of the record, when already known (pooled rollouts
    pass their own, so that a fall at the end of one does not spill into the next).
    """
    if lost is None:
        lost = lost_to_falls(record.fell, record.dt, settle_seconds)
    if settled:
        # The episode clock restarts at a fall in `since_change`, so only the command clock
        # holds a step back from being judged; the restart after a fall is judged (and lost).
        judged = (np.asarray(record.since_change) >= settle_seconds) | lost
    else:
        judged = np.ones(len(lost), bool)
    good = good_steps(record, moving_threshold) & judged & ~lost
    return judged, good


@dataclasses.dataclass(frozen=True)
class Turns:
    """Per turn of a record: seconds taken, finished or not, overshoot (deg; NaN if never near)."""

    seconds: np.ndarray
    finished: np.ndarray
    overshoot_deg: np.ndarray

    @staticmethod
    def concatenate(parts: Sequence[Turns]) -> Turns:
        return Turns(*(np.concatenate([getattr(p, f.name) for p in parts])
                       for f in dataclasses.fields(Turns)))  # fmt: skip


def _held_from(reached: np.ndarray, hold: int) -> np.ndarray:
    """Boolean (T,): `reached` holds at this step and the `hold - 1` after it."""
    count = np.concatenate([[0], np.cumsum(np.asarray(reached, int))])
    held = np.zeros(len(reached), bool)
    if len(reached) >= hold:
        held[: len(reached) - hold + 1] = count[hold:] - count[:-hold] == hold
    return held


def turn_times(
    record: SteeringRecord, lost: np.ndarray, moving_threshold: float = MOVING_THRESHOLD
) -> Turns:
    """Time, completion and overshoot of each turn of the record.

    A turn is a command change (not the restart after a fall) whose heading differs from the
    previous command's by at least TURN_MIN_CHANGE_DEG. It is finished at the first step of
    TURN_HOLD_SECONDS of good, upright steps walking within TURN_REACHED_DEG of the new
    heading, all before the next command change: the direction of a character swaying on the
    spot points anywhere, so standing still never finishes a turn, and sweeping through the
    heading on the way past it does not either. An unfinished turn counts the whole time to
    the next command change (or the end), and steps lost to a fall (`lost`) never finish one,
    so falling or stopping never makes a turn look quicker. Overshoot: the furthest the
    direction of travel swings past the new heading (in the turn's sense, moving steps only)
    after it first comes within TURN_REACHED_DEG; 0 when it never passes it, NaN when it
    never comes that close.
    """
    n = len(record.fell)
    empty = Turns(np.zeros(0), np.zeros(0, bool), np.zeros(0))
    if n == 0:
        return empty
    restart = np.zeros(n, bool)
    restart[1:] = np.asarray(record.fell, bool)[:-1]
    new_command = (np.asarray(record.since_change) == 0.0) & ~restart
    new_command[0] = False
    starts = np.flatnonzero(new_command)
    change = _signed_angle(record.target_yaw[starts], record.target_yaw[starts - 1])
    is_turn = np.abs(change) >= np.radians(TURN_MIN_CHANGE_DEG)
    turns, sense = starts[is_turn], np.sign(change[is_turn])
    if len(turns) == 0:
        return empty
    ends = np.append(starts, n)[np.searchsorted(starts, turns, side="right")]
    speed = np.linalg.norm(record.velocity, axis=-1)
    direction = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    past = _signed_angle(direction, record.target_yaw)  # > 0: beyond the target, leftwards
    upright_moving = ~np.asarray(lost, bool) & (speed > moving_threshold)
    near = upright_moving & (np.abs(past) <= np.radians(TURN_REACHED_DEG))
    reached = near & good_steps(record, moving_threshold)
    hold = max(1, round(TURN_HOLD_SECONDS / record.dt))
    times, done, overshoot = np.zeros(len(turns)), np.zeros(len(turns), bool), np.zeros(len(turns))
    for i, (t0, t1) in enumerate(zip(turns, ends, strict=True)):
        # Within the turn's own command: a hold cut short by the next command does not count.
        hit = np.flatnonzero(_held_from(reached[t0:t1], hold))
        done[i] = len(hit) > 0
        times[i] = (hit[0] if done[i] else t1 - t0) * record.dt
        first_near = np.flatnonzero(near[t0:t1])
        if len(first_near) == 0:
            overshoot[i] = np.nan
            continue
        after = slice(t0 + first_near[0], t1)
        beyond = sense[i] * past[after][upright_moving[after]]
        overshoot[i] = np.degrees(max(0.0, float(beyond.max())))
    return Turns(times, done, overshoot)


def _mean_or_nan(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def _errors(record: SteeringRecord, upright: np.ndarray, moving_threshold: float,
            suffix: str) -> dict[str, float]:
    """Heading (direction of travel), facing and speed errors over the `upright` steps."""
    speed = np.linalg.norm(record.velocity, axis=-1)
    # Errors describe how the character walks while up; falls are scored by the shares.
    moving = upright & (speed > moving_threshold)
    direction = np.arctan2(record.velocity[:, 1], record.velocity[:, 0])
    heading_err = np.degrees(_angle_error(direction, record.target_yaw))
    facing_err = np.degrees(_angle_error(record.facing_yaw, record.target_yaw))
    return {
        f"heading_error{suffix}_deg": _mean_or_nan(heading_err[moving]),
        f"facing_error{suffix}_deg": _mean_or_nan(facing_err[upright]),
        f"speed_error{suffix}_mps": _mean_or_nan(np.abs(speed - record.target_speed)[upright]),
    }


def summarize(
    record: SteeringRecord,
    settle_seconds: float = SETTLE_SECONDS,
    moving_threshold: float = MOVING_THRESHOLD,
    lost: np.ndarray | None = None,
    turns: Turns | None = None,
) -> dict[str, float]:
    """Both views of the good-step share (fall-aware), upright share, heading, facing and
    speed errors (settled and over all steps), turn times and overshoot, falls per minute,
    distance walked, and the mean style reward when the record has one.

    `turns`: `turn_times` of the record, when already known (pooled rollouts pass their own,
    so that the end of one rollout and the start of the next never make a turn).
    """
    if lost is None:
        lost = lost_to_falls(record.fell, record.dt, settle_seconds)
    if turns is None:
        turns = turn_times(record, lost, moving_threshold)
    judged, good = judged_and_good(record, settle_seconds, moving_threshold, lost)
    _, good_all = judged_and_good(record, settle_seconds, moving_threshold, lost, settled=False)
    n = len(lost)
    minutes = n * record.dt / 60.0
    return {
        "success_rate": float(good[judged].mean()) if judged.any() else float("nan"),
        "success_rate_all": float(good_all.mean()) if n else float("nan"),
        "judged_steps": int(judged.sum()),
        "steps": n,
        "lost_steps": int(lost.sum()),
        "upright_share": float(1.0 - lost.mean()) if n else float("nan"),
        **_errors(record, judged & ~lost, moving_threshold, ""),
        **_errors(record, ~lost, moving_threshold, "_all"),
        "turns": len(turns.seconds),
        "turn_time_s": _mean_or_nan(turns.seconds),
        "turns_finished": _mean_or_nan(turns.finished),
        "turn_overshoot_deg": _mean_or_nan(turns.overshoot_deg),
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
    records: Sequence[SteeringRecord],
    settle_seconds: float = SETTLE_SECONDS,
    moving_threshold: float = MOVING_THRESHOLD,
) -> dict[str, Any]:
    """`summarize` over the steps of several rollouts pooled, plus falls and episode lengths.

    Shares, errors and rates pool every step of every rollout (a rollout with more judged steps
    weighs more); `distance_m` is the mean per rollout; episode lengths (s) come from
    `episode_lengths` of each rollout.
    """
    if not records:
        raise ValueError("summarize_rollouts needs at least one rollout")
    dt = records[0].dt
    styles = [r.style for r in records]

    def pooled_field(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in records])

    pooled = SteeringRecord(
        **{f.name: pooled_field(f.name) for f in dataclasses.fields(SteeringRecord)
           if f.name not in ("dt", "style")},
        dt=dt,
        style=None if any(s is None for s in styles) else np.concatenate(styles),
    )  # fmt: skip
    losts = [lost_to_falls(r.fell, r.dt, settle_seconds) for r in records]
    turns = Turns.concatenate(
        [turn_times(r, lo, moving_threshold) for r, lo in zip(records, losts, strict=True)]
    )
    out: dict[str, Any] = summarize(
        pooled, settle_seconds, moving_threshold, np.concatenate(losts), turns
    )
    lengths = np.concatenate([episode_lengths(r.fell) for r in records]) * dt
    out.update(
        distance_m=float(np.mean([distance(r) for r in records])),
        falls=int(pooled.fell.sum()),
        episode_count=len(lengths),
        episode_length_mean_s=float(lengths.mean()),
        episode_length_min_s=float(lengths.min()),
    )
    return out
