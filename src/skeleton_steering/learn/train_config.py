"""Typed configuration of an AMP + PPO training run, loaded from one validated YAML file.

The file (`config/amp_ppo.yaml` is the documented default) mirrors `TrainConfig`: an `env:`
section (`EnvConfig`), one section per part of the algorithm, and `run:` for the length,
logging and checkpoint cadence. Unknown keys get the closest valid key in the error, wrong
types name the field and the file, and `section.key=value` overrides from the command line go
through the same checks. Defaults are sized for a CPU run; the YAML notes GPU-scale values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from skeleton_steering.config import ConfigError, Seed, from_dict, load_config, to_dict
from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.skeleton.features import FEATURE_GROUPS, check_groups

Activation = Literal["relu", "elu", "tanh", "silu"]


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Hidden layer sizes and activations of the three MLPs, and the policy's initial noise."""

    # CPU-sized (bench train: learning costs ~0.3 of the physics time at 64 x 32 on 2 cores);
    # AMP's GPU runs use [1024, 512].
    policy_hidden: tuple[int, ...] = (256, 128)
    value_hidden: tuple[int, ...] = (256, 128)
    disc_hidden: tuple[int, ...] = (256, 128)
    activation: Activation = "elu"
    disc_activation: Activation = "relu"
    # std 0.1 (in PD mode: a tenth of each joint's half range of target noise). At 250k env
    # steps (bench learn, 2 seeds) it scored more good steps and a higher style reward than
    # AMP's fixed 0.055; std 0.2 was close (shorter episodes and a larger heading error, a
    # higher style reward).
    init_log_std: float = -2.3
    learn_log_std: bool = True
    # A ceiling on the policy's std that falls log-linearly from exp(init_log_std) at
    # std_decay_start env steps to final_std at std_decay_end, and stays there; the std is
    # still learned below it. The discriminator recognises exploration noise (the shipped
    # policy's style reward is 0.69 with its mean actions, 0.06 with its learned std 0.08),
    # so less noise once episodes are long leaves it the gait to judge. Measured (2 seeds,
    # 9.0M env steps, 0.1 -> 0.03 from 3M to 6M): the discriminator learned to separate the
    # gait itself (agent accuracy 0.999, even on mean actions, against 0.73), and the policies
    # steered worse (39-41 % good steps, 44-48 deg heading error, against 77-81 % and 22-27),
    # so it is off. 0: no ceiling.
    final_std: float = 0.0
    std_decay_start: int = 3_000_000
    std_decay_end: int = 6_000_000
    # Correlation in time of the exploration noise, step to step (`exploration.next_noise`):
    # 0 is white noise; c keeps a deviation for about 1 / (1 - c) control steps.
    noise_correlation: float = 0.0

    def validate(self) -> None:
        for name in ("policy_hidden", "value_hidden", "disc_hidden"):
            sizes = getattr(self, name)
            if not sizes or any(s < 1 for s in sizes):
                raise ValueError(f"{name} must be a non-empty list of positive sizes")
        if self.final_std < 0:
            raise ValueError("final_std must be >= 0 (0: no ceiling on the policy std)")
        if not 0 <= self.std_decay_start <= self.std_decay_end:
            raise ValueError("need 0 <= std_decay_start <= std_decay_end (env steps)")
        if not 0.0 <= self.noise_correlation < 1.0:
            raise ValueError("noise_correlation must be in [0, 1) (0: white noise)")


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Rollout size and the clipped-PPO update."""

    num_envs: int = 64
    rollout_length: int = 32
    epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 3e-4
    # Adaptive step size: before each minibatch step the KL between the rollout policy and the
    # current one is estimated; above 2x desired_kl the step size shrinks by 1.5x, below half of
    # it it grows by 1.5x, within [min_learning_rate, max_learning_rate]. 0 keeps it fixed.
    desired_kl: float = 0.01
    min_learning_rate: float = 1e-5
    max_learning_rate: float = 1e-2
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float = 1.0
    normalize_advantages: bool = True
    # A step whose observation, features or task reward exceed this in magnitude (a physics
    # blow-up that is still finite) or are non-finite is zeroed, ends its episode for GAE and
    # stays out of the normalizer statistics.
    max_abs_value: float = 1000.0

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_length

    def validate(self) -> None:
        for name in ("num_envs", "rollout_length", "epochs", "num_minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"num_envs * rollout_length ({self.batch_size}) must be divisible by "
                f"num_minibatches ({self.num_minibatches})"
            )
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if min(self.learning_rate, self.clip_eps, self.max_grad_norm, self.max_abs_value) <= 0:
            raise ValueError(
                "learning_rate, clip_eps, max_grad_norm and max_abs_value must be positive"
            )
        if self.desired_kl < 0:
            raise ValueError("desired_kl must be >= 0 (0: fixed learning rate)")
        if not 0 < self.min_learning_rate <= self.learning_rate <= self.max_learning_rate:
            raise ValueError(
                "need 0 < min_learning_rate <= learning_rate <= max_learning_rate"
            )


@dataclasses.dataclass(frozen=True)
class AMPConfig:
    """Reward mix, discriminator update and replay buffer."""

    # 0.3 / 0.7 and a 10x smaller step size than 1e-4: with 0.5 / 0.5 and 1e-4 the
    # discriminator saturated within ~50 iterations and style carried nothing (bench learn).
    # 0.5 / 0.5 with today's other defaults (2 seeds, 9.0M env steps): longer episodes sooner,
    # but no better steering (40 / 79 % good steps) and a lower style reward (0.21 / 0.32).
    task_weight: float = 0.3
    disc_weight: float = 0.7
    learning_rate: float = 1e-5
    epochs: int = 2
    num_minibatches: int = 4
    grad_penalty_weight: float = 10.0
    weight_decay: float = 1e-4
    # Penalties added to the discriminator loss, as in AMP's reference implementation
    # (IsaacGymEnvs: logit 0.05, weights 1e-4): AdamW's decay is scaled by the step size
    # (1e-4 x 1e-4 = 1e-8 per step), too weak to keep the discriminator from saturating.
    # With both (and the two lines above) the style reward at 250k env steps doubled (0.18-0.19
    # against 0.09-0.10 for torque control, 2 seeds each).
    logit_reg: float = 0.05  # x sum of squared output-layer weights
    weight_reg: float = 1e-4  # x sum of squared weights of every layer
    max_grad_norm: float = 1.0
    replay_capacity: int = 65536
    # Which groups of the body-state features (skeleton.features.FEATURE_GROUPS) the
    # discriminator sees, in s and s'; the others are zeroed after normalization.
    features: tuple[str, ...] = FEATURE_GROUPS
    # Std of Gaussian noise added to the normalized demo and agent inputs of each
    # discriminator update (instance noise; not to the inputs that score the style reward).
    # 0.5 raised the training style reward (0.37 against 0.10 at 8.9M env steps) but left the
    # discriminator saturated and steered worse (config/amp_ppo.yaml has the figures).
    input_noise: float = 0.0

    def validate(self) -> None:
        check_groups(self.features)
        if self.input_noise < 0:
            raise ValueError("input_noise must be >= 0")
        if self.task_weight < 0 or self.disc_weight < 0:
            raise ValueError("task_weight and disc_weight must be >= 0")
        if self.epochs < 1 or self.num_minibatches < 1:
            raise ValueError("epochs and num_minibatches must be >= 1")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError("learning_rate and max_grad_norm must be positive")
        if min(self.grad_penalty_weight, self.weight_decay, self.logit_reg, self.weight_reg) < 0:
            raise ValueError("grad_penalty_weight, weight_decay, logit_reg and weight_reg must "
                             "be >= 0")
        if self.replay_capacity < 1:
            raise ValueError("replay_capacity must be >= 1")


@dataclasses.dataclass(frozen=True)
class NormalizerConfig:
    """Running statistics of policy observations and discriminator features."""

    obs_freeze_after: int = 5_000_000
    disc_freeze_after: int = 5_000_000
    clip: float = 5.0
    # Smallest standard deviation a value is divided by: a near-constant feature is scaled by
    # at most 1 / std_floor.
    std_floor: float = 0.01

    def validate(self) -> None:
        if self.obs_freeze_after < 0 or self.disc_freeze_after < 0 or self.clip <= 0:
            raise ValueError("freeze counts must be >= 0 and clip > 0")
        if not self.std_floor > 0:
            raise ValueError("std_floor must be > 0")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the expert data comes from (at most one of the two keys).

    `cache_dir` holds `expert_traj.npz` (qpos/qvel for reference-state initialization) and
    `expert_disc_obs.npz` (demo feature pairs). `trajectory` is a trajectory npz (ours, or a
    LocoMuJoCo file): training builds both cache files from it in the run directory and reuses
    them while the file's content and the feature settings stay the same. Both null: the env
    id's default dataset (for `SkeletonTorque.walk.mocap`, the bundled sample walk, built in
    the run directory).
    """

    cache_dir: str | None = None
    trajectory: str | None = None

    def validate(self) -> None:
        if self.cache_dir is not None and self.trajectory is not None:
            raise ValueError(
                "set either cache_dir (a built cache) or trajectory (a trajectory file to "
                "cache in the run directory), not both"
            )


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Deterministic periodic evaluation on a fixed command set; picks the best checkpoint.

    Each env gets one (heading offset, speed) pair for the whole evaluation; the policy acts
    with its mean. Score: task reward per step, counting nothing after an env's first fall.
    """

    every: int = 25
    steps: int = 250
    heading_offsets_deg: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0, 180.0, -135.0, -90.0, -45.0)
    speeds: tuple[float, ...] = (0.8, 1.4)
    seed: Seed = 12345

    @property
    def num_envs(self) -> int:
        return len(self.heading_offsets_deg) * len(self.speeds)

    def validate(self) -> None:
        if self.every < 0 or self.steps < 1:
            raise ValueError("every must be >= 0 (0 disables) and steps >= 1")
        if not self.heading_offsets_deg or not self.speeds:
            raise ValueError("heading_offsets_deg and speeds must not be empty")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Length of the run and how often it logs and saves (in training iterations)."""

    iterations: int = 2000
    log_every: int = 10
    checkpoint_every: int = 50
    keep_checkpoints: int = 2

    def validate(self) -> None:
        if self.iterations < 1 or self.log_every < 1 or self.checkpoint_every < 1:
            raise ValueError("iterations, log_every and checkpoint_every must be >= 1")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    env_id: str = "SkeletonTorque.walk.mocap"
    seed: Seed = 0
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    amp: AMPConfig = dataclasses.field(default_factory=AMPConfig)
    normalizer: NormalizerConfig = dataclasses.field(default_factory=NormalizerConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    def validate(self) -> None:
        if self.amp.replay_capacity < self.ppo.batch_size:
            raise ValueError(
                f"amp.replay_capacity ({self.amp.replay_capacity}) must hold at least one "
                f"rollout (ppo.num_envs * ppo.rollout_length = {self.ppo.batch_size})"
            )
        if self.ppo.batch_size % self.amp.num_minibatches:
            raise ValueError(
                f"num_envs * rollout_length ({self.ppo.batch_size}) must be divisible by "
                f"amp.num_minibatches ({self.amp.num_minibatches})"
            )


# Sections a resumed run must share with its checkpoint: they define the training state and
# its trajectory. `run` and `eval` may change (e.g. more iterations after a preemption).
RESUME_FIXED = ("env_id", "seed", "env", "network", "ppo", "amp", "normalizer", "data")


def load(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Config from a YAML file (defaults when `path` is None), with `key=value` overrides."""
    return load_config(TrainConfig, path, overrides)


def from_mapping(data: dict[str, Any], source: str) -> TrainConfig:
    """Config from an already-parsed mapping (e.g. the JSON stored in a checkpoint)."""
    return from_dict(TrainConfig, data, source=source)


def resume_mismatches(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Dotted names of fields in the fixed sections that differ between two configs."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b:
            out.append(path)

    a, b = to_dict(saved), to_dict(current)
    for section in RESUME_FIXED:
        walk(a[section], b[section], section)
    return out


__all__ = ["ConfigError", "TrainConfig", "from_mapping", "load", "resume_mismatches"]
