"""Steering metrics on synthetic rollouts whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from skeleton_steering.evaluate.steering_metrics import (
    SteeringRecord,
    criterion,
    episode_lengths,
    good_steps,
    lost_to_falls,
    seconds_since_change,
    summarize,
    summarize_rollouts,
)

DT = 0.02


def _record(velocity, target_yaw, target_speed, fell=None, since_change=None, facing=None):
    """A rollout facing the commanded heading unless `facing` (radians) says otherwise."""
    T = len(velocity)
    return SteeringRecord(
        velocity=np.asarray(velocity, dtype=float),
        facing_yaw=np.full(T, target_yaw if facing is None else facing, dtype=float),
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


def test_a_fall_costs_its_step_and_the_restart_after_it():
    fell = np.zeros(3000, bool)
    fell[[500, 1500]] = True
    rec = _record(np.tile([1.0, 0.0], (3000, 1)), 0.0, 1.0, fell=fell)
    out = summarize(rec, settle_seconds=1.0)
    assert out["falls_per_minute"] == pytest.approx(2.0)  # 2 falls in 60 s
    # Each fall loses its own step and the 1 s (50 steps) restart after it.
    assert out["lost_steps"] == 2 * 51
    assert out["judged_steps"] == 3000
    assert out["success_rate"] == pytest.approx(1 - 102 / 3000)
    assert out["upright_share"] == pytest.approx(1 - 102 / 3000)
    lost = lost_to_falls(fell, DT, 1.0)
    assert lost[500:551].all() and not lost[551] and not lost[:500].any()


def _walker_that_falls_every(period: int, steps: int = 1000, speed: float = 0.4):
    """Tracks the command perfectly while up, falls every `period` steps, restarts; its settling
    clock restarts after each fall as the evaluation rollout's does."""
    fell = np.zeros(steps, bool)
    fell[period - 1 :: period] = True
    changed = np.zeros(steps, bool)
    since = seconds_since_change(changed, fell, DT)
    return _record(np.tile([speed, 0.0], (steps, 1)), 0.0, speed, fell=fell, since_change=since)


@pytest.mark.parametrize("period", [10, 30, 49, 60, 100, 300])
def test_a_falling_policy_cannot_beat_a_slow_one(period):
    # Command 0.4 m/s: a walker at 0.15 m/s is within the 0.5 m/s tolerance and moves the
    # right way, so it scores every step good. A walker that tracks perfectly but keeps
    # falling must score less, however its falls line up with the settling windows (periods
    # shorter than the 50-step window used to leave only the lucky steps judged).
    slow = summarize(_record(np.tile([0.15, 0.0], (1000, 1)), 0.0, 0.4,
                             since_change=np.arange(1000) * DT))
    falling = summarize(_walker_that_falls_every(period), settle_seconds=1.0)
    assert slow["success_rate"] == 1.0 and slow["upright_share"] == 1.0
    assert falling["success_rate"] < slow["success_rate"]
    assert falling["upright_share"] < 1.0
    never = summarize(_walker_that_falls_every(10_000), settle_seconds=1.0)
    assert falling["success_rate"] < never["success_rate"]


def test_falling_more_often_never_scores_higher():
    rates = [summarize(_walker_that_falls_every(p))["success_rate"] for p in (20, 60, 150, 400)]
    assert rates == sorted(rates)
    assert rates[0] == 0.0  # a fall every 0.4 s leaves nothing upright to be good


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
    # b's fall at 49 loses steps 49..99 (its step and the 50-step restart): 49 upright steps.
    assert out["lost_steps"] == 51
    assert out["speed_error_mps"] == pytest.approx(2 * 49 / 149)
    # The fall on b's last step does not spill into a's steps when the order is reversed.
    assert summarize_rollouts([b, a])["lost_steps"] == 51
    assert out["distance_m"] == pytest.approx((2.0 + 6.0) / 2)  # 2 s at 1 and at 3 m/s
    assert out["falls"] == 2
    assert out["falls_per_minute"] == pytest.approx(2 / (200 * DT / 60))
    assert out["style_reward"] == pytest.approx(0.5)
    # a: one 2 s episode; b: two of 1 s.
    assert out["episode_count"] == 3
    assert out["episode_length_mean_s"] == pytest.approx(4.0 / 3)
    assert out["episode_length_min_s"] == pytest.approx(1.0)
    assert "style_reward" not in summarize(_record(np.tile([1.0, 0.0], (5, 1)), 0.0, 1.0))


def test_adding_a_fall_never_raises_the_score():
    # Random rollouts (speeds and directions good and bad, command changes); the settling clock
    # restarts after each fall as the evaluation rollout's does. One more fall anywhere must
    # not raise the good-step share: without the fall-aware rule the restart's fresh settling
    # window hides the failed steps that follow it.
    rng = np.random.default_rng(0)
    for _ in range(200):
        steps = 300
        velocity = rng.normal(0.0, 1.0, (steps, 2)) + np.array([1.0, 0.0])
        changed = rng.random(steps) < 0.01
        fell = rng.random(steps) < 0.005
        more = fell.copy()
        more[rng.integers(steps)] = True
        before, after = (
            summarize(
                _record(velocity, 0.0, 1.0, fell=f,
                        since_change=seconds_since_change(changed, f, DT)),
                settle_seconds=1.0,
            )["success_rate"]
            for f in (fell, more)
        )
        assert np.isnan(before) or after <= before + 1e-12


def test_seventy_five_falls_a_minute_scores_nothing():
    # The pathology this rule fixes: a fall every 0.8 s, at the commanded speed just before each.
    period = 40
    velocity = np.zeros((1600, 2))
    for end in range(period - 1, 1600, period):
        velocity[end - 9 : end + 1] = [1.2, 0.0]
    fell = np.zeros(1600, bool)
    fell[period - 1 :: period] = True
    since = seconds_since_change(np.zeros(1600, bool), fell, DT)
    out = summarize(_record(velocity, 0.0, 1.2, fell=fell, since_change=since))
    assert out["falls_per_minute"] == pytest.approx(75.0)
    assert out["success_rate"] == 0.0
    # Only the first episode's 39 steps before its fall were upright.
    assert out["upright_share"] == pytest.approx(39 / 1600)


def _turner(turn_steps: int | None, fall_at: int | None = None, final_deg: float = 90.0,
            before: int = 100, after: int = 200) -> SteeringRecord:
    """Straight ahead (yaw 0) for `before` steps, then commanded to 90 deg for `after` steps;
    the direction of travel comes round to `final_deg` at an even rate over `turn_steps` steps
    (None: never turns), at 1 m/s; optionally the episode falls at `fall_at`."""
    T = before + after
    k = np.clip(np.arange(T) - before, 0, None)
    share = np.zeros(T) if turn_steps is None else np.minimum(k / turn_steps, 1.0)
    angle = np.radians(final_deg * share)
    fell = np.zeros(T, bool)
    if fall_at is not None:
        fell[fall_at] = True
    changed = np.zeros(T, bool)
    changed[before] = True
    return SteeringRecord(
        velocity=np.stack([np.cos(angle), np.sin(angle)], -1),
        facing_yaw=angle,
        target_yaw=np.where(np.arange(T) >= before, np.pi / 2, 0.0),
        target_speed=np.ones(T),
        fell=fell,
        since_change=seconds_since_change(changed, fell, DT),
        dt=DT,
    )


def test_turn_time_is_the_time_until_the_direction_is_within_20_deg():
    out = summarize(_turner(turn_steps=100))
    # 0.9 deg per step: past 70 deg (20 short of the new heading) at the 78th step.
    assert out["turns"] == 1
    assert out["turn_time_s"] == pytest.approx(78 * DT)
    assert out["turns_finished"] == 1.0


def test_an_unfinished_turn_counts_until_the_next_command():
    for rec in (_turner(turn_steps=None), _turner(turn_steps=60, final_deg=60.0)):  # 30 short
        out = summarize(rec)
        assert out["turn_time_s"] == pytest.approx(200 * DT)
        assert out["turns_finished"] == 0.0
    # Standing still, or shuffling on the spot in the right direction (0.3 m/s of the 1 m/s
    # commanded, the way a swaying body's velocity points anywhere), never finishes a turn.
    rec = _turner(turn_steps=100)
    for scale in (0.0, 0.3):
        slow = SteeringRecord(**{**rec.__dict__, "velocity": scale * rec.velocity})
        assert summarize(slow)["turn_time_s"] == pytest.approx(200 * DT)
        assert summarize(slow)["turns_finished"] == 0.0


def test_falling_never_makes_a_turn_quicker():
    quick = summarize(_turner(turn_steps=100))["turn_time_s"]
    for fall_at in (105, 150, 173, 177, 250):
        out = summarize(_turner(turn_steps=100, fall_at=fall_at))
        assert out["turn_time_s"] >= quick
    # Falling 5 steps before the heading is reached: the fall and the 1 s restart after it
    # are lost, and the turn is only done after them.
    assert summarize(_turner(turn_steps=100, fall_at=173))["turn_time_s"] == pytest.approx(
        (173 + 50 + 1 - 100) * DT
    )


def test_the_restart_after_a_fall_is_not_a_turn():
    T = 300
    fell = np.zeros(T, bool)
    fell[99] = True
    # The new episode's heading differs by 90 deg; the command clock restarts, no command changed.
    rec = SteeringRecord(
        velocity=np.tile([1.0, 0.0], (T, 1)),
        facing_yaw=np.zeros(T),
        target_yaw=np.where(np.arange(T) >= 100, np.pi / 2, 0.0),
        target_speed=np.ones(T),
        fell=fell,
        since_change=seconds_since_change(np.zeros(T, bool), fell, DT),
        dt=DT,
    )
    out = summarize(rec)
    assert out["turns"] == 0
    assert np.isnan(out["turn_time_s"])


def test_pooled_rollouts_time_each_turn_and_never_join_two_rollouts_into_one():
    slow, quick = _turner(turn_steps=200), _turner(turn_steps=100)
    out = summarize_rollouts([slow, quick])
    assert out["turns"] == 2
    assert out["turn_time_s"] == pytest.approx((156 + 78) / 2 * DT)
    # The first rollout ends commanded to 90 deg, the second starts at 0: not a turn.
    straight = _record(np.tile([1.0, 0.0], (100, 1)), 0.0, 1.0, since_change=np.arange(100) * DT)
    assert summarize_rollouts([quick, straight])["turns"] == 1


def test_the_scripted_45_deg_return_is_a_turn_whatever_the_rounding():
    rec = _turner(turn_steps=100)
    for change_deg in (45.0 - 1e-4, 45.0 + 1e-4):
        yaw = np.where(np.arange(300) >= 100, np.radians(change_deg), 0.0)
        assert summarize(SteeringRecord(**{**rec.__dict__, "target_yaw": yaw}))["turns"] == 1


# -- the strict criterion: facing, standing, turns held -----------------------------------------


@pytest.mark.parametrize("facing_deg", [180.0, 90.0, -90.0])
def test_walking_backwards_or_sideways_along_the_command_fails(facing_deg):
    # Moving at the commanded speed in the commanded direction, but with the pelvis turned
    # away: backwards (180) or crabbing sideways (+-90) is not walking where one is told.
    along = np.tile([1.2, 0.0], (200, 1))
    rec = _record(along, 0.0, 1.2, facing=np.radians(facing_deg))
    assert not good_steps(rec).any()
    out = summarize(rec)
    assert out["success_rate"] == 0.0 and out["success_rate_all"] == 0.0
    assert out["heading_error_deg"] == pytest.approx(0.0, abs=1e-9)
    assert out["facing_error_deg"] == pytest.approx(abs(facing_deg))
    # Facing 40 deg off (cos 0.766) still passes; 50 deg (cos 0.643) fails.
    assert good_steps(_record(along, 0.0, 1.2, facing=np.radians(40.0))).all()
    assert not good_steps(_record(along, 0.0, 1.2, facing=np.radians(50.0))).any()


def test_standing_still_passes_only_a_zero_command():
    still = np.zeros((100, 2))
    # 0 m/s is within 0.5 m/s of 0.5 m/s, but a walking command is not met by standing.
    assert summarize(_record(still, 0.0, 0.5))["success_rate"] == 0.0
    assert summarize(_record(still, 0.0, 0.3))["success_rate"] == 0.0
    # A (near) zero command is: however the body faces.
    assert summarize(_record(still, 0.0, 0.0, facing=np.pi))["success_rate"] == 1.0
    assert summarize(_record(still, 0.0, 0.1))["success_rate"] == 1.0
    # Swaying on the spot (0.05 m/s, any direction) is standing too.
    assert summarize(_record(np.tile([0.0, 0.05], (100, 1)), 0.0, 0.5))["success_rate"] == 0.0


def test_a_turn_that_touches_the_heading_and_leaves_it_is_not_finished():
    # The direction sweeps through the new heading (90 deg) in 20 steps and swings on to
    # 150 deg, where it stays: within 20 deg of 90 for ~8 steps, far short of 0.5 s (25).
    rec = _turner(turn_steps=50, final_deg=150.0)
    out = summarize(rec)
    assert out["turns"] == 1 and out["turns_finished"] == 0.0
    assert out["turn_time_s"] == pytest.approx(200 * DT)
    assert out["turn_overshoot_deg"] == pytest.approx(60.0)
    # The same sweep, held at 90 instead: done when it first comes within 20 deg, and the
    # hold is what decides, not the single step.
    held = summarize(_turner(turn_steps=50, final_deg=90.0))
    assert held["turns_finished"] == 1.0
    assert held["turn_time_s"] == pytest.approx(39 * DT)  # 1.8 deg per step: past 70 at 39
    assert held["turn_overshoot_deg"] == pytest.approx(0.0)


def test_a_hold_cut_short_by_the_next_command_does_not_finish_a_turn():
    # Reaches the heading 10 steps before the next command: not held for 0.5 s inside it.
    rec = _turner(turn_steps=100, after=88)
    out = summarize(rec)
    assert out["turns_finished"] == 0.0
    assert out["turn_time_s"] == pytest.approx(88 * DT)


def test_turns_that_never_come_close_have_no_overshoot():
    out = summarize(_turner(turn_steps=None))
    assert out["turns_finished"] == 0.0 and np.isnan(out["turn_overshoot_deg"])


def test_all_steps_view_judges_the_turns_the_settled_view_skips():
    # A turn taking 1.6 s: the settled view skips its first second, the all-steps view counts
    # all of it, so it scores lower, and both stay fall-aware.
    rec = _turner(turn_steps=80)
    out = summarize(rec)
    assert out["success_rate_all"] < out["success_rate"] <= 1.0
    assert out["steps"] == 300 and out["judged_steps"] == 200  # the start is a change too
    fell = np.zeros(300, bool)
    fell[150] = True
    falling = SteeringRecord(**{**rec.__dict__, "fell": fell,
                                "since_change": seconds_since_change(
                                    np.arange(300) == 100, fell, DT)})
    low = summarize(falling)
    assert low["success_rate_all"] < out["success_rate_all"]
    assert low["success_rate"] < out["success_rate"]
    assert low["success_rate_all"] <= low["success_rate"]


def test_random_rollouts_all_steps_never_above_settled_when_turns_lag():
    # Policies that take time after every command change (the way a real one does): the
    # all-steps view can only add the failing transition steps.
    rng = np.random.default_rng(1)
    for _ in range(50):
        lag = int(rng.integers(10, 60))
        rec = _turner(turn_steps=lag, before=int(rng.integers(60, 200)))
        out = summarize(rec)
        assert out["success_rate_all"] <= out["success_rate"] + 1e-12


def test_criterion_names_every_constant_in_one_place():
    c = criterion(1.0)
    assert c["speed_tolerance_mps"] == 0.5 and c["cos_tolerance"] == 0.7
    assert c["facing_cos_tolerance"] == 0.7 and c["turn_hold_seconds"] == 0.5
    assert c["settle_seconds"] == 1.0 and c["zero_command_speed_mps"] == 0.1
