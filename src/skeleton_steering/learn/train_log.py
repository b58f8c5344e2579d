"""Where training metrics go: `metrics.csv`, TensorBoard events and a one-line summary log.

The trainer hands over a flat dict of floats per iteration; this module knows the formats.
TensorBoard files come from tensorboardX, so no TensorFlow is needed to write or read them.
On resume, rows and events after the resumed iteration (written before a crash, but not
covered by the checkpoint) are dropped so every series continues without duplicates.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

from tensorboardX import SummaryWriter

from skeleton_steering.io_utils import atomic_write_text

CSV_NAME = "metrics.csv"
LOG_NAME = "train.log"
TB_DIR = "tensorboard"
INDEX_COLUMNS = ("iteration", "env_steps", "wall_s")

# The short names in the progress bar and the summary line.
KEY_METRICS = {
    "episode_length": "ep_len",
    "task_reward": "task_r",
    "style_reward": "style_r",
    "disc_acc_demo": "acc_demo",
    "disc_acc_agent": "acc_agent",
    "approx_kl": "kl",
}


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


def summary_line(iteration: int, env_steps: int, sps: float, metrics: Mapping[str, float]) -> str:
    parts = [f"iter {iteration}", f"steps {env_steps:,}", f"{sps:,.0f} steps/s"]
    parts += [f"{short} {_fmt(metrics[k])}" for k, short in KEY_METRICS.items() if k in metrics]
    return " | ".join(parts)


class MetricsLog:
    """Appends one row per iteration to metrics.csv and one scalar per metric to TensorBoard."""

    def __init__(self, run_dir: Path, resume_iteration: int | None, resume_env_steps: int = 0):
        self.run_dir = run_dir
        self.csv_path = run_dir / CSV_NAME
        self.columns: list[str] | None = None
        if resume_iteration is not None and self.csv_path.is_file():
            self._truncate_csv(resume_iteration)
        elif self.csv_path.exists():
            self.csv_path.unlink()
        # TensorBoard drops events at steps >= purge_step: those a crashed run wrote after
        # the checkpoint this run resumes from.
        purge = resume_env_steps + 1 if resume_iteration is not None else None
        self.tb = SummaryWriter(logdir=str(run_dir / TB_DIR), purge_step=purge)
        self.log_file = (run_dir / LOG_NAME).open("a" if resume_iteration is not None else "w")

    def _truncate_csv(self, iteration: int) -> None:
        try:
            with self.csv_path.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                rows = [r for r in reader if r and r[0].isdigit() and int(r[0]) <= iteration]
        except (UnicodeDecodeError, csv.Error) as err:
            raise ValueError(f"{self.csv_path}: damaged, cannot continue it on --resume ({err}); "
                             "move it away to start a fresh one") from err
        if header is None:
            self.csv_path.unlink()
            return
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        atomic_write_text(self.csv_path, out.getvalue())
        self.columns = header[len(INDEX_COLUMNS) :]

    def write(
        self, iteration: int, env_steps: int, wall_s: float, metrics: Mapping[str, float]
    ) -> None:
        if self.columns is None:
            self.columns = sorted(metrics)
            with self.csv_path.open("w", newline="") as fh:
                csv.writer(fh).writerow([*INDEX_COLUMNS, *self.columns])
        row = [iteration, env_steps, f"{wall_s:.3f}"]
        row += [repr(float(metrics.get(k, math.nan))) for k in self.columns]
        with self.csv_path.open("a", newline="") as fh:
            csv.writer(fh).writerow(row)
        for key, value in metrics.items():
            if math.isfinite(value):  # e.g. no episode ended this iteration: no point
                self.tb.add_scalar(key if "/" in key else f"train/{key}", value, env_steps)

    def write_eval(self, env_steps: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.tb.add_scalar(f"eval/{key}", value, env_steps)

    def line(self, text: str) -> None:
        self.log_file.write(text + "\n")
        self.log_file.flush()

    def flush(self) -> None:
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()
        self.log_file.close()


def read_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of a metrics.csv as dicts of floats (for tests, benchmarks and reports)."""
    with Path(path).open(newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]
