"""The skeleton model: names, gears, masses, and a stable passive drop in MJX."""

from __future__ import annotations

import jax
import jax.numpy as jp
import mujoco
import numpy as np
from mujoco import mjx

from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.skeleton import model

EXPECTED_HINGES = [
    "hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
    "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l",
    "lumbar_extension", "lumbar_bending", "lumbar_rotation",
    "arm_flex_r", "arm_add_r", "arm_rot_r", "elbow_flex_r", "pro_sup_r", "wrist_flex_r",
    "wrist_dev_r",
    "arm_flex_l", "arm_add_l", "arm_rot_l", "elbow_flex_l", "pro_sup_l", "wrist_flex_l",
    "wrist_dev_l",
]  # fmt: skip


def test_model_compiles_for_mujoco_and_mjx():
    m = model.load_mj_model()
    assert (m.nq, m.nv, m.nu) == (34, 33, 27)
    mx = mjx.put_model(m)
    assert mx.nq == 34


def test_joint_and_actuator_names_in_locomujoco_order():
    m = model.load_mj_model()
    joints = [m.joint(i).name for i in range(m.njnt)]
    assert joints == ["root", *EXPECTED_HINGES]
    assert m.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert all(m.jnt_type[1:] == mujoco.mjtJoint.mjJNT_HINGE)
    actuators = [m.actuator(i).name for i in range(m.nu)]
    assert actuators == EXPECTED_HINGES
    for i, name in enumerate(actuators):
        assert m.actuator_trnid[i, 0] == m.joint(name).id
        assert m.actuator_gear[i, 0] == model.JOINT_GEARS[name]
        np.testing.assert_allclose(m.actuator_ctrlrange[i], [-1.0, 1.0])


def test_ranges_match_reference_table():
    """LocoMuJoCo's ranges, except three widened for real motion (reasons in the MJCF)."""
    m = model.load_mj_model()
    expected = {
        # Widened: running and high-knee poses flex the hip to 55.6 deg; arms overhead need
        # abduction past 120 deg and more arm rotation.
        "hip_flexion_r": (-0.787, 2.094), "arm_add_l": (-3.1, 1.571), "arm_rot_r": (-2.094, 2.094),
        "hip_adduction_l": (-0.524, 0.524),
        "hip_rotation_r": (-2.094, 2.094), "knee_angle_l": (-2.094, 0.175),
        "ankle_angle_r": (-1.571, 1.571), "ankle_angle_l": (-1.047, 1.047),
        "lumbar_extension": (-1.571, 0.377), "lumbar_bending": (-0.754, 0.754),
        "lumbar_rotation": (-0.754, 0.754), "arm_add_r": (-3.1, 1.571),
        "elbow_flex_l": (-0.3, 2.618), "pro_sup_r": (-0.6, 1.571),
        "wrist_flex_l": (-1.222, 1.222), "wrist_dev_r": (-0.436, 0.611),
    }  # fmt: skip
    for name, rng in expected.items():
        np.testing.assert_allclose(m.jnt_range[m.joint(name).id], rng, err_msg=name)


def test_total_mass_and_height():
    m = model.load_mj_model()
    total = float(m.body_subtreemass[0])
    assert 70.0 <= total <= 90.0
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    idx = model.default_index()
    head_top = d.site_xpos[idx.site["head"], 2] + 0.10
    assert 1.65 <= head_top <= 1.85
    for foot in ("foot_r", "foot_l"):
        assert abs(d.site_xpos[idx.site[foot], 2]) < 1e-3, "feet rest on the floor at zero pose"


def test_only_explicit_floor_pairs_collide():
    m = model.load_mj_model()
    assert (m.geom_contype == 0).all() and (m.geom_conaffinity == 0).all()
    pairs = {
        frozenset((m.geom(int(a)).name, m.geom(int(b)).name))
        for a, b in zip(m.pair_geom1, m.pair_geom2, strict=True)
    }
    floor_partners = {"foot_r", "foot_l", "pelvis", "chest", "head"}
    assert pairs == {frozenset((name, "floor")) for name in floor_partners}


def test_passive_drop_is_finite_and_energy_bounded():
    """5 s of passive dynamics from standing: no NaN, energy never grows, no sinking."""
    m = model.load_mj_model()
    mx = mjx.put_model(m)
    n_steps = round(5.0 / m.opt.timestep)
    d0 = mjx.make_data(mx).replace(qpos=jp.asarray(model.standing_qpos()))

    @jax.jit
    def drop(d):
        def body(d, _):
            d = mjx.step(mx, d)
            return d, (d.qpos, d.qvel, d.site_xpos)

        return jax.lax.scan(body, d, None, length=n_steps)[1]

    qpos, qvel, sites = jax.device_get(drop(d0))
    assert np.isfinite(qpos).all() and np.isfinite(qvel).all()

    m.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    d = mujoco.MjData(m)
    energies = []
    for t in range(0, n_steps, 10):
        d.qpos[:], d.qvel[:] = qpos[t], qvel[t]
        mujoco.mj_forward(m, d)
        energies.append(d.energy.sum())
    d.qpos[:], d.qvel[:] = model.standing_qpos(), 0.0
    mujoco.mj_forward(m, d)
    e0 = d.energy.sum()
    # Passive damping only removes energy; allow 1% for soft-contact and integration error.
    assert max(energies) <= e0 + 0.01 * abs(e0)

    idx = model.default_index()
    foot_z = np.minimum(sites[:, idx.site["foot_r"], 2], sites[:, idx.site["foot_l"], 2])
    pelvis_z = sites[:, idx.site["pelvis"], 2]
    upright = pelvis_z > EnvConfig().termination.pelvis_min_height
    fall_step = int(np.argmin(upright)) if not upright.all() else len(upright)
    # While an episode would still be running, the feet stay within 2 cm of the floor; the
    # knee-buckling impact after that may press them in further, but nothing sinks through.
    assert foot_z[:fall_step].min() > -0.02
    assert foot_z.min() > -0.06
    assert pelvis_z.min() > 0.05 and sites[:, idx.site["head"], 2].min() > 0.05
