"""The policy's exploration noise: the std ceiling (`network.final_std`) and its correlation."""

from __future__ import annotations

import dataclasses

import jax
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


def test_correlated_noise_keeps_unit_variance_and_its_step_correlation():
    """AR(1) noise: each step still N(0, 1) (PPO's log-probs hold), neighbours correlated by c."""
    c, rng = 0.9, jax.random.PRNGKey(0)
    rng, noise = exploration.initial_noise(rng, (20000,), c)
    steps = [noise]
    for key in jax.random.split(rng, 30):
        steps.append(exploration.next_noise(steps[-1], key, c))
    x = np.asarray(jp.stack(steps))
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=0.03)
    lag1 = np.mean([np.corrcoef(x[t], x[t + 1])[0, 1] for t in range(30)])
    lag5 = np.mean([np.corrcoef(x[t], x[t + 5])[0, 1] for t in range(26)])
    assert lag1 == pytest.approx(c, abs=0.02) and lag5 == pytest.approx(c**5, abs=0.02)


def test_white_noise_leaves_the_key_stream_as_before():
    """correlation 0: no extra key split and fresh N(0, 1) each step, so old runs reproduce."""
    rng = jax.random.PRNGKey(3)
    same, first = exploration.initial_noise(rng, (5,), 0.0)
    assert np.array_equal(np.asarray(same), np.asarray(rng)) and not np.any(np.asarray(first))
    np.testing.assert_array_equal(exploration.next_noise(jp.ones(5), rng, 0.0),
                                  jax.random.normal(rng, (5,)))


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_bad_noise_correlation_is_rejected(bad):
    with pytest.raises(ValueError, match="noise_correlation"):
        NetworkConfig(noise_correlation=bad).validate()
