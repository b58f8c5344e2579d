"""`bench retarget`: source frames retargeted per second, with the QA summary.

Generates the bundled sample clips in memory (not timed), then times `retarget_clip` over all
of them (reading excluded, like a warm file cache would make it), best of `repeats`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.data.amass import AmassClip
from skeleton_steering.data.retarget import RetargetConfig, qa_failures, retarget_clip, summarize
from skeleton_steering.data.sample import MOTIONS, SUBJECTS, generate_motion
from skeleton_steering.skeleton import model as skel

GOAL_FRAMES_PER_S = 5000.0


def _clips(rate: float, copies: int) -> list[AmassClip]:
    m = skel.load_mj_model()
    clips = []
    k = 0
    for _ in range(copies):
        for subject in SUBJECTS:
            for spec in MOTIONS:
                g = generate_motion(spec, rate, subject.size, k, m)
                clips.append(AmassClip(f"sample/{subject.name}/{spec.motion}", g.root_orient,
                                       g.body_pose, g.trans, rate, subject.gender,
                                       np.zeros(16), "SMPL-H"))
                k += 1
    return clips


def run(rate: float, copies: int, repeats: int, console: Console) -> dict[str, Any]:
    console.print(f"generating {copies * len(SUBJECTS) * len(MOTIONS)} sample clips ...")
    clips = _clips(rate, copies)
    config = RetargetConfig()
    m = skel.load_mj_model()
    frames = sum(c.frames for c in clips)
    retarget_clip(clips[0], config, m)  # warm-up (model and mapping caches)
    best = float("inf")
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = [retarget_clip(c, config, m) for c in clips]
        best = min(best, time.perf_counter() - start)
    rows = []
    for clip, res in zip(clips, results, strict=True):
        reasons = qa_failures(res.qa, config)
        rows.append({"path": clip.path, "kept": not reasons, **res.qa})
    qa = summarize(rows)
    fps = frames / best
    table = Table(title=f"bench retarget: {len(clips)} clips, {frames} source frames at "
                        f"{rate:g} Hz -> {config.output_frequency():g} Hz")
    for col in ("source frames/s", "goal", "kept", "penetration max cm", "skating cm/s",
                "clipped %", "root height m"):
        table.add_column(col, justify="right")
    table.add_row(f"{fps:,.0f}", f"{GOAL_FRAMES_PER_S:,.0f}", f"{qa['kept']}/{qa['clips']}",
                  f"{qa.get('penetration_max_cm', float('nan')):.2f}",
                  f"{qa.get('skating_mean_cm_s', float('nan')):.1f}",
                  f"{100 * qa.get('clipped_share', float('nan')):.2f}",
                  f"{qa.get('root_height_min_m', 0):.3f}..{qa.get('root_height_max_m', 0):.3f}")
    console.print(table)
    result = {
        "bench": "retarget",
        "clips": len(clips),
        "source_frames": frames,
        "source_rate": rate,
        "output_frequency": config.output_frequency(),
        "seconds": best,
        "source_frames_per_s": fps,
        "goal_frames_per_s": GOAL_FRAMES_PER_S,
        "meets_goal": fps >= GOAL_FRAMES_PER_S,
        "qa": qa,
        "machine": describe(),
    }
    print(json.dumps(result))
    return result
