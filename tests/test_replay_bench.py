"""The PD replay bench measures what it says: holding a stand keeps the skeleton up, tracking
a collapse does not, and a demo's first frame is where the replay starts."""

from __future__ import annotations

import json

import numpy as np

from skeleton_steering.bench.replay_bench import main, replay_survival
from skeleton_steering.skeleton import model


def _standing(frames: int) -> tuple[np.ndarray, np.ndarray]:
    qpos = np.repeat(model.standing_qpos()[None].astype(np.float64), frames, axis=0)
    return qpos, np.zeros((frames, 33))


def test_standing_is_held_and_a_collapse_falls():
    qpos, qvel = _standing(101)
    assert replay_survival(qpos, qvel, 50.0) == {"up_s": 2.0, "duration_s": 2.0, "fell": False}
    crouch = qpos.copy()
    for knee in ("knee_angle_r", "knee_angle_l"):
        crouch[1:, 7 + model.HINGE_JOINTS.index(knee)] = -2.0  # knees folded at once
    fell = replay_survival(crouch, qvel, 50.0)
    assert fell["fell"] and fell["up_s"] < 1.0


def test_command_reports_every_demo_and_rejects_unknown_motions(capsys):
    assert main(["--sample", "walking_medium01"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = summary["demos"]["sample walking_medium01"]
    assert 0.0 < row["up_s"] <= row["duration_s"] == 6.0
    assert summary["machine"]["cpu_cores"] >= 1
    assert main(["--sample", "moonwalk"]) == 2
    assert "unknown motion 'moonwalk'" in capsys.readouterr().err
