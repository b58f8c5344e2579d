"""`skeleton-steering report`: all seeds side by side in one folder.

    skeleton-steering report --runs results/runs/seed42 results/runs/seed43 \\
        --evals results/eval/seed42.json results/eval/seed43.json \\
        --videos results/videos/seed42.mp4 results/videos/seed43.mp4 \\
        --previews results/videos/seed42.gif results/videos/seed43.gif --out results/report

The folder gets `index.html` (runs, learning curves, evaluation table, videos),
`learning_curves.svg` (return, task reward, style reward and episode length against env
steps: every seed, their mean and spread), `eval_metrics.csv` (mean, std and each seed),
`training_curves.csv` (the mean and std behind the figure), `videos/` (copies of the
videos and previews, so the folder can be moved or zipped on its own) and `gait/` (each
evaluation's gait-cycle plot, found beside its JSON, shown on the page). Evals, videos and
previews pair with runs by position. The folder is built beside the target and swapped in
whole, so a failed report never leaves half a folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from skeleton_steering.io_utils import atomic_write_text, make_dir_beside, replace_dir
from skeleton_steering.report import page as report_html
from skeleton_steering.report import plots as report_plot
from skeleton_steering.report import run_data as report_data

CURVES_NAME = "learning_curves.svg"
CURVES_CSV = "training_curves.csv"
EVAL_CSV = "eval_metrics.csv"
INDEX = "index.html"
VIDEO_DIR = "videos"
GAIT_DIR = "gait"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", nargs="+", required=True, help="training run directories (each with metrics.csv)"
    )
    parser.add_argument(
        "--evals", nargs="*", default=[], help="eval summary JSON per run, same order as --runs"
    )
    parser.add_argument(
        "--videos", nargs="*", default=[], help="video per run, same order as --runs"
    )
    parser.add_argument(
        "--previews", nargs="*", default=[], help="GIF preview per run, same order as --runs"
    )
    parser.add_argument("--reference_eval", default=None,
                        help="eval summary JSON of a reference policy (the shipped walker), "
                             "shown first")
    parser.add_argument("--reference_video", default=None, help="its video")
    parser.add_argument("--reference_preview", default=None, help="its GIF preview")
    parser.add_argument("--reference_label", default="shipped walker")
    parser.add_argument("--out", default="results/report", help="report folder")
    parser.add_argument("--title", default="SkeletonSteering: seeds side by side")


def _check_pairing(name: str, items: Sequence[str], runs: Sequence[str]) -> None:
    if items and len(items) != len(runs):
        raise report_data.ReportInputError(
            f"--{name}: {len(items)} given for {len(runs)} runs; give one per run, in the "
            "order of --runs"
        )
    for item in items:
        if not Path(item).is_file():
            raise report_data.ReportInputError(f"--{name}: {item} not found")


def _curves_csv(curves: Sequence[report_data.Curve]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["metric", "env_steps", "mean", "std", "runs"])
    for c in curves:
        for i, step in enumerate(c.steps):
            if not math.isfinite(c.mean[i]):
                continue
            n = sum(1 for v in c.per_run.values() if math.isfinite(v[i]))
            std = repr(float(c.std[i])) if math.isfinite(c.std[i]) else ""
            writer.writerow([c.metric, int(step), repr(float(c.mean[i])), std, n])
    return buf.getvalue()


def _copy(src: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def build(
    runs: Sequence[str],
    evals: Sequence[str],
    videos: Sequence[str],
    previews: Sequence[str],
    out: str | Path,
    title: str,
    console: Console | None = None,
    *,
    reference_eval: str | None = None,
    reference_video: str | None = None,
    reference_preview: str | None = None,
    reference_label: str = "shipped walker",
) -> Path:
    """Write the report folder `out`; returns the path of its index.html.

    `reference_*`: a trained policy to show first (its eval summary, video, preview); runs
    far below its env steps are labelled smoke runs.
    """
    console = console or Console(stderr=True)
    out = Path(out)
    for name, items in (("evals", evals), ("videos", videos), ("previews", previews)):
        _check_pairing(name, items, runs)
    for name, item in (("reference_eval", reference_eval), ("reference_video", reference_video),
                       ("reference_preview", reference_preview)):
        if item is not None and not Path(item).is_file():
            raise report_data.ReportInputError(f"--{name}: {item} not found")
    if reference_eval is None and (reference_video or reference_preview):
        raise report_data.ReportInputError("--reference_video/--reference_preview need "
                                           "--reference_eval")
    loaded = [report_data.read_run(r) for r in runs]
    labels = [r.label for r in loaded]
    if len(set(labels)) != len(labels):
        raise report_data.ReportInputError(
            f"--runs: run directory names must differ (they label the seeds): {labels}"
        )
    curves = [c for m in report_data.CURVES if (c := report_data.curve(loaded, m)) is not None]
    table = None
    if evals:
        table = report_data.eval_table(labels, [report_data.read_eval(e) for e in evals])

    work = make_dir_beside(out)
    try:
        files = [CURVES_NAME, CURVES_CSV]
        atomic_write_text(work / CURVES_NAME, report_plot.learning_curves_svg(curves))
        atomic_write_text(work / CURVES_CSV, _curves_csv(curves))
        if table is not None:
            atomic_write_text(work / EVAL_CSV, report_data.eval_table_csv(table))
            files.append(EVAL_CSV)
        reference = None
        if reference_eval is not None:
            ref_video = ref_preview = None
            if reference_video:
                ref_video = f"{VIDEO_DIR}/reference{Path(reference_video).suffix}"
                _copy(reference_video, work / ref_video)
            if reference_preview:
                ref_preview = f"{VIDEO_DIR}/reference{Path(reference_preview).suffix}"
                _copy(reference_preview, work / ref_preview)
            reference = report_data.Reference(
                reference_label, report_data.read_eval(reference_eval),
                report_data.read_reference_steps(reference_eval), ref_video, ref_preview,
            )  # fmt: skip
        gait_plots = []
        named = ([(f"{reference_label} (reference)", "reference", reference_eval)]
                 if reference_eval is not None else [])
        for (label, stem, eval_path) in [*named, *zip(labels, labels, evals, strict=False)]:
            plot = report_data.gait_plot(eval_path)
            if plot is not None:
                dest = f"{GAIT_DIR}/{stem}.png"
                _copy(str(plot), work / dest)
                gait_plots.append((label, dest))
        entries = []
        for i, label in enumerate(labels):
            video = preview = None
            if videos:
                video = f"{VIDEO_DIR}/{label}{Path(videos[i]).suffix}"
                _copy(videos[i], work / video)
            if previews:
                preview = f"{VIDEO_DIR}/{label}{Path(previews[i]).suffix}"
                _copy(previews[i], work / preview)
            if video or preview:
                entries.append(report_html.VideoEntry(label, video, preview))
        page = report_html.index_html(title, loaded, CURVES_NAME, table, entries, files,
                                      reference, gait_plots)
        atomic_write_text(work / INDEX, page)
        replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    console.print(
        f"report: {len(loaded)} runs, {len(curves)} curves, "
        f"{len(table.metrics) if table else 0} eval metrics -> {out / INDEX}"
    )
    return out / INDEX


def main_from_args(args: argparse.Namespace, console: Console | None = None) -> int:
    build(args.runs, args.evals, args.videos, args.previews, args.out, args.title, console,
          reference_eval=args.reference_eval, reference_video=args.reference_video,
          reference_preview=args.reference_preview, reference_label=args.reference_label)
    return 0
