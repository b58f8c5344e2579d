"""What the report shows, as numbers: learning curves across seeds and the evaluation table.

Learning curves come from each run's `metrics.csv` (one row per training iteration, columns
`iteration, env_steps, wall_s, <metric>...`; see `train_log`). Seeds are put on one env-step
grid (the union of their steps, each seed linearly interpolated inside its own range only), and
the mean and the sample standard deviation (ddof 1) across the seeds present at a step are
taken there. Rows where a metric is NaN (e.g. `episode_return` in an iteration where no
episode ended) are skipped before interpolating.

The evaluation table comes from each seed's eval summary JSON: its `metrics` mapping (or the
whole file when there is none), nested numbers flattened to dotted keys, followed by the gait
fidelity headline numbers of its `gait` section (`GAIT_LABELS`, keys `gait.<name>`; the goals
as `gait.goals_passed`) when the evaluation had demo statistics. `gait_plot` finds the
gait-cycle plot the evaluation wrote beside its JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skeleton_steering.learn.train_log import CSV_NAME

# Learning-curve panels: metrics.csv column -> axis label.
CURVES = {
    "episode_return": "episode return",
    "task_reward": "task reward (per step)",
    "style_reward": "style reward (per step)",
    "episode_length": "episode length (control steps)",
}

# Evaluation metrics in reading order, with labels; keys not listed follow in file order.
EVAL_LABELS = {
    "success_rate": "good steps (share, after settling; falls fail)",
    "success_rate_all": "good steps (share of all steps, turns included)",
    "upright_share": "time upright (share of schedule)",
    "heading_error_deg": "heading error (deg)",
    "speed_error_mps": "speed error (m/s)",
    "facing_error_deg": "facing error (deg, pelvis against the command)",
    "heading_error_all_deg": "heading error, all steps (deg)",
    "facing_error_all_deg": "facing error, all steps (deg)",
    "speed_error_all_mps": "speed error, all steps (m/s)",
    "turn_time_s": "turn time (s, to within 20 deg of a new heading, held 0.5 s)",
    "turns_finished": "turns finished (share)",
    "turns": "turns in the schedule",
    "turn_overshoot_deg": "turn overshoot (deg)",
    "leg_overlap_steps": "steps with one leg inside the other",
    "leg_overlap_share": "share of upright steps with one leg inside the other",
    "leg_overlap_max_cm": "deepest leg inside the other (cm)",
    "falls_per_minute": "falls per minute",
    "falls": "falls",
    "distance_m": "distance per episode (m)",
    "style_reward": "style reward (mean)",
    "disc_acc_agent": "discriminator accuracy on the policy's transitions",
    "episode_length_mean_s": "episode length, mean (s)",
    "episode_length_min_s": "episode length, min (s)",
    "judged_steps": "judged steps",
    "lost_steps": "steps lost to falls (fall + restart)",
    "task_reward": "task reward (mean per step)",
    "episode_count": "episodes (a fall starts a new one)",
    "nonfinite_steps": "non-finite physics steps",
}


# A run that trained for less than this share of the reference walker's env steps (or, with
# no reference, fewer than SMOKE_ENV_STEPS) is labelled a smoke run: it checks the chain, and
# nobody should read its falls as what the method does.
SMOKE_SHARE = 0.1
SMOKE_ENV_STEPS = 2_000_000


@dataclasses.dataclass(frozen=True)
class Reference:
    """A trained policy shown beside the runs: its eval metrics, env steps, video."""

    label: str
    metrics: dict[str, float]
    env_steps: float  # NaN when its eval does not say
    video: str | None = None  # path relative to index.html
    preview: str | None = None


def read_reference_steps(path: str | Path) -> float:
    """The env steps an eval summary's checkpoint was trained for (NaN when absent)."""
    data = json.loads(Path(path).read_text())
    steps = data.get("env_steps") if isinstance(data, Mapping) else None
    return float(steps) if isinstance(steps, int | float) else math.nan


def smoke_threshold(reference: Reference | None) -> float:
    """Env steps below which a run is a smoke run."""
    if reference is not None and math.isfinite(reference.env_steps):
        return SMOKE_SHARE * reference.env_steps
    return float(SMOKE_ENV_STEPS)


class ReportInputError(ValueError):
    """A run directory, metrics file or eval summary is missing or unreadable."""


@dataclasses.dataclass(frozen=True)
class Run:
    label: str  # e.g. "seed42" (the run directory's name)
    steps: np.ndarray  # env steps per training iteration
    columns: dict[str, np.ndarray]  # metric -> values per iteration (NaN where absent)
    wall_s: float  # training seconds at the last row


@dataclasses.dataclass(frozen=True)
class Curve:
    metric: str
    steps: np.ndarray  # the common env-step grid
    per_run: dict[str, np.ndarray]  # label -> values on the grid (NaN outside that run)
    mean: np.ndarray
    std: np.ndarray  # NaN where fewer than two runs have a value


@dataclasses.dataclass(frozen=True)
class EvalTable:
    labels: list[str]  # run labels, one column each
    metrics: list[str]  # row keys
    values: dict[str, dict[str, float]]  # metric -> label -> value (NaN when missing)

    def mean(self, metric: str) -> float:
        vals = [v for v in self.values[metric].values() if math.isfinite(v)]
        return float(np.mean(vals)) if vals else math.nan

    def std(self, metric: str) -> float:
        vals = [v for v in self.values[metric].values() if math.isfinite(v)]
        if len(vals) < 2:
            return math.nan
        std = float(np.std(vals, ddof=1))
        # Seeds that agree up to float rounding (0.3 vs 0.30000000000000004) show 0.
        return 0.0 if std <= 1e-12 * max(abs(float(np.mean(vals))), 1.0) else std


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_run(run_dir: str | Path) -> Run:
    """A run's metrics.csv; `ReportInputError` names the file and what is wrong."""
    run_dir = Path(run_dir)
    path = run_dir / CSV_NAME
    if not path.is_file():
        raise ReportInputError(f"{path}: no metrics file (has this run trained yet?)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "env_steps" not in reader.fieldnames:
                raise ReportInputError(
                    f"{path}: not a training metrics file (no 'env_steps' column)"
                )
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ReportInputError(f"{path}: not a training metrics file ({err})") from err
    if not rows:
        raise ReportInputError(f"{path}: holds no training iteration yet")
    names = [n for n in reader.fieldnames if n not in ("iteration", "env_steps")]
    columns = {n: np.array([_float(r.get(n) or "nan") for r in rows]) for n in names}
    steps = np.array([_float(r["env_steps"] or "nan") for r in rows])
    bad = np.flatnonzero(~np.isfinite(steps) | (steps < 0))
    if bad.size:
        raise ReportInputError(f"{path}: row {int(bad[0]) + 2} has no valid 'env_steps' "
                               f"({rows[bad[0]]['env_steps']!r}); the file is damaged")
    wall = columns.get("wall_s", np.array([math.nan]))
    return Run(run_dir.name, steps, columns, float(wall[-1]))


def curve(runs: Sequence[Run], metric: str) -> Curve | None:
    """`metric` of every run on a common env-step grid, with mean and spread; None when no
    run has a finite value of it."""
    per_run: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for run in runs:
        values = run.columns.get(metric)
        if values is None:
            continue
        ok = np.isfinite(values) & np.isfinite(run.steps)
        if ok.any():
            order = np.argsort(run.steps[ok], kind="stable")
            per_run[run.label] = (run.steps[ok][order], values[ok][order])
    if not per_run:
        return None
    grid = np.unique(np.concatenate([s for s, _ in per_run.values()]))
    on_grid = {}
    for label, (steps, values) in per_run.items():
        inside = (grid >= steps[0]) & (grid <= steps[-1])
        out = np.full(grid.shape, np.nan)
        out[inside] = np.interp(grid[inside], steps, values)
        on_grid[label] = out
    stack = np.stack(list(on_grid.values()))
    count = np.isfinite(stack).sum(axis=0)
    total = np.where(np.isfinite(stack), stack, 0.0).sum(axis=0)
    mean = total / np.maximum(count, 1)
    mean[count == 0] = np.nan
    dev = np.where(np.isfinite(stack), (stack - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(dev / np.maximum(count - 1, 1))
    std[count < 2] = np.nan
    return Curve(metric, grid, on_grid, mean, std)


def _flatten(value: Any, prefix: str, out: dict[str, float]) -> None:
    if isinstance(value, int | float):  # bool too: a flag counts as 0 or 1
        out[prefix] = float(value)
    elif value is None:
        out[prefix] = math.nan  # the eval writes non-finite numbers as null
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)


# Gait fidelity rows (`gait_fidelity`), in reading order.
GAIT_LABELS = {
    "gait.goals_passed": "gait goals passed (of 4; none when the measurement is invalid)",
    "gait.strides": "gait: straight strides measured",
    "gait.straight_speed_mps": "gait: straight-line speed (m/s)",
    "gait.speed_error_mps": "gait: speed error against the command (m/s)",
    "gait.cadence_spm": "gait: cadence (steps/min)",
    "gait.demo_cadence_spm": "gait: demos' cadence at that speed (steps/min)",
    "gait.cadence_ratio": "gait: cadence ratio (policy / demos)",
    "gait.step_length_m": "gait: step length (m)",
    "gait.demo_step_length_m": "gait: demos' step length at that speed (m)",
    "gait.knee_swing_peak_deg": "gait: knee swing peak (deg)",
    "gait.demo_knee_swing_peak_deg": "gait: demos' knee swing peak (deg)",
    "gait.mean_percentile_gap_deg": "gait: mean p5/p95 joint-angle gap (deg)",
    "gait.step_width_m": "gait: step width (m)",
    "gait.double_support": "gait: double support (share)",
    "gait.clearance_m": "gait: foot clearance (m)",
    "gait.arm_swing_deg": "gait: arm swing (deg)",
    "gait.joint_velocity_rms_ratio": "gait: joint-velocity RMS ratio (policy / demos)",
    "gait.cost_of_transport": "gait: mechanical cost of transport",
    "gait.frechet_mean": "gait: Frechet distance of (s, s') features (mean over groups)",
}
EVAL_LABELS.update(GAIT_LABELS)


def _gait_numbers(gait: Any) -> dict[str, float]:
    if not isinstance(gait, Mapping) or not gait.get("available"):
        return {}
    out: dict[str, float] = {}
    for key in GAIT_LABELS:
        name = key.removeprefix("gait.")
        if name == "goals_passed":
            goals = gait.get("goals")
            if isinstance(goals, Mapping):
                out[key] = float(sum(bool(g.get("pass")) for g in goals.values()
                                     if isinstance(g, Mapping)))
            continue
        value = gait.get(name)
        if isinstance(value, int | float) or value is None:
            out[key] = math.nan if value is None else float(value)
    return out


def gait_plot(path: str | Path) -> Path | None:
    """The gait-cycle plot an eval summary names, beside it (None when it has none)."""
    path = Path(path)
    try:
        name = json.loads(path.read_text()).get("gait_plot")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(name, str):
        return None
    plot = path.parent / Path(name).name
    return plot if plot.is_file() else None


def read_eval(path: str | Path) -> dict[str, float]:
    """The numeric metrics of one eval summary JSON, flattened to dotted keys."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: eval summary not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportInputError(f"{path}: not valid JSON: {err}") from err
    if not isinstance(data, Mapping):
        raise ReportInputError(f"{path}: expected a JSON object at the top level")
    source = data["metrics"] if isinstance(data.get("metrics"), Mapping) else data
    out: dict[str, float] = {}
    _flatten({k: v for k, v in source.items() if k != "gait"}, "", out)
    out.update(_gait_numbers(data.get("gait")))
    if not out:
        raise ReportInputError(f"{path}: holds no numeric metric")
    return out


def eval_table(labels: Sequence[str], summaries: Sequence[Mapping[str, float]]) -> EvalTable:
    """Rows: known metrics first (EVAL_LABELS order), then the others in first-seen order."""
    seen: list[str] = []
    for summary in summaries:
        seen += [k for k in summary if k not in seen]
    metrics = [k for k in EVAL_LABELS if k in seen] + [k for k in seen if k not in EVAL_LABELS]
    values = {
        m: {label: float(s.get(m, math.nan)) for label, s in zip(labels, summaries, strict=True)}
        for m in metrics
    }
    return EvalTable(list(labels), metrics, values)


def eval_table_csv(table: EvalTable) -> str:
    """metric, mean, std, then one column per run (empty cell: not a number)."""

    def cell(v: float) -> str:
        return repr(v) if math.isfinite(v) else ""

    lines = [",".join(["metric", "mean", "std", *table.labels])]
    for m in table.metrics:
        row = [m, cell(table.mean(m)), cell(table.std(m))]
        row += [cell(table.values[m][label]) for label in table.labels]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"
