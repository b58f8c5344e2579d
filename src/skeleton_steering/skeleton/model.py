"""The skeleton model: loading it for MuJoCo and MJX, and name-to-index maps.

The MJCF lives in `assets/skeleton_torque.xml`; this module is the only place that knows its
path and the names in it, so the rest of the package asks here for indices instead of
repeating strings.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import cache
from importlib import resources
from pathlib import Path

import mujoco
import numpy as np

# MJX probes for the optional Warp backend on import and logs a warning when it is absent;
# we use the JAX backend only, so the warning is noise to our users.
logging.getLogger("mujoco.mjx").setLevel(logging.ERROR)

ROOT_JOINT = "root"

# Hinge joints in qpos order (LocoMuJoCo's SkeletonTorque order), each with its motor gear.
JOINT_GEARS: dict[str, float] = {
    "hip_flexion_r": 275.0,
    "hip_adduction_r": 530.0,
    "hip_rotation_r": 600.0,
    "knee_angle_r": 600.0,
    "ankle_angle_r": 500.0,
    "hip_flexion_l": 275.0,
    "hip_adduction_l": 530.0,
    "hip_rotation_l": 600.0,
    "knee_angle_l": 600.0,
    "ankle_angle_l": 500.0,
    "lumbar_extension": 160.0,
    "lumbar_bending": 160.0,
    "lumbar_rotation": 100.0,
    "arm_flex_r": 250.0,
    "arm_add_r": 250.0,
    "arm_rot_r": 250.0,
    "elbow_flex_r": 250.0,
    "pro_sup_r": 250.0,
    "wrist_flex_r": 50.0,
    "wrist_dev_r": 50.0,
    "arm_flex_l": 250.0,
    "arm_add_l": 250.0,
    "arm_rot_l": 250.0,
    "elbow_flex_l": 250.0,
    "pro_sup_l": 250.0,
    "wrist_flex_l": 50.0,
    "wrist_dev_l": 50.0,
}
HINGE_JOINTS: tuple[str, ...] = tuple(JOINT_GEARS)
JOINT_NAMES: tuple[str, ...] = (ROOT_JOINT, *HINGE_JOINTS)

# Sites whose positions feed observations, discriminator features and metrics.
KEY_SITES: tuple[str, ...] = ("head", "hand_r", "hand_l", "foot_r", "foot_l")
PELVIS_SITE = "pelvis"
FOOT_GEOMS: tuple[str, ...] = ("foot_r", "foot_l")
# Each leg's segments, hip to foot: the geoms the evaluation checks for one leg inside the other.
LEG_GEOMS: dict[str, tuple[str, ...]] = {
    "r": ("femur_r", "tibia_r", "foot_r"),
    "l": ("femur_l", "tibia_l", "foot_l"),
}
# The cheapest pairs that stop the legs crossing through each other below the knee: shank on
# shank, foot on foot, and each foot on the other shank (thighs meet only in extreme
# adduction, which the joint ranges bound).
LEG_CONTACT_PAIRS: tuple[tuple[str, str], ...] = (
    ("tibia_r", "tibia_l"),
    ("foot_r", "foot_l"),
    ("foot_r", "tibia_l"),
    ("foot_l", "tibia_r"),
)

# Standing height of the pelvis origin with all joints at zero (feet flat on the floor).
STANDING_ROOT_HEIGHT = 0.996


def asset_path() -> Path:
    """Path of the skeleton MJCF shipped with the package."""
    return Path(str(resources.files(__package__) / "assets" / "skeleton_torque.xml"))


@dataclasses.dataclass(frozen=True)
class PhysicsOptions:
    """Solver settings applied on top of the MJCF's defaults."""

    timestep: float = 1.0 / 150.0
    solver_iterations: int = 1
    ls_iterations: int = 4
    integrator: str = "euler"  # "euler" | "implicitfast"
    leg_contacts: bool = False  # add LEG_CONTACT_PAIRS
    # Integrate joint damping implicitly in Euler (the MJCF turns that off: its own damping is
    # light enough for the explicit step); on when servo damping acts as joint damping.
    implicit_joint_damping: bool = False


_INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}


def load_mj_model(options: PhysicsOptions | None = None) -> mujoco.MjModel:
    """Compile the skeleton for native MuJoCo, with `options` applied when given."""
    if options is not None and options.leg_contacts:
        spec = mujoco.MjSpec.from_file(str(asset_path()))
        for geom1, geom2 in LEG_CONTACT_PAIRS:
            pair = spec.add_pair()
            pair.name, pair.geomname1, pair.geomname2 = f"{geom1}_{geom2}", geom1, geom2
        model = spec.compile()
    else:
        model = mujoco.MjModel.from_xml_path(str(asset_path()))
    if options is not None:
        if options.integrator not in _INTEGRATORS:
            raise ValueError(
                f"unknown integrator '{options.integrator}'; known: {', '.join(_INTEGRATORS)}"
            )
        model.opt.timestep = options.timestep
        model.opt.iterations = options.solver_iterations
        model.opt.ls_iterations = options.ls_iterations
        model.opt.integrator = _INTEGRATORS[options.integrator]
        if options.implicit_joint_damping:
            model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
    return model


def joint_gears(model: mujoco.MjModel) -> np.ndarray:
    """(nu,) motor gear of each actuator (Nm per unit of control), in actuator order."""
    return np.array(model.actuator_gear[:, 0], dtype=np.float64)


def actuated_ranges(model: mujoco.MjModel) -> np.ndarray:
    """(nu, 2) range (rad) of the joint each actuator drives, in actuator order."""
    return np.array(model.jnt_range[model.actuator_trnid[:, 0]], dtype=np.float64)


def make_position_servos(
    model: mujoco.MjModel, kp: np.ndarray, kd: np.ndarray, max_torque: np.ndarray,
    *, damping_in_joint: bool = False,
) -> None:
    """Turn the torque motors of `model` (in place) into PD position servos.

    Afterwards ctrl is a joint angle target (rad, limited to the joint's range) and each
    actuator applies kp * (target - q) - kd * qdot, clipped to +-max_torque (Nm). Built on
    the compiled model rather than in the MJCF so that one file defines the body and the
    torque limits for both control modes. `damping_in_joint`: kd is added to the driven joint's
    damping instead (passive, not clipped, integrated implicitly; see
    `PhysicsConfig.servo_damping`) and the servo applies kp * (target - q) only.
    """
    nu = model.nu
    for name, value in (("kp", kp), ("kd", kd), ("max_torque", max_torque)):
        if np.shape(value) != (nu,) or not np.all(np.asarray(value) >= 0):
            raise ValueError(f"{name} must be {nu} non-negative numbers, got {np.shape(value)}")
    ranges = actuated_ranges(model)
    model.actuator_gear[:, 0] = 1.0
    model.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
    model.actuator_gainprm[:] = 0.0
    model.actuator_gainprm[:, 0] = kp
    model.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
    model.actuator_biasprm[:] = 0.0
    model.actuator_biasprm[:, 1] = -np.asarray(kp)
    if damping_in_joint:
        dofs = model.jnt_dofadr[model.actuator_trnid[:, 0]]
        model.dof_damping[dofs] += np.asarray(kd)
    else:
        model.actuator_biasprm[:, 2] = -np.asarray(kd)
    model.actuator_ctrllimited[:] = 1
    model.actuator_ctrlrange[:] = ranges
    model.actuator_forcelimited[:] = 1
    model.actuator_forcerange[:, 0] = -np.asarray(max_torque)
    model.actuator_forcerange[:, 1] = max_torque


def load_mjx_model(options: PhysicsOptions | None = None):
    """The skeleton as an MJX model on the default JAX device."""
    from skeleton_steering.skeleton.mjx_import import mjx

    return mjx.put_model(load_mj_model(options))


@dataclasses.dataclass(frozen=True)
class SkeletonIndex:
    """Name-to-index maps of the compiled model (all plain ints / numpy arrays, hashable-free)."""

    joint: dict[str, int]
    joint_qpos: dict[str, int]
    joint_qvel: dict[str, int]
    actuator: dict[str, int]
    body: dict[str, int]
    site: dict[str, int]
    geom: dict[str, int]

    @property
    def hinge_qpos(self) -> np.ndarray:
        return np.array([self.joint_qpos[n] for n in HINGE_JOINTS], dtype=np.int32)

    @property
    def hinge_qvel(self) -> np.ndarray:
        return np.array([self.joint_qvel[n] for n in HINGE_JOINTS], dtype=np.int32)

    @property
    def key_sites(self) -> np.ndarray:
        return np.array([self.site[n] for n in KEY_SITES], dtype=np.int32)


def _names(model: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list[str]:
    return [mujoco.mj_id2name(model, obj, i) or "" for i in range(count)]


def build_index(model: mujoco.MjModel) -> SkeletonIndex:
    """Name maps for joints, actuators, bodies, sites and geoms of `model`."""
    joints = _names(model, mujoco.mjtObj.mjOBJ_JOINT, model.njnt)
    return SkeletonIndex(
        joint={n: i for i, n in enumerate(joints)},
        joint_qpos={n: int(model.jnt_qposadr[i]) for i, n in enumerate(joints)},
        joint_qvel={n: int(model.jnt_dofadr[i]) for i, n in enumerate(joints)},
        actuator={
            n: i for i, n in enumerate(_names(model, mujoco.mjtObj.mjOBJ_ACTUATOR, model.nu))
        },
        body={n: i for i, n in enumerate(_names(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody))},
        site={n: i for i, n in enumerate(_names(model, mujoco.mjtObj.mjOBJ_SITE, model.nsite))},
        geom={n: i for i, n in enumerate(_names(model, mujoco.mjtObj.mjOBJ_GEOM, model.ngeom))},
    )


@cache
def default_index() -> SkeletonIndex:
    """Index of the shipped model (cached: the names never change at run time)."""
    return build_index(load_mj_model())


def standing_qpos() -> np.ndarray:
    """qpos of the upright rest pose: identity root orientation, feet flat on the floor."""
    qpos = np.zeros(7 + len(HINGE_JOINTS), dtype=np.float32)
    qpos[2] = STANDING_ROOT_HEIGHT
    qpos[3] = 1.0
    return qpos
