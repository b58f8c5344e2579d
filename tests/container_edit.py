"""Edit the body of a checkpoint or policy export the way a bug elsewhere might (checksum kept)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax.serialization


def rewrite_body(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy `src` to `dst` with `edit(body)` applied and a valid SHA-256 for the new body."""
    outer = flax.serialization.msgpack_restore(src.read_bytes())
    body = flax.serialization.msgpack_restore(outer["body"])
    edit(body)
    outer["body"] = flax.serialization.msgpack_serialize(body)
    outer["sha256"] = hashlib.sha256(outer["body"]).hexdigest()
    dst.write_bytes(flax.serialization.msgpack_serialize(outer))
    return dst
