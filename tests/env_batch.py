"""Batch size and expert frames of the session-wide environment fixtures (tests/conftest.py).

A module of its own: test modules cannot import these from `conftest`, since the cluster
tests' conftest.py is imported under that same module name."""

import numpy as np

from skeleton_steering.skeleton import model

BATCH = 4


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
