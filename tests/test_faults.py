"""Fault injection: bad and corrupt inputs, OS errors, Ctrl-C and a second trainer.

Each probe runs a command the way a user would (in-process through `cli.main`, or as a
`skeleton-steering` subprocess where the exit path itself is what matters) and checks the
promise the README's "Errors and recovery" makes: one line naming the path, key or flag, an
exit status (2 bad input, 1 the system refused, 130 Ctrl-C), no traceback, and nothing written
before lost or left half-written.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from data_chain import run_data_chain
from skeleton_steering import io_utils
from skeleton_steering.cli import main
from skeleton_steering.data import kit_extract
from skeleton_steering.data.amass import AmassFormatError, read_clip, write_clip
from skeleton_steering.data.sample import MOTIONS, generate_motion
from skeleton_steering.learn import run_lock, train_config
from tiny_training import TINY

EXE = Path(sys.executable).with_name("skeleton-steering")
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


# -- helpers -----------------------------------------------------------------------------------


def cli(args: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of `skeleton-steering ARGS` run in this process."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, " ".join(err.split())  # rich wraps long lines


def run_exe(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (hidden ones too), by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temp files and half-built folders a failed write must not leave behind."""
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".new-" in p.name]


@functools.cache
def _motion():
    return generate_motion(MOTIONS[0], rate=100.0, seed=0)


def _clip(path: Path, frames: int | None = None, compressed: bool = False) -> Path:
    g = _motion()
    n = frames or g.trans.shape[0]
    write_clip(path, g.root_orient[:n], g.body_pose[:n], g.trans[:n], 100.0)
    if compressed:
        arrays = dict(np.load(path, allow_pickle=False))
        np.savez_compressed(path, **arrays)
    return path


def _zlib_damaged(good: Path, out: Path) -> Path:
    """A copy of compressed clip `good` whose deflate stream zlib itself rejects."""
    raw = good.read_bytes()
    for offset in range(200, len(raw) - 200, 97):
        data = bytearray(raw)
        data[offset : offset + 6] = b"\xff\x00\xff\x00\xff\x00"
        out.write_bytes(bytes(data))
        try:
            with zipfile.ZipFile(out) as z:
                for name in z.namelist():
                    z.read(name)
        except zlib.error:
            return out
        except Exception:
            continue
    raise AssertionError("no offset gave a zlib error")


def _huge_header(out: Path) -> Path:
    """A clip whose `poses` header claims 10^7 x 10^6 float64 (72.8 TiB) over 64 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**6)})
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("poses.npy", header.getvalue() + bytes(64))
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.zeros((5, 3)))
        z.writestr("trans.npy", buf.getvalue())
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The sample data chain once: kit/, ds/ (extract), traj.npz (retarget), cache/."""
    return run_data_chain(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def tiny_yaml(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "eval": {"every": 0}}))
    return path


# -- finding 2/3/12: corrupt and odd clips -----------------------------------------------------


def test_extract_skips_every_corrupt_or_odd_clip_with_its_reason(tmp_path, capsys):
    kit = tmp_path / "kit" / "KIT" / "1"
    good = _clip(kit / "walking_good01_poses.npz", compressed=True)
    _zlib_damaged(good, kit / "walking_zlib01_poses.npz")
    _huge_header(kit / "walking_huge01_poses.npz")
    raw = good.read_bytes()
    (kit / "walking_trunc01_poses.npz").write_bytes(raw[: len(raw) // 2])
    (kit / "walking_notzip01_poses.npz").write_bytes(b"not an archive at all")
    np.savez(kit / "walking_pickled01_poses.npz", poses=np.array([None], dtype=object),
             trans=np.zeros((5, 3)))
    (kit / "walking_dir01_poses.npz").mkdir()
    os.symlink(kit / "missing.npz", kit / "walking_link01_poses.npz")
    _clip(kit / "walking_short01_poses.npz", frames=20)  # 0.19 s: the duration filter

    status, err = cli(["extract", "--kit-root", tmp_path / "kit", "--out", tmp_path / "ds"],
                      capsys)
    assert status == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert [c["path"] for c in manifest["clips"]] == ["KIT/1/walking_good01_poses.npz"]
    reasons = {Path(s["path"]).name.split("_")[1]: s["reason"] for s in manifest["skipped"]}
    assert reasons["zlib01"].startswith("invalid:") and "unreadable" in reasons["zlib01"]
    assert "72.8" not in reasons["huge01"] and "bytes" in reasons["huge01"]
    assert "field 'poses'" in reasons["huge01"]
    assert reasons["trunc01"].startswith("invalid:")
    assert "not a valid .npz" in reasons["notzip01"]
    assert "refusing to unpickle" in reasons["pickled01"]
    assert "directory" in reasons["dir01"]
    assert "broken symbolic link" in reasons["link01"]
    assert "duration" in reasons["short01"]
    assert manifest["summary"]["found"] == 9
    # Every skip but the keyword filter is named on the console, duration drops included.
    for name in ("zlib01", "huge01", "dir01", "link01", "short01"):
        assert f"walking_{name}_poses.npz" in err
    assert sorted(p.relative_to(tmp_path / "ds").as_posix()
                  for p in (tmp_path / "ds").rglob("*") if p.is_file()) == [
        "KIT/1/walking_good01_poses.npz", "manifest.json"]


def test_random_corruption_of_a_clip_is_always_detected(tmp_path):
    """Flipped, overwritten and cut bytes: an error naming the file, or the same arrays."""
    good = _clip(tmp_path / "walking01_poses.npz", frames=60, compressed=True)
    raw, expect = good.read_bytes(), read_clip(good)
    rng = np.random.default_rng(0)
    undetected = 0
    for trial in range(150):
        data = bytearray(raw)
        if trial % 3 == 0:
            data = data[: int(rng.integers(len(data)))]
        else:
            at = int(rng.integers(len(data) - 8))
            data[at : at + 1 + trial % 8] = rng.bytes(1 + trial % 8)
        bad = tmp_path / "bad_poses.npz"
        bad.write_bytes(bytes(data))
        try:
            clip = read_clip(bad)
        except AmassFormatError as err:
            assert str(bad) in str(err)
            continue
        same = all(np.array_equal(getattr(clip, f), getattr(expect, f))
                   for f in ("root_orient", "body_pose", "trans", "betas"))
        undetected += not (same and clip.rate == expect.rate)
    assert undetected == 0


def test_keywords_match_words_of_the_file_name(tmp_path):
    kit = tmp_path / "kit"
    for name in ("truncated_walk01", "walk_to_run01", "WalkInCircle01", "running01",
                 "turn_left01", "upstairs_walk01"):
        _clip(kit / f"{name}_poses.npz")
    manifest = kit_extract.extract(kit, tmp_path / "ds")
    assert sorted(c["path"] for c in manifest["clips"]) == [
        "WalkInCircle01_poses.npz", "truncated_walk01_poses.npz", "turn_left01_poses.npz"]


def test_single_corrupt_file_is_one_error_in_cache_render_and_train(data, tmp_path, capsys,
                                                                    tiny_yaml):
    bad = _zlib_damaged(_clip(tmp_path / "c.npz", compressed=True), tmp_path / "traj.npz")
    status, err = cli(["cache", "--trajectory", bad, "--out", tmp_path / "cache"], capsys)
    assert status == 2 and str(bad) in err
    status, err = cli(["render", "--trajectory", bad, "--out", tmp_path / "v.mp4"], capsys)
    assert status == 2 and str(bad) in err and not (tmp_path / "v.mp4").exists()
    broken_cache = tmp_path / "broken_cache"
    shutil.copytree(data / "cache", broken_cache)
    _zlib_damaged(_clip(tmp_path / "d.npz", compressed=True), broken_cache / "expert_traj.npz")
    status, err = cli(["train", "--config", tiny_yaml, "--run_dir", tmp_path / "run",
                       f"data.cache_dir={broken_cache}"], capsys)
    assert status == 2 and "expert_traj.npz" in err


def test_pickled_trajectory_field_is_reported_as_pickled(data, tmp_path, capsys):
    arrays = dict(np.load(data / "traj.npz", allow_pickle=False))
    arrays["qpos"] = np.array([None], dtype=object)
    np.savez(tmp_path / "t.npz", **arrays)
    status, err = cli(["render", "--trajectory", tmp_path / "t.npz"], capsys)
    assert status == 2 and "field 'qpos' is an object (pickled) array" in err


def test_absurd_rates_are_refused_before_allocating(data, tmp_path, capsys):
    (tmp_path / "r.yaml").write_text("frequency: 1.0e+9\n")
    status, err = cli(["retarget", "--manifest", data / "ds" / "manifest.json", "--out",
                       tmp_path / "t.npz", "--config", tmp_path / "r.yaml"], capsys)
    assert status == 2 and "r.yaml" in err and "frequency" in err
    status, err = cli(["cache", "--trajectory", data / "traj.npz", "--out", tmp_path / "c",
                       "--frequency", "1e9"], capsys)
    assert status == 2 and "frequency" in err
    for rate in ("0", "-5", "1e7", "nan"):
        status, err = cli(["sample-kit", "--out", tmp_path / "kit", "--rate", rate], capsys)
        assert status == 2 and "--rate" in err
    assert not (tmp_path / "kit").exists() and not (tmp_path / "t.npz").exists()


def test_non_utf8_manifest_is_named(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"clips": ["\xff\xfe"]}')
    status, err = cli(["retarget", "--manifest", manifest, "--out", tmp_path / "t.npz"], capsys)
    assert status == 2 and str(manifest) in err and not (tmp_path / "t.npz").exists()


# -- finding 4: OS errors ----------------------------------------------------------------------


def _fail_fsync(code: int):
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


def test_disk_full_keeps_the_previous_output_and_names_the_file(data, tmp_path, capsys,
                                                                monkeypatch):
    out = tmp_path / "cache"
    shutil.copytree(data / "cache", out)
    before = snapshot(out)
    monkeypatch.setattr(io_utils.os, "fsync", _fail_fsync(errno.ENOSPC))
    status, err = cli(["cache", "--trajectory", data / "traj.npz", "--out", out, "--force"],
                      capsys)
    assert status == 1 and "No space left on device" in err and str(out) in err
    assert snapshot(out) == before and not leftovers(out)


def test_read_only_filesystem_fails_before_the_work_and_names_the_path(data, tmp_path, capsys,
                                                                       monkeypatch):
    def read_only(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))

    monkeypatch.setattr(io_utils.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(io_utils.tempfile, "mkdtemp", read_only)
    # The checkpoint does not exist: failing on --out first shows no rollout was attempted.
    status, err = cli(["eval", "--model_path", tmp_path / "none.msgpack", "--out",
                       tmp_path / "ro" / "e.json"], capsys)
    assert status == 1 and "Read-only file system" in err and str(tmp_path / "ro") in err
    status, err = cli(["extract", "--kit-root", data / "kit", "--out", tmp_path / "ds"],
                      capsys)
    assert status == 1 and "Read-only file system" in err
    status, err = cli(["report", "--runs", data, "--out", tmp_path / "rep"], capsys)
    assert status != 0 and "Traceback" not in err


def test_wrong_kind_of_path_is_one_line(tmp_path, capsys, tiny_yaml):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    a_dir = tmp_path / "dir"
    a_dir.mkdir()
    probes = [
        (["eval", "--model_path", tmp_path / "none.msgpack", "--out", a_dir], 1, str(a_dir)),
        (["train", "--config", tiny_yaml, "--run_dir", a_file], 1, str(a_file)),
        (["train", "--config", a_dir], 2, str(a_dir)),
        (["sample-kit", "--out", a_file], 1, str(a_file)),
        (["extract", "--kit-root", a_dir, "--out", a_file], 1, str(a_file)),
        (["demo", "--out", a_file], 1, str(a_file)),
        (["render", "--trajectory", tmp_path / "none.npz", "--out", a_dir], 1, str(a_dir)),
    ]
    for args, want, named in probes:
        status, err = cli(args, capsys)
        assert (status, named in err) == (want, True), (args, err)
    assert a_file.read_text() == "keep me" and list(a_dir.iterdir()) == []


def test_os_error_exit_path_of_the_installed_command(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    proc = run_exe(["sample-kit", "--out", a_file])
    assert proc.returncode == 1
    assert "error:" in proc.stderr and str(a_file) in " ".join(proc.stderr.split())


# -- finding 8: config quirks ------------------------------------------------------------------


def test_config_numbers_duplicates_encoding_and_override_blame(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("ppo:\n  learning_rate: 3e-4\n")
    assert train_config.load(good).ppo.learning_rate == 3e-4
    assert train_config.load(good, ["ppo.learning_rate=1e-4"]).ppo.learning_rate == 1e-4
    dup = tmp_path / "dup.yaml"
    dup.write_text("ppo:\n  epochs: 2\nrun:\n  iterations: 2\nppo:\n  num_envs: 16\n")
    status, err = cli(["train", "--config", dup], capsys)
    assert status == 2 and str(dup) in err and "'ppo' appears twice" in err
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("run:\n  iterations: 2 # \u00e9\n".encode("latin-1"))
    status, err = cli(["train", "--config", latin], capsys)
    assert status == 2 and str(latin) in err and "UTF-8" in err
    status, err = cli(["train", "--config", good, "ppo.learning_rate=fast"], capsys)
    assert status == 2 and "override 'ppo.learning_rate=fast'" in err and str(good) not in err


# -- finding 10: render flags ------------------------------------------------------------------


@pytest.mark.parametrize("flags", [["--fps", "0"], ["--fps", "nan"], ["--fps", "-3"],
                                   ["--fps", "inf"], ["--width", "0"], ["--height", "7"]])
def test_render_rejects_bad_video_flags_before_any_work(data, tmp_path, capsys, flags):
    out = tmp_path / "v.mp4"
    status, err = cli(["render", "--trajectory", data / "traj.npz", "--out", out, *flags],
                      capsys)
    assert status == 2 and flags[0] in err and not out.exists()


# -- finding 11: Ctrl-C ------------------------------------------------------------------------


def test_interrupted_extract_keeps_the_previous_output(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ds"
    shutil.copytree(data / "ds", out)
    before = snapshot(out)
    calls = []

    def interrupt_third(path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return read_clip(path)

    monkeypatch.setattr(kit_extract, "read_clip", interrupt_third)
    status, err = cli(["extract", "--kit-root", data / "kit", "--out", out], capsys)
    assert status == 130 and "interrupted" in err
    assert snapshot(out) == before and not leftovers(tmp_path)


def test_extract_replaces_only_its_own_output(data, tmp_path, capsys):
    out = tmp_path / "ds"
    shutil.copytree(data / "ds", out)
    (out / "manifest.json").unlink()  # what Snakemake does before rerunning the rule
    status, _ = cli(["extract", "--kit-root", data / "kit", "--out", out], capsys)
    assert status == 0 and (out / "manifest.json").is_file()
    (out / "notes.txt").write_text("mine")
    (out / "manifest.json").unlink()
    status, err = cli(["extract", "--kit-root", data / "kit", "--out", out], capsys)
    assert status == 2 and "notes.txt" in err and (out / "notes.txt").read_text() == "mine"
    kit_copy = tmp_path / "mixed" / "kit"
    shutil.copytree(data / "kit", kit_copy)
    before = snapshot(kit_copy)
    status, err = cli(["extract", "--kit-root", kit_copy, "--out", tmp_path / "mixed"], capsys)
    assert status == 2 and "KIT root" in err and snapshot(kit_copy) == before


def _default_sigint(cmd: list[str]) -> list[str]:
    """`cmd` run with SIGINT at its default disposition.

    A shell starts background jobs with SIGINT ignored, and children inherit that (an ignored
    signal stays ignored across exec); the command under test must see Ctrl-C as a terminal
    delivers it. A small exec wrapper instead of `preexec_fn`, which is unsafe after JAX
    started threads.
    """
    reset = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
             "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", reset, *cmd]


def test_ctrl_c_of_the_installed_command_is_one_line_and_exit_130(data, tmp_path):
    """A real SIGINT in the middle of extracting a 1,500-clip tree."""
    kit = tmp_path / "kit" / "KIT" / "1"
    kit.mkdir(parents=True)
    first = next((data / "kit").rglob("walking*_poses.npz"))
    for i in range(1500):
        os.link(first, kit / f"walking{i:04d}_poses.npz")
    out = tmp_path / "ds"
    proc = subprocess.Popen(_default_sigint([str(EXE), "extract", "--kit-root",
                                             str(tmp_path / "kit"), "--out", str(out)]),
                            stderr=subprocess.PIPE, text=True, env=ENV)

    def copying() -> bool:
        # Cheap enough to poll often: listing all 1,500 names each time let a loaded machine
        # finish the extract between two looks.
        for work in tmp_path.glob(".ds.new-*"):
            clips = work / "KIT" / "1"
            if clips.is_dir():
                with os.scandir(clips) as entries:
                    return next(entries, None) is not None
        return False

    deadline = time.monotonic() + 180
    while not copying() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "extract ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert proc.returncode == 130 and "interrupted" in err
    assert not out.exists() and not leftovers(tmp_path)


@pytest.mark.slow
def test_ctrl_c_while_compiling_ends_train_at_once(tmp_path, tiny_yaml):
    """XLA compiles for minutes on CPU without returning to Python; Ctrl-C must not wait."""
    proc = subprocess.Popen(_default_sigint([str(EXE), "train", "--config", str(tiny_yaml),
                                             "--run_dir", str(tmp_path / "run"),
                                             "--no_progress"]),
                            stderr=subprocess.PIPE, text=True, env=ENV)
    seen = ""
    while "compiling the training iteration" not in seen:
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(2)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert time.monotonic() - start < 10
    assert proc.returncode == 130 and "interrupted (Ctrl-C) while compiling" in err
    assert "Traceback" not in err
    assert not leftovers(tmp_path / "run")


# -- finding 1: one trainer per run directory --------------------------------------------------

_HOLD = """
import sys, time
from skeleton_steering.learn import run_lock
with run_lock.hold(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_second_trainer_refuses_and_a_dead_holder_frees_the_lock(tmp_path, tiny_yaml):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.csv").write_text("iteration,env_steps,wall_s\n1,64,0.5\n")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "holding"
        before = snapshot(run_dir)
        proc = run_exe(["train", "--config", tiny_yaml, "--run_dir", run_dir, "--seed", "8"])
        err = " ".join(proc.stderr.split())
        assert proc.returncode == 2 and "in use by another trainer" in err
        assert f"pid {holder.pid} on {socket.gethostname()}" in err
        assert snapshot(run_dir) == before
    finally:
        holder.kill()  # like kill -9: no cleanup runs
        holder.wait()
    with run_lock.hold(run_dir):
        pass


@pytest.mark.slow
def test_two_real_trainers_and_a_resume_below_the_checkpoint(tmp_path, tiny_yaml):
    """Trainer A runs; B on the same directory refuses; A's results are whole and A's own;
    `--resume` with fewer iterations than A's checkpoint refuses and keeps config.yaml."""
    run_dir = tmp_path / "dual"
    a = subprocess.Popen([str(EXE), "train", "--config", str(tiny_yaml), "--run_dir",
                          str(run_dir), "--seed", "7", "--no_progress", "run.iterations=2"],
                         stderr=subprocess.PIPE, text=True, env=ENV)
    lock = run_dir / run_lock.LOCK_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and f'"pid": {a.pid}' not in (
            lock.read_text() if lock.is_file() else ""):
        time.sleep(0.2)
    b = run_exe(["train", "--config", tiny_yaml, "--run_dir", run_dir, "--seed", "8",
                 "--no_progress"], timeout=600)
    assert b.returncode == 2 and "in use by another trainer" in b.stderr
    _, a_err = a.communicate(timeout=900)
    assert a.returncode == 0 and "Traceback" not in a_err
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header + A's two iterations, none of B's
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed"] == 7
    config_bytes = (run_dir / "config.yaml").read_bytes()
    proc = run_exe(["train", "--config", tiny_yaml, "--run_dir", run_dir, "--seed", "7",
                    "--resume", "--no_progress", "run.iterations=1"], timeout=600)
    assert proc.returncode == 2 and "run.iterations=1" in " ".join(proc.stderr.split())
    assert (run_dir / "config.yaml").read_bytes() == config_bytes


# -- finding 12: the smaller ones --------------------------------------------------------------


def _metrics(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.csv").write_text(
        "iteration,env_steps,wall_s,episode_return\n1,64,0.5,1.0\n2,128,1.0,2.0\n")
    return run_dir


def test_report_links_survive_odd_names_and_garbage_metrics_are_named(tmp_path, capsys):
    run = _metrics(tmp_path / "run#1")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00" * 16)
    status, _ = cli(["report", "--runs", run, "--videos", video, "--out", tmp_path / "rep"],
                    capsys)
    assert status == 0
    page = (tmp_path / "rep" / "index.html").read_text()
    assert 'src="videos/run%231.mp4"' in page and (tmp_path / "rep/videos/run#1.mp4").is_file()
    before = snapshot(tmp_path / "rep")
    for garbage in (b"\xff\xfe\x00garbage\x00", b"iteration,env_steps\n1,lots\n"):
        bad = _metrics(tmp_path / f"bad{len(garbage)}")
        (bad / "metrics.csv").write_bytes(garbage)
        status, err = cli(["report", "--runs", bad, "--out", tmp_path / "rep"], capsys)
        assert status == 2 and str(bad / "metrics.csv") in err
    assert snapshot(tmp_path / "rep") == before


def test_demo_rejects_zero_envs(tmp_path, capsys):
    status, err = cli(["demo", "--envs", "0", "--out", tmp_path / "d"], capsys)
    assert status == 2 and "--envs" in err and not (tmp_path / "d").exists()


def test_resuming_onto_a_damaged_metrics_csv_names_it(tmp_path):
    from skeleton_steering.learn.train_log import MetricsLog

    (tmp_path / "metrics.csv").write_bytes(b"iteration,env_steps\n1,64\n\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"metrics.csv: damaged") as info:
        MetricsLog(tmp_path, 1, 64)
    assert str(tmp_path / "metrics.csv") in str(info.value)


# -- numbers beyond what the code can represent, oversize configs -----------------------------


@pytest.mark.parametrize(("args", "named"), [
    (["eval", "--settle_seconds", "inf"], "--settle_seconds"),
    (["eval", "--settle_seconds", "nan"], "--settle_seconds"),
    (["eval", "--action_std", "inf"], "--action_std"),
    (["eval", "--seed", "100000000000000000000000"], "--seed"),
    (["eval", "--seed", "-1"], "--seed"),
    (["eval", "--n_steps", "3000000000"], "--n_steps"),
    (["train", "--seed", "100000000000000000000000"], "--seed"),
    (["train", "--max_minutes", "nan"], "--max_minutes"),
    (["sample-kit", "--seed", "4294967296"], "--seed"),
    (["demo", "--steps", "1e12"], "--steps"),
])
def test_flag_numbers_out_of_range_are_one_line_before_any_work(tmp_path, capsys, args, named):
    """Refused at parsing: the model, the run dir and the outputs are never touched."""
    out = tmp_path / "out"
    where = {"eval": ["--model_path", tmp_path / "none.msgpack", "--out", out / "e.json"],
             "train": ["--run_dir", out], "sample-kit": ["--out", out], "demo": ["--out", out]}
    status, err = cli([*args, *where[args[0]]], capsys)
    assert status == 2 and f"argument {named}:" in err and "--help" in err
    assert err.count("error:") == 1 and "usage:" not in err
    assert not out.exists()


@pytest.mark.parametrize(("override", "message"), [
    ("ppo.max_learning_rate=1e400", "must be a finite number, got inf"),
    ("ppo.learning_rate=.nan", "must be a finite number, got nan"),
    ("env.episode_length=1000000000000", "must be a 32-bit integer"),
    ("seed=4294967296", "must be a seed in 0..4294967295"),
    ("eval.seed=-3", "must be a seed in 0..4294967295"),
])
def test_config_numbers_out_of_range_name_the_override(tmp_path, capsys, override, message):
    run_dir = tmp_path / "run"
    status, err = cli(["train", "--run_dir", run_dir, override], capsys)
    assert status == 2 and f"override '{override}'" in err and message in err
    assert not run_dir.exists()


def test_yaml_syntax_error_is_one_line_with_its_place(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  num_envs: [1\n bad: x\n")
    status, err = cli(["train", "--config", bad, "--run_dir", tmp_path / "run"], capsys)
    assert status == 2 and f"{bad}: not valid YAML at line 3, column 5" in err
    capsys.readouterr()
    main(["train", "--config", str(bad)])
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_oversize_config_is_refused_at_once_with_its_estimate(tmp_path):
    """Sizes with no limit of their own: refused from the estimate, before allocating."""
    run_dir = tmp_path / "run"
    start = time.monotonic()
    proc = run_exe(["train", "--run_dir", run_dir, "ppo.num_envs=30000000",
                    "amp.replay_capacity=1000000000"], timeout=60)
    assert time.monotonic() - start < 10
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "needs at least an estimated" in err and "TiB" in err
    assert "this machine's memory" in err and "GiB)" in err and "ppo.num_envs" in err
    assert not run_dir.exists()


def test_missing_data_path_leaves_no_run_dir(tmp_path, capsys):
    run_dir = tmp_path / "run"
    missing = tmp_path / "none.npz"
    status, err = cli(["train", "--run_dir", run_dir, f"data.trajectory={missing}"], capsys)
    assert status == 2 and f"data.trajectory: {missing}: file not found" in err
    status, err = cli(["train", "--run_dir", run_dir, f"data.cache_dir={tmp_path / 'c'}"],
                      capsys)
    assert status == 2 and "data.cache_dir" in err
    assert not run_dir.exists()


def test_a_run_that_fails_before_training_removes_the_run_dir_it_made(tmp_path, capsys):
    """A trajectory that exists but cannot be read: refused after the run dir was made."""
    bad = tmp_path / "traj.npz"
    bad.write_bytes(b"not an archive")
    run_dir = tmp_path / "run"
    status, err = cli(["train", "--run_dir", run_dir, f"data.trajectory={bad}"], capsys)
    assert status == 2 and str(bad) in err
    assert not run_dir.exists() and list(tmp_path.iterdir()) == [bad]


# -- messages that name what the user gave, outputs only on success ----------------------------


def test_extract_with_no_usable_clip_is_input_error_and_writes_nothing(data, tmp_path, capsys):
    out = tmp_path / "ds"
    shutil.copytree(data / "ds", out)
    before = snapshot(out)
    kit = tmp_path / "kit" / "KIT" / "1"
    kit.mkdir(parents=True)
    (kit / "walking01_poses.npz").write_bytes(b"not an archive")
    _clip(kit / "running01_poses.npz")
    status, err = cli(["extract", "--kit-root", tmp_path / "kit", "--out", out], capsys)
    assert status == 2 and "no usable clip under the KIT root" in err
    assert "walking01_poses.npz" in err and "1 left out by the keywords" in err
    assert snapshot(out) == before and not leftovers(tmp_path)
    status, _ = cli(["extract", "--kit-root", tmp_path / "kit", "--out", tmp_path / "new"],
                    capsys)
    assert status == 2 and not (tmp_path / "new").exists()


def test_retarget_names_missing_clips_and_refuses_other_manifest_versions(data, tmp_path,
                                                                          capsys):
    manifest = json.loads((data / "ds" / "manifest.json").read_text())
    moved = tmp_path / "manifest.json"  # its clips are beside the original, not here
    moved.write_text(json.dumps(manifest))
    out = tmp_path / "t.npz"
    status, err = cli(["retarget", "--manifest", moved, "--out", out], capsys)
    n = len(manifest["clips"])
    assert status == 2 and f"{n} of {n} clip files not found" in err
    assert "t_qa.failed.json" in err and (tmp_path / "t_qa.failed.json").is_file()
    assert not out.exists() and not (tmp_path / "t_qa.json").exists()
    moved.write_text(json.dumps({**manifest, "version": 7}))
    status, err = cli(["retarget", "--manifest", moved, "--out", out], capsys)
    assert status == 2 and "field 'version' is 7" in err and str(moved) in err


def test_disk_full_retarget_and_cache_leave_nothing(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(io_utils.os, "fsync", _fail_fsync(errno.ENOSPC))
    status, err = cli(["retarget", "--manifest", data / "ds" / "manifest.json", "--out",
                       tmp_path / "r" / "t.npz"], capsys)
    assert status == 1 and "No space left on device" in err and str(tmp_path / "r") in err
    assert ".pending" not in err and list((tmp_path / "r").iterdir()) == []
    out = tmp_path / "new_cache"
    status, err = cli(["cache", "--trajectory", data / "traj.npz", "--out", out], capsys)
    assert status == 1 and "No space left on device" in err and str(out) in err
    assert ".pending" not in err and not out.exists()


def test_cache_of_rejected_input_creates_no_output_folder(tmp_path, capsys):
    bad = tmp_path / "traj.npz"
    bad.write_bytes(b"garbage")
    out = tmp_path / "cache"
    status, err = cli(["cache", "--trajectory", bad, "--out", out], capsys)
    assert status == 2 and str(bad) in err and not out.exists()


def test_unwritable_out_names_the_path_given_not_the_temp_folder(data, tmp_path, capsys,
                                                                 monkeypatch):
    def denied(suffix=None, prefix=None, dir=None):
        # What the real mkdtemp raises in a folder the user may not write to.
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES),
                              os.path.join(dir, f"{prefix}abc123"))

    monkeypatch.setattr(io_utils.tempfile, "mkdtemp", denied)
    out = tmp_path / "ro" / "ex"
    status, err = cli(["extract", "--kit-root", data / "kit", "--out", out], capsys)
    assert status == 1 and f"{out}: Permission denied" in err and ".new-" not in err
