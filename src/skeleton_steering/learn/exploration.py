"""The policy's exploration noise: its std ceiling and its correlation in time.

`network.final_std`: a falling ceiling on the std, applied to the parameters after each PPO
update, so the rollout and the next update see the same std and the log std stays an ordinary
learned parameter below it.

`network.noise_correlation`: the standard-normal noise behind each sampled action follows an
AR(1) process, eps_t = c eps_{t-1} + sqrt(1 - c^2) n_t. Every step is still N(0, 1), so the
policy's Gaussian and PPO's log-probabilities are unchanged, but consecutive actions wander
together instead of flipping at the control rate (50 Hz), the jitter the discriminator
recognises in white-noise rollouts. The process restarts from a fresh N(0, 1) draw at each
rollout (every `ppo.rollout_length` steps), so the training state holds no noise.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jp

from skeleton_steering.learn import networks
from skeleton_steering.learn.train_config import NetworkConfig


def log_std_ceiling(net: NetworkConfig, env_steps: jax.Array) -> jax.Array:
    """Largest allowed log std after `env_steps`: init_log_std, then log-linear to final_std."""
    span = max(net.std_decay_end - net.std_decay_start, 1)
    frac = jp.clip((env_steps - net.std_decay_start) / span, 0.0, 1.0)
    return net.init_log_std + frac * (jp.log(net.final_std) - net.init_log_std)


def cap_policy_std(net: NetworkConfig, policy_params: Any, env_steps: jax.Array) -> Any:
    """`policy_params` with its log std clipped to the ceiling (unchanged when final_std is 0)."""
    if net.final_std <= 0:
        return policy_params
    capped = jp.minimum(policy_params["params"]["log_std"], log_std_ceiling(net, env_steps))
    return networks.with_log_std(policy_params, capped)


def initial_noise(
    rng: jax.Array, shape: tuple[int, ...], correlation: float
) -> tuple[jax.Array, jax.Array]:
    """(rng, first noise) of a rollout: a N(0, 1) draw, or zeros when the noise is white.

    With white noise the key is returned untouched, so uncorrelated runs draw exactly the
    actions they drew before the option existed.
    """
    if correlation == 0.0:
        return rng, jp.zeros(shape)
    rng, key = jax.random.split(rng)
    return rng, jax.random.normal(key, shape)


def next_noise(
    noise: jax.Array, rng: jax.Array, correlation: float, fresh: jax.Array | None = None
) -> jax.Array:
    """The next step's standard-normal noise: AR(1) with this correlation to `noise`.

    `fresh`, when given, is the step's new draw in place of one from `rng` (a device's rows of
    the draw for the whole batch, in data-parallel training).
    """
    # At 0 this is exactly the fresh draw (0 x noise + 1 x fresh), as white noise was drawn.
    if fresh is None:
        fresh = jax.random.normal(rng, noise.shape)
    return correlation * noise + math.sqrt(1.0 - correlation**2) * fresh
