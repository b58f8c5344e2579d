"""The MJX steering environment: walk in a commanded direction at a commanded speed.

Pure functions over a `State` pytree, in the shape of MuJoCo Playground's environments:
`reset(rng) -> State`, `step(state, action) -> State`, both jit- and vmap-able. An episode
ends on a fall (pelvis or head too low), on a non-finite or exploding physics state (a body
faster than `termination.max_body_speed`), or at the time limit;
the state is then re-initialized inside `step` (auto-reset), from a random expert frame turned
to a random heading (reference-state initialization), or from the standing pose when no
expert frames were given.

`State.info` carries what persists between steps (rng, command, countdown to the next command,
step count) and what a trainer needs about the transition that just happened:
`terminal_obs` (observation before any auto-reset, for bootstrapping truncated episodes),
`disc_obs` / `disc_obs_next` (body-state features of the state before and after the step, for
the AMP discriminator), `terminated` and `truncated`.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jp
import numpy as np

from skeleton_steering.env import commands, control, rewards
from skeleton_steering.env.env_config import EnvConfig
from skeleton_steering.skeleton import model, spatial
from skeleton_steering.skeleton.features import body_state_features, feature_size
from skeleton_steering.skeleton.mjx_import import mjx


@flax.struct.dataclass
class State:
    data: mjx.Data
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    metrics: dict[str, jax.Array]
    info: dict[str, Any]


# The next mjx.step recomputes every derived quantity from these, so an auto-reset only has to
# swap them (plus the kinematics the observation reads); selecting the whole Data pytree
# would copy the contact and constraint buffers too.
_RESET_FIELDS = ("qpos", "qvel", "qacc_warmstart", "ctrl", "time", "xpos", "xquat", "site_xpos")


def _select_reset(done: jax.Array, reset: mjx.Data, data: mjx.Data) -> mjx.Data:
    return data.replace(
        **{f: jp.where(done, getattr(reset, f), getattr(data, f)) for f in _RESET_FIELDS}
    )


class ExpertFramesError(ValueError):
    """Expert frames given for reference-state initialization have the wrong shape or values."""


def check_expert_frames(qpos: np.ndarray, qvel: np.ndarray, nq: int, nv: int) -> None:
    """Raise `ExpertFramesError` unless qpos is (N, nq) and qvel (N, nv), finite, N >= 1."""
    qpos = np.asarray(qpos)
    qvel = np.asarray(qvel)
    if qpos.ndim != 2 or qpos.shape[1] != nq:
        raise ExpertFramesError(f"expert qpos must have shape (N, {nq}), got {qpos.shape}")
    if qvel.ndim != 2 or qvel.shape[1] != nv:
        raise ExpertFramesError(f"expert qvel must have shape (N, {nv}), got {qvel.shape}")
    if qpos.shape[0] != qvel.shape[0]:
        raise ExpertFramesError(
            f"expert qpos and qvel have different frame counts: {qpos.shape[0]} vs {qvel.shape[0]}"
        )
    if qpos.shape[0] == 0:
        raise ExpertFramesError("expert frames are empty (0 frames)")
    if not (np.isfinite(qpos).all() and np.isfinite(qvel).all()):
        raise ExpertFramesError("expert frames contain NaN or infinite values")


class SteeringEnv:
    """Skeleton steering task on MJX, driven by torques or PD targets (`config.control`)."""

    def __init__(
        self,
        config: EnvConfig | None = None,
        expert_qpos: np.ndarray | None = None,
        expert_qvel: np.ndarray | None = None,
    ) -> None:
        self.config = config or EnvConfig()
        phys = self.config.physics
        self.mj_model = control.build_model(
            self.config.control,
            model.PhysicsOptions(
                phys.timestep, phys.solver_iterations, phys.ls_iterations, phys.integrator,
                phys.leg_contacts,
                implicit_joint_damping=(self.config.control.mode == "pd"
                                        and phys.servo_damping == "joint"),
            ),
        )
        self._action_map = control.ActionMap(self.config.control, self.mj_model)
        self.mjx_model = mjx.put_model(self.mj_model)
        self.index = model.build_index(self.mj_model)
        nq, nv = self.mj_model.nq, self.mj_model.nv

        if (expert_qpos is None) != (expert_qvel is None):
            raise ExpertFramesError("give both expert qpos and qvel, or neither")
        if expert_qpos is None:
            expert_qpos = model.standing_qpos()[None]
            expert_qvel = np.zeros((1, nv), dtype=np.float32)
            self.uses_standing_fallback = True
        else:
            self.uses_standing_fallback = False
        check_expert_frames(expert_qpos, expert_qvel, nq, nv)
        self._expert_qpos = jp.asarray(expert_qpos, dtype=jp.float32)
        self._expert_qvel = jp.asarray(expert_qvel, dtype=jp.float32)

        self._key_sites = jp.asarray(self.index.key_sites)
        self._pelvis_site = self.index.site[model.PELVIS_SITE]
        self._head_site = self.index.site["head"]
        self._template = mjx.make_data(self.mjx_model)
        self._control_dt = phys.control_dt
        resample = np.asarray(self.config.command.resample_seconds) / self._control_dt
        self._resample_steps = (max(1, round(resample[0])), max(1, round(resample[1])))

    # -- sizes -------------------------------------------------------------------------------

    @property
    def action_size(self) -> int:
        return self.mj_model.nu

    @property
    def disc_obs_size(self) -> int:
        return feature_size(self.mj_model.nq, self.mj_model.nv, len(model.KEY_SITES))

    @property
    def observation_size(self) -> int:
        return self.disc_obs_size + commands.COMMAND_OBS_SIZE

    @property
    def control_dt(self) -> float:
        return self._control_dt

    # -- reset -------------------------------------------------------------------------------

    def _initial_data(self, rng: jax.Array) -> mjx.Data:
        """Physics state from a random expert frame, turned to a random heading."""
        k_frame, k_yaw, k_noise = jax.random.split(rng, 3)
        i = jax.random.randint(k_frame, (), 0, self._expert_qpos.shape[0])
        qpos = self._expert_qpos[i]
        qvel = self._expert_qvel[i]
        yaw = jax.random.uniform(k_yaw, (), minval=-jp.pi, maxval=jp.pi)
        root_quat = spatial.quat_mul(spatial.yaw_quat(yaw), qpos[3:7])
        root_quat = root_quat / jp.linalg.norm(root_quat)
        noise = self.config.init_joint_noise * jax.random.uniform(
            k_noise, qpos[7:].shape, minval=-1.0, maxval=1.0
        )
        qpos = jp.concatenate([jp.array([0.0, 0.0]), qpos[2:3], root_quat, qpos[7:] + noise])
        # Free-joint linear velocity is in the world frame and turns with the heading;
        # angular velocity is in the body frame and does not.
        qvel = jp.concatenate([spatial.rotate_z(qvel[0:3], yaw), qvel[3:]])
        data = self._template.replace(qpos=qpos, qvel=qvel)
        return mjx.kinematics(self.mjx_model, data)

    def _key_positions(self, data: mjx.Data) -> jax.Array:
        return data.site_xpos[self._key_sites]

    def _disc_obs(self, data: mjx.Data) -> jax.Array:
        return body_state_features(data.qpos, data.qvel, self._key_positions(data))

    def _observe(self, disc_obs: jax.Array, data: mjx.Data, info: dict[str, Any]) -> jax.Array:
        heading = spatial.heading_of(data.qpos[3:7])
        return jp.concatenate(
            [disc_obs, commands.command_obs(info["target_yaw"], info["target_speed"], heading)]
        )

    def reset(self, rng: jax.Array) -> State:
        rng, k_init, k_cmd = jax.random.split(rng, 3)
        data = self._initial_data(k_init)
        heading = spatial.heading_of(data.qpos[3:7])
        target_yaw, target_speed, steps_left = commands.sample(
            k_cmd, heading, self.config.command, self._resample_steps
        )
        info = {
            "rng": rng,
            "target_yaw": target_yaw,
            "target_speed": target_speed,
            "command_steps_left": steps_left,
            "step": jp.zeros((), jp.int32),
            "terminated": jp.zeros((), jp.bool_),
            "truncated": jp.zeros((), jp.bool_),
        }
        disc_obs = self._disc_obs(data)
        obs = self._observe(disc_obs, data, info)
        info["disc_obs"] = disc_obs
        info["disc_obs_next"] = disc_obs
        info["terminal_obs"] = obs
        metrics = {
            **{f"reward/{name}": jp.zeros(()) for name in self.config.reward.scales},
            "speed": jp.zeros(()),
            "nonfinite": jp.zeros(()),
            "exploded": jp.zeros(()),
            "body_speed_max": jp.zeros(()),
            "fell": jp.zeros(()),
        }
        return State(data, obs, jp.zeros(()), jp.zeros(()), metrics, info)

    # -- step --------------------------------------------------------------------------------

    def step(self, state: State, action: jax.Array) -> State:
        ctrl = self._action_map(action)
        start_xy = state.data.qpos[0:2]
        start_xpos = state.data.xpos

        def substep(data: mjx.Data, _: Any) -> tuple[mjx.Data, None]:
            return mjx.step(self.mjx_model, data.replace(ctrl=ctrl)), None

        data, _ = jax.lax.scan(substep, state.data, None, length=self.config.physics.n_substeps)

        info = dict(state.info)
        finite = jp.isfinite(data.qpos).all() & jp.isfinite(data.qvel).all()
        # Keep the arithmetic below finite; the environment is reset anyway.
        data = data.replace(
            qpos=jp.where(finite, data.qpos, state.data.qpos),
            qvel=jp.where(finite, data.qvel, jp.zeros_like(data.qvel)),
        )
        # mjx.step computes body and site positions before it integrates, so after the loop
        # they lag qpos by one substep; features, the fall check and the blow-up check must
        # see the state the step ends in, as the expert cache's forward kinematics does.
        data = mjx.kinematics(self.mjx_model, data)
        # Bodies 1.. (0 is the world); a non-finite state reads as infinitely fast.
        body_speed = jp.max(
            jp.linalg.norm(data.xpos[1:] - start_xpos[1:], axis=-1) / self._control_dt
        )
        body_speed = jp.where(finite & jp.isfinite(body_speed), body_speed, jp.inf)
        exploded = body_speed > self.config.termination.max_body_speed
        sane = finite & ~exploded

        planar_velocity = (data.qpos[0:2] - start_xy) / self._control_dt
        heading = spatial.heading_of(data.qpos[3:7])
        terms = rewards.task_terms(
            planar_velocity,
            heading,
            info["target_yaw"],
            info["target_speed"],
            self.config.reward.tracking_k,
        )
        reward = sum(terms[name] * scale for name, scale in self.config.reward.scales.items())
        reward = jp.where(sane, reward, 0.0)

        pelvis_z = data.site_xpos[self._pelvis_site, 2]
        head_z = data.site_xpos[self._head_site, 2]
        term_cfg = self.config.termination
        fell = (pelvis_z < term_cfg.pelvis_min_height) | (head_z < term_cfg.head_min_height)
        terminated = fell | ~finite | exploded
        step_count = info["step"] + 1
        truncated = (step_count >= self.config.episode_length) & ~terminated
        done = terminated | truncated

        # Commands change on a countdown inside the episode.
        rng, k_cmd, k_reset, k_reset_cmd = jax.random.split(info["rng"], 4)
        new_yaw, new_speed, new_left = commands.sample(
            k_cmd, heading, self.config.command, self._resample_steps
        )
        resample = info["command_steps_left"] <= 1
        info["target_yaw"] = jp.where(resample, new_yaw, info["target_yaw"])
        info["target_speed"] = jp.where(resample, new_speed, info["target_speed"])
        info["command_steps_left"] = jp.where(resample, new_left, info["command_steps_left"] - 1)

        # After a non-finite or exploding step the kinematics (site positions) are garbage too:
        # report the last good state's features so no NaN or outlier reaches a learner.
        disc_next = jp.where(sane, self._disc_obs(data), state.info["disc_obs"])
        terminal_obs = jp.where(sane, self._observe(disc_next, data, info), state.obs)

        # Auto-reset: compute a fresh start for every env and keep it where the episode ended.
        reset_data = self._initial_data(k_reset)
        reset_heading = spatial.heading_of(reset_data.qpos[3:7])
        r_yaw, r_speed, r_left = commands.sample(
            k_reset_cmd, reset_heading, self.config.command, self._resample_steps
        )
        data = _select_reset(done, reset_data, data)
        info["target_yaw"] = jp.where(done, r_yaw, info["target_yaw"])
        info["target_speed"] = jp.where(done, r_speed, info["target_speed"])
        info["command_steps_left"] = jp.where(done, r_left, info["command_steps_left"])
        disc_obs = jp.where(done, self._disc_obs(data), disc_next)
        obs = self._observe(disc_obs, data, info)

        info.update(
            rng=rng,
            step=jp.where(done, 0, step_count),
            terminated=terminated,
            truncated=truncated,
            disc_obs=disc_obs,
            disc_obs_next=disc_next,
            terminal_obs=terminal_obs,
        )
        metrics = {
            **{f"reward/{name}": terms[name] for name in self.config.reward.scales},
            "speed": jp.linalg.norm(planar_velocity),
            "nonfinite": (~finite).astype(jp.float32),
            "exploded": exploded.astype(jp.float32),
            "body_speed_max": jp.where(jp.isfinite(body_speed), body_speed, 0.0),
            "fell": fell.astype(jp.float32),
        }
        return State(data, obs, reward, done.astype(jp.float32), metrics, info)
