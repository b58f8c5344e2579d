"""Command schedules for evaluation: what heading and speed to ask for at every control step.

A schedule is computed up front on the host, as per-step arrays, so an evaluation replays
exactly the same commands for every checkpoint and seed it is given. Headings are relative to
the heading the character has when its episode starts (after a fall the new episode's start
heading is the reference), so a schedule means the same whatever random heading the
reference-state initialization picked.

  scripted  walk straight at 1.2 m/s, turn 90 deg left, turn 135 deg right, speed up to
            1.6 m/s, slow down to 0.7 m/s; 4 s each, the 20 s cycle repeated to fill the run
  straight  1.2 m/s straight ahead for the whole run
  random    commands drawn like training draws them, from the checkpoint's command config:
            speed uniform in `speed_range`, a new command every `resample_seconds`, heading
            changed by up to `max_heading_change` from the previous command; each parallel
            episode gets its own draw
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from skeleton_steering.env.env_config import CommandConfig
from skeleton_steering.evaluate import eval_seeds


class UnknownScheduleError(ValueError):
    """The schedule name is not one of `SCHEDULES`."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """Hold one command for `seconds`."""

    seconds: float
    heading_deg: float  # relative to the episode's start heading, counter-clockwise
    speed: float  # m/s


SCRIPTED = (
    Segment(4.0, 0.0, 1.2),  # straight
    Segment(4.0, 90.0, 1.2),  # 90 deg left
    Segment(4.0, -45.0, 1.2),  # 135 deg right
    Segment(4.0, -45.0, 1.6),  # speed up
    Segment(4.0, -45.0, 0.7),  # slow down
)
STRAIGHT = (Segment(4.0, 0.0, 1.2),)

SCHEDULES = ("random", "scripted", "straight")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Per-step commands of `episodes` parallel episodes over `n_steps` control steps."""

    name: str
    heading: np.ndarray  # (episodes, n_steps) float32 radians, relative to the start heading
    speed: np.ndarray  # (episodes, n_steps) float32 m/s

    @property
    def changed(self) -> np.ndarray:
        """(episodes, n_steps) bool: the command differs from the previous step's (step 0: True)."""
        diff = (np.diff(self.heading, axis=1) != 0) | (np.diff(self.speed, axis=1) != 0)
        first = np.ones((self.heading.shape[0], 1), dtype=bool)
        return np.concatenate([first, diff], axis=1)


def check_name(name: str) -> None:
    if name not in SCHEDULES:
        raise UnknownScheduleError(
            f"unknown schedule '{name}'; valid schedules: {', '.join(SCHEDULES)}"
        )


def segment_steps(seconds: float, dt: float) -> int:
    """Control steps a segment of `seconds` lasts (at least one)."""
    return max(1, round(seconds / dt))


def _scripted(segments: tuple[Segment, ...], n_steps: int, dt: float) -> tuple[np.ndarray, ...]:
    lengths = [segment_steps(s.seconds, dt) for s in segments]
    heading = np.repeat([math.radians(s.heading_deg) for s in segments], lengths)
    speed = np.repeat([s.speed for s in segments], lengths)
    return np.resize(heading, n_steps), np.resize(speed, n_steps)


def _random(
    config: CommandConfig, n_steps: int, dt: float, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    heading = np.empty(n_steps)
    speed = np.empty(n_steps)
    lo_steps = segment_steps(config.resample_seconds[0], dt)
    hi_steps = segment_steps(config.resample_seconds[1], dt)
    t, current = 0, 0.0
    while t < n_steps:
        length = int(rng.integers(lo_steps, hi_steps + 1))
        change = config.max_heading_change
        current = current + rng.uniform(-change, change)
        current = (current + math.pi) % (2 * math.pi) - math.pi
        heading[t : t + length] = current
        speed[t : t + length] = rng.uniform(*config.speed_range)
        t += length
    return heading, speed


def make_schedule(
    name: str,
    n_steps: int,
    dt: float,
    *,
    episodes: int = 1,
    command_config: CommandConfig | None = None,
    seed: int = 0,
) -> Schedule:
    """The named schedule for `episodes` parallel episodes of `n_steps` steps of `dt` seconds.

    `command_config` (the checkpoint's) sets the ranges of the random schedule; `seed` makes
    its draw repeatable. The scripted schedules ignore both.
    """
    check_name(name)
    if n_steps < 1 or episodes < 1:
        raise ValueError(f"n_steps and episodes must be >= 1, got {n_steps} and {episodes}")
    if name == "random":
        config = command_config or CommandConfig()
        rng = eval_seeds.schedule_rng(seed)
        rows = [_random(config, n_steps, dt, rng) for _ in range(episodes)]
        heading = np.stack([h for h, _ in rows])
        speed = np.stack([s for _, s in rows])
    else:
        segments = SCRIPTED if name == "scripted" else STRAIGHT
        h, s = _scripted(segments, n_steps, dt)
        heading = np.broadcast_to(h, (episodes, n_steps))
        speed = np.broadcast_to(s, (episodes, n_steps))
    return Schedule(name, np.array(heading, np.float32), np.array(speed, np.float32))
