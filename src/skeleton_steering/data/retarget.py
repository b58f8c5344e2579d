"""Retargeting AMASS/KIT clips onto the skeleton: SMPL body pose -> qpos/qvel, with QA.

Method: a hybrid, chosen by measurement over keypoint IK. The joint angles come from the
source geometry, the SMPL template posed by the clip (`pose_fit`: segment directions matched
joint by joint, so SMPL's rest pose - flexed knees, toe-out, abducted thighs, T-pose arms - is
in the targets and not copied into our angles); then the feet are kept where the source plants
them (`contacts`: stance from the source's foot height and speed, the root shifted to hold
each stance foot, `ik.pin_feet` for what the root cannot hold while both feet are down).
Measured on the real AMASS development clips (4 ACCAD walks/turns at 120 Hz, an SMPL-H
jumping-jacks sample) on a 2-core machine: this method runs at about 3,300 source frames/s on
one core, keeps all 5 clips, matches thigh, shank and upper-arm directions within 0-3 deg
(median) and adds no foot skating (output 1.8-5.7 cm/s where the source's own planted feet
move 5-10). A full-body keypoint IK prototype on the same MuJoCo model (15 key points, damped
least squares, 8 iterations a frame) ran at 440 output frames/s (1,060 source frames/s), at
the 1,000 floor, and fitting positions with our proportions (other pelvis width, leg and
foot lengths) trades away exactly the angles the discriminator compares; so IK is used only
where positions are the point, the stance feet, and there with a few degrees of freedom.

Per clip:
1. Resample to the output rate first (environment control rate by default): SMPL joint
   rotations by SLERP, translation linearly. Fewer frames make every later step cheaper.
2. Fit hinge angles and the pelvis orientation (`pose_fit.fit_pose`), within the joint
   ranges; values that had to be clipped are counted and reported.
3. Ground and scale: forward kinematics with the root at the origin gives, per frame, the
   height z_fk at which the lowest foot-box corner touches the floor. The scale is
   median(z_fk) / median(source pelvis height): the ratio of our leg geometry to the
   subject's, applied to the horizontal path so stride length matches our legs; the start
   height is the scaled source height + c, with c the 5th percentile of (z_fk - scaled
   height).
4. Contacts: stance from the source (`contacts.source_contacts`); the root is shifted so
   stance soles stay put and touch the floor (`contacts.plant_feet`), the legs pull stance
   feet onto their pins (bounded IK), and no foot goes below the floor anywhere.
5. Velocities by central differences of the resampled positions (`resample.qvel_from_qpos`).
6. QA: foot penetration (max / mean, cm); foot skating of the output (speed of a foot's
   lowest corner while it is within `contact_height` of the floor and the source foot is in
   stance, cm/s) next to the source's own (its planted ankle or toe), the threshold applying
   to the difference; physical feasibility (`feasibility`: COM horizontal acceleration and
   friction demand p95); share of joint values clipped; root height range. A clip over a
   threshold is dropped with the reason. The QA of every clip is written beside the output
   as `<stem>_qa.json`.

What drops a clip is what the retargeting broke (skating beyond the source's, penetration,
clipped joints) or what no body on a floor can do (COM acceleration, friction demand); how a
person chose to move is never a reason. The root speed's variation within strides is
reported but drops nothing: starting, stopping and turning vary it by far more than steady
walking's +-15 % (real ACCAD walk-to-stand and turn-around clips: over 60 %). The bundled
sample's steady gait is held to that bound by its own tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from rich.console import Console
from scipy.spatial.transform import Rotation

from skeleton_steering.config import to_dict
from skeleton_steering.data import resample as rs
from skeleton_steering.data import smpl_template
from skeleton_steering.data.amass import AmassClip, AmassFormatError, read_clip
from skeleton_steering.data.contacts import plant_feet, source_contacts
from skeleton_steering.data.feasibility import feasibility_qa
from skeleton_steering.data.ik import foot_point_local, pin_feet
from skeleton_steering.data.kit_extract import MANIFEST_VERSION, sha256_of
from skeleton_steering.data.pose_fit import fit_pose
from skeleton_steering.data.trajectory import Trajectory, from_clips, save_trajectory
from skeleton_steering.io_utils import atomic_write_text
from skeleton_steering.progress import track
from skeleton_steering.skeleton import kinematics
from skeleton_steering.skeleton import model as skel
from skeleton_steering.skeleton.physics import PhysicsConfig

# SMPL's pelvis joint in its template (betas = 0), metres: AMASS puts the pelvis joint at
# trans + this offset (it is not rotated by root_orient).
SMPL_PELVIS_OFFSET = np.array(smpl_template.PELVIS_REST)


class RetargetError(ValueError):
    """A clip or manifest cannot be retargeted; the message names the file."""


@dataclasses.dataclass(frozen=True)
class RetargetConfig:
    """Output rate and QA thresholds (a clip over any threshold is dropped)."""

    # Output frequency in Hz; 0 means the environment's control rate.
    frequency: float = 0.0
    # A foot whose lowest corner stays this close to the floor (m) over a frame step counts
    # as in contact for the skating metric.
    contact_height: float = 0.01
    max_penetration_cm: float = 1.0
    # Absolute cap on the output's foot skating (cm/s) ...
    max_skating_cm_s: float = 20.0
    # ... and the skating retargeting may add to the source's own (output - source, cm/s).
    max_added_skating_cm_s: float = 3.0
    max_clipped_share: float = 0.05
    # Physical feasibility (see `feasibility`): p95 of the COM's horizontal acceleration (g)
    # and of the friction demand (the floor's friction is 1.0: keep a margin). Measured on
    # real AMASS clips: walks, turns and a start from standing 0.24-0.28 g, 0.24-0.26;
    # jumping jacks 0.52 g, 0.51.
    max_com_acc_g: float = 0.6
    max_friction_demand: float = 0.7
    root_height_range: tuple[float, float] = (0.6, 1.3)
    min_frames: int = 10

    def validate(self) -> None:
        if not 0 <= self.frequency <= rs.MAX_FREQUENCY:  # also false for nan
            raise ValueError(f"frequency must be 0..{rs.MAX_FREQUENCY:g} Hz (0 = control rate), "
                             f"got {self.frequency}")
        if self.contact_height <= 0:
            raise ValueError("contact_height must be positive")
        thresholds = (self.max_penetration_cm, self.max_skating_cm_s,
                      self.max_added_skating_cm_s, self.max_clipped_share, self.max_com_acc_g,
                      self.max_friction_demand)
        if min(thresholds) < 0:
            raise ValueError("QA thresholds must be >= 0")
        lo, hi = self.root_height_range
        if not 0 < lo < hi:
            raise ValueError(f"root_height_range must satisfy 0 < low < high, got {(lo, hi)}")
        if self.min_frames < 2:
            raise ValueError("min_frames must be >= 2")

    def output_frequency(self) -> float:
        if self.frequency > 0:
            return self.frequency
        # The timestep is 1/150 s rounded to 0.0066667; the intended rate is 50 Hz.
        return round(1.0 / PhysicsConfig().control_dt, 2)


@dataclasses.dataclass(frozen=True)
class RetargetResult:
    qpos: np.ndarray  # (T, 34)
    qvel: np.ndarray  # (T, 33)
    qa: dict[str, Any]


def _rotations(rotvec: np.ndarray, rate: float, times: np.ndarray) -> np.ndarray:
    """Axis-angle (T, J, 3) -> SLERP-resampled quaternions (T', J, 4) xyzw."""
    frames, joints = rotvec.shape[:2]
    quat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(frames, joints, 4)
    return rs.interp_quat(quat, rate, times)


def source_geometry(clip: AmassClip, config: RetargetConfig | None = None) -> np.ndarray:
    """The source's joints (T, 22, 3) at the output rate: the SMPL template posed by the clip
    (world frame, `smpl_template.posed_joints`), resampled exactly as `retarget_clip` does."""
    config = config or RetargetConfig()
    root, body, trans = _resampled(clip, config.output_frequency())
    return smpl_template.posed_joints(root, body, trans)


def _resampled(clip: AmassClip, rate: float) -> tuple[Rotation, list[Rotation], np.ndarray]:
    times = rs.time_grid(clip.frames, clip.rate, rate)
    rot = np.concatenate([clip.root_orient[:, None], clip.body_pose], axis=1)
    quat = _rotations(rot, clip.rate, times)
    trans = rs.interp_linear(clip.trans, clip.rate, times)
    root = Rotation.from_quat(quat[:, 0])
    body = [root] + [Rotation.from_quat(quat[:, j]) for j in range(1, quat.shape[1])]
    return root, body, trans


def foot_qa(
    corners: np.ndarray, dt: float, contact_height: float, stance: np.ndarray | None = None
) -> dict[str, float]:
    """Penetration and skating of the feet from their sole corners (T, 2, 4, 3), world frame.

    With `stance` (T, 2), the source's stance flags, skating counts only the frames where the
    source foot is planted too (`skating_all_cm_s` keeps every low-foot frame, for information:
    it includes a heel that grazes the floor just before the source's touchdown).
    """
    lowest = corners[..., 2].min(axis=(1, 2))
    pen = np.maximum(0.0, -lowest) * 100.0
    idx = corners[..., 2].argmin(axis=2)  # (T, 2) lowest corner of each foot
    frames = corners.shape[0]
    t = np.arange(frames - 1)[:, None]
    f = np.arange(2)[None, :]
    c = idx[:-1]
    here = corners[t, f, c]  # (T-1, 2, 3) the lowest corner now ...
    there = corners[t + 1, f, c]  # ... and the same corner one frame later
    contact = (here[..., 2] < contact_height) & (there[..., 2] < contact_height)
    speed = np.linalg.norm(there[..., :2] - here[..., :2], axis=-1) / dt * 100.0
    every = speed[contact]
    if stance is not None:
        contact = contact & stance[:-1] & stance[1:]
    skate = speed[contact]
    return {
        "skating_all_cm_s": float(every.mean()) if every.size else 0.0,
        "penetration_max_cm": float(pen.max()) + 0.0,  # + 0.0 turns -0.0 into 0.0
        "penetration_mean_cm": float(pen.mean()) + 0.0,
        "skating_mean_cm_s": float(skate.mean()) if skate.size else 0.0,
        "skating_p95_cm_s": float(np.percentile(skate, 95)) if skate.size else 0.0,
        "contact_share": float(contact.mean()) if contact.size else 0.0,
    }


def retarget_clip(
    clip: AmassClip, config: RetargetConfig | None = None, m: mujoco.MjModel | None = None
) -> RetargetResult:
    """qpos/qvel of `clip` on the skeleton at the configured rate, with its QA metrics.

    Raises `RetargetError` when the clip is too short or its root height is implausible.
    """
    config = config or RetargetConfig()
    m = m or skel.load_mj_model()
    rate = config.output_frequency()
    dt = 1.0 / rate
    times = rs.time_grid(clip.frames, clip.rate, rate)
    if len(times) < config.min_frames:
        raise RetargetError(
            f"{clip.path}: {len(times)} frames at {rate:g} Hz, fewer than min_frames "
            f"({config.min_frames})"
        )
    root, body, trans = _resampled(clip, rate)
    fit = fit_pose(root, body)
    source = smpl_template.posed_joints(root, body, trans)
    contacts = source_contacts(source, rate)

    count = len(times)
    qpos = np.zeros((count, m.nq))
    qpos[:, 3:7] = fit.root_quat
    qpos[:, 7:] = fit.angles
    fk = kinematics.forward_kinematics(m, qpos, fields=("geom_xpos", "geom_xmat"))
    corners = kinematics.foot_corners(m, fk["geom_xpos"], fk["geom_xmat"])
    z_fk = -corners[..., 2].min(axis=(1, 2))

    pelvis = trans + SMPL_PELVIS_OFFSET
    src_height = float(np.median(pelvis[:, 2]))
    if not src_height > 0.2:
        raise RetargetError(
            f"{clip.path}: field 'trans': median pelvis height {src_height:.2f} m is not that "
            "of a standing subject (expected AMASS's Z-up world in metres)"
        )
    scale = float(np.median(z_fk)) / src_height
    height = scale * pelvis[:, 2]
    lift = float(np.percentile(z_fk - height, 5))
    path = np.column_stack([scale * (pelvis[:, 0:2] - pelvis[0, 0:2]), height + lift])
    planting = plant_feet(path, corners, contacts.stance, rate)
    qpos[:, 0:3] = planting.root
    qpos = _pin_stance_feet(m, qpos, planting, contacts.stance, rate)
    qpos[:, 0:3] = 0.0
    fk = kinematics.forward_kinematics(m, qpos, fields=("geom_xpos", "geom_xmat"))
    corners = kinematics.foot_corners(m, fk["geom_xpos"], fk["geom_xmat"])
    qpos[:, 0:2] = planting.root[:, 0:2]
    # Planting puts stance soles on the floor; no foot may go below it in between.
    qpos[:, 2] = np.maximum(planting.root[:, 2], -corners[..., 2].min(axis=(1, 2)))
    qvel = rs.qvel_from_qpos(qpos, dt)

    corners = corners + qpos[:, None, None, 0:3]
    feet = foot_qa(corners, dt, config.contact_height, contacts.stance)
    qa = {
        "frames_in": clip.frames,
        "rate_in": clip.rate,
        "frames": count,
        "frequency": rate,
        "duration_s": (count - 1) * dt,
        "scale": scale,
        **feet,
        "skating_source_cm_s": contacts.skating_cm_s,
        "skating_added_cm_s": feet["skating_mean_cm_s"] - contacts.skating_cm_s,
        "source_stance_share": float(contacts.stance.mean()),
        **feasibility_qa(m, qpos, rate),
        "clipped_share": float(fit.clipped.mean()),
        "clipped_joints": {
            skel.HINGE_JOINTS[j]: int(n) for j, n in enumerate(fit.clipped.sum(axis=0)) if n
        },
        "root_height_min_m": float(qpos[:, 2].min()),
        "root_height_max_m": float(qpos[:, 2].max()),
        "mean_speed_m_s": float(np.linalg.norm(qpos[-1, :2] - qpos[0, :2]) / max(
            (count - 1) * dt, dt)),
    }
    return RetargetResult(qpos=qpos, qvel=qvel, qa=qa)


def _pin_stance_feet(m: mujoco.MjModel, qpos: np.ndarray, planting, stance: np.ndarray,
                     rate: float) -> np.ndarray:
    """Legs adjusted by IK so stance feet stay on their pins; the adjustment fades out over
    0.1 s after each lift-off (it is zero at touchdown by construction) so no joint jumps."""
    corner_local = np.zeros((qpos.shape[0], 2, 3))
    for f in range(2):
        live = planting.corner[:, f] >= 0
        corner_local[live, f] = foot_point_local(m, f, planting.corner[live, f])
    pinned = pin_feet(m, qpos, corner_local, planting.targets, stance.astype(float))
    delta = pinned - qpos
    fade = max(1, round(0.1 * rate))
    for f, cols in enumerate(_leg_qpos(m)):
        ends = np.flatnonzero(stance[:-1, f] & ~stance[1:, f])  # last stance frame
        for end in ends:
            for i in range(1, fade + 1):
                t = end + i
                if t >= len(qpos) or stance[t, f]:
                    break
                delta[t, cols] = delta[end, cols] * (1.0 - i / (fade + 1))
    return qpos + delta


def _leg_qpos(m: mujoco.MjModel) -> list[np.ndarray]:
    index = skel.build_index(m)
    return [np.array([index.joint_qpos[f"{n}_{side}"] for n in
                      ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle")])
            for side in ("r", "l")]


def qa_failures(qa: dict[str, Any], config: RetargetConfig) -> list[str]:
    """Reasons a clip's QA fails the thresholds (empty when it passes)."""
    reasons = []
    if qa["penetration_max_cm"] > config.max_penetration_cm:
        reasons.append(f"foot penetration {qa['penetration_max_cm']:.2f} cm > "
                       f"{config.max_penetration_cm} cm")
    if qa["skating_mean_cm_s"] > config.max_skating_cm_s:
        reasons.append(f"foot skating {qa['skating_mean_cm_s']:.1f} cm/s > "
                       f"{config.max_skating_cm_s} cm/s")
    if qa["skating_added_cm_s"] > config.max_added_skating_cm_s:
        reasons.append(f"foot skating {qa['skating_mean_cm_s']:.1f} cm/s is "
                       f"{qa['skating_added_cm_s']:.1f} cm/s over the source's "
                       f"{qa['skating_source_cm_s']:.1f} (> {config.max_added_skating_cm_s})")
    if qa["com_acc_p95_g"] > config.max_com_acc_g:
        reasons.append(f"COM horizontal acceleration p95 {qa['com_acc_p95_g']:.2f} g > "
                       f"{config.max_com_acc_g} g")
    if qa["friction_demand_p95"] > config.max_friction_demand:
        reasons.append(f"friction demand p95 {qa['friction_demand_p95']:.2f} > "
                       f"{config.max_friction_demand}")
    if qa["clipped_share"] > config.max_clipped_share:
        reasons.append(f"{100 * qa['clipped_share']:.1f}% of joint values clipped > "
                       f"{100 * config.max_clipped_share:.1f}%")
    lo, hi = config.root_height_range
    if qa["root_height_min_m"] < lo or qa["root_height_max_m"] > hi:
        reasons.append(f"root height {qa['root_height_min_m']:.2f}..{qa['root_height_max_m']:.2f}"
                       f" m outside {lo}..{hi} m")
    return reasons


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest written by `extract`, checked for the fields retargeting needs."""
    path = Path(path)
    if not path.is_file():
        raise RetargetError(f"{path}: manifest not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RetargetError(f"{path}: not valid JSON ({err})") from err
    version = data.get("version", MANIFEST_VERSION) if isinstance(data, dict) else None
    if isinstance(data, dict) and version != MANIFEST_VERSION:
        raise RetargetError(f"{path}: field 'version' is {version!r}; this version of retarget "
                            f"reads manifest version {MANIFEST_VERSION} (rerun extract)")
    clips = data.get("clips") if isinstance(data, dict) else None
    if not isinstance(clips, list):
        raise RetargetError(f"{path}: field 'clips' missing or not a list")
    for i, clip in enumerate(clips):
        if not isinstance(clip, dict) or not isinstance(clip.get("path"), str):
            raise RetargetError(f"{path}: field 'clips[{i}].path' missing or not a string")
    return data


def qa_path(out: str | Path) -> Path:
    """Where the QA report of a retargeted trajectory is written."""
    out = Path(out)
    return out.with_name(f"{out.stem}_qa.json")


def failed_qa_path(out: str | Path) -> Path:
    """Where the QA report goes when no clip was kept (named so, never taken for a result)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_qa.failed.json")


def _why_none_kept(rows: list[dict[str, Any]]) -> str:
    missing = [r["path"] for r in rows if str(r.get("reason", "")).endswith("file not found")]
    if missing:
        return (f"{len(missing)} of {len(rows)} clip files not found (first: {missing[0]}; "
                "paths are relative to the manifest)")
    if not rows:
        return "the manifest lists no clip"
    return f"{len(rows)} clips dropped (first: {rows[0]['path']}: {rows[0]['reason']})"


def retarget_manifest(
    manifest: str | Path, out: str | Path, config: RetargetConfig | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Retarget every clip of an `extract` manifest into one trajectory file at `out`.

    Writes `out` (kept clips, concatenated) and `<stem>_qa.json` beside it (per-clip QA, dropped
    clips with reasons, summary), the two together or neither; returns the QA report. One bad
    clip never stops the run; when no clip is kept, raises `RetargetError` naming the reason
    and the report, written as `<stem>_qa.failed.json` (`out` and `_qa.json` untouched).
    """
    config = config or RetargetConfig()
    console = console or Console(stderr=True)
    manifest = Path(manifest)
    data = read_manifest(manifest)
    m = skel.load_mj_model()
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for entry in track(data["clips"], "retarget clips", console=console):
        rel = entry["path"]
        path = manifest.parent / rel
        row: dict[str, Any] = {"path": rel}
        try:
            if not path.is_file():
                raise RetargetError(f"{path}: file not found")
            if entry.get("sha256") and sha256_of(path) != entry["sha256"]:
                raise RetargetError(f"{path}: sha256 differs from the manifest (file changed)")
            result = retarget_clip(read_clip(path), config, m)
        except (AmassFormatError, RetargetError) as err:
            rows.append({**row, "kept": False, "reason": str(err)})
            continue
        reasons = qa_failures(result.qa, config)
        rows.append({**row, "kept": not reasons, "reason": "; ".join(reasons) or None,
                     **result.qa})
        if not reasons:
            kept.append((result.qpos, result.qvel))
            names.append(rel)
    report = {
        "manifest": str(manifest),
        "output": str(out),
        "config": to_dict(config),
        "frequency": config.output_frequency(),
        "clips": rows,
        "summary": summarize(rows),
    }
    report_text = json.dumps(report, indent=2) + "\n"
    if not kept:
        atomic_write_text(failed_qa_path(out), report_text)
        raise RetargetError(f"{manifest}: no clip passed retargeting QA: {_why_none_kept(rows)}; "
                            f"report in {failed_qa_path(out)}")
    traj = from_clips(kept, config.output_frequency(), {
        "clips": names, "source": str(manifest), "retarget": to_dict(config),
    })
    # Trajectory and report appear together or not at all: the trajectory is saved under a
    # hidden name first and renamed once the report is written.
    out = Path(out)
    pending = out.with_name(f".{out.name}.pending")
    try:
        save_trajectory(traj, pending)
        atomic_write_text(qa_path(out), report_text)
        os.replace(pending, out)
    except OSError as err:
        raise type(err)(err.errno, err.strerror or str(err), str(out)) from err
    finally:
        pending.unlink(missing_ok=True)
    failed_qa_path(out).unlink(missing_ok=True)
    return report


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and worst cases over the kept clips of a QA report."""
    ok = [r for r in rows if r.get("kept")]
    summary: dict[str, Any] = {"clips": len(rows), "kept": len(ok), "dropped": len(rows) - len(ok)}
    if ok:
        summary.update(
            frames=int(sum(r["frames"] for r in ok)),
            penetration_max_cm=max(r["penetration_max_cm"] for r in ok),
            penetration_mean_cm=float(np.mean([r["penetration_mean_cm"] for r in ok])),
            skating_mean_cm_s=float(np.mean([r["skating_mean_cm_s"] for r in ok])),
            clipped_share=float(np.mean([r["clipped_share"] for r in ok])),
            root_height_min_m=min(r["root_height_min_m"] for r in ok),
            root_height_max_m=max(r["root_height_max_m"] for r in ok),
        )
    return summary


def trajectory_of_clips(
    clips: list[AmassClip], config: RetargetConfig | None = None
) -> tuple[Trajectory, list[dict[str, Any]]]:
    """Retarget clips in memory (no QA filtering): the trajectory and each clip's QA."""
    config = config or RetargetConfig()
    m = skel.load_mj_model()
    results = [retarget_clip(c, config, m) for c in clips]
    traj = from_clips([(r.qpos, r.qvel) for r in results], config.output_frequency())
    return traj, [r.qa for r in results]
