"""Training end to end on CPU, small: outputs, determinism, resume, faults, bad input.

Every run in this file uses one tiny config (8 envs x 8 steps, 32-unit networks, 3 iterations)
and the bundled sample walk, so the training iteration and the evaluation compile once per
session (train.run caches them) and each further run costs seconds.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import struct
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml
from rich.console import Console
from tensorboardX.proto import event_pb2

from container_edit import rewrite_body
from skeleton_steering import cli, jax_setup
from skeleton_steering.config import ConfigError, read_yaml
from skeleton_steering.config import to_dict as _as_dict
from skeleton_steering.learn import amp_ppo, checkpoint, policy_export, train, train_config
from skeleton_steering.learn.train_log import read_csv
from tiny_training import TINY

ROOT = Path(__file__).resolve().parents[1]
# Columns that depend on wall-clock time, not on the computation.
TIMING = ("wall_s", "env_steps_per_s")
ISSUE_METRICS = (
    "actor_loss", "value_loss", "disc_loss", "grad_penalty", "disc_acc_demo", "disc_acc_agent",
    "approx_kl", "clip_frac", "entropy", "episode_return", "episode_length", "task_reward",
    "style_reward", "env_steps_per_s", "env/nonfinite",
)  # fmt: skip


@pytest.fixture(scope="session")
def config_file(tmp_path_factory, deterministic_jax) -> Path:
    from skeleton_steering.data.cache import ensure_default_walk_data

    base = tmp_path_factory.mktemp("train")
    cache_dir = ensure_default_walk_data(base / "data")
    data = read_yaml(ROOT / "config" / "amp_ppo.yaml")
    for section, values in TINY.items():
        data[section].update(values)
    data["data"]["cache_dir"] = str(cache_dir)
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def config(config_file) -> train_config.TrainConfig:
    return train_config.load(config_file)


@pytest.fixture(scope="session")
def reference(config, tmp_path_factory) -> train.RunResult:
    """One uninterrupted run; pays the compile for the whole session."""
    return train.run(config, tmp_path_factory.mktemp("reference"), show_progress=False)


def _rows(run_dir: Path) -> list[dict[str, float]]:
    """metrics.csv without the timing columns, NaN (no episode ended) as None to compare."""
    return [
        {k: (None if np.isnan(v) else v) for k, v in row.items() if k not in TIMING}
        for row in read_csv(run_dir / "metrics.csv")
    ]


def _read_events(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Scalars of TensorBoard event files, parsed from the TFRecord framing with the protobuf."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_run_writes_metrics_tensorboard_and_loadable_checkpoints(reference, config):
    run_dir = reference.run_dir
    assert reference.status == "completed" and reference.iteration == 3
    rows = read_csv(run_dir / "metrics.csv")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert [r["env_steps"] for r in rows] == [64, 128, 192]
    for name in ISSUE_METRICS:
        assert name in rows[0], f"metrics.csv lacks {name}"
    for row in rows:
        for name in (*amp_ppo.LOSS_METRICS, "task_reward", "style_reward", "env_steps_per_s"):
            assert np.isfinite(row[name]), name
        assert 0.0 <= row["disc_acc_demo"] <= 1.0 and 0.0 <= row["style_reward"] <= 1.0

    # The resolved config reads back as the same config.
    assert train_config.load(run_dir / "config.yaml") == config

    events = _read_events(run_dir / "tensorboard")
    assert [step for step, _ in events["train/actor_loss"]] == [64, 128, 192]
    assert np.allclose([v for _, v in events["train/disc_loss"]], [r["disc_loss"] for r in rows])
    assert [step for step, _ in events["eval/score"]] == [128, 192]
    assert all(0.0 <= v <= 1.0 for _, v in events["eval/style_reward"])
    assert all(0.0 <= v <= 1.0 for _, v in events["eval/disc_acc_agent"])

    names = sorted(p.name for p in run_dir.glob("*.msgpack"))
    assert names == ["checkpoint_000002.msgpack", "checkpoint_000003.msgpack",
                     "policy_best.msgpack", "policy_latest.msgpack"]
    newest = checkpoint.load(run_dir / "checkpoint_000003.msgpack")
    assert newest.meta["iteration"] == 3 and newest.meta["env_steps"] == 192
    assert train_config.from_mapping(newest.config, "stored") == config
    best = policy_export.load(run_dir / policy_export.BEST_NAME)
    assert best.meta["eval"]["score"] == pytest.approx(reference.best_score)
    assert best.meta["seed"] == config.seed and best.meta["env_steps"] in (128, 192)
    assert best.meta["provenance"]["command"] and "commit" in best.meta["provenance"]
    latest = policy_export.load(run_dir / policy_export.LATEST_NAME)
    assert latest.meta["iteration"] == 3
    # The export's policy is the trained one: same parameters as the newest checkpoint's.
    for key, value in checkpoint.flatten(latest.policy).items():
        np.testing.assert_array_equal(value, newest.arrays[".params['policy']" + key])
    policy = policy_export.policy_of(best)  # loads without building the environment
    action = policy.act(np.zeros((2, best.meta["observation_size"]), np.float32))
    assert action.shape == (2, best.meta["action_size"]) and np.isfinite(action).all()
    # Small enough to keep in git; the training checkpoint is what carries the replay buffer.
    assert (run_dir / policy_export.BEST_NAME).stat().st_size < 2_000_000
    assert "iter 3 |" in (run_dir / "train.log").read_text()


def test_same_seed_deterministic_cli_runs_repeat_and_other_seeds_differ(
    reference, config_file, tmp_path
):
    args = ["train", "--config", str(config_file), "--env_id", "SkeletonTorque.walk.mocap",
            "--deterministic", "--jax_cpu", "--no_progress"]
    assert cli.main([*args, "--seed", "0", "--run_dir", str(tmp_path / "a")]) == 0
    assert _rows(tmp_path / "a") == _rows(reference.run_dir)
    assert cli.main([*args, "--seed", "1", "--run_dir", str(tmp_path / "b")]) == 0
    assert _rows(tmp_path / "b") != _rows(reference.run_dir)


def test_resume_after_sigterm_continues_exactly(reference, config, tmp_path):
    def preempt(iteration, metrics):
        if iteration == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    first = train.run(config, tmp_path, show_progress=False, on_iteration=preempt)
    assert first.status == "interrupted" and first.iteration == 2
    assert first.signum == signal.SIGTERM
    assert checkpoint.newest(tmp_path).name == "checkpoint_000002.msgpack"
    second = train.run(config, tmp_path, resume=True, show_progress=False)
    assert second.status == "completed" and second.iteration == 3
    assert _rows(tmp_path) == _rows(reference.run_dir)
    assert second.best_score == pytest.approx(reference.best_score)


def test_nonfinite_parameters_stop_the_run_and_keep_the_last_checkpoint(
    reference, config, tmp_path
):
    src = reference.run_dir / "checkpoint_000003.msgpack"
    ckpt = checkpoint.load(src)
    key = next(k for k in ckpt.arrays if k.startswith(".params['policy']") and "kernel" in k)
    # A validly checksummed file whose weights are NaN: the run itself must catch it.
    def poison(body: dict) -> None:
        body["state"][key] = np.full_like(body["state"][key], np.nan)

    poisoned = rewrite_body(src, tmp_path / src.name, poison)
    before = poisoned.read_bytes()
    longer = train_config.from_mapping(
        {**_as_dict(config), "run": {**_as_dict(config)["run"], "iterations": 4}}, "test"
    )
    with pytest.raises(train.TrainingDivergedError, match=r"iteration 4: non-finite .*actor_loss"):
        train.run(longer, tmp_path, resume=True, show_progress=False)
    assert poisoned.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("*.msgpack")) == [src.name]


def test_resume_with_no_checkpoint_yet_starts_a_new_run(reference, config, tmp_path):
    # A retried workflow job whose first attempt died before its first save: --resume
    # starts at iteration 0, and the rows that attempt logged do not stay in metrics.csv.
    shutil.copyfile(reference.run_dir / "metrics.csv", tmp_path / "metrics.csv")
    result = train.run(config, tmp_path, resume=True, show_progress=False)
    assert result.status == "completed" and result.iteration == 3
    assert _rows(tmp_path) == _rows(reference.run_dir)


def test_bad_resume_and_run_dir_states_get_clear_errors(reference, config, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(reference.run_dir, copy)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train.run(config, copy, show_progress=False)

    changed = train_config.from_mapping(
        {**_as_dict(config), "ppo": {**_as_dict(config)["ppo"], "gamma": 0.9}}, "test"
    )
    with pytest.raises(ConfigError, match=r"different config.*ppo\.gamma"):
        train.run(changed, copy, resume=True, show_progress=False)

    # An unreadable newest checkpoint is skipped with a warning; the older one resumes.
    newest = copy / "checkpoint_000003.msgpack"
    newest.write_bytes(newest.read_bytes()[:1000])
    (copy / "checkpoint_000999.msgpack").write_bytes(b"")
    stale = copy / ".checkpoint_000004.msgpack.x1y2z3.tmp"
    stale.write_bytes(b"partial write of a killed process")
    console = Console(file=io.StringIO(), width=200)
    result = train.run(config, copy, resume=True, show_progress=False, console=console)
    said = console.file.getvalue()
    assert "skipping checkpoint_000999.msgpack" in said
    assert "skipping checkpoint_000003.msgpack" in said and "not a readable" in said
    assert result.status == "completed" and result.iteration == 3
    assert _rows(copy) == _rows(reference.run_dir)  # resumed at 2, same numbers as straight
    assert not stale.exists()

    for _, path in checkpoint.periodic_checkpoints(copy):
        path.write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match="none of the checkpoints"):
        train.run(config, copy, resume=True, show_progress=False)


def test_cli_reports_bad_config_in_one_line(tmp_path, capsys):
    def one_line_error() -> str:
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err, err
        return err

    assert cli.main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in one_line_error()
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  num_envz: 4\n")
    assert cli.main(["train", "--config", str(bad)]) == 2
    assert "did you mean 'num_envs'" in one_line_error()
    assert train.main(["--config", str(bad)]) == 2
    assert "bad.yaml: field 'ppo.num_envz'" in one_line_error()
    assert cli.main(["train", "--env_id", "SkeletonTorque.walk.mocapp"]) == 2
    assert "did you mean 'SkeletonTorque.walk.mocap'" in one_line_error()


def test_debug_nans_flag_stops_at_the_first_nan():
    import jax.numpy as jp

    before = jax.config.jax_debug_nans
    try:
        jax_setup.configure_jax(debug_nans=True)
        with pytest.raises(FloatingPointError, match="nan"):
            jax.jit(lambda x: jp.log(x) * 2.0)(jp.array(-1.0)).block_until_ready()
    finally:
        jax.config.update("jax_debug_nans", before)
    # Off again: the same computation quietly gives NaN.
    assert np.isnan(float(jax.jit(lambda x: jp.log(x) * 2.0)(jp.array(-1.0))))


@pytest.mark.slow
def test_bench_train_prints_rates_and_one_json_line(config_file, tmp_path, capsys):
    import json

    from rich.console import Console

    from skeleton_steering.bench import train_bench

    # Overrides size the bench like a preset; --num_envs wins over the same key among them.
    result = train_bench.run(str(config_file), 8, 8, 2, str(tmp_path), Console(stderr=True),
                             ["network.policy_hidden=[16,8]", "ppo.num_envs=4096"])
    assert result["network"]["policy_hidden"] == [16, 8] and result["num_envs"] == 8
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(result))
    assert result["train_env_steps_per_s"] > 0 and result["physics_steps_per_s"] > 0
    assert result["train_over_physics"] == pytest.approx(
        result["train_env_steps_per_s"] / result["physics_steps_per_s"]
    )


def test_std_ceiling_holds_the_policy_std_at_final_std(reference, config):
    """The tiny config's ceiling reaches 0.05 after one iteration; the learned std (from 0.1)
    stays at it."""
    assert config.network.final_std == 0.05 and config.network.std_decay_end == 64
    stds = [row["policy_std"] for row in read_csv(reference.run_dir / "metrics.csv")]
    # At or just under the ceiling: below it the std is still learned (without it: ~0.1).
    assert all(0.049 < std <= 0.05 * (1 + 1e-5) for std in stds), stds
    best = policy_export.load(reference.run_dir / policy_export.BEST_NAME)
    assert np.exp(best.policy["params"]["log_std"]).max() <= 0.05 * (1 + 1e-5)
