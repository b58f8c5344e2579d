"""`bench train`: end-to-end training env steps/s next to bare MJX physics at the same batch.

The training number covers one whole compiled iteration (rollout with policy inference,
style reward, GAE, all PPO and discriminator updates, normalizer and replay updates) divided
into the env steps it collects. The physics number steps the same model, batch and substeps
with random controls and nothing else, in the same process. Their ratio says how much of the
wall time is learning rather than simulation; the goal on a 2-core CPU is >= 0.6.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jp
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.env_bench import _physics_rollout
from skeleton_steering.bench.machine import describe, time_compiled
from skeleton_steering.learn import amp_ppo, data_parallel, expert_source, train, train_config


def run(
    config_path: str | None,
    num_envs: int,
    rollout_length: int,
    iterations: int,
    run_dir: str,
    console: Console,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    if iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {iterations}")
    # --num_envs and --rollout_length win over the same keys among the overrides.
    config = train_config.load(
        config_path,
        [*(overrides or []), f"ppo.num_envs={num_envs}", f"ppo.rollout_length={rollout_length}"],
    )
    # What the compiled iteration really runs, reported below.
    num_envs, rollout_length = config.ppo.num_envs, config.ppo.rollout_length
    expert = expert_source.resolve_expert(config, Path(run_dir), console)
    compiled = train.compiled_for(config, expert)
    learner = compiled.learner
    demo = jp.asarray(expert.disc_pairs)
    state = amp_ppo.init_state(learner, config.seed, demo)
    # Every local device, as `train` uses them (data-parallel over a mesh).
    mesh = data_parallel.make_mesh()
    devices = 1 if mesh is None else mesh.size
    if mesh is not None:
        data_parallel.check_divisible(amp_ppo.split_sizes(config), devices)
        state = data_parallel.place(state, amp_ppo.state_specs(state), mesh)
        demo = data_parallel.place(demo, jax.sharding.PartitionSpec(), mesh)

    console.print(f"compiling the training iteration ({num_envs} envs x {rollout_length} steps)")
    t0 = time.perf_counter()
    step = amp_ppo.make_iteration(learner, mesh, state).lower(state, demo).compile()
    train_compile = time.perf_counter() - t0
    state, _ = step(state, demo)  # warm-up
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(iterations):
        state, metrics = step(state, demo)
    jax.block_until_ready(metrics)
    train_s = (time.perf_counter() - t0) / iterations

    console.print("compiling the bare physics rollout ...")
    env = learner.env
    phys_compile, phys_s = time_compiled(
        _physics_rollout(env, rollout_length), env.mjx_model,
        data_parallel.on_one_device(state.env_state.data),
        jax.random.PRNGKey(1),
    )
    batch = num_envs * rollout_length
    row = {
        "num_envs": num_envs,
        "devices": devices,
        "rollout_length": rollout_length,
        "overrides": list(overrides or []),
        "train_env_steps_per_s": batch / train_s,
        "physics_steps_per_s": batch / phys_s,
        "train_over_physics": phys_s / train_s,
        "train_sim_s_per_s": batch / train_s * env.control_dt,
        "iteration_s": train_s,
        "train_compile_s": train_compile,
        "physics_compile_s": phys_compile,
        "timed_iterations": iterations,
    }
    table = Table(title=f"bench train: {config.env_id}, control {1 / env.control_dt:.0f} Hz")
    for col in ("envs x steps", "train env steps/s", "physics steps/s", "train/physics",
                "train sim-s/s", "s/iteration"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{num_envs} x {rollout_length}",
        f"{row['train_env_steps_per_s']:,.0f}",
        f"{row['physics_steps_per_s']:,.0f}",
        f"{row['train_over_physics']:.2f}",
        f"{row['train_sim_s_per_s']:.1f}",
        f"{train_s:.3f}",
    )
    console.print(table)
    result = {
        "bench": "train",
        "env_id": config.env_id,
        "network": {
            "policy_hidden": list(config.network.policy_hidden),
            "value_hidden": list(config.network.value_hidden),
            "disc_hidden": list(config.network.disc_hidden),
        },
        "ppo_epochs": config.ppo.epochs,
        "disc_epochs": config.amp.epochs,
        **row,
        "machine": describe(),
    }
    print(json.dumps(result))
    return result
