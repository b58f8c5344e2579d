"""How much memory a training config needs, estimated from its sizes before anything exists.

A config's sizes have no limit of their own: `ppo.num_envs=100000000` is a valid number, and
the process would allocate until the machine runs out. So training estimates the arrays a
config implies and refuses, naming the estimate and the machine's memory, when they cannot
fit. The estimate counts what the sizes force to exist at once, at float32:

* env states: `ppo.num_envs` MJX states (the model's `mjx.Data`, shapes only, plus the
  observation), twice: the scan's carry and the state the step returns;
* rollout: `ppo.num_envs x ppo.rollout_length` transitions (observation and next
  observation, action, log-probability, rewards and flags, the discriminator's [s, s'] pair),
  the advantages, returns and values computed from them, and the shuffled copy the
  minibatches are cut from;
* replay: `amp.replay_capacity` discriminator pairs;
* networks: the three MLPs' parameters, their gradients and Adam's two moments;
* evaluation: the periodic evaluation's envs.

It leaves out XLA's temporaries and the demo data (known only once loaded), so it is a lower
bound: a config it refuses cannot run here, one it accepts may still be too large.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from collections.abc import Sequence

from skeleton_steering.config import ConfigError
from skeleton_steering.learn.train_config import TrainConfig

FLOAT_BYTES = 4
# Per transition besides observations, action and pair: log-probability, task reward,
# terminated, done, obs_valid, valid.
_TRANSITION_SCALARS = 6
# Per transition computed by the update: advantage, return, value.
_UPDATE_SCALARS = 3


@dataclasses.dataclass(frozen=True)
class ModelSizes:
    """Array sizes the skeleton fixes: observation, action, discriminator features, state."""

    observation: int
    action: int
    disc_features: int
    env_state_bytes: int  # one env's MJX data


@functools.cache
def model_sizes() -> ModelSizes:
    """Sizes of the shipped skeleton (`mjx.Data` by its shapes only: nothing is allocated)."""
    import jax
    import numpy as np

    from skeleton_steering.env.commands import COMMAND_OBS_SIZE
    from skeleton_steering.skeleton import model
    from skeleton_steering.skeleton.features import feature_size
    from skeleton_steering.skeleton.mjx_import import mjx

    mj = model.load_mj_model()
    shapes = jax.eval_shape(lambda: mjx.make_data(mj))
    state = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    disc = feature_size(mj.nq, mj.nv, len(model.KEY_SITES))
    return ModelSizes(disc + COMMAND_OBS_SIZE, mj.nu, disc, state)


def _mlp_params(inputs: int, hidden: Sequence[int], outputs: int) -> int:
    widths = [inputs, *hidden, outputs]
    return sum((a + 1) * b for a, b in itertools.pairwise(widths))


def estimate(config: TrainConfig, sizes: ModelSizes) -> dict[str, int]:
    """Bytes per part (see the module docstring), largest first."""
    ppo, net = config.ppo, config.network
    obs, act, disc = sizes.observation, sizes.action, sizes.disc_features
    state = sizes.env_state_bytes + obs * FLOAT_BYTES
    transition = 2 * obs + act + 2 * disc + _TRANSITION_SCALARS
    minibatch_copy = obs + act + _UPDATE_SCALARS + 2 * disc
    params = (
        _mlp_params(obs, net.policy_hidden, act)
        + act
        + _mlp_params(obs, net.value_hidden, 1)
        + _mlp_params(2 * disc, net.disc_hidden, 1)
    )
    parts = {
        "env states (ppo.num_envs)": 2 * ppo.num_envs * state,
        "rollout (ppo.num_envs x ppo.rollout_length)": ppo.batch_size
        * (transition + _UPDATE_SCALARS + minibatch_copy)
        * FLOAT_BYTES,
        "replay (amp.replay_capacity)": config.amp.replay_capacity * 2 * disc * FLOAT_BYTES,
        "networks": 4 * params * FLOAT_BYTES,  # parameters, gradients, Adam's two moments
        "evaluation (eval)": 2 * config.eval.num_envs * state,
    }
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


def machine_memory_bytes() -> int:
    """Total physical memory of this machine (`/proc/meminfo`, else `sysconf`)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_memory_bytes() -> int | None:
    """Memory of the first accelerator JAX computes on, or None on the CPU backend."""
    import jax

    if jax.default_backend() == "cpu":
        return None
    stats = jax.local_devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(limit) if limit else None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def check_fits(
    config: TrainConfig,
    host_bytes: int | None = None,
    device_bytes: int | None = None,
    sizes: ModelSizes | None = None,
) -> int:
    """The estimate in bytes; raises `ConfigError` naming it when it exceeds the machine's
    memory (the host's total, and the accelerator's when training runs on one)."""
    parts = estimate(config, sizes or model_sizes())
    total = sum(parts.values())
    limits = {"this machine's memory": host_bytes or machine_memory_bytes()}
    device = device_bytes if device_bytes is not None else device_memory_bytes()
    if device:
        limits["the accelerator's memory"] = device
    for name, limit in limits.items():
        if total > limit:
            largest = ", ".join(f"{part} {_size(n)}" for part, n in list(parts.items())[:3])
            raise ConfigError(
                f"the training config needs at least an estimated {_size(total)} ({largest}), "
                f"more than {name} ({_size(limit)}); lower ppo.num_envs, ppo.rollout_length "
                "or amp.replay_capacity"
            )
    return total
