"""PD-target actions: servo torques stay inside the gears, targets map from actions, and the
physics stays finite and calm under random PD actions."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jp
import mujoco
import numpy as np
import pytest

from env_batch import expert_frames
from skeleton_steering.config import ConfigError, from_dict
from skeleton_steering.env import control
from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.env.registry import make_env
from skeleton_steering.skeleton import model
from skeleton_steering.skeleton.physics import PhysicsConfig

# PD with the physics `bench physics` chose for it (zero blow-ups at the smallest cost).
PD = EnvConfig(control=control.ControlConfig(mode="pd"),
               physics=PhysicsConfig(integrator="implicitfast", solver_iterations=4))


def _pd_model(config: control.ControlConfig | None = None) -> mujoco.MjModel:
    cfg = config or control.ControlConfig(mode="pd")
    return control.build_model(cfg, model.PhysicsOptions(integrator="implicitfast"))


def test_servo_force_is_the_pd_law_clipped_to_the_gear():
    m = _pd_model()
    d = mujoco.MjData(m)
    gears = np.array(list(model.JOINT_GEARS.values()))
    gains = control.pd_gains(control.ControlConfig(mode="pd"), model.load_mj_model())
    np.testing.assert_allclose(gains.kp, gears)  # kp_per_gear 1: full torque at 1 rad error
    np.testing.assert_allclose(gains.kd, 0.1 * gears)
    rng = np.random.default_rng(0)
    hinge_q = model.default_index().hinge_qpos
    hinge_v = model.default_index().hinge_qvel
    for _ in range(20):
        d.qpos[:] = model.standing_qpos()
        d.qpos[hinge_q] = rng.uniform(-0.5, 0.5, m.nu)
        d.qvel[hinge_v] = rng.normal(0.0, 5.0, m.nu)
        d.ctrl[:] = rng.uniform(m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
        mujoco.mj_forward(m, d)
        q, v = d.qpos[hinge_q], d.qvel[hinge_v]
        expected = np.clip(gains.kp * (d.ctrl - q) - gains.kd * v, -gears, gears)
        np.testing.assert_allclose(d.actuator_force, expected, rtol=1e-6, atol=1e-6)
        assert (np.abs(d.actuator_force) <= gears + 1e-9).all()
        # Some joints saturate: the gear, not the gain, is the limit.
        assert np.isclose(np.abs(d.actuator_force), gears).any()


def test_servo_damping_as_joint_damping_is_the_same_law_with_only_stiffness_clipped():
    # servo_damping=joint: the servo applies kp (target - q) clipped to the gear, the joint adds
    # -kd qdot on top (unclipped), and Euler integrates that damping implicitly.
    cfg = control.ControlConfig(mode="pd")
    options = model.PhysicsOptions(integrator="euler", implicit_joint_damping=True)
    m = control.build_model(cfg, options)
    base = _pd_model()
    gains = control.pd_gains(cfg, model.load_mj_model())
    dofs = m.jnt_dofadr[m.actuator_trnid[:, 0]]
    np.testing.assert_allclose(m.dof_damping[dofs] - base.dof_damping[dofs], gains.kd)
    assert not m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    assert base.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP  # the MJCF's setting
    d = mujoco.MjData(m)
    hinge_q = model.default_index().hinge_qpos
    hinge_v = model.default_index().hinge_qvel
    rng = np.random.default_rng(1)
    d.qpos[:] = model.standing_qpos()
    d.qpos[hinge_q] = rng.uniform(-0.5, 0.5, m.nu)
    d.qvel[hinge_v] = rng.normal(0.0, 5.0, m.nu)
    d.ctrl[:] = rng.uniform(m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
    mujoco.mj_forward(m, d)
    gears = gains.max_torque
    np.testing.assert_allclose(
        d.actuator_force, np.clip(gains.kp * (d.ctrl - d.qpos[hinge_q]), -gears, gears),
        rtol=1e-6, atol=1e-6)
    total_damping = base.dof_damping[dofs] + gains.kd
    np.testing.assert_allclose(d.qfrc_damper[dofs], -total_damping * d.qvel[hinge_v],
                               rtol=1e-6, atol=1e-6)


def test_joint_damping_servos_hold_a_stiff_wrist_stable_with_euler():
    # A wrist (light segment, stiff servo) pushed fast: with its damping in the servo, Euler's
    # explicit step rings up; as joint damping, Euler's implicit damping settles it.
    cfg = control.ControlConfig(mode="pd")

    def peak_speed(options: model.PhysicsOptions) -> float:
        m = control.build_model(cfg, options)
        m.opt.gravity[:] = 0.0  # the floating body drifts otherwise; the wrist is what matters
        d = mujoco.MjData(m)
        d.qpos[:] = model.standing_qpos()
        wrist = m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "wrist_flex_r")]
        d.qvel[wrist] = 10.0
        peak = 0.0
        for step in range(300):  # 2 s at 150 Hz
            mujoco.mj_step(m, d)
            # Native MuJoCo resets a diverged state (and counts a warning) instead of going NaN.
            if d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number:
                return float("inf")
            if step > 30:  # after the push has been damped out (0.2 s)
                peak = max(peak, float(np.abs(d.qvel[wrist])))
        return peak

    assert peak_speed(model.PhysicsOptions(integrator="euler", implicit_joint_damping=True)) < 1.0
    assert peak_speed(model.PhysicsOptions(integrator="euler")) > 10.0


def test_actions_map_to_targets_around_the_standing_pose_inside_the_ranges():
    m = model.load_mj_model()
    ranges = model.actuated_ranges(m)
    half = 0.5 * (ranges[:, 1] - ranges[:, 0])
    action_map = control.ActionMap(control.ControlConfig(mode="pd", action_scale=0.5), m)
    np.testing.assert_allclose(np.asarray(action_map(jp.zeros(m.nu))), 0.0)  # standing
    small = np.asarray(action_map(jp.full(m.nu, 0.1)))
    np.testing.assert_allclose(small, np.minimum(0.05 * half, ranges[:, 1]), rtol=1e-6)
    for a in (-5.0, 5.0):  # out-of-range actions clip to +-1, targets to the joint range
        target = np.asarray(action_map(jp.full(m.nu, a)))
        assert (target >= ranges[:, 0] - 1e-6).all() and (target <= ranges[:, 1] + 1e-6).all()
    torque_map = control.ActionMap(control.ControlConfig(mode="torque"), m)
    np.testing.assert_allclose(np.asarray(torque_map(jp.full(m.nu, 3.0))), 1.0)


def test_per_family_action_scales_narrow_only_their_joints_and_bad_ones_are_named():
    m = model.load_mj_model()
    index = model.default_index()
    half = 0.5 * np.diff(model.actuated_ranges(m), axis=1)[:, 0]
    cfg = control.ControlConfig(mode="pd", action_scales={"arm_add": 0.25, "wrist_flex": 0.5})
    target = np.asarray(control.ActionMap(cfg, m)(jp.full(m.nu, 0.2)))
    for joint, scale in (("arm_add_r", 0.25), ("arm_add_l", 0.25), ("wrist_flex_l", 0.5),
                         ("hip_flexion_r", 1.0), ("knee_angle_l", 1.0)):
        i = index.actuator[joint]
        assert target[i] == pytest.approx(min(0.2 * scale * half[i], m.jnt_range[
            m.actuator_trnid[i, 0], 1]), rel=1e-6), joint
    with pytest.raises(ConfigError, match=r"unknown joint families \['arm'\]"):
        from_dict(EnvConfig, {"control": {"action_scales": {"arm": 0.5}}}, source="e.yaml")
    with pytest.raises(ConfigError, match="action_scales: values must be > 0"):
        from_dict(EnvConfig, {"control": {"action_scales": {"arm_add": 0.0}}}, source="e.yaml")


def test_per_family_gains_replace_the_proportional_rule_and_bad_ones_are_named():
    cfg = control.ControlConfig(mode="pd", kp={"knee_angle": 300.0}, kd={"wrist_flex": 0.5})
    gains = control.pd_gains(cfg, model.load_mj_model())
    index = model.default_index()
    assert gains.kp[index.actuator["knee_angle_l"]] == 300.0
    assert gains.kd[index.actuator["knee_angle_l"]] == pytest.approx(30.0)
    assert gains.kd[index.actuator["wrist_flex_r"]] == 0.5
    assert gains.kp[index.actuator["hip_flexion_r"]] == 275.0
    with pytest.raises(ConfigError, match=r"unknown joint families \['knee'\]"):
        from_dict(EnvConfig, {"control": {"mode": "pd", "kp": {"knee": 1.0}}}, source="e.yaml")
    with pytest.raises(ConfigError, match=r"e.yaml: field 'control.mode' must be one of"):
        from_dict(EnvConfig, {"control": {"mode": "position"}}, source="e.yaml")


def test_pd_physics_stays_finite_and_calm_for_10_s_of_random_actions():
    # 4 envs x 500 control steps (10 s) of Gaussian actions (std 0.1, a policy's noise
    # around a zero mean) from upright frames, falls and auto-resets included.
    qpos, qvel = expert_frames()
    env = make_env("SkeletonTorque.walk.mocap", PD, qpos, qvel)
    gears = jp.asarray(list(model.JOINT_GEARS.values()))

    def rollout(state, rng):
        def body(carry, key):
            state, worst = carry
            state = jax.vmap(env.step)(state, 0.1 * jax.random.normal(key, (4, env.action_size)))
            over_gear = jp.max(jp.abs(state.data.actuator_force) / gears)
            m = state.metrics
            worst = {
                "nonfinite": worst["nonfinite"] + jp.sum(m["nonfinite"]),
                "exploded": worst["exploded"] + jp.sum(m["exploded"]),
                "speed": jp.maximum(worst["speed"], jp.max(m["body_speed_max"])),
                "force_over_gear": jp.maximum(worst["force_over_gear"], over_gear),
            }
            return (state, worst), None

        zero = {k: jp.zeros(()) for k in ("nonfinite", "exploded", "speed", "force_over_gear")}
        (_, worst), _ = jax.lax.scan(body, (state, zero), jax.random.split(rng, 500))
        return worst

    start = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    worst = jax.device_get(jax.jit(rollout)(start, jax.random.PRNGKey(1)))
    assert worst["nonfinite"] == 0
    assert worst["exploded"] == 0
    assert 0.0 < worst["speed"] < env.config.termination.max_body_speed
    assert worst["force_over_gear"] <= 1.0 + 1e-5


def test_exploding_bodies_end_the_episode(env, batched, start_state):
    # Env 0's body 3 starts the step 1 m behind where it is (50 m/s over a control step): a
    # blow-up, ended and zeroed like a NaN. The others step normally.
    _, step = batched
    xpos = start_state.data.xpos.at[0, 3, 0].add(-1.0)
    state = step(start_state.replace(data=start_state.data.replace(xpos=xpos)),
                 jp.zeros((4, env.action_size)))
    exploded = np.asarray(state.metrics["exploded"])
    assert exploded[0] == 1.0 and float(state.done[0]) == 1.0
    assert float(state.reward[0]) == 0.0
    assert (exploded[1:] == 0.0).all()


def test_torque_mode_is_unchanged_by_the_pd_code():
    m = control.build_model(control.ControlConfig(mode="torque"), model.PhysicsOptions())
    np.testing.assert_allclose(m.actuator_gear[:, 0], list(model.JOINT_GEARS.values()))
    assert (m.actuator_biastype == mujoco.mjtBias.mjBIAS_NONE).all()


def test_the_default_control_is_pd_servos_limited_by_the_gears():
    assert dataclasses.asdict(control.ControlConfig())["mode"] == "pd"
    m = control.build_model(control.ControlConfig(), model.PhysicsOptions())
    assert (m.actuator_biastype == mujoco.mjtBias.mjBIAS_AFFINE).all()
    np.testing.assert_allclose(m.actuator_forcerange[:, 1], list(model.JOINT_GEARS.values()))
