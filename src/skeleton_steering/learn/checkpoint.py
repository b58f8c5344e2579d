"""Training checkpoints: the whole training state plus the resolved config, in flax msgpack.

msgpack holds only data (no pickled code), and each file is written to a temp file and renamed,
so a crash or preemption never leaves half a checkpoint. The body (config, metadata, arrays) is
stored as one msgpack blob next to its SHA-256, so flipped bytes anywhere in it are found on
load instead of silently giving garbage weights. The state is stored leaf by leaf under
its pytree path (e.g. `.params['policy']['params']['log_std']`), which makes a restore check
every array by name, shape and dtype against a freshly built state, and lets a policy be
loaded without building the environment. The config inside the file is enough to rebuild the
networks, so a checkpoint loads on its own.

Files in a run directory: `checkpoint_000100.msgpack` (periodic, the newest
`run.keep_checkpoints` kept), for `--resume` only. What evaluation, rendering and users load is
the much smaller policy export (`policy_export`), written in the same container format with
another `format` tag.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from skeleton_steering.io_utils import atomic_write

FORMAT = "skeleton_steering.training_checkpoint"
# Version 2 wraps the body with its SHA-256; version 1 files (no checksum) still load.
VERSION = 2
_READABLE_VERSIONS = (1, 2)
_PERIODIC = re.compile(r"^checkpoint_(\d+)\.msgpack$")
# What `io_utils.atomic_write` leaves behind when a process dies mid-write (kill -9, OOM).
_STALE_TEMP = re.compile(r"^\.(checkpoint_\d+|policy\w*)\.msgpack\..+\.tmp$")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the run."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    path: Path
    format: str  # FORMAT, or another container tag (e.g. the policy export's)
    config: dict[str, Any]  # resolved TrainConfig as plain data
    meta: dict[str, Any]  # iteration, env_steps, best_score, sizes, ...
    arrays: dict[str, np.ndarray]  # pytree path -> leaf


def periodic_name(iteration: int) -> str:
    return f"checkpoint_{iteration:06d}.msgpack"


def flatten(tree: Any) -> dict[str, np.ndarray]:
    """{pytree path: numpy leaf}."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save(
    path: str | Path,
    state: Any,
    config: dict[str, Any],
    meta: dict[str, Any],
    fmt: str = FORMAT,
) -> Path:
    """Write `state` (any pytree), the config and metadata to `path`, atomically."""
    body = flax.serialization.msgpack_serialize(
        {"config": config, "meta": meta, "state": flatten(jax.device_get(state))}
    )
    payload = {
        "format": fmt,
        "version": VERSION,
        "sha256": hashlib.sha256(body).hexdigest(),
        "body": body,
    }
    blob = flax.serialization.msgpack_serialize(payload)
    return atomic_write(path, lambda fh: fh.write(blob))


def _restore_msgpack(path: Path, blob: bytes, what: str) -> Any:
    try:
        return flax.serialization.msgpack_restore(blob)
    except Exception as err:  # msgpack raises several unrelated types on bad bytes
        raise CheckpointError(
            f"{path}: not a readable {what} (corrupt or truncated file?): {err}"
        ) from err


def load(
    path: str | Path, fmt: str | tuple[str, ...] = FORMAT, what: str = "training checkpoint"
) -> Checkpoint:
    """Read a checkpoint (or another container of one of the formats `fmt`).

    `CheckpointError` names the file and what is wrong.
    """
    formats = (fmt,) if isinstance(fmt, str) else fmt
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read the {what}: {err.strerror or err}") from err
    payload = _restore_msgpack(path, blob, what)
    if not isinstance(payload, dict) or payload.get("format") not in formats:
        found = payload.get("format") if isinstance(payload, dict) else None
        hint = f" (it is a '{found}' file)" if isinstance(found, str) else ""
        raise CheckpointError(f"{path}: not a SkeletonSteering {what}{hint}")
    outer_format = payload["format"]
    version = payload.get("version")
    if version not in _READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: {what} version {version} is not supported "
            f"(this code reads versions {', '.join(map(str, _READABLE_VERSIONS))})"
        )
    if version >= 2:
        body = payload.get("body")
        if not isinstance(body, bytes) or not isinstance(payload.get("sha256"), str):
            raise CheckpointError(f"{path}: {what} has no checksummed body")
        if hashlib.sha256(body).hexdigest() != payload["sha256"]:
            raise CheckpointError(
                f"{path}: {what} is corrupt: its contents do not match the stored SHA-256"
            )
        payload = _restore_msgpack(path, body, what)
        if not isinstance(payload, dict):
            raise CheckpointError(f"{path}: {what} body is not a mapping")
    for key in ("config", "meta", "state"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path}: {what} has no '{key}' section")
    arrays = {k: np.asarray(v) for k, v in payload["state"].items()}
    fmt_found = str(outer_format)
    return Checkpoint(path, fmt_found, payload["config"], payload["meta"], arrays)


def restore(template: Any, ckpt: Checkpoint, prefix: str = "") -> Any:
    """`template`'s pytree with every leaf (under `prefix`) replaced by the stored array.

    Every leaf must be present with the template's shape and dtype; the error names the
    first that is not, e.g. after a change of network size.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    out = []
    for path, leaf in leaves:
        key = prefix + jax.tree_util.keystr(path)
        if key not in ckpt.arrays:
            raise CheckpointError(f"{ckpt.path}: missing array '{key}'")
        stored = ckpt.arrays[key]
        expected = np.asarray(leaf)
        if stored.shape != expected.shape or stored.dtype != expected.dtype:
            raise CheckpointError(
                f"{ckpt.path}: array '{key}' is {stored.dtype}{list(stored.shape)}, expected "
                f"{expected.dtype}{list(expected.shape)} (config changed since it was saved?)"
            )
        out.append(stored)
    return jax.tree_util.tree_unflatten(treedef, out)


def periodic_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(iteration, path) of the periodic checkpoints in `run_dir`, oldest first."""
    found = []
    for p in Path(run_dir).glob("checkpoint_*.msgpack"):
        m = _PERIODIC.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def newest(run_dir: str | Path) -> Path | None:
    found = periodic_checkpoints(run_dir)
    return found[-1][1] if found else None


def newest_valid(
    run_dir: str | Path, on_skip: Callable[[Path, CheckpointError], None] | None = None
) -> Checkpoint | None:
    """The newest periodic checkpoint that loads, skipping unreadable ones (reported).

    A job killed while the disk was full, or a file damaged later, must not make every retry of
    `--resume` fail while an older checkpoint is intact.
    """
    for _, path in reversed(periodic_checkpoints(run_dir)):
        try:
            return load(path)
        except CheckpointError as err:
            if on_skip is not None:
                on_skip(path, err)
    return None


def remove_stale_temp_files(run_dir: str | Path) -> list[Path]:
    """Delete checkpoint/export temp files a killed process left in `run_dir`; returns them.

    Call only while holding the run directory (no other writer can be mid-write there).
    """
    removed = []
    for p in Path(run_dir).glob(".*.tmp"):
        if _STALE_TEMP.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def prune(run_dir: str | Path, keep: int) -> None:
    """Delete all but the `keep` newest periodic checkpoints."""
    for _, path in periodic_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
