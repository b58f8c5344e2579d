"""Reading `.npz` archives safely: member by member, never unpickling.

`np.load(path, allow_pickle=False)` refuses a whole archive as soon as one member is an object
array, yet LocoMuJoCo's trajectory files hold pickled `None` members next to the numeric data
we need. So archives are opened as zip files and each `.npy` member's header is read first:
object-dtype members are skipped (their names reported) without their payload ever being
unpickled, everything else is read with `allow_pickle=False`.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np


class NpzError(ValueError):
    """An archive is missing, is not a valid npz, or one of its members is unreadable."""


@dataclasses.dataclass(frozen=True)
class NpzContents:
    """Arrays of an archive (by member name, without `.npy`) and the object members skipped."""

    arrays: dict[str, np.ndarray]
    object_members: tuple[str, ...]


def _read_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version in ((2, 0), (3, 0)):
        # Format 3.0 differs from 2.0 only in allowing utf-8 in structured field names.
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy format version {version}")


def read_npz(path: str | Path) -> NpzContents:
    """Every non-object member of the archive at `path`.

    Raises `NpzError` naming the file (and the member) when the archive or a member is broken.
    """
    path = Path(path)
    if not path.is_file():
        raise NpzError(f"{path}: file not found")
    arrays: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise NpzError(f"{path}: not a valid .npz archive ({err})") from err
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            try:
                with archive.open(info) as fh:
                    _, _, dtype = _read_header(fh)
                    if dtype.hasobject:
                        skipped.append(name)
                        continue
                with archive.open(info) as fh:
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
                raise NpzError(f"{path}: field '{name}' is unreadable ({err})") from err
    return NpzContents(arrays=arrays, object_members=tuple(skipped))
