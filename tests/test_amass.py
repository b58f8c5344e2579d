"""Reading AMASS clips: both layouts, both frame-rate keys, and a clear error per bad input."""

from __future__ import annotations

import numpy as np
import pytest

from skeleton_steering.data.amass import AmassFormatError, read_clip, write_clip

T = 20


def _fields(**overrides):
    rng = np.random.default_rng(0)
    fields = {
        "poses": rng.normal(0, 0.1, (T, 156)),
        "trans": np.tile([0.0, 0.0, 0.9], (T, 1)),
        "betas": np.zeros(16),
        "gender": np.array("female"),
        "mocap_framerate": np.array(100.0),
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def _write(tmp_path, name="clip_poses.npz", **overrides):
    path = tmp_path / name
    np.savez(path, **_fields(**overrides))
    return path


def test_smplh_and_both_rate_spellings(tmp_path):
    a = read_clip(_write(tmp_path, "a.npz"))
    b = read_clip(_write(tmp_path, "b.npz", mocap_framerate=None,
                         mocap_frame_rate=np.array(120.0)))
    assert a.layout == "SMPL-H" and a.rate == 100.0 and a.frames == T
    assert b.rate == 120.0
    assert a.body_pose.shape == (T, 21, 3)
    np.testing.assert_allclose(a.root_orient, _fields()["poses"][:, :3])
    np.testing.assert_allclose(a.body_pose.reshape(T, -1), _fields()["poses"][:, 3:66])
    assert a.gender == "female"


def test_gender_as_bytes_and_bare_66(tmp_path):
    clip = read_clip(_write(tmp_path, gender=np.array(b"male"),
                            poses=np.zeros((T, 66))))
    assert clip.gender == "male" and clip.layout == "bare"


def test_smplx_layout_matches_smplh(tmp_path):
    rng = np.random.default_rng(1)
    root, body = rng.normal(0, 0.2, (T, 3)), rng.normal(0, 0.2, (T, 21, 3))
    trans = rng.normal(0, 1, (T, 3))
    h = read_clip(write_clip(tmp_path / "h.npz", root, body, trans, 100.0, layout="SMPL-H"))
    x = read_clip(write_clip(tmp_path / "x.npz", root, body, trans, 100.0, layout="SMPL-X"))
    assert x.layout == "SMPL-X"
    np.testing.assert_allclose(h.body_pose, x.body_pose)
    np.testing.assert_allclose(h.root_orient, x.root_orient)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"trans": None}, "trans", "missing"),
        ({"poses": None}, "poses", "missing"),
        ({"poses": np.zeros((T, 70))}, "poses", "T x 156"),
        ({"trans": np.zeros((T, 2))}, "trans", "T x 3"),
        ({"poses": np.zeros((0, 156)), "trans": np.zeros((0, 3))}, "poses", "zero frames"),
        ({"trans": np.zeros((T + 1, 3))}, "trans", "frames"),
        ({"mocap_framerate": None, "fps": np.array(100.0)}, None, "'fps'"),
        ({"mocap_framerate": np.array(-5.0)}, "mocap_framerate", "positive"),
        ({"gender": np.array("robot")}, "gender", "one of"),
        ({"poses": np.zeros((T, 156)).astype(str)}, "poses", "numeric"),
    ],
)
def test_bad_input_names_file_and_field(tmp_path, overrides, field, words):
    path = _write(tmp_path, **overrides)
    with pytest.raises(AmassFormatError) as err:
        read_clip(path)
    message = str(err.value)
    assert str(path) in message
    if field:
        assert f"field '{field}'" in message
    assert words in message


def test_nan_frames_are_reported_with_the_first_frame(tmp_path):
    poses = np.zeros((T, 156))
    poses[7, 10] = np.nan
    poses[9, 0] = np.inf
    with pytest.raises(AmassFormatError, match=r"field 'poses': 2 frame\(s\).*first: frame 7"):
        read_clip(_write(tmp_path, poses=poses))


def test_object_array_is_refused_without_unpickling(tmp_path):
    class Boom:
        def __reduce__(self):  # unpickling this would raise: proves we never unpickle
            return (RuntimeError, ("unpickled!",))

    path = tmp_path / "obj.npz"
    fields = _fields()
    fields["trans"] = np.array([Boom()], dtype=object)
    np.savez(path, **fields)
    with pytest.raises(AmassFormatError, match=r"field 'trans'.*object array"):
        read_clip(path)


def test_not_an_archive_and_missing_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(AmassFormatError, match=r"not a valid \.npz"):
        read_clip(bad)
    with pytest.raises(AmassFormatError, match="not found"):
        read_clip(tmp_path / "missing.npz")


def test_shape_files_are_recognised_not_reported_as_bad_clips(tmp_path):
    """SMPL-X subject files (`*_stagei.npz`) and any betas-only archive are shape files: named
    as such by `read_clip`, left out of `extract`'s clips, never listed as invalid."""
    from skeleton_steering.data.amass import ShapeFileError, is_shape_file
    from skeleton_steering.data.kit_extract import extract

    kit = tmp_path / "kit" / "ACCAD" / "s1"
    kit.mkdir(parents=True)
    np.savez(kit / "neutral_stagei.npz", betas=np.zeros(16), gender=np.array("neutral"),
             surface_model_type=np.array("smplx"))
    np.savez(kit / "walk01_betas.npz", betas=np.zeros(10))  # content alone says it
    np.savez(kit / "walk_poses.npz", **_fields(trans=np.tile([0.0, 0.0, 0.9], (200, 1)),
                                              poses=np.zeros((200, 156))))
    assert is_shape_file(kit / "neutral_stagei.npz") and is_shape_file("KIT/3/shape.npz")
    assert not is_shape_file(kit / "walk_poses.npz")
    for name in ("neutral_stagei.npz", "walk01_betas.npz"):
        with pytest.raises(ShapeFileError, match="shape file"):
            read_clip(kit / name)
    manifest = extract(tmp_path / "kit", tmp_path / "out")
    assert [c["path"] for c in manifest["clips"]] == ["ACCAD/s1/walk_poses.npz"]
    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert "ACCAD/s1/neutral_stagei.npz" not in reasons
    assert "shape file" in reasons["ACCAD/s1/walk01_betas.npz"]
    assert not any(r.startswith("invalid") for r in reasons.values())
