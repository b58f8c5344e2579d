#!/usr/bin/env python3
"""What only a GPU shows, in one run that writes one JSON: throughput at thousands of envs, a
short real training at the GPU preset's sizes, and an evaluation of what it learned.

Run it on a machine with an NVIDIA GPU and the CUDA lock installed (the container, or a venv
from envs/requirements-cuda.lock plus `pip install --no-deps -e .`), from the repository root:

    python scripts/gpu_check.py --out results/gpu_check.json [--train_seconds 240]

Every step is a `skeleton-steering` command (the same ones the README documents); their last
JSON lines are collected. Nothing here is needed by the tests or CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CLI = [sys.executable, "-m", "skeleton_steering.cli"]

from skeleton_steering.io_utils import atomic_write_text  # noqa: E402


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30)
        info["gpu"] = smi.stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        info["gpu"] = f"nvidia-smi failed: {err}"
    probe = ("import jax, mujoco, flax, optax; print(jax.default_backend()); "
             "print(jax.__version__, mujoco.__version__, flax.__version__, optax.__version__, "
             "jax.devices()[0])")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300)
    lines = proc.stdout.strip().splitlines()
    info["backend"] = lines[0] if len(lines) == 2 else None
    info["versions"] = lines[1] if len(lines) == 2 else proc.stderr[-1000:]
    info["cpu_cores"] = os.cpu_count()
    return info


def write(results: dict[str, Any], out: Path) -> None:
    """After every step, atomically: a run cut short still leaves what it measured."""
    atomic_write_text(out, json.dumps(results, indent=1))


def step(name: str, args: list[str], timeout: float, results: dict[str, Any],
         out: Path) -> None:
    t0 = time.perf_counter()
    print(f"== {name}: {' '.join(args)}", flush=True)
    try:
        proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        results[name] = {"error": f"timed out after {timeout:.0f} s"}
        write(results, out)
        return
    entry: dict[str, Any] = {"exit": proc.returncode, "wall_s": time.perf_counter() - t0}
    entry["result"] = last_json(proc.stdout)
    if proc.returncode != 0:
        entry["stderr_tail"] = proc.stderr[-2000:]
    results[name] = entry
    write(results, out)
    print(json.dumps(entry)[:2000], flush=True)


def gpu_overrides() -> list[str]:
    # Imported here: it loads JAX and the model, which the probe above keeps out of this process.
    from skeleton_steering.bench.sizes_bench import gpu_overrides as overrides

    return overrides(ROOT / "config" / "gpu.yaml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "results") + "/gpu_check.json")
    parser.add_argument("--train_seconds", type=float, default=240.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[4096, 8192, 16384])
    parser.add_argument("--eval_episodes", type=int, default=64)
    parser.add_argument("--cache_dir", default=None,
                        help="expert cache for the training (default: the training builds the "
                             "bundled sample's in its run dir)")
    args = parser.parse_args()
    out_json = Path(args.out)
    results: dict[str, Any] = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "machine": machine()}
    print(json.dumps(results["machine"]), flush=True)
    if results["machine"]["backend"] != "gpu":
        print("no GPU backend: stopping before the benchmarks", flush=True)
        write(results, out_json)
        return 1
    preset = gpu_overrides()
    batches = [str(b) for b in args.batches]
    step("bench_env", ["bench", "env", "--batch", *batches, "--steps", "50", "--no-native"],
         900, results, out_json)
    step("bench_train", ["bench", "train", "--num_envs", "4096", "--iterations", "5", *preset],
         900, results, out_json)
    run_dir = ROOT / "results" / "gpu_check" / "run"
    # A time-boxed training at the GPU preset's sizes (compile time comes on top).
    step("train", ["train", "--run_dir", str(run_dir), "--seed", "0", "--no_progress",
                   "--max_minutes", str(args.train_seconds / 60), *preset,
                   "eval.every=25", "run.checkpoint_every=25",
                   *([f"data.cache_dir={args.cache_dir}"] if args.cache_dir else [])],
         args.train_seconds + 900, results, out_json)
    model = run_dir / "policy_latest.msgpack"
    if model.is_file():
        out = ROOT / "results" / "gpu_check" / "eval.json"
        step("eval", ["eval", "--model_path", str(model), "--n_steps", "1500", "--episodes",
                      str(args.eval_episodes), "--deterministic", "--no_progress",
                      "--out", str(out)], 900, results, out_json)
        if out.is_file():
            results["eval"]["summary"] = json.loads(out.read_text())["metrics"]
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        rows = metrics.read_text().splitlines()
        results["train"]["metrics_first_last"] = [rows[0], rows[1] if len(rows) > 1 else "",
                                                  rows[-1]]
    write(results, out_json)
    print(f"wrote {out_json}")
    steps = [v for v in results.values() if isinstance(v, dict) and ("exit" in v or "error" in v)]
    return 0 if all(v.get("exit") == 0 for v in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
