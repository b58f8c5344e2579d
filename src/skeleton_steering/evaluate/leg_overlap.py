"""Steps where one leg is inside the other: a check that needs no contact in the simulation.

Without leg-leg contact pairs (`env.physics.leg_contacts`) nothing in the physics stops a
swinging leg from passing through the standing one, and nothing in the steering metrics would
notice. This measures it after the fact from the poses of a rollout, on the host with
MuJoCo's own geometry: for every step, the deepest overlap of a segment of the right leg
(thigh, shank, foot: `model.LEG_GEOMS`) with a segment of the left leg. A step counts when it
is deeper than OVERLAP_DEPTH_M, so capsules that only graze (thighs brushing in a narrow
stance) do not.
"""

from __future__ import annotations

import itertools

import mujoco
import numpy as np

from skeleton_steering.skeleton import model as skel

OVERLAP_DEPTH_M = 0.01
# Farther apart than this, the exact distance does not matter: the legs do not overlap.
_SEARCH_M = 0.05


def overlap_depth(qpos: np.ndarray) -> np.ndarray:
    """(..., ) deepest right-left leg overlap (m, 0 when apart) of poses `qpos` (..., nq)."""
    qpos = np.asarray(qpos, np.float64)
    m = skel.load_mj_model()
    if qpos.shape[-1] != m.nq:
        raise ValueError(f"poses have {qpos.shape[-1]} coordinates, the skeleton {m.nq}")
    d = mujoco.MjData(m)
    index = skel.build_index(m)
    pairs = [(index.geom[a], index.geom[b])
             for a, b in itertools.product(skel.LEG_GEOMS["r"], skel.LEG_GEOMS["l"])]
    flat = qpos.reshape(-1, m.nq)
    depth = np.zeros(len(flat))
    for i, q in enumerate(flat):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        dist = min(mujoco.mj_geomDistance(m, d, g1, g2, _SEARCH_M, None) for g1, g2 in pairs)
        depth[i] = max(0.0, -dist)
    return depth.reshape(qpos.shape[:-1])


def overlap_steps(qpos: np.ndarray, fell: np.ndarray) -> dict[str, float]:
    """Steps with the legs overlapping deeper than OVERLAP_DEPTH_M, of a (E, T, nq) rollout.

    Steps that fall are left out (a fallen body's legs lie anywhere, and the fall is counted
    on its own); the share is of the other steps.
    """
    depth = overlap_depth(qpos)
    upright = ~np.asarray(fell, bool)
    crossed = (depth > OVERLAP_DEPTH_M) & upright
    return {
        "leg_overlap_steps": int(crossed.sum()),
        "leg_overlap_share": float(crossed.sum() / max(1, upright.sum())),
        "leg_overlap_max_cm": float(100.0 * depth[upright].max()) if upright.any() else 0.0,
    }
