"""Fixed-size ring buffer of past policy transitions for the discriminator.

Mixing older agent samples into the discriminator's negatives keeps it from forgetting what
earlier policies looked like (AMP, Peng et al. 2021). The buffer is a plain array pytree with a
write pointer, so it lives inside the jitted iteration and in checkpoints.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jp


@flax.struct.dataclass
class ReplayState:
    data: jax.Array  # (capacity, feature_size)
    ptr: jax.Array  # int32: next row to write
    size: jax.Array  # int32: rows filled so far (<= capacity)


def init(capacity: int, feature_size: int) -> ReplayState:
    if capacity < 1:
        raise ValueError(f"replay capacity must be >= 1, got {capacity}")
    return ReplayState(
        jp.zeros((capacity, feature_size)), jp.zeros((), jp.int32), jp.zeros((), jp.int32)
    )


def insert(state: ReplayState, batch: jax.Array) -> ReplayState:
    """Write `batch` (n, feature_size) after the newest rows, wrapping round to the oldest.

    `n` must not exceed the capacity (the config checks this), so no row is written twice.
    """
    capacity = state.data.shape[0]
    n = batch.shape[0]
    if n > capacity:
        raise ValueError(f"cannot insert {n} rows into a replay buffer of {capacity}")
    rows = (state.ptr + jp.arange(n)) % capacity
    return ReplayState(
        data=state.data.at[rows].set(batch),
        ptr=(state.ptr + n) % capacity,
        size=jp.minimum(state.size + n, capacity),
    )


def sample(state: ReplayState, rng: jax.Array, n: int) -> jax.Array:
    """`n` rows drawn uniformly, with replacement, from the filled part of the buffer."""
    idx = jax.random.randint(rng, (n,), 0, jp.maximum(state.size, 1))
    return state.data[idx]
