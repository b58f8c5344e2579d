"""The evaluation during training: its style reward scores the mean-action motion with the
discriminator it is given."""

from __future__ import annotations

import jax
import jax.numpy as jp
import numpy as np

from constant_disc import constant_disc
from skeleton_steering.learn import amp_ppo, normalizer, periodic_eval, train_config

SMALL = [
    "network.policy_hidden=[16]", "network.value_hidden=[16]", "network.disc_hidden=[16]",
    "eval.steps=6", "eval.heading_offsets_deg=[0.0,90.0]", "eval.speeds=[1.0]",
]


def test_style_reward_scores_the_motion_with_the_given_discriminator(env):
    learner = amp_ppo.make_learner(env, train_config.load(None, SMALL))
    evaluate = periodic_eval.make_evaluate(learner)  # one compile for every discriminator
    key = jax.random.PRNGKey(0)
    policy = learner.policy.init(key, jp.zeros((1, env.observation_size)))
    disc = learner.disc.init(key, jp.zeros((1, 2 * env.disc_obs_size)))
    obs_norm, disc_norm = (normalizer.init(env.observation_size),
                           normalizer.init(env.disc_obs_size))
    # max(0, 1 - (d - 1)^2 / 4) at a constant score d: "demo" pays 1, "agent" 0.
    for score, style in [(1.0, 1.0), (0.0, 0.75), (-1.0, 0.0)]:
        out = evaluate(policy, obs_norm, constant_disc(disc, score), disc_norm)
        np.testing.assert_allclose(float(out["style_reward"]), style, atol=1e-6)
        assert float(out["disc_acc_agent"]) == (1.0 if score < 0 else 0.0)
    assert 0.0 < float(out["survival"]) <= 1.0
