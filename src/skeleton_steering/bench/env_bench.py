"""`bench env`: environment step rate next to bare MJX physics and native MuJoCo.

All three step the same model at the same batch and substeps from the same start states, so
the ratio env / physics measures what observation, reward, commands and auto-reset cost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import jax
import mujoco
import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe, time_compiled
from skeleton_steering.env.registry import make_env
from skeleton_steering.env.steering_env import SteeringEnv
from skeleton_steering.skeleton.mjx_import import mjx


def _env_rollout(env: SteeringEnv, steps: int):
    def run(state, rng):
        def body(state, key):
            action = jax.random.uniform(
                key, (state.obs.shape[0], env.action_size), minval=-0.3, maxval=0.3
            )
            return jax.vmap(env.step)(state, action), None

        state, _ = jax.lax.scan(body, state, jax.random.split(rng, steps))
        return state

    return run


def _physics_rollout(env: SteeringEnv, steps: int):
    n_sub = env.config.physics.n_substeps

    def run(mx, data, rng):
        def body(data, key):
            ctrl = jax.random.uniform(
                key, (data.qpos.shape[0], env.action_size), minval=-0.3, maxval=0.3
            )

            def sub(d, _):
                return jax.vmap(mjx.step, in_axes=(None, 0))(mx, d.replace(ctrl=ctrl)), None

            data, _ = jax.lax.scan(sub, data, None, length=n_sub)
            return data, None

        data, _ = jax.lax.scan(body, data, jax.random.split(rng, steps))
        return data

    return run


def _native_rollout(env: SteeringEnv, batch: int, steps: int) -> tuple[float, int]:
    from mujoco import rollout

    m = env.mj_model
    threads = os.cpu_count() or 1
    datas = [mujoco.MjData(m) for _ in range(threads)]
    state0 = np.zeros((batch, mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)))
    mujoco.mj_getState(m, datas[0], state0[0], mujoco.mjtState.mjSTATE_FULLPHYSICS)
    state0[:] = state0[0]
    n_phys = steps * env.config.physics.n_substeps
    rng = np.random.default_rng(0)
    ctrl = rng.uniform(-0.3, 0.3, (batch, n_phys, m.nu))
    rollout.rollout(m, datas, state0, ctrl[:, :2])  # warm-up: thread pool start
    start = time.perf_counter()
    rollout.rollout(m, datas, state0, ctrl)
    return time.perf_counter() - start, threads


def run(
    batches: Sequence[int], steps: int, env_id: str, native: bool, console: Console
) -> dict[str, Any]:
    env = make_env(env_id)
    control_dt = env.control_dt
    rows = []
    for batch in batches:
        keys = jax.random.split(jax.random.PRNGKey(0), batch)
        state = jax.jit(jax.vmap(env.reset))(keys)
        rng = jax.random.PRNGKey(1)
        console.print(f"[bold]batch {batch}[/]: compiling env rollout ...")
        env_compile, env_s = time_compiled(_env_rollout(env, steps), state, rng)
        console.print(f"[bold]batch {batch}[/]: compiling bare physics rollout ...")
        phys_compile, phys_s = time_compiled(
            _physics_rollout(env, steps), env.mjx_model, state.data, rng
        )
        row = {
            "batch": batch,
            "steps": steps,
            "env_steps_per_s": batch * steps / env_s,
            "physics_steps_per_s": batch * steps / phys_s,
            "env_compile_s": env_compile,
            "physics_compile_s": phys_compile,
        }
        row["env_sim_s_per_s"] = row["env_steps_per_s"] * control_dt
        row["physics_sim_s_per_s"] = row["physics_steps_per_s"] * control_dt
        row["env_over_physics"] = row["env_steps_per_s"] / row["physics_steps_per_s"]
        if native and jax.default_backend() == "cpu":
            native_s, threads = _native_rollout(env, batch, steps)
            row["native_steps_per_s"] = batch * steps / native_s
            row["native_threads"] = threads
        rows.append(row)

    table = Table(
        title=f"bench env: {env_id}, control {1 / control_dt:.0f} Hz (steps = control steps)"
    )
    for col in (
        "batch",
        "env steps/s",
        "physics steps/s",
        "env/physics",
        "env sim-s/s",
        "native steps/s",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["batch"]),
            f"{r['env_steps_per_s']:,.0f}",
            f"{r['physics_steps_per_s']:,.0f}",
            f"{r['env_over_physics']:.2f}",
            f"{r['env_sim_s_per_s']:.1f}",
            f"{r.get('native_steps_per_s', float('nan')):,.0f}",
        )
    console.print(table)
    result = {
        "bench": "env",
        "env_id": env_id,
        "control_hz": 1 / control_dt,
        "physics_timestep": env.config.physics.timestep,
        "n_substeps": env.config.physics.n_substeps,
        "results": rows,
        "machine": describe(),
    }
    print(json.dumps(result))
    return result
