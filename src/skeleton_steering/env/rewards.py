"""Task reward terms of the steering task, one pure function each."""

from __future__ import annotations

import jax
import jax.numpy as jp


def tracking_velocity(velocity: jax.Array, direction: jax.Array, speed: jax.Array, k: float):
    """exp(-k (v* - d.v)^2): 1 when the speed along the commanded direction matches v*."""
    along = jp.dot(velocity, direction)
    return jp.exp(-k * (speed - along) ** 2)


# Cap of the lateral cost, (m/s)^2: a walker never moves sideways faster than 2 m/s, and an
# unbounded square turns a finite physics blow-up into a reward of -1e8 that swamps the update.
LATERAL_COST_CAP = 4.0


def lateral_velocity(velocity: jax.Array, direction: jax.Array) -> jax.Array:
    """Squared speed across the commanded direction, capped (a cost; its scale is negative)."""
    across = velocity - jp.dot(velocity, direction) * direction
    return jp.minimum(jp.sum(across**2), LATERAL_COST_CAP)


def facing(heading: jax.Array, target_yaw: jax.Array) -> jax.Array:
    """Cosine between the pelvis' facing and the commanded direction, floored at 0."""
    return jp.maximum(jp.cos(target_yaw - heading), 0.0)


def heading_alignment(heading: jax.Array, target_yaw: jax.Array) -> jax.Array:
    """(1 + cos) / 2 between the pelvis' facing and the commanded direction.

    Unlike `facing` (0 beyond 90 deg) and `tracking_velocity` (~0 while walking away), it
    still rises with every degree turned when the character faces away from a new heading.
    """
    return 0.5 * (1.0 + jp.cos(target_yaw - heading))


def walking_alignment(
    velocity: jax.Array, heading: jax.Array, target_yaw: jax.Array, speed: jax.Array
) -> jax.Array:
    """`heading_alignment` times the planar speed as a share of v* (at most 1).

    Pays for every degree turned toward the command, like `heading_alignment`, but only while
    walking: facing the command on the spot earns nothing, so it cannot make standing pay.
    """
    pace = jp.minimum(jp.linalg.norm(velocity) / jp.maximum(speed, 1e-3), 1.0)
    return heading_alignment(heading, target_yaw) * pace


def task_terms(
    planar_velocity: jax.Array,
    heading: jax.Array,
    target_yaw: jax.Array,
    target_speed: jax.Array,
    tracking_k: float,
) -> dict[str, jax.Array]:
    """All task reward terms by name (the config's `reward.scales` weighs them)."""
    direction = jp.stack([jp.cos(target_yaw), jp.sin(target_yaw)])
    return {
        "tracking_velocity": tracking_velocity(
            planar_velocity, direction, target_speed, tracking_k
        ),
        "lateral_velocity": lateral_velocity(planar_velocity, direction),
        "facing": facing(heading, target_yaw),
        "heading_alignment": heading_alignment(heading, target_yaw),
        "walking_alignment": walking_alignment(planar_velocity, heading, target_yaw,
                                               target_speed),
        # 1 for every step the character is still up: a denser survival signal than the
        # tracking terms alone, which pay little while the policy cannot yet walk.
        "alive": jp.ones_like(heading),
    }
