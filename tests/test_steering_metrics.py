"""Steering metrics on synthetic rollouts whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from skeleton_steering.evaluate.steering_metrics import (
    SteeringRecord,
    episode_lengths,
    good_steps,
    seconds_since_change,
    summarize,
    summarize_rollouts,
)

DT = 0.02


def _record(velocity, target_yaw, target_speed, fell=None, since_change=None):
    T = len(velocity)
    return SteeringRecord(
        velocity=np.asarray(velocity, dtype=float),
        target_yaw=np.full(T, target_yaw, dtype=float),
        target_speed=np.full(T, target_speed, dtype=float),
        fell=np.zeros(T, bool) if fell is None else np.asarray(fell),
        since_change=np.arange(T) * DT + 10.0 if since_change is None else since_change,
        dt=DT,
    )


def test_perfect_tracking():
    # 1.2 m/s along 90 degrees for 10 s: all good, no error, 12 m walked.
    rec = _record(np.tile([0.0, 1.2], (500, 1)), np.pi / 2, 1.2)
    out = summarize(rec)
    assert out["success_rate"] == 1.0
    assert out["heading_error_deg"] == pytest.approx(0.0, abs=1e-9)
    assert out["speed_error_mps"] == pytest.approx(0.0, abs=1e-12)
    assert out["distance_m"] == pytest.approx(12.0)
    assert out["falls_per_minute"] == 0.0


def test_backwards_walk_fails_every_step():
    rec = _record(np.tile([-1.0, 0.0], (100, 1)), 0.0, 1.0)
    out = summarize(rec)
    assert out["success_rate"] == 0.0
    assert out["heading_error_deg"] == pytest.approx(180.0)
    assert out["speed_error_mps"] == pytest.approx(0.0)


def test_thresholds_match_protomotions_criterion():
    # Direction 40 degrees off (cos 0.766 >= 0.7) passes; 50 degrees (cos 0.643) fails.
    for angle, ok in ((40.0, True), (50.0, False)):
        a = np.radians(angle)
        rec = _record(np.array([[np.cos(a), np.sin(a)]]), 0.0, 1.0)
        assert bool(good_steps(rec)[0]) is ok
    # Speed off by 0.4 passes, by 0.6 fails.
    assert good_steps(_record(np.array([[1.4, 0.0]]), 0.0, 1.0))[0]
    assert not good_steps(_record(np.array([[1.6, 0.0]]), 0.0, 1.0))[0]


def test_fall_counts_and_fails_its_step():
    fell = np.zeros(3000, bool)
    fell[[500, 1500]] = True
    rec = _record(np.tile([1.0, 0.0], (3000, 1)), 0.0, 1.0, fell=fell)
    out = summarize(rec)
    assert out["falls_per_minute"] == pytest.approx(2.0)  # 2 falls in 60 s
    assert out["success_rate"] == pytest.approx(1 - 2 / 3000)


def test_settling_window_excludes_steps_after_a_command_change():
    velocity = np.tile([1.0, 0.0], (100, 1))
    since = np.concatenate([np.arange(50) * DT, np.arange(50) * DT + 5.0])
    rec = _record(velocity, np.pi / 2, 1.0, since_change=since)  # always 90 degrees off
    out = summarize(rec, settle_seconds=1.0)
    assert out["judged_steps"] == 50
    assert out["success_rate"] == 0.0
    assert out["heading_error_deg"] == pytest.approx(90.0)


def test_episode_lengths_split_at_falls_and_keep_the_cut_off_last_episode():
    fell = np.zeros(12, bool)
    fell[[4, 9]] = True
    assert episode_lengths(fell).tolist() == [5, 5, 2]
    fell[11] = True  # a fall on the last step leaves no empty episode behind
    assert episode_lengths(fell).tolist() == [5, 5, 2]
    assert episode_lengths(np.zeros(7, bool)).tolist() == [7]


def test_settling_clock_restarts_at_command_changes_and_after_falls():
    changed = np.zeros(8, bool)
    changed[3] = True
    fell = np.zeros(8, bool)
    fell[5] = True  # step 6 starts a new episode
    since = seconds_since_change(changed, fell, 0.5)
    assert since.tolist() == [0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 0.5]


def test_rollouts_pool_steps_but_average_distance_and_split_episodes_per_rollout():
    # Rollout a: 100 good steps at 1 m/s, style 1. Rollout b: 100 steps at 3 m/s (all bad,
    # speed error 2), style 0, falling at steps 49 and 99.
    fell = np.zeros(100, bool)
    fell[[49, 99]] = True
    a = _record(np.tile([1.0, 0.0], (100, 1)), 0.0, 1.0)
    b = _record(np.tile([3.0, 0.0], (100, 1)), 0.0, 1.0, fell=fell)
    a = SteeringRecord(**{**a.__dict__, "style": np.ones(100)})
    b = SteeringRecord(**{**b.__dict__, "style": np.zeros(100)})
    out = summarize_rollouts([a, b])
    assert out["success_rate"] == pytest.approx(0.5)
    assert out["speed_error_mps"] == pytest.approx(1.0)  # (100 * 0 + 100 * 2) / 200
    assert out["distance_m"] == pytest.approx((2.0 + 6.0) / 2)  # 2 s at 1 and at 3 m/s
    assert out["falls"] == 2
    assert out["falls_per_minute"] == pytest.approx(2 / (200 * DT / 60))
    assert out["style_reward"] == pytest.approx(0.5)
    # a: one 2 s episode; b: two of 1 s.
    assert out["episode_count"] == 3
    assert out["episode_length_mean_s"] == pytest.approx(4.0 / 3)
    assert out["episode_length_min_s"] == pytest.approx(1.0)
    assert "style_reward" not in summarize(_record(np.tile([1.0, 0.0], (5, 1)), 0.0, 1.0))
