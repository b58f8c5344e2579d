"""Evaluation end to end on CPU, small: schedules, JSON/CSV outputs and their consistency,
determinism, video frames, and clear errors for bad checkpoints and schedule names.

The checkpoint comes from one tiny training run with test_train.py's config (so a full test
session compiles the training iteration once), and every evaluation here runs the same
episodes x steps, so the evaluation rollout compiles once too.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import sys
import types
from pathlib import Path

import jax
import numpy as np
import pytest

import skeleton_steering
from constant_disc import constant_disc
from container_edit import rewrite_body
from skeleton_steering import cli
from skeleton_steering.config import read_yaml
from skeleton_steering.env.env_config import CommandConfig
from skeleton_steering.evaluate import eval_cli, gait_fidelity, schedules, steering_metrics
from skeleton_steering.evaluate import outputs as eval_output
from skeleton_steering.evaluate import rollout as evaluation
from skeleton_steering.learn import policy_export, train, train_config
from tiny_training import TINY as SHARED_TINY

ROOT = Path(__file__).resolve().parents[1]
TINY = {**SHARED_TINY, "run": {"iterations": 1, "log_every": 1, "checkpoint_every": 1}}
DT = 0.02
N_STEPS = 250  # covers the scripted schedule's first turn, at step 200
EPISODES = 2
# A policy trained for one iteration falls within a second; a short settling window leaves
# judged steps to check the success share on.
SETTLE = 0.1


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, deterministic_jax) -> Path:
    from skeleton_steering.data.cache import ensure_default_walk_data

    base = tmp_path_factory.mktemp("eval_ckpt")
    data = read_yaml(ROOT / "config" / "amp_ppo.yaml")
    for section, values in TINY.items():
        data[section].update(values)
    data["data"]["cache_dir"] = str(ensure_default_walk_data(base / "data"))
    config = train_config.from_mapping(data, "tiny eval config")
    result = train.run(config, base / "run", show_progress=False)
    assert result.status == "completed"
    return base / "run" / "checkpoint_000001.msgpack"


def _args(ckpt: Path, out: Path, *extra: str) -> list[str]:
    return ["--model_path", str(ckpt), "--n_steps", str(N_STEPS), "--episodes", str(EPISODES),
            "--settle_seconds", str(SETTLE), "--deterministic", "--jax_cpu", "--no_progress",
            "--out", str(out), *extra]  # fmt: skip


@pytest.fixture(scope="session")
def evaluated(tiny_checkpoint, tmp_path_factory) -> Path:
    """JSON path of one deterministic CLI evaluation (pays the rollout compile)."""
    out = tmp_path_factory.mktemp("eval_a") / "tiny.json"
    assert cli.main(["eval", *_args(tiny_checkpoint, out)]) == 0
    return out


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    return err


# -- schedules ---------------------------------------------------------------------------------


def test_scripted_schedule_turns_and_changes_speed_at_the_right_steps():
    s = schedules.make_schedule("scripted", 1100, DT, episodes=2)
    assert s.heading.shape == s.speed.shape == (2, 1100)
    assert np.array_equal(s.heading[0], s.heading[1])
    deg = np.degrees(s.heading[0])
    # 4 s segments = 200 steps: straight, 90 left, 135 right (-45), speed up, slow down, repeat.
    expected = [(0, 0.0, 1.2), (200, 90.0, 1.2), (400, -45.0, 1.2), (600, -45.0, 1.6),
                (800, -45.0, 0.7), (1000, 0.0, 1.2)]  # fmt: skip
    for start, heading, speed in expected:
        end = min(start + 200, 1100)
        assert np.allclose(deg[start:end], heading, atol=1e-4), start
        assert np.allclose(s.speed[0, start:end], speed), start
    assert np.flatnonzero(s.changed[0]).tolist() == [0, 200, 400, 600, 800, 1000]

    straight = schedules.make_schedule("straight", 500, DT)
    assert np.all(straight.heading == 0.0) and np.allclose(straight.speed, 1.2)
    assert np.flatnonzero(straight.changed[0]).tolist() == [0]


def test_random_schedule_draws_inside_the_training_ranges():
    cfg = CommandConfig(speed_range=(0.8, 1.0), resample_seconds=(1.0, 2.0),
                        max_heading_change=math.pi / 4)  # fmt: skip
    s = schedules.make_schedule("random", 3000, DT, episodes=3, command_config=cfg, seed=7)
    assert np.all((s.speed >= 0.8) & (s.speed <= 1.0))
    for e in range(3):
        starts = np.flatnonzero(s.changed[e])
        lengths = np.diff(starts)  # the last segment may be cut off by the end
        assert np.all((lengths >= 50) & (lengths <= 100)), lengths
        heads = s.heading[e, starts]
        turns = (np.diff(np.concatenate([[0.0], heads])) + np.pi) % (2 * np.pi) - np.pi
        assert np.all(np.abs(turns) <= math.pi / 4 + 1e-5)
    assert not np.array_equal(s.heading[0], s.heading[1])
    again = schedules.make_schedule("random", 3000, DT, episodes=3, command_config=cfg, seed=7)
    assert np.array_equal(again.heading, s.heading) and np.array_equal(again.speed, s.speed)
    other = schedules.make_schedule("random", 3000, DT, episodes=3, command_config=cfg, seed=8)
    assert not np.array_equal(other.heading, s.heading)


def test_unknown_schedule_and_csv_summary_path_are_rejected_before_loading(tmp_path, capsys):
    with pytest.raises(schedules.UnknownScheduleError, match="random, scripted, straight"):
        schedules.make_schedule("zigzag", 10, DT)
    args = ["--model_path", str(tmp_path / "any.msgpack"), "--schedule", "zigzag"]
    assert cli.main(["eval", *args]) == 2
    assert "unknown schedule 'zigzag'; valid schedules: random, scripted, straight" in (
        _one_line_error(capsys)
    )
    assert eval_cli.main(args) == 2
    assert "unknown schedule 'zigzag'" in _one_line_error(capsys)
    clash = ["--model_path", str(tmp_path / "any.msgpack"), "--out", str(tmp_path / "s.csv")]
    assert cli.main(["eval", *clash]) == 2
    assert "the per-step CSV goes beside the summary" in _one_line_error(capsys)
    assert eval_cli.default_out("runs/seed3/checkpoint_best.msgpack") == Path(
        "results/eval/checkpoint_best.json"
    )


# -- bad checkpoints ---------------------------------------------------------------------------


def test_missing_corrupt_and_mismatched_checkpoints_get_one_line_errors(
    tiny_checkpoint, tmp_path, capsys
):
    out = tmp_path / "never.json"
    missing = tmp_path / "missing.msgpack"
    assert cli.main(["eval", "--model_path", str(missing), "--out", str(out)]) == 2
    assert f"{missing}: policy export or training checkpoint not found" in _one_line_error(capsys)

    corrupt = tmp_path / "corrupt.msgpack"
    corrupt.write_bytes(tiny_checkpoint.read_bytes()[:500])
    assert eval_cli.main(["--model_path", str(corrupt), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert f"{corrupt}: not a readable policy export or training checkpoint" in err

    other = rewrite_body(tiny_checkpoint, tmp_path / "other_obs.msgpack",
                         lambda body: body["meta"].update(observation_size=84))
    assert cli.main(["eval", "--model_path", str(other), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert f"{other}: field 'meta.observation_size' is 84" in err and "has 85" in err
    assert not out.exists() and not out.with_suffix(".csv").exists()


# -- end to end --------------------------------------------------------------------------------


def test_eval_writes_json_and_csv_that_agree(evaluated):
    summary = json.loads(evaluated.read_text())
    rows = _read_csv(evaluated.with_suffix(".csv"))
    header = evaluated.with_suffix(".csv").read_text().splitlines()[0].split(",")
    assert tuple(header) == eval_output.CSV_COLUMNS
    assert summary["csv"] == "tiny.csv" and summary["schedule"] == "scripted"
    assert (summary["n_steps"], summary["episodes"], summary["settle_seconds"]) == (
        N_STEPS, EPISODES, SETTLE
    )
    assert summary["control_dt"] == pytest.approx(DT)
    assert len(rows["step"]) == EPISODES * N_STEPS
    assert np.array_equal(rows["episode"], np.repeat(np.arange(EPISODES), N_STEPS))
    assert np.array_equal(rows["step"], np.tile(np.arange(N_STEPS), EPISODES))

    m = summary["metrics"]
    judged = rows["judged"] == 1
    # Judged: past the settling window, or at a fall and in the restart after it (failed).
    lost = np.concatenate([
        steering_metrics.lost_to_falls(rows["fell"][rows["episode"] == e] == 1, DT, SETTLE)
        for e in range(EPISODES)
    ])  # fmt: skip
    assert np.array_equal(judged, (rows["since_change_s"] >= SETTLE - 1e-9) | lost)
    assert m["lost_steps"] == lost.sum()
    assert not rows["good"][lost].any()
    assert m["judged_steps"] == judged.sum() > 0
    assert m["success_rate"] == pytest.approx(rows["good"][judged].mean(), abs=1e-12)
    # The all-steps view judges every row.
    assert m["success_rate_all"] == pytest.approx(rows["good"].mean(), abs=1e-12)
    assert summary["criterion"] == {**steering_metrics.criterion(SETTLE),
                                    "leg_overlap_depth_m": 0.01}
    assert summary["seed_role"] == "held_out" and summary["seed"] >= 1000
    assert len(summary["checkpoint_sha256"]) == 64
    assert m["falls"] == rows["fell"].sum()
    assert m["falls_per_minute"] == pytest.approx(m["falls"] / (EPISODES * N_STEPS * DT / 60))
    assert m["style_reward"] == pytest.approx(rows["style_reward"].mean(), abs=1e-5)
    assert rows["style_reward"].min() >= 0.0 and rows["style_reward"].max() <= 1.0
    assert m["distance_m"] == pytest.approx(rows["speed_mps"].sum() * DT / EPISODES, rel=1e-3)
    assert m["nonfinite_steps"] == 0

    # The good column is the criterion on the CSV's own numbers: speed, direction of travel
    # and facing (away from the edges the rounding could flip; every command here walks).
    speed, target = rows["speed_mps"], rows["target_speed_mps"]
    cos = np.cos(np.radians(rows["heading_deg"] - rows["target_heading_deg"]))
    facing = np.cos(np.radians(rows["facing_deg"] - rows["target_heading_deg"]))
    good = ((np.abs(speed - target) <= 0.5) & (speed > 0.1) & (cos >= 0.7) & (facing >= 0.7)
            & (rows["fell"] == 0))
    clear = ((np.abs(np.abs(speed - target) - 0.5) > 1e-3) & (np.abs(cos - 0.7) > 1e-3)
             & (np.abs(facing - 0.7) > 1e-3) & (np.abs(speed - 0.1) > 1e-3))
    clear &= ~lost
    assert np.array_equal(good[clear], rows["good"][clear] == 1)

    for e in range(EPISODES):
        mine = rows["episode"] == e
        fell = rows["fell"][mine] == 1
        target_deg = rows["target_heading_deg"][mine]
        since = rows["since_change_s"][mine]
        per = summary["per_episode"][e]
        assert per["falls"] == fell.sum()
        assert sum(per["episode_lengths_s"]) == pytest.approx(N_STEPS * DT)
        assert len(per["episode_lengths_s"]) == fell.sum() + (0 if fell[-1] else 1)
        # The scripted speed holds for the first 12 s; headings only change at the 90 deg turn
        # (step 200) and at a restart after a fall (new start heading).
        assert np.allclose(rows["target_speed_mps"][mine], 1.2)
        for t in range(1, N_STEPS):
            if fell[t - 1]:
                assert since[t] == 0.0
                continue
            turn = (target_deg[t] - target_deg[t - 1] + 180.0) % 360.0 - 180.0
            assert turn == pytest.approx(90.0 if t == 200 else 0.0, abs=2e-3), t
            assert since[t] == pytest.approx(0.0 if t == 200 else since[t - 1] + DT, abs=1e-4)
    # Each parallel episode starts from its own reset key (its own random heading).
    first = rows["step"] == 0
    assert len(set(rows["target_heading_deg"][first])) == EPISODES

    # A training checkpoint computes the demos' gait statistics from its expert data; a
    # policy trained for one iteration falls before it walks: the gait measurement is invalid
    # and fails every goal instead of scoring.
    gait = summary["gait"]
    assert gait["available"] and gait["demo"]["strides"] > 0
    assert not gait["valid"] and not any(goal["pass"] for goal in gait["goals"].values())
    steady = rows["since_change_s"] >= gait_fidelity.GAIT_SETTLE_SECONDS - 1e-9
    assert np.array_equal(rows["gait_steady"] == 1, steady)


def test_deterministic_eval_repeats_byte_for_byte_and_other_seeds_differ(
    evaluated, tiny_checkpoint, tmp_path
):
    again = tmp_path / "again" / "tiny.json"
    assert eval_cli.main(_args(tiny_checkpoint, again)) == 0  # python -m skeleton_steering.eval
    assert again.read_bytes() == evaluated.read_bytes()
    assert again.with_suffix(".csv").read_bytes() == evaluated.with_suffix(".csv").read_bytes()
    seed1 = tmp_path / "seed1" / "tiny.json"
    assert eval_cli.main([*_args(tiny_checkpoint, seed1), "--seed", "1"]) == 0
    assert seed1.with_suffix(".csv").read_bytes() != evaluated.with_suffix(".csv").read_bytes()


def test_disc_accuracy_counts_the_steps_the_discriminator_calls_agent(tiny_checkpoint):
    model = evaluation.load_model(tiny_checkpoint)
    # The same episodes x steps as `evaluated`: the compiled rollout is reused.
    sched = schedules.make_schedule("straight", N_STEPS, DT, episodes=EPISODES)
    for score, accuracy in [(-0.5, 1.0), (0.5, 0.0)]:
        params = model.params._replace(disc=constant_disc(model.params.disc, score))
        result = evaluation.rollout(dataclasses.replace(model, params=params), sched, seed=0,
                                    deterministic=True)
        np.testing.assert_allclose(result.disc_score, score, atol=1e-6)
        assert float((result.disc_score < 0).mean()) == accuracy


def test_action_std_samples_with_the_given_std(evaluated, tiny_checkpoint, tmp_path, capsys):
    model = evaluation.with_action_std(evaluation.load_model(tiny_checkpoint), 0.05)
    np.testing.assert_allclose(np.exp(model.params.policy["params"]["log_std"]), 0.05, rtol=1e-6)
    sampled_args = [a for a in _args(tiny_checkpoint, tmp_path / "s.json")
                    if a != "--deterministic"]
    assert eval_cli.main([*sampled_args, "--action_std", "0.05"]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["action_std"] == 0.05 and not summary["deterministic"]
    assert 0.0 <= summary["metrics"]["disc_acc_agent"] <= 1.0
    # Mean actions: std 0; the discriminator calls a step agent (d < 0) only below style 0.75.
    mean = json.loads(evaluated.read_text())
    assert mean["action_std"] == 0.0
    styles = _read_csv(evaluated.with_suffix(".csv"))["style_reward"]
    assert mean["metrics"]["disc_acc_agent"] <= np.mean(styles < 0.75) + 1e-9
    capsys.readouterr()
    for bad in (["--action_std", "0.05"], ["--action_std", "0"]):
        args = _args(tiny_checkpoint, tmp_path / "bad.json") if bad[1] != "0" else sampled_args
        assert eval_cli.main([*args, *bad]) != 0
        assert "action_std" in _one_line_error(capsys)


def test_policy_export_loads_alone_and_evaluates_like_its_checkpoint(
    evaluated, tiny_checkpoint, tmp_path
):
    # policy_latest.msgpack is the export of the same state as checkpoint_000001.msgpack.
    export = tiny_checkpoint.parent / policy_export.LATEST_NAME
    assert export.stat().st_size < 2_000_000
    alone = tmp_path / "shipped"
    alone.mkdir()
    shutil.copy(export, alone / "policy.msgpack")
    out = tmp_path / "out" / "tiny.json"
    assert eval_cli.main(_args(alone / "policy.msgpack", out)) == 0
    # Nothing is written beside the input: no dataset, no cache.
    assert sorted(p.name for p in alone.iterdir()) == ["policy.msgpack"]
    ours, theirs = json.loads(out.read_text()), json.loads(evaluated.read_text())
    assert ours["metrics"] == theirs["metrics"]
    # Training wrote the demos' gait statistics into the export: it judges gait alone, alike.
    assert policy_export.load(alone / "policy.msgpack").gait is not None
    # (the export stores the demos' side in float32)
    for key, value in theirs["gait"].items():
        if isinstance(value, float):
            assert ours["gait"][key] == pytest.approx(value, rel=1e-5), key
        elif key not in ("cycle", "demo", "frechet"):
            assert ours["gait"][key] == value, key
    assert ours["env_steps"] == theirs["env_steps"] == 64
    assert out.with_suffix(".csv").read_bytes() == evaluated.with_suffix(".csv").read_bytes()

    # Round trip: an export written from a loaded one holds the same arrays and metadata.
    loaded = policy_export.load(alone / "policy.msgpack")
    again = policy_export.load(policy_export.write(loaded, tmp_path / "again.msgpack"))
    assert again.meta == loaded.meta and again.config == loaded.config
    np.testing.assert_array_equal(again.reference_qpos, loaded.reference_qpos)
    for a, b in zip(jax.tree.leaves(again.policy), jax.tree.leaves(loaded.policy), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_export_is_refused_naming_the_file(tiny_checkpoint, tmp_path, capsys):
    export = tiny_checkpoint.parent / policy_export.LATEST_NAME
    blob = bytearray(export.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    bad = tmp_path / "flipped.msgpack"
    bad.write_bytes(bytes(blob))
    assert cli.main(["eval", *_args(bad, tmp_path / "never.json")]) == 2
    assert f"{bad}: policy export or training checkpoint is corrupt" in _one_line_error(capsys)


# -- video -------------------------------------------------------------------------------------


def _fake_render(monkeypatch) -> list[dict]:
    """Install a stand-in for `skeleton_steering.render.renderer` that keeps what it is given."""
    calls: list[dict] = []

    @dataclasses.dataclass(frozen=True)
    class Frame:
        qpos: np.ndarray
        target_yaw: float
        target_speed: float
        velocity_xy: np.ndarray
        time: float

    def render_video(frames, out_path, *, width=640, height=480, fps=50.0, preview=True):
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(b"video")
        calls.append({"frames": list(frames), "out_path": out_path, "fps": fps})
        return types.SimpleNamespace(path=out_path, n_frames=len(frames), preview_path=None)

    module = types.ModuleType("skeleton_steering.render.renderer")
    module.Frame = Frame
    module.render_video = render_video
    monkeypatch.setitem(sys.modules, "skeleton_steering.render.renderer", module)
    monkeypatch.setattr(skeleton_steering, "render", module, raising=False)
    return calls


def test_record_renders_episode_zero_with_its_commands(
    evaluated, tiny_checkpoint, tmp_path, monkeypatch
):
    calls = _fake_render(monkeypatch)
    out = tmp_path / "rec.json"
    assert cli.main(["eval", *_args(tiny_checkpoint, out, "--record")]) == 0
    (call,) = calls
    assert call["out_path"] == out.with_suffix(".mp4") and call["fps"] == pytest.approx(50.0)
    assert json.loads(out.read_text())["video"] == str(out.with_suffix(".mp4"))
    frames = call["frames"]
    rows = _read_csv(out.with_suffix(".csv"))
    ep0 = rows["episode"] == 0
    assert len(frames) == N_STEPS
    assert [f.time for f in frames] == pytest.approx(list(np.arange(N_STEPS) * DT))
    assert np.degrees([f.target_yaw for f in frames]) == pytest.approx(
        rows["target_heading_deg"][ep0], abs=2e-3
    )
    assert np.allclose([f.target_speed for f in frames], rows["target_speed_mps"][ep0])
    velocity = np.array([f.velocity_xy for f in frames])
    assert np.allclose(velocity[:, 0], rows["velocity_x"][ep0], atol=1e-4)
    # Each frame shows the body before its step: frame t+1's root is frame t's moved by the
    # step's velocity, except across a restart after a fall.
    qpos = np.array([f.qpos for f in frames])
    assert qpos.shape == (N_STEPS, 34) and np.isfinite(qpos).all()
    kept = rows["fell"][ep0][:-1] == 0
    moved = (qpos[1:, :2] - qpos[:-1, :2]) / DT
    assert np.allclose(moved[kept], velocity[:-1][kept], atol=1e-3)


def test_record_without_a_renderer_fails_before_the_rollout(tiny_checkpoint, tmp_path,
                                                            monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "skeleton_steering.render.renderer", None)
    monkeypatch.delattr(skeleton_steering, "render", raising=False)
    out = tmp_path / "rec.json"
    assert cli.main(["eval", *_args(tiny_checkpoint, out, "--record")]) == 1
    assert "--record needs skeleton_steering.render.renderer" in _one_line_error(capsys)
    assert not out.exists()


def test_render_takes_a_policy_export_alone(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    calls = _fake_render(monkeypatch)
    alone = tmp_path / "shipped" / "walker.msgpack"
    alone.parent.mkdir()
    shutil.copy(tiny_checkpoint.parent / policy_export.LATEST_NAME, alone)
    out = tmp_path / "videos" / "walker.mp4"
    args = ["render", "--model_path", str(alone), "--n_steps", str(N_STEPS),
            "--schedule", "straight", "--seed", "3", "--out", str(out)]
    assert cli.main(args) == 0
    assert out.read_bytes() == b"video" and f"wrote {out}" in capsys.readouterr().err
    (call,) = calls
    assert len(call["frames"]) == N_STEPS and call["fps"] == pytest.approx(50.0)
    assert all(f.target_speed == pytest.approx(1.2) for f in call["frames"])
    assert np.isfinite(np.array([f.qpos for f in call["frames"]])).all()
    # The export needs nothing beside it and gets nothing written beside it.
    assert sorted(p.name for p in alone.parent.iterdir()) == ["walker.msgpack"]


@pytest.mark.slow  # one episode is another batch size: the rollout compiles again
def test_record_video_renders_one_episode_of_the_schedule(tiny_checkpoint, tmp_path, monkeypatch):
    calls = _fake_render(monkeypatch)
    path = eval_cli.record_video(tiny_checkpoint, tmp_path / "v.mp4", n_steps=N_STEPS,
                                 schedule="straight", seed=3)
    assert path == tmp_path / "v.mp4" and path.read_bytes() == b"video"
    (call,) = calls
    assert len(call["frames"]) == N_STEPS
    assert all(f.target_speed == pytest.approx(1.2) for f in call["frames"])
