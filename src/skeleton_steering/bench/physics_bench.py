"""`bench physics`: blow-ups and cost of each physics setting, per control mode.

For every (control mode, physics setting) pair it steps the full steering environment (with
its auto-reset, from the expert frames when a cache is given) for `seconds` of simulated time
in `envs` parallel environments, under random actions (Gaussian, each `--action_std`, clipped
to [-1, 1]) and, with `--checkpoint`, under that policy's sampled actions. It counts
non-finite states and exploding ones (any body faster than 20 m/s over a control step), the
largest finite body speed, falls, and times the same rollout (compilation excluded) for the
cost in env steps/s. The setting to use is the cheapest one with zero blow-ups in every row of
its control mode; the last line is one JSON object with all rows and that choice.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jp
import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.env.control import ControlConfig
from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.env.registry import make_env
from skeleton_steering.env.steering_env import SteeringEnv
from skeleton_steering.progress import print_wide
from skeleton_steering.skeleton import model as skel
from skeleton_steering.skeleton.physics import PhysicsConfig

# Today's setting first; then the cheaper fixes (implicit damping, more solver iterations)
# before the expensive one (a finer timestep).
DEFAULT_SETTINGS = (
    "hz=150,substeps=3,iterations=1,integrator=euler",
    "hz=150,substeps=3,iterations=1,integrator=implicitfast",
    "hz=150,substeps=3,iterations=4,integrator=implicitfast",
    "hz=300,substeps=6,iterations=1,integrator=implicitfast",
)


class SettingError(ValueError):
    """A `--setting` string is malformed."""


def parse_setting(text: str, base: PhysicsConfig | None = None) -> PhysicsConfig:
    """`hz=150,substeps=3,iterations=1,integrator=euler[,ls_iterations=4]` plus optional
    `damping=actuator|joint` and `legs=on|off` -> config.

    Keys left out keep `base`'s values.
    """
    config = base or PhysicsConfig()
    fields: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise SettingError(f"setting '{text}': '{part}' is not key=value")
        try:
            if key == "hz":
                fields["timestep"] = 1.0 / float(value)
            elif key == "substeps":
                fields["n_substeps"] = int(value)
            elif key == "iterations":
                fields["solver_iterations"] = int(value)
            elif key == "ls_iterations":
                fields["ls_iterations"] = int(value)
            elif key == "integrator":
                if value not in ("euler", "implicitfast"):
                    raise SettingError(f"setting '{text}': integrator must be euler|implicitfast")
                fields["integrator"] = value
            elif key == "damping":
                if value not in ("actuator", "joint"):
                    raise SettingError(f"setting '{text}': damping must be actuator|joint")
                fields["servo_damping"] = value
            elif key == "legs":
                if value not in ("on", "off"):
                    raise SettingError(f"setting '{text}': legs must be on|off")
                fields["leg_contacts"] = value == "on"
            else:
                raise SettingError(
                    f"setting '{text}': unknown key '{key}' "
                    "(hz, substeps, iterations, ls_iterations, integrator, damping, legs)"
                )
        except ValueError as err:
            if isinstance(err, SettingError):
                raise
            raise SettingError(f"setting '{text}': '{value}' is not a number for {key}") from err
    config = dataclasses.replace(config, **fields)
    try:
        config.validate()
    except ValueError as err:
        raise SettingError(f"setting '{text}': {err}") from err
    return config


def describe_setting(physics: PhysicsConfig) -> str:
    legs = ", leg contacts" if physics.leg_contacts else ""
    damping = ", joint damping" if physics.servo_damping == "joint" else ""
    return (f"{1 / physics.timestep:.0f} Hz x{physics.n_substeps}, "
            f"{physics.solver_iterations} it., {physics.integrator}{damping}{legs}")


def _random_actor(obs: jax.Array, rng: jax.Array, std: jax.Array) -> jax.Array:
    return std * jax.random.normal(rng, (obs.shape[0], len(skel.HINGE_JOINTS)))


def _rollout(env: SteeringEnv, act, steps: int):
    def run(state, rng, std):
        def body(carry, key):
            state, counts = carry
            state = jax.vmap(env.step)(state, act(state.obs, key, std))
            m = state.metrics
            counts = {
                "nonfinite": counts["nonfinite"] + jp.sum(m["nonfinite"]),
                "exploded": counts["exploded"] + jp.sum(m["exploded"] * (1 - m["nonfinite"])),
                "falls": counts["falls"] + jp.sum(m["fell"]),
                "body_speed_max": jp.maximum(counts["body_speed_max"], jp.max(m["body_speed_max"])),
            }
            return (state, counts), None

        zero = {k: jp.zeros(()) for k in ("nonfinite", "exploded", "falls", "body_speed_max")}
        (_, counts), _ = jax.lax.scan(body, (state, zero), jax.random.split(rng, steps))
        return counts

    return run


def _measure(env: SteeringEnv, act, envs: int, steps: int,
             stds: Sequence[float]) -> list[dict[str, float]]:
    """One row per action std; the rollout compiles once (the std is an argument)."""
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), envs))
    rng = jax.random.PRNGKey(1)
    t0 = time.perf_counter()
    compiled = jax.jit(_rollout(env, act, steps)).lower(state, rng, jp.float32(0)).compile()
    compile_s = time.perf_counter() - t0
    rows = []
    for std in stds:
        t0 = time.perf_counter()
        counts = jax.device_get(compiled(state, rng, jp.float32(std)))
        run_s = time.perf_counter() - t0
        row: dict[str, Any] = {k: float(v) for k, v in counts.items()}
        for key in ("nonfinite", "exploded", "falls"):
            row[key] = int(row[key])
        minutes = envs * steps * env.control_dt / 60.0
        row.update(
            env_steps=envs * steps,
            blowups=row["nonfinite"] + row["exploded"],
            falls_per_env_minute=row["falls"] / minutes,
            env_steps_per_s=envs * steps / run_s,
            sim_s_per_s=envs * steps * env.control_dt / run_s,
            compile_s=compile_s,
        )
        rows.append(row)
    return rows


def _trained_actor(checkpoint_path: str, console: Console):
    """The checkpoint's policy (sampled actions), its env config, and its expert frames."""
    from skeleton_steering.evaluate.rollout import load_model
    from skeleton_steering.learn import amp_ppo

    trained = load_model(checkpoint_path, console)
    ev = trained.evaluator
    policy = amp_ppo.Policy(ev.learner.config, ev.learner.policy, trained.params.policy,
                            trained.params.obs_norm)

    def act(obs: jax.Array, rng: jax.Array, std: jax.Array) -> jax.Array:
        del std  # the policy's own noise
        return policy.act(obs, deterministic=False, rng=rng)

    env = ev.env
    return act, trained.config.env, np.asarray(env._expert_qpos), np.asarray(env._expert_qvel)


def _expert_frames(cache_dir: str | None, data_dir: str, console: Console):
    """Start frames: the cache's, or the bundled sample walk (built in `data_dir` once)."""
    from skeleton_steering.learn import expert_source, train_config

    overrides = [] if cache_dir is None else [f"data.cache_dir={cache_dir}"]
    config = train_config.load(None, overrides)
    expert = expert_source.resolve_expert(config, Path(data_dir), console)
    return expert.qpos, expert.qvel


def choose(rows: list[dict[str, Any]]) -> dict[str, str | None]:
    """Per control mode, the cheapest setting with zero blow-ups in all of its rows."""
    out: dict[str, str | None] = {}
    for mode in dict.fromkeys(r["control"] for r in rows):
        by_setting: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["control"] == mode:
                by_setting.setdefault(r["setting"], []).append(r)
        clean = [
            (min(r["env_steps_per_s"] for r in rs), s)
            for s, rs in by_setting.items()
            if all(r["blowups"] == 0 for r in rs)
        ]
        out[mode] = max(clean)[1] if clean else None
    return out


def run(
    settings: Sequence[str],
    controls: Sequence[str],
    action_stds: Sequence[float],
    envs: int,
    seconds: float,
    env_id: str,
    cache_dir: str | None,
    checkpoint_path: str | None,
    console: Console,
    data_dir: str = "results/bench/physics",
) -> dict[str, Any]:
    if envs < 1 or seconds <= 0:
        raise ValueError(f"--envs must be >= 1 and --seconds > 0, got {envs} and {seconds}")
    physics_list = [(s, parse_setting(s)) for s in settings]
    base_env = EnvConfig()
    qpos, qvel = _expert_frames(cache_dir, data_dir, console)
    # (control mode, action source, actor, env config, frames, stds to run)
    sources: list[tuple[str, str, Any, EnvConfig, tuple, list[float]]] = []
    for mode in controls:
        env_cfg = dataclasses.replace(base_env, control=ControlConfig(mode=mode))
        sources.append((mode, "random", _random_actor, env_cfg, (qpos, qvel), list(action_stds)))
    if checkpoint_path is not None:
        act, trained_env, qpos_t, qvel_t = _trained_actor(checkpoint_path, console)
        sources.append((trained_env.control.mode, "trained", act, trained_env, (qpos_t, qvel_t),
                        [0.0]))

    rows = []
    for mode, kind, act, env_cfg, frames, stds in sources:
        for text, physics in physics_list:
            env = make_env(env_id, dataclasses.replace(env_cfg, physics=physics), *frames)
            steps = max(1, round(seconds / env.control_dt))
            console.print(f"{mode}, {kind} actions, {describe_setting(physics)}: "
                          f"{envs} x {steps} steps ...")
            for std, row in zip(stds, _measure(env, act, envs, steps, stds), strict=True):
                actions = f"random std {std:g}" if kind == "random" else "trained (sampled)"
                row.update(control=mode, actions=actions, setting=text,
                           setting_text=describe_setting(physics))
                rows.append(row)

    table = Table(title=f"bench physics: {envs} envs x {seconds:g} s each "
                        "(blow-up: non-finite or a body > 20 m/s)")
    for col in ("control", "actions", "setting", "non-finite", "exploded", "max body m/s",
                "falls/env-min", "env steps/s", "sim s/s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["control"], r["actions"], r["setting_text"], str(r["nonfinite"]),
                      str(r["exploded"]), f"{r['body_speed_max']:.1f}",
                      f"{r['falls_per_env_minute']:.1f}", f"{r['env_steps_per_s']:,.0f}",
                      f"{r['sim_s_per_s']:.1f}")
    print_wide(console, table)
    chosen = choose(rows)
    for mode, setting in chosen.items():
        console.print(f"{mode}: cheapest setting without blow-ups: {setting or 'none'}")
    result = {"bench": "physics", "env_id": env_id, "envs": envs, "seconds": seconds,
              "expert_cache": cache_dir, "checkpoint": checkpoint_path, "results": rows,
              "chosen": chosen, "machine": describe()}
    print(json.dumps(result))
    return result


def add_arguments(parser: Any) -> None:
    """Flags of `skeleton-steering bench physics`."""
    parser.add_argument("--setting", action="append", default=None, metavar="SPEC",
                        help="hz=150,substeps=3,iterations=1,integrator=euler|implicitfast"
                             "[,ls_iterations=4][,damping=actuator|joint][,legs=on|off]; "
                             "keys left out keep the defaults; repeat (default: a built-in sweep)")
    parser.add_argument("--control", nargs="+", choices=("torque", "pd"),
                        default=["torque", "pd"])
    parser.add_argument("--action_std", type=float, nargs="+", default=[0.1, 0.3],
                        help="std of the random Gaussian actions (clipped to [-1, 1])")
    parser.add_argument("--envs", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated s per row")
    parser.add_argument("--env_id", default="SkeletonTorque.walk.mocap")
    parser.add_argument("--cache", default=None,
                        help="expert cache dir for start frames (default: the bundled sample)")
    parser.add_argument("--checkpoint", default=None,
                        help="also step this checkpoint's policy (its control mode)")
    parser.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")


def main_from_args(args: Any, console: Console) -> int:
    run(args.setting or DEFAULT_SETTINGS, args.control, args.action_std, args.envs,
        args.seconds, args.env_id, args.cache, args.checkpoint, console)
    return 0
