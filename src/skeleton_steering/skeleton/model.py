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


def load_mj_model(options: PhysicsOptions | None = None) -> mujoco.MjModel:
    """Compile the skeleton for native MuJoCo, with `options` applied when given."""
    model = mujoco.MjModel.from_xml_path(str(asset_path()))
    if options is not None:
        model.opt.timestep = options.timestep
        model.opt.iterations = options.solver_iterations
        model.opt.ls_iterations = options.ls_iterations
    return model


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
