"""extract -> retarget -> cache, through the command line, on the bundled sample clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_chain import run_data_chain
from skeleton_steering.cli import main
from skeleton_steering.data.amass import write_clip
from skeleton_steering.data.cache import (
    StaleCacheError,
    disc_features,
    load_expert_cache,
)
from skeleton_steering.data.kit_extract import ExtractConfig, NoUsableClipError, extract
from skeleton_steering.data.sample import MOTIONS, generate_motion
from skeleton_steering.skeleton import model
from skeleton_steering.skeleton.features import feature_size


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run every data stage once through `skeleton-steering`; return the directory."""
    return run_data_chain(tmp_path_factory.mktemp("data"), "--seed", "1")


def test_sample_kit_is_laid_out_like_kit_and_deterministic(pipeline, tmp_path):
    clips = sorted(p.relative_to(pipeline / "kit").as_posix()
                   for p in (pipeline / "kit").rglob("*_poses.npz"))
    assert len(clips) == 10
    assert "KIT/sample1/walking_turn_left01_poses.npz" in clips
    assert (pipeline / "kit" / "KIT" / "sample1" / "shape.npz").is_file()
    summary = json.loads((pipeline / "kit" / "sample_kit.json").read_text())
    assert summary["synthetic"] is True
    for clip in summary["clips"]:
        assert clip["speed_m_s"] == pytest.approx(clip["target_speed_m_s"], rel=0.05)
    assert main(["sample-kit", "--out", str(tmp_path), "--seed", "1"]) == 0
    a = np.load(pipeline / "kit" / clips[0])["poses"]
    b = np.load(tmp_path / clips[0])["poses"]
    np.testing.assert_array_equal(a, b)


def test_manifest_lists_kept_clips_with_hashes(pipeline):
    manifest = json.loads((pipeline / "ds" / "manifest.json").read_text())
    assert manifest["summary"]["kept"] == 10
    for clip in manifest["clips"]:
        assert (pipeline / "ds" / clip["path"]).is_file()
        assert len(clip["sha256"]) == 64 and clip["rate"] == 100.0 and clip["frames"] > 500
        assert "walk" in clip["tags"]


def test_no_disc_pair_spans_two_clips(pipeline):
    cache = load_expert_cache(pipeline / "cache", pipeline / "traj.npz")
    traj = cache.traj
    n_sites = len(model.KEY_SITES)
    assert cache.disc_obs.shape[1] == feature_size(34, 33, n_sites) == 82
    ids = traj.clip_ids()
    t = cache.frame_index
    assert (ids[t] == ids[t + 1]).all()
    assert (ids[t] == cache.clip_index).all()
    assert cache.disc_obs.shape[0] == traj.n_frames - traj.n_clips  # every in-clip pair
    # The stored features are the feature function of frames t and t + 1.
    key_pos = traj.site_xpos[:, model.default_index().key_sites]
    feats = disc_features(traj.qpos, traj.qvel, key_pos)
    np.testing.assert_allclose(cache.disc_obs, feats[t], atol=1e-5)
    np.testing.assert_allclose(cache.next_disc_obs, feats[t + 1], atol=1e-5)
    # The demo pairs are real motion: root height and forward speed of walking.
    assert 0.9 < cache.disc_obs[:, 0].mean() < 1.05
    assert 0.7 < cache.disc_obs[:, 7].mean() < 1.6


def test_cached_kinematics_match_mujoco(pipeline):
    import mujoco

    traj = load_expert_cache(pipeline / "cache").traj
    m = model.load_mj_model()
    d = mujoco.MjData(m)
    d.qpos[:] = traj.qpos[37]
    mujoco.mj_kinematics(m, d)
    np.testing.assert_allclose(traj.site_xpos[37], d.site_xpos, atol=1e-5)
    assert traj.body_names[1] == "pelvis" and traj.xpos.shape == (traj.n_frames, m.nbody, 3)
    assert traj.site_xpos[:, model.default_index().site["foot_r"], 2].min() > -0.01


def test_stale_cache_is_detected_not_reused(pipeline, tmp_path):
    from skeleton_steering.data.trajectory import load_trajectory, save_trajectory

    traj = load_trajectory(pipeline / "traj.npz")
    changed = tmp_path / "traj.npz"
    save_trajectory(traj.__class__(**{**traj.__dict__, "qpos": traj.qpos + 0.001}), changed)
    with pytest.raises(StaleCacheError, match="stale"):
        load_expert_cache(pipeline / "cache", changed)
    # The command rebuilds a stale cache, and leaves an up-to-date one alone.
    out = tmp_path / "cache"
    assert main(["cache", "--trajectory", str(changed), "--out", str(out)]) == 0
    load_expert_cache(out, changed)
    mtime = (out / "expert_disc_obs.npz").stat().st_mtime_ns
    assert main(["cache", "--trajectory", str(changed), "--out", str(out)]) == 0
    assert (out / "expert_disc_obs.npz").stat().st_mtime_ns == mtime


def test_extract_filters_and_reports_every_skipped_clip(tmp_path):
    g = generate_motion(MOTIONS[0], rate=120.0, seed=0)
    kit = tmp_path / "KIT" / "7"
    for name in ("walking_slow01", "walk_to_run01", "upstairs_walk01", "wave01"):
        write_clip(kit / f"{name}_poses.npz", g.root_orient, g.body_pose, g.trans, 120.0)
    write_clip(kit / "walking_short01_poses.npz", g.root_orient[:50], g.body_pose[:50],
               g.trans[:50], 120.0)
    np.savez(kit / "walking_bad01_poses.npz", poses=np.zeros((5, 156)))
    np.savez(kit / "shape.npz", betas=np.zeros(16))
    manifest = extract(tmp_path, tmp_path / "out")
    assert [c["path"] for c in manifest["clips"]] == ["KIT/7/walking_slow01_poses.npz"]
    reasons = {s["path"].split("/")[-1]: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"walk_to_run01_poses.npz", "upstairs_walk01_poses.npz",
                            "wave01_poses.npz", "walking_short01_poses.npz",
                            "walking_bad01_poses.npz"}
    assert "exclude" in reasons["walk_to_run01_poses.npz"]
    assert "exclude" in reasons["upstairs_walk01_poses.npz"]
    assert "no include" in reasons["wave01_poses.npz"]
    assert "duration" in reasons["walking_short01_poses.npz"]
    assert "field 'trans'" in reasons["walking_bad01_poses.npz"]
    # Rate filter, and 120 Hz input retargets to the control rate.
    with pytest.raises(NoUsableClipError) as info:
        extract(tmp_path, tmp_path / "o2", ExtractConfig(max_rate=100.0))
    assert "frame rate 120 Hz" in info.value.manifest["skipped"][-1]["reason"]
    assert not (tmp_path / "o2").exists()
    assert main(["retarget", "--manifest", str(tmp_path / "out" / "manifest.json"),
                 "--out", str(tmp_path / "t.npz")]) == 0
    from skeleton_steering.data.trajectory import load_trajectory

    assert load_trajectory(tmp_path / "t.npz").frequency == 50.0


def test_extract_exit_status_says_whether_anything_was_found(tmp_path, capsys):
    (tmp_path / "kit").mkdir()
    # Nothing usable is an input error: nothing is written.
    assert main(["extract", "--kit-root", str(tmp_path / "kit"), "--out",
                 str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
    assert main(["extract", "--kit-root", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_default_walk_data_is_built_once_and_reused(tmp_path):
    from skeleton_steering.data.cache import ensure_default_walk_data

    cache_dir = ensure_default_walk_data(tmp_path)
    first = load_expert_cache(cache_dir, tmp_path / "expert_data" / "kit_expert_traj.npz")
    assert first.traj.n_clips == 10 and first.traj.frequency == 50.0
    mtime = (cache_dir / "expert_traj.npz").stat().st_mtime_ns
    assert ensure_default_walk_data(tmp_path) == cache_dir
    assert (cache_dir / "expert_traj.npz").stat().st_mtime_ns == mtime
