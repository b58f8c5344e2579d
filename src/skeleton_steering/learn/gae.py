"""Generalized advantage estimation that tells termination from time-limit truncation.

A fall (termination) ends the return: nothing is bootstrapped. A time limit (truncation) only
stops the rollout of that episode: the return continues, so the value of the state reached
before the reset is bootstrapped. Both cut the recursion, since the next row belongs to a new
episode. Passing the value of the *pre-reset* next state for every step (`next_values`)
handles both cases and the rollout's last step alike, with no special end-of-rollout value.
"""

from __future__ import annotations

import jax
import jax.numpy as jp


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets, all arrays (T, ...) with time first.

    rewards[t]      reward of step t
    values[t]       V(s_t)
    next_values[t]  V(s_{t+1}) of the state the step reached, before any auto-reset
    terminated[t]   1 where step t ended the episode by a fall (no bootstrap)
    done[t]         1 where step t ended the episode for any reason (stops the recursion)

      delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
      A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1}
    """
    terminated = terminated.astype(rewards.dtype)
    done = done.astype(rewards.dtype)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def backward(carry: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        delta, d = xs
        adv = delta + gamma * lam * (1.0 - d) * carry
        return adv, adv

    _, advantages = jax.lax.scan(
        backward, jp.zeros_like(deltas[0]), (deltas, done), reverse=True
    )
    return advantages, advantages + values
