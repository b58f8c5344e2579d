"""Shared fixtures. Compiling an MJX step takes about a minute on 2 CPU cores, so the
environment and its jitted functions are built once per session and reused."""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import pytest

from env_batch import BATCH, expert_frames
from skeleton_steering.env.registry import make_env


@pytest.fixture(scope="session")
def env():
    qpos, qvel = expert_frames()
    return make_env("SkeletonTorque.walk.mocap", expert_qpos=qpos, expert_qvel=qvel)


@pytest.fixture(scope="session")
def batched(env):
    """(reset, step) jitted over a batch of BATCH environments."""
    return jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


@pytest.fixture(scope="session")
def start_state(batched):
    reset, _ = batched
    return reset(jax.random.split(jax.random.PRNGKey(0), BATCH))


@pytest.fixture(scope="session")
def deterministic_jax():
    """--deterministic settings for the session (set once: they are part of jit's cache key)."""
    from skeleton_steering import jax_setup

    before = jax.config.jax_default_matmul_precision
    jax_setup.configure_jax(deterministic=True)
    yield
    jax.config.update("jax_default_matmul_precision", before)
