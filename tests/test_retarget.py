"""Retargeting: SMPL rest pose and conventions, arms overhead, QA, limits, manifests."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skeleton_steering.data import resample
from skeleton_steering.data.amass import AmassClip, write_clip
from skeleton_steering.data.retarget import (
    RetargetConfig,
    RetargetError,
    qa_failures,
    retarget_clip,
    retarget_manifest,
)
from skeleton_steering.data.sample import MOTIONS, generate_motion
from skeleton_steering.data.smpl_mapping import SMPL_BODY_JOINTS, smpl_rotvec_to_skeleton
from skeleton_steering.skeleton import model


def _clip(g, rate, path="gen") -> AmassClip:
    return AmassClip(path, g.root_orient, g.body_pose, g.trans, rate, "male", np.zeros(16),
                     "SMPL-H")


def _reference(g, rate: float, out_rate: float = 50.0) -> np.ndarray:
    """Ground-truth qpos at the output rate (linear / SLERP in between source frames)."""
    return resample.resample_qpos(g.qpos, rate, out_rate)


def test_template_rest_pose_differences_are_taken_out():
    """SMPL's rest pose is not our zero pose: its flexed knees, toe-out, abducted thighs and
    T-pose arms must come out as such in our angles, not be lost."""
    from skeleton_steering.data.pose_fit import fit_pose
    from skeleton_steering.data.smpl_template import REST_FACTS

    root = Rotation.from_euler("x", [[90.0]], degrees=True)  # Y-up -> Z-up, facing -Y
    fit = fit_pose(root, [root] + [Rotation.identity(1)] * 21)
    a = dict(zip(model.HINGE_JOINTS, np.rad2deg(fit.angles[0]), strict=True))
    for side in ("l", "r"):
        assert -a[f"knee_angle_{side}"] == pytest.approx(REST_FACTS[f"knee_flexion_{side}"],
                                                         abs=0.5)
        assert -a[f"hip_adduction_{side}"] == pytest.approx(
            REST_FACTS[f"thigh_abduction_{side}"], abs=0.5)
        # T-pose: the template's upper arms sit a few degrees below and behind horizontal.
        assert a[f"arm_add_{side}"] == pytest.approx(-87.0, abs=5.0)
    qpos = np.zeros((1, 34))
    qpos[0, 3:7] = fit.root_quat[0]
    qpos[0, 7:] = fit.angles[0]
    m = model.load_mj_model()
    d = mujoco.MjData(m)
    d.qpos[:] = qpos[0]
    mujoco.mj_kinematics(m, d)
    pelvis_fwd = d.xmat[m.body("pelvis").id].reshape(3, 3)[:, 0]
    for side, sign in (("l", 1.0), ("r", -1.0)):
        fwd = d.xmat[m.body(f"foot_{side}").id].reshape(3, 3)[:, 0]
        toe_out = np.rad2deg(np.arctan2(sign * np.cross(pelvis_fwd, fwd)[2],
                                        np.dot(pelvis_fwd, fwd)))
        assert toe_out == pytest.approx(REST_FACTS[f"toe_out_{side}"], abs=1.5)


def test_arms_overhead_come_out_overhead():
    """Arms raised sideways past the horizontal (jumping jacks) keep their direction instead
    of being clipped into another pose."""
    from skeleton_steering.data.pose_fit import fit_pose
    from skeleton_steering.data.smpl_template import JOINT_INDEX, posed_joints

    root = Rotation.from_euler("x", np.full((4, 1), 90.0), degrees=True)
    local = [root] + [Rotation.identity(4) for _ in range(21)]
    lift = np.array([-30.0, 30.0, 60.0, 75.0])  # from the T-pose, about SMPL's forward axis
    local[JOINT_INDEX["l_shoulder"]] = Rotation.from_euler("z", lift[:, None], degrees=True)
    local[JOINT_INDEX["r_shoulder"]] = Rotation.from_euler("z", -lift[:, None], degrees=True)
    fit = fit_pose(root, local)
    joints = posed_joints(root, local)
    m = model.load_mj_model()
    d = mujoco.MjData(m)
    for t in range(4):
        d.qpos[3:7] = fit.root_quat[t]
        d.qpos[7:] = fit.angles[t]
        mujoco.mj_kinematics(m, d)
        for side in ("l", "r"):
            ours = d.xpos[m.body(f"forearm_{side}").id] - d.xpos[m.body(f"humerus_{side}").id]
            j = joints[t]
            src = j[JOINT_INDEX[f"{side}_elbow"]] - j[JOINT_INDEX[f"{side}_shoulder"]]
            cos = np.dot(ours, src) / np.linalg.norm(ours) / np.linalg.norm(src)
            assert np.rad2deg(np.arccos(min(cos, 1.0))) < 2.0, (t, side)
    assert not fit.clipped.any()


def test_smpl_conventions_map_to_opensim_hinges():
    """Hand-made SMPL poses: knee flexion, hip flexion, T-pose arms, Z-up root."""
    names = {n: i - 1 for i, n in enumerate(SMPL_BODY_JOINTS)}
    body = np.zeros((1, 21, 3))
    body[0, names["l_knee"]] = [0.5, 0.0, 0.0]  # SMPL knee flexion: +X (body's left axis)
    body[0, names["r_hip"]] = [-0.4, 0.0, 0.0]  # SMPL hip flexion: -X
    # In the T-pose the left forearm flexes forward (+Z) by turning about -Y (down).
    body[0, names["l_elbow"]] = [0.0, -0.7, 0.0]
    root = Rotation.from_euler("x", 90, degrees=True).as_rotvec()[None]  # Y-up -> Z-up
    quat, angles = smpl_rotvec_to_skeleton(root, body)
    a = dict(zip(model.HINGE_JOINTS, angles[0], strict=True))
    assert a["knee_angle_l"] == pytest.approx(-0.5)  # negative = flexion in the model
    assert a["hip_flexion_r"] == pytest.approx(0.4)
    assert a["arm_add_r"] == pytest.approx(-np.pi / 2)  # T-pose = 90 degrees abduction
    assert a["arm_add_l"] == pytest.approx(-np.pi / 2)
    assert a["elbow_flex_l"] == pytest.approx(0.7)
    others = [k for k in a if k not in {"knee_angle_l", "hip_flexion_r", "arm_add_r",
                                        "arm_add_l", "elbow_flex_l"}]
    assert np.abs([a[k] for k in others]).max() < 1e-9
    pelvis = Rotation.from_quat(quat[0], scalar_first=True)
    np.testing.assert_allclose(pelvis.apply([0, 0, 1]), [0, 0, 1], atol=1e-9)  # upright
    np.testing.assert_allclose(pelvis.apply([1, 0, 0]), [0, -1, 0], atol=1e-9)  # faces -Y


def test_velocities_agree_with_positions():
    """qvel is the central difference of qpos: integrating frame t-1 with qvel[t] for two
    steps lands on frame t+1 (exactly for hinges and root position)."""
    g = generate_motion(MOTIONS[2], rate=100.0, seed=1)
    res = retarget_clip(_clip(g, 100.0))
    m = model.load_mj_model()
    dt = 1.0 / 50.0
    for t in range(1, res.qpos.shape[0] - 1, 5):
        q = res.qpos[t - 1].copy()
        mujoco.mj_integratePos(m, q, res.qvel[t], 2 * dt)
        np.testing.assert_allclose(q[7:], res.qpos[t + 1, 7:], atol=1e-9)
        np.testing.assert_allclose(q[:3], res.qpos[t + 1, :3], atol=1e-9)
        dot = abs(float(np.dot(q[3:7], res.qpos[t + 1, 3:7])))
        assert np.rad2deg(2 * np.arccos(min(dot, 1.0))) < 0.5


def test_bundled_sample_qa_feet_on_floor_and_joints_in_range(tmp_path):
    from skeleton_steering.data.kit_extract import extract
    from skeleton_steering.data.sample import write_sample_kit

    write_sample_kit(tmp_path / "kit", seed=0)
    extract(tmp_path / "kit", tmp_path / "subset")
    report = retarget_manifest(tmp_path / "subset" / "manifest.json", tmp_path / "traj.npz")
    # Whatever the feasibility QA drops (a sample whose root path no body on a floor could
    # produce) it drops for that reason alone: retargeting itself keeps the feet right.
    assert report["summary"]["kept"] >= 1
    for row in report["clips"]:
        if not row["kept"]:
            assert "friction demand" in row["reason"] or "COM" in row["reason"], row["reason"]
        assert row["penetration_max_cm"] < 1.0
        assert row["clipped_share"] == 0.0
        assert row["skating_mean_cm_s"] < 10.0
    assert (tmp_path / "traj_qa.json").is_file()
    from skeleton_steering.data.trajectory import load_trajectory

    traj = load_trajectory(tmp_path / "traj.npz")
    m = model.load_mj_model()
    lo, hi = m.jnt_range[1:, 0], m.jnt_range[1:, 1]
    assert ((traj.qpos[:, 7:] >= lo - 1e-6) & (traj.qpos[:, 7:] <= hi + 1e-6)).all()
    assert traj.n_clips == report["summary"]["kept"] and traj.frequency == 50.0


def test_joint_limits_are_clipped_and_counted():
    g = generate_motion(MOTIONS[1], rate=100.0, seed=0)
    body = g.body_pose.copy()
    hip = SMPL_BODY_JOINTS.index("r_hip") - 1
    body[:, hip] = [-2.5, 0.0, 0.0]  # hip flexion of 143 degrees: beyond the 120 allowed
    clip = AmassClip("x", g.root_orient, body, g.trans, 100.0, "male", np.zeros(16), "SMPL-H")
    res = retarget_clip(clip)
    i = model.HINGE_JOINTS.index("hip_flexion_r")
    assert res.qpos[:, 7 + i].max() == pytest.approx(2.094)
    assert res.qa["clipped_joints"]["hip_flexion_r"] == res.qpos.shape[0]
    assert res.qa["clipped_share"] >= 1 / 27
    assert not any("clipped" in r for r in qa_failures(res.qa, RetargetConfig()))
    assert any("clipped" in r for r in qa_failures(res.qa, RetargetConfig(max_clipped_share=0.01)))


def test_knee_hyperextension_is_eased_back_and_counted():
    g = generate_motion(MOTIONS[1], rate=100.0, seed=0)
    body = g.body_pose.copy()
    knee = SMPL_BODY_JOINTS.index("r_knee") - 1
    body[:, knee] = [-1.0, 0.0, 0.0]  # hyperextension by 57 degrees
    clip = AmassClip("x", g.root_orient, body, g.trans, 100.0, "male", np.zeros(16), "SMPL-H")
    res = retarget_clip(clip)
    knee_r = np.rad2deg(res.qpos[:, 7 + model.HINGE_JOINTS.index("knee_angle_r")])
    # Our knee angle is negative in flexion: +3 degrees = 3 degrees of hyperextension.
    assert knee_r.max() == pytest.approx(3.0, abs=0.5)
    assert res.qa["clipped_joints"]["knee_angle_r"] == res.qpos.shape[0]


def test_manifest_run_survives_bad_clips_and_reports_them(tmp_path):
    g = generate_motion(MOTIONS[0], rate=100.0, seed=0)
    write_clip(tmp_path / "good.npz", g.root_orient, g.body_pose, g.trans, 100.0)
    write_clip(tmp_path / "crouch.npz", g.root_orient, g.body_pose, g.trans * [1, 1, 0.1], 100)
    np.savez(tmp_path / "broken.npz", poses=np.zeros((5, 156)))
    manifest = {"clips": [{"path": p} for p in ("good.npz", "broken.npz", "gone.npz",
                                                 "crouch.npz")]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    report = retarget_manifest(tmp_path / "manifest.json", tmp_path / "out" / "t.npz")
    rows = {r["path"]: r for r in report["clips"]}
    assert rows["good.npz"]["kept"]
    assert "field 'trans'" in rows["broken.npz"]["reason"]
    assert "not found" in rows["gone.npz"]["reason"]
    assert not rows["crouch.npz"]["kept"] and "pelvis height" in rows["crouch.npz"]["reason"]
    saved = json.loads((tmp_path / "out" / "t_qa.json").read_text())
    assert saved["summary"]["kept"] == 1


def test_no_kept_clip_is_an_error_after_writing_the_report(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": [{"path": "gone.npz"}]}))
    with pytest.raises(RetargetError, match=r"no clip passed.*1 of 1 clip files not found"):
        retarget_manifest(tmp_path / "manifest.json", tmp_path / "t.npz")
    assert (tmp_path / "t_qa.failed.json").is_file()
    assert not (tmp_path / "t.npz").exists() and not (tmp_path / "t_qa.json").exists()


def _time_warped(g, amplitude: float, period: float) -> AmassClip:
    """`g` replayed at a speed that swings by +-`amplitude` over `period` seconds: a person
    slowing down and speeding up again, with every pose one the clip holds."""
    duration = (g.trans.shape[0] - 1) / g.rate
    t = np.arange(0.0, 2 * duration, 1.0 / g.rate)
    u = t - amplitude * period / (2 * np.pi) * np.sin(2 * np.pi * t / period)
    u = u[u <= duration]
    rot = np.concatenate([g.root_orient[:, None], g.body_pose], axis=1)
    quat = Rotation.from_rotvec(rot.reshape(-1, 3)).as_quat().reshape(*rot.shape[:2], 4)
    quat = resample.interp_quat(quat, g.rate, u)
    rotvec = Rotation.from_quat(quat.reshape(-1, 4)).as_rotvec().reshape(len(u), -1, 3)
    trans = resample.interp_linear(g.trans, g.rate, u)
    return AmassClip(
        "slow-fast", rotvec[:, 0], rotvec[:, 1:], trans, g.rate, "male", np.zeros(16), "SMPL-H"
    )


@pytest.fixture(scope="module")
def slow_fast_qa() -> dict:
    g = generate_motion(MOTIONS[1], rate=100.0, seed=0)
    return retarget_clip(_time_warped(g, amplitude=0.6, period=3.0)).qa


def test_a_walk_that_changes_speed_is_kept(slow_fast_qa):
    # Its pelvis speed varies by over 60 % within a stride (what starting, stopping and
    # turning look like), and the feet, joints and forces are those of a walk.
    assert slow_fast_qa["root_speed_variation"] > 0.6
    assert qa_failures(slow_fast_qa, RetargetConfig()) == []


@pytest.mark.parametrize(
    ("threshold", "metric", "words"),
    [
        ("max_penetration_cm", "penetration_max_cm", "penetration"),
        ("max_skating_cm_s", "skating_mean_cm_s", "cm/s >"),
        ("max_added_skating_cm_s", "skating_added_cm_s", "over the source's"),
        ("max_clipped_share", "clipped_share", "clipped"),
        ("max_com_acc_g", "com_acc_p95_g", "COM horizontal acceleration"),
        ("max_friction_demand", "friction_demand_p95", "friction demand"),
        ("root_height_range", "root_height_max_m", "root height"),
    ],
)
def test_each_qa_threshold_drops_a_clip_over_it(slow_fast_qa, threshold, metric, words):
    config = RetargetConfig()
    limit = getattr(config, threshold)
    limit = limit[1] if isinstance(limit, tuple) else limit
    reasons = qa_failures({**slow_fast_qa, metric: limit * 1.01 + 0.01}, config)
    assert len(reasons) == 1 and words in reasons[0], reasons


def test_every_retarget_setting_is_in_the_workflow_config_and_schema_with_its_default():
    import dataclasses
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    defaults = {
        f.name: list(v) if isinstance(v := getattr(RetargetConfig(), f.name), tuple) else v
        for f in dataclasses.fields(RetargetConfig)
    }
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["retarget"]["properties"]
    assert {k: v["default"] for k, v in section.items()} == defaults
    assert all(v.get("description") for v in section.values()), "every setting described"
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    assert config["retarget"] == defaults
