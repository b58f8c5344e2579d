"""`extract`: walk a KIT tree, keep the clips that match the filters, write `manifest.json`.

Clips are AMASS npz files anywhere under the root (`shape.npz` files, which hold only a
subject's betas, are not clips). A clip is kept when its path (relative to the root, lower
case) contains an include keyword and no exclude keyword, it reads and validates
(`amass.read_clip`), and its duration and frame rate are inside the configured bounds. Kept
clips are copied (or hard-linked) into the output directory under the same relative path, and
`manifest.json` lists for each: path (relative to the manifest), source, sha256, frames, rate,
duration, layout, gender and the matched tags; every skipped or invalid clip is listed with
its reason. One bad clip never stops the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from skeleton_steering.config import to_dict
from skeleton_steering.data.amass import AmassFormatError, read_clip
from skeleton_steering.io_utils import atomic_write, atomic_write_text
from skeleton_steering.progress import track

MANIFEST_NAME = "manifest.json"


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
    """Which clips to keep. Keywords match anywhere in the lower-case relative path."""

    include: tuple[str, ...] = ("walk", "turn")
    exclude: tuple[str, ...] = ("run", "jog", "stair", "jump", "hop", "upstairs",
                                "downstairs")
    min_duration: float = 1.0
    max_duration: float = 120.0
    min_rate: float = 50.0
    max_rate: float = 500.0
    link: bool = False  # hard-link instead of copying when the filesystem allows

    def validate(self) -> None:
        if not 0 <= self.min_duration <= self.max_duration:
            raise ValueError("need 0 <= min_duration <= max_duration")
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError("need 0 < min_rate <= max_rate")


def find_clips(root: Path) -> list[Path]:
    """AMASS clip files under `root`, sorted (subject `shape.npz` files excluded)."""
    return sorted(p for p in root.rglob("*.npz")
                  if p.is_file() and not p.name.endswith("shape.npz"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(src: Path, dst: Path, link: bool) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size and \
            sha256_of(dst) == sha256_of(src):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        tmp = dst.with_name(f".{dst.name}.link")
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
            os.replace(tmp, dst)
            return
        except OSError:
            tmp.unlink(missing_ok=True)  # cross-device or unsupported: copy instead
    def copy(fh) -> None:
        with src.open("rb") as source:
            shutil.copyfileobj(source, fh)

    atomic_write(dst, copy)


def _filter(rel: str, config: ExtractConfig) -> tuple[list[str], str | None]:
    text = rel.lower()
    tags = [k for k in config.include if k.lower() in text]
    if not tags:
        return tags, f"no include keyword {list(config.include)} in the path"
    blocked = [k for k in config.exclude if k.lower() in text]
    if blocked:
        return tags, f"exclude keyword(s) {blocked} in the path"
    return tags, None


def extract(
    kit_root: str | Path, out: str | Path, config: ExtractConfig | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Filter the clips under `kit_root` into `out` and write `out/manifest.json`.

    Returns the manifest. Raises `FileNotFoundError` when `kit_root` is not a directory; a
    manifest with no kept clips is still written (the caller decides the exit status).
    """
    config = config or ExtractConfig()
    root = Path(kit_root)
    out = Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"KIT root is not a directory: {root}")
    kept: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for path in track(find_clips(root), "extract clips", console=console):
        rel = path.relative_to(root).as_posix()
        tags, reason = _filter(rel, config)
        if reason:
            skipped.append({"path": rel, "reason": reason})
            continue
        try:
            clip = read_clip(path)
        except AmassFormatError as err:
            skipped.append({"path": rel, "reason": f"invalid: {err}"})
            continue
        if not config.min_rate <= clip.rate <= config.max_rate:
            reason = f"frame rate {clip.rate:g} Hz outside {config.min_rate:g}..{config.max_rate:g}"
        elif not config.min_duration <= clip.duration <= config.max_duration:
            reason = (f"duration {clip.duration:.2f} s outside "
                      f"{config.min_duration:g}..{config.max_duration:g} s")
        if reason:
            skipped.append({"path": rel, "reason": reason})
            continue
        _place(path, out / rel, config.link)
        kept.append({
            "path": rel, "source": str(path.resolve()), "sha256": sha256_of(path),
            "frames": clip.frames, "rate": clip.rate, "duration": round(clip.duration, 4),
            "layout": clip.layout, "gender": clip.gender, "tags": tags,
        })
    manifest = {
        "version": 1,
        "kit_root": str(root.resolve()),
        "filters": to_dict(config),
        "clips": kept,
        "skipped": skipped,
        "summary": {"found": len(kept) + len(skipped), "kept": len(kept),
                    "skipped": len(skipped),
                    "seconds": round(sum(c["duration"] for c in kept), 3)},
    }
    atomic_write_text(out / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return manifest
