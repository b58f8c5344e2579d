"""Which expert data a configuration trains on, and the start frames an export carries.

Shared by training and by evaluation (which rebuilds a checkpoint's start frames), so that
evaluating a model never imports the training driver.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from skeleton_steering.data import cache
from skeleton_steering.env.registry import resolve
from skeleton_steering.learn import expert_data, policy_export
from skeleton_steering.learn.train_config import TrainConfig


def resolve_expert(config: TrainConfig, run_dir: Path, console: Console) -> expert_data.ExpertData:
    """The configured cache or trajectory, or the env id's default dataset, or (last resort)
    standing."""
    if config.data.cache_dir is not None:
        return expert_data.load_cache(config.data.cache_dir, *expert_shape(config))
    if config.data.trajectory is not None:
        return expert_data.from_trajectory(config.data.trajectory, run_dir,
                                           *expert_shape(config), console)
    if resolve(config.env_id)["dataset"] == "walk":
        cache_dir = cache.ensure_default_walk_data(run_dir, console=console)
        return expert_data.load_cache(cache_dir, *expert_shape(config))
    console.print(
        "[yellow]warning:[/] no expert data configured (data.cache_dir, data.trajectory) and no "
        "default dataset available; using the standing pose as the only demo"
    )
    return expert_data.standing_demo()


def reference_frames(expert: expert_data.ExpertData) -> tuple[np.ndarray, np.ndarray]:
    """Start frames the policy export carries (the standing pose for the standing demo)."""
    if expert.qpos is None or expert.qvel is None:
        from skeleton_steering.skeleton import model

        nv = model.load_mj_model().nv
        return model.standing_qpos()[None].astype(np.float32), np.zeros((1, nv), np.float32)
    return policy_export.reference_frames(expert.qpos, expert.qvel)


def expert_shape(config: TrainConfig) -> tuple[int, float]:
    """(discriminator feature size, control step) the expert data must match."""
    from skeleton_steering.skeleton import model
    from skeleton_steering.skeleton.features import feature_size

    mj = model.load_mj_model()
    return feature_size(mj.nq, mj.nv, len(model.KEY_SITES)), config.env.physics.control_dt
