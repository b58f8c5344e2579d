"""Feasibility measures and the SMPL template they and the retargeting rely on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skeleton_steering.data import feasibility as fz
from skeleton_steering.data import smpl_template as st
from skeleton_steering.skeleton import model

RATE = 50.0


def _walk(speed: np.ndarray) -> np.ndarray:
    """Standing pose carried along +X with the given speed profile (T,)."""
    qpos = np.tile(model.standing_qpos().astype(float), (len(speed), 1))
    qpos[:, 0] = np.concatenate([[0.0], np.cumsum(speed[1:]) / RATE])
    return qpos


def test_steady_motion_needs_no_force():
    m = model.load_mj_model()
    qa = fz.feasibility_qa(m, _walk(np.full(200, 1.2)), RATE)
    assert qa["com_acc_p95_g"] < 1e-3 and qa["friction_demand_p95"] < 1e-3
    assert qa["root_speed_variation"] < 0.01 and qa["strides"] > 0


def test_speed_swings_give_the_acceleration_and_variation_they_imply():
    m = model.load_mj_model()
    t = np.arange(300) / RATE
    amplitude, freq = 0.2, 1.0 / 1.1  # +-20 % once per gait period
    mean = 0.4  # slow enough that the feet, carried along flat, count as planted
    qa = fz.feasibility_qa(m, _walk(mean * (1 + amplitude * np.sin(2 * np.pi * freq * t))), RATE)
    peak = mean * amplitude * 2 * np.pi * freq / fz.GRAVITY  # in g
    assert qa["com_acc_p95_g"] == pytest.approx(peak, rel=0.1)
    # Both feet flat on the floor and no vertical motion: the demand is the acceleration / g.
    assert qa["supported_share"] == 1.0
    assert qa["friction_demand_p95"] == pytest.approx(peak, rel=0.1)
    assert qa["root_speed_variation"] == pytest.approx(amplitude, abs=0.03)


def test_friction_demand_divides_by_the_vertical_reaction_and_skips_flight():
    acc = np.array([[2.0, 0.0, 0.0], [2.0, 0.0, -fz.GRAVITY / 2], [5.0, 0.0, -fz.GRAVITY]])
    demand = fz.friction_demand(acc, np.array([True, True, True]))
    np.testing.assert_allclose(demand, [2.0 / fz.GRAVITY, 4.0 / fz.GRAVITY])  # 3rd: free fall
    assert fz.friction_demand(acc, np.zeros(3, dtype=bool)).size == 0


def test_touchdowns_and_strides_come_from_contacts():
    contact = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    np.testing.assert_array_equal(fz.touchdowns(contact), [1, 5, 9])


def test_template_rest_pose_facts():
    facts = st.REST_FACTS
    for side in ("l", "r"):
        assert 4.0 < facts[f"knee_flexion_{side}"] < 7.0
        assert 10.0 < facts[f"toe_out_{side}"] < 14.0
        assert 4.0 < facts[f"thigh_abduction_{side}"] < 7.0
    assert 10.0 < facts["spine_lean_back"] < 17.0
    # Left is +X in SMPL's frame, the feet are lowest, the head highest.
    j = st.TEMPLATE_JOINTS
    assert j[st.JOINT_INDEX["l_hip"], 0] > 0 > j[st.JOINT_INDEX["r_hip"], 0]
    assert j[:, 1].argmax() == st.JOINT_INDEX["head"]


def test_posed_joints_at_rest_are_the_template_turned_into_the_world():
    root = Rotation.from_euler("x", [[90.0]], degrees=True)  # AMASS: Y-up body -> Z-up world
    trans = np.array([[1.0, 2.0, 0.0]])
    pos = st.posed_joints(root, [root] + [Rotation.identity(1)] * 21, trans)
    expect = trans + st.PELVIS_REST + root.apply(st.TEMPLATE_JOINTS - st.TEMPLATE_JOINTS[0])
    np.testing.assert_allclose(pos[0], expect, atol=1e-12)
    # Bending the left knee moves the left ankle only (and the toes with it), backwards.
    local = [root] + [Rotation.identity(1)] * 21
    local[st.JOINT_INDEX["l_knee"]] = Rotation.from_rotvec([[np.pi / 2, 0.0, 0.0]])
    bent = st.posed_joints(root, local, trans)[0]
    moved = np.flatnonzero(np.abs(bent - pos[0]).max(axis=1) > 1e-9)
    assert set(moved) == {st.JOINT_INDEX["l_ankle"], st.JOINT_INDEX["l_foot"]}
    facing = root.apply([0.0, 0.0, 1.0])[0]  # SMPL's forward (+Z) in the world
    step = bent[st.JOINT_INDEX["l_ankle"]] - pos[0][st.JOINT_INDEX["l_ankle"]]
    assert np.dot(step, facing) < -0.3
