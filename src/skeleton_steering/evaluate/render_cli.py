"""`skeleton-steering render`: a steering video of an expert trajectory or of a checkpoint.

`--trajectory FILE` renders a trajectory file (ours or LocoMuJoCo's) to inspect retargeting:
the actual-velocity arrow is the root's own planar velocity and the commanded-heading arrow
points where the pelvis faces, as long as the root's speed averaged over one second, so the
two arrows part where the root drifts sideways. `--model_path CKPT` rolls out a trained
policy through `eval_cli.record_video`. `cli.py` registers the parser and hands the parsed
arguments to `run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from skeleton_steering.arg_types import count, index, seed
from skeleton_steering.evaluate import eval_seeds
from skeleton_steering.io_utils import check_writable_file
from skeleton_steering.render.renderer import Frame, render_video
from skeleton_steering.render.video_io import VideoError, check_video_args

DEFAULT_OUT_DIR = Path("results/videos")
DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 480
DEFAULT_N_STEPS = 1000
DEFAULT_SCHEDULE = "scripted"
SPEED_WINDOW_S = 1.0


class RenderCliError(ValueError):
    """Bad command-line arguments for `render` (the message names the flag)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `render` subcommand to `sub`."""
    render = sub.add_parser(
        "render", help="render a steering video (mp4 + GIF preview)",
        description="Renders an expert trajectory (--trajectory) or a trained policy "
        "(--model_path) to an H.264 mp4 with the commanded heading (green) and the actual "
        "velocity (magenta) drawn as arrows, plus a GIF preview beside it.",
    )
    source = render.add_mutually_exclusive_group(required=True)
    source.add_argument("--trajectory", help="trajectory .npz (LocoMuJoCo keys)")
    source.add_argument("--model_path", help="checkpoint of a trained policy")
    render.add_argument("--clip", type=index, default=None,
                        help="with --trajectory: render only this clip (0-based)")
    render.add_argument("--n_steps", type=count, default=DEFAULT_N_STEPS,
                        help="with --model_path: control steps to record")
    render.add_argument("--schedule", default=DEFAULT_SCHEDULE,
                        help="with --model_path: command schedule (random, scripted, straight)")
    render.add_argument("--seed", type=seed, default=eval_seeds.HELD_OUT_SEED,
                        help="with --model_path: rollout seed (default: the held-out seed)")
    render.add_argument("--out", default=None,
                        help="output .mp4 (default results/videos/<input stem>.mp4)")
    render.add_argument("--width", type=int, default=None, help=f"default {DEFAULT_WIDTH}")
    render.add_argument("--height", type=int, default=None, help=f"default {DEFAULT_HEIGHT}")
    render.add_argument("--fps", type=float, default=None,
                        help="video frame rate (default: the trajectory's frequency)")
    render.add_argument("--no_preview", action="store_true", help="skip the GIF preview")


def _centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of `values` over a centred window of `window` samples, shrunk at the ends."""
    kernel = np.ones(window)
    sums = np.convolve(values, kernel, mode="same")
    counts = np.convolve(np.ones_like(values), kernel, mode="same")
    return sums / counts


def trajectory_frames(path: str | Path, fps: float | None = None,
                      clip: int | None = None) -> tuple[list[Frame], float]:
    """Frames of the trajectory at `path` (one clip or all) and the frame rate to show them at.

    With `fps` other than the trajectory's frequency, frames are picked at the video's times
    (nearest frame), so the video plays in real time.
    """
    from skeleton_steering.data.trajectory import load_trajectory
    from skeleton_steering.render.offscreen import root_yaw

    traj = load_trajectory(path)
    if clip is not None and not 0 <= clip < traj.n_clips:
        raise RenderCliError(f"--clip {clip}: {path} holds clips 0..{traj.n_clips - 1}")
    clips = range(traj.n_clips) if clip is None else [clip]
    window = max(1, round(SPEED_WINDOW_S * traj.frequency))
    qpos_parts, vel_parts, speed_parts = [], [], []
    for i in clips:
        sl = traj.clip_slice(i)
        vel = traj.qvel[sl, :2].astype(np.float64)
        qpos_parts.append(traj.qpos[sl].astype(np.float64))
        vel_parts.append(vel)
        speed_parts.append(_centred_mean(np.linalg.norm(vel, axis=1), window))
    qpos = np.concatenate(qpos_parts)
    vel = np.concatenate(vel_parts)
    speed = np.concatenate(speed_parts)
    fps = float(traj.frequency if fps is None else fps)
    n = qpos.shape[0]
    # The epsilon keeps the last frame when (n - 1) / frequency * fps is whole but rounds down.
    times = np.arange(int(np.floor((n - 1) / traj.frequency * fps + 1e-9)) + 1) / fps
    index = np.minimum(np.rint(times * traj.frequency).astype(int), n - 1)
    frames = [
        Frame(qpos=qpos[k], target_yaw=root_yaw(qpos[k]), target_speed=float(speed[k]),
              velocity_xy=vel[k], time=float(t))
        for t, k in zip(times, index, strict=True)
    ]
    return frames, fps


def _default_out(source: str) -> Path:
    return DEFAULT_OUT_DIR / f"{Path(source.rstrip('/')).stem}.mp4"


def _record_checkpoint(args: argparse.Namespace, out: Path) -> object:
    try:
        from skeleton_steering.evaluate.eval_cli import record_video
    except ImportError as err:
        raise RenderCliError(
            f"--model_path needs skeleton_steering.evaluate.eval_cli.record_video, which cannot be "
            f"imported ({err})"
        ) from err
    # Render settings are passed only when given, so eval's own defaults hold otherwise.
    given = {name: getattr(args, name) for name in ("width", "height", "fps")
             if getattr(args, name) is not None}
    return record_video(Path(args.model_path), out, n_steps=args.n_steps,
                        schedule=args.schedule, seed=args.seed, preview=not args.no_preview,
                        **given)


def _check_video_flags(args: argparse.Namespace) -> None:
    """The encoder's own checks, made on the flags before any work (named as flags)."""
    width = DEFAULT_WIDTH if args.width is None else args.width
    height = DEFAULT_HEIGHT if args.height is None else args.height
    try:
        check_video_args(width, height, 1.0 if args.fps is None else args.fps)
    except VideoError as err:
        raise RenderCliError(f"--{err}") from err  # the message starts with the flag's name


def run(args: argparse.Namespace, console: Console) -> int:
    """Render the video the flags ask for; returns the exit status."""
    _check_video_flags(args)
    source = args.trajectory or args.model_path
    out = Path(args.out) if args.out else _default_out(source)
    check_writable_file(out)  # before the rollout or the frames, not after
    if args.trajectory is not None:
        frames, fps = trajectory_frames(args.trajectory, args.fps, args.clip)
        result: object = render_video(
            frames, out, width=DEFAULT_WIDTH if args.width is None else args.width,
            height=DEFAULT_HEIGHT if args.height is None else args.height, fps=fps,
            preview=not args.no_preview)
    else:
        if args.clip is not None:
            raise RenderCliError("--clip: only with --trajectory")
        result = _record_checkpoint(args, out)
    # record_video may hand back the VideoResult or only the video's path.
    path = result if isinstance(result, Path) else getattr(result, "path", out)
    n = getattr(result, "n_frames", None)
    preview = getattr(result, "preview_path", None)
    if preview is None and not args.no_preview and Path(path).with_suffix(".gif").is_file():
        preview = Path(path).with_suffix(".gif")
    console.print(f"wrote {escape(str(path))}" + (f" ({n} frames)" if n is not None else "")
                  + (f" and preview {escape(str(preview))}" if preview else ""), soft_wrap=True)
    return 0
