"""The steering environment: shapes, determinism, invariance, rewards, termination, commands."""

from __future__ import annotations

import itertools
import re

import jax
import jax.numpy as jp
import numpy as np
import pytest
from mujoco import mjx

from env_batch import BATCH
from skeleton_steering.config import ConfigError, from_dict
from skeleton_steering.env import env_config, rewards
from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.env.registry import UnknownEnvError, make_env, resolve
from skeleton_steering.env.steering_env import ExpertFramesError
from skeleton_steering.skeleton import spatial


def _zeros(env):
    return jp.zeros((BATCH, env.action_size))


def test_reset_and_step_shapes_under_jit_and_vmap(env, batched, start_state):
    _, step = batched
    assert start_state.obs.shape == (BATCH, env.observation_size)
    assert env.observation_size == 85 and env.action_size == 27
    state = step(start_state, _zeros(env))
    assert state.obs.shape == (BATCH, env.observation_size)
    assert state.reward.shape == (BATCH,) and state.done.shape == (BATCH,)
    assert state.info["disc_obs"].shape == (BATCH, env.disc_obs_size)
    assert state.info["disc_obs_next"].shape == (BATCH, env.disc_obs_size)
    assert np.isfinite(np.asarray(state.obs)).all()
    for value in state.metrics.values():
        assert value.shape == (BATCH,)


def test_same_key_gives_same_state(batched):
    reset, step = batched
    keys = jax.random.split(jax.random.PRNGKey(7), BATCH)
    a, b = reset(keys), reset(keys)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    action = jp.full((BATCH, 27), 0.1)
    a, b = step(a, action), step(b, action)
    np.testing.assert_array_equal(np.asarray(a.obs), np.asarray(b.obs))
    other = reset(jax.random.split(jax.random.PRNGKey(8), BATCH))
    assert not np.array_equal(np.asarray(other.obs), np.asarray(reset(keys).obs))


def test_reference_state_init_uses_expert_frames_at_random_headings(env, start_state):
    qpos = np.asarray(start_state.data.qpos)
    expert = np.asarray(env._expert_qpos)
    for row in qpos:
        # Joint angles and height come from one of the expert frames, position is the origin.
        assert min(np.abs(expert[:, 7:] - row[7:]).max(axis=1)) < 1e-6
        np.testing.assert_allclose(row[:2], 0.0)
    headings = np.asarray(spatial.heading_of(jp.asarray(qpos[:, 3:7])))
    assert np.ptp(headings) > 0.1


def test_observation_invariant_to_rotation_about_vertical(env, start_state):
    data = jax.tree.map(lambda x: x[0], start_state.data)
    info = jax.tree.map(lambda x: x[0], start_state.info)
    angle = 1.234

    def rotated(data):
        qpos = data.qpos
        quat = spatial.quat_mul(spatial.yaw_quat(jp.asarray(angle)), qpos[3:7])
        pos = spatial.rotate_z(qpos[0:3], angle)
        qpos = jp.concatenate([pos, quat, qpos[7:]])
        qvel = jp.concatenate([spatial.rotate_z(data.qvel[0:3], angle), data.qvel[3:]])
        return mjx.kinematics(env.mjx_model, data.replace(qpos=qpos, qvel=qvel))

    observe = jax.jit(lambda d, i: env._observe(env._disc_obs(d), d, i))
    obs = observe(data, info)
    turned_info = dict(info, target_yaw=info["target_yaw"] + angle)
    turned = observe(jax.jit(rotated)(data), turned_info)
    np.testing.assert_allclose(np.asarray(obs), np.asarray(turned), atol=2e-5)


def test_task_reward_is_highest_when_velocity_matches_command():
    target_yaw, speed = jp.asarray(0.7), jp.asarray(1.3)
    direction = jp.array([jp.cos(target_yaw), jp.sin(target_yaw)])
    scales = EnvConfig().reward.scales

    def total(velocity):
        terms = rewards.task_terms(velocity, target_yaw, target_yaw, speed, 2.0)
        return float(sum(terms[k] * s for k, s in scales.items()))

    speeds = np.linspace(0.0, 2.5, 26)
    along = [total(s * direction) for s in speeds]
    assert speeds[int(np.argmax(along))] == pytest.approx(1.3)
    best = total(speed * direction)
    side = jp.array([-direction[1], direction[0]])
    assert total(speed * direction + 0.5 * side) < best
    assert total(-speed * direction) < best
    assert rewards.tracking_velocity(speed * direction, direction, speed, 2.0) == pytest.approx(1.0)


def test_every_reward_term_can_be_weighed_and_heading_alignment_pays_from_the_first_degree():
    velocity, speed = jp.array([0.0, 0.0]), jp.asarray(1.2)
    terms = rewards.task_terms(velocity, jp.asarray(0.0), jp.asarray(0.0), speed, 2.0)
    assert set(terms) == set(env_config.REWARD_TERMS)
    # Facing away from a new heading: `facing` is flat at 0, heading alignment still rises.
    away = np.radians([180.0, 150.0, 120.0, 90.0, 60.0, 0.0])
    align = [float(rewards.heading_alignment(jp.asarray(a), jp.asarray(0.0))) for a in away]
    assert align[0] == pytest.approx(0.0, abs=1e-7) and align[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in itertools.pairwise(align))
    assert float(rewards.facing(jp.asarray(away[1]), jp.asarray(0.0))) == 0.0


def test_walking_alignment_pays_for_facing_the_command_only_while_walking():
    speed, target = jp.asarray(1.2), jp.asarray(0.0)
    forward = jp.array([1.2, 0.0])
    # On the spot it earns nothing, however well it faces the command.
    assert float(rewards.walking_alignment(jp.zeros(2), target, target, speed)) == 0.0
    # At the commanded pace it is heading_alignment, rising from the first degree turned.
    away = np.radians([180.0, 135.0, 90.0, 45.0, 0.0])
    walked = [float(rewards.walking_alignment(forward, jp.asarray(a), target, speed)) for a in away]
    aligned = [float(rewards.heading_alignment(jp.asarray(a), target)) for a in away]
    np.testing.assert_allclose(walked, aligned, atol=1e-6)
    assert all(b > a for a, b in itertools.pairwise(walked))
    # Half the pace, half the pay; faster than commanded pays no more than the pace.
    half = float(rewards.walking_alignment(0.5 * forward, target, target, speed))
    assert half == pytest.approx(0.5)
    assert float(rewards.walking_alignment(2.0 * forward, target, target, speed)) == 1.0


def test_lateral_cost_is_the_squared_cross_speed_up_to_its_cap():
    direction = jp.array([1.0, 0.0])
    assert float(rewards.lateral_velocity(jp.array([1.0, 0.5]), direction)) == pytest.approx(0.25)
    # A blown-up velocity costs the cap, not 1e8.
    blown_up = float(rewards.lateral_velocity(jp.array([0.0, 1e4]), direction))
    assert blown_up == pytest.approx(rewards.LATERAL_COST_CAP)


def test_termination_fires_when_pelvis_falls(env, batched, start_state):
    _, step = batched
    # Lying on its side at pelvis height 0.3 m (turned 90 deg about the forward axis): fallen,
    # and no body inside the floor (a lowered upright body would drive its feet through it,
    # and the contact would fling them out faster than a blow-up's 20 m/s).
    lying = jp.array([np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0])
    qpos = start_state.data.qpos.at[:, 2].set(0.3).at[:, 3:7].set(lying)
    # Body positions to match (else the step reads the jump from the old ones as a blow-up).
    data = jax.vmap(lambda d: mjx.kinematics(env.mjx_model, d))(
        start_state.data.replace(qpos=qpos)
    )
    low = start_state.replace(data=data)
    state = step(low, _zeros(env))
    assert np.asarray(state.info["terminated"]).all()
    assert np.asarray(state.done).all()
    assert (np.asarray(state.metrics["fell"]) == 1).all()
    # Auto-reset: the new state is upright and at step 0.
    assert (np.asarray(state.info["step"]) == 0).all()
    assert (np.asarray(state.data.qpos[:, 2]) > 0.8).all()
    # The terminal features still show the fallen pelvis, not the reset one.
    assert (np.asarray(state.info["disc_obs_next"][:, 0]) < 0.7).all()
    assert (np.asarray(state.info["disc_obs"][:, 0]) > 0.8).all()


def test_time_limit_truncates(env, batched, start_state):
    _, step = batched
    info = dict(start_state.info, step=jp.full((BATCH,), env.config.episode_length - 1))
    state = step(start_state.replace(info=info), _zeros(env))
    assert np.asarray(state.info["truncated"]).all()
    assert not np.asarray(state.info["terminated"]).any()


def test_nonfinite_physics_resets_and_is_counted(env, batched, start_state):
    _, step = batched
    qvel = start_state.data.qvel.at[0, 10].set(jp.nan)
    state = step(start_state.replace(data=start_state.data.replace(qvel=qvel)), _zeros(env))
    assert float(state.metrics["nonfinite"][0]) == 1.0
    assert float(state.done[0]) == 1.0
    for key in ("disc_obs", "disc_obs_next", "terminal_obs"):
        assert np.isfinite(np.asarray(state.info[key])).all(), key
    assert np.isfinite(np.asarray(state.obs)).all()
    assert np.isfinite(np.asarray(state.reward)).all()
    assert float(state.metrics["nonfinite"][1]) == 0.0


def test_commands_change_inside_an_episode(env, batched, start_state):
    _, step = batched
    state, changes = start_state, 0
    info = dict(state.info, command_steps_left=jp.array([1, 1, 3, 50]))
    state = state.replace(info=info)
    for _ in range(4):
        prev = np.asarray(state.info["target_yaw"])
        state = step(state, _zeros(env))
        alive = np.asarray(state.done) == 0
        changes += int(np.sum((np.asarray(state.info["target_yaw"]) != prev) & alive))
    assert changes >= 3
    assert (np.asarray(state.info["command_steps_left"]) >= 1).all()
    speeds = np.asarray(state.info["target_speed"])
    lo, hi = env.config.command.speed_range
    assert ((speeds >= lo) & (speeds <= hi)).all()


def test_standing_fallback_without_expert_frames():
    env = make_env("SkeletonTorque.walk.mocap")
    assert env.uses_standing_fallback
    state = env.reset(jax.random.PRNGKey(0))
    assert float(state.data.qpos[2]) == pytest.approx(0.996, abs=1e-4)
    np.testing.assert_allclose(np.asarray(state.data.qpos[7:]), 0.0)


def test_unknown_env_id_is_named():
    with pytest.raises(UnknownEnvError, match=re.escape("SkeletonTorque.walk.mocap")):
        resolve("SkeletonTorque.walk.mocapp")
    with pytest.raises(UnknownEnvError, match=re.escape("unknown env id 'Humanoid.run'")):
        make_env("Humanoid.run")


def test_bad_config_key_and_type_are_named():
    with pytest.raises(ConfigError, match=r"'physics.timestpe'.*did you mean 'timestep'"):
        from_dict(EnvConfig, {"physics": {"timestpe": 0.005}}, source="env.yaml")
    with pytest.raises(ConfigError, match=r"env.yaml: field 'episode_length' must be an integer"):
        from_dict(EnvConfig, {"episode_length": "long"}, source="env.yaml")
    with pytest.raises(ConfigError, match=r"speed_range"):
        from_dict(EnvConfig, {"command": {"speed_range": [2.0, 1.0]}})
    with pytest.raises(ConfigError, match=r"unknown reward terms \['speeed'\]"):
        from_dict(EnvConfig, {"reward": {"scales": {"speeed": 1.0}}})


def test_expert_frames_of_wrong_shape_are_rejected():
    good_q, good_v = np.zeros((5, 34)), np.zeros((5, 33))
    with pytest.raises(ExpertFramesError, match=r"qpos must have shape \(N, 34\), got \(5, 30\)"):
        make_env("SkeletonTorque.walk.mocap", expert_qpos=np.zeros((5, 30)), expert_qvel=good_v)
    with pytest.raises(ExpertFramesError, match="different frame counts"):
        make_env("SkeletonTorque.walk.mocap", expert_qpos=good_q, expert_qvel=np.zeros((4, 33)))
    bad = good_q.copy()
    bad[2, 9] = np.nan
    with pytest.raises(ExpertFramesError, match="NaN"):
        make_env("SkeletonTorque.walk.mocap", expert_qpos=bad, expert_qvel=good_v)
    with pytest.raises(ExpertFramesError, match="both"):
        make_env("SkeletonTorque.walk.mocap", expert_qpos=good_q)
