"""`bench learn`: configs side by side at equal env steps, several seeds, resumable.

    skeleton-steering bench learn --variant torque= \\
        --variant pd=config/amp_ppo.yaml,env.control.mode=pd,network.learn_log_std=false \\
        --seeds 0 1 --env_steps 1e6 --marks 2.5e5 5e5 1e6 [--run_dir results/bench/learn]

A variant is `NAME=SPEC`, SPEC a comma-separated list of at most one training YAML (an item
without `=`; none: the built-in defaults) and `key=value` overrides (brackets may hold commas:
`network.policy_hidden=[128,64]`). Each variant and seed trains in its own run directory,
`<run_dir>/<variant>/seed<S>` (variants without data of their own share the bundled sample
walk, built once in `<run_dir>/data`), with `--resume`: interrupted (Ctrl-C, SIGTERM, a crash), the
same command continues from the newest checkpoint, and marks already measured (kept in
`marks.json` there) are skipped. Runs advance mark by mark, every variant and seed to one mark
before any goes on, so a partial run already gives a side-by-side table.

At each mark (env steps, rounded up to whole iterations), from training's metrics over the
last `WINDOW` iterations before the mark: episode length (env steps per episode end), style
reward, discriminator accuracy on demo and agent transitions. From a fixed evaluation of that
checkpoint (the scripted schedule, `--eval_steps` steps, `--eval_episodes` parallel episodes,
the policy's mean action, the reset keys of the tuning seed `eval_seeds.TUNING_SEED`, never a
held-out one): falls per minute, the fall-aware good-step share (settled and over all steps),
the share of time upright, heading error, and the agent/demo joint-velocity RMS ratio (agent:
hinge velocities of evaluation episode 0 from its joint angles, finite differences at the
control rate, steps across a restart left out; demo: the expert trajectory's hinge qvel).
The table shows the mean over seeds (and the spread, max - min, in brackets); the last line
is one JSON object with every run's numbers at every mark.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.config import ConfigError
from skeleton_steering.io_utils import atomic_write_text
from skeleton_steering.learn import checkpoint, train, train_config
from skeleton_steering.learn.train_log import CSV_NAME
from skeleton_steering.progress import print_wide

WINDOW = 10  # training iterations averaged before each mark
MARKS_NAME = "marks.json"
TRAIN_KEYS = ("episode_length", "style_reward", "disc_acc_demo", "disc_acc_agent")
EVAL_KEYS = ("falls_per_minute", "success_rate", "success_rate_all", "upright_share",
             "heading_error_deg", "turn_time_s", "joint_velocity_rms_ratio")
COLUMNS = {  # key -> table header
    "episode_length": "ep. len (steps)",
    "falls_per_minute": "falls/min",
    "success_rate": "good steps",
    "success_rate_all": "good (all steps)",
    "upright_share": "upright",
    "heading_error_deg": "heading err (deg)",
    "turn_time_s": "turn time (s)",
    "style_reward": "style r.",
    "disc_acc_demo": "disc acc demo",
    "disc_acc_agent": "disc acc agent",
    "joint_velocity_rms_ratio": "jvel RMS agent/demo",
}


def finite_or_none(value: Any) -> Any:
    """NaN and infinities as None, so that the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


class InterruptedRunError(Exception):
    """A signal stopped training; the run saved a checkpoint and can be resumed."""


class VariantError(ValueError):
    """A `--variant` is malformed or two variants share a name."""


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    config_path: str | None
    overrides: tuple[str, ...]


def _split_items(spec: str) -> list[str]:
    """Split on commas outside brackets, so list values stay whole."""
    items, depth, current = [], 0, []
    for ch in spec:
        depth += (ch in "[{") - (ch in "]}")
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def parse_variant(text: str) -> Variant:
    """`NAME=[config.yaml][,key=value...]` -> Variant."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise VariantError(
            f"--variant '{text}': expected NAME=[config.yaml][,key=value...], NAME made of "
            "letters, digits, '-', '_' or '.'"
        )
    paths = [i for i in _split_items(spec) if "=" not in i]
    overrides = tuple(i for i in _split_items(spec) if "=" in i)
    if len(paths) > 1:
        raise VariantError(f"--variant '{text}': more than one config file: {paths}")
    return Variant(name, paths[0] if paths else None, overrides)


def parse_steps(text: str) -> int:
    """`1e6`, `250000` or `2.5e5` -> a positive int (argparse type)."""
    try:
        value = float(text)
    except ValueError as err:
        raise ValueError(f"not a number of env steps: '{text}'") from err
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"env steps must be >= 1, got '{text}'")
    return round(value)


def run_config(variant: Variant, seed: int, iterations: int,
               shared_cache: Path | None = None) -> train_config.TrainConfig:
    """The variant's config for one run to `iterations`; `shared_cache` replaces no data."""
    overrides = [*variant.overrides, f"seed={seed}", f"run.iterations={iterations}",
                 "eval.every=0", f"run.checkpoint_every={iterations}", "run.log_every=25"]
    try:
        config = train_config.load(variant.config_path, overrides)
        if shared_cache is not None and uses_default_data(config):
            config = train_config.load(variant.config_path,
                                       [*overrides, f"data.cache_dir={shared_cache}"])
        return config
    except ConfigError as err:
        raise ConfigError(f"--variant {variant.name}: {err}") from err


def uses_default_data(config: train_config.TrainConfig) -> bool:
    return config.data.cache_dir is None and getattr(config.data, "trajectory", None) is None


def shared_default_data(root: Path, console: Console) -> Path:
    """The bundled sample walk, built once under `root/data` for every run that uses it
    (otherwise each run directory would build its own copy)."""
    from skeleton_steering.data.cache import ensure_default_walk_data

    return ensure_default_walk_data(root / "data", console=console).resolve()


# -- numbers at a mark -------------------------------------------------------------------------


def training_window(csv_path: Path, iteration: int, batch: int) -> dict[str, float | None]:
    """Means of the last `WINDOW` iterations up to `iteration` in a run's metrics.csv."""
    with csv_path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["iteration"]) <= iteration]
    rows = rows[-WINDOW:]
    if not rows:
        raise ValueError(f"{csv_path}: no training iterations up to {iteration}")

    def mean(key: str) -> float:
        return float(np.mean([float(r[key]) for r in rows]))

    ends = sum(float(r["episode_count"]) for r in rows)
    out: dict[str, float | None] = {k: mean(k) for k in TRAIN_KEYS[1:]}
    # No episode ended in the window: longer than the window, reported as null.
    out["episode_length"] = batch * len(rows) / ends if ends else None
    return out


def joint_velocity_rms_ratio(qpos0: np.ndarray, fell0: np.ndarray, dt: float,
                             demo_qvel: np.ndarray) -> float:
    """RMS hinge velocity of an evaluation episode over the demo's (see the module doc)."""
    velocity = np.diff(qpos0[:, 7:], axis=0) / dt
    # Step t's record holds the pose before step t: t -> t+1 crosses a restart if t fell.
    keep = ~np.asarray(fell0[:-1], bool)
    if not keep.any():
        return float("nan")
    agent = np.sqrt(np.mean(velocity[keep] ** 2))
    demo = np.sqrt(np.mean(np.asarray(demo_qvel)[:, 6:] ** 2))
    return float(agent / demo) if demo > 0 else float("nan")


def evaluate_checkpoint(path: Path, steps: int, episodes: int, console: Console):
    """Fall-aware steering metrics of a fixed, deterministic scripted evaluation.

    It runs on the tuning seed: the held-out seeds (`eval_seeds`) are kept for the numbers
    reported once the defaults are chosen.
    """
    from skeleton_steering.evaluate import eval_seeds, schedules, steering_metrics
    from skeleton_steering.evaluate import rollout as evaluation

    model = evaluation.load_model(path, console)
    dt = model.evaluator.env.control_dt
    sched = schedules.make_schedule("scripted", steps, dt, episodes=episodes)
    result = evaluation.rollout(model, sched, seed=eval_seeds.TUNING_SEED, deterministic=True)
    records = evaluation.steering_records(result, sched)
    metrics = steering_metrics.summarize_rollouts(records)
    demo_qvel = np.asarray(model.evaluator.env._expert_qvel)
    metrics["joint_velocity_rms_ratio"] = joint_velocity_rms_ratio(
        result.qpos0, result.fell[0], dt, demo_qvel
    )
    metrics["nonfinite_steps"] = int(result.nonfinite.sum())
    return metrics


# -- the runs ----------------------------------------------------------------------------------


def _read_marks(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MARKS_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); delete it to measure again") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of marks")
    return data


def measure_mark(variant: Variant, seed: int, mark: int, run_dir: Path, eval_steps: int,
                 eval_episodes: int, console: Console,
                 shared_cache: Path | None = None) -> dict[str, Any]:
    """Train one run (resuming) to `mark` env steps, evaluate it there, remember the numbers."""
    marks = _read_marks(run_dir)
    if str(mark) in marks:
        return marks[str(mark)]
    batch = run_config(variant, seed, 1).ppo.batch_size
    iterations = -(-mark // batch)
    config = run_config(variant, seed, iterations, shared_cache)
    console.print(f"[bold]{variant.name} seed {seed}[/]: training to {iterations * batch:,} "
                  f"env steps ({iterations} iterations) in {run_dir}")
    t0 = time.perf_counter()
    result = train.run(config, run_dir, resume=True, console=console, show_progress=False)
    if result.status == "interrupted":
        raise InterruptedRunError(f"{run_dir} stopped at iteration {result.iteration}")
    ckpt = checkpoint.newest(run_dir)
    expected = run_dir / checkpoint.periodic_name(iterations)
    if ckpt != expected:
        raise ValueError(
            f"{run_dir}: expected the checkpoint of iteration {iterations} ({expected.name}), "
            f"found {ckpt.name if ckpt else 'none'}; the run went past this mark — use a new "
            "--run_dir or marks beyond it"
        )
    row: dict[str, Any] = {"env_steps": iterations * batch, "iteration": iterations}
    row.update(training_window(run_dir / CSV_NAME, iterations, batch))
    console.print(f"{variant.name} seed {seed}: evaluating {ckpt.name} ...")
    row["eval"] = evaluate_checkpoint(ckpt, eval_steps, eval_episodes, console)
    for key in EVAL_KEYS:
        row[key] = row["eval"][key]
    row["wall_s_this_session"] = time.perf_counter() - t0
    row = finite_or_none(row)
    marks[str(mark)] = row
    atomic_write_text(run_dir / MARKS_NAME, json.dumps(marks, indent=2, allow_nan=False) + "\n")
    return row


def _cell(values: list[float | None], key: str) -> str:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "n/a"
    shares = ("success_rate", "success_rate_all", "upright_share")
    scale, unit = (100.0, " %") if key in shares else (1.0, "")
    mean = scale * float(np.mean(vals))
    text = f"{mean:.3g}{unit}"
    if len(vals) > 1:
        text += f" ({scale * (max(vals) - min(vals)):.2g})"
    if len(vals) < len(values):
        text += f" [{len(values) - len(vals)} n/a]"
    return text


def table_of(results: dict[str, dict[int, dict[int, dict[str, Any]]]], marks: Sequence[int],
             title: str) -> Table:
    table = Table(title=title)
    table.add_column("env steps", justify="right")
    table.add_column("variant")
    for header in COLUMNS.values():
        table.add_column(header, justify="right")
    for mark in marks:
        for name, by_seed in results.items():
            rows = [by_mark[mark] for by_mark in by_seed.values() if mark in by_mark]
            if not rows:
                continue
            cells = [_cell([r.get(k) for r in rows], k) for k in COLUMNS]
            table.add_row(f"{rows[0]['env_steps']:,}", name, *cells)
    return table


def run(
    variants: Sequence[str],
    seeds: Sequence[int],
    env_steps: int,
    marks: Sequence[int] | None,
    run_dir: str,
    eval_steps: int,
    eval_episodes: int,
    console: Console,
) -> dict[str, Any]:
    parsed = [parse_variant(v) for v in variants]
    names = [v.name for v in parsed]
    if len(set(names)) != len(names):
        raise VariantError(f"--variant names must differ, got {names}")
    marks = sorted(set(marks or [env_steps]))
    if marks[-1] > env_steps:
        raise ValueError(f"--marks must not exceed --env_steps ({env_steps:,}), got {marks}")
    if marks[-1] != env_steps:
        marks.append(env_steps)
    if not seeds:
        raise ValueError("--seeds needs at least one seed")
    if eval_steps < 1 or eval_episodes < 1:
        raise ValueError("--eval_steps and --eval_episodes must be >= 1")
    configs = [run_config(v, seeds[0], 1) for v in parsed]  # config errors before training
    root = Path(run_dir)
    shared = shared_default_data(root, console) if any(map(uses_default_data, configs)) else None
    results: dict[str, dict[int, dict[int, dict[str, Any]]]] = {
        v.name: {s: {} for s in seeds} for v in parsed
    }
    title = (f"bench learn: {len(parsed)} variants x {len(seeds)} seeds; mean over seeds "
             "(spread max-min); eval: scripted schedule, "
             f"{eval_episodes} x {eval_steps} steps, deterministic")
    interrupted = None
    try:
        for mark in marks:
            for v in parsed:
                for seed in seeds:
                    out = root / v.name / f"seed{seed}"
                    results[v.name][seed][mark] = measure_mark(
                        v, seed, mark, out, eval_steps, eval_episodes, console, shared
                    )
            print_wide(console, table_of(results, marks, title))
    except InterruptedRunError as err:
        interrupted = str(err)
        console.print(f"[yellow]interrupted:[/] {err}; the same command resumes")
        print_wide(console, table_of(results, marks, title))
    summary = {
        "bench": "learn",
        "variants": {v.name: {"config": v.config_path, "overrides": list(v.overrides)}
                     for v in parsed},
        "seeds": list(seeds),
        "marks": marks,
        "eval": {"schedule": "scripted", "steps": eval_steps, "episodes": eval_episodes,
                 "deterministic": True},
        "run_dir": str(root),
        "results": {name: {str(s): {str(m): r for m, r in by_mark.items()}
                           for s, by_mark in by_seed.items()}
                    for name, by_seed in results.items()},
        "interrupted": interrupted,
        "machine": describe(),
    }
    print(json.dumps(finite_or_none(summary), allow_nan=False))
    return summary


def add_arguments(parser: Any) -> None:
    """Flags of `skeleton-steering bench learn`."""
    parser.add_argument("--variant", action="append", default=None, metavar="NAME=SPEC",
                        help="NAME=[config.yaml][,key=value...]; repeat for each variant "
                             "(default: one variant 'default' with the built-in config)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--env_steps", type=parse_steps, default=1_000_000,
                        help="env steps per run, e.g. 3e6")
    parser.add_argument("--marks", type=parse_steps, nargs="+", default=None,
                        help="env-step marks of the table (default: --env_steps only)")
    parser.add_argument("--run_dir", default="results/bench/learn",
                        help="one <variant>/seed<S> run directory per run under it")
    parser.add_argument("--eval_steps", type=int, default=300, help="scripted eval steps")
    parser.add_argument("--eval_episodes", type=int, default=4, help="parallel eval episodes")
    parser.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")


def main_from_args(args: Any, console: Console) -> int:
    summary = run(args.variant or ["default="], args.seeds, args.env_steps, args.marks,
                  args.run_dir, args.eval_steps, args.eval_episodes, console)
    return 130 if summary["interrupted"] else 0
