"""Steering videos: the skeleton seen by a following camera, the commanded heading and the
actual velocity drawn as arrows on the floor, speeds and time written on the image.

`render_video(frames, out_path)` writes an H.264 mp4 (atomically) and, beside it, a small GIF
preview with the same stem. Arrow colours (exact in the image: the arrows are emissive, so
lighting cannot change them):

* commanded heading: `COMMANDED_RGB`, pure green, the thicker arrow just above the floor;
* actual planar velocity: `ACTUAL_RGB`, magenta, the thinner arrow above it.

Both point from below the root; their length is `ARROW_METRES_PER_MPS` times the speed (the
commanded arrow's length is the target speed), so equal arrows mean perfect tracking. An
arrow for a speed below `MIN_ARROW_SPEED` is not drawn (no direction to show). The legend's
text uses lighter tints of the two colours, so the exact colours mark only the arrows.

The GL backend is chosen by `gl_backend` (egl, then osmesa, unless `MUJOCO_GL` is set).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console

from skeleton_steering.progress import track
from skeleton_steering.render import offscreen, video_io
from skeleton_steering.skeleton.model import JOINT_NAMES

COMMANDED_RGB: tuple[int, int, int] = (0, 255, 0)
ACTUAL_RGB: tuple[int, int, int] = (255, 0, 255)
ARROW_METRES_PER_MPS = 1.25
MIN_ARROW_SPEED = 0.02
_COMMANDED_HEIGHT, _COMMANDED_WIDTH = 0.02, 0.035
_ACTUAL_HEIGHT, _ACTUAL_WIDTH = 0.07, 0.022
_NQ = 7 + len(JOINT_NAMES) - 1


class FrameError(ValueError):
    """A frame handed to `render_video` is malformed; the message names the frame and field."""


@dataclasses.dataclass(frozen=True)
class Frame:
    qpos: np.ndarray  # (nq,) generalized positions
    target_yaw: float  # commanded heading, world frame, rad
    target_speed: float  # m/s
    velocity_xy: np.ndarray  # actual root planar velocity, world frame, (2,)
    time: float  # s since the start of the recording


@dataclasses.dataclass(frozen=True)
class VideoResult:
    path: Path
    n_frames: int
    preview_path: Path | None


def _is_finite_number(value: object) -> bool:
    # Any scalar float() accepts (Python, NumPy or JAX), but not strings or arrays of many.
    if isinstance(value, str | bytes) or np.ndim(value) != 0:
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def check_frames(frames: Sequence[Frame]) -> None:
    """Raise `FrameError` naming the first frame and field that cannot be rendered."""
    if len(frames) == 0:
        raise FrameError("frames: no frames to render")
    for i, f in enumerate(frames):
        qpos = np.asarray(f.qpos)
        vel = np.asarray(f.velocity_xy)
        if qpos.shape != (_NQ,):
            raise FrameError(f"frames[{i}].qpos: shape {qpos.shape}, expected ({_NQ},)")
        if not np.isfinite(qpos).all():
            raise FrameError(f"frames[{i}].qpos: NaN or infinite values")
        if vel.shape != (2,) or not np.isfinite(vel).all():
            raise FrameError(f"frames[{i}].velocity_xy: expected 2 finite values, got {vel}")
        for name in ("target_yaw", "target_speed", "time"):
            value = getattr(f, name)
            if not _is_finite_number(value):
                raise FrameError(f"frames[{i}].{name}: expected a finite number, got {value!r}")
        if f.target_speed < 0:
            raise FrameError(f"frames[{i}].target_speed: negative ({f.target_speed})")


def frame_arrows(frame: Frame) -> list[offscreen.Arrow]:
    """The commanded-heading and actual-velocity arrows of `frame` (speeds too low omitted)."""
    x, y = float(frame.qpos[0]), float(frame.qpos[1])
    arrows = []
    if frame.target_speed >= MIN_ARROW_SPEED:
        length = ARROW_METRES_PER_MPS * float(frame.target_speed)
        end = (x + length * math.cos(frame.target_yaw), y + length * math.sin(frame.target_yaw))
        arrows.append(offscreen.Arrow((x, y, _COMMANDED_HEIGHT), (*end, _COMMANDED_HEIGHT),
                                      COMMANDED_RGB, _COMMANDED_WIDTH))
    vel = np.asarray(frame.velocity_xy, dtype=np.float64)
    if np.linalg.norm(vel) >= MIN_ARROW_SPEED:
        end = (x + ARROW_METRES_PER_MPS * vel[0], y + ARROW_METRES_PER_MPS * vel[1])
        arrows.append(offscreen.Arrow((x, y, _ACTUAL_HEIGHT), (*end, _ACTUAL_HEIGHT),
                                      ACTUAL_RGB, _ACTUAL_WIDTH))
    return arrows


def _tint(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    # Halfway to white: the same hue as the arrow, never its exact colour.
    r, g, b = (0.5 + 0.5 * c / 255.0 for c in rgb)
    return (r, g, b)


LEGEND = (("commanded heading", _tint(COMMANDED_RGB)), ("actual velocity", _tint(ACTUAL_RGB)))


def frame_text(frame: Frame) -> offscreen.Text:
    """Target speed, actual speed, heading error (when moving) and time of `frame`."""
    vel = np.asarray(frame.velocity_xy, dtype=np.float64)
    speed = float(np.linalg.norm(vel))
    labels = ["target speed", "actual speed"]
    values = [f"{frame.target_speed:.2f} m/s", f"{speed:.2f} m/s"]
    if speed >= 0.1 and frame.target_speed >= MIN_ARROW_SPEED:
        error = math.atan2(vel[1], vel[0]) - frame.target_yaw
        error = (error + math.pi) % (2.0 * math.pi) - math.pi
        labels.append("heading error")
        values.append(f"{math.degrees(error):+.0f} deg")
    labels.append("time")
    values.append(f"{frame.time:.2f} s")
    return offscreen.Text("\n".join(labels), "\n".join(values), LEGEND)


def render_frames(
    frames: Sequence[Frame], width: int, height: int, fps: float, backend: str | None = None,
    console: Console | None = None, description: str = "rendering",
):
    """Yield the RGB image (height, width, 3) uint8 of each frame, in order."""
    check_frames(frames)
    camera = offscreen.FollowCamera()
    with offscreen.SceneRenderer(width, height, backend) as renderer:
        for frame in track(frames, description, console=console):
            qpos = np.asarray(frame.qpos, dtype=np.float64)
            camera.update(qpos, 1.0 / fps)
            yield renderer.render(qpos, camera, frame_arrows(frame), frame_text(frame))


def render_video(
    frames: Sequence[Frame], out_path: Path, *, width: int = 640, height: int = 480,
    fps: float = 50.0, preview: bool = True,
) -> VideoResult:
    """Render `frames` (one video frame each, shown at `fps`) to an H.264 mp4 at `out_path`.

    With `preview`, a GIF with the same stem is written beside it (downscaled, a few frames
    per second, same duration). Both files are written atomically. Raises `FrameError`,
    `video_io.VideoError` (bad size or fps, encoder failure) or `gl_backend.GLBackendError`
    (no way to render here; says what to install), all `ValueError`s.
    """
    out_path = Path(out_path)
    video_io.check_video_args(width, height, fps)
    check_frames(frames)
    if out_path.suffix.lower() != ".mp4":
        raise video_io.VideoError(f"{out_path}: the video is H.264 in mp4; name it .mp4")
    preview_path = out_path.with_suffix(".gif") if preview else None
    images = render_frames(frames, width, height, fps, description=f"render {out_path.name}")
    n = video_io.write_video(images, out_path, width, height, fps, preview_path,
                             n_frames=len(frames))
    return VideoResult(path=out_path, n_frames=n, preview_path=preview_path)
