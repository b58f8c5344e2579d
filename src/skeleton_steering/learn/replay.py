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


# -- split across devices ------------------------------------------------------------------------
# The buffer's rows in `num_shards` equal blocks, one per device (inside `shard_map`); `ptr` and
# `size` count rows of the whole buffer and are the same on every device. The whole buffer is
# the one `insert` and `sample` keep on a single device, row for row.


def insert_shard(
    state: ReplayState, batch: jax.Array, shard_index: jax.Array, num_shards: int
) -> ReplayState:
    """This device's block after `insert` of `batch` (n, feature_size), the whole batch."""
    rows_here = state.data.shape[0]
    capacity = rows_here * num_shards
    n = batch.shape[0]
    if n > capacity:
        raise ValueError(f"cannot insert {n} rows into a replay buffer of {capacity}")
    row = shard_index * rows_here + jp.arange(rows_here)
    # The batch row that lands on each buffer row, when one does.
    k = (row - state.ptr) % capacity
    data = jp.where((k < n)[:, None], batch[jp.minimum(k, n - 1)], state.data)
    return ReplayState(
        data=data,
        ptr=(state.ptr + n) % capacity,
        size=jp.minimum(state.size + n, capacity),
    )


def sample_shard(
    state: ReplayState, rng: jax.Array, n: int, shard_index: jax.Array, num_shards: int,
    axis_name: str,
) -> jax.Array:
    """This device's block (n / num_shards rows) of `sample(whole buffer, rng, n)`.

    Every device draws the same n row numbers; each fills in the rows it holds (zeros for the
    others), and a sum over devices that leaves each its block of the n rows completes them.
    """
    rows_here = state.data.shape[0]
    idx = jax.random.randint(rng, (n,), 0, jp.maximum(state.size, 1)) - shard_index * rows_here
    here = (idx >= 0) & (idx < rows_here)
    part = jp.where(here[:, None], state.data[jp.clip(idx, 0, rows_here - 1)], 0.0)
    return jax.lax.psum_scatter(part, axis_name, scatter_dimension=0, tiled=True)
