"""The gait-cycle figure: hip, knee and ankle over a normalized cycle, policy over demos.

One panel per curve of `gait_analysis.CURVES` (degrees against percent of the cycle from the
foot's touchdown): the demos' mean +- sd at the policy's speed in grey, the policy's in colour,
both sides' strides pooled. Drawn with matplotlib's object API on the Agg canvas (no pyplot, no
GUI backend); returns PNG bytes for the caller to write atomically.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def gait_cycle_png(gait: dict[str, Any], title: str) -> bytes:
    """PNG of the `cycle` of an evaluation's gait section (`gait_fidelity.compare`)."""
    cycle = gait["cycle"]
    labels = cycle["curves"]
    demo_mean, demo_sd = np.asarray(cycle["demo_mean"]), np.asarray(cycle["demo_sd"])
    policy = cycle["policy_mean"]
    phase = np.linspace(0.0, 100.0, demo_mean.shape[1])
    fig = Figure(figsize=(4.0 * len(labels), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    demo_speed = gait["demo"]["matched_speed_mps"]
    for i, label in enumerate(labels):
        ax = fig.add_subplot(1, len(labels), i + 1)
        ax.fill_between(phase, demo_mean[i] - demo_sd[i], demo_mean[i] + demo_sd[i],
                        color="0.6", alpha=0.35, linewidth=0, label="demos ± sd")
        ax.plot(phase, demo_mean[i], color="0.25", linewidth=1.6,
                label=f"demos at {demo_speed:.2f} m/s")
        if policy is not None:
            mean, sd = np.asarray(policy)[i], np.asarray(cycle["policy_sd"])[i]
            ax.fill_between(phase, mean - sd, mean + sd, color="tab:red", alpha=0.25,
                            linewidth=0, label="policy ± sd")
            ax.plot(phase, mean, color="tab:red", linewidth=1.8,
                    label=f"policy ({gait['strides']} strides)")
        ax.set_title(label)
        ax.set_xlabel("gait cycle (% from touchdown)")
        ax.set_ylabel("deg")
        ax.set_xlim(0, 100)
        ax.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize="small", loc="best")
    if policy is None:
        fig.suptitle(f"{title}: no policy strides to show")
    else:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()
