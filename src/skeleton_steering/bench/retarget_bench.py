"""`bench retarget`: source frames retargeted per second, with the QA of every clip.

Clips are the bundled sample (generated in memory, not timed) or, with `--clips DIR`, every
AMASS clip under DIR (read before timing: reading is excluded, as a warm file cache would make
it; shape files and invalid files are listed and left out). `retarget_clip` is timed over all
of them, best of `repeats`, in this one process: the figure is per core. From it comes the
time an hour of 100 Hz clips would take (the size of KIT's walking subset).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.data.amass import AmassClip, AmassFormatError, ShapeFileError, read_clip
from skeleton_steering.data.retarget import (
    RetargetConfig,
    RetargetError,
    qa_failures,
    retarget_clip,
    summarize,
)
from skeleton_steering.skeleton import model as skel

# The floor retargeting must stay above on one core (source frames per second).
FLOOR_FRAMES_PER_S = 1000.0
KIT_WALK_FRAMES = 3600 * 100  # about an hour of 100 Hz clips


def _sample_clips(rate: float, copies: int) -> list[AmassClip]:
    from skeleton_steering.data.sample import MOTIONS, SUBJECTS, generate_motion

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


def _folder_clips(folder: Path, console: Console) -> list[AmassClip]:
    if not folder.is_dir():
        raise FileNotFoundError(f"--clips {folder}: not a directory")
    clips = []
    for path in sorted(folder.rglob("*.npz")):
        try:
            clips.append(read_clip(path))
        except ShapeFileError:
            console.print(f"[dim]{path}: a shape file, not a clip[/dim]")
        except AmassFormatError as err:
            console.print(f"[yellow]left out: {err}[/yellow]")
    if not clips:
        raise FileNotFoundError(f"--clips {folder}: no readable AMASS clip under it")
    return clips


def run(rate: float, copies: int, repeats: int, console: Console,
        clips_dir: str | None = None) -> dict[str, Any]:
    if clips_dir:
        clips = _folder_clips(Path(clips_dir), console)
        source = str(clips_dir)
    else:
        console.print("generating sample clips ...")
        clips = _sample_clips(rate, copies)
        source = f"bundled sample at {rate:g} Hz x {copies}"
    config = RetargetConfig()
    m = skel.load_mj_model()
    retarget_clip(clips[0], config, m)  # warm-up (model and mapping caches)
    best = float("inf")
    results: list[Any] = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = []
        for clip in clips:
            try:
                results.append(retarget_clip(clip, config, m))
            except RetargetError as err:
                results.append(err)
        best = min(best, time.perf_counter() - start)
    rows = []
    table = Table(title=f"bench retarget: {len(clips)} clips from {source} -> "
                        f"{config.output_frequency():g} Hz")
    for col in ("clip", "frames", "kept", "skating src/out cm/s", "COM acc p95 g",
                "friction p95", "speed var", "clipped %"):
        table.add_column(col, justify="right")
    for clip, res in zip(clips, results, strict=True):
        if isinstance(res, RetargetError):
            rows.append({"path": clip.path, "kept": False, "reason": str(res)})
            table.add_row(Path(clip.path).name, str(clip.frames), "error", "", "", "", "", "")
            continue
        reasons = qa_failures(res.qa, config)
        rows.append({"path": clip.path, "kept": not reasons, "reason": "; ".join(reasons) or None,
                     **res.qa})
        qa = res.qa
        table.add_row(Path(clip.path).name, str(clip.frames), "yes" if not reasons else "no",
                      f"{qa['skating_source_cm_s']:.1f}/{qa['skating_mean_cm_s']:.1f}",
                      f"{qa['com_acc_p95_g']:.2f}", f"{qa['friction_demand_p95']:.2f}",
                      f"{qa['root_speed_variation']:.2f}", f"{100 * qa['clipped_share']:.1f}")
    frames = sum(c.frames for c in clips)
    fps = frames / best
    console.print(table)
    console.print(f"{frames} source frames in {best:.2f} s: {fps:,.0f} source frames/s on one "
                  f"core (floor {FLOOR_FRAMES_PER_S:,.0f}); an hour of 100 Hz clips: "
                  f"{KIT_WALK_FRAMES / fps / 60:.1f} min")
    result = {
        "bench": "retarget",
        "source": source,
        "clips": len(clips),
        "source_frames": frames,
        "source_rates": sorted({round(c.rate, 3) for c in clips}),
        "output_frequency": config.output_frequency(),
        "seconds": best,
        "source_frames_per_s": fps,
        "floor_frames_per_s": FLOOR_FRAMES_PER_S,
        "meets_floor": fps >= FLOOR_FRAMES_PER_S,
        "kit_walk_hour_estimate_s": KIT_WALK_FRAMES / fps,
        "qa": summarize(rows),
        "clips_qa": rows,
        "machine": describe(),
    }
    print(json.dumps(result))
    return result
