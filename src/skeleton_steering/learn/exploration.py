"""A falling ceiling on the policy's exploration noise (`network.final_std`).

The ceiling is applied to the parameters after each PPO update, so the rollout and the next
update see the same std and the log std stays an ordinary learned parameter below it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jp

from skeleton_steering.learn import networks
from skeleton_steering.learn.train_config import NetworkConfig


def log_std_ceiling(net: NetworkConfig, env_steps: jax.Array) -> jax.Array:
    """Largest allowed log std after `env_steps`: init_log_std, then log-linear to final_std."""
    span = max(net.std_decay_end - net.std_decay_start, 1)
    frac = jp.clip((env_steps - net.std_decay_start) / span, 0.0, 1.0)
    return net.init_log_std + frac * (jp.log(net.final_std) - net.init_log_std)


def cap_policy_std(net: NetworkConfig, policy_params: Any, env_steps: jax.Array) -> Any:
    """`policy_params` with its log std clipped to the ceiling (unchanged when final_std is 0)."""
    if net.final_std <= 0:
        return policy_params
    capped = jp.minimum(policy_params["params"]["log_std"], log_std_ceiling(net, env_steps))
    return networks.with_log_std(policy_params, capped)
