"""The environment's features after a step are those of the state the step ends in.

Demonstration features come from native forward kinematics of (qpos, qvel) (`data/cache.py`);
if the agent's came from anything else (for instance the body positions MJX computed before
the last substep's integration), the discriminator could tell agent from demo by that offset
alone. Reuses the session's environment and its jitted step (tests/conftest.py).
"""

from __future__ import annotations

import jax
import numpy as np

from env_batch import BATCH
from skeleton_steering.data import cache
from skeleton_steering.data.trajectory import from_clips
from skeleton_steering.skeleton import kinematics
from skeleton_steering.skeleton import model as skel
from skeleton_steering.skeleton.features import feature_slices

TOLERANCE = 1e-5


def _cache_features(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """The cache's features of each row of (qpos, qvel): its forward kinematics, its function."""
    traj = cache.with_kinematics(from_clips([(qpos, qvel)], frequency=50.0))
    return cache.frame_features(traj)


def _assert_same_features(env, got: np.ndarray, want: np.ndarray, what: str) -> None:
    slices = feature_slices(env.mj_model.nq, env.mj_model.nv, len(skel.KEY_SITES))
    errors = {name: float(np.abs(got[:, s] - want[:, s]).max()) for name, s in slices.items()}
    bad = {name: err for name, err in errors.items() if not err <= TOLERANCE}
    assert not bad, f"{what}: features differ from the cache's (max abs error per group) {bad}"


def _random_pd_steps(env, batched, start_state, steps: int):
    """States after each of `steps` env steps under random PD targets; env 0 hits its time
    limit at the second step, so an auto-reset is among them."""
    _, step = batched
    info = dict(
        start_state.info, step=start_state.info["step"].at[0].set(env.config.episode_length - 2)
    )
    state = start_state.replace(info=info)
    keys = jax.random.split(jax.random.PRNGKey(7), steps)
    out = []
    for key in keys:
        action = jax.random.uniform(key, (BATCH, env.action_size), minval=-0.5, maxval=0.5)
        state = step(state, action)
        out.append(jax.tree.map(np.asarray, state))
    return out


def test_features_after_a_step_equal_the_caches_of_the_same_state(env, batched, start_state):
    assert env.config.control.mode == "pd"
    n_feat = env.disc_obs_size
    reset_seen = False
    for i, state in enumerate(_random_pd_steps(env, batched, start_state, steps=6)):
        qpos, qvel = state.data.qpos, state.data.qvel
        want = _cache_features(qpos, qvel)
        # The observation's body-state part: of the stepped state, or of the fresh start where
        # the episode ended.
        _assert_same_features(env, state.obs[:, :n_feat], want, f"step {i + 1} observation")
        _assert_same_features(env, state.info["disc_obs"], want, f"step {i + 1} disc_obs")
        # The discriminator's s' of the transition is the stepped state's wherever no reset
        # replaced it.
        alive = state.done == 0
        assert alive.sum() >= BATCH - 1, f"step {i + 1}: unexpected falls {state.done}"
        _assert_same_features(
            env, state.info["disc_obs_next"][alive], want[alive], f"step {i + 1} disc_obs_next"
        )
        reset_seen |= bool(state.done[0])
        # The fall check reads pelvis and head sites: every site is where the state puts it.
        fk = kinematics.forward_kinematics(
            env.mj_model, qpos.astype(np.float64), qvel.astype(np.float64), ("site_xpos",)
        )
        np.testing.assert_allclose(state.data.site_xpos, fk["site_xpos"], rtol=0, atol=TOLERANCE)
        assert np.abs(qvel).max() > 0.1  # moving states, not a trivial rest pose
    assert reset_seen


def test_the_reset_state_features_equal_the_caches(env, start_state):
    state = jax.tree.map(np.asarray, start_state)
    want = _cache_features(state.data.qpos, state.data.qvel)
    _assert_same_features(env, state.info["disc_obs"], want, "reset disc_obs")
    _assert_same_features(env, state.obs[:, : env.disc_obs_size], want, "reset obs")
