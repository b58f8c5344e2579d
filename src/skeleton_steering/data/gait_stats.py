"""The demonstrations' gait, summarized small enough to travel inside a policy export.

Built from the demo clips (`from_clips`), each analysed by `gait_analysis` (straight strides
only), and kept as:

* per speed bin (strides grouped by speed into bins `SPEED_BIN` m/s wide): the mean of every
  stride value (`gait_analysis.STRIDE_FIELDS`), the 5th/95th percentile of every hinge joint's
  angle (deg) and its velocity RMS (rad/s) over the bin's stride frames, and the mean and sd of
  the gait-cycle curves. `at_speed(v)` interpolates them linearly between the bins around `v`
  (clamped at the ends): the demos at the policy's speed.
* the speed-cadence relation over all strides: cadence = a * speed^b, least squares in log-log
  space; when the strides span less than `MIN_FIT_SPAN` m/s the exponent is not identifiable
  and the fit is the constant mean cadence (b = 0).
* per discriminator feature group (`skeleton.features`), on (s, s') pairs of consecutive stride
  frames: the per-dimension mean and sd (the normalization) and the covariance of the
  normalized pairs, for a Frechet distance to another set of pairs (`frechet_to`).

`to_arrays` / `from_arrays` give the flat, validated form an export stores; `describe` the
small JSON part (version, joint names, stride count, speed range).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np
from scipy import linalg

from skeleton_steering.data import gait_analysis
from skeleton_steering.data.gait_analysis import CURVES, CYCLE_POINTS, STRIDE_FIELDS
from skeleton_steering.skeleton import features, kinematics
from skeleton_steering.skeleton import model as skel

VERSION = 1
SPEED_BIN = 0.2  # m/s
MIN_FIT_SPAN = 0.2  # m/s of stride speeds needed to fit the cadence exponent
# Per-dimension sd floor of the feature normalization: a dimension the demos hold still is
# measured in its own units (rad, m, m/s) instead of being blown up by 1 / ~0.
SCALE_FLOOR = 1e-2


class GaitStatsError(ValueError):
    """Demo gait statistics cannot be built, or stored ones are malformed."""


def _groups() -> dict[str, slice]:
    m = skel.load_mj_model()
    return features.feature_slices(m.nq, m.nv, len(skel.KEY_SITES))


@dataclasses.dataclass(frozen=True)
class AtSpeed:
    """The demos' gait interpolated at one speed."""

    speed: float
    extrapolated: bool  # outside the demos' bin speeds: the nearest bin's values
    values: dict[str, float]
    joint_p5: np.ndarray  # (J,) deg
    joint_p95: np.ndarray
    joint_vel_rms: np.ndarray  # (J,) rad/s
    curve_mean: np.ndarray  # (3, CYCLE_POINTS) deg
    curve_sd: np.ndarray


@dataclasses.dataclass(frozen=True)
class GaitStats:
    joints: tuple[str, ...]  # hinge joints, in qpos order
    bin_speed: np.ndarray  # (B,) mean stride speed of each bin, ascending
    bin_strides: np.ndarray  # (B,)
    bin_values: np.ndarray  # (B, len(STRIDE_FIELDS))
    joint_p5: np.ndarray  # (B, J) deg
    joint_p95: np.ndarray
    joint_vel_rms: np.ndarray  # (B, J) rad/s
    curve_mean: np.ndarray  # (B, 3, CYCLE_POINTS) deg
    curve_sd: np.ndarray
    cadence_fit: np.ndarray  # (2,): a, b of cadence = a * speed^b
    feature_mean: dict[str, np.ndarray]  # group -> (2d,) over (s, s')
    feature_scale: dict[str, np.ndarray]  # group -> (2d,)
    feature_cov: dict[str, np.ndarray]  # group -> (2d, 2d) of the normalized pairs

    @property
    def strides(self) -> int:
        return int(self.bin_strides.sum())

    @property
    def speed_range(self) -> tuple[float, float]:
        return float(self.bin_speed[0]), float(self.bin_speed[-1])

    def cadence_at(self, speed: float) -> float:
        """Steps per minute of the demos' speed-cadence fit at `speed` (m/s)."""
        a, b = self.cadence_fit
        return float(a * max(speed, 1e-6) ** b)

    def at_speed(self, speed: float) -> AtSpeed:
        lo, hi = self.speed_range
        v = float(np.clip(speed, lo, hi))
        i = int(np.clip(np.searchsorted(self.bin_speed, v) - 1, 0, len(self.bin_speed) - 1))
        j = min(i + 1, len(self.bin_speed) - 1)
        span = self.bin_speed[j] - self.bin_speed[i]
        w = 0.0 if span <= 0 else (v - self.bin_speed[i]) / span

        def mix(x: np.ndarray) -> np.ndarray:
            return (1.0 - w) * x[i] + w * x[j]

        values = dict(zip(STRIDE_FIELDS, (float(x) for x in mix(self.bin_values)), strict=True))
        return AtSpeed(float(speed), not lo - 1e-9 <= speed <= hi + 1e-9, values,
                       mix(self.joint_p5), mix(self.joint_p95), mix(self.joint_vel_rms),
                       mix(self.curve_mean), mix(self.curve_sd))

    def frechet_to(self, pairs: np.ndarray) -> dict[str, float]:
        """Frechet distance per feature group between `pairs` (N, 2F) and the demos' pairs,
        both normalized by the demos' mean and sd."""
        out = {}
        groups = _groups()
        half = pairs.shape[1] // 2
        for name, where in groups.items():
            cols = np.r_[where, half + np.arange(where.start, where.stop)]
            z = (pairs[:, cols] - self.feature_mean[name]) / self.feature_scale[name]
            mean, cov = _moments(z)
            out[name] = frechet_distance(mean, cov, np.zeros_like(mean), self.feature_cov[name])
        return out

    # -- storage ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The JSON part of the stored statistics (the arrays go with `to_arrays`)."""
        return {"version": VERSION, "joints": list(self.joints), "strides": self.strides,
                "speed_range_mps": list(self.speed_range), "speed_bin_mps": SPEED_BIN}

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: np.asarray(getattr(self, name), np.float32) for name in _BIN_ARRAYS}
        # Speeds and the fit exactly: they are what the JSON part and the matching quote.
        arrays["bin_speed"] = np.asarray(self.bin_speed, np.float64)
        arrays["cadence_fit"] = np.asarray(self.cadence_fit, np.float64)
        for kind in ("mean", "scale", "cov"):
            for group, value in getattr(self, f"feature_{kind}").items():
                arrays[f"feature_{kind}_{group}"] = np.asarray(value, np.float32)
        return arrays

    @staticmethod
    def from_arrays(description: Any, arrays: dict[str, np.ndarray], where: str) -> GaitStats:
        """Stored statistics, checked; `GaitStatsError` names `where` and the field."""
        version = description.get("version") if isinstance(description, dict) else None
        if version != VERSION:
            raise GaitStatsError(f"{where}: field 'gait_stats.version' is {version!r}; this "
                                 f"code reads gait statistics of version {VERSION}")
        joints = tuple(description.get("joints") or ())
        if joints != skel.HINGE_JOINTS:
            raise GaitStatsError(f"{where}: field 'joints' does not name this skeleton's hinge "
                                 "joints in order")
        n_joints = len(joints)

        def get(name: str, shape: tuple[int | None, ...]) -> np.ndarray:
            arr = arrays.get(name)
            if arr is None:
                raise GaitStatsError(f"{where}: array '{name}' is missing")
            arr = np.asarray(arr, np.float64)
            if arr.ndim != len(shape) or any(s is not None and s != n
                                              for s, n in zip(shape, arr.shape, strict=True)):
                raise GaitStatsError(f"{where}: array '{name}' has shape {arr.shape}, "
                                     f"expected {shape}")
            if not np.isfinite(arr).all():
                raise GaitStatsError(f"{where}: array '{name}' is not finite")
            return arr

        bins = get("bin_speed", (None,))
        n_bins = bins.shape[0]
        if n_bins == 0 or np.any(np.diff(bins) <= 0):
            raise GaitStatsError(f"{where}: array 'bin_speed' is empty or not ascending")
        shapes = {"bin_strides": (n_bins,), "bin_values": (n_bins, len(STRIDE_FIELDS)),
                  "joint_p5": (n_bins, n_joints), "joint_p95": (n_bins, n_joints),
                  "joint_vel_rms": (n_bins, n_joints),
                  "curve_mean": (n_bins, len(CURVES), CYCLE_POINTS),
                  "curve_sd": (n_bins, len(CURVES), CYCLE_POINTS)}
        parts = {name: get(name, shape) for name, shape in shapes.items()}
        feats: dict[str, dict[str, np.ndarray]] = {"mean": {}, "scale": {}, "cov": {}}
        for group, sl in _groups().items():
            d = 2 * (sl.stop - sl.start)
            feats["mean"][group] = get(f"feature_mean_{group}", (d,))
            feats["scale"][group] = get(f"feature_scale_{group}", (d,))
            feats["cov"][group] = get(f"feature_cov_{group}", (d, d))
            if np.any(feats["scale"][group] <= 0):
                raise GaitStatsError(f"{where}: array 'feature_scale_{group}' is not positive")
        return GaitStats(joints, bins, cadence_fit=get("cadence_fit", (2,)),
                         feature_mean=feats["mean"], feature_scale=feats["scale"],
                         feature_cov=feats["cov"], **parts)


_BIN_ARRAYS = ("bin_speed", "bin_strides", "bin_values", "joint_p5", "joint_p95",
               "joint_vel_rms", "curve_mean", "curve_sd")


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 0; zeros for a single sample) of rows `x` (N, d)."""
    mean = x.mean(axis=0)
    centred = x - mean
    return mean, centred.T @ centred / max(x.shape[0], 1)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """Frechet distance between Gaussians: |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2))."""
    root = linalg.sqrtm(cov1 @ cov2)
    root = np.real(root)  # round-off leaves tiny imaginary parts on (near) singular products
    value = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2.0 * root))
    return max(value, 0.0)


@functools.cache
def _batched_features() -> Any:
    import jax

    return jax.jit(jax.vmap(features.body_state_features))


def _features(qpos: np.ndarray, qvel: np.ndarray, key_pos: np.ndarray) -> np.ndarray:
    """`body_state_features` of every frame, padded to a power of two so that few shapes
    compile."""
    n = qpos.shape[0]
    size = 1 << max(n - 1, 1).bit_length()

    def pad(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.repeat(x[-1:], size - n, axis=0)]).astype(np.float32)

    return np.asarray(_batched_features()(pad(qpos), pad(qvel), pad(key_pos)))[:n]


def frame_pairs(stretches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                m: mujoco.MjModel | None = None) -> np.ndarray:
    """Discriminator features [s_t, s_t+1] (N, 2F) of the consecutive frames of each stretch
    (qpos (T, nq), qvel (T, nv), keep (T,) bool) that `keep` selects (t and t+1 both).

    The features are the environment's (`features.body_state_features`), from native forward
    kinematics, as the expert cache computes them.
    """
    m = m or skel.load_mj_model()
    width = features.feature_size(m.nq, m.nv, len(skel.KEY_SITES))
    qs, vs, firsts = [], [], []
    offset = 0
    for qpos, qvel, keep in stretches:
        keep = np.asarray(keep, dtype=bool)
        starts = np.flatnonzero(keep[:-1] & keep[1:])
        if starts.size == 0:
            continue
        used = np.union1d(starts, starts + 1)
        qs.append(np.asarray(qpos[used], np.float64))
        vs.append(np.asarray(qvel[used], np.float64))
        firsts.append(offset + np.searchsorted(used, starts))
        offset += used.size
    if not qs:
        return np.zeros((0, 2 * width), np.float32)
    qpos, qvel, first = np.concatenate(qs), np.concatenate(vs), np.concatenate(firsts)
    fk = kinematics.forward_kinematics(m, qpos, fields=("site_xpos",))
    feats = _features(qpos, qvel, fk["site_xpos"][:, skel.default_index().key_sites])
    return np.concatenate([feats[first], feats[first + 1]], axis=1)


def _bins(speeds: np.ndarray) -> np.ndarray:
    return np.floor(speeds / SPEED_BIN + 0.5).astype(np.int64)


def hinge_angles_deg(qpos: np.ndarray) -> np.ndarray:
    return np.degrees(np.asarray(qpos)[:, skel.default_index().hinge_qpos])


def hinge_velocities(qvel: np.ndarray) -> np.ndarray:
    return np.asarray(qvel)[:, skel.default_index().hinge_qvel]


def from_clips(clips: Sequence[tuple[np.ndarray, np.ndarray]], rate: float) -> GaitStats:
    """Statistics of demo clips, each (qpos (T, nq), qvel (T, nv)) at `rate` Hz.

    Raises `GaitStatsError` when no clip holds a straight walking stride.
    """
    m = skel.load_mj_model()
    per_clip = [gait_analysis.analyze(q, rate, m) for q, _ in clips]
    strides = gait_analysis.Strides.join(per_clip)
    if strides.count == 0:
        raise GaitStatsError("the demonstrations hold no straight walking stride "
                             f"({len(clips)} clip(s)); no gait to compare with")
    speeds = strides.values["speed"]
    labels = _bins(speeds)
    rows: dict[str, list[np.ndarray]] = {name: [] for name in _BIN_ARRAYS}
    for label in np.unique(labels):
        sel = labels == label
        angles, velocities = [], []
        for c, (q, v) in enumerate(clips):
            mask = strides.frames(c, q.shape[0], sel)
            angles.append(hinge_angles_deg(q[mask]))
            velocities.append(hinge_velocities(v[mask]))
        a, w = np.concatenate(angles), np.concatenate(velocities)
        rows["bin_speed"].append(np.array(speeds[sel].mean()))
        rows["bin_strides"].append(np.array(sel.sum()))
        rows["bin_values"].append(np.array([np.nanmean(strides.values[k][sel])
                                            for k in STRIDE_FIELDS]))
        rows["joint_p5"].append(np.percentile(a, 5, axis=0))
        rows["joint_p95"].append(np.percentile(a, 95, axis=0))
        rows["joint_vel_rms"].append(np.sqrt(np.mean(w**2, axis=0)))
        rows["curve_mean"].append(strides.curves[sel].mean(axis=0))
        rows["curve_sd"].append(strides.curves[sel].std(axis=0))
    binned = {k: np.stack(v).astype(np.float64) for k, v in rows.items()}
    pairs = frame_pairs([(q, v, strides.frames(c, q.shape[0])) for c, (q, v) in enumerate(clips)],
                        m)
    mean, scale, cov = {}, {}, {}
    half = pairs.shape[1] // 2
    for name, where in _groups().items():
        cols = np.r_[where, half + np.arange(where.start, where.stop)]
        x = pairs[:, cols].astype(np.float64)
        mean[name] = x.mean(axis=0)
        scale[name] = np.maximum(x.std(axis=0), SCALE_FLOOR)
        _, cov[name] = _moments((x - mean[name]) / scale[name])
    return GaitStats(skel.HINGE_JOINTS, cadence_fit=cadence_fit(speeds, strides.values["cadence"]),
                     feature_mean=mean, feature_scale=scale, feature_cov=cov, **binned)


def cadence_fit(speeds: np.ndarray, cadences: np.ndarray) -> np.ndarray:
    """(a, b) of cadence = a * speed^b over strides; b = 0 when the speeds span too little."""
    if np.ptp(speeds) < MIN_FIT_SPAN:
        return np.array([float(np.mean(cadences)), 0.0])
    b, log_a = np.polyfit(np.log(speeds), np.log(cadences), 1)
    return np.array([float(np.exp(log_a)), float(b)])
