"""One trainer per run directory: an exclusive lock on `<run_dir>/.train.lock` while it trains.

Two trainers on one run directory would interleave `metrics.csv` and overwrite each other's
checkpoints, so `train` takes the lock before it writes anything and a second trainer stops
at once with a message naming the holder (pid, host, start time, as the holder wrote them into
the lock file). The lock is the kernel's (`flock`), not the file's existence: when a trainer
dies, however it dies (kill -9, node failure), the lock goes with it and the next trainer
(e.g. a Snakemake retry with `--resume`) proceeds; the lock file stays, holding the last
holder's details.

Shared filesystems: on Linux, `flock` on NFS is carried out as a whole-file POSIX lock by the
NFS lock protocol (NLM for v3, built into v4), so it holds across nodes as long as the mount
has locking enabled; an NFS mount with `nolock` (or `local_lock=all`) keeps locks local to one
node, and so does a Lustre mount with `localflock` (Lustre needs `-o flock` for cluster-wide
locks). Where the filesystem refuses locks altogether, training goes on with a warning.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

LOCK_NAME = ".train.lock"
# The filesystem offers no locks: warn and train unprotected rather than refuse to train.
_NO_LOCKING = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class RunDirInUseError(ValueError):
    """Another process is training in the run directory (a user error: exit status 2)."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its details yet"


def _write_holder(fd: int) -> None:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    details = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(details) + "\n").encode(), 0)


@contextlib.contextmanager
def hold(run_dir: str | Path, console: Console | None = None) -> Iterator[Path]:
    """Hold the run directory's lock for the `with` block; raises `RunDirInUseError` when
    another process holds it."""
    path = Path(run_dir) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise RunDirInUseError(
                f"{run_dir} is in use by another trainer ({_holder(fd)}; lock file {path}); "
                "wait for it to finish, or choose another --run_dir"
            ) from None
        except OSError as err:
            if err.errno not in _NO_LOCKING:
                raise
            locked = False
            if console is not None:
                console.print(f"[yellow]warning:[/] {path}: the filesystem refuses file locks "
                              f"({err.strerror}); nothing stops a second trainer on {run_dir}")
        if locked:
            _write_holder(fd)
        yield path
    finally:
        os.close(fd)  # releases the lock
