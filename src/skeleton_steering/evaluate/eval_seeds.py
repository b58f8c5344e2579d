"""Evaluation seeds: the ones tuning may look at, and the held-out ones results are reported on.

A number chosen by looking at one test describes that test, not the policy: the defaults were
picked with `bench learn`, so `bench learn` and the numbers it showed must not be where the
published numbers come from. Seeds are therefore split in two:

  tuning     0 .. HELD_OUT_START - 1: `bench learn` evaluates every run on TUNING_SEED;
  held out   HELD_OUT_START and up: `eval` defaults to HELD_OUT_SEED; the README, docs and
             policies/ report on it (the scripted and the random schedule).

Evaluation draws its start states, sampled actions and random schedule from a stream of its
own (`eval_key`, `schedule_rng`: the seed folded with EVAL_STREAM), so no evaluation seed
replays the draws of a training run (which starts from `PRNGKey(seed)`) or of the periodic
evaluation that picks the best checkpoint during training (`PRNGKey(eval.seed)`).
"""

from __future__ import annotations

import jax
import numpy as np

HELD_OUT_START = 1000
HELD_OUT_SEED = 1000
TUNING_SEED = 0
# Any fixed constant: it only has to differ from what training draws its keys with.
EVAL_STREAM = 0x5E7A1


def role(seed: int) -> str:
    """'held_out' or 'tuning': what an evaluation on this seed may be used for."""
    return "held_out" if seed >= HELD_OUT_START else "tuning"


def eval_key(seed: int) -> jax.Array:
    """The root key of an evaluation on `seed` (start states and sampled actions)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), EVAL_STREAM)


def schedule_rng(seed: int) -> np.random.Generator:
    """The generator of the random command schedule of an evaluation on `seed`."""
    return np.random.default_rng((EVAL_STREAM, seed))
