"""What an evaluation writes: a JSON summary, a per-step CSV beside it, a table on the console.

JSON (`results/eval/<stem>.json`): the checkpoint, schedule and settings, the pooled steering
`metrics` (see `steering_metrics.summarize_rollouts`), the `gait` fidelity section (see
`gait_fidelity`; `{"available": false, "reason": ...}` without demo statistics), one entry per
parallel episode, and the names of the CSV and of the gait-cycle plot (`gait_plot`, null when
none was drawn). Non-finite numbers (e.g. no judged step at all) are written as null.

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
  gait_steady                    1 inside a steady stretch (the command held longer than
                                 `gait_fidelity.GAIT_SETTLE_SECONDS`): where gait is measured

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

from skeleton_steering.evaluate import gait_fidelity, steering_metrics
from skeleton_steering.evaluate.steering_metrics import (
    TURN_HOLD_SECONDS,
    TURN_REACHED_DEG,
    SteeringRecord,
)

CSV_COLUMNS = (
    "episode", "step", "time_s", "target_heading_deg", "target_speed_mps", "heading_deg",
    "speed_mps", "facing_deg", "velocity_x", "velocity_y", "since_change_s", "judged", "good",
    "fell", "style_reward", "task_reward", "gait_steady",
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
        steady = gait_fidelity.steady_mask(rec.since_change, rec.dt)
        for t in range(len(speed)):
            buf.write(
                f"{e},{t},{t * rec.dt:.4f},{target[t]:.3f},{rec.target_speed[t]:.4f},"
                f"{heading[t]:.3f},{speed[t]:.4f},{facing[t]:.3f},{rec.velocity[t, 0]:.4f},"
                f"{rec.velocity[t, 1]:.4f},{rec.since_change[t]:.4f},{int(judged[t])},"
                f"{int(good[t])},{int(rec.fell[t])},{rec.style[t]:.5f},{task_reward[e, t]:.5f},"
                f"{int(steady[t])}\n"
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


def _vs(g: dict[str, Any], key: str, unit: str, digits: int, scale: float = 1.0) -> str:
    """'policy vs demos' for gait value `key` (and `demo_<key>`)."""
    def show(value: Any) -> str:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        return _fmt(value * scale if ok else value, unit, digits)
    return f"{show(g.get(key))} vs {show(g.get(f'demo_{key}'))}"


def gait_rows(g: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of the gait section's headline numbers (policy vs demos at its speed)."""
    frechet = g.get("frechet") or {}
    worst = max(frechet, key=frechet.get) if frechet else None
    return [
        ("steady walking measured", f"{_fmt(g['steady_seconds'], ' s', 1)}, "
                                    f"{g['strides']} strides"),
        ("speed of the strides (demos matched at it)", _fmt(g["speed_mps"], " m/s", 2)),
        ("straight-line speed vs command", f"{_fmt(g['straight_speed_mps'], '', 2)} vs "
                                           f"{_fmt(g['command_speed_mps'], ' m/s', 2)}"),
        ("cadence, policy vs demos (steps/min)", _vs(g, "cadence_spm", "", 1)),
        ("cadence ratio (policy / demos)", _fmt(g["cadence_ratio"], "", 2)),
        ("step length", _vs(g, "step_length_m", " m", 2)),
        ("knee swing peak", _vs(g, "knee_swing_peak_deg", " deg", 1)),
        ("p5/p95 joint-angle gap, mean / max",
         f"{_fmt(g['mean_percentile_gap_deg'], '', 1)} / "
         f"{_fmt(g['max_percentile_gap_deg'], ' deg', 1)}"),
        ("step width", _vs(g, "step_width_m", " cm", 1, 100.0)),
        ("double support (share of the stride)", _vs(g, "double_support", " %", 1, 100.0)),
        ("foot clearance (swing peak height)", _vs(g, "clearance_m", " cm", 1, 100.0)),
        ("arm swing (shoulder flexion range)", _vs(g, "arm_swing_deg", " deg", 1)),
        ("joint-velocity RMS ratio (policy / demos)", _fmt(g["joint_velocity_rms_ratio"], "", 2)),
        ("mechanical cost of transport", _fmt(g["cost_of_transport"], "", 3)),
        ("Frechet distance of (s, s') features, mean" + (f" (largest: {worst})" if worst else ""),
         _fmt(g["frechet_mean"], "", 2) + (f" ({_fmt(frechet[worst], '', 2)})" if worst else "")),
    ]


def gait_table(summary: dict[str, Any]) -> Table:
    """Gait fidelity against the demos, with the goals' pass / fail."""
    g = summary.get("gait") or {}
    table = Table(title="gait fidelity (policy vs demos at its speed)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if not g.get("available"):
        table.add_row("gait fidelity", f"unavailable: {g.get('reason', 'no gait section')}")
        return table
    for name, value in gait_rows(g):
        table.add_row(name, value)
    if not g["valid"]:
        table.add_row("[red]measurement invalid[/]", str(g["invalid_reason"]))
    for goal in g["goals"].values():
        mark = "[green]pass[/]" if goal["pass"] else "[red]FAIL[/]"
        table.add_row(f"goal: {goal['goal']}", mark)
    return table
