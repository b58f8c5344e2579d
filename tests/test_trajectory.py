"""The trajectory format: save/load, LocoMuJoCo files, concatenation, resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skeleton_steering.data.trajectory import (
    LOCOMUJOCO_ROOT_REST,
    Trajectory,
    TrajectoryError,
    concatenate,
    from_clips,
    load_trajectory,
    resample,
    save_trajectory,
)
from skeleton_steering.skeleton import model


def _clip(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    qpos = np.tile(model.standing_qpos().astype(np.float64), (frames, 1))
    qpos[:, 0] = np.linspace(0, 1, frames)
    yaw = np.linspace(0, 0.5, frames)
    qpos[:, 3:7] = Rotation.from_euler("z", yaw[:, None]).as_quat(scalar_first=True)
    qpos[:, 7:] = 0.1 * np.sin(np.linspace(0, 3, frames))[:, None] * rng.uniform(-1, 1, 27)
    qvel = rng.normal(0, 0.1, (frames, 33))
    return qpos, qvel


def _traj() -> Trajectory:
    return from_clips([_clip(12, 0), _clip(8, 1)], 50.0, {"clips": ["a", "b"]})


def test_save_load_round_trip_without_pickles(tmp_path):
    traj = _traj()
    path = save_trajectory(traj, tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as archive:  # no member needs unpickling
        assert list(archive.files)[:3] == ["qpos", "qvel", "xpos"]
        assert archive["qpos"].dtype == np.float32
        assert archive["split_points"].dtype == np.int32
        for key in archive.files:
            assert not archive[key].dtype.hasobject
    back = load_trajectory(path)
    np.testing.assert_allclose(back.qpos, traj.qpos, atol=1e-6)
    np.testing.assert_array_equal(back.split_points, [0, 12, 20])
    assert back.frequency == 50.0 and back.joint_names == model.JOINT_NAMES
    assert back.metadata["clips"] == ["a", "b"]
    assert back.n_clips == 2 and list(np.bincount(back.clip_ids())) == [12, 8]


def _locomujoco_file(path, qpos_ours, qvel_ours, order):
    """Write `qpos_ours` the way LocoMuJoCo does: Y-up root rest, height 0.975, its joint
    order, pickled None members."""
    to_loco = Rotation.from_euler("x", np.pi / 2)  # LocoMuJoCo pelvis = ours turned +90 about X
    rot = Rotation.from_quat(qpos_ours[:, 3:7], scalar_first=True) * to_loco
    qpos = qpos_ours.copy()
    qpos[:, 3:7] = rot.as_quat(scalar_first=True)
    qpos[:, 2] -= model.STANDING_ROOT_HEIGHT - 0.975
    qvel = qvel_ours.copy()
    qvel[:, 3:6] = to_loco.inv().apply(qvel_ours[:, 3:6])
    names = ["root", *[model.HINGE_JOINTS[i] for i in order]]
    qpos = np.concatenate([qpos[:, :7], qpos[:, 7:][:, order]], axis=1)
    qvel = np.concatenate([qvel[:, :6], qvel[:, 6:][:, order]], axis=1)
    empty = np.zeros((0,), np.float32)
    np.savez(path, qpos=qpos.astype(np.float32), qvel=qvel.astype(np.float32), xpos=empty,
             xquat=empty, cvel=empty, subtree_com=empty, site_xpos=empty, site_xmat=empty,
             split_points=np.array([0, len(qpos)], np.int32), joint_names=np.array(names),
             frequency=np.array(40.0), body_names=None, site_names=None, metadata=None,
             njnt=np.array(28), jnt_type=np.zeros(28, np.int32))


def test_locomujoco_file_is_converted_to_our_convention(tmp_path):
    qpos, qvel = _clip(10, 3)
    order = np.random.default_rng(0).permutation(27)
    _locomujoco_file(tmp_path / "loco.npz", qpos, qvel, order)
    traj = load_trajectory(tmp_path / "loco.npz")
    assert traj.metadata["converted_from"] == "locomujoco"
    assert set(traj.metadata["skipped_object_fields"]) == {"body_names", "site_names",
                                                          "metadata"}
    np.testing.assert_allclose(traj.qpos[:, 7:], qpos[:, 7:], atol=1e-6)
    np.testing.assert_allclose(traj.qpos[:, :3], qpos[:, :3], atol=1e-6)
    dots = np.abs(np.sum(traj.qpos[:, 3:7] * qpos[:, 3:7], axis=1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-6)
    np.testing.assert_allclose(traj.qvel, qvel, atol=1e-6)
    assert traj.frequency == 40.0


def test_locomujoco_rest_quaternion_is_the_identity_for_us(tmp_path):
    qpos, qvel = _clip(3, 0)
    qpos[:, 3:7] = [1, 0, 0, 0]
    _locomujoco_file(tmp_path / "loco.npz", qpos, qvel, np.arange(27))
    with np.load(tmp_path / "loco.npz", allow_pickle=True) as f:
        np.testing.assert_allclose(f["qpos"][0, 3:7], LOCOMUJOCO_ROOT_REST, atol=1e-6)
    traj = load_trajectory(tmp_path / "loco.npz")
    np.testing.assert_allclose(np.abs(traj.qpos[:, 3]), 1.0, atol=1e-6)


def test_other_skeleton_fails_saying_which_joints_differ(tmp_path):
    qpos, qvel = _clip(4, 0)
    _locomujoco_file(tmp_path / "loco.npz", qpos, qvel, np.arange(27))
    with np.load(tmp_path / "loco.npz", allow_pickle=True) as f:
        fields = {k: f[k] for k in f.files if f[k].dtype != object}
    fields["joint_names"] = np.array([*fields["joint_names"][:-1], "mtp_angle_l"])
    np.savez(tmp_path / "other.npz", **fields)
    with pytest.raises(TrajectoryError, match=r"missing \['wrist_dev_l'\].*\['mtp_angle_l'\]"):
        load_trajectory(tmp_path / "other.npz")


def test_unknown_orientation_convention_fails_clearly(tmp_path):
    qpos, qvel = _clip(6, 0)
    qpos[:, 3:7] = Rotation.from_euler("y", np.pi / 2).as_quat(scalar_first=True)
    np.savez(tmp_path / "odd.npz", qpos=qpos.astype(np.float32), qvel=qvel.astype(np.float32),
             joint_names=np.array(model.JOINT_NAMES), frequency=np.array(50.0),
             split_points=np.array([0, 6]))
    with pytest.raises(TrajectoryError, match="not upright"):
        load_trajectory(tmp_path / "odd.npz")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"qpos": np.zeros((5, 30), np.float32)}, "field 'qpos'"),
        ({"split_points": np.array([0, 3, 3, 10])}, "field 'split_points'"),
        ({"frequency": np.array(-1.0)}, "field 'frequency'"),
        ({"qvel": np.full((10, 33), np.nan, np.float32)}, "NaN"),
        ({"qvel": np.zeros((9, 33), np.float32)}, "frames"),
    ],
)
def test_invalid_files_name_the_field(tmp_path, change, words):
    qpos, qvel = _clip(10, 0)
    fields = {"qpos": qpos.astype(np.float32), "qvel": qvel.astype(np.float32),
              "joint_names": np.array(model.JOINT_NAMES), "frequency": np.array(50.0),
              "split_points": np.array([0, 10])}
    fields.update(change)
    np.savez(tmp_path / "bad.npz", **fields)
    with pytest.raises(TrajectoryError, match=words) as err:
        load_trajectory(tmp_path / "bad.npz")
    assert "bad.npz" in str(err.value)


def test_concatenate_offsets_split_points():
    a, b = _traj(), from_clips([_clip(5, 2)], 50.0)
    both = concatenate([a, b])
    np.testing.assert_array_equal(both.split_points, [0, 12, 20, 25])
    with pytest.raises(TrajectoryError, match="frequencies differ"):
        concatenate([a, from_clips([_clip(5, 2)], 100.0)])


def test_resample_keeps_clips_apart_and_slerps_the_root():
    traj = from_clips([_clip(21, 0), _clip(11, 1)], 100.0)
    half = resample(traj, 50.0)
    np.testing.assert_array_equal(half.split_points, [0, 11, 17])
    np.testing.assert_allclose(half.qpos[:11], traj.qpos[0:21:2], atol=1e-6)
    np.testing.assert_allclose(half.qpos[11:], traj.qpos[21::2], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(half.qpos[:, 3:7], axis=1), 1.0, atol=1e-6)
    # Root yaw rate of clip 0 (0.5 rad over 0.2 s) shows in the body-frame angular velocity.
    np.testing.assert_allclose(half.qvel[:11, 5], 0.5 / 0.2, rtol=1e-3)
