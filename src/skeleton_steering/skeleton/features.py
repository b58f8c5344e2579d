"""The heading-invariant body-state features shared by the policy and the discriminator.

One definition serves three callers: the environment's observation, the discriminator's
(s, s') features during training, and the expert cache built from mocap. Inputs are plain
kinematic arrays (qpos, qvel, key-site positions), so the same function runs on MJX data in
the environment and on forward-kinematics output of a trajectory file.

Layout (82 values for the shipped skeleton):
  root height (1) | root orientation in the heading frame, tangent+normal (6) |
  root linear velocity in the heading frame (3) | root angular velocity in the heading frame (3) |
  hinge joint positions (27) | hinge joint velocities (27) |
  key-site positions relative to the root, heading frame (3 per site)
"""

from __future__ import annotations

import jax.numpy as jp
import numpy as np

from skeleton_steering.skeleton import spatial


def body_state_features(qpos: jp.ndarray, qvel: jp.ndarray, key_pos: jp.ndarray) -> jp.ndarray:
    """Features of one state: `qpos` (nq,), `qvel` (nv,), `key_pos` (n_sites, 3) in world frame.

    Free-joint conventions are MuJoCo's: qvel[0:3] is the world-frame linear velocity and
    qvel[3:6] the body-frame angular velocity.
    """
    root_pos = qpos[0:3]
    root_quat = qpos[3:7]
    heading = spatial.heading_of(root_quat)
    to_heading = spatial.yaw_quat(-heading)
    local_quat = spatial.quat_mul(to_heading, root_quat)
    lin_vel = spatial.rotate_z(qvel[0:3], -heading)
    ang_vel = spatial.rotate_z(spatial.quat_rotate(root_quat, qvel[3:6]), -heading)
    rel_key = spatial.rotate_z(key_pos - root_pos, -heading)
    return jp.concatenate(
        [
            root_pos[2:3],
            spatial.quat_to_tan_norm(local_quat),
            lin_vel,
            ang_vel,
            qpos[7:],
            qvel[6:],
            rel_key.reshape(-1),
        ]
    )


def feature_size(nq: int, nv: int, n_sites: int) -> int:
    """Length of `body_state_features` for a model with these sizes."""
    return sum(_group_sizes(nq, nv, n_sites))


# The named groups of `body_state_features`, in layout order.
FEATURE_GROUPS: tuple[str, ...] = (
    "root_height",
    "root_orientation",
    "root_linear_velocity",
    "root_angular_velocity",
    "joint_positions",
    "joint_velocities",
    "key_sites",
)


def _group_sizes(nq: int, nv: int, n_sites: int) -> tuple[int, ...]:
    """Length of each of `FEATURE_GROUPS`."""
    return (1, 6, 3, 3, nq - 7, nv - 6, 3 * n_sites)


def check_groups(groups: tuple[str, ...]) -> None:
    """ValueError unless `groups` names at least one group and only known ones."""
    if not groups:
        raise ValueError(f"name at least one feature group of {list(FEATURE_GROUPS)}")
    unknown = sorted(set(groups) - set(FEATURE_GROUPS))
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; known: {list(FEATURE_GROUPS)}")


def feature_slices(nq: int, nv: int, n_sites: int) -> dict[str, slice]:
    """Where each of `FEATURE_GROUPS` lies in `body_state_features`."""
    out, start = {}, 0
    for name, size in zip(FEATURE_GROUPS, _group_sizes(nq, nv, n_sites), strict=True):
        out[name] = slice(start, start + size)
        start += size
    return out


def group_mask(nq: int, nv: int, n_sites: int, groups: tuple[str, ...]) -> np.ndarray:
    """1.0 on the features of `groups`, 0.0 elsewhere (float32, `feature_size` long)."""
    check_groups(groups)
    mask = np.zeros(feature_size(nq, nv, n_sites), np.float32)
    for name, where in feature_slices(nq, nv, n_sites).items():
        if name in groups:
            mask[where] = 1.0
    return mask
