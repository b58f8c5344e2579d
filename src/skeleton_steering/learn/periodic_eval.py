"""Deterministic evaluation during training, on a fixed command set, to pick the best checkpoint.

Training returns are noisy (random commands, exploration noise, a moving style reward), so
the best checkpoint is chosen on a repeatable test instead: the same start states (fixed key),
one fixed (heading offset, speed) command per env for the whole test, and the policy's mean
action. Score = task reward per step, where an env stops scoring at its first episode end, so
falling early costs what the rest of the test would have earned.

The style reward is reported beside it: the discriminator's score of the mean-action motion.
Training's `style_reward` scores the sampled actions, and the exploration noise alone can
make that several times lower (the shipped policy: 0.06 sampled at its std 0.08, 0.69 with
mean actions), so the gap between the two says how much of what the discriminator sees is
noise rather than gait. `disc_acc_agent` is training's accuracy on the same motion: the
share of its steps the discriminator scores d < 0 (agent).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jp
import numpy as np

from skeleton_steering.env import commands
from skeleton_steering.learn import losses
from skeleton_steering.learn.amp_ppo import Learner, disc_score, normalize_obs, transition_pair
from skeleton_steering.learn.normalizer import NormalizerState
from skeleton_steering.skeleton import spatial

# Larger than any evaluation, so the env never resamples the command on its own.
_NEVER = 1_000_000_000


def command_set(learner: Learner) -> tuple[np.ndarray, np.ndarray]:
    """(heading offsets in radians, target speeds), one pair per evaluation env."""
    ev = learner.config.eval
    offsets = [math.radians(h) for h in ev.heading_offsets_deg for _ in ev.speeds]
    speeds = [s for _ in ev.heading_offsets_deg for s in ev.speeds]
    return np.asarray(offsets, np.float32), np.asarray(speeds, np.float32)


def evaluate(
    learner: Learner,
    policy_params: Any,
    obs_norm: NormalizerState,
    disc_params: Any,
    disc_norm: NormalizerState,
) -> dict[str, jax.Array]:
    """Run the fixed evaluation; pure, so it can be jitted once and called with new params."""
    env, ev = learner.env, learner.config.eval
    offsets, speeds = command_set(learner)
    state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(ev.seed), len(offsets)))
    heading = jax.vmap(spatial.heading_of)(state.data.qpos[:, 3:7])
    yaw = commands.wrap_angle(heading + offsets)
    info = dict(
        state.info,
        target_yaw=yaw,
        target_speed=jp.asarray(speeds),
        command_steps_left=jp.full_like(state.info["command_steps_left"], _NEVER),
    )
    command_obs = jax.vmap(commands.command_obs)(yaw, jp.asarray(speeds), heading)
    obs = jp.concatenate([state.obs[:, : -commands.COMMAND_OBS_SIZE], command_obs], axis=-1)
    state = state.replace(obs=obs, info=info)

    def step(carry, _):
        state, alive, score, tracking, speed_err, falls, style, called_agent = carry
        mean, _ = learner.policy.apply(policy_params, normalize_obs(learner, obs_norm, state.obs))
        nxt = jax.vmap(env.step)(state, mean)
        pair = transition_pair(state, nxt)
        d = disc_score(learner, disc_params, disc_norm, pair)
        style = style + alive * losses.style_reward(d)
        called_agent = called_agent + alive * (d < 0)
        score = score + alive * nxt.reward
        tracking = tracking + alive * nxt.metrics.get("reward/tracking_velocity", 0.0)
        speed_err = speed_err + alive * jp.abs(nxt.metrics["speed"] - state.info["target_speed"])
        falls = falls + alive * nxt.metrics["fell"]
        alive = alive * (1.0 - nxt.done)
        return (nxt, alive, score, tracking, speed_err, falls, style, called_agent), alive

    n = len(offsets)
    zeros = jp.zeros(n)
    (_, _, score, tracking, speed_err, falls, style, called_agent), alive = jax.lax.scan(
        step, (state, jp.ones(n), *([zeros] * 6)), None, length=ev.steps
    )
    steps_alive = jp.sum(alive, axis=0) + 1.0  # the step that ended the episode scored too
    steps_alive = jp.minimum(steps_alive, ev.steps)
    return {
        "score": jp.mean(score) / ev.steps,
        "tracking_velocity": jp.sum(tracking) / jp.sum(steps_alive),
        "speed_error": jp.sum(speed_err) / jp.sum(steps_alive),
        "fall_rate": jp.mean(falls),
        "survival": jp.mean(steps_alive) / ev.steps,
        "style_reward": jp.sum(style) / jp.sum(steps_alive),
        # Training's disc_acc_agent on the mean-action motion.
        "disc_acc_agent": jp.sum(called_agent) / jp.sum(steps_alive),
    }


def make_evaluate(learner: Learner):
    return jax.jit(lambda *params: evaluate(learner, *params))
