"""`mujoco.mjx`, imported once without the line it prints when the optional Warp backend is absent.

MJX reports a missing `warp` package with a bare `print` to stdout at import time. Our commands
print results (the benchmarks' last line is JSON) on stdout, so that line is kept out of it;
MJX's JAX backend, the one we use, is unaffected.
"""

from __future__ import annotations

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):
    from mujoco import mjx

__all__ = ["mjx"]
