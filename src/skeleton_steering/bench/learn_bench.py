"""`bench learn --minutes M`: does training make progress in a fixed CPU budget?

Trains from scratch on the bundled sample walk (the config's data, default: the sample) for M
minutes of training time (compilation excluded), then compares the first and the last window
of iterations: episode length, task reward per step, style reward and discriminator accuracy.
The goal for 15 minutes on a 2-core CPU: episode length at least doubles and task reward per
step rises. Ends with one JSON line.

Episode length is estimated as env steps per episode end over the window, which (unlike the
mean of episodes that happened to end inside a short window) is not biased towards short
episodes at the start.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.learn import train, train_config

WINDOW = 10  # iterations averaged at the start and at the end
COLUMNS = ("episode_length", "task_reward", "style_reward", "disc_acc_demo", "disc_acc_agent")


def window_summary(history: list[dict[str, float]], batch: int) -> dict[str, float]:
    """Means over a window of iteration metrics; episode length as steps per episode end."""
    ends = sum(m["episode_count"] for m in history)
    out: dict[str, Any] = {
        # No episode ended in the window: longer than the window, reported as null.
        "episode_length": (batch * len(history) / ends) if ends else None,
        "episodes_ended": ends,
    }
    for key in COLUMNS[1:]:
        out[key] = sum(m[key] for m in history) / len(history)
    return out


def _num(value: float | None) -> str:
    return "none ended" if value is None else f"{value:.4g}"


def _fmt(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_num(summary[k])}" for k in COLUMNS)


def run(
    config_path: str | None, minutes: float, seed: int, run_dir: str, console: Console
) -> dict[str, Any]:
    if minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {minutes}")
    config = train_config.load(
        config_path, [f"seed={seed}", "run.iterations=100000000", "eval.every=0",
                      "run.checkpoint_every=1000000"]
    )
    out = Path(run_dir)
    for stale in out.glob("checkpoint_*.msgpack"):  # a fresh run each time; data is kept
        stale.unlink()
    shutil.rmtree(out / "tensorboard", ignore_errors=True)
    batch = config.ppo.batch_size
    history_so_far: list[dict[str, float]] = []

    def report_start(iteration: int, metrics: dict[str, float]) -> None:
        history_so_far.append(metrics)
        if len(history_so_far) == WINDOW:
            start = window_summary(history_so_far, batch)
            console.print(f"[bold]start[/] (first {WINDOW} iterations): " + _fmt(start))

    try:
        result = train.run(config, out, console=console, max_seconds=minutes * 60.0,
                           on_iteration=report_start)
    except train.TrainingDivergedError as err:
        console.print(f"[bold red]diverged:[/] {err}", soft_wrap=True)
        summary = {"bench": "learn", "minutes": minutes, "diverged": str(err),
                   "iterations": len(history_so_far), "machine": describe()}
        print(json.dumps(summary))
        return summary
    history = result.history
    if len(history) < 2 * WINDOW:
        raise ValueError(
            f"only {len(history)} iterations in {minutes} min; need >= {2 * WINDOW} to compare"
        )
    start = window_summary(history[:WINDOW], batch)
    end = window_summary(history[-WINDOW:], batch)
    console.print(f"[bold]end[/] (last {WINDOW} iterations): " + _fmt(end))

    table = Table(title=f"bench learn: {minutes:g} min, {result.iteration} iterations, "
                        f"{result.env_steps:,} env steps")
    table.add_column("metric")
    table.add_column(f"first {WINDOW} it.", justify="right")
    table.add_column(f"last {WINDOW} it.", justify="right")
    for key in COLUMNS:
        table.add_row(key, _num(start[key]), _num(end[key]))
    console.print(table)
    if start["episode_length"] is None or end["episode_length"] is None:
        ratio = None  # no fall at the end (or none at the start) in its window
    else:
        ratio = end["episode_length"] / start["episode_length"]
    summary = {
        "bench": "learn",
        "minutes": minutes,
        "iterations": result.iteration,
        "env_steps": result.env_steps,
        "num_envs": config.ppo.num_envs,
        "rollout_length": config.ppo.rollout_length,
        "start": start,
        "end": end,
        "episode_length_ratio": ratio,
        "task_reward_change": end["task_reward"] - start["task_reward"],
        "goal_met": (ratio is None or ratio >= 2.0) and end["task_reward"] > start["task_reward"],
        "run_dir": str(out),
        "machine": describe(),
    }
    print(json.dumps(summary))
    return summary
