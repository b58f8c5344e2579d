"""Environment ids. An id names model, task data and data kind, as in LocoMuJoCo:
`SkeletonTorque.walk.mocap` is the torque skeleton steering with walking motion-capture data.
"""

from __future__ import annotations

import difflib

import numpy as np

from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.env.steering_env import SteeringEnv

# id -> (model, motion dataset used by default when no trajectory is configured)
ENV_IDS: dict[str, dict[str, str]] = {
    "SkeletonTorque.walk.mocap": {"model": "SkeletonTorque", "dataset": "walk", "kind": "mocap"},
}


class UnknownEnvError(KeyError):
    """The environment id is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def resolve(env_id: str) -> dict[str, str]:
    """Parts of a registered id, or `UnknownEnvError` naming the closest known id."""
    if env_id not in ENV_IDS:
        close = difflib.get_close_matches(env_id, list(ENV_IDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UnknownEnvError(
            f"unknown env id '{env_id}'{hint} (known: {', '.join(sorted(ENV_IDS))})"
        )
    return ENV_IDS[env_id]


def make_env(
    env_id: str,
    config: EnvConfig | None = None,
    expert_qpos: np.ndarray | None = None,
    expert_qvel: np.ndarray | None = None,
) -> SteeringEnv:
    """Build the environment an id names."""
    resolve(env_id)
    return SteeringEnv(config, expert_qpos, expert_qvel)
