"""Steering metrics on synthetic rollouts whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from skeleton_steering.steering_metrics import SteeringRecord, good_steps, summarize

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
