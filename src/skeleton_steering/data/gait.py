"""Normative adult gait: joint-angle curves over the gait cycle and the timing of a stride.

Curves are Fourier series fitted (least squares) to group-mean normative kinematics at natural
cadence, digitized as keypoints rounded to about a degree: pelvic obliquity, rotation and tilt
after Kadaba et al. (J Orthop Res 8:383, 1990) and Perry & Burnfield (Gait Analysis, 2nd ed.,
2010); shoulder flexion/abduction and elbow flexion after Collins et al. (Proc R Soc B 276:3679,
2009) and Meyns et al. (J Biomech 46:2373, 2013); trunk motion relative to the pelvis after
Crosbie et al. (Gait Posture 5:6, 1997). The phase is the right leg's, in cycles from its heel
strike. Forearm and wrist motion in gait is small and not standardized; it is modelled as a
few degrees coupled to the arm swing (see `sample`). Leg angles are not prescribed here: the
sample generator derives them from foot placement (so the stance foot stays planted), and they
are compared with Winter's sagittal curves (`WINTER_SAGITTAL`) in its tests.
"""

from __future__ import annotations

from functools import cache

import numpy as np

# Keypoints: (percent of the gait cycle from right heel strike, degrees).
NORMATIVE: dict[str, tuple[tuple[float, float], ...]] = {
    "pelvis_obliquity": ((0, 0), (10, 3), (20, 4), (30, 3), (40, 1), (50, 0), (60, -3),
                         (70, -4), (80, -3), (90, -1)),  # right side up +
    "pelvis_rotation": ((0, 4), (12.5, 3), (25, 0), (37.5, -3), (50, -4), (62.5, -3),
                        (75, 0), (87.5, 3)),  # right side forward +
    "pelvis_tilt": ((0, 0), (12.5, 1.5), (25, 0), (37.5, -1.5), (50, 0), (62.5, 1.5),
                    (75, 0), (87.5, -1.5)),  # anterior +
    # The right arm swings with the left leg: back at right heel strike, forward at left.
    "shoulder_flexion": ((0, -16), (15, -12), (30, -3), (45, 7), (55, 8), (70, 0),
                         (85, -10)),
    # Abduction rises a little as the arm passes the trunk backwards (clearing the hip).
    "shoulder_abduction": ((0, 18), (25, 15), (50, 14), (75, 17)),
    "elbow_flexion": ((0, 22), (25, 30), (50, 40), (75, 30)),
    # Trunk relative to the pelvis: counter-rotation, and a small forward flexion after each
    # heel strike (the loading response of the trunk).
    "lumbar_rotation": ((0, -13), (25, 0), (50, 13), (75, 0)),
    "lumbar_flexion": ((0, 0), (12.5, 5), (25, 0), (37.5, -4), (50, 0), (62.5, 5),
                       (75, 0), (87.5, -4)),
}
HARMONICS = {"shoulder_flexion": 2, "shoulder_abduction": 1, "elbow_flexion": 2,
             "lumbar_rotation": 1}
DEFAULT_HARMONICS = 2

# Winter (2009), sagittal joint angles at natural cadence, degrees, for comparison: hip
# flexion relative to the pelvis, knee flexion, ankle dorsiflexion; (percent, degrees).
WINTER_SAGITTAL: dict[str, tuple[tuple[float, float], ...]] = {
    "hip_flexion": ((0, 30), (20, 19), (40, 2), (55, -8), (70, 13), (85, 31), (95, 31)),
    "knee_flexion": ((0, 4), (15, 18), (40, 4), (60, 35), (73, 61), (90, 23)),
    "ankle_dorsiflexion": ((0, 0), (8, -5), (40, 10), (62, -18), (75, 2), (90, 2)),
}


def _basis(phase: np.ndarray, harmonics: int) -> np.ndarray:
    cols = [np.ones_like(phase)]
    for h in range(1, harmonics + 1):
        cols += [np.cos(2 * np.pi * h * phase), np.sin(2 * np.pi * h * phase)]
    return np.stack(cols, axis=-1)


@cache
def _fourier(name: str) -> np.ndarray:
    """Coefficients [a0, a1, b1, ..., aH, bH] of the curve `name` (degrees, phase in cycles)."""
    points = np.array(NORMATIVE[name], dtype=float)
    basis = _basis(points[:, 0] / 100.0, HARMONICS.get(name, DEFAULT_HARMONICS))
    coef, *_ = np.linalg.lstsq(basis, points[:, 1], rcond=None)
    return coef


def curve(name: str, phase: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Fitted normative curve `name` in radians at `phase` (cycles); `gain` scales it about
    its mean."""
    coef = _fourier(name)
    harmonics = (len(coef) - 1) // 2
    values = _basis(np.asarray(phase, dtype=float), harmonics) @ coef
    return np.deg2rad(coef[0] + gain * (values - coef[0]))


def stride_frequency(speed: float) -> float:
    """Strides per second at `speed` m/s (close to measured cadence-speed relations: about 107
    steps/min at 1.2 m/s)."""
    return 0.35 + 0.45 * speed


def stance_fraction(speed: float) -> float:
    """Share of the cycle a foot is on the floor: about 62 % at 1.2 m/s, less when faster."""
    return float(np.clip(0.66 - 0.035 * speed, 0.58, 0.65))


def min_jerk(u: np.ndarray) -> np.ndarray:
    """The minimum-jerk blend 0 -> 1 on u in [0, 1] (zero velocity and acceleration at both
    ends), clipped outside."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)
