"""The bundled sample walk: human gait built in SMPL terms, feasible, every gait joint moving.

Everything here goes through the path a default training run takes: sample clips -> extract
-> retarget (with its QA) -> cache (`cache.ensure_default_walk_data`)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from skeleton_steering.data import sample, smpl_template
from skeleton_steering.data.cache import ensure_default_walk_data, load_expert_cache
from skeleton_steering.data.feasibility import foot_contacts, touchdowns
from skeleton_steering.data.retarget import RetargetConfig, retarget_clip
from skeleton_steering.skeleton import model

J = smpl_template.JOINT_INDEX


@pytest.fixture(scope="module")
def default_data(tmp_path_factory):
    base = tmp_path_factory.mktemp("sample")
    cache_dir = ensure_default_walk_data(base)
    qa = json.loads((base / "expert_data" / "kit_expert_traj_qa.json").read_text())
    return load_expert_cache(cache_dir), qa


@pytest.fixture(scope="module")
def medium():
    """The 1.2 m/s walk at 100 Hz, and its retargeting."""
    clip = sample.generate_motion(sample.MOTIONS[1], rate=100.0, seed=4)
    return clip, retarget_clip(clip.as_amass(), RetargetConfig(frequency=100.0))


def test_every_discriminator_feature_varies(default_data):
    cache, _ = default_data
    std = cache.disc_obs.std(axis=0)
    # Feature 2, the sideways component of the pelvis's forward axis in the heading frame, is
    # zero by the definition of the heading; every other feature moves in walking.
    still = np.flatnonzero(std < 1e-3)
    assert still.tolist() == [2], f"features {still.tolist()} do not move (std {std[still]})"
    hinge = std[13:40]  # joint positions
    degrees = dict(zip(model.HINGE_JOINTS, np.rad2deg(hinge), strict=True))
    assert min(degrees.values()) > 0.5, degrees


def test_every_clip_is_kept_and_physically_feasible(default_data):
    _, qa = default_data
    assert qa["summary"]["kept"] == qa["summary"]["clips"] == 10
    for row in qa["clips"]:
        assert row["com_acc_p95_g"] < 0.35, row["path"]
        assert row["friction_demand_p95"] < 0.4, row["path"]
        assert row["root_speed_variation"] < 0.2, row["path"]
        assert row["strides"] >= 3, row["path"]
        assert row["penetration_max_cm"] < 1.0 and row["clipped_share"] == 0.0, row["path"]


def test_clips_walk_at_their_target_speed_on_the_skeleton(default_data):
    cache, qa = default_data
    traj = cache.traj
    specs = {s.motion: s for s in sample.MOTIONS}
    for i, row in enumerate(qa["clips"]):
        spec = specs[row["path"].split("/")[-1].removesuffix("_poses.npz")]
        xy = traj.qpos[traj.clip_slice(i), :2]
        stride = round(traj.frequency / sample.gait.stride_frequency(spec.speed))
        speed = np.linalg.norm(xy[stride:] - xy[:-stride], axis=1).mean() * traj.frequency / stride
        chord = 1.0 if spec.turn_deg == 0 else 0.97  # a stride's chord is shorter in a turn
        assert speed == pytest.approx(spec.speed * chord, rel=0.08), row["path"]


def test_stance_feet_stay_planted_in_the_source(medium):
    clip, _ = medium
    joints = smpl_template.posed_joints_rotvec(clip.root_orient, clip.body_pose, clip.trans)
    for name in ("l_foot", "r_foot"):
        toe = joints[:, J[name]]
        # Foot flat: the toe base at its lowest (heel rocker and push-off lift it).
        low = (toe[:-1, 2] < toe[:, 2].min() + 1e-4) & (toe[1:, 2] < toe[:, 2].min() + 1e-4)
        speed = np.linalg.norm(np.diff(toe[:, :2], axis=0), axis=1) * clip.rate
        assert low.mean() > 0.2  # on the floor for a good part of the cycle ...
        assert speed[low].max() < 0.005  # ... and not sliding while there (m/s)


def _source_knee_flexion(clip) -> np.ndarray:
    joints = smpl_template.posed_joints_rotvec(clip.root_orient, clip.body_pose)
    thigh = joints[:, J["r_knee"]] - joints[:, J["r_hip"]]
    shank = joints[:, J["r_ankle"]] - joints[:, J["r_knee"]]
    cos = np.sum(thigh * shank, 1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shank, axis=1)
    return np.rad2deg(np.arccos(np.clip(cos, -1, 1)))


def test_gait_survives_retargeting_with_human_ranges(medium):
    clip, result = medium
    q = result.qpos
    deg = {n: np.rad2deg(q[:, 7 + i]) for i, n in enumerate(model.HINGE_JOINTS)}
    # The knee the skeleton gets is the source's thigh-shank angle.
    knee = -deg["knee_angle_r"]
    assert np.sqrt(np.mean((knee - _source_knee_flexion(clip)) ** 2)) < 5.0
    # Per stride (right touchdown to the next), ranges of normal walking at 1.2 m/s.
    contact = foot_contacts(model.load_mj_model(), q, 0.03)[:, 0]
    td = touchdowns(contact)
    strides = [(a, b) for a, b in itertools.pairwise(td) if b - a > 60]
    assert len(strides) >= 4
    cadence = 120.0 * clip.rate / np.median([b - a for a, b in strides])
    assert 95 < cadence < 120  # steps per minute
    for a, b in strides:
        window = {n: v[a:b] for n, v in deg.items()}
        assert 50 < -window["knee_angle_r"].min() < 70  # swing peak
        assert -window["knee_angle_r"].max() < 12  # nearly straight at heel strike
        assert 45 < np.ptp(window["hip_flexion_r"]) < 70
        assert 15 < np.ptp(window["ankle_angle_r"]) < 40
        assert 4 < np.ptp(window["hip_adduction_r"]) < 25
        assert 4 < np.ptp(window["hip_rotation_r"]) < 30
        assert 15 < np.ptp(window["arm_flex_r"]) < 45
        assert 10 < np.ptp(window["elbow_flex_r"]) < 35
        for name in ("pro_sup_r", "wrist_flex_r", "wrist_dev_r", "arm_rot_r", "arm_add_r",
                     "lumbar_rotation", "lumbar_bending", "lumbar_extension"):
            assert np.ptp(window[name]) > 1.0, name
