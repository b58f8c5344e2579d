"""Shared fixtures. Compiling an MJX step takes about a minute on 2 CPU cores, so the
environment and its jitted functions are built once per session and reused."""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import pytest

from env_batch import BATCH
from skeleton_steering.env.registry import make_env
from skeleton_steering.skeleton import model


def expert_frames() -> tuple[np.ndarray, np.ndarray]:
    """Three distinct upright frames: standing, and two with bent joints and some velocity."""
    base = model.standing_qpos()
    qpos = np.stack([base, base, base]).astype(np.float32)
    idx = model.default_index()
    qpos[1, idx.joint_qpos["knee_angle_r"]] = -0.4
    qpos[1, idx.joint_qpos["hip_flexion_r"]] = 0.3
    qpos[2, idx.joint_qpos["elbow_flex_l"]] = 0.8
    qvel = np.zeros((3, 33), dtype=np.float32)
    qvel[1, 0] = 1.2
    qvel[2, 1] = -0.5
    qvel[2, 5] = 0.3
    return qpos, qvel


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
    from skeleton_steering.learn import train

    before = jax.config.jax_default_matmul_precision
    train.configure_jax(deterministic=True)
    yield
    jax.config.update("jax_default_matmul_precision", before)
