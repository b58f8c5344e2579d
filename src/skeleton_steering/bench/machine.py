"""What machine a benchmark ran on, so its numbers can be compared honestly."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import jax


def describe() -> dict[str, Any]:
    """Device kind, backend, core count and library versions."""
    import mujoco

    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "cpu_cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
    }


def time_compiled(fn: Callable[..., Any], *args: Any, repeats: int = 2) -> tuple[float, float]:
    """(compile seconds, best run seconds) of a jitted `fn` over `repeats` timed runs."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))  # warm-up: first run pays allocation
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - start)
    return compile_s, best
