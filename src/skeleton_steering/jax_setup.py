"""Process-wide JAX settings shared by the commands that run JAX (train, eval, render, bench)."""

from __future__ import annotations

import os

import jax


def configure_jax(*, deterministic: bool = False, cpu: bool = False,
                  debug_nans: bool = False) -> None:
    """Process-wide JAX settings; call before JAX runs anything (the CLI does, first thing).

    Deterministic: XLA's deterministic GPU ops (scatter/reductions without atomics) and
    full-precision float32 matmuls (no TF32), so the same seed on the same device repeats.
    """
    if deterministic:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()
        jax.config.update("jax_default_matmul_precision", "highest")
    if cpu:
        jax.config.update("jax_platforms", "cpu")
    if debug_nans:
        jax.config.update("jax_debug_nans", True)
