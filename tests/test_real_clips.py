"""Retargeting real AMASS clips (the development set in `<project>/../shared/mocap/`).

"Source" geometry is the SMPL template posed by the clip's rotations (betas ignored), see
`retarget.source_geometry`; ours is MuJoCo's forward kinematics of the retargeted qpos. The
clips may not be redistributed, so they are never copied here: without the folder these
tests skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from skeleton_steering.config import from_dict
from skeleton_steering.data import smpl_template as st
from skeleton_steering.data.amass import AmassFormatError, ShapeFileError, read_clip
from skeleton_steering.data.contacts import source_contacts
from skeleton_steering.data.retarget import (
    RetargetConfig,
    RetargetError,
    retarget_clip,
    retarget_manifest,
    source_geometry,
)
from skeleton_steering.skeleton import kinematics, model

MOCAP = Path(__file__).resolve().parents[1].parent / "shared" / "mocap"
FILES = sorted(MOCAP.rglob("*.npz")) if MOCAP.is_dir() else []
pytestmark = pytest.mark.skipif(
    not FILES, reason=f"real AMASS development clips not found at {MOCAP} (not redistributable)"
)
J = st.JOINT_INDEX


def _clips() -> list[Path]:
    return [p for p in FILES if not p.name.endswith("_stagei.npz")]


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    m = model.load_mj_model()
    config = RetargetConfig()
    out = {}
    for path in _clips():
        clip = read_clip(path)
        res = retarget_clip(clip, config, m)
        src = source_geometry(clip, config)
        fk = kinematics.forward_kinematics(m, res.qpos, fields=("xpos", "xquat"))
        out[path.name] = {"res": res, "src": src, "fk": fk, "m": m,
                          "stance": source_contacts(src, config.output_frequency()).stance}
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.rad2deg(np.arccos(np.clip(np.sum(_unit(u) * _unit(v), axis=-1), -1.0, 1.0)))


def _ours(r: dict, body: str) -> np.ndarray:
    return r["fk"]["xpos"][:, r["m"].body(body).id]


def _frame(r: dict, body: str) -> np.ndarray:
    quat = r["fk"]["xquat"][:, r["m"].body(body).id]
    mats = np.zeros((len(quat), 9))
    for t, q in enumerate(quat):
        mujoco.mju_quat2Mat(mats[t], q)
    return mats.reshape(-1, 3, 3)


def _pelvis_src(r: dict) -> np.ndarray:
    """Source pelvis frames (our axes: forward, left, up) from the posed template: the root
    orientation is what the clip says the pelvis does."""
    qpos = r["res"].qpos
    mats = np.zeros((len(qpos), 9))
    for t, q in enumerate(qpos[:, 3:7]):
        mujoco.mju_quat2Mat(mats[t], q)
    return mats.reshape(-1, 3, 3)


# The development clips the folder's README lists: 4 ACCAD walks, the jumping-jacks sample.
LISTED = {
    "B3_-_walk1_stageii.npz",
    "B10_-_walk_turn_left_(45)_stageii.npz",
    "B13_-_walk_turn_right_(45)_stageii.npz",
    "B1_-_stand_to_walk_stageii.npz",
    "dmpl_sample.npz",
}


def test_every_clip_is_kept_by_the_workflows_default_qa(tmp_path):
    # As the workflow runs it: a manifest of the clips (read in place, never copied) and the
    # retarget section of the default config, which holds RetargetConfig's defaults.
    root = Path(__file__).resolve().parents[1]
    settings = yaml.safe_load((root / "config" / "config.yaml").read_text())["retarget"]
    config = from_dict(RetargetConfig, settings)
    assert config == RetargetConfig()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"clips": [{"path": str(p)} for p in _clips()]}))
    report = retarget_manifest(manifest, tmp_path / "traj.npz", config)
    dropped = {Path(r["path"]).name: r["reason"] for r in report["clips"] if not r["kept"]}
    assert dropped == {}
    kept = {Path(r["path"]).name for r in report["clips"]}
    assert kept >= LISTED, f"missing from {MOCAP}: {sorted(LISTED - kept)}"
    assert report["summary"]["kept"] == len(_clips())


def test_knee_swing_peak_and_stance_knee_follow_the_source(results):
    for name, r in results.items():
        for side in ("r", "l"):
            thigh = r["src"][:, J[f"{side}_knee"]] - r["src"][:, J[f"{side}_hip"]]
            shank = r["src"][:, J[f"{side}_ankle"]] - r["src"][:, J[f"{side}_knee"]]
            source = _angle(thigh, shank)
            ours = -np.rad2deg(r["res"].qpos[:, 7 + model.HINGE_JOINTS.index(f"knee_angle_{side}")])
            assert abs(ours.max() - source.max()) < 5.0, (name, side, ours.max(), source.max())
            stance = r["stance"][:, 0 if side == "r" else 1]
            assert ours[stance].min() > -3.0, (name, side, ours[stance].min())


def test_toe_out_follows_the_source(results):
    for name, r in results.items():
        src_fwd = _pelvis_src(r)[:, :, 0]
        for f, side in enumerate(("r", "l")):
            stance = r["stance"][:, f]
            sign = 1.0 if side == "l" else -1.0
            toe = r["src"][:, J[f"{side}_foot"]] - r["src"][:, J[f"{side}_ankle"]]
            ours = _frame(r, f"foot_{side}")[:, :, 0]

            def out_angle(vec, fwd, sign=sign):
                cross = fwd[:, 0] * vec[:, 1] - fwd[:, 1] * vec[:, 0]
                dot = fwd[:, 0] * vec[:, 0] + fwd[:, 1] * vec[:, 1]
                return np.rad2deg(np.arctan2(sign * cross, dot))

            source = out_angle(toe, src_fwd)[stance].mean()
            mine = out_angle(ours, src_fwd)[stance].mean()
            assert abs(mine - source) < 5.0, (name, side, mine, source)


def test_hip_flexion_follows_the_thigh_against_the_pelvis(results):
    for name, r in results.items():
        pelvis = _pelvis_src(r)
        for side in ("r", "l"):
            thigh_src = r["src"][:, J[f"{side}_knee"]] - r["src"][:, J[f"{side}_hip"]]
            thigh_ours = _ours(r, f"tibia_{side}") - _ours(r, f"femur_{side}")
            angles = []
            for thigh in (thigh_src, thigh_ours):
                local = np.einsum("tji,tj->ti", pelvis, thigh)
                angles.append(np.rad2deg(np.arctan2(local[:, 0], -local[:, 2])))
            assert np.abs(angles[1] - angles[0]).max() < 5.0, (name, side)


def test_retargeting_adds_no_skating(results):
    for name, r in results.items():
        qa = r["res"].qa
        assert qa["skating_mean_cm_s"] <= qa["skating_source_cm_s"] + 3.0, name
        assert qa["penetration_max_cm"] < 1.0, name


def test_walks_are_upright_face_their_path_and_are_feasible(results):
    for name, r in results.items():
        if "walk" not in name:
            continue
        qa = r["res"].qa
        assert qa["com_acc_p95_g"] < 0.35 and qa["friction_demand_p95"] < 0.4, name
        up = _frame(r, "pelvis")[:, :, 2]
        assert np.rad2deg(np.arccos(up[:, 2])).max() < 25.0, name
        fwd = _frame(r, "pelvis")[:, :, 0]
        path = r["res"].qpos[-1, :2] - r["res"].qpos[len(up) // 2, :2]
        heading = fwd[-len(up) // 4:, :2].mean(axis=0)
        assert np.dot(_unit(path), _unit(heading)) > np.cos(np.deg2rad(25.0)), name


def test_arms_overhead_follow_the_source_segments(results):
    name = "dmpl_sample.npz"
    if name not in results:
        pytest.skip(f"{name} not in {MOCAP}")
    r = results[name]
    for side in ("r", "l"):
        upper_src = r["src"][:, J[f"{side}_elbow"]] - r["src"][:, J[f"{side}_shoulder"]]
        overhead = _unit(upper_src)[:, 2] > 0.5  # upper arm 30 deg or more above horizontal
        assert overhead.sum() > 10
        upper = _ours(r, f"forearm_{side}") - _ours(r, f"humerus_{side}")
        assert _angle(upper, upper_src)[overhead].max() < 15.0, side
        # The forearm follows as far as the hinge elbow and the forearm's rotation range allow
        # (this subject's forearms turn beyond it): close on the whole, not in every frame.
        fore_src = r["src"][:, J[f"{side}_wrist"]] - r["src"][:, J[f"{side}_elbow"]]
        fore = _ours(r, f"hand_{side}") - _ours(r, f"forearm_{side}")
        assert np.median(_angle(fore, fore_src)[overhead]) < 15.0, side


def test_no_file_in_the_folder_raises_anything_but_a_named_error():
    m = model.load_mj_model()
    for path in FILES:
        try:
            retarget_clip(read_clip(path), RetargetConfig(), m)
        except ShapeFileError:
            assert path.name.endswith("_stagei.npz")
        except (AmassFormatError, RetargetError) as err:
            assert str(path) in str(err)
