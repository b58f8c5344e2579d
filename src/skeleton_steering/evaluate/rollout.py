"""Evaluation rollouts of a trained policy under a command schedule, jitted and batched.

`load_model` restores what an evaluation needs (policy, observation normalizer, discriminator
and its feature normalizer) from a policy export, or from a training checkpoint, and builds the
environment from the stored config, with episodes starting from the export's reference frames
(for a checkpoint: the same subsample of its expert data, so both evaluate alike).
`rollout` then runs `episodes` parallel episodes (vmapped) for `n_steps` control steps as
`lax.scan`s over chunks of steps, with the schedule's commands written into the environment
state before every step, and returns per-step arrays for the metrics (`steering_metrics`), the
CSV and the video.

Two things differ from training, both so that the schedule alone decides the commands: the
environment never resamples a command on its own (its countdown is held far away), and it has
no time limit (an episode ends only in a fall, after which the environment starts a new one
from a random expert frame; the schedule's headings then count from the new start heading).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jp
import numpy as np
from rich.console import Console

from skeleton_steering.config import to_dict
from skeleton_steering.data.gait_stats import GaitStats, GaitStatsError
from skeleton_steering.env import commands
from skeleton_steering.env.registry import make_env
from skeleton_steering.env.steering_env import State, SteeringEnv
from skeleton_steering.evaluate import eval_seeds, steering_metrics
from skeleton_steering.evaluate.schedules import Schedule
from skeleton_steering.io_utils import user_cache_dir
from skeleton_steering.learn import (
    amp_ppo,
    checkpoint,
    demo_gait,
    expert_source,
    losses,
    networks,
    normalizer,
    policy_export,
    train_config,
)
from skeleton_steering.learn.expert_data import ExpertData
from skeleton_steering.learn.train_config import TrainConfig
from skeleton_steering.skeleton import spatial

# Longer than any evaluation: no command resample and no time limit inside one.
_NEVER = 2**30
# Steps per compiled scan: long enough that the host loop costs nothing, short enough that the
# progress bar moves; a run is padded to whole chunks so one compiled program serves any length.
CHUNK_STEPS = 250


class EvalParams(NamedTuple):
    """The trained arrays an evaluation needs (arguments of the compiled rollout)."""

    policy: Any
    obs_norm: normalizer.NormalizerState
    disc: Any
    disc_norm: normalizer.NormalizerState


class StepRecord(NamedTuple):
    """One control step of every parallel episode (the scan adds a leading time axis)."""

    target_yaw: jax.Array  # (E,) world frame, radians
    target_speed: jax.Array  # (E,) m/s
    velocity: jax.Array  # (E, 2) planar root velocity over the step, world frame
    facing_yaw: jax.Array  # (E,) pelvis heading at the end of the step, world frame, radians
    fell: jax.Array  # (E,) bool: the episode ended early at this step (fall or bad physics)
    nonfinite: jax.Array  # (E,) bool: the physics state became non-finite
    style: jax.Array  # (E,) AMP style reward of the step's (s, s')
    disc_score: jax.Array  # (E,) the discriminator's raw score d of (s, s'): > 0 reads as demo
    task_reward: jax.Array  # (E,)
    qpos: jax.Array  # (E, nq) generalized positions before the step (video, leg contacts)
    qvel: jax.Array  # (E, nv) generalized velocities before the step (gait)
    actuator_power: jax.Array  # (E,) sum over joints of |actuator torque x joint velocity|, W


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluator:
    """Environment, networks and the compiled chunk for one trained configuration."""

    env: SteeringEnv
    learner: amp_ppo.Learner
    chunk: Any  # jit of `rollout_chunk` with this evaluator bound


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    ckpt: checkpoint.Checkpoint
    config: TrainConfig
    evaluator: Evaluator
    params: EvalParams
    gait: GaitStats | None = None  # the demos' gait statistics, when known
    gait_unavailable: str | None = None  # why `gait` is None


@dataclasses.dataclass(frozen=True)
class Rollout:
    """Host arrays of an evaluation: (E, T, ...) per parallel episode and step."""

    target_yaw: np.ndarray
    target_speed: np.ndarray
    velocity: np.ndarray
    facing_yaw: np.ndarray
    fell: np.ndarray
    nonfinite: np.ndarray
    style: np.ndarray
    disc_score: np.ndarray
    task_reward: np.ndarray
    qpos: np.ndarray  # (E, T, nq): the pose before each step
    dt: float
    qvel: np.ndarray | None = None  # (E, T, nv): the velocities before each step
    actuator_power: np.ndarray | None = None  # (E, T) W, at the end of each step

    @property
    def qpos0(self) -> np.ndarray:
        """(T, nq): parallel episode 0's poses, the one videos show."""
        return self.qpos[0]


# -- the compiled rollout ----------------------------------------------------------------------


def eval_step(
    ev: Evaluator,
    params: EvalParams,
    deterministic: jax.Array,  # traced bool: the mean action, else sampled
    carry: tuple[State, jax.Array, jax.Array],
    command: tuple[jax.Array, jax.Array],
) -> tuple[tuple[State, jax.Array, jax.Array], StepRecord]:
    """Impose this step's command, act, step the env, score the transition's style."""
    state, start_heading, rng = carry
    offset, target_speed = command
    heading = jax.vmap(spatial.heading_of)(state.data.qpos[:, 3:7])
    target_yaw = commands.wrap_angle(start_heading + offset)
    info = dict(
        state.info,
        target_yaw=target_yaw,
        target_speed=target_speed,
        command_steps_left=jp.full_like(state.info["command_steps_left"], _NEVER),
    )
    command_obs = jax.vmap(commands.command_obs)(target_yaw, target_speed, heading)
    obs = jp.concatenate([state.obs[:, : -commands.COMMAND_OBS_SIZE], command_obs], axis=-1)
    state = state.replace(obs=obs, info=info)

    rng, k_act = jax.random.split(rng)
    policy = amp_ppo.Policy(ev.learner.config, ev.learner.policy, params.policy, params.obs_norm)
    # `deterministic` is traced, so mean and sampled evaluations share one compiled rollout.
    mean, std = policy.mean_and_std(obs)
    noise = jax.random.normal(k_act, mean.shape)
    action = mean + jp.where(deterministic, 0.0, std) * noise
    nxt = jax.vmap(ev.env.step)(state, action)

    d = amp_ppo.disc_score(ev.learner, params.disc, params.disc_norm,
                           amp_ppo.transition_pair(state, nxt))
    done = nxt.done > 0
    moved = (nxt.data.qpos[:, 0:2] - state.data.qpos[:, 0:2]) / ev.env.control_dt
    # A step that ends the episode also resets it, so its end position is gone; its speed
    # survives in the metrics, and the body's heading stands in for the direction.
    facing = jp.stack([jp.cos(heading), jp.sin(heading)], axis=-1)
    velocity = jp.where(done[:, None], nxt.metrics["speed"][:, None] * facing, moved)
    new_start = jax.vmap(spatial.heading_of)(nxt.data.qpos[:, 3:7])
    start_heading = jp.where(done, new_start, start_heading)
    # After a reset the pelvis belongs to the new episode: the step's own is the one before.
    facing_yaw = jp.where(done, heading, new_start)
    record = StepRecord(
        target_yaw=target_yaw,
        target_speed=target_speed,
        velocity=velocity,
        facing_yaw=facing_yaw,
        fell=nxt.info["terminated"],
        nonfinite=nxt.metrics["nonfinite"] > 0,
        style=losses.style_reward(d),
        disc_score=d,
        task_reward=nxt.reward,
        qpos=state.data.qpos,
        qvel=state.data.qvel,
        # The actuators' torques of the step's last substep, at the velocities it ends with.
        actuator_power=jp.sum(jp.abs(nxt.data.qfrc_actuator[:, 6:] * nxt.data.qvel[:, 6:]),
                              axis=-1),
    )
    return (nxt, start_heading, rng), record


def rollout_chunk(
    ev: Evaluator,
    params: EvalParams,
    carry: tuple[State, jax.Array, jax.Array],
    heading: jax.Array,
    speed: jax.Array,
    deterministic: jax.Array,
) -> tuple[tuple[State, jax.Array, jax.Array], StepRecord]:
    """`eval_step` scanned over the time axis of `heading` / `speed` (T, E)."""
    return jax.lax.scan(
        lambda c, x: eval_step(ev, params, deterministic, c, x), carry, (heading, speed)
    )


def make_evaluator(config: TrainConfig, expert: ExpertData) -> Evaluator:
    env_config = dataclasses.replace(config.env, episode_length=_NEVER)
    env = make_env(config.env_id, env_config, expert.qpos, expert.qvel)
    learner = amp_ppo.make_learner(env, config)
    ev = Evaluator(env, learner, None)
    chunk = jax.jit(
        lambda params, carry, heading, speed, deterministic: rollout_chunk(
            ev, params, carry, heading, speed, deterministic
        )
    )
    return dataclasses.replace(ev, chunk=chunk)


_EVALUATORS: dict[str, Evaluator] = {}


def _evaluator_key(config: TrainConfig, expert: ExpertData) -> str:
    # Everything that shapes the environment or the networks; params travel as arguments.
    cfg = {k: v for k, v in to_dict(config).items() if k not in ("seed", "run", "eval", "data")}
    digest = hashlib.sha1()
    for arr in (expert.qpos, expert.qvel):
        digest.update(b"none" if arr is None else np.ascontiguousarray(arr).tobytes())
    cfg["expert"] = digest.hexdigest()
    return json.dumps(cfg, sort_keys=True)


def evaluator_for(config: TrainConfig, expert: ExpertData) -> Evaluator:
    """The cached evaluator for this config and expert data, so a process compiles once."""
    key = _evaluator_key(config, expert)
    if key not in _EVALUATORS:
        _EVALUATORS[key] = make_evaluator(config, expert)
    return _EVALUATORS[key]


# -- loading -----------------------------------------------------------------------------------


def _check_sizes(ckpt: checkpoint.Checkpoint, env: SteeringEnv, env_id: str) -> None:
    for field, actual in (
        ("observation_size", env.observation_size),
        ("action_size", env.action_size),
        ("disc_obs_size", env.disc_obs_size),
    ):
        stored = ckpt.meta.get(field)
        if not isinstance(stored, int):
            raise checkpoint.CheckpointError(
                f"{ckpt.path}: field 'meta.{field}' is missing or not an integer"
            )
        if stored != actual:
            raise checkpoint.CheckpointError(
                f"{ckpt.path}: field 'meta.{field}' is {stored}, but the {env_id} environment "
                f"has {actual}; the checkpoint comes from another version of the environment"
            )


NO_EXPORT_GAIT = ("it carries no demo gait statistics (an export written before they existed); "
                  "add them with `python scripts/add_gait_stats.py --export FILE --out FILE`")


def _demo_gait(expert: ExpertData, control_dt: float) -> tuple[GaitStats | None, str | None]:
    try:
        return demo_gait.stats_of(expert, control_dt), None
    except GaitStatsError as err:
        return None, str(err)


def _checkpoint_expert(config: TrainConfig, ckpt: checkpoint.Checkpoint,
                       console: Console) -> ExpertData:
    """The expert data a training checkpoint was trained on, without writing beside it.

    Training keeps the default dataset in its run directory; when that is gone (a checkpoint
    copied elsewhere), it is rebuilt in the user's cache directory instead.
    """
    run_dir = ckpt.path.parent
    trained_here = (run_dir / "expert_data").is_dir()
    base = run_dir if trained_here else user_cache_dir()
    return expert_source.resolve_expert(config, base, console)


def load_model(
    model_path: str | Path,
    console: Console | None = None,
    *,
    leg_contacts: bool | None = None,
) -> TrainedModel:
    """A policy export or a training checkpoint, an environment built from it, its arrays.

    `leg_contacts`: evaluate with the leg-leg contact pairs on or off instead of as trained
    (the observation and action spaces are the same either way). Raises
    `checkpoint.CheckpointError` (a ValueError naming the file) when the file is missing,
    unreadable, or was trained on an environment of other sizes.
    """
    console = console or Console(stderr=True)
    container = checkpoint.load(model_path, (policy_export.FORMAT, checkpoint.FORMAT),
                                what="policy export or training checkpoint")
    config = train_config.from_mapping(container.config,
                                       source=f"{container.path} (stored config)")
    if leg_contacts is not None:
        physics = dataclasses.replace(config.env.physics, leg_contacts=leg_contacts)
        config = dataclasses.replace(config, env=dataclasses.replace(config.env, physics=physics))
    is_export = container.format == policy_export.FORMAT
    if is_export:
        reference = policy_export.reference_of(container)
    else:
        expert = _checkpoint_expert(config, container, console)
        reference = expert_source.reference_frames(expert)
        gait, gait_unavailable = _demo_gait(expert, config.env.physics.control_dt)
    # The discriminator pairs are not needed to evaluate: the trained discriminator scores.
    starts = ExpertData(*reference, np.zeros((1, 1), np.float32),
                        source=f"{container.path} (start frames)")
    ev = evaluator_for(config, starts)
    # Sizes first: a file from another version of the environment gets that said, not a
    # mismatch of some array deep inside the networks.
    _check_sizes(container, ev.env, config.env_id)
    if is_export:
        export = policy_export.from_container(container)
        gait, gait_unavailable = export.gait, None if export.gait else NO_EXPORT_GAIT
    else:
        export = policy_export.from_training_checkpoint(container, reference)
    params = EvalParams(export.policy, export.obs_norm, export.disc, export.disc_norm)
    return TrainedModel(container, config, ev, jax.tree.map(jp.asarray, params), gait,
                        gait_unavailable)


# -- running -----------------------------------------------------------------------------------


def with_action_std(model: TrainedModel, std: float) -> TrainedModel:
    """`model` whose policy samples with this fixed std instead of its learned one."""
    if not std > 0:
        raise ValueError(f"action std must be > 0, got {std}")
    policy = model.params.policy
    fixed = jp.full_like(policy["params"]["log_std"], np.log(std))
    params = model.params._replace(policy=networks.with_log_std(policy, fixed))
    return dataclasses.replace(model, params=params)


def _padded(x: np.ndarray, length: int) -> np.ndarray:
    """(E, T) -> (length, E): time-major, the last step repeated to fill."""
    pad = length - x.shape[1]
    return np.concatenate([x, np.repeat(x[:, -1:], pad, axis=1)], axis=1).T


def rollout(
    model: TrainedModel,
    schedule: Schedule,
    *,
    seed: int,
    deterministic: bool,
    on_progress: Callable[[int], None] | None = None,
) -> Rollout:
    """Run the schedule's episodes in parallel; each starts from its own reset key.

    `deterministic`: the policy's mean action; otherwise actions are sampled from its
    Gaussian with a key drawn from `seed`. `on_progress(steps_done)` is called after each chunk.
    """
    ev = model.evaluator
    episodes, n_steps = schedule.heading.shape
    chunk = min(n_steps, CHUNK_STEPS)
    total = -(-n_steps // chunk) * chunk
    heading = _padded(schedule.heading, total)
    speed = _padded(schedule.speed, total)

    k_reset, k_act = jax.random.split(eval_seeds.eval_key(seed))
    state = ev.learner.reset_batch(jax.random.split(k_reset, episodes))
    start_heading = jax.vmap(spatial.heading_of)(state.data.qpos[:, 3:7])
    carry = (state, start_heading, k_act)
    parts = []
    for t0 in range(0, total, chunk):
        carry, rec = ev.chunk(
            model.params, carry, heading[t0 : t0 + chunk], speed[t0 : t0 + chunk],
            jp.bool_(deterministic),
        )
        parts.append(jax.device_get(rec))
        if on_progress is not None:
            on_progress(min(t0 + chunk, n_steps))
    rec = jax.tree.map(lambda *xs: np.concatenate(xs)[:n_steps], *parts)

    def per_episode(x: np.ndarray) -> np.ndarray:
        return np.swapaxes(x, 0, 1)

    return Rollout(
        target_yaw=per_episode(rec.target_yaw),
        target_speed=per_episode(rec.target_speed),
        velocity=per_episode(rec.velocity),
        facing_yaw=per_episode(rec.facing_yaw),
        fell=per_episode(rec.fell),
        nonfinite=per_episode(rec.nonfinite),
        style=per_episode(rec.style),
        disc_score=per_episode(rec.disc_score),
        task_reward=per_episode(rec.task_reward),
        qpos=per_episode(rec.qpos),
        dt=ev.env.control_dt,
        qvel=per_episode(rec.qvel),
        actuator_power=per_episode(rec.actuator_power),
    )


def steering_records(result: Rollout, schedule: Schedule) -> list[steering_metrics.SteeringRecord]:
    """One `SteeringRecord` per parallel episode, settling clocks restarted at falls."""
    changed = schedule.changed
    return [
        steering_metrics.SteeringRecord(
            velocity=result.velocity[e].astype(np.float64),
            facing_yaw=result.facing_yaw[e].astype(np.float64),
            target_yaw=result.target_yaw[e].astype(np.float64),
            target_speed=result.target_speed[e].astype(np.float64),
            fell=result.fell[e],
            since_change=steering_metrics.seconds_since_change(
                changed[e], result.fell[e], result.dt
            ),
            dt=result.dt,
            style=result.style[e].astype(np.float64),
        )
        for e in range(result.fell.shape[0])
    ]
