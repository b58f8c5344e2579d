"""What an evaluation writes: a JSON summary, a per-step CSV beside it, a table on the console.

JSON (`results/eval/<stem>.json`): the checkpoint, schedule and settings, the pooled steering
`metrics` (see `steering_metrics.summarize_rollouts`), one entry per parallel episode, and the
name of the CSV. Non-finite numbers (e.g. no judged step at all) are written as null.

CSV (same stem, `.csv`), one row per parallel episode and control step:

  episode, step, time_s          parallel episode index, control step, seconds since the start
  target_heading_deg, target_speed_mps
                                 the command, heading in the world frame
  heading_deg, speed_mps         direction and magnitude of the root's planar velocity
  facing_deg                     heading of the pelvis (where the body faces), world frame
  velocity_x, velocity_y         that velocity, world frame, m/s
  since_change_s, judged         seconds since the last command change or restart; judged = 1
                                 once the settling window has passed, and at a fall and in the
                                 restart after it (those steps are failed: falls never help)
  good, fell                     the good-step criterion (speed, direction and facing;
                                 `steering_metrics`) met on an upright step, judged or not
                                 (the all-steps view counts every row, the settled view the
                                 judged ones); the episode ended here
  style_reward, task_reward      AMP style reward of the step; the env's task reward

Every number is formatted with a fixed precision, so identical rollouts give identical bytes.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table

from skeleton_steering.evaluate import steering_metrics
from skeleton_steering.evaluate.steering_metrics import (
    TURN_HOLD_SECONDS,
    TURN_REACHED_DEG,
    SteeringRecord,
)

CSV_COLUMNS = (
    "episode", "step", "time_s", "target_heading_deg", "target_speed_mps", "heading_deg",
    "speed_mps", "facing_deg", "velocity_x", "velocity_y", "since_change_s", "judged", "good",
    "fell", "style_reward", "task_reward",
)  # fmt: skip


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def json_text(summary: dict[str, Any]) -> str:
    return json.dumps(_finite_or_none(summary), indent=2, allow_nan=False) + "\n"


def per_episode(
    records: Sequence[SteeringRecord], settle_seconds: float, moving_threshold: float
) -> list[dict[str, Any]]:
    out = []
    for e, rec in enumerate(records):
        lengths = steering_metrics.episode_lengths(rec.fell) * rec.dt
        out.append({
            "episode": e,
            **steering_metrics.summarize(rec, settle_seconds, moving_threshold),
            "falls": int(rec.fell.sum()),
            "episode_lengths_s": [round(float(x), 6) for x in lengths],
        })  # fmt: skip
    return out


def csv_text(
    records: Sequence[SteeringRecord],
    task_reward: np.ndarray,
    settle_seconds: float,
    moving_threshold: float,
) -> str:
    """The per-step CSV; `task_reward` is (episodes, steps)."""
    buf = io.StringIO()
    buf.write(",".join(CSV_COLUMNS) + "\n")
    for e, rec in enumerate(records):
        judged, _ = steering_metrics.judged_and_good(rec, settle_seconds, moving_threshold)
        _, good = steering_metrics.judged_and_good(rec, settle_seconds, moving_threshold,
                                                   settled=False)
        speed = np.linalg.norm(rec.velocity, axis=-1)
        heading = np.degrees(np.arctan2(rec.velocity[:, 1], rec.velocity[:, 0]))
        facing = np.degrees(rec.facing_yaw)
        target = np.degrees(rec.target_yaw)
        for t in range(len(speed)):
            buf.write(
                f"{e},{t},{t * rec.dt:.4f},{target[t]:.3f},{rec.target_speed[t]:.4f},"
                f"{heading[t]:.3f},{speed[t]:.4f},{facing[t]:.3f},{rec.velocity[t, 0]:.4f},"
                f"{rec.velocity[t, 1]:.4f},{rec.since_change[t]:.4f},{int(judged[t])},"
                f"{int(good[t])},{int(rec.fell[t])},{rec.style[t]:.5f},{task_reward[e, t]:.5f}\n"
            )
    return buf.getvalue()


def _fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value}{unit}"
    return f"{value:.{digits}f}{unit}"


def _pair(m: dict[str, Any], name: str, unit: str, digits: int, suffix: str = "deg") -> str:
    return (f"{_fmt(m[f'{name}_{suffix}'], '', digits)} / "
            f"{_fmt(m[f'{name}_all_{suffix}'], unit, digits)}")


def summary_table(summary: dict[str, Any]) -> Table:
    """The headline numbers as a rich table (of the summary before `json_text`: NaN, not null)."""
    m = summary["metrics"]
    table = Table(
        title=f"{summary['checkpoint']}: schedule '{summary['schedule']}', "
        f"{summary['episodes']} x {summary['n_steps']} steps",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    settle = summary["settle_seconds"]
    lengths = (f"{_fmt(m['episode_length_mean_s'], ' s', 1)} / "
               f"{_fmt(m['episode_length_min_s'], ' s', 1)}")
    rows = (
        (f"good steps, settled (judged after {settle:g} s; falls fail)",
         _fmt(100.0 * m["success_rate"], " %", 1)),
        ("good steps, all steps (turns included)", _fmt(100.0 * m["success_rate_all"], " %", 1)),
        ("judged steps (settled)", _fmt(m["judged_steps"])),
        ("time upright (share)", _fmt(100.0 * m["upright_share"], " %", 1)),
        ("heading error, settled / all", _pair(m, "heading_error", " deg", 1)),
        ("facing error, settled / all", _pair(m, "facing_error", " deg", 1)),
        ("speed error, settled / all", _pair(m, "speed_error", " m/s", 3, "mps")),
        (f"turn time (within {TURN_REACHED_DEG:g} deg held {TURN_HOLD_SECONDS:g} s, "
         f"{m['turns']} turns)", _fmt(m["turn_time_s"], " s", 2)),
        ("turns finished before the next command", _fmt(100.0 * m["turns_finished"], " %", 1)),
        ("turn overshoot", _fmt(m["turn_overshoot_deg"], " deg", 1)),
        ("steps with one leg inside the other", _fmt(m.get("leg_overlap_steps"))),
        ("falls per minute", _fmt(m["falls_per_minute"], "", 2)),
        ("falls", _fmt(m["falls"])),
        ("distance per episode", _fmt(m["distance_m"], " m", 1)),
        ("style reward (mean)", _fmt(m["style_reward"])),
        ("discriminator accuracy on these steps", _fmt(100.0 * m["disc_acc_agent"], " %", 1)),
        ("episode length (mean / min)", lengths),
    )  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table
