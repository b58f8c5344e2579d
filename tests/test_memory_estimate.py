"""The memory estimate training checks a config against before allocating anything."""

from __future__ import annotations

import pytest

from skeleton_steering.config import ConfigError
from skeleton_steering.learn import memory_estimate, train_config

SIZES = memory_estimate.ModelSizes(
    observation=85, action=27, disc_features=82, env_state_bytes=37_500
)


def _total(*overrides: str) -> int:
    return sum(memory_estimate.estimate(train_config.load(None, list(overrides)), SIZES).values())


def test_estimate_grows_with_envs_and_replay_capacity():
    base = _total()
    more_envs = _total("ppo.num_envs=128")
    more_replay = _total("amp.replay_capacity=131072")
    assert more_envs > base and more_replay > base
    # The replay's share is exactly its pairs: 65,536 more of 2 x 82 float32 features.
    assert more_replay - base == 65_536 * 2 * 82 * 4


def test_model_sizes_are_the_skeletons():
    sizes = memory_estimate.model_sizes()
    assert (sizes.observation, sizes.action, sizes.disc_features) == (85, 27, 82)
    assert sizes.env_state_bytes > 10_000


def test_check_fits_names_the_estimate_and_the_memory():
    config = train_config.load(None, ["ppo.num_envs=100000", "amp.replay_capacity=3200000"])
    need = memory_estimate.check_fits(config, host_bytes=2**40, device_bytes=0, sizes=SIZES)
    with pytest.raises(ConfigError, match=r"estimated .* GiB .*ppo\.num_envs.*\(1\.0 GiB\)"):
        memory_estimate.check_fits(config, host_bytes=2**30, device_bytes=0, sizes=SIZES)
    with pytest.raises(ConfigError, match="accelerator's memory"):
        memory_estimate.check_fits(config, host_bytes=2**40, device_bytes=need - 1, sizes=SIZES)


def test_machine_memory_is_read():
    assert memory_estimate.machine_memory_bytes() > 2**28
