"""Gait fidelity: the demos measured against themselves, a faster clip, policies that do not
walk, the statistics' round trip through an export, and `eval` on the shipped walker."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from skeleton_steering import cli
from skeleton_steering.data import gait_stats
from skeleton_steering.data.cache import ensure_default_walk_data, load_expert_cache
from skeleton_steering.evaluate import gait_fidelity as gf
from skeleton_steering.evaluate import outputs as eval_output
from skeleton_steering.learn import checkpoint, demo_gait, expert_data, policy_export
from skeleton_steering.skeleton import model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "policies" / "walker.msgpack"
RATE = 50.0


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory) -> Path:
    return ensure_default_walk_data(tmp_path_factory.mktemp("gait_demo"))


@pytest.fixture(scope="module")
def clips(demo_cache) -> list[tuple[np.ndarray, np.ndarray]]:
    traj = load_expert_cache(demo_cache).traj
    sp = traj.split_points
    return [(traj.qpos[a:b], traj.qvel[a:b]) for a, b in itertools.pairwise(sp)]


@pytest.fixture(scope="module")
def stats(clips) -> gait_stats.GaitStats:
    return gait_stats.from_clips(clips, RATE)


def _fidelity(clips, stats, rate=RATE, command=1.2):
    stretches = [gf.Stretch(q, v, command) for q, v in clips]
    return gf.compare(gf.measure(stretches, rate), stats, gf.total_mass())


def _medium(clips, stats):
    """The clips whose strides make up the demos' bin nearest 1.2 m/s."""
    chosen = [c for c in clips if abs(gait_stats.gait_analysis.analyze(c[0], RATE)
                                      .values["speed"].mean() - 1.2) < 0.05]
    assert len(chosen) == 2  # one per sample subject
    return chosen


def test_demos_against_themselves_match(clips, stats):
    same = _fidelity(_medium(clips, stats), stats)
    assert same["valid"] and same["strides"] >= gf.MIN_GAIT_STRIDES
    assert same["cadence_ratio"] == pytest.approx(1.0, abs=0.03)  # the fit, not the bin
    assert same["step_length_ratio"] == pytest.approx(1.0, abs=0.03)
    assert abs(same["knee_swing_peak_gap_deg"]) < 0.01
    assert same["mean_percentile_gap_deg"] < 0.01
    assert same["joint_velocity_rms_ratio"] == pytest.approx(1.0, abs=1e-3)
    assert same["knee_swing_peak_deg"] > 50  # human walking flexes the knee ~60 deg in swing
    assert all(goal["pass"] for goal in same["goals"].values())
    # The Frechet distance pools every straight demo stride: all of them give ~0.
    everything = _fidelity(clips, stats)
    assert max(everything["frechet"].values()) < 1e-3
    assert set(everything["frechet"]) == set(gait_stats._groups())


def test_a_clip_played_faster_has_the_cadence_the_fit_predicts(clips, stats):
    scale = 1.25
    fast = _fidelity(_medium(clips, stats), stats, rate=RATE * scale)
    base = _fidelity(_medium(clips, stats), stats)
    # Faster feet cross the contact-speed threshold at other frames: strides shift slightly.
    assert fast["cadence_spm"] == pytest.approx(scale * base["cadence_spm"], rel=0.01)
    assert fast["speed_mps"] == pytest.approx(scale * base["speed_mps"], rel=0.01)
    expected = fast["cadence_spm"] / stats.cadence_at(fast["speed_mps"])
    assert fast["cadence_ratio"] == pytest.approx(expected)
    # cadence ~ a v^b with b ~ 0.5: the same steps, quicker, read as too high a cadence.
    b = stats.cadence_fit[1]
    assert 0.3 < b < 0.8
    assert fast["cadence_ratio"] == pytest.approx(base["cadence_ratio"] * scale ** (1 - b),
                                                  rel=0.02)
    assert fast["step_length_ratio"] < base["step_length_ratio"] - 0.05


def test_standing_or_falling_never_scores_better_than_walking(clips, stats):
    walking = _fidelity(_medium(clips, stats), stats)
    standing_pose = np.repeat(model.standing_qpos()[None].astype(np.float64), 500, axis=0)
    standing = gf.compare(
        gf.measure([gf.Stretch(standing_pose, np.zeros((500, 33)), 1.2)], RATE), stats,
        gf.total_mass())
    assert standing["strides"] == 0 and not standing["valid"]
    assert "fewer than" in standing["invalid_reason"]
    assert not any(goal["pass"] for goal in standing["goals"].values())
    # No strides means no number, not a zero error.
    assert np.isnan(standing["mean_percentile_gap_deg"]) and np.isnan(standing["cadence_ratio"])
    assert standing["speed_error_mps"] == pytest.approx(1.2)
    # A walk that ends in a fall: invalid, every goal failed, even where the strides were good.
    q, v = _medium(clips, stats)[0]
    fell = gf.compare(gf.measure([gf.Stretch(q, v, 1.2, fell=True)], RATE), stats,
                      gf.total_mass())
    assert not fell["valid"] and "fall" in fell["invalid_reason"]
    assert not any(goal["pass"] for goal in fell["goals"].values())
    passed = sum(goal["pass"] for goal in walking["goals"].values())
    assert passed == len(gf.GOALS)
    table = eval_output.gait_table({"gait": standing})
    assert table.row_count > len(gf.GOALS)


def test_steady_stretches_drop_the_settling_and_break_at_command_changes_and_falls():
    steps, dt = 400, 0.02
    since = np.concatenate([np.arange(200), np.arange(150), np.arange(50)]) * dt
    fell = np.zeros(steps, bool)
    fell[349] = True
    qpos = np.zeros((steps, 34))
    qpos[:, 0] = np.arange(steps)
    out = gf.steady_stretches(qpos, np.zeros((steps, 33)), np.zeros(steps), np.full(steps, 1.2),
                              since, fell, dt, settle=2.0)
    assert [(s.qpos[0, 0], s.qpos[-1, 0]) for s in out] == [(100, 199), (300, 349)]
    assert [s.fell for s in out] == [False, True]
    mask = gf.steady_mask(since, dt, 2.0)
    assert mask.sum() == 100 + 50


def test_expert_data_splits_back_into_its_clips(demo_cache, clips):
    shape = expert_data_shape()
    expert = expert_data.load_cache(demo_cache, *shape)
    again = demo_gait.clips_of(expert)
    assert [len(q) for q, _ in again] == [len(q) for q, _ in clips]
    for (a, _), (b, _) in zip(again, clips, strict=True):
        np.testing.assert_array_equal(a, b)
    broken = dataclasses.replace(expert, qpos=expert.qpos[:-1], qvel=expert.qvel[:-1])
    with pytest.raises(gait_stats.GaitStatsError, match="do not split"):
        demo_gait.clips_of(broken)
    with pytest.raises(gait_stats.GaitStatsError, match="no straight walking stride"):
        demo_gait.stats_of(expert_data.standing_demo(), 0.02)


def expert_data_shape() -> tuple[int, float]:
    m = model.load_mj_model()
    from skeleton_steering.skeleton.features import feature_size

    return feature_size(m.nq, m.nv, len(model.KEY_SITES)), 0.02


def test_statistics_round_trip_through_an_export_and_stay_small(stats, tmp_path):
    arrays = stats.to_arrays()
    assert sum(a.nbytes for a in arrays.values()) < 200_000
    export = policy_export.load(SHIPPED)
    written = policy_export.write(policy_export.with_gait(export, stats, "sample demos"),
                                  tmp_path / "with_gait.msgpack")
    loaded = policy_export.load(written)
    assert loaded.meta["gait_stats_source"] == "sample demos"
    assert loaded.gait.describe() == stats.describe()
    for name, value in loaded.gait.to_arrays().items():
        np.testing.assert_allclose(value, arrays[name], rtol=1e-6, err_msg=name)
    assert loaded.gait.cadence_at(1.3) == pytest.approx(stats.cadence_at(1.3), rel=1e-6)
    # A damaged statistics entry is refused naming the file and the array.
    bad = dataclasses.replace(loaded.gait, curve_sd=loaded.gait.curve_sd[:, :2])
    broken = policy_export.write(dataclasses.replace(loaded, gait=bad), tmp_path / "bad.msgpack")
    with pytest.raises(checkpoint.CheckpointError, match=r"bad\.msgpack.*'curve_sd'"):
        policy_export.load(broken)


def _eval_argv(model_path: Path, out: Path) -> list[str]:
    # One episode of 250 steps: both CLI tests share one compiled rollout chunk.
    return ["eval", "--model_path", str(model_path), "--schedule", "straight", "--n_steps",
            "250", "--no_progress", "--deterministic", "--out", str(out)]


# Each compiles the walker's rollout (one to a few minutes on 2 busy cores): slow.
@pytest.mark.slow
def test_eval_of_an_export_without_statistics_says_gait_is_unavailable(tmp_path, capsys):
    old = policy_export.write(dataclasses.replace(policy_export.load(SHIPPED), gait=None),
                              tmp_path / "old.msgpack")
    assert policy_export.load(old).gait is None
    out = tmp_path / "old.json"
    assert cli.main(_eval_argv(old, out)) == 0
    summary = json.loads(out.read_text())
    assert summary["gait"]["available"] is False
    assert "add_gait_stats" in summary["gait"]["reason"]
    assert not any(goal["pass"] for goal in summary["gait"]["goals"].values())
    assert summary["gait_plot"] is None and not (tmp_path / "old_gait.png").exists()
    assert "unavailable" in capsys.readouterr().err
    assert summary["metrics"]["steps"] == 250  # the steering evaluation ran as before


@pytest.mark.slow
def test_eval_reports_the_shipped_walkers_gait_and_plots_it(tmp_path):
    assert policy_export.load(SHIPPED).gait is not None, "the shipped walker has no gait stats"
    out = tmp_path / "gait.json"
    assert cli.main(_eval_argv(SHIPPED, out)) == 0
    summary = json.loads(out.read_text())
    g = summary["gait"]
    # 5 s, the first 2 s settling: a few strides.
    assert g["available"] and g["strides"] >= 2
    assert g["valid"] == (g["strides"] >= gf.MIN_GAIT_STRIDES)
    assert 100 < g["cadence_spm"] < 200 and 0.8 < g["speed_mps"] < 2.0
    assert g["cost_of_transport"] > 0 and g["frechet_mean"] > 0
    assert set(g["goals"]) == {name for name, _, _ in gf.GOALS}
    plot = tmp_path / summary["gait_plot"]
    assert plot.name == "gait_gait.png" and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header = out.with_suffix(".csv").read_text().splitlines()[0].split(",")
    assert header == list(eval_output.CSV_COLUMNS) and header[-1] == "gait_steady"
