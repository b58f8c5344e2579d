"""How a policy action in [-1, 1] becomes joint torques: raw torques or PD targets.

`torque` (LocoMuJoCo's choice): the action times each motor's gear is the joint torque.

`pd` (AMP's, MimicKit's, ProtoMotions' choice): the action is an offset of each joint's
target angle around the standing pose, in fractions of the joint's half range; MuJoCo
position servos (built on the compiled model from the same motors, so the gears stay the
torque limits) track the targets inside every physics substep. The standing pose is the
neutral one, not the centre of each range, because a zero action then holds the body
upright: a freshly initialised policy (mean action ~0) starts from a stand rather than from
the range centres' crouch (knee bent 0.96 rad, elbow 1.16 rad), which falls at once.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jp
import mujoco
import numpy as np

from skeleton_steering.skeleton import model as skel

ControlMode = Literal["torque", "pd"]


def joint_family(joint: str) -> str:
    """`hip_flexion_r` -> `hip_flexion`: the left and right joint share their settings."""
    return joint[:-2] if joint.endswith(("_r", "_l")) else joint


FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(joint_family(j) for j in skel.HINGE_JOINTS))


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """Control mode and, for `pd`, the servo gains and action scales.

    Stiffness per joint is `kp_per_gear` x the joint's gear (Nm/rad): every joint reaches its
    torque limit at the same angle error (1 / kp_per_gear rad), so strong hips and weak
    wrists get gains in proportion to what they can do. Damping is `kd_per_kp` x kp (s).
    `kp` / `kd` entries (by joint family, e.g. `knee_angle`) replace the proportional rule
    for that family, and `action_scales` entries replace `action_scale` for that family.
    """

    # PD by default: zero blow-ups with implicitfast (bench physics), joint velocities near the
    # demonstrations' (agent/demo RMS 0.5 against 3-4 for torques) and longer episodes at equal
    # env steps (bench learn); `torque` is LocoMuJoCo's setting.
    mode: ControlMode = "pd"
    kp_per_gear: float = 1.0
    kd_per_kp: float = 0.1
    # Largest target offset, as a fraction of each joint's half range (targets are also
    # clipped to the range).
    action_scale: float = 1.0
    kp: dict[str, float] = dataclasses.field(default_factory=dict)
    kd: dict[str, float] = dataclasses.field(default_factory=dict)
    action_scales: dict[str, float] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        if self.kp_per_gear <= 0 or self.kd_per_kp < 0 or self.action_scale <= 0:
            raise ValueError("kp_per_gear and action_scale must be > 0 and kd_per_kp >= 0")
        for name in ("kp", "kd", "action_scales"):
            values = getattr(self, name)
            unknown = sorted(set(values) - set(FAMILIES))
            if unknown:
                raise ValueError(
                    f"{name}: unknown joint families {unknown}; known: {', '.join(FAMILIES)}"
                )
            if any(v < 0 for v in values.values()):
                raise ValueError(f"{name}: values must be >= 0")
        if any(v == 0 for v in self.action_scales.values()):
            raise ValueError("action_scales: values must be > 0 (a joint with scale 0 is locked)")

    def scale_of(self, joint: str) -> float:
        """Largest target offset of `joint` per unit action, as a fraction of its half range."""
        return self.action_scales.get(joint_family(joint), self.action_scale)


@dataclasses.dataclass(frozen=True)
class PDGains:
    """Per-actuator servo settings (actuator order)."""

    kp: np.ndarray
    kd: np.ndarray
    max_torque: np.ndarray


def pd_gains(config: ControlConfig, mj_model: mujoco.MjModel) -> PDGains:
    """kp, kd and torque limits per actuator of the torque model `mj_model`."""
    index = skel.build_index(mj_model)
    by_actuator = sorted(index.actuator, key=index.actuator.get)
    gears = skel.joint_gears(mj_model)
    kp = np.empty(mj_model.nu)
    kd = np.empty(mj_model.nu)
    for i, name in enumerate(by_actuator):
        family = joint_family(name)
        kp[i] = config.kp.get(family, config.kp_per_gear * gears[i])
        kd[i] = config.kd.get(family, config.kd_per_kp * kp[i])
    return PDGains(kp=kp, kd=kd, max_torque=gears)


class ActionMap:
    """Maps clipped policy actions to the model's ctrl for the configured mode."""

    def __init__(self, config: ControlConfig, torque_model: mujoco.MjModel) -> None:
        self.mode = config.mode
        ranges = skel.actuated_ranges(torque_model)
        index = skel.build_index(torque_model)
        scales = [config.scale_of(name) for name in sorted(index.actuator, key=index.actuator.get)]
        # Standing pose: every hinge at zero (see the module docstring).
        half = 0.5 * (ranges[:, 1] - ranges[:, 0])
        self._scale = jp.asarray(np.asarray(scales) * half, dtype=jp.float32)
        self._low = jp.asarray(ranges[:, 0], dtype=jp.float32)
        self._high = jp.asarray(ranges[:, 1], dtype=jp.float32)

    def __call__(self, action: jax.Array) -> jax.Array:
        action = jp.clip(action, -1.0, 1.0)
        if self.mode == "torque":
            return action
        return jp.clip(action * self._scale, self._low, self._high)


def build_model(config: ControlConfig, options: skel.PhysicsOptions) -> mujoco.MjModel:
    """The skeleton compiled with `options`, its motors as servos when the mode is `pd`."""
    mj_model = skel.load_mj_model(options)
    if config.mode == "pd":
        gains = pd_gains(config, mj_model)
        skel.make_position_servos(mj_model, gains.kp, gains.kd, gains.max_torque,
                                  damping_in_joint=options.implicit_joint_damping)
    return mj_model
