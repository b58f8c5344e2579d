"""Discriminator parameters with a known output, to check what scores and counts its verdicts."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jp


def constant_disc(params: Any, value: float) -> Any:
    """Discriminator params whose score is `value` for every input (output layer zeroed)."""

    def leaf(x):
        if x.shape == (1,):  # the output bias
            return jp.full_like(x, value)
        if x.ndim == 2 and x.shape[1] == 1:  # the output kernel
            return jp.zeros_like(x)
        return x

    return jax.tree.map(leaf, params)
