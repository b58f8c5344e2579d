"""Atomic writes: all or nothing, and ordinary file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from skeleton_steering.io_utils import atomic_write, atomic_write_text


def test_atomic_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write_text(target, "old")

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_os_error_while_writing_names_the_target(tmp_path):
    import errno

    def full(fh):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left") as info:
        atomic_write(tmp_path / "out.bin", full)
    assert info.value.filename == str(tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []


def test_writable_checks_refuse_the_wrong_kind_of_path_and_leave_nothing(tmp_path):
    from skeleton_steering.io_utils import check_writable_dir, check_writable_file

    (tmp_path / "file").write_text("")
    with pytest.raises(IsADirectoryError):
        check_writable_file(tmp_path)
    with pytest.raises(NotADirectoryError):
        check_writable_file(tmp_path / "file" / "out.json")
    with pytest.raises(NotADirectoryError):
        check_writable_dir(tmp_path / "file")
    # A check that passes leaves no trace either: the write itself makes missing folders.
    assert check_writable_file(tmp_path / "new" / "out.json") == tmp_path / "new" / "out.json"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file"]
