"""Steering commands: a target heading (yaw, world frame) and a target speed."""

from __future__ import annotations

import jax
import jax.numpy as jp

from skeleton_steering.env.env_config import CommandConfig

# Target direction in the heading frame (cos, sin) and target speed.
COMMAND_OBS_SIZE = 3


def sample(
    rng: jax.Array, heading: jax.Array, config: CommandConfig, resample_steps: tuple[int, int]
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """New (target_yaw, target_speed, steps until the next resample)."""
    k_yaw, k_speed, k_steps = jax.random.split(rng, 3)
    change = config.max_heading_change
    target_yaw = heading + jax.random.uniform(k_yaw, (), minval=-change, maxval=change)
    lo, hi = config.speed_range
    target_speed = jax.random.uniform(k_speed, (), minval=lo, maxval=hi)
    steps = jax.random.randint(k_steps, (), resample_steps[0], resample_steps[1] + 1)
    return wrap_angle(target_yaw), target_speed, steps


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Angle wrapped to [-pi, pi)."""
    return (angle + jp.pi) % (2 * jp.pi) - jp.pi


def command_obs(target_yaw: jax.Array, target_speed: jax.Array, heading: jax.Array) -> jax.Array:
    """Target direction in the character's heading frame, and the target speed."""
    rel = target_yaw - heading
    return jp.stack([jp.cos(rel), jp.sin(rel), target_speed])
