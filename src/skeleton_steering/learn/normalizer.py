"""Running mean / variance normalizer that stops updating after a configured sample count.

The statistics live in the training state (and so in every checkpoint) instead of inside an
environment wrapper, so a saved policy carries the normalization it was trained with.
Freezing matters for AMP: once the discriminator and policy have adapted to a scale, a
drifting scale would silently change what their inputs mean.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jp


@flax.struct.dataclass
class NormalizerState:
    mean: jax.Array
    var: jax.Array
    count: jax.Array  # float32: number of samples folded in so far


def init(size: int) -> NormalizerState:
    """Identity normalizer (mean 0, variance 1) that has seen no samples."""
    return NormalizerState(jp.zeros(size), jp.ones(size), jp.zeros(()))


def update(
    state: NormalizerState,
    batch: jax.Array,
    freeze_after: float,
    mask: jax.Array | None = None,
    axis_name: str | None = None,
) -> NormalizerState:
    """Fold `batch` (..., size) into the statistics, unless `freeze_after` samples were seen.

    Merges batch moments with the running ones (Chan et al.'s parallel formula), so the result
    does not depend on how the samples were split into batches, up to rounding. A batch that
    would cross the limit is folded in whole; afterwards the statistics stay fixed. `mask`
    (batch shape without the feature axis) leaves out rows whose mask is 0, e.g. the
    numbers of a physics blow-up, which would otherwise dominate the variance for good.
    Inside `shard_map`, `axis_name` makes the batch every device's `batch` together: the
    sums behind its moments are summed over the devices, so all end with the same statistics.
    """

    def total(v: jax.Array) -> jax.Array:
        return v if axis_name is None else jax.lax.psum(v, axis_name)

    x = batch.reshape(-1, batch.shape[-1])
    w = jp.ones(x.shape[0]) if mask is None else mask.reshape(-1).astype(x.dtype)
    x = jp.where(w[:, None] > 0, x, 0.0)
    n = total(jp.sum(w))
    safe_n = jp.maximum(n, 1.0)
    b_mean = total(jp.sum(w[:, None] * x, axis=0)) / safe_n
    b_var = total(jp.sum(w[:, None] * (x - b_mean) ** 2, axis=0)) / safe_n
    total = state.count + n
    safe_total = jp.maximum(total, 1.0)
    delta = b_mean - state.mean
    mean = state.mean + delta * n / safe_total
    m2 = state.var * state.count + b_var * n + delta**2 * state.count * n / safe_total
    var = m2 / safe_total
    keep = (state.count >= freeze_after) | (n == 0)
    return NormalizerState(
        mean=jp.where(keep, state.mean, mean),
        var=jp.where(keep, state.var, var),
        count=jp.where(keep, state.count, total),
    )


def normalize(
    state: NormalizerState, x: jax.Array, clip: float, std_floor: float = 0.01
) -> jax.Array:
    """(x - mean) / sqrt(var + std_floor^2), clipped to [-clip, clip]."""
    z = (x - state.mean) / jp.sqrt(state.var + std_floor**2)
    return jp.clip(z, -clip, clip)
