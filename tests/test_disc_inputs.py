"""What the discriminator sees: the feature groups chosen by `amp.features`, and instance noise
(`amp.input_noise`) on the inputs of its updates only."""

from __future__ import annotations

import jax
import jax.numpy as jp
import numpy as np
import pytest

from skeleton_steering.config import ConfigError
from skeleton_steering.learn import amp_ppo, normalizer, train_config
from skeleton_steering.skeleton import features, model


def _slices(env) -> dict[str, slice]:
    return features.feature_slices(env.mj_model.nq, env.mj_model.nv, len(model.KEY_SITES))


def test_feature_groups_tile_the_feature_layout(env, start_state):
    where = _slices(env)
    assert tuple(where) == features.FEATURE_GROUPS
    ends = [s.stop for s in where.values()]
    starts = [s.start for s in where.values()]
    assert starts == [0, *ends[:-1]] and ends[-1] == env.disc_obs_size
    # The slices name what body_state_features puts there, on a real state of the env.
    disc_obs = np.asarray(start_state.info["disc_obs"][0])
    qpos = np.asarray(start_state.data.qpos[0])
    np.testing.assert_allclose(disc_obs[where["root_height"]], qpos[2:3], atol=1e-6)
    np.testing.assert_allclose(disc_obs[where["joint_positions"]], qpos[7:], atol=1e-6)


def _learner(env, overrides: list[str]) -> amp_ppo.Learner:
    return amp_ppo.make_learner(env, train_config.load(None, overrides))


def test_left_out_groups_cannot_change_the_discriminator_score(env):
    learner = _learner(env, ["amp.features=[root_height,joint_positions,key_sites]"])
    f = env.disc_obs_size
    pairs = jax.random.normal(jax.random.PRNGKey(0), (16, 2 * f))
    norm = normalizer.update(normalizer.init(f), pairs.reshape(-1, f), 1e9)
    vel = _slices(env)["joint_velocities"]
    shaken = pairs.at[:, vel].add(3.0).at[:, f + vel.start:f + vel.stop].add(-2.0)
    z, z_shaken = (amp_ppo.normalize_pairs(learner, norm, p) for p in (pairs, shaken))
    assert np.all(np.asarray(z[:, vel]) == 0.0)
    assert np.all(np.asarray(z[:, f + vel.start:f + vel.stop]) == 0.0)
    params = learner.disc.init(jax.random.PRNGKey(1), z)
    score = learner.disc.apply(params, z)
    np.testing.assert_array_equal(score, learner.disc.apply(params, z_shaken))
    # A group it does see changes the score.
    pos = _slices(env)["joint_positions"]
    moved = amp_ppo.normalize_pairs(learner, norm, pairs.at[:, pos].add(1.0))
    assert not np.allclose(score, learner.disc.apply(params, moved))


def test_all_groups_by_default_leave_the_normalized_pairs_unchanged(env):
    learner = _learner(env, [])
    assert learner.disc_mask.shape == (2 * env.disc_obs_size,)
    assert np.all(learner.disc_mask == 1.0)
    z = jp.linspace(-3.0, 3.0, 2 * env.disc_obs_size)
    assert amp_ppo.with_input_noise(learner, jax.random.PRNGKey(0), z) is z


def test_input_noise_has_the_configured_std_on_seen_features_only(env):
    learner = _learner(env, ["amp.input_noise=0.5", "amp.features=[joint_positions]"])
    z = jp.zeros((4000, 2 * env.disc_obs_size)) * learner.disc_mask
    noisy = np.asarray(amp_ppo.with_input_noise(learner, jax.random.PRNGKey(0), z))
    seen = learner.disc_mask > 0
    assert np.std(noisy[:, seen]) == pytest.approx(0.5, rel=0.02)
    assert np.all(noisy[:, ~seen] == 0.0)


def test_unknown_feature_group_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"joint_velocity.*known: .*joint_velocities"):
        train_config.load(None, ["amp.features=[joint_velocity]"])
    with pytest.raises(ConfigError, match="input_noise"):
        train_config.load(None, ["amp.input_noise=-0.1"])
