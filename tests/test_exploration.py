"""The falling ceiling on the policy's std (`network.final_std`)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jp
import numpy as np
import pytest

from skeleton_steering.learn import exploration
from skeleton_steering.learn.train_config import NetworkConfig

NET = NetworkConfig(init_log_std=float(np.log(0.1)), final_std=0.025,
                    std_decay_start=1000, std_decay_end=3000)


@pytest.mark.parametrize(
    ("env_steps", "std"), [(0, 0.1), (1000, 0.1), (2000, 0.05), (3000, 0.025), (10**9, 0.025)]
)
def test_ceiling_falls_log_linearly_from_the_initial_std_to_final_std(env_steps, std):
    ceiling = exploration.log_std_ceiling(NET, jp.float32(env_steps))
    np.testing.assert_allclose(np.exp(ceiling), std, rtol=1e-5)


def _policy(log_std):
    return {"params": {"log_std": jp.asarray(log_std, jp.float32), "dense": jp.ones(3)}}


def test_cap_clips_only_the_log_std_above_the_ceiling():
    log_std = np.log([0.2, 0.04, 0.01])
    capped = exploration.cap_policy_std(NET, _policy(log_std), jp.float32(2000))
    np.testing.assert_allclose(np.exp(capped["params"]["log_std"]), [0.05, 0.04, 0.01],
                               rtol=1e-5)
    np.testing.assert_array_equal(capped["params"]["dense"], np.ones(3))


def test_no_ceiling_when_final_std_is_zero():
    net = dataclasses.replace(NET, final_std=0.0)
    policy = _policy(np.log([0.5, 0.5]))
    assert exploration.cap_policy_std(net, policy, jp.float32(10**9)) is policy


@pytest.mark.parametrize(
    "bad", [{"final_std": -0.1}, {"std_decay_start": 5, "std_decay_end": 4}]
)
def test_bad_schedule_is_rejected(bad):
    with pytest.raises(ValueError, match=r"final_std|std_decay"):
        dataclasses.replace(NET, **bad).validate()
