"""Training straight from a trajectory file (`data.trajectory`): the run directory gets the
expert caches, reused while nothing changed, rebuilt when the file or the feature settings do."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console
from scipy.spatial.transform import Rotation

from skeleton_steering import cli
from skeleton_steering.config import ConfigError
from skeleton_steering.data.cache import DISC_NAME, TRAJ_NAME, CacheSettings, load_expert_cache
from skeleton_steering.data.trajectory import Trajectory, load_trajectory, save_trajectory
from skeleton_steering.learn import expert_source, train_config
from skeleton_steering.skeleton import model

RATE = 50.0
AT_50_HZ = CacheSettings(frequency=50.0)  # what train builds at the default control rate


def _walkish(frames: int, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """A short clip: the standing pose moving forward with swinging hips and knees."""
    t = np.arange(frames) / RATE
    qpos = np.repeat(model.standing_qpos()[None].astype(np.float64), frames, axis=0)
    qpos[:, 0] = 1.0 * t
    for name, amp in (("hip_flexion_r", 0.3), ("hip_flexion_l", -0.3), ("knee_angle_r", -0.2)):
        qpos[:, 7 + model.HINGE_JOINTS.index(name)] += amp * np.sin(2 * np.pi * t + phase)
    qvel = np.zeros((frames, 33))
    qvel[:, 0] = 1.0
    qvel[:, 6:] = np.gradient(qpos[:, 7:], 1.0 / RATE, axis=0)
    return qpos, qvel


def _write(path, shift: float = 0.0) -> Trajectory:
    clips = [_walkish(20, 0.0), _walkish(15, 1.0)]
    qpos = np.concatenate([c[0] for c in clips])
    qpos[:, 7:] += shift
    traj = Trajectory(qpos=qpos, qvel=np.concatenate([c[1] for c in clips]),
                      split_points=np.array([0, 20, 35]), frequency=RATE)
    save_trajectory(traj, path)
    return traj


def _config(trajectory, **overrides) -> train_config.TrainConfig:
    data = {"data": {"trajectory": str(trajectory)}, **overrides}
    return train_config.from_mapping(data, source="test")


def _mtimes(run_dir) -> tuple[int, int]:
    return tuple((run_dir / name).stat().st_mtime_ns for name in (TRAJ_NAME, DISC_NAME))


def test_trajectory_is_cached_in_the_run_dir_and_reused(tmp_path):
    traj = _write(tmp_path / "walk.npz")
    run_dir = tmp_path / "run"
    quiet = Console(quiet=True)
    expert = expert_source.resolve_expert(_config(tmp_path / "walk.npz"), run_dir, quiet)
    # The demo is this trajectory: its frames for start states, its in-clip pairs for the
    # discriminator (19 + 14 pairs, none across the clip boundary).
    np.testing.assert_allclose(expert.qpos, traj.qpos, atol=1e-5)
    assert expert.disc_pairs.shape == (33, 164)
    cache = load_expert_cache(run_dir, tmp_path / "walk.npz", AT_50_HZ)
    np.testing.assert_allclose(expert.disc_pairs[:, :82], cache.disc_obs)
    first = _mtimes(run_dir)
    expert_source.resolve_expert(_config(tmp_path / "walk.npz"), run_dir, quiet)
    assert _mtimes(run_dir) == first  # up to date: not rebuilt


def test_cache_is_rebuilt_when_the_trajectory_or_the_control_rate_changes(tmp_path):
    path = tmp_path / "walk.npz"
    _write(path)
    run_dir = tmp_path / "run"
    quiet = Console(quiet=True)
    before = expert_source.resolve_expert(_config(path), run_dir, quiet)
    _write(path, shift=0.05)  # same name, new content
    after = expert_source.resolve_expert(_config(path), run_dir, quiet)
    np.testing.assert_allclose(after.qpos[:, 7:] - before.qpos[:, 7:], 0.05, atol=1e-5)
    load_expert_cache(run_dir, path, AT_50_HZ)  # the cache on disk is the new file's
    # A different control rate (2 substeps: 75 Hz) changes the features' time step.
    faster = _config(path, env={"physics": {"n_substeps": 2}})
    resampled = expert_source.resolve_expert(faster, run_dir, quiet)
    assert load_trajectory(run_dir / TRAJ_NAME).frequency == 75.0
    assert resampled.qpos.shape[0] > after.qpos.shape[0]


def test_a_locomujoco_file_trains_in_our_convention(tmp_path):
    ours = _write(tmp_path / "ours.npz")
    # LocoMuJoCo's layout: pelvis frame Y up (rest quaternion 0.7071, 0.7071, 0, 0), its
    # standing height, its joint order, flat keys, no metadata.
    to_loco = Rotation.from_euler("x", np.pi / 2)
    qpos = ours.qpos.copy()
    qpos[:, 3:7] = (Rotation.from_quat(ours.qpos[:, 3:7], scalar_first=True) * to_loco).as_quat(
        scalar_first=True)
    qpos[:, 2] += 0.975 - model.standing_qpos()[2]
    qvel = ours.qvel.copy()
    np.savez(tmp_path / "loco.npz", qpos=qpos.astype(np.float32), qvel=qvel.astype(np.float32),
             split_points=np.array([0, 20, 35], dtype=np.int32),
             joint_names=np.array(model.JOINT_NAMES), frequency=np.array(RATE))
    expert = expert_source.resolve_expert(_config(tmp_path / "loco.npz"), tmp_path / "run",
                                  Console(quiet=True))
    np.testing.assert_allclose(expert.qpos, ours.qpos, atol=1e-4)
    assert (tmp_path / "run" / DISC_NAME).is_file()
    assert expert.source.startswith(str(tmp_path / "loco.npz"))  # what train.log names


def test_bad_trajectory_settings_fail_clearly(tmp_path, capsys):
    with pytest.raises(ConfigError, match="not both"):
        train_config.from_mapping({"data": {"trajectory": "a.npz", "cache_dir": "c"}}, "test")
    code = cli.main(["train", "--run_dir", str(tmp_path / "run"), "--no_progress",
                     f"data.trajectory={tmp_path / 'missing.npz'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "data.trajectory" in err and "missing.npz" in err
    (tmp_path / "broken.npz").write_bytes(b"not an archive")
    code = cli.main(["train", "--run_dir", str(tmp_path / "run"), "--no_progress",
                     f"data.trajectory={tmp_path / 'broken.npz'}"])
    assert code == 2
    assert "broken.npz" in capsys.readouterr().err
