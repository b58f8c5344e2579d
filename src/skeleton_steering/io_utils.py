"""Atomic file and folder writes, and checking that an output can be written before long work.

Files: a temp file in the target directory, then rename over the target. Folders: built
beside the target and swapped in whole (`replace_dir`). OS errors raised while writing name
the target path, so the command's one-line error says where the write failed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """Permissions a plain `open(path, "w")` would give: 0o666 minus the process umask."""
    return 0o666 & ~_umask()


def _named(err: OSError, path: Path) -> OSError:
    """`err` naming `path`: when the OS gave no file name (e.g. ENOSPC from write), or named
    one of our hidden temp files (`.name.xxxx.tmp`, `.name.new-xxxx`), which the user never
    gave and cannot act on."""
    name = None if err.filename is None else Path(str(err.filename)).name
    if name is not None and not (name.startswith(".") and (".new-" in name or
                                                          name.endswith(".tmp"))):
        return err
    return type(err)(err.errno, err.strerror or str(err), str(path))


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(fileobj)` on a temp file beside `path`, then rename it to `path`.

    A crash leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file path", str(path))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # mkstemp creates 0600 files; results are meant to be shared like any other output.
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise _named(err, path) from err
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def check_writable_file(path: str | Path) -> Path:
    """Fail now, naming `path`, if a file cannot be written there later.

    Creates nothing that stays: missing parent folders are left to the write itself (which
    makes them), and the probe file goes in the nearest folder that exists. Raises
    `IsADirectoryError`, `NotADirectoryError`, `PermissionError` or another `OSError`.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file path", str(path))
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", str(existing))
    try:
        _probe(existing)
    except OSError as err:
        # Name the folder the user asked for, not the ancestor the probe went to.
        raise type(err)(err.errno, err.strerror or str(err), str(path.parent)) from err
    return path


def _probe(folder: Path) -> None:
    """Create and remove a file in `folder`: raises the OSError a real write there would."""
    fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(probe)


def check_writable_dir(path: str | Path) -> Path:
    """Fail now, naming `path`, if files cannot be created in the folder `path` (made if
    missing)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory",
                                 str(path)) from err
    except OSError as err:
        raise _named(err, path) from err
    try:
        _probe(path)
    except OSError as err:
        raise _named(err, path) from err
    return path


def replace_dir(built: str | Path, out: str | Path) -> Path:
    """Put the folder `built` in the place of `out` (siblings, so each rename is atomic).

    The old `out` is moved aside first and deleted after, so a crash leaves either the old
    folder or the new one (or, between the two renames, the old one in a hidden sibling).
    """
    built, out = Path(built), Path(out)
    old = None
    try:
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(built, out)
    except OSError as err:
        raise _named(err, out) from err
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def make_dir_beside(out: str | Path, tag: str = "new") -> Path:
    """An empty hidden folder beside `out` (same filesystem) with ordinary permissions."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{tag}-", dir=out.parent))
    except OSError as err:
        raise _named(err, out) from err
    os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are shared
    return work


def user_cache_dir() -> Path:
    """Where data derived from inputs goes when it must not be written beside them.

    `SKELETON_STEERING_CACHE` if set, else `$XDG_CACHE_HOME/skeleton-steering`, else
    `~/.cache/skeleton-steering`.
    """
    explicit = os.environ.get("SKELETON_STEERING_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "skeleton-steering"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes: what ties a recorded result to the exact file it used."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
