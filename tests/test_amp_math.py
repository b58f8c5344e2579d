"""Pure pieces of AMP + PPO on hand-made numbers: GAE, losses, style reward, gradient penalty,
normalizer, replay buffer, Gaussian policy helpers. The arithmetic is worked out in comments."""

from __future__ import annotations

import math

import jax
import jax.numpy as jp
import numpy as np
import pytest
from scipy import stats

from skeleton_steering.learn import losses, networks, normalizer, replay
from skeleton_steering.learn.gae import compute_gae


def test_gae_bootstraps_truncation_but_not_termination():
    # gamma 0.9, lambda 0.5. Step 1 ends by a fall, step 2 by the time limit.
    rewards = jp.array([1.0, 2.0, 3.0, 4.0])
    values = jp.array([0.5, 1.0, 1.5, 2.0])
    # V of the state each step reached, before auto-reset: 9.0 after the fall must be ignored,
    # 5.0 after the time limit must be bootstrapped, 3.0 closes the rollout.
    next_values = jp.array([1.0, 9.0, 5.0, 3.0])
    terminated = jp.array([0.0, 1.0, 0.0, 0.0])
    done = jp.array([0.0, 1.0, 1.0, 0.0])
    adv, ret = compute_gae(rewards, values, next_values, terminated, done, 0.9, 0.5)
    # deltas: 1 + .9*1 - .5 = 1.4 | 2 + 0 - 1 = 1.0 | 3 + .9*5 - 1.5 = 6.0 | 4 + .9*3 - 2 = 4.7
    # A3 = 4.7; A2 = 6.0 (done cuts); A1 = 1.0 (done cuts); A0 = 1.4 + .45 * 1.0 = 1.85
    np.testing.assert_allclose(np.asarray(adv), [1.85, 1.0, 6.0, 4.7], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ret), [2.35, 2.0, 7.5, 6.7], rtol=1e-6)


def test_gae_runs_per_env_on_time_major_batches():
    rewards = jp.ones((3, 2))
    zeros = jp.zeros((3, 2))
    adv, _ = compute_gae(rewards, zeros, zeros, zeros, zeros.at[1, 1].set(1.0), 1.0, 1.0)
    # env 0: no episode end, A_t = sum of the remaining rewards; env 1 ends at step 1.
    np.testing.assert_allclose(np.asarray(adv), [[3, 2], [2, 1], [1, 1]])


def test_style_reward_formula():
    d = jp.array([1.0, -1.0, 0.0, 2.0, 3.0, -3.0])
    # 1 - 0.25 (d-1)^2: 1, 0, 0.75, 0.75, 0, max(0, -3) = 0
    np.testing.assert_allclose(np.asarray(losses.style_reward(d)), [1, 0, 0.75, 0.75, 0, 0])


def test_least_squares_loss_and_accuracies():
    loss, m = losses.least_squares_disc_loss(jp.array([1.0, 0.0]), jp.array([-1.0, 1.0]))
    # demo: mean((0, -1)^2) = 0.5; agent: mean((0, 2)^2) = 2.0
    assert float(loss) == pytest.approx(2.5)
    assert float(m["disc_acc_demo"]) == 0.5  # 1 > 0 right, 0 > 0 wrong
    assert float(m["disc_acc_agent"]) == 0.5  # -1 < 0 right, 1 < 0 wrong


def test_gradient_penalty_on_known_gradients():
    w = jp.array([3.0, 4.0])
    linear = lambda x: jp.dot(w, x) + 7.0  # noqa: E731
    assert float(losses.gradient_penalty(linear, jp.ones((5, 2)))) == pytest.approx(25.0)
    square = lambda x: jp.sum(x**2)  # noqa: E731  gradient 2x
    x = jp.array([[1.0, 0.0], [0.0, 2.0]])
    # |2x|^2 = 4 and 16 -> mean 10
    assert float(losses.gradient_penalty(square, x)) == pytest.approx(10.0)


def test_total_reward_weights_task_and_style():
    r = losses.total_reward(jp.array(2.0), jp.array(0.5), task_weight=0.3, disc_weight=0.7)
    assert float(r) == pytest.approx(0.3 * 2.0 + 0.7 * 0.5)


def test_ppo_clip_fraction_kl_and_loss_on_constructed_batch():
    ratios = np.array([1.5, 0.5, 1.0, 1.1])
    old = jp.zeros(4)
    new = jp.log(jp.asarray(ratios))
    adv = jp.array([1.0, 1.0, -1.0, -1.0])
    loss, m = losses.ppo_actor_loss(new, old, adv, clip_eps=0.2)
    # |r - 1| > 0.2 for 1.5 and 0.5 only
    assert float(m["clip_frac"]) == pytest.approx(0.5)
    # mean((r - 1) - log r)
    kl = np.mean((ratios - 1) - np.log(ratios))
    assert float(m["approx_kl"]) == pytest.approx(kl, rel=1e-5)
    assert kl == pytest.approx(0.073093, abs=1e-6)
    # min(rA, clip(r)A): 1.2, 0.5, -1.0, -1.1 -> mean -0.1 -> loss 0.1
    assert float(loss) == pytest.approx(0.1, rel=1e-5)


def test_ppo_no_change_gives_zero_kl_and_clip():
    lp = jp.array([-1.0, -2.0, -3.0])
    _, m = losses.ppo_actor_loss(lp, lp, jp.array([1.0, -1.0, 2.0]), 0.2)
    assert float(m["clip_frac"]) == 0.0 and float(m["approx_kl"]) == 0.0


def test_adaptive_learning_rate_follows_the_kl_target():
    def adapt(lr: float, kl: float) -> float:
        return float(losses.adapt_learning_rate(jp.array(lr), jp.array(kl), 0.01, 1e-5, 1e-2))

    # desired 0.01: above 0.02 shrink by 1.5, below 0.005 grow by 1.5, in between keep.
    assert adapt(3e-3, 0.05) == pytest.approx(2e-3)
    assert adapt(3e-3, 0.001) == pytest.approx(4.5e-3)
    assert adapt(3e-3, 0.01) == pytest.approx(3e-3)
    # Bounds hold.
    assert adapt(9e-3, 0.0) == pytest.approx(1e-2)
    assert adapt(1.2e-5, 1.0) == pytest.approx(1e-5)


def test_value_loss_and_advantage_normalization():
    assert float(losses.value_loss(jp.array([1.0, 3.0]), jp.array([0.0, 1.0]))) == 1.25
    z = losses.normalize_advantages(jp.array([1.0, 2.0, 3.0, 4.0]))
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(z.std()) == pytest.approx(1.0, rel=1e-5)


def test_gaussian_log_prob_and_entropy_match_scipy():
    x = np.array([0.3, -1.0, 2.0])
    mean = np.array([0.0, -0.5, 1.0])
    log_std = np.array([-1.0, 0.0, 0.5])
    expected = stats.norm(mean, np.exp(log_std)).logpdf(x).sum()
    got = networks.gaussian_log_prob(jp.asarray(x), jp.asarray(mean), jp.asarray(log_std))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    ent = stats.norm(mean, np.exp(log_std)).entropy().sum()
    assert float(networks.gaussian_entropy(jp.asarray(log_std))) == pytest.approx(ent, rel=1e-5)


def test_policy_starts_near_zero_with_configured_std():
    pol = networks.GaussianPolicy((16,), 3, "elu", init_log_std=-1.6)
    params = pol.init(jax.random.PRNGKey(0), jp.zeros((1, 5)))
    mean, log_std = pol.apply(params, jax.random.normal(jax.random.PRNGKey(1), (4, 5)))
    assert mean.shape == (4, 3) and float(jp.abs(mean).max()) < 0.1
    np.testing.assert_allclose(np.asarray(log_std), -1.6)


def test_normalizer_update_matches_concatenated_statistics():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2.0, 3.0, (50, 4)), rng.normal(-1.0, 0.5, (30, 4))
    state = normalizer.update(normalizer.init(4), jp.asarray(a), freeze_after=1e9)
    state = normalizer.update(state, jp.asarray(b), freeze_after=1e9)
    both = np.concatenate([a, b])
    np.testing.assert_allclose(np.asarray(state.mean), both.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state.var), both.var(0), rtol=1e-4)
    assert float(state.count) == 80
    z = normalizer.normalize(state, jp.asarray(both), clip=100.0)
    np.testing.assert_allclose(np.asarray(z.mean(0)), 0.0, atol=1e-4)


def test_normalizer_freezes_after_configured_count():
    state = normalizer.init(1)
    state = normalizer.update(state, jp.array([[1.0], [3.0], [5.0]]), freeze_after=4)
    assert float(state.count) == 3 and float(state.mean[0]) == pytest.approx(3.0)
    # count 3 < 4: this batch is folded in whole (count 5), then the statistics are fixed.
    state = normalizer.update(state, jp.array([[7.0], [9.0]]), freeze_after=4)
    assert float(state.count) == 5 and float(state.mean[0]) == pytest.approx(5.0)
    frozen = normalizer.update(state, jp.array([[100.0], [200.0]]), freeze_after=4)
    assert float(frozen.count) == 5
    assert float(frozen.mean[0]) == pytest.approx(5.0) and float(frozen.var[0]) == pytest.approx(8)


def test_normalize_clips():
    state = normalizer.NormalizerState(jp.zeros(1), jp.ones(1), jp.ones(()))
    z = normalizer.normalize(state, jp.array([[100.0], [-100.0], [0.5]]), clip=5.0)
    np.testing.assert_allclose(np.asarray(z[:, 0]), [5.0, -5.0, 0.5 / math.sqrt(1 + 1e-4)])


def test_replay_buffer_wraps_around():
    buf = replay.init(5, 1)
    buf = replay.insert(buf, jp.array([[0.0], [1.0], [2.0]]))
    assert int(buf.ptr) == 3 and int(buf.size) == 3
    buf = replay.insert(buf, jp.array([[3.0], [4.0], [5.0]]))
    # rows 3, 4 then wrap to row 0: the oldest (0.0) is overwritten by 5.0
    np.testing.assert_array_equal(np.asarray(buf.data[:, 0]), [5, 1, 2, 3, 4])
    assert int(buf.ptr) == 1 and int(buf.size) == 5
    with pytest.raises(ValueError, match="cannot insert 6 rows"):
        replay.insert(buf, jp.zeros((6, 1)))


def test_replay_samples_only_filled_rows():
    buf = replay.insert(replay.init(100, 1), jp.array([[1.0], [2.0], [3.0]]))
    drawn = np.asarray(replay.sample(buf, jax.random.PRNGKey(0), 500))
    assert set(drawn[:, 0].tolist()) == {1.0, 2.0, 3.0}


def test_normalizer_mask_leaves_out_blown_up_rows():
    batch = jp.array([[1.0], [3.0], [1e9]])
    state = normalizer.update(
        normalizer.init(1), batch, freeze_after=1e9, mask=jp.array([1.0, 1.0, 0.0])
    )
    assert float(state.count) == 2
    assert float(state.mean[0]) == pytest.approx(2.0) and float(state.var[0]) == pytest.approx(1.0)
    empty = normalizer.update(state, batch, freeze_after=1e9, mask=jp.zeros(3))
    assert float(empty.count) == 2 and float(empty.mean[0]) == pytest.approx(2.0)


def test_discriminator_weight_penalties_sum_the_right_layers():
    disc = networks.Discriminator((8, 4))
    params = disc.init(jax.random.PRNGKey(0), jp.zeros((1, 6)))
    twos = jax.tree.map(lambda x: jp.full_like(x, 2.0), params)
    logit_sq, weight_sq = losses.squared_weights(twos)
    # Output layer 4 x 1 kernel; all kernels 6 x 8 + 8 x 4 + 4 x 1 = 84 weights of value 2.
    assert float(logit_sq) == pytest.approx(4 * 4.0)
    assert float(weight_sq) == pytest.approx(84 * 4.0)  # biases are not penalized


def test_normalizer_std_floor_bounds_the_gain_on_constant_features():
    state = normalizer.update(normalizer.init(2), jp.array([[1.0, 0.0], [1.0, 2.0]]), 1e9)
    z = normalizer.normalize(state, jp.array([1.05, 1.0]), clip=100.0, std_floor=0.1)
    # Feature 0 never varied: 0.05 / 0.1 = 0.5, not 0.05 / 0 = inf.
    assert float(z[0]) == pytest.approx(0.5, rel=1e-6)
    assert float(z[1]) == pytest.approx(0.0, abs=1e-6)
