"""Encoding RGB frames: H.264 mp4 and a GIF preview, each through a pipe into ffmpeg.

The ffmpeg binary is the one `imageio-ffmpeg` ships, so no system ffmpeg is needed. We start
the process ourselves rather than through `imageio_ffmpeg.write_frames`, which neither
reports ffmpeg's exit status nor keeps its error output; a failed encode must raise an error
that says why, and must leave no half-written file. Each output is written to a temp file in
its target directory and renamed over the target only after every encoder has succeeded.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

# H.264 in yuv420p plays everywhere (browsers, slides); faststart lets it play while loading.
MP4_ARGS = ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20", "-preset", "fast",
            "-movflags", "+faststart", "-f", "mp4")
PREVIEW_WIDTH = 320
PREVIEW_FPS = 8.0
PREVIEW_MAX_FRAMES = 240
MAX_SIZE = 4096


class VideoError(ValueError):
    """Bad video parameters or a failed encode; the message names the file or the value."""


def check_video_args(width: int, height: int, fps: float) -> None:
    """Raise `VideoError` unless the size is even, positive, at most MAX_SIZE, fps positive."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int | np.integer) or not 16 <= value <= MAX_SIZE:
            raise VideoError(f"{name} must be an integer from 16 to {MAX_SIZE}, got {value!r}")
        if value % 2:
            raise VideoError(f"{name} must be even (H.264 in yuv420p), got {value}")
    if isinstance(fps, bool) or not (isinstance(fps, int | float | np.integer | np.floating)
                                     and math.isfinite(fps) and fps > 0):
        raise VideoError(f"fps must be a positive number, got {fps!r}")


def preview_stride(n_frames: int, fps: float) -> int:
    """Every how many frames the preview keeps one: about PREVIEW_FPS, at most
    PREVIEW_MAX_FRAMES frames in all (long videos get a sparser preview, same duration)."""
    stride = max(1, round(fps / PREVIEW_FPS))
    return max(stride, math.ceil(n_frames / PREVIEW_MAX_FRAMES))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _rate(fps: float) -> str:
    return str(Fraction(fps).limit_denominator(1001))


class _FfmpegPipe:
    """One ffmpeg process reading raw RGB frames from stdin into a temp file beside `target`."""

    def __init__(self, target: Path, width: int, height: int, fps: float,
                 output_args: tuple[str, ...]) -> None:
        self.target = target
        self.frame_bytes = width * height * 3
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        # mkstemp makes the file private (0600); a video is meant to be shared like any file
        # the user creates, so give it the mode the umask allows.
        os.chmod(tmp, 0o666 & ~_umask())
        self.tmp = Path(tmp)
        # Lives as long as the process; closed in publish() or abort().
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        # Imported here so that training and evaluation never need the ffmpeg package.
        import imageio_ffmpeg

        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", _rate(fps), "-i", "-", "-an", *output_args, str(self.tmp)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._stderr)

    def _error(self, what: str) -> VideoError:
        self._stderr.seek(0)
        detail = self._stderr.read().decode(errors="replace").strip().splitlines()
        tail = "; ".join(detail[-3:]) or "no error output"
        return VideoError(f"{self.target}: ffmpeg {what} ({tail})")

    def write(self, image: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            raise self._error(f"stopped early with status {self._proc.returncode}") from None

    def finish(self) -> None:
        """Close the input and wait; raise `VideoError` if ffmpeg failed."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise self._error(f"failed with status {self._proc.returncode}")
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())

    def publish(self) -> Path:
        os.replace(self.tmp, self.target)
        self._stderr.close()
        return self.target

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        self.tmp.unlink(missing_ok=True)
        self._stderr.close()


def gif_args(width: int) -> tuple[str, ...]:
    # One palette for the whole clip (palettegen sees every frame first), ordered dithering:
    # stable colours from frame to frame and a small file.
    scale = min(PREVIEW_WIDTH, width)
    graph = (f"scale={scale}:-1:flags=area,split[a][b];"
             "[a]palettegen=max_colors=128:stats_mode=diff[p];"
             "[b][p]paletteuse=dither=bayer:bayer_scale=3")
    return ("-vf", graph, "-loop", "0", "-f", "gif")


def write_video(
    images: Iterable[np.ndarray], out_path: Path, width: int, height: int, fps: float,
    preview_path: Path | None = None, n_frames: int | None = None,
) -> int:
    """Encode `images` ((height, width, 3) uint8 each) to `out_path` (H.264 mp4) and, when
    given, a GIF preview; return the number of frames written.

    `n_frames` (the expected count) sets the preview's frame spacing. Either both files
    appear complete, or neither is touched (existing files stay as they were).
    """
    check_video_args(width, height, fps)
    stride = preview_stride(n_frames or 0, fps)
    pipes = [_FfmpegPipe(Path(out_path), width, height, fps, MP4_ARGS)]
    if preview_path is not None:
        pipes.append(_FfmpegPipe(Path(preview_path), width, height, fps / stride,
                                 gif_args(width)))
    count = 0
    try:
        for i, image in enumerate(images):
            if image.shape != (height, width, 3) or image.dtype != np.uint8:
                raise VideoError(f"{out_path}: frame {i} is {image.dtype} {image.shape}, "
                                 f"expected uint8 ({height}, {width}, 3)")
            pipes[0].write(image)
            if len(pipes) > 1 and i % stride == 0:
                pipes[1].write(image)
            count += 1
        if count == 0:
            raise VideoError(f"{out_path}: no frames to write")
        for pipe in pipes:
            pipe.finish()
    except BaseException:
        for pipe in pipes:
            pipe.abort()
        raise
    finally:
        close = getattr(images, "close", None)
        if close is not None:
            close()  # a generator holding a GL context releases it now, not at exit
    for pipe in pipes:
        pipe.publish()
    return count
