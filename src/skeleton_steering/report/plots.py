"""Learning-curve figure of the report: one panel per metric, all seeds, mean and spread.

Drawn with matplotlib's object API on its SVG canvas (no pyplot, so no GUI backend and no
global figure state); the SVG text is returned for the caller to write atomically.

Per-iteration metrics are noisy, so long runs are drawn through a centred rolling median of
each seed (about 1/100 of the points; the panel title says how many), with the mean and spread
taken across the smoothed seeds; a median, unlike a mean, is not dragged by one blown-up
iteration. On curves of 200 points or more, each panel's y range also leaves out the most
extreme 0.5 % at either end. The numbers in training_curves.csv are not smoothed.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from skeleton_steering.report.run_data import CURVES, Curve

SMOOTH_FRACTION = 0.01
CLIP_QUANTILE = 0.005
CLIP_MIN_POINTS = 200  # shorter curves show their whole range (a real early peak is no outlier)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median that ignores NaN; NaN stays NaN."""
    if window <= 1:
        return values
    half = window // 2
    padded = np.pad(values, (half, window - 1 - half), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows that are all NaN
        out = np.nanmedian(windows, axis=1)
    out[~np.isfinite(values)] = np.nan
    return out


def _across_seeds(series: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof 1) over the seeds with a value; std NaN below two."""
    stack = np.stack(series)
    ok = np.isfinite(stack)
    count = ok.sum(axis=0)
    mean = np.where(ok, stack, 0.0).sum(axis=0) / np.maximum(count, 1)
    mean[count == 0] = np.nan
    dev = np.where(ok, (stack - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(dev / np.maximum(count - 1, 1))
    std[count < 2] = np.nan
    return mean, std


def _robust_limits(series: Sequence[np.ndarray]) -> tuple[float, float] | None:
    finite = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.array([])
    if finite.size == 0:
        return None
    lo, hi = np.quantile(finite, [CLIP_QUANTILE, 1.0 - CLIP_QUANTILE])
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return float(lo - pad), float(hi + pad)


def learning_curves_svg(curves: Sequence[Curve]) -> str:
    """Thin lines per seed, the mean across seeds bold, mean +- one std shaded."""
    n = max(len(curves), 1)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(6.0 * cols, 3.6 * rows), layout="constrained")
    FigureCanvasSVG(fig)
    if not curves:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no finite training metrics yet", ha="center", va="center")
        ax.set_axis_off()
    for i, c in enumerate(curves):
        ax = fig.add_subplot(rows, cols, i + 1)
        window = max(1, round(len(c.steps) * SMOOTH_FRACTION))
        drawn = []
        for label, values in c.per_run.items():
            y = smooth(values, window)
            ok = np.isfinite(y)
            ax.plot(c.steps[ok], y[ok], linewidth=0.8, alpha=0.5, label=label)
            drawn.append(y)
        mean, std = (c.mean, c.std) if window == 1 else _across_seeds(drawn)
        ok = np.isfinite(mean)
        label = f"mean of {len(c.per_run)}"
        ax.plot(c.steps[ok], mean[ok], color="black", linewidth=1.8, label=label)
        band = ok & np.isfinite(std)
        if band.any():
            lower, upper = (mean - std)[band], (mean + std)[band]
            ax.fill_between(c.steps[band], lower, upper, color="black", alpha=0.15,
                            linewidth=0, label="mean ± std")  # fmt: skip
        if len(c.steps) >= CLIP_MIN_POINTS and (limits := _robust_limits(drawn)) is not None:
            ax.set_ylim(*limits)
        title = CURVES.get(c.metric, c.metric)
        ax.set_title(f"{title} (rolling median of {window})" if window > 1 else title)
        ax.set_xlabel("env steps")
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
        if i == 0:
            ax.legend(fontsize="small", loc="best")
    buf = io.StringIO()
    # A fixed salt and no date: the same curves give the same bytes.
    with matplotlib.rc_context({"svg.hashsalt": "skeleton-steering"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
