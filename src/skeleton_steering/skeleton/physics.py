"""Simulation settings of the skeleton: physics timestep, substeps and solver iterations.

They live with the body rather than with the task because the data stage needs them too: the
retargeted trajectory is written at the control rate (timestep x substeps).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Integrator = Literal["euler", "implicitfast"]
ServoDamping = Literal["actuator", "joint"]


@dataclasses.dataclass(frozen=True)
class PhysicsConfig:
    """Simulation settings: 150 Hz physics x 3 substeps = 50 Hz control.

    Chosen with `skeleton-steering bench env` and the passive-drop stability test; the MJCF's
    comment on <option> gives the stability argument. `skeleton-steering bench physics`
    counts blow-ups (non-finite states, bodies faster than 20 m/s) of each setting under
    random and trained actions next to its cost.
    """

    timestep: float = 1.0 / 150.0
    n_substeps: int = 3
    # 4 iterations with implicitfast: the cheapest setting with zero blow-ups under random and
    # trained PD actions in `bench physics` (1 iteration, or euler, blew up there).
    solver_iterations: int = 4
    ls_iterations: int = 4
    # "implicitfast" integrates joint and actuator damping (a PD servo's kd) implicitly, so a
    # stiff, well-damped servo on a light segment (the wrists) stays stable at 150 Hz.
    integrator: Integrator = "implicitfast"
    # Contact pairs between the shanks and feet of the two legs (model.LEG_CONTACT_PAIRS), so
    # that one leg cannot pass through the other; off by default until a policy is trained
    # with them (`bench physics` measures their cost).
    leg_contacts: bool = False
    # Where a PD servo's damping (kd x joint velocity) acts. "actuator": inside the servo, so the
    # torque limit clips it with the stiffness, and only implicitfast integrates it implicitly.
    # "joint": as the joint's own damping, which both integrators treat implicitly (MuJoCo's
    # Euler adds h x damping to the mass matrix), so Euler stays stable with stiff servos and
    # only the stiffness is clipped by the torque limit. No effect in torque control.
    servo_damping: ServoDamping = "actuator"

    def validate(self) -> None:
        if not 0.0 < self.timestep <= 0.01:
            raise ValueError(f"timestep must be in (0, 0.01] s, got {self.timestep}")
        if self.n_substeps < 1 or self.solver_iterations < 1 or self.ls_iterations < 1:
            raise ValueError("n_substeps, solver_iterations and ls_iterations must be >= 1")
        if self.servo_damping not in ("actuator", "joint"):
            raise ValueError(f"servo_damping must be actuator or joint, got {self.servo_damping!r}")

    @property
    def control_dt(self) -> float:
        return self.timestep * self.n_substeps
