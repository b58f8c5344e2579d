"""Run by test_data_parallel.py in a process of its own, with two CPU devices (XLA_FLAGS must be
set before jax starts): trains the tiny config for one iteration on 2 devices and on 1, then
resumes each on the other device count for a second iteration, and prints, as JSON, the largest
difference of every checkpoint array between the two runs after each iteration. Each device
count compiles once (train caches the compiled iteration per device count)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Two host devices; LLVM's cheapest code generation: it cuts compile time by a fifth, and both
# device counts are compiled the same way, which is what the comparison needs.
os.environ["XLA_FLAGS"] = ("--xla_force_host_platform_device_count=2 "
                           "--xla_backend_optimization_level=0 "
                           "--xla_llvm_disable_expensive_passes=true")
os.environ["JAX_PLATFORMS"] = "cpu"

import jax
import numpy as np
from rich.console import Console

from skeleton_steering import jax_setup
from skeleton_steering.learn import checkpoint, train, train_config


def _relative_gaps(a: Path, b: Path) -> dict[str, float]:
    """Per array: max |a - b| / max(|a|, 1e-3) over the two checkpoints' state arrays."""
    x, y = checkpoint.load(a).arrays, checkpoint.load(b).arrays
    gaps = {}
    for key, value in x.items():
        if value.size == 0 or value.dtype.kind not in "fiu":
            continue
        u, v = value.astype(np.float64), y[key].astype(np.float64)
        gaps[key] = float(np.max(np.abs(u - v)) / max(float(np.max(np.abs(u))), 1e-3))
    return gaps


def main(config_path: str, out_dir: str) -> None:
    jax_setup.configure_jax(deterministic=True)
    assert jax.device_count() == 2, jax.devices()
    config = train_config.load(config_path, ["eval.every=0", "run.iterations=1",
                                             "run.checkpoint_every=1"])
    longer = train_config.load(config_path, ["eval.every=0", "run.iterations=2",
                                             "run.checkpoint_every=1"])
    out = Path(out_dir)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    two, one = out / "two_then_one", out / "one_then_two"
    train.run(config, two, devices=2, console=quiet, show_progress=False)
    train.run(config, one, devices=1, console=quiet, show_progress=False)
    first = _relative_gaps(two / checkpoint.periodic_name(1), one / checkpoint.periodic_name(1))
    r1 = train.run(longer, two, devices=1, resume=True, console=quiet, show_progress=False)
    r2 = train.run(longer, one, devices=2, resume=True, console=quiet, show_progress=False)
    second = _relative_gaps(two / checkpoint.periodic_name(2), one / checkpoint.periodic_name(2))
    print(json.dumps({"first": first, "second": second,
                      "iterations": [r1.iteration, r2.iteration]}))


if __name__ == "__main__":
    main(*sys.argv[1:])
