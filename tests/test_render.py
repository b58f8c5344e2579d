"""Steering videos: GL backend choice, arrows and text in the scene, mp4 + GIF output, the
`render` command. Rendering tests use small images and a dozen frames; they need a working
GL backend (Mesa's software EGL or OSMesa on machines without a GPU, installed by `make`)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from skeleton_steering import cli
from skeleton_steering.data import trajectory as tr
from skeleton_steering.data.resample import qvel_from_qpos
from skeleton_steering.data.sample import MotionSpec, generate_motion
from skeleton_steering.evaluate import render_cli
from skeleton_steering.render import gl_backend, video_io
from skeleton_steering.render import renderer as render
from skeleton_steering.render.offscreen import FollowCamera, root_yaw
from skeleton_steering.skeleton import model as skel

RATE = 50.0


@pytest.fixture(scope="module")
def gl() -> str:
    try:
        return gl_backend.active_backend()
    except gl_backend.GLBackendError as err:
        pytest.fail(f"rendering needs a GL backend: {err}")


def walk_qpos(seconds: float, speed: float = 1.2, turn_deg: float = 0.0) -> np.ndarray:
    return generate_motion(MotionSpec("t", speed, turn_deg, seconds), rate=RATE).qpos


def walk_frames(n: int) -> list[render.Frame]:
    qpos = walk_qpos(n / RATE)[:n]
    vel = qvel_from_qpos(qpos, 1.0 / RATE)[:, :2]
    return [render.Frame(qpos[i], root_yaw(qpos[i]), 1.1, vel[i], i / RATE) for i in range(n)]


def decode(path: Path) -> tuple[dict, list[np.ndarray]]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


def colour_mask(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 0) -> np.ndarray:
    return np.all(np.abs(image.astype(int) - np.array(rgb)) <= tol, axis=-1)


def still(yaw: float, speed: float, vel: tuple[float, float]) -> render.Frame:
    return render.Frame(skel.standing_qpos(), yaw, speed, np.array(vel), 0.0)


# -- videos ------------------------------------------------------------------------------------


def test_video_decodes_with_its_frames_size_motion_and_preview(tmp_path, gl):
    frames = walk_frames(12)
    out = tmp_path / "walk.mp4"
    result = render.render_video(frames, out, width=320, height=240, fps=25.0)

    assert result == render.VideoResult(out, 12, tmp_path / "walk.gif")
    meta, images = decode(out)
    assert meta["codec"] == "h264"
    assert meta["size"] == (320, 240)
    assert meta["fps"] == pytest.approx(25.0)
    assert len(images) == 12
    # The character walks: every frame differs from the one before, the last from the first.
    steps = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(images)]
    assert min(steps) > 0.05
    assert np.abs(images[0].astype(int) - images[-1]).mean() > 1.0
    # The commanded arrow (target speed 1.1 m/s) survives encoding, close to its colour.
    assert all(colour_mask(im, render.COMMANDED_RGB, tol=70).sum() >= 5 for im in images)

    _, preview = decode(result.preview_path)
    assert len(preview) == math.ceil(12 / video_io.preview_stride(12, 25.0))
    assert preview[0].shape == (240, 320, 3)
    # Temp files were renamed away; nothing else is left beside the outputs.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif", "walk.mp4"]


def test_arrows_show_the_command_and_the_velocity(gl):
    frames = [
        still(0.0, 1.0, (1.0, 0.0)),
        still(-0.8, 1.0, (1.0, 0.0)),  # heading turned right
        still(0.0, 1.6, (1.0, 0.0)),  # faster command: a longer arrow
        still(0.0, 0.0, (0.0, 0.0)),  # standing still: no direction to show
    ]
    images = list(render.render_frames(frames, 320, 240, RATE))
    green = [colour_mask(im, render.COMMANDED_RGB) for im in images]
    magenta = [colour_mask(im, render.ACTUAL_RGB) for im in images]

    assert green[0].sum() >= 20 and magenta[0].sum() >= 20
    shift = np.argwhere(green[1]).mean(axis=0) - np.argwhere(green[0]).mean(axis=0)
    assert np.linalg.norm(shift) > 5.0
    # The velocity did not change, so its arrow stays where it was.
    still_shift = np.argwhere(magenta[1]).mean(axis=0) - np.argwhere(magenta[0]).mean(axis=0)
    assert np.linalg.norm(still_shift) < 1.0
    assert green[2].sum() > 1.2 * green[0].sum()
    assert green[3].sum() == 0 and magenta[3].sum() == 0


def test_follow_camera_smooths_and_snaps_on_jumps():
    qpos = skel.standing_qpos().astype(np.float64)
    cam = FollowCamera()
    cam.update(qpos, 0.02)
    moved = qpos.copy()
    moved[0] += 0.1
    cam.update(moved, 0.02)
    lookat = cam._lookat
    assert lookat is not None and 0.0 < lookat[0] < 0.1  # follows, with a lag
    moved[0] += 5.0  # a reset teleports the root: the camera goes with it at once
    cam.update(moved, 0.02)
    assert cam._lookat[0] == pytest.approx(moved[0])


# -- bad input, atomic output ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "frames", "error", "text"),
    [
        ({"width": 321}, None, video_io.VideoError, "width must be even"),
        ({"fps": 0.0}, None, video_io.VideoError, "fps must be a positive number"),
        ({}, [], render.FrameError, "no frames"),
        ({}, [still(0, 1, (0, 0)), render.Frame(np.zeros(30), 0.0, 1.0, np.zeros(2), 0.0)],
         render.FrameError, "frames[1].qpos: shape (30,)"),
        ({}, [still(math.nan, 1, (0, 0))], render.FrameError, "frames[0].target_yaw"),
        ({}, [still(0, -1.0, (0, 0))], render.FrameError, "frames[0].target_speed"),
    ],
)
def test_bad_arguments_are_named_before_anything_is_written(tmp_path, kwargs, frames, error,
                                                            text):
    frames = [still(0, 1, (1, 0))] if frames is None else frames
    with pytest.raises(error) as info:
        render.render_video(frames, tmp_path / "v.mp4", **kwargs)
    assert text in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_video_must_be_named_mp4(tmp_path):
    with pytest.raises(video_io.VideoError, match=r"name it \.mp4"):
        render.render_video([still(0, 1, (1, 0))], tmp_path / "v.avi")


def _images(n: int, fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise RuntimeError("renderer crashed")
        yield np.full((64, 64, 3), 10 * i, dtype=np.uint8)


def test_a_failed_render_leaves_existing_outputs_untouched(tmp_path):
    out, gif = tmp_path / "v.mp4", tmp_path / "v.gif"
    out.write_bytes(b"old video")
    with pytest.raises(RuntimeError, match="renderer crashed"):
        video_io.write_video(_images(5, fail_at=3), out, 64, 64, 25.0, gif, n_frames=5)
    assert out.read_bytes() == b"old video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_an_encoder_failure_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(video_io, "MP4_ARGS", ("-c:v", "no_such_codec", "-f", "mp4"))
    out = tmp_path / "v.mp4"
    with pytest.raises(video_io.VideoError) as info:
        video_io.write_video(_images(3), out, 64, 64, 25.0)
    assert str(out) in str(info.value) and "Encoder not found" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_encoded_frames_decode_back(tmp_path):
    out = tmp_path / "v.mp4"
    assert video_io.write_video(_images(7), out, 64, 64, 10.0) == 7
    meta, images = decode(out)
    assert meta["size"] == (64, 64) and len(images) == 7
    assert [int(np.median(im)) for im in images] == pytest.approx([10 * i for i in range(7)],
                                                                 abs=3)


# -- the render command ------------------------------------------------------------------------


@pytest.fixture()
def tiny_trajectory(tmp_path) -> tuple[Path, tr.Trajectory]:
    clips = []
    for turn in (0.0, 45.0):
        qpos = walk_qpos(0.2, turn_deg=turn)  # 11 frames each
        clips.append((qpos, qvel_from_qpos(qpos, 1.0 / RATE)))
    traj = tr.from_clips(clips, RATE)
    path = tmp_path / "tiny_traj.npz"
    tr.save_trajectory(traj, path)
    return path, tr.load_trajectory(path)


def test_trajectory_frames_show_the_roots_own_velocity_and_heading(tiny_trajectory):
    path, traj = tiny_trajectory
    frames, fps = render_cli.trajectory_frames(path)
    assert fps == RATE and len(frames) == traj.n_frames == 22
    for k in (0, 5, 21):
        np.testing.assert_allclose(frames[k].velocity_xy, traj.qvel[k, :2], rtol=1e-6)
        assert frames[k].target_yaw == pytest.approx(root_yaw(traj.qpos[k]))
        assert frames[k].time == pytest.approx(k / RATE)
        assert frames[k].target_speed > 0.3
    # At half the rate every other frame is shown, in real time; one clip alone.
    half, fps = render_cli.trajectory_frames(path, fps=25.0, clip=1)
    assert fps == 25.0 and len(half) == 6
    np.testing.assert_array_equal(half[2].qpos, traj.qpos[11 + 4])


def test_render_command_renders_a_trajectory(tmp_path, tiny_trajectory, gl, capsys,
                                             monkeypatch):
    path, traj = tiny_trajectory
    out = tmp_path / "videos" / "tiny.mp4"
    argv = ["render", "--trajectory", str(path), "--out", str(out), "--width", "160",
            "--height", "120"]
    assert cli.main(argv) == 0
    assert f"wrote {out} (22 frames)" in capsys.readouterr().err
    meta, images = decode(out)
    assert meta["size"] == (160, 120) and len(images) == traj.n_frames
    assert out.with_suffix(".gif").is_file()

    # Defaults: results/videos/<trajectory stem>.mp4 under the working directory.
    monkeypatch.chdir(tmp_path)
    assert cli.main(["render", "--trajectory", str(path), "--width", "160", "--height", "120",
                     "--fps", "25", "--clip", "0", "--no_preview"]) == 0
    default = tmp_path / "results" / "videos" / "tiny_traj.mp4"
    _, images = decode(default)
    assert len(images) == 6
    assert not default.with_suffix(".gif").exists()


@pytest.mark.parametrize(
    ("extra", "text"),
    [([], "missing.npz: file not found"), (["--clip", "5"], "--clip 5")],
)
def test_render_command_reports_bad_input_in_one_line(tmp_path, tiny_trajectory, capsys, extra,
                                                      text):
    path = tmp_path / "missing.npz" if not extra else tiny_trajectory[0]
    out = tmp_path / "out" / "v.mp4"
    assert cli.main(["render", "--trajectory", str(path), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and text in err.replace("\n", "")
    assert not out.parent.exists()


# -- GL backend choice (the probe is faked: no GL is touched) ------------------------------------


class FakeProbe:
    def __init__(self, working: set[str]) -> None:
        self.working = working
        self.calls: list[str] = []

    def __call__(self, backend: str) -> str | None:
        self.calls.append(backend)
        return None if backend in self.working else f"{backend} driver missing"


@pytest.fixture()
def linux(monkeypatch):
    monkeypatch.setattr(gl_backend.platform, "system", lambda: "Linux")


def test_egl_is_tried_first_and_exported(linux):
    probe, environ = FakeProbe({"egl", "osmesa"}), {}
    assert gl_backend.select_backend(probe, environ) == "egl"
    assert probe.calls == ["egl"] and environ["MUJOCO_GL"] == "egl"


def test_osmesa_is_the_fallback(linux):
    probe, environ = FakeProbe({"osmesa"}), {}
    assert gl_backend.select_backend(probe, environ) == "osmesa"
    assert probe.calls == ["egl", "osmesa"] and environ["MUJOCO_GL"] == "osmesa"


def test_a_user_set_backend_is_the_only_one_tried(linux):
    probe = FakeProbe({"egl", "osmesa"})
    assert gl_backend.select_backend(probe, {"MUJOCO_GL": "OSMesa "}) == "osmesa"
    assert probe.calls == ["osmesa"]

    probe = FakeProbe({"egl"})
    with pytest.raises(gl_backend.GLBackendError) as info:
        gl_backend.select_backend(probe, {"MUJOCO_GL": "osmesa"})
    assert probe.calls == ["osmesa"]  # no silent switch to egl
    assert "MUJOCO_GL=osmesa" in str(info.value) and "osmesa driver missing" in str(info.value)


def test_one_clear_message_when_no_backend_works(linux):
    probe, environ = FakeProbe(set()), {}
    with pytest.raises(gl_backend.GLBackendError) as info:
        gl_backend.select_backend(probe, environ)
    message = str(info.value)
    assert "egl: egl driver missing" in message and "osmesa: osmesa driver missing" in message
    assert "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6" in message
    assert gl_backend.INSTALL_SCRIPT in message
    assert "MUJOCO_GL" not in environ
    assert isinstance(info.value, ValueError)  # the command line prints it as one line


def test_rendering_switched_off_is_reported(linux):
    with pytest.raises(gl_backend.GLBackendError, match="MUJOCO_GL=off turns"):
        gl_backend.select_backend(FakeProbe({"egl"}), {"MUJOCO_GL": "off"})


def test_the_probe_names_a_backend_that_cannot_work():
    reason = gl_backend.probe("no_such_backend")
    assert reason is not None and "no_such_backend" in reason
