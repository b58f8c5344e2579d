"""`bench env`: environment step rate next to bare MJX physics and native MuJoCo.

All three step the same model at the same batch and substeps from the same start states, so
the ratio env / physics measures what observation, reward, commands and auto-reset cost.
With `--setting` (repeatable, `bench physics`'s syntax) each physics setting is measured in
turn, and every row also gives its env steps/s over the first setting's at the same batch.
"""

from __future__ import annotations

import dataclasses
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
from skeleton_steering.bench.physics_bench import describe_setting, parse_setting
from skeleton_steering.env.env_config import EnvConfig
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
    batches: Sequence[int], steps: int, env_id: str, native: bool, console: Console,
    settings: Sequence[str] = (),
) -> dict[str, Any]:
    base = EnvConfig()
    physics = [(text, parse_setting(text, base.physics)) for text in settings]
    rows = []
    for text, phys in physics or [("", base.physics)]:
        env = make_env(env_id, dataclasses.replace(base, physics=phys))
        console.print(f"[bold]{describe_setting(phys)}[/]")
        rows += _measure_setting(env, batches, steps, native, console,
                                 setting=text, setting_text=describe_setting(phys))
    for row in rows:
        first = next(r for r in rows if r["batch"] == row["batch"])
        row["env_steps_vs_first"] = row["env_steps_per_s"] / first["env_steps_per_s"]

    multi = len(physics) > 1
    table = Table(title=f"bench env: {env_id} (steps = control steps)")
    columns = ["setting"] if multi else []
    columns += ["batch", "env steps/s", "physics steps/s", "env/physics", "env sim-s/s",
                "native steps/s"]
    if multi:
        columns.append("env steps/s vs first")
    for col in columns:
        table.add_column(col, justify="right")
    for r in rows:
        cells = [r["setting_text"]] if multi else []
        cells += [
            str(r["batch"]),
            f"{r['env_steps_per_s']:,.0f}",
            f"{r['physics_steps_per_s']:,.0f}",
            f"{r['env_over_physics']:.2f}",
            f"{r['env_sim_s_per_s']:.1f}",
            f"{r.get('native_steps_per_s', float('nan')):,.0f}",
        ]
        if multi:
            cells.append(f"{r['env_steps_vs_first']:.2f}x")
        table.add_row(*cells)
    console.print(table)
    first_physics = physics[0][1] if physics else base.physics
    result = {
        "bench": "env",
        "env_id": env_id,
        "control_hz": 1 / first_physics.control_dt,
        "physics_timestep": first_physics.timestep,
        "n_substeps": first_physics.n_substeps,
        "results": rows,
        "machine": describe(),
    }
    print(json.dumps(result))
    return result


def _measure_setting(env: SteeringEnv, batches: Sequence[int], steps: int, native: bool,
                     console: Console, **labels: str) -> list[dict[str, Any]]:
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
            **labels,
            "control_hz": 1 / control_dt,
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
    return rows
