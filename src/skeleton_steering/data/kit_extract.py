"""`extract`: walk a KIT tree, keep the clips that match the filters, write `manifest.json`.

Clips are AMASS npz files anywhere under the root (subject shape files, `shape.npz` and
SMPL-X's `*_stagei.npz`, hold only a subject's betas and are not clips: left out by name, and
listed as a shape file when only their content tells; a directory named `*.npz` or a broken
symbolic link is listed as skipped). A clip is kept when a word of its file name matches an
include keyword and none matches an exclude keyword, it reads and validates
(`amass.read_clip`), and its duration and frame rate are inside the configured bounds. Words
are split at non-letters and at camelCase humps (`WalkInCircle01` -> walk, in, circle, 01), and
a keyword matches a word it begins (`walk` matches `walking`; `run` matches `running` but not
`truncated`).

Kept clips are copied (or hard-linked) into the output directory under the same relative
path, and `manifest.json` lists for each: path (relative to the manifest), source, sha256,
frames, rate, duration, layout, gender and the matched tags; every skipped or invalid clip is
listed with its reason. One bad clip never stops the run. The output directory is extract's
own: it is built beside the target and swapped in whole, so an interrupted run leaves the
previous output as it was, and the folder never holds a clip its manifest does not list.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from skeleton_steering.config import to_dict
from skeleton_steering.data.amass import AmassFormatError, ShapeFileError, is_shape_file, read_clip
from skeleton_steering.io_utils import atomic_write, atomic_write_text, make_dir_beside, replace_dir
from skeleton_steering.progress import track

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class NoUsableClipError(ValueError):
    """No clip passed the filters; `manifest` says why each was left out (nothing written)."""

    def __init__(self, message: str, manifest: dict[str, Any]) -> None:
        super().__init__(message)
        self.manifest = manifest


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
    """Which clips to keep. Keywords match words of the file name (see the module doc)."""

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
        for keyword in (*self.include, *self.exclude):
            if not words(keyword):
                raise ValueError(f"keyword {keyword!r} has no letter or digit to match")


def scan(root: Path) -> tuple[list[Path], list[dict[str, str]]]:
    """Clip files under `root`, sorted, and the `*.npz` entries that cannot be clips (a
    directory, a broken link), each with its reason. Subject shape files are left out."""
    clips: list[Path] = []
    odd: list[dict[str, str]] = []
    for path in sorted(root.rglob("*.npz")):
        if is_shape_file(path):
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_file():
            clips.append(path)
        elif path.is_symlink() and not path.exists():
            odd.append({"path": rel, "reason": f"broken symbolic link (to {os.readlink(path)})"})
        elif path.is_dir():
            odd.append({"path": rel, "reason": "a directory, not an .npz file"})
        else:
            odd.append({"path": rel, "reason": "not a regular file"})
    return clips, odd


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words of `text`: split at non-letters and camelCase humps."""
    return [w.lower() for w in _WORD.findall(text)]


def _matches(keyword: str, name_words: list[str]) -> bool:
    """The keyword's words, in order, on consecutive words of the name (the last one as a
    prefix: `walk` matches `walking`)."""
    kw = words(keyword)
    n = len(kw)
    return any(
        name_words[i : i + n - 1] == kw[:-1] and name_words[i + n - 1].startswith(kw[-1])
        for i in range(len(name_words) - n + 1)
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(src: Path, dst: Path, previous: Path, digest: str, link: bool) -> None:
    """Put `src` at `dst`, reusing the previous output's copy `previous` when it is the same."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if previous.is_file() and previous.stat().st_size == src.stat().st_size and \
            sha256_of(previous) == digest:
        candidates = [previous]
    else:
        candidates = [src] if link else []
    for source in candidates:
        try:
            os.link(source, dst)
            return
        except OSError:
            pass  # cross-device or unsupported: copy instead

    def copy(fh) -> None:
        with src.open("rb") as source_fh:
            shutil.copyfileobj(source_fh, fh)

    atomic_write(dst, copy)


def _filter(rel: str, config: ExtractConfig) -> tuple[list[str], str | None]:
    name_words = words(Path(rel).name.removesuffix(".npz"))
    tags = [k for k in config.include if _matches(k, name_words)]
    if not tags:
        return tags, f"no include keyword {list(config.include)} in the file name"
    blocked = [k for k in config.exclude if _matches(k, name_words)]
    if blocked:
        return tags, f"exclude keyword(s) {blocked} in the file name"
    return tags, None


def _check_out(root: Path, out: Path) -> None:
    """Refuse an output folder whose swap would drop what extract did not write."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", str(out))
    if root.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"--out {out} holds the KIT root {root}; extract replaces its output "
                         "folder whole, so give it a folder outside the KIT root")
    if not out.is_dir() or (out / MANIFEST_NAME).is_file():
        return
    # No manifest (e.g. Snakemake removed it before a rerun): clips only may be replaced.
    foreign = next((p for p in sorted(out.rglob("*"))
                    if not p.is_dir() and p.suffix != ".npz"), None)
    if foreign is not None:
        raise ValueError(
            f"--out {out} holds {foreign.relative_to(out)}, which extract did not write; "
            "extract replaces its output folder whole, so give it a new or empty folder"
        )


def extract(
    kit_root: str | Path, out: str | Path, config: ExtractConfig | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Filter the clips under `kit_root` into `out` and write `out/manifest.json`.

    Returns the manifest. Raises `FileNotFoundError` when `kit_root` is not a directory, and
    `NoUsableClipError` (with the manifest, `out` left as it was) when no clip is kept.
    """
    config = config or ExtractConfig()
    root = Path(kit_root)
    out = Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"KIT root is not a directory: {root}")
    _check_out(root, out)
    clips, skipped = scan(root)
    kept: list[dict[str, Any]] = []
    work = make_dir_beside(out)
    try:
        for path in track(clips, "extract clips", console=console):
            entry = _consider(path, root, config, skipped)
            if entry is not None:
                _place(path, work / entry["path"], out / entry["path"], entry["sha256"],
                       config.link)
                kept.append(entry)
        skipped.sort(key=lambda item: item["path"])
        manifest = {
            "version": MANIFEST_VERSION,
            "kit_root": str(root.resolve()),
            "filters": to_dict(config),
            "clips": kept,
            "skipped": skipped,
            "summary": {"found": len(kept) + len(skipped), "kept": len(kept),
                        "skipped": len(skipped),
                        "seconds": round(sum(c["duration"] for c in kept), 3)},
        }
        if not kept:
            raise NoUsableClipError(
                f"no usable clip under the KIT root {root} ({len(skipped)} found, none kept); "
                f"nothing written to {out}", manifest)
        atomic_write_text(work / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
        replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _consider(path: Path, root: Path, config: ExtractConfig,
              skipped: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The manifest entry of the clip at `path`, or None (its reason appended to `skipped`)."""
    rel = path.relative_to(root).as_posix()
    tags, reason = _filter(rel, config)
    if reason:
        skipped.append({"path": rel, "reason": reason})
        return None
    try:
        clip = read_clip(path)
    except ShapeFileError:
        skipped.append({"path": rel, "reason": "a subject shape file (betas only), not a clip"})
        return None
    except AmassFormatError as err:
        skipped.append({"path": rel, "reason": f"invalid: {err}"})
        return None
    if not config.min_rate <= clip.rate <= config.max_rate:
        reason = f"frame rate {clip.rate:g} Hz outside {config.min_rate:g}..{config.max_rate:g}"
    elif not config.min_duration <= clip.duration <= config.max_duration:
        reason = (f"duration {clip.duration:.2f} s outside "
                  f"{config.min_duration:g}..{config.max_duration:g} s")
    if reason:
        skipped.append({"path": rel, "reason": reason})
        return None
    return {
        "path": rel, "source": str(path.resolve()), "sha256": sha256_of(path),
        "frames": clip.frames, "rate": clip.rate, "duration": round(clip.duration, 4),
        "layout": clip.layout, "gender": clip.gender, "tags": tags,
    }
