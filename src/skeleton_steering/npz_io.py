"""Reading `.npz` archives safely: member by member, never unpickling.

`np.load(path, allow_pickle=False)` refuses a whole archive as soon as one member is an object
array, yet LocoMuJoCo's trajectory files hold pickled `None` members next to the numeric data
we need. So archives are opened as zip files and each `.npy` member's header is read first:
object-dtype members are skipped (their names reported) without their payload ever being
unpickled, everything else is read with `allow_pickle=False`.

Every way an archive can be broken (not a zip, a bad CRC, truncated or undecompressible data, a
bad `.npy` header, a header whose shape does not fit the member's size) raises `NpzError`
naming the file and the member. Sizes are checked before anything is allocated: a member's
header must describe exactly the bytes the member holds, and a member's stated size must fit
the archive's size (deflate expands at most ~1032x), so a corrupt header claiming terabytes
fails cleanly instead of exhausting memory.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np


class NpzError(ValueError):
    """An archive is missing, is not a valid npz, or one of its members is unreadable."""


@dataclasses.dataclass(frozen=True)
class NpzContents:
    """Arrays of an archive (by member name, without `.npy`) and the object members skipped."""

    arrays: dict[str, np.ndarray]
    object_members: tuple[str, ...]


# What zipfile, zlib and numpy raise on damaged bytes (NotImplementedError: an unknown
# compression method; RuntimeError: an "encrypted" flag set by a flipped bit).
_DAMAGE = (zipfile.BadZipFile, zlib.error, ValueError, EOFError, struct.error, OverflowError,
           NotImplementedError, RuntimeError)
# Deflate's best ratio is 1032:1; a member stating more than that is corrupt.
_MAX_DEFLATE_RATIO = 1032


def _read_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version in ((2, 0), (3, 0)):
        # Format 3.0 differs from 2.0 only in allowing utf-8 in structured field names.
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy format version {version}")


def _check_stated_size(info: zipfile.ZipInfo, archive_size: int) -> None:
    if info.compress_size > archive_size:
        raise ValueError(f"states {info.compress_size} compressed bytes, more than the "
                         f"{archive_size}-byte file")
    stored = info.compress_type == zipfile.ZIP_STORED
    limit = info.compress_size if stored else info.compress_size * _MAX_DEFLATE_RATIO + 1024
    if info.file_size > limit:
        raise ValueError(f"states {info.file_size} bytes from {info.compress_size} "
                         "compressed bytes, which no archive holds")


def _check_payload(shape: tuple[int, ...], dtype: np.dtype, available: int) -> None:
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise ValueError(f"header has an invalid shape {shape}")
    needed = math.prod(shape) * dtype.itemsize
    if needed != available:
        raise ValueError(f"header claims shape {shape} of {dtype} ({needed} bytes) but the "
                         f"member holds {available} bytes")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray | None:
    """The member's array, or None for an object array (never unpickled)."""
    with archive.open(info) as fh:
        shape, _, dtype = _read_header(fh)
        if dtype.hasobject:
            return None
        _check_payload(shape, dtype, info.file_size - fh.tell())
    with archive.open(info) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def read_npz(path: str | Path) -> NpzContents:
    """Every non-object member of the archive at `path`.

    Raises `NpzError` naming the file (and the member) when the archive or a member is broken.
    """
    path = Path(path)
    if path.is_dir():
        raise NpzError(f"{path}: is a directory, not an .npz file")
    if not path.is_file():
        broken = path.is_symlink()
        raise NpzError(f"{path}: {'broken symbolic link' if broken else 'file not found'}")
    arrays: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    try:
        archive_size = path.stat().st_size
        archive = zipfile.ZipFile(path)
    except OSError as err:
        raise NpzError(f"{path}: cannot be read ({err.strerror or err})") from err
    except _DAMAGE as err:
        raise NpzError(f"{path}: not a valid .npz archive ({err})") from err
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            try:
                _check_stated_size(info, archive_size)
                array = _read_member(archive, info)
            except OSError as err:
                raise NpzError(f"{path}: field '{name}' cannot be read ({err})") from err
            except _DAMAGE as err:
                raise NpzError(f"{path}: field '{name}' is unreadable ({err})") from err
            if array is None:
                skipped.append(name)
            else:
                arrays[name] = array
    return NpzContents(arrays=arrays, object_members=tuple(skipped))
