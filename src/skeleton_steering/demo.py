"""`skeleton-steering demo`: step the steering environment and write a summary.

Runs a batch of environments with random torques for a few simulated seconds, checks that the
physics stays finite, and records episodes, falls, commands and task reward in
`<out>/summary.json` (written atomically). With `--cache DIR` (an expert cache from
`skeleton-steering cache`), episodes start from random mocap frames (reference-state
initialization); without it, from the standing pose.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jp
from rich.console import Console
from rich.progress import Progress

from skeleton_steering.bench.machine import describe
from skeleton_steering.env.registry import make_env
from skeleton_steering.io_utils import atomic_write_text, check_writable_file


def run(
    out: str,
    n_envs: int,
    n_steps: int,
    seed: int,
    env_id: str,
    console: Console,
    cache_dir: str | None = None,
) -> dict:
    if n_envs < 1 or n_steps < 1:
        raise ValueError(f"--envs and --steps must be >= 1, got {n_envs} and {n_steps}")
    path = check_writable_file(Path(out) / "summary.json")
    qpos = qvel = None
    if cache_dir:
        from skeleton_steering.data.cache import load_expert_cache

        traj = load_expert_cache(cache_dir).traj
        qpos, qvel = traj.qpos, traj.qvel
    env = make_env(env_id, expert_qpos=qpos, expert_qvel=qvel)
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))
    rng = jax.random.PRNGKey(seed)
    state = reset(jax.random.split(rng, n_envs))
    totals = {"reward": 0.0, "done": 0.0, "fell": 0.0, "nonfinite": 0.0, "command_changes": 0.0}
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("stepping (first step compiles)", total=n_steps)
        for _ in range(n_steps):
            rng, key = jax.random.split(rng)
            action = jax.random.uniform(key, (n_envs, env.action_size), minval=-0.3, maxval=0.3)
            prev_yaw = state.info["target_yaw"]
            state = step(state, action)
            totals["reward"] += float(state.reward.mean())
            totals["done"] += float(state.done.sum())
            totals["fell"] += float(state.metrics["fell"].sum())
            totals["nonfinite"] += float(state.metrics["nonfinite"].sum())
            changed = (state.info["target_yaw"] != prev_yaw) & (state.done == 0)
            totals["command_changes"] += float(jp.sum(changed))
            progress.advance(task)
    wall = time.perf_counter() - start
    summary = {
        "env_id": env_id,
        "initial_states": f"{len(qpos)} expert frames from {cache_dir}"
        if cache_dir
        else "standing",
        "envs": n_envs,
        "control_steps": n_steps,
        "control_hz": 1.0 / env.control_dt,
        "observation_size": env.observation_size,
        "action_size": env.action_size,
        "mean_task_reward_per_step": totals["reward"] / n_steps,
        "episodes_ended": int(totals["done"]),
        "falls": int(totals["fell"]),
        "nonfinite_resets": int(totals["nonfinite"]),
        "command_changes_inside_episodes": int(totals["command_changes"]),
        "wall_seconds_including_compile": wall,
        "machine": describe(),
    }
    atomic_write_text(path, json.dumps(summary, indent=2))
    console.print_json(json.dumps(summary))
    console.print(f"wrote {path}")
    return summary
