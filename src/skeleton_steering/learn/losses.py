"""Pure loss and reward formulas of AMP + PPO, each testable on hand-made numbers.

Nothing here knows about networks or the environment: the training iteration evaluates the
networks and passes arrays (or a scalar function, for the gradient penalty) in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jp

# -- PPO ---------------------------------------------------------------------------------------


def ppo_actor_loss(
    log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array, clip_eps: float
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped surrogate objective (to minimize), with clip fraction and approximate KL.

    ratio = exp(log_prob - old_log_prob)
    loss  = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))
    clip_frac = share of samples with |ratio - 1| > eps
    approx_kl = mean((ratio - 1) - log ratio), the low-variance estimator of KL(old || new)
    """
    log_ratio = log_prob - old_log_prob
    ratio = jp.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = jp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    loss = -jp.mean(jp.minimum(unclipped, clipped))
    clip_frac = jp.mean((jp.abs(ratio - 1.0) > clip_eps).astype(jp.float32))
    approx_kl = jp.mean((ratio - 1.0) - log_ratio)
    return loss, {"clip_frac": clip_frac, "approx_kl": approx_kl}


def adapt_learning_rate(
    lr: jax.Array, kl: jax.Array, desired_kl: float, min_lr: float, max_lr: float
) -> jax.Array:
    """KL-targeted step size: /1.5 when kl > 2 desired_kl, *1.5 when kl < desired_kl / 2.

    A torque policy with a small action std moves far in KL for a small change of its mean, so a
    fixed step size either crawls or overshoots (clip fractions near 0.5); keeping the KL near a
    target keeps every update inside the region the clipped objective trusts.
    """
    lr = jp.where(kl > 2.0 * desired_kl, lr / 1.5, lr)
    lr = jp.where(kl < 0.5 * desired_kl, lr * 1.5, lr)
    return jp.clip(lr, min_lr, max_lr)


def value_loss(values: jax.Array, targets: jax.Array) -> jax.Array:
    """0.5 * mean((V - target)^2)."""
    return 0.5 * jp.mean((values - targets) ** 2)


def normalize_advantages(
    advantages: jax.Array, eps: float = 1e-8, axis_name: str | None = None
) -> jax.Array:
    """(A - mean) / (std + eps); inside `shard_map`, `axis_name` takes the mean and std over
    every device's equal share of the minibatch together."""
    if axis_name is None:
        return (advantages - advantages.mean()) / (advantages.std() + eps)
    mean = jax.lax.pmean(advantages.mean(), axis_name)
    std = jp.sqrt(jax.lax.pmean(jp.mean((advantages - mean) ** 2), axis_name))
    return (advantages - mean) / (std + eps)


# -- AMP ---------------------------------------------------------------------------------------


def style_reward(d: jax.Array) -> jax.Array:
    """max(0, 1 - 0.25 (d - 1)^2): 1 where the discriminator says "demo" (d = 1), 0 at d <= -1."""
    return jp.maximum(0.0, 1.0 - 0.25 * (d - 1.0) ** 2)


def least_squares_disc_loss(
    d_demo: jax.Array, d_agent: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean((d_demo - 1)^2) + mean((d_agent + 1)^2), with accuracies on both sides.

    A sample counts as correct when its score is on its target's side of zero.
    """
    loss = jp.mean((d_demo - 1.0) ** 2) + jp.mean((d_agent + 1.0) ** 2)
    return loss, {
        "disc_acc_demo": jp.mean((d_demo > 0).astype(jp.float32)),
        "disc_acc_agent": jp.mean((d_agent < 0).astype(jp.float32)),
    }


def gradient_penalty(score: Callable[[jax.Array], jax.Array], inputs: jax.Array) -> jax.Array:
    """mean over samples of ||d score(x) / dx||^2, for `score` mapping one input (F,) to a scalar.

    Penalizing the gradient on demo samples keeps the discriminator smooth around the data, so
    the style reward it hands the policy has useful slopes (AMP's stabilizer).
    """
    grads = jax.vmap(jax.grad(score))(inputs)
    return jp.mean(jp.sum(grads**2, axis=-1))


def squared_weights(mlp_params: Any) -> tuple[jax.Array, jax.Array]:
    """(sum of squared output-layer kernel weights, sum over every layer's kernels) of an MLP.

    Layers are flax `Dense_i` modules in order, so the output layer is the highest index.
    """
    kernels = {
        path: leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(mlp_params)
        if getattr(path[-1], "key", None) == "kernel"
    }
    if not kernels:
        raise ValueError("no kernel weights in the discriminator parameters")

    def layer_index(path: Any) -> int:
        return int(str(getattr(path[-2], "key", "Dense_0")).rsplit("_", 1)[-1])
    last = max(kernels, key=layer_index)
    total = sum(jp.sum(k**2) for k in kernels.values())
    return jp.sum(kernels[last] ** 2), total


def total_reward(task: jax.Array, style: jax.Array, task_weight: float, disc_weight: float):
    """task_weight * task + disc_weight * style."""
    return task_weight * task + disc_weight * style
