"""`bench render`: video frames per second, rendering alone and rendering + encoding.

Both passes render the same fixed sequence: a synthetic walk with a 90-degree left turn from
the bundled sample generator (deterministic), commanded heading and speed swaying around the
walk's own, with both arrows and the text overlay, as `render_video` draws them. The second
pass is `render_video` itself (mp4 and GIF preview, encoders running in parallel with the
renderer), so its rate is what a user waits for.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.render import gl_backend
from skeleton_steering.render import renderer as render
from skeleton_steering.render.offscreen import FollowCamera, SceneRenderer, root_yaw

RATE = 50.0
WARMUP_FRAMES = 3


def bench_frames(n_frames: int) -> list[render.Frame]:
    """`n_frames` frames at 50 Hz of the sample generator's left turn at 1.1 m/s."""
    from skeleton_steering.data.sample import MotionSpec, generate_motion

    spec = MotionSpec("bench_turn_left", speed=1.1, turn_deg=90.0,
                      duration=max(2.0, n_frames / RATE))
    clip = generate_motion(spec, rate=RATE, seed=0)
    qpos = clip.qpos[:n_frames]
    vel = np.gradient(clip.qpos[:, :2], 1.0 / RATE, axis=0)[:n_frames]
    return [
        render.Frame(qpos=qpos[i], target_yaw=root_yaw(qpos[i]) + 0.3 * math.sin(i / 25.0),
                     target_speed=1.1 + 0.2 * math.sin(i / 40.0), velocity_xy=vel[i],
                     time=i / RATE)
        for i in range(qpos.shape[0])
    ]


def _gl_renderer_name() -> str:
    # Asked while a context is current; tells a GPU from Mesa's software renderer (llvmpipe).
    try:
        from OpenGL import GL

        return GL.glGetString(GL.GL_RENDERER).decode()
    except Exception as err:  # PyOpenGL raises many types when a platform lacks the query
        return f"unknown ({type(err).__name__})"


def _render_only(frames: list[render.Frame], width: int, height: int) -> tuple[float, str]:
    camera = FollowCamera()
    with SceneRenderer(width, height) as renderer:
        name = _gl_renderer_name()
        for frame in frames[:WARMUP_FRAMES]:
            camera.update(np.asarray(frame.qpos, dtype=np.float64), 1.0 / RATE)
            renderer.render(frame.qpos, camera, render.frame_arrows(frame),
                            render.frame_text(frame))
        start = time.perf_counter()
        for frame in frames:
            camera.update(np.asarray(frame.qpos, dtype=np.float64), 1.0 / RATE)
            renderer.render(frame.qpos, camera, render.frame_arrows(frame),
                            render.frame_text(frame))
        return time.perf_counter() - start, name


def run(n_frames: int, width: int, height: int, console: Console) -> dict[str, Any]:
    if n_frames < 1:
        raise ValueError(f"--frames must be at least 1, got {n_frames}")
    backend = gl_backend.active_backend()
    frames = bench_frames(n_frames)
    console.print(f"[bold]bench render[/]: {len(frames)} frames at {width}x{height}, "
                  f"MUJOCO_GL={backend}")
    render_s, gl_name = _render_only(frames, width, height)
    with tempfile.TemporaryDirectory(prefix="bench_render_") as tmp:
        out = Path(tmp) / "bench.mp4"
        start = time.perf_counter()
        result = render.render_video(frames, out, width=width, height=height, fps=RATE)
        encode_s = time.perf_counter() - start
        mp4_bytes = out.stat().st_size
        gif_bytes = result.preview_path.stat().st_size if result.preview_path else 0
    row = {
        "frames": len(frames),
        "width": width,
        "height": height,
        "render_fps": len(frames) / render_s,
        "render_encode_fps": result.n_frames / encode_s,
        "mp4_bytes": mp4_bytes,
        "gif_bytes": gif_bytes,
    }
    table = Table(title=f"bench render: {width}x{height}, {backend} on {gl_name}")
    for col in ("frames", "render frames/s", "render + encode frames/s", "mp4 KiB", "gif KiB"):
        table.add_column(col, justify="right")
    table.add_row(str(row["frames"]), f"{row['render_fps']:.1f}",
                  f"{row['render_encode_fps']:.1f}", f"{mp4_bytes / 1024:.0f}",
                  f"{gif_bytes / 1024:.0f}")
    console.print(table)
    summary = {"bench": "render", "gl_backend": backend, "gl_renderer": gl_name,
               "results": [row], "machine": describe()}
    print(json.dumps(summary))
    return summary
