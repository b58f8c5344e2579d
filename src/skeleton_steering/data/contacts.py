"""Foot contacts: stance phases read from the source, and planting our feet where it says so.

Stance (per foot, per frame) comes from the source geometry, the SMPL template posed by the
clip (`smpl_template.posed_joints`): a foot is planted while its ankle or its toe joint is low
(within `height` of that joint's lowest level in the clip, so the floor needs no calibration)
and slow (horizontal speed below `speed`). The source's own skating is the mean horizontal
speed of the planted joint (the lower of the two) over its stance frames.

Planting (`plant_feet`) moves only the root: per frame it finds the horizontal shift that keeps
each stance foot's lowest sole corner where it was when it became the supporting corner, and
the vertical shift that puts that corner on the floor. While both feet are down the shifts are
blended with weights that ramp from 0 at a touchdown and to 0 at a lift-off (`ramp` s), so the
root path stays continuous; between stance phases the vertical shift is interpolated and the
horizontal one held. The pins (`Planting.targets`) are what `ik.pin_feet` then pulls each
stance foot onto, for the part the root cannot fix (two feet down at once).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from skeleton_steering.data import smpl_template as st
from skeleton_steering.data.feasibility import lowpass

_FOOT_JOINTS = {"r": ("r_ankle", "r_foot"), "l": ("l_ankle", "l_foot")}
SIDES = ("r", "l")  # our foot order: right, left (as kinematics.foot_corners)


@dataclasses.dataclass(frozen=True)
class ContactConfig:
    """Stance detection and planting settings."""

    height: float = 0.05  # m above the joint's lowest level in the clip
    speed: float = 0.35  # m/s horizontal
    cutoff_hz: float = 6.0  # low-pass of joint paths before differentiating
    ramp: float = 0.1  # s: weight ramp at touchdown / lift-off
    root_cutoff_hz: float = 3.0  # low-pass of the root's horizontal planting shift


@dataclasses.dataclass(frozen=True)
class SourceContacts:
    stance: np.ndarray  # (T, 2) bool, right / left
    skating_cm_s: float  # mean speed of the planted source joint over stance frames


def source_contacts(
    joints: np.ndarray, rate: float, config: ContactConfig | None = None
) -> SourceContacts:
    """Stance of each foot from posed source joints (T, 22, 3), Z-up world, at `rate` Hz."""
    config = config or ContactConfig()
    frames = joints.shape[0]
    stance = np.zeros((frames, 2), dtype=bool)
    speeds: list[np.ndarray] = []
    for f, side in enumerate(SIDES):
        idx = [st.JOINT_INDEX[n] for n in _FOOT_JOINTS[side]]
        path = joints[:, idx]  # (T, 2, 3): ankle, toe
        height = path[..., 2] - np.percentile(path[..., 2], 2, axis=0)
        if frames >= 3:
            smooth = lowpass(path[..., :2], rate, config.cutoff_hz)
            speed = np.linalg.norm(np.gradient(smooth, 1.0 / rate, axis=0), axis=-1)
        else:
            speed = np.zeros((frames, 2))
        planted = (height < config.height) & (speed < config.speed)  # (T, 2)
        stance[:, f] = planted.any(axis=1)
        lower = np.argmin(np.where(planted, height, np.inf), axis=1)
        raw = np.linalg.norm(np.gradient(path[..., :2], 1.0 / rate, axis=0), axis=-1) \
            if frames >= 2 else np.zeros((frames, 2))
        speeds.append(raw[np.arange(frames), lower][stance[:, f]])
    both = np.concatenate(speeds)
    return SourceContacts(stance, float(both.mean() * 100.0) if both.size else 0.0)


def _weights(stance: np.ndarray, ramp_frames: int) -> np.ndarray:
    """(T, 2) blend weights: 1 inside a stance phase, ramping to 0 at its ends."""
    frames = stance.shape[0]
    w = np.zeros(stance.shape)
    for f in range(stance.shape[1]):
        s = stance[:, f]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], s.astype(int), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):  # [a, b) is one stance phase
            t = np.arange(a, b)
            # The clip's own ends are no touchdown or lift-off: no ramp there.
            up = np.inf if a == 0 else (t - a + 1) / ramp_frames
            down = np.inf if b == frames else (b - t) / ramp_frames
            w[a:b, f] = np.minimum(1.0, np.minimum(up, down))
    return w


@dataclasses.dataclass(frozen=True)
class Planting:
    root: np.ndarray  # (T, 3) corrected root positions
    targets: np.ndarray  # (T, 2, 3) where each stance foot's supporting corner is pinned
    corner: np.ndarray  # (T, 2) int: which sole corner supports (-1: foot not in stance)


def plant_feet(
    root: np.ndarray, corners: np.ndarray, stance: np.ndarray, rate: float,
    config: ContactConfig | None = None,
) -> Planting:
    """Root positions corrected so stance feet neither slide nor float, and the pins.

    `root` (T, 3) is the uncorrected root path, `corners` (T, 2, 4, 3) the sole corners
    relative to the root (world axes), `stance` (T, 2) the source's stance flags.
    """
    config = config or ContactConfig()
    frames = root.shape[0]
    w = _weights(stance, max(1, round(config.ramp * rate)))
    shift_xy = np.zeros((frames, 2))
    shift_z = np.full(frames, np.nan)
    anchor = np.zeros((2, 2))
    corner = np.full(2, -1)
    prev = np.zeros(2)
    targets = np.zeros((frames, 2, 3))
    chosen = np.full((frames, 2), -1)
    for t in range(frames):
        want_xy, want_z, weight = np.zeros(2), 0.0, 0.0
        for f in range(2):
            if not stance[t, f]:
                corner[f] = -1
                continue
            k = int(np.argmin(corners[t, f, :, 2]))
            point = root[t, :2] + corners[t, f, k, :2]
            if k != corner[f]:  # new supporting corner: pin it where it is now
                anchor[f] = point + prev
                corner[f] = k
            targets[t, f, :2] = anchor[f]
            chosen[t, f] = k
            want_xy += w[t, f] * (anchor[f] - point)
            want_z += w[t, f] * -(root[t, 2] + corners[t, f, k, 2])
            weight += w[t, f]
        if weight > 0:
            prev = want_xy / weight
            shift_z[t] = want_z / weight
        shift_xy[t] = prev
    known = np.flatnonzero(~np.isnan(shift_z))
    if known.size:
        shift_z = np.interp(np.arange(frames), known, shift_z[known])
    else:
        shift_z = np.zeros(frames)
    # The pins stay exact (the legs reach them, `ik.pin_feet`); the root only has to be
    # near, so its shift is smoothed: kinks at every heel-to-toe switch would otherwise show
    # as centre-of-mass accelerations no floor could produce.
    # Heights are left as they are: a jump's flight needs its sharp landings.
    shift = np.column_stack([lowpass(shift_xy, rate, config.root_cutoff_hz), shift_z])
    return Planting(root + shift, targets, chosen)
