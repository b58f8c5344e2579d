"""AMP + PPO: one frozen training state and one jitted training iteration.

Shape follows Brax PPO and PureJaxRL: `TrainingState` holds everything that changes
(policy/value/discriminator parameters and optimizer states, normalizers, replay buffer,
environment states, episode counters, rng, iteration), and `training_iteration` maps a state
to the next one plus a dict of scalar metrics, as nested `lax.scan`s with no host work:

  collect   rollout_step        x rollout_length  (policy samples, env steps, (s, s') pairs)
  reward    style reward from the discriminator; total = task_w * task + disc_w * style
  advantage GAE (termination vs. truncation, see `gae.py`)
  update    ppo_minibatch_step  x num_minibatches x epochs
            disc_minibatch_step x num_minibatches x epochs (demo / fresh agent / replay)
  stats     normalizers fold in this rollout (after the update, so rollout and update saw the
            same statistics), replay buffer takes the fresh agent pairs

Static pieces (env, networks, optimizers, config) travel in `Learner`, which the step functions
take as their first argument; `make_iteration` closes over it once for `jax.jit`. Demo pairs are
an argument of the iteration, not a constant baked into the compiled program.

Over several devices (`make_iteration` with a mesh) the same functions run per device inside
`shard_map`, given the mesh axis as `dp` (`data_parallel.DeviceAxis`): each device steps its
block of the environments, the whole-batch random draws and minibatches are the ones a single
device makes, each device takes its share, and gradients, metrics and normalizer statistics
are reduced over the devices (`data_parallel` has the why). With `dp` None every function is
the single-device code, unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jp
import numpy as np
import optax

from skeleton_steering.env.steering_env import State, SteeringEnv
from skeleton_steering.learn import data_parallel, exploration, losses, networks, normalizer, replay
from skeleton_steering.learn.data_parallel import DeviceAxis
from skeleton_steering.learn.gae import compute_gae
from skeleton_steering.learn.train_config import TrainConfig
from skeleton_steering.skeleton import features, model

# -- state -------------------------------------------------------------------------------------


@flax.struct.dataclass
class EpisodeTracker:
    """Per-env task return and length of the episode in progress."""

    ret: jax.Array
    length: jax.Array


@flax.struct.dataclass
class TrainingState:
    params: dict[str, Any]  # {"policy": ..., "value": ...}
    opt_state: Any
    disc_params: Any
    disc_opt_state: Any
    obs_norm: normalizer.NormalizerState
    disc_norm: normalizer.NormalizerState
    replay: replay.ReplayState
    env_state: State
    episodes: EpisodeTracker
    rng: jax.Array
    iteration: jax.Array  # int32, completed training iterations


class Transition(NamedTuple):
    """One rollout step over all envs (time axis added by the scan)."""

    obs: jax.Array  # raw policy observation the action was taken from
    action: jax.Array
    log_prob: jax.Array
    task_reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    next_obs: jax.Array  # raw observation reached, before any auto-reset
    disc_pair: jax.Array  # raw [s, s'] discriminator features
    obs_valid: jax.Array  # 1 where `obs` is finite and in range (normalizer statistics)
    valid: jax.Array  # 1 where the step's numbers are finite and in range
    env_metrics: dict[str, jax.Array]  # per-step mean (or sum, for counts) over envs
    episode: dict[str, jax.Array]  # sums over episodes that ended at this step


@dataclasses.dataclass(frozen=True, eq=False)
class Learner:
    """The static half of training: env, networks, optimizers and config."""

    env: SteeringEnv
    config: TrainConfig
    policy: networks.GaussianPolicy
    value: networks.ValueNet
    disc: networks.Discriminator
    optimizer: optax.GradientTransformation
    disc_optimizer: optax.GradientTransformation
    reset_batch: Any  # jit(vmap(env.reset)), compiled once per learner
    disc_mask: np.ndarray  # 1 on the [s, s'] features the discriminator sees (amp.features)


def make_learner(env: SteeringEnv, config: TrainConfig) -> Learner:
    net = config.network
    policy = networks.make_policy(net, env.action_size)
    value = networks.ValueNet(net.value_hidden, net.activation)
    disc = networks.make_discriminator(net)
    # The step size lives in the optimizer state so that it can adapt to the KL (and is saved
    # and resumed with everything else).
    optimizer = optax.chain(
        optax.clip_by_global_norm(config.ppo.max_grad_norm),
        optax.inject_hyperparams(optax.adam)(learning_rate=config.ppo.learning_rate),
    )
    disc_optimizer = optax.chain(
        optax.clip_by_global_norm(config.amp.max_grad_norm),
        optax.adamw(config.amp.learning_rate, weight_decay=config.amp.weight_decay),
    )
    reset_batch = jax.jit(jax.vmap(env.reset))
    mask = features.group_mask(env.mj_model.nq, env.mj_model.nv, len(model.KEY_SITES),
                               config.amp.features)
    return Learner(env, config, policy, value, disc, optimizer, disc_optimizer, reset_batch,
                   np.tile(mask, 2))


def _strong(tree: Any) -> Any:
    """Every leaf as a committed, non-weakly-typed array, so compiled signatures are stable."""
    return jax.tree.map(lambda x: jp.array(np.asarray(x)), tree)


def state_specs(state: TrainingState, axis: str = data_parallel.AXIS) -> TrainingState:
    """How a training state lies on a device mesh: the environments, their episode counters
    and the replay buffer's rows split along `axis`, everything else replicated."""
    P = jax.sharding.PartitionSpec
    split = P(axis)
    specs = jax.tree.map(lambda _: P(), state)
    return specs.replace(
        env_state=jax.tree.map(lambda _: split, state.env_state),
        episodes=jax.tree.map(lambda _: split, state.episodes),
        replay=specs.replay.replace(data=split),
    )


def split_sizes(config: TrainConfig) -> dict[str, int]:
    """The sizes a device count must divide, named as the config names them."""
    ppo, amp = config.ppo, config.amp
    batch = "ppo.num_envs * ppo.rollout_length"
    return {
        "ppo.num_envs": ppo.num_envs,
        f"the PPO minibatch ({batch} / ppo.num_minibatches)": ppo.batch_size // ppo.num_minibatches,
        f"the discriminator minibatch ({batch} / amp.num_minibatches)": (
            ppo.batch_size // amp.num_minibatches
        ),
        "amp.replay_capacity": amp.replay_capacity,
    }


def init_state(learner: Learner, seed: int, demo_pairs: jax.Array) -> TrainingState:
    """Fresh networks, normalizers seeded from the first observations and the demo data."""
    env, cfg = learner.env, learner.config
    rng = jax.random.PRNGKey(seed)
    rng, k_pol, k_val, k_disc, k_env = jax.random.split(rng, 5)
    obs0 = jp.zeros((1, env.observation_size))
    pair0 = jp.zeros((1, 2 * env.disc_obs_size))
    params = {
        "policy": learner.policy.init(k_pol, obs0),
        "value": learner.value.init(k_val, obs0),
    }
    disc_params = learner.disc.init(k_disc, pair0)
    env_state = learner.reset_batch(jax.random.split(k_env, cfg.ppo.num_envs))
    obs_norm = normalizer.update(
        normalizer.init(env.observation_size), env_state.obs, cfg.normalizer.obs_freeze_after
    )
    demo = jp.asarray(demo_pairs).reshape(-1, env.disc_obs_size)
    disc_norm = normalizer.update(
        normalizer.init(env.disc_obs_size), demo, cfg.normalizer.disc_freeze_after
    )
    n = cfg.ppo.num_envs
    state = TrainingState(
        params=params,
        opt_state=learner.optimizer.init(params),
        disc_params=disc_params,
        disc_opt_state=learner.disc_optimizer.init(disc_params),
        obs_norm=obs_norm,
        disc_norm=disc_norm,
        replay=replay.init(cfg.amp.replay_capacity, 2 * env.disc_obs_size),
        env_state=env_state,
        episodes=EpisodeTracker(jp.zeros(n), jp.zeros(n)),
        rng=rng,
        iteration=jp.zeros((), jp.int32),
    )
    return _strong(state)


# -- helpers -----------------------------------------------------------------------------------


def normalize_obs(learner: Learner, norm: normalizer.NormalizerState, obs: jax.Array):
    cfg = learner.config.normalizer
    return normalizer.normalize(norm, obs, cfg.clip, cfg.std_floor)


def normalize_pairs(learner: Learner, norm: normalizer.NormalizerState, pairs: jax.Array):
    """Normalize s and s' of [s, s'] pairs with the same per-feature statistics.

    Features outside `amp.features` come out as 0, so the discriminator cannot tell by them.
    """
    f = learner.env.disc_obs_size
    halves = pairs.reshape(*pairs.shape[:-1], 2, f)
    cfg = learner.config.normalizer
    z = normalizer.normalize(norm, halves, cfg.clip, cfg.std_floor).reshape(pairs.shape)
    return z * learner.disc_mask


def transition_pair(state: State, nxt: State) -> jax.Array:
    """Raw [s, s'] discriminator features of the control step from `state` to `nxt`."""
    return jp.concatenate([state.info["disc_obs"], nxt.info["disc_obs_next"]], axis=-1)


def disc_score(
    learner: Learner, disc_params: Any, disc_norm: normalizer.NormalizerState, pairs: jax.Array
) -> jax.Array:
    """The discriminator's score d of raw [s, s'] pairs (style reward: `losses.style_reward`)."""
    return learner.disc.apply(disc_params, normalize_pairs(learner, disc_norm, pairs))


def _normal_rows(
    rng: jax.Array, shape: tuple[int, ...], dp: DeviceAxis | None, parts: int = 1
) -> jax.Array:
    """A standard-normal draw of `shape`; over devices, this device's rows of the draw for the
    whole batch: `shape` is the device's, `parts` equal blocks of rows, each of which is this
    device's block of the matching block of the whole draw."""
    if dp is None:
        return jax.random.normal(rng, shape)
    rows = shape[0] // parts
    whole = jax.random.normal(rng, (parts * rows * dp.size, *shape[1:]))
    return dp.block(whole.reshape(parts, rows * dp.size, *shape[1:]), axis=1).reshape(shape)


def with_input_noise(
    learner: Learner, rng: jax.Array, z: jax.Array, dp: DeviceAxis | None = None, parts: int = 1
) -> jax.Array:
    """Normalized pairs plus `amp.input_noise` Gaussian noise on the features it sees."""
    sigma = learner.config.amp.input_noise
    if sigma == 0.0:
        return z
    return z + sigma * _normal_rows(rng, z.shape, dp, parts) * learner.disc_mask


def policy_action(learner: Learner, policy_params: Any, obs_n: jax.Array, noise: jax.Array):
    """Action mean + std x `noise` (standard normal) and its log-probability under the policy.

    Actions are clipped to [-1, 1] by the env; the log-probability is the per-step Gaussian's
    also when the noise is correlated in time (`exploration.next_noise`), whose every step is
    still a standard normal draw.
    """
    mean, log_std = learner.policy.apply(policy_params, obs_n)
    action = mean + jp.exp(log_std) * noise
    return action, networks.gaussian_log_prob(action, mean, log_std)


def _count_metric(name: str) -> bool:
    return name in ("nonfinite", "fell", "invalid")


def _in_range(x: jax.Array, limit: float) -> jax.Array:
    """Per row (last axis): every value finite and within [-limit, limit]."""
    return jp.all(jp.isfinite(x) & (jp.abs(x) <= limit), axis=-1)


# -- collect -----------------------------------------------------------------------------------


def rollout_step(
    learner: Learner,
    ts: TrainingState,
    carry: tuple[State, EpisodeTracker, jax.Array, jax.Array],
    _: Any,
    dp: DeviceAxis | None = None,
):
    env_state, episodes, rng, noise = carry
    rng, k_act = jax.random.split(rng)
    fresh = None if dp is None else _normal_rows(k_act, noise.shape, dp)
    noise = exploration.next_noise(noise, k_act, learner.config.network.noise_correlation, fresh)
    obs_n = normalize_obs(learner, ts.obs_norm, env_state.obs)
    action, log_prob = policy_action(learner, ts.params["policy"], obs_n, noise)
    nxt = jax.vmap(learner.env.step)(env_state, action)

    ret = episodes.ret + nxt.reward
    length = episodes.length + 1.0
    episode = {
        "return_sum": jp.sum(nxt.done * ret),
        "length_sum": jp.sum(nxt.done * length),
        "count": jp.sum(nxt.done),
    }
    episodes = EpisodeTracker(ret * (1.0 - nxt.done), length * (1.0 - nxt.done))
    env_metrics = {
        k: (jp.sum(v) if _count_metric(k) else jp.mean(v)) for k, v in nxt.metrics.items()
    }
    # Guard the update against physics blow-ups: see `PPOConfig.max_abs_value`.
    limit = learner.config.ppo.max_abs_value
    next_obs = nxt.info["terminal_obs"]
    pair = transition_pair(env_state, nxt)
    valid = (
        _in_range(next_obs, limit)
        & _in_range(pair, limit)
        & _in_range(nxt.reward[:, None], limit)
    )
    env_metrics["invalid"] = jp.sum(~valid).astype(jp.float32)
    transition = Transition(
        obs=env_state.obs,
        action=action,
        log_prob=log_prob,
        task_reward=jp.where(valid, nxt.reward, 0.0),
        terminated=(nxt.info["terminated"] | ~valid).astype(jp.float32),
        done=jp.maximum(nxt.done, (~valid).astype(jp.float32)),
        next_obs=jp.where(valid[:, None], next_obs, 0.0),
        disc_pair=jp.where(valid[:, None], pair, 0.0),
        obs_valid=_in_range(env_state.obs, limit).astype(jp.float32),
        valid=valid.astype(jp.float32),
        env_metrics=env_metrics,
        episode=episode,
    )
    return (nxt, episodes, rng, noise), transition


# -- PPO update --------------------------------------------------------------------------------


class PPOBatch(NamedTuple):
    obs: jax.Array  # normalized
    action: jax.Array
    log_prob: jax.Array
    advantages: jax.Array
    returns: jax.Array


def ppo_loss(learner: Learner, params: Any, batch: PPOBatch, dp: DeviceAxis | None = None):
    """Clipped surrogate + value loss - entropy bonus, and its metrics (over devices: of this
    device's share of the minibatch, the advantages normalized over the whole minibatch)."""
    cfg = learner.config.ppo
    mean, log_std = learner.policy.apply(params["policy"], batch.obs)
    log_prob = networks.gaussian_log_prob(batch.action, mean, log_std)
    adv = batch.advantages
    if cfg.normalize_advantages:
        adv = losses.normalize_advantages(adv, axis_name=None if dp is None else dp.name)
    actor_loss, metrics = losses.ppo_actor_loss(log_prob, batch.log_prob, adv, cfg.clip_eps)
    v_loss = losses.value_loss(learner.value.apply(params["value"], batch.obs), batch.returns)
    entropy = jp.mean(networks.gaussian_entropy(log_std))
    loss = actor_loss + cfg.value_coef * v_loss - cfg.entropy_coef * entropy
    return loss, {**metrics, "actor_loss": actor_loss, "value_loss": v_loss, "entropy": entropy}


def learning_rate(opt_state: Any) -> jax.Array:
    """The policy/value step size held in the optimizer state (see `make_learner`)."""
    return opt_state[1].hyperparams["learning_rate"]


def _with_learning_rate(opt_state: Any, lr: jax.Array) -> Any:
    clip_state, adam_state = opt_state
    hyperparams = {**adam_state.hyperparams, "learning_rate": lr}
    return clip_state, adam_state._replace(hyperparams=hyperparams)


def ppo_minibatch_step(
    learner: Learner, carry: tuple[Any, Any], batch: PPOBatch, dp: DeviceAxis | None = None
):
    cfg = learner.config.ppo
    params, opt_state = carry
    grads, metrics = jax.grad(lambda p: ppo_loss(learner, p, batch, dp), has_aux=True)(params)
    if dp is not None:
        # Equal shares: the mean of the devices' mean gradients is the minibatch's.
        grads, metrics = dp.mean((grads, metrics))
    if cfg.desired_kl > 0:
        # The KL of the current policy to the rollout policy on this minibatch, measured before
        # this step, sets the size of this step (the rule of KL-adaptive PPO).
        lr = losses.adapt_learning_rate(
            learning_rate(opt_state), metrics["approx_kl"], cfg.desired_kl,
            cfg.min_learning_rate, cfg.max_learning_rate,
        )
        opt_state = _with_learning_rate(opt_state, lr)
    updates, opt_state = learner.optimizer.update(grads, opt_state, params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    metrics["learning_rate"] = learning_rate(opt_state)
    return (optax.apply_updates(params, updates), opt_state), metrics


def _shuffle_minibatches(
    rng: jax.Array, tree: Any, n_minibatches: int, dp: DeviceAxis | None = None
) -> Any:
    """Permute the leading axis of every leaf and split it into (n_minibatches, size, ...).

    Over devices `tree` is the whole batch and each minibatch this device's share of it
    (size / devices rows).
    """
    n = jax.tree.leaves(tree)[0].shape[0]
    perm = jax.random.permutation(rng, n)
    if dp is not None:
        share = dp.block(perm.reshape(n_minibatches, -1), axis=1)
        return jax.tree.map(lambda x: x[share], tree)
    return jax.tree.map(lambda x: x[perm].reshape(n_minibatches, -1, *x.shape[1:]), tree)


def ppo_epoch(
    learner: Learner,
    carry: tuple[Any, Any, jax.Array],
    batch: PPOBatch,
    dp: DeviceAxis | None = None,
):
    params, opt_state, rng = carry
    rng, k_perm = jax.random.split(rng)
    minibatches = _shuffle_minibatches(k_perm, batch, learner.config.ppo.num_minibatches, dp)
    (params, opt_state), metrics = jax.lax.scan(
        lambda c, mb: ppo_minibatch_step(learner, c, mb, dp), (params, opt_state), minibatches
    )
    return (params, opt_state, rng), metrics


# -- discriminator update ----------------------------------------------------------------------


def disc_loss(learner: Learner, disc_params: Any, demo: jax.Array, agent: jax.Array):
    """AMP's objective on normalized pairs: least squares + (w_gp / 2) * E_demo ||grad D||^2."""

    def score(x: jax.Array) -> jax.Array:
        return learner.disc.apply(disc_params, x)

    ls_loss, metrics = losses.least_squares_disc_loss(score(demo), score(agent))
    gp = losses.gradient_penalty(score, demo)
    amp = learner.config.amp
    logit_sq, weight_sq = losses.squared_weights(disc_params)
    loss = (ls_loss + 0.5 * amp.grad_penalty_weight * gp + amp.logit_reg * logit_sq
            + amp.weight_reg * weight_sq)
    return loss, {**metrics, "disc_loss": ls_loss, "grad_penalty": gp}


def disc_minibatch_step(
    learner: Learner,
    ts: TrainingState,
    demo_pairs: jax.Array,
    carry: tuple[Any, Any, jax.Array],
    fresh: jax.Array,
    dp: DeviceAxis | None = None,
):
    """One discriminator step: B demo pairs against B fresh agent pairs + B replayed ones.

    The batch shape of AMP's reference implementation (IsaacGymEnvs); the least-squares loss
    averages each side separately, so the 1:2 count does not tilt the targets. Over devices
    `fresh` is this device's share of the minibatch and it takes the same share of the demo
    and replay draws.
    """
    disc_params, opt_state, rng = carry
    rng, k_demo, k_replay = jax.random.split(rng, 3)
    b = fresh.shape[0]
    if dp is None:
        demo_idx = jax.random.randint(k_demo, (b,), 0, demo_pairs.shape[0])
        replayed = replay.sample(ts.replay, k_replay, b)
    else:
        demo_idx = dp.block(jax.random.randint(k_demo, (b * dp.size,), 0, demo_pairs.shape[0]))
        replayed = replay.sample_shard(ts.replay, k_replay, b * dp.size, dp.index(), dp.size,
                                       dp.name)
    demo = normalize_pairs(learner, ts.disc_norm, demo_pairs[demo_idx])
    # Noise keys folded off the sampling keys: without noise the random stream stays the same.
    demo = with_input_noise(learner, jax.random.fold_in(k_demo, 1), demo, dp)
    agent = jp.concatenate([fresh, replayed])
    agent = normalize_pairs(learner, ts.disc_norm, agent)
    agent = with_input_noise(learner, jax.random.fold_in(k_replay, 1), agent, dp, parts=2)
    grads, metrics = jax.grad(lambda p: disc_loss(learner, p, demo, agent), has_aux=True)(
        disc_params
    )
    if dp is not None:
        # Each side of the loss is a mean over equal shares, so the means of the devices'
        # gradients and metrics are the minibatch's.
        grads, metrics = dp.mean((grads, metrics))
    updates, opt_state = learner.disc_optimizer.update(grads, opt_state, disc_params)
    return (optax.apply_updates(disc_params, updates), opt_state, rng), metrics


def disc_epoch(
    learner: Learner,
    ts: TrainingState,
    demo_pairs: jax.Array,
    fresh: jax.Array,
    carry: tuple[Any, Any, jax.Array],
    _: Any,
    dp: DeviceAxis | None = None,
):
    disc_params, opt_state, rng = carry
    rng, k_perm = jax.random.split(rng)
    minibatches = _shuffle_minibatches(k_perm, fresh, learner.config.amp.num_minibatches, dp)
    (disc_params, opt_state, rng), metrics = jax.lax.scan(
        lambda c, mb: disc_minibatch_step(learner, ts, demo_pairs, c, mb, dp),
        (disc_params, opt_state, rng),
        minibatches,
    )
    return (disc_params, opt_state, rng), metrics


# -- the iteration -----------------------------------------------------------------------------


def _all_finite(tree: Any) -> jax.Array:
    return jp.all(jp.stack([jp.all(jp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _reduce_rollout_metrics(traj: Transition, dp: DeviceAxis) -> Transition:
    """Per-step env metrics and episode sums over every device's environments."""
    counts = {k: v for k, v in traj.env_metrics.items() if _count_metric(k)}
    means = {k: v for k, v in traj.env_metrics.items() if not _count_metric(k)}
    counts, episode = dp.sum((counts, traj.episode))
    # Equal numbers of envs per device: the mean of the devices' means is the batch's.
    return traj._replace(env_metrics={**counts, **dp.mean(means)}, episode=episode)


def training_iteration(
    learner: Learner, ts: TrainingState, demo_pairs: jax.Array, dp: DeviceAxis | None = None
) -> tuple[TrainingState, dict[str, jax.Array]]:
    """Collect one rollout, compute rewards and advantages, update all three networks.

    `dp`: run as one device's part of a data-parallel iteration (inside `shard_map`, see
    `make_iteration`); `ts` then holds this device's environments and replay rows.
    """
    cfg = learner.config
    rng, k_roll, k_ppo, k_disc, k_norm = jax.random.split(ts.rng, 5)

    # Collect.
    k_roll, noise0 = exploration.initial_noise(
        k_roll, (cfg.ppo.num_envs, learner.env.action_size), cfg.network.noise_correlation
    )
    if dp is not None:
        noise0 = dp.block(noise0)
    (env_state, episodes, _, _), traj = jax.lax.scan(
        lambda c, x: rollout_step(learner, ts, c, x, dp),
        (ts.env_state, ts.episodes, k_roll, noise0),
        None,
        length=cfg.ppo.rollout_length,
    )
    if dp is not None:
        traj = _reduce_rollout_metrics(traj, dp)

    # Rewards: the discriminator scores each (s, s') before it is updated on them.
    d = disc_score(learner, ts.disc_params, ts.disc_norm, traj.disc_pair)
    style = losses.style_reward(d)
    reward = losses.total_reward(
        traj.task_reward, style, cfg.amp.task_weight, cfg.amp.disc_weight
    )

    # Advantages.
    obs_n = normalize_obs(learner, ts.obs_norm, traj.obs)
    values = learner.value.apply(ts.params["value"], obs_n)
    next_values = learner.value.apply(
        ts.params["value"], normalize_obs(learner, ts.obs_norm, traj.next_obs)
    )
    advantages, returns = compute_gae(
        reward, values, next_values, traj.terminated, traj.done, cfg.ppo.gamma, cfg.ppo.gae_lambda
    )

    # PPO update.
    def flat(x: jax.Array) -> jax.Array:
        return x.reshape(-1, *x.shape[2:])

    def whole(x: jax.Array) -> jax.Array:
        """(time, all envs, ...) from every device's (time, its envs, ...)."""
        return x if dp is None else dp.gather(x, axis=1)

    batch = PPOBatch(flat(whole(obs_n)), flat(whole(traj.action)), flat(whole(traj.log_prob)),
                     flat(whole(advantages)), flat(whole(returns)))
    (params, opt_state, _), ppo_metrics = jax.lax.scan(
        lambda c, _: ppo_epoch(learner, c, batch, dp),
        (ts.params, ts.opt_state, k_ppo),
        None,
        length=cfg.ppo.epochs,
    )
    # In float: iterations x batch overflow int32 at GPU sizes.
    env_steps = (ts.iteration + 1).astype(jp.float32) * cfg.ppo.batch_size
    params = {
        **params,
        "policy": exploration.cap_policy_std(cfg.network, params["policy"], env_steps),
    }

    # Discriminator update on demo vs. fresh agent + replay.
    fresh = flat(whole(traj.disc_pair))
    if dp is None:
        replay_state = replay.insert(ts.replay, fresh)
    else:
        replay_state = replay.insert_shard(ts.replay, fresh, dp.index(), dp.size)
    disc_ts = ts.replace(replay=replay_state)
    (disc_params, disc_opt_state, _), disc_metrics = jax.lax.scan(
        lambda c, x: disc_epoch(learner, disc_ts, demo_pairs, fresh, c, x, dp),
        (ts.disc_params, ts.disc_opt_state, k_disc),
        None,
        length=cfg.amp.epochs,
    )

    # Statistics for the next iteration (over devices: of every device's samples together).
    f = learner.env.disc_obs_size
    demo_idx = jax.random.randint(k_norm, (fresh.shape[0],), 0, demo_pairs.shape[0])
    own_fresh = flat(traj.disc_pair)
    axis_name = None
    if dp is not None:
        demo_idx, axis_name = dp.block(demo_idx), dp.name
    disc_samples = jp.concatenate([own_fresh, demo_pairs[demo_idx]]).reshape(-1, f)
    disc_mask = jp.concatenate([flat(traj.valid), jp.ones(own_fresh.shape[0])])
    obs_norm = normalizer.update(
        ts.obs_norm, flat(traj.obs), cfg.normalizer.obs_freeze_after, flat(traj.obs_valid),
        axis_name,
    )
    disc_norm = normalizer.update(
        ts.disc_norm, disc_samples, cfg.normalizer.disc_freeze_after, jp.repeat(disc_mask, 2),
        axis_name,
    )

    new_ts = TrainingState(
        params=params,
        opt_state=opt_state,
        disc_params=disc_params,
        disc_opt_state=disc_opt_state,
        obs_norm=obs_norm,
        disc_norm=disc_norm,
        replay=replay_state,
        env_state=env_state,
        episodes=episodes,
        rng=rng,
        iteration=ts.iteration + 1,
    )

    count = jp.sum(traj.episode["count"])
    safe = jp.maximum(count, 1.0)
    batch_means = {
        "task_reward": jp.mean(traj.task_reward),
        "style_reward": jp.mean(style),
        "total_reward": jp.mean(reward),
        "disc_score_agent": jp.mean(d),
        "value_mean": jp.mean(values),
    }
    if dp is not None:
        batch_means = dp.mean(batch_means)
    metrics = {
        **{k: jp.mean(v) for k, v in ppo_metrics.items()},
        **{k: jp.mean(v) for k, v in disc_metrics.items()},
        # Means over the episodes that ended in this rollout (0 when none did: the trainer
        # reports NaN then; no NaN is made in here, so --debug_nans stays quiet).
        "episode_return": jp.sum(traj.episode["return_sum"]) / safe,
        "episode_length": jp.sum(traj.episode["length_sum"]) / safe,
        "episode_count": count,
        **batch_means,
        "policy_std": jp.mean(jp.exp(params["policy"]["params"]["log_std"])),
        "params_finite": _all_finite((params, disc_params)).astype(jp.float32),
        **{
            f"env/{k}": (jp.sum(v) if _count_metric(k) else jp.mean(v))
            for k, v in traj.env_metrics.items()
        },
    }
    return new_ts, metrics


def make_iteration(
    learner: Learner,
    mesh: jax.sharding.Mesh | None = None,
    state: TrainingState | None = None,
):
    """`jax.jit` of `training_iteration` with the learner bound (compile it with `.lower`).

    With a mesh of several devices: the data-parallel iteration over them, taking and
    returning a state laid out by `state_specs` (`data_parallel.place`; `state` is one such
    state, for the layout's structure) and returning replicated metrics. Without a mesh, or
    with one device, the single-device iteration.
    """
    if mesh is None or mesh.size == 1:
        return jax.jit(lambda ts, demo: training_iteration(learner, ts, demo))
    if state is None:
        raise ValueError("a data-parallel iteration needs a training state for its layout")
    dp = data_parallel.axis_of(mesh)
    replicated = jax.sharding.PartitionSpec()
    specs = state_specs(state, dp.name)

    def per_device(ts: TrainingState, demo: jax.Array):
        return training_iteration(learner, ts, demo, dp)

    run = data_parallel.shard_map(
        per_device, mesh, in_specs=(specs, replicated), out_specs=(specs, replicated)
    )
    # Said explicitly: XLA would hand empty arrays back replicated, and the next call, compiled
    # for split ones, would refuse them.
    out = (data_parallel.shardings(specs, mesh), data_parallel.shardings(replicated, mesh))
    return jax.jit(run, out_shardings=out)


# Metrics whose non-finite value means the run diverged.
LOSS_METRICS = ("actor_loss", "value_loss", "disc_loss", "grad_penalty", "entropy", "approx_kl")


# -- loading a trained policy alone ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Policy:
    """A policy with its observation normalizer, usable without building the environment."""

    config: TrainConfig
    module: networks.GaussianPolicy
    params: Any
    obs_norm: normalizer.NormalizerState

    def mean_and_std(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The Gaussian's mean and std for raw observations `obs` (..., observation_size)."""
        cfg = self.config.normalizer
        obs_n = normalizer.normalize(self.obs_norm, obs, cfg.clip, cfg.std_floor)
        mean, log_std = self.module.apply(self.params, obs_n)
        return mean, jp.broadcast_to(jp.exp(log_std), mean.shape)

    def act(self, obs: jax.Array, deterministic: bool = True, rng: jax.Array | None = None):
        """Action for raw observations `obs` (..., observation_size)."""
        mean, std = self.mean_and_std(obs)
        if deterministic:
            return mean
        if rng is None:
            raise ValueError("a stochastic action needs an rng key")
        return mean + std * jax.random.normal(rng, mean.shape)
