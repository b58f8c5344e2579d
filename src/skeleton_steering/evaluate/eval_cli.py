"""Evaluate a trained steering policy (`python -m skeleton_steering.eval`, `... eval`).

    python -m skeleton_steering.eval --model_path results/runs/seed42/checkpoint_best.msgpack \\
        --n_steps 2000 [--deterministic] [--record] [--schedule scripted|straight|random] \\
        [--episodes N] [--seed S] [--action_std STD] [--settle_seconds S] [--out FILE] \\
        [--video_out FILE] [--no_gait_plot] [--jax_cpu] [--no_progress]

Runs `--episodes` parallel episodes of `--n_steps` control steps under a command schedule
(`schedules`), with the environment, expert data and networks the checkpoint was trained with,
and writes the steering metrics as JSON (`--out`, default `results/eval/<checkpoint stem>.json`)
and every step as CSV beside it (same stem, `.csv`; formats in `eval_output`). Episode i
starts from reset key i of `--seed`; a fall restarts the episode and is counted.
`--deterministic` acts with the policy's mean and uses deterministic XLA settings, so the same
inputs on the same device give byte-identical files; without it actions are sampled from the
policy's Gaussian (`--action_std`: with that std instead of the learned one). `--record`
renders episode 0 to a video (`--video_out`, default: the `--out` path with `.mp4`).

Gait fidelity (`gait_fidelity`) compares the steady walking of the run (each command held
longer than its settling time) with the demos' gait statistics, which an export carries and a
training checkpoint computes from its expert data; `--schedule straight` (1.2 m/s straight
ahead, e.g. 1500 steps) is the measurement the gait goals are judged on. The gait-cycle plot
goes beside the JSON (`<stem>_gait.png`) unless `--no_gait_plot`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from skeleton_steering import jax_setup
from skeleton_steering.arg_types import count, non_negative_float, positive_float, seed
from skeleton_steering.entry import module_main
from skeleton_steering.evaluate import (
    eval_seeds,
    gait_fidelity,
    gait_plot,
    leg_overlap,
    schedules,
    steering_metrics,
)
from skeleton_steering.evaluate import outputs as eval_output
from skeleton_steering.evaluate import rollout as evaluation
from skeleton_steering.evaluate.steering_metrics import MOVING_THRESHOLD, SETTLE_SECONDS
from skeleton_steering.io_utils import (
    atomic_write,
    atomic_write_text,
    check_writable_file,
    file_sha256,
)

DEFAULT_OUT_DIR = Path("results/eval")


class RenderUnavailableError(RuntimeError):
    """`--record` was asked for but the rendering module cannot be imported."""


@dataclasses.dataclass(frozen=True)
class Evaluation:
    model: evaluation.TrainedModel
    schedule: schedules.Schedule
    rollout: evaluation.Rollout
    records: list[steering_metrics.SteeringRecord]
    summary: dict[str, Any]
    settle_seconds: float


def default_out(model_path: str | Path) -> Path:
    return DEFAULT_OUT_DIR / f"{Path(model_path).stem}.json"


def csv_beside(out: Path) -> Path:
    """The per-step CSV's path for summary path `out` (same stem, `.csv`)."""
    csv_path = out.with_suffix(".csv")
    if csv_path == out:
        raise ValueError(f"--out {out}: the per-step CSV goes beside the summary as .csv; "
                         "give the summary another suffix (e.g. .json)")
    return csv_path


def gait_plot_beside(out: Path) -> Path:
    """The gait-cycle plot's path for summary path `out`."""
    return out.with_name(f"{out.stem}_gait.png")


def _gait_section(model: evaluation.TrainedModel, result: evaluation.Rollout,
                  records: list[steering_metrics.SteeringRecord]) -> dict[str, Any]:
    if model.gait is None:
        return gait_fidelity.unavailable(f"{model.ckpt.path}: {model.gait_unavailable}")
    return gait_fidelity.of_rollout(result.qpos, result.qvel, result.actuator_power, records,
                                    model.gait)


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


def _warn_outside_training(schedule: schedules.Schedule, model: evaluation.TrainedModel,
                           console: Console) -> None:
    lo, hi = model.config.env.command.speed_range
    s_lo, s_hi = float(schedule.speed.min()), float(schedule.speed.max())
    if s_lo < lo - 1e-6 or s_hi > hi + 1e-6:
        console.print(
            f"[yellow]warning:[/] schedule '{schedule.name}' asks for {s_lo:g}-{s_hi:g} m/s; "
            f"the policy was trained on {lo:g}-{hi:g} m/s"
        )


def evaluate(
    model_path: str | Path,
    *,
    n_steps: int,
    schedule: str = "scripted",
    episodes: int = 1,
    seed: int = eval_seeds.HELD_OUT_SEED,
    deterministic: bool = True,
    action_std: float | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    leg_contacts: bool | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> Evaluation:
    """Roll the checkpoint's policy out under the schedule and summarize the steering.

    Steps within `settle_seconds` of a command change are not judged; a fall and the
    `settle_seconds` restart after it are judged and failed (`steering_metrics`).
    `action_std`: sample actions with this fixed std instead of the policy's learned one
    (not with `deterministic`); it shows how much of the discriminator's verdict is noise.
    """
    console = console or Console(stderr=True)
    schedules.check_name(schedule)
    if n_steps < 1 or episodes < 1:
        raise ValueError(f"n_steps and episodes must be >= 1, got {n_steps} and {episodes}")
    if not 0 <= settle_seconds < float("inf"):  # also false for nan
        raise ValueError(f"--settle_seconds must be finite and >= 0, got {settle_seconds}")
    if action_std is not None and (deterministic or not 0 < action_std < float("inf")):
        raise ValueError(f"--action_std must be finite and > 0 and is for sampled actions (not "
                         f"--deterministic), got {action_std}")
    model = evaluation.load_model(model_path, console, leg_contacts=leg_contacts)
    learned_std = float(np.exp(np.asarray(model.params.policy["params"]["log_std"])).mean())
    if action_std is not None:
        model = evaluation.with_action_std(model, action_std)
    dt = model.evaluator.env.control_dt
    sched = schedules.make_schedule(
        schedule, n_steps, dt, episodes=episodes,
        command_config=model.config.env.command, seed=seed,
    )  # fmt: skip
    _warn_outside_training(sched, model, console)
    with _progress(console, show_progress) as progress:
        task = progress.add_task("(the first chunk compiles)", total=n_steps)
        result = evaluation.rollout(
            model, sched, seed=seed, deterministic=deterministic,
            on_progress=lambda done: progress.update(task, completed=done, description=""),
        )  # fmt: skip
    records = evaluation.steering_records(result, sched)
    metrics = steering_metrics.summarize_rollouts(records, settle_seconds, MOVING_THRESHOLD)
    metrics["nonfinite_steps"] = int(result.nonfinite.sum())
    metrics.update(leg_overlap.overlap_steps(result.qpos, result.fell))
    metrics["task_reward"] = float(result.task_reward.mean())
    # Share of steps the discriminator tells apart from the demonstrations (training's
    # disc_acc_agent, here on this evaluation's actions).
    metrics["disc_acc_agent"] = float((result.disc_score < 0).mean())
    gait = _gait_section(model, result, records)
    meta = model.ckpt.meta
    summary = {
        "checkpoint": str(model.ckpt.path),
        "checkpoint_sha256": file_sha256(model.ckpt.path),
        "iteration": meta.get("iteration"),
        "env_steps": meta.get("env_steps"),
        "env_id": model.config.env_id,
        "schedule": schedule,
        "n_steps": n_steps,
        "episodes": episodes,
        "seed": seed,
        "seed_role": eval_seeds.role(seed),
        "deterministic": deterministic,
        "action_std": 0.0 if deterministic else (action_std or learned_std),
        "control_dt": dt,
        "settle_seconds": settle_seconds,
        "leg_contacts": model.config.env.physics.leg_contacts,
        "criterion": {
            **steering_metrics.criterion(settle_seconds),
            "leg_overlap_depth_m": leg_overlap.OVERLAP_DEPTH_M,
        },
        "metrics": metrics,
        "gait": gait,
        "per_episode": eval_output.per_episode(records, settle_seconds, MOVING_THRESHOLD),
    }
    return Evaluation(model, sched, result, records, summary, settle_seconds)


def write_results(ev: Evaluation, out: str | Path, video: Any = None,
                  gait_plot_png: bool = True) -> tuple[Path, Path]:
    """JSON summary at `out` and the per-step CSV beside it, each written atomically, and
    the gait-cycle plot beside them when there is one to draw and `gait_plot_png`."""
    out = Path(out)
    csv_path = csv_beside(out)
    atomic_write_text(
        csv_path,
        eval_output.csv_text(ev.records, ev.rollout.task_reward, ev.settle_seconds,
                             MOVING_THRESHOLD),
    )
    summary = dict(ev.summary, csv=csv_path.name)
    gait = ev.summary.get("gait", {})
    summary["gait_plot"] = None
    if gait_plot_png and gait.get("available"):
        png = gait_plot.gait_cycle_png(
            gait, f"{Path(ev.summary['checkpoint']).name}: schedule '{ev.summary['schedule']}'")
        plot_path = gait_plot_beside(out)
        atomic_write(plot_path, lambda fh: fh.write(png))
        summary["gait_plot"] = plot_path.name
    if video is not None:
        summary["video"] = str(video.path)
        summary["video_preview"] = None if video.preview_path is None else str(video.preview_path)
    atomic_write_text(out, eval_output.json_text(summary))
    return out, csv_path


# -- video -------------------------------------------------------------------------------------


def _render_module() -> Any:
    # Imported by name at call time: the GL stack is optional, and tests swap in a stand-in.
    try:
        render = importlib.import_module("skeleton_steering.render.renderer")
    except ImportError as err:
        raise RenderUnavailableError(
            f"--record needs skeleton_steering.render.renderer, which cannot be imported: {err}"
        ) from err
    return render


def render_episode0(
    ev: Evaluation,
    video_out: str | Path,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    preview: bool = True,
) -> Any:
    """Render parallel episode 0 with its commands; returns render's VideoResult.

    One frame per control step by default; a lower `fps` shows the step nearest each frame's
    time, so the video still plays in real time.
    """
    render = _render_module()
    r = ev.rollout
    n_steps = r.qpos0.shape[0]
    control_hz = 1.0 / r.dt
    fps = control_hz if fps is None else float(fps)
    if not 0.0 < fps <= control_hz + 1e-9:
        raise ValueError(f"fps must be in (0, {control_hz:g}] (the control rate), got {fps:g}")
    times = np.arange(int(np.floor((n_steps - 1) * r.dt * fps + 1e-9)) + 1) / fps
    steps = np.minimum(np.rint(times / r.dt).astype(int), n_steps - 1)
    frames = [
        render.Frame(
            qpos=np.asarray(r.qpos0[t], np.float64),
            target_yaw=float(r.target_yaw[0, t]),
            target_speed=float(r.target_speed[0, t]),
            velocity_xy=np.asarray(r.velocity[0, t], np.float64),
            time=float(time),
        )
        for time, t in zip(times, steps, strict=True)
    ]
    size = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
    return render.render_video(frames, Path(video_out), fps=fps, preview=preview, **size)


def record_video(
    model_path: Path,
    out: Path,
    *,
    n_steps: int,
    schedule: str,
    seed: int,
    deterministic: bool = True,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    preview: bool = True,
) -> Path:
    """Evaluate one episode of the checkpoint and render it to `out`; returns the video path.

    `width`, `height` and `preview` go to `render.render_video` (its defaults when None);
    `fps` defaults to the control rate (see `render_episode0`).
    """
    _render_module()  # fail before the rollout, not after it
    if deterministic:
        jax_setup.configure_jax(deterministic=True)
    ev = evaluate(model_path, n_steps=n_steps, schedule=schedule, episodes=1, seed=seed,
                  deterministic=deterministic)
    video = render_episode0(ev, out, width=width, height=height, fps=fps, preview=preview)
    return Path(video.path)


# -- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `python -m skeleton_steering.eval` and `skeleton-steering eval`."""
    parser.add_argument("--model_path", required=True, help="training checkpoint (.msgpack)")
    parser.add_argument("--n_steps", type=count, default=2000, help="control steps per episode")
    parser.add_argument("--schedule", default="scripted",
                        help=f"command schedule: {', '.join(schedules.SCHEDULES)}")
    parser.add_argument("--episodes", type=count, default=1, help="parallel episodes")
    parser.add_argument("--seed", type=seed, default=eval_seeds.HELD_OUT_SEED,
                        help="reset keys, actions, random schedule (0..2^32-1; default: the "
                             f"held-out seed {eval_seeds.HELD_OUT_SEED}, seeds below "
                             f"{eval_seeds.HELD_OUT_START} are for tuning)")
    parser.add_argument("--deterministic", action="store_true",
                        help="mean actions, deterministic XLA ops: byte-identical outputs")
    parser.add_argument("--action_std", type=positive_float, default=None,
                        help="sample actions with this fixed std instead of the learned one")
    parser.add_argument("--settle_seconds", type=non_negative_float, default=SETTLE_SECONDS,
                        help="steps this long after a command change are not judged; "
                             "as long after a fall they are failed")
    parser.add_argument("--leg_contacts", choices=("on", "off"), default=None,
                        help="simulate with the leg-leg contact pairs on or off "
                             "(default: as the policy was trained)")
    parser.add_argument("--out", default=None,
                        help=f"summary JSON (default {DEFAULT_OUT_DIR}/<checkpoint stem>.json)")
    parser.add_argument("--record", action="store_true", help="render episode 0 to a video")
    parser.add_argument("--video_out", default=None, help="video path (default: --out with .mp4)")
    parser.add_argument("--no_gait_plot", action="store_true",
                        help="no gait-cycle plot beside the JSON (default: <stem>_gait.png)")
    parser.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")


def main_from_args(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run the evaluation from parsed flags; returns the process exit code."""
    console = console or Console(stderr=True)
    jax_setup.configure_jax(deterministic=args.deterministic, cpu=args.jax_cpu)
    schedules.check_name(args.schedule)
    out = Path(args.out) if args.out else default_out(args.model_path)
    # A bad or unwritable --out fails now, not after the rollout.
    for path in (out, csv_beside(out), *([] if args.no_gait_plot else [gait_plot_beside(out)])):
        check_writable_file(path)
    video_out = Path(args.video_out) if args.video_out else out.with_suffix(".mp4")
    if args.record:
        check_writable_file(video_out)
    try:
        if args.record:
            _render_module()
        ev = evaluate(args.model_path, n_steps=args.n_steps, schedule=args.schedule,
                      episodes=args.episodes, seed=args.seed, deterministic=args.deterministic,
                      action_std=args.action_std, settle_seconds=args.settle_seconds,
                      leg_contacts=None if args.leg_contacts is None else args.leg_contacts == "on",
                      console=console, show_progress=not args.no_progress)
        video = None
        if args.record:
            video = render_episode0(ev, video_out)
    except RenderUnavailableError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
        return 1
    json_path, csv_path = write_results(ev, out, video, gait_plot_png=not args.no_gait_plot)
    console.print(eval_output.summary_table(ev.summary))
    console.print(eval_output.gait_table(ev.summary))
    written = [str(csv_path)]
    if ev.summary["gait"].get("available") and not args.no_gait_plot:
        written.append(str(gait_plot_beside(json_path)))
    if video:
        written.append(str(video.path))
    console.print(f"wrote {json_path} and {', '.join(written)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    prog = "python -m skeleton_steering.eval"
    return module_main(prog, __doc__, add_arguments, main_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
