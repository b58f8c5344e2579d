"""The training config file: documented defaults, validation, overrides; checkpoint files."""

from __future__ import annotations

from pathlib import Path

import flax.serialization
import jax.numpy as jp
import numpy as np
import pytest

from skeleton_steering.config import ConfigError, read_yaml, to_dict
from skeleton_steering.learn import checkpoint, train_config
from skeleton_steering.learn.train_config import TrainConfig

CONFIG = Path(__file__).resolve().parents[1] / "config" / "amp_ppo.yaml"


def _keys(tree, prefix=""):
    out = set()
    for k, v in tree.items():
        path = f"{prefix}.{k}" if prefix else k
        out.add(path)
        if isinstance(v, dict) and not path.endswith("scales"):
            out |= _keys(v, path)
    return out


def test_shipped_yaml_lists_every_field_with_the_code_defaults():
    assert _keys(read_yaml(CONFIG)) == _keys(to_dict(TrainConfig()))
    assert to_dict(train_config.load(CONFIG)) == to_dict(TrainConfig())


def test_every_yaml_line_with_a_value_is_commented():
    for line in CONFIG.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            owner = stripped.split(":")[0]
            if owner in ("tracking_velocity", "lateral_velocity", "facing"):
                continue  # reward terms, documented by their `scales:` line
            assert "#" in stripped, f"undocumented config line: {line!r}"


def test_unknown_key_suggests_the_closest(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  num_env: 8\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: field 'ppo.num_env'.*mean 'num_envs'"):
        train_config.load(bad)


def test_wrong_type_names_field_and_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("amp:\n  disc_weight: lots\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: field 'amp.disc_weight' must be a number"):
        train_config.load(bad)


def test_missing_and_broken_files_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        train_config.load(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("ppo: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML"):
        train_config.load(broken)


def test_overrides_are_checked_like_the_file():
    cfg = train_config.load(CONFIG, ["ppo.num_envs=128", "network.policy_hidden=[64, 32]"])
    assert cfg.ppo.num_envs == 128 and cfg.network.policy_hidden == (64, 32)
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        train_config.load(CONFIG, ["ppo.learning_rat=0.1"])
    with pytest.raises(ConfigError, match="must be an integer"):
        train_config.load(CONFIG, ["ppo.num_envs=1.5"])


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="divisible by num_minibatches"):
        train_config.load(None, ["ppo.num_envs=3", "ppo.rollout_length=3"])
    with pytest.raises(ConfigError, match="replay_capacity"):
        train_config.load(None, ["amp.replay_capacity=100"])
    with pytest.raises(ConfigError, match="must be one of"):
        train_config.load(None, ["network.activation=gelu"])


def test_resume_mismatches_ignore_run_and_eval():
    a = train_config.load(None)
    b = train_config.load(None, ["run.iterations=5", "eval.every=3", "ppo.gamma=0.9"])
    assert train_config.resume_mismatches(a, b) == ["ppo.gamma"]


# -- checkpoint files ------------------------------------------------------------------------


def _tree():
    return {
        "w": jp.arange(6.0).reshape(2, 3),
        "key": jp.array([1, 2], dtype=jp.uint32),
        "flag": jp.array([True, False]),
        "step": jp.array(7, dtype=jp.int32),
    }


def test_checkpoint_round_trip(tmp_path):
    path = checkpoint.save(tmp_path / checkpoint.periodic_name(7), _tree(), {"a": 1}, {"it": 7})
    ckpt = checkpoint.load(path)
    assert ckpt.config == {"a": 1} and ckpt.meta == {"it": 7}
    restored = checkpoint.restore(_tree(), ckpt)
    for key, value in _tree().items():
        np.testing.assert_array_equal(restored[key], np.asarray(value))
        assert restored[key].dtype == np.asarray(value).dtype
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "missing.msgpack")
    good = checkpoint.save(tmp_path / "good.msgpack", _tree(), {}, {})
    corrupt = tmp_path / "corrupt.msgpack"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(checkpoint.CheckpointError, match=r"corrupt.msgpack: not a readable"):
        checkpoint.load(corrupt)
    other = tmp_path / "other.msgpack"
    other.write_bytes(flax.serialization.msgpack_serialize({"x": np.zeros(2)}))
    with pytest.raises(checkpoint.CheckpointError, match="not a SkeletonSteering training"):
        checkpoint.load(other)
    bigger = dict(_tree(), w=jp.zeros((4, 3)))
    with pytest.raises(checkpoint.CheckpointError, match=r"array '\['w'\]' is float32\[2, 3\]"):
        checkpoint.restore(bigger, checkpoint.load(good))


def test_newest_and_prune(tmp_path):
    for it in (5, 10, 15):
        checkpoint.save(tmp_path / checkpoint.periodic_name(it), _tree(), {}, {})
    checkpoint.save(tmp_path / "policy_best.msgpack", _tree(), {}, {}, fmt="other")
    assert checkpoint.newest(tmp_path).name == "checkpoint_000015.msgpack"
    checkpoint.prune(tmp_path, keep=2)
    names = sorted(p.name for p in tmp_path.glob("*.msgpack"))
    assert names == [
        "checkpoint_000010.msgpack", "checkpoint_000015.msgpack", "policy_best.msgpack"
    ]


def test_flipped_bytes_in_a_checkpoint_are_detected(tmp_path):
    path = checkpoint.save(tmp_path / "c.msgpack", _tree(), {"a": 1}, {"b": 2})
    blob = bytearray(path.read_bytes())
    # Flip one byte inside the body (past the header), as a bad disk or copy would.
    blob[len(blob) // 2] ^= 0x40
    path.write_bytes(bytes(blob))
    with pytest.raises(checkpoint.CheckpointError, match="do not match the stored SHA-256"):
        checkpoint.load(path)


def test_newest_valid_skips_unreadable_checkpoints_and_stale_temp_files_go(tmp_path):
    for it in (5, 10):
        checkpoint.save(tmp_path / checkpoint.periodic_name(it), _tree(), {}, {"iteration": it})
    (tmp_path / checkpoint.periodic_name(999)).write_bytes(b"")  # e.g. a full disk
    good = (tmp_path / checkpoint.periodic_name(10)).read_bytes()
    (tmp_path / checkpoint.periodic_name(20)).write_bytes(good[: len(good) // 2])  # truncated
    skipped = []
    ckpt = checkpoint.newest_valid(tmp_path, on_skip=lambda p, e: skipped.append(p.name))
    assert ckpt is not None and ckpt.meta["iteration"] == 10
    assert skipped == ["checkpoint_000999.msgpack", "checkpoint_000020.msgpack"]

    stale = tmp_path / ".checkpoint_000030.msgpack.abc123.tmp"
    stale.write_bytes(b"partial")
    other = tmp_path / ".notes.txt.tmp"  # not ours: left alone
    other.write_bytes(b"x")
    assert checkpoint.remove_stale_temp_files(tmp_path) == [stale]
    assert not stale.exists() and other.exists()


def test_an_override_inside_a_mapping_keeps_its_other_entries():
    for path in (None, CONFIG):
        config = train_config.load(path, ["env.reward.scales.alive=0.7"])
        assert config.env.reward.scales["alive"] == 0.7
        assert config.env.reward.scales["tracking_velocity"] == 1.0


def test_gpu_preset_policy_export_stays_small_enough_for_git():
    """Weighed as `bench sizes` does, from the shapes alone (no 4,096-env state is built)."""
    import jax

    from skeleton_steering.bench import sizes_bench
    from skeleton_steering.env.registry import make_env
    from skeleton_steering.learn import expert_data, networks, normalizer

    cfg = train_config.load(CONFIG, sizes_bench.gpu_overrides(CONFIG.parent / "gpu.yaml"))
    expert = expert_data.standing_demo()
    env = make_env(cfg.env_id, cfg.env, expert.qpos, expert.qvel)
    key = jax.random.PRNGKey(0)
    policy = jax.eval_shape(networks.make_policy(cfg.network, env.action_size).init, key,
                            jp.zeros(env.observation_size))
    disc = jax.eval_shape(networks.make_discriminator(cfg.network).init, key,
                          jp.zeros(2 * env.disc_obs_size))
    parts = sizes_bench.export_parts(policy, normalizer.init(env.observation_size),
                                     normalizer.init(env.disc_obs_size), disc)
    total = sum(parts.values())
    assert total < 2e6, f"GPU preset export {total / 1e6:.2f} MB: {parts}"
