"""The three networks of AMP + PPO: Gaussian policy, value function, discriminator.

All are plain MLPs (flax.linen) whose sizes and activation come from `NetworkConfig`, so a
checkpoint's config alone rebuilds them. The policy's log standard deviation is one learned
vector independent of the state, as in AMP: the exploration noise is a property of the
policy, not of the situation, which keeps early training stable on a torque-driven body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "elu": nn.elu,
    "tanh": jp.tanh,
    "silu": nn.silu,
}

Params = Any


class MLP(nn.Module):
    """Hidden layers with `activation`, then a linear output of `out_size`."""

    hidden: Sequence[int]
    out_size: int
    activation: str = "elu"
    # Scale of the output layer's initial weights: small for the policy mean so the first
    # actions are near zero torque, regardless of the observation.
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width, kernel_init=nn.initializers.lecun_normal())(x))
        init = nn.initializers.variance_scaling(self.out_scale**2, "fan_in", "truncated_normal")
        return nn.Dense(self.out_size, kernel_init=init)(x)


class GaussianPolicy(nn.Module):
    """Mean from an MLP, log-std a learned vector shared by all states."""

    hidden: Sequence[int]
    action_size: int
    activation: str = "elu"
    init_log_std: float = -1.6
    learn_log_std: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = MLP(self.hidden, self.action_size, self.activation, out_scale=0.01)(obs)
        log_std = self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_size,)
        )
        if not self.learn_log_std:
            log_std = jax.lax.stop_gradient(log_std)
        return mean, jp.broadcast_to(log_std, mean.shape)


class ValueNet(nn.Module):
    hidden: Sequence[int]
    activation: str = "elu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1, self.activation)(obs)[..., 0]


class Discriminator(nn.Module):
    """Scores a normalized (s, s') feature pair: about +1 for demo, -1 for policy."""

    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, pair: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1, self.activation)(pair)[..., 0]


def with_log_std(policy_params: Any, log_std: jax.Array) -> Any:
    """`GaussianPolicy` parameters with the log std replaced (the rest shared, not copied)."""
    return {**policy_params, "params": {**policy_params["params"], "log_std": log_std}}


# -- Gaussian helpers (pure) -----------------------------------------------------------------


def gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Log density of a diagonal Gaussian, summed over the last axis."""
    z = (x - mean) * jp.exp(-log_std)
    return jp.sum(-0.5 * z**2 - log_std - 0.5 * jp.log(2 * jp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Entropy of a diagonal Gaussian, summed over the last axis."""
    return jp.sum(log_std + 0.5 * jp.log(2 * jp.pi * jp.e), axis=-1)


def make_policy(net: Any, action_size: int) -> GaussianPolicy:
    """The policy of a `train_config.NetworkConfig` (training and every loader build it here)."""
    return GaussianPolicy(
        net.policy_hidden,
        action_size,
        net.activation,
        init_log_std=net.init_log_std,
        learn_log_std=net.learn_log_std,
    )


def make_discriminator(net: Any) -> Discriminator:
    return Discriminator(net.disc_hidden, net.disc_activation)
