"""Training checkpoints: the whole training state plus the resolved config, in flax msgpack.

msgpack holds only data (no pickled code), and each file is written to a temp file and renamed,
so a crash or preemption never leaves half a checkpoint. The state is stored leaf by leaf under
its pytree path (e.g. `.params['policy']['params']['log_std']`), which makes a restore check
every array by name, shape and dtype against a freshly built state, and lets a policy be
loaded without building the environment. The config inside the file is enough to rebuild the
networks, so a checkpoint loads on its own.

Files in a run directory: `checkpoint_000100.msgpack` (periodic, newest kept) and
`checkpoint_best.msgpack` (best periodic evaluation).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from skeleton_steering.io_utils import atomic_write

FORMAT = "skeleton_steering.training_checkpoint"
VERSION = 1
BEST_NAME = "checkpoint_best.msgpack"
_PERIODIC = re.compile(r"^checkpoint_(\d+)\.msgpack$")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the run."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    path: Path
    config: dict[str, Any]  # resolved TrainConfig as plain data
    meta: dict[str, Any]  # iteration, env_steps, best_score, sizes, ...
    arrays: dict[str, np.ndarray]  # pytree path -> leaf


def periodic_name(iteration: int) -> str:
    return f"checkpoint_{iteration:06d}.msgpack"


def flatten(tree: Any) -> dict[str, np.ndarray]:
    """{pytree path: numpy leaf}."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save(path: str | Path, state: Any, config: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write `state` (any pytree), the config and metadata to `path`, atomically."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": config,
        "meta": meta,
        "state": flatten(jax.device_get(state)),
    }
    blob = flax.serialization.msgpack_serialize(payload)
    return atomic_write(path, lambda fh: fh.write(blob))


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint; `CheckpointError` names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = flax.serialization.msgpack_restore(path.read_bytes())
    except Exception as err:  # msgpack raises several unrelated types on bad bytes
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt or truncated file?): {err}"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a SkeletonSteering training checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {payload.get('version')} is not supported "
            f"(this code reads version {VERSION})"
        )
    for key in ("config", "meta", "state"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint has no '{key}' section")
    arrays = {k: np.asarray(v) for k, v in payload["state"].items()}
    return Checkpoint(path, payload["config"], payload["meta"], arrays)


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


def prune(run_dir: str | Path, keep: int) -> None:
    """Delete all but the `keep` newest periodic checkpoints (the best one is separate)."""
    for _, path in periodic_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
