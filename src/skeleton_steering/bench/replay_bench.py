"""Open-loop PD replay: how long joint tracking alone keeps the skeleton up on a demonstration.

    python -m skeleton_steering.bench.replay_bench [--clip AMASS.npz ...] [--sample MOTION ...]

Each demonstration is retargeted at the control rate (AMASS clips) or taken from the bundled
sample generator, then replayed in native MuJoCo from its first frame (qpos and qvel): every
physics step, each motor is a position servo toward the demo's joint angles and velocities,
kp = gear (N m/rad), kd = 0.1 kp, torque clipped to +-gear; nothing pushes the root. The skeleton
has fallen when the pelvis is below `FALL_HEIGHT` or the torso tilts more than `FALL_TILT`
from vertical. A motion a body can perform keeps it up longer: an informative number, not a
threshold (balance needs feedback the replay does not have). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.data.amass import read_clip
from skeleton_steering.data.retarget import RetargetConfig, retarget_clip
from skeleton_steering.data.sample import MOTIONS, generate_motion
from skeleton_steering.skeleton import model as skel

FALL_HEIGHT = 0.6  # m, pelvis
FALL_TILT = np.deg2rad(60.0)
KD_OVER_KP = 0.1


def servo_model(kd_over_kp: float = KD_OVER_KP) -> mujoco.MjModel:
    """The skeleton with each motor turned into a position servo: joint torque
    kp (ctrl - q) - kd qd with kp = gear, kd = kd_over_kp kp, limited to +-gear.

    The servo's damping is integrated implicitly (implicitfast): an explicit kd of 5 N m s on
    a hand of a few grams of inertia diverges at 150 Hz.
    """
    m = skel.load_mj_model()
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for i in range(m.nu):
        g = float(m.actuator_gear[i, 0])
        kp, kd = g, kd_over_kp * g
        # Actuator length is g q: force (kp/g)(ctrl - q) - (kd/g) qd, times the gear g.
        m.actuator_gaintype[i] = mujoco.mjtGain.mjGAIN_FIXED
        m.actuator_biastype[i] = mujoco.mjtBias.mjBIAS_AFFINE
        m.actuator_gainprm[i, :3] = [kp / g, 0.0, 0.0]
        m.actuator_biasprm[i, :3] = [0.0, -kp / g**2, -kd / g**2]
        m.actuator_ctrllimited[i] = 0
        m.actuator_forcelimited[i] = 1
        m.actuator_forcerange[i] = [-1.0, 1.0]
    return m


def replay_survival(qpos: np.ndarray, qvel: np.ndarray, rate: float,
                    m: mujoco.MjModel | None = None) -> dict[str, Any]:
    """Seconds the PD replay of (qpos, qvel) at `rate` Hz stays up, and the demo's length."""
    m = m or servo_model()
    d = mujoco.MjData(m)
    joint = m.actuator_trnid[:, 0]
    qadr, vadr = m.jnt_qposadr[joint], m.jnt_dofadr[joint]
    torso = m.body("torso").id
    duration = (qpos.shape[0] - 1) / rate
    frames = np.arange(qpos.shape[0]) / rate
    d.qpos[:] = qpos[0]
    d.qvel[:] = qvel[0]
    mujoco.mj_forward(m, d)
    t = 0.0
    while t < duration:
        q_ref = np.array([np.interp(t, frames, qpos[:, a]) for a in qadr])
        v_ref = np.array([np.interp(t, frames, qvel[:, a]) for a in vadr])
        # Velocity feed-forward: kp (q_ref - q) + kd (v_ref - qd).
        d.ctrl[:] = q_ref + KD_OVER_KP * v_ref
        mujoco.mj_step(m, d)
        t += m.opt.timestep
        up = d.xmat[torso].reshape(3, 3)[2, 2]
        if d.qpos[2] < FALL_HEIGHT or up < np.cos(FALL_TILT) or not np.isfinite(d.qpos).all():
            return {"up_s": round(t, 3), "duration_s": round(duration, 3), "fell": True}
    return {"up_s": round(duration, 3), "duration_s": round(duration, 3), "fell": False}


def _demos(clips: Sequence[str], samples: Sequence[str]) -> list[tuple[str, Any]]:
    config = RetargetConfig()
    specs = {s.motion: s for s in MOTIONS}
    out = []
    for name in samples:
        if name not in specs:
            raise ValueError(f"--sample: unknown motion '{name}' (one of {sorted(specs)})")
        clip = generate_motion(specs[name], rate=100.0, seed=0).as_amass(f"sample/{name}")
        out.append((f"sample {name}", retarget_clip(clip, config)))
    for path in clips:
        out.append((Path(path).name, retarget_clip(read_clip(path), config)))
    return out


def run(clips: Sequence[str], samples: Sequence[str], console: Console) -> dict[str, Any]:
    m = servo_model()
    rate = RetargetConfig().output_frequency()
    rows = {}
    for name, result in _demos(clips, samples):
        rows[name] = replay_survival(result.qpos, result.qvel, rate, m)
    table = Table(title="PD replay from the first frame (kp = gear, kd = 0.1 kp, no root force)")
    for col in ("demonstration", "up (s)", "of (s)", "fell"):
        table.add_column(col)
    for name, row in rows.items():
        table.add_row(name, f"{row['up_s']:.2f}", f"{row['duration_s']:.2f}", str(row["fell"]))
    console.print(table)
    summary = {"bench": "replay", "machine": describe(), "timestep_s": float(m.opt.timestep),
               "demos": rows}
    print(json.dumps(summary))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skeleton_steering.bench.replay_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", action="append", default=[], help="AMASS clip (repeatable)")
    parser.add_argument("--sample", action="append", default=None,
                        help="sample motion (repeatable; default walking_medium01 and "
                             "walking_turn_left01)")
    args = parser.parse_args(argv)
    samples = args.sample if args.sample is not None else ["walking_medium01",
                                                           "walking_turn_left01"]
    console = Console(stderr=True)
    try:
        run(args.clip, samples, console)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
