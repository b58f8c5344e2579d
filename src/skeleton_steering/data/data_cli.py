"""Command-line stages of the data chain: sample-kit, extract, retarget, cache.

`cli.py` registers these parsers and hands the parsed arguments to `run`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skeleton_steering.arg_types import finite_float, seed
from skeleton_steering.config import from_dict, read_yaml
from skeleton_steering.io_utils import check_writable_dir, check_writable_file

COMMANDS = ("sample-kit", "extract", "retarget", "cache")
# Mocap is recorded at 30-1000 Hz; rates outside would make clips of absurd sizes.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 10.0, 1000.0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the data subcommands to `sub`."""
    sample = sub.add_parser(
        "sample-kit", help="write synthetic KIT-like walking clips (AMASS format)",
        description="Writes SYNTHETIC walking clips (straight at three speeds, turns to both "
        "sides, 100 Hz) as <out>/KIT/<subject>/<motion>_poses.npz. For real data, download "
        "KIT from AMASS and point `extract --kit-root` at it instead.",
    )
    sample.add_argument("--out", required=True, help="output directory")
    sample.add_argument("--seed", type=seed, default=0)
    sample.add_argument("--rate", type=finite_float, default=100.0, help="frame rate (Hz)")

    ext = sub.add_parser("extract", help="filter AMASS/KIT clips into a subset + manifest.json")
    ext.add_argument("--kit-root", required=True, help="directory with KIT/<subject>/*.npz")
    ext.add_argument("--out", required=True, help="output directory (clips + manifest.json)")
    ext.add_argument("--include", nargs="+", help="keywords, one must begin a word of the "
                     "file name (default: walk turn)")
    ext.add_argument("--exclude", nargs="+", help="keywords, none may begin a word of the "
                     "file name (default: run jog stair jump hop ...)")
    ext.add_argument("--min-duration", type=float, help="seconds (default 1)")
    ext.add_argument("--max-duration", type=float, help="seconds (default 120)")
    ext.add_argument("--min-rate", type=float, help="Hz (default 50)")
    ext.add_argument("--max-rate", type=float, help="Hz (default 500)")
    ext.add_argument("--link", action="store_true", help="hard-link clips instead of copying")

    ret = sub.add_parser("retarget", help="retarget manifest clips onto the skeleton")
    ret.add_argument("--manifest", required=True, help="manifest.json written by extract")
    ret.add_argument("--out", required=True, help="trajectory .npz (QA json goes beside it)")
    ret.add_argument("--config", help="YAML with RetargetConfig fields (frequency, thresholds)")

    cache = sub.add_parser("cache", help="expert_traj.npz + expert_disc_obs.npz")
    cache.add_argument("--trajectory", required=True, help="trajectory .npz")
    cache.add_argument("--out", required=True, help="cache directory")
    cache.add_argument("--frequency", type=float, default=0.0,
                       help="cached rate in Hz (default 0: the env's control rate)")
    cache.add_argument("--force", action="store_true", help="rebuild even when up to date")


def _extract_config(args: argparse.Namespace):
    from skeleton_steering.data.kit_extract import ExtractConfig

    values: dict[str, Any] = {}
    for name in ("include", "exclude", "min_duration", "max_duration", "min_rate", "max_rate"):
        value = getattr(args, name)
        if value is not None:
            values[name] = list(value) if isinstance(value, list) else value
    values["link"] = bool(args.link)
    return from_dict(ExtractConfig, values, source="command line")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run one data subcommand; returns the exit status."""
    if args.command == "sample-kit":
        from skeleton_steering.data.sample import write_sample_kit

        if not MIN_SAMPLE_RATE <= args.rate <= MAX_SAMPLE_RATE:  # also false for nan
            raise ValueError(f"--rate must be {MIN_SAMPLE_RATE:g}..{MAX_SAMPLE_RATE:g} Hz "
                             f"(mocap rates), got {args.rate:g}")
        check_writable_dir(args.out)

        summary = write_sample_kit(args.out, seed=args.seed, rate=args.rate, console=console)
        table = Table(title=f"synthetic sample clips in {args.out}")
        for col in ("clip", "target m/s", "speed m/s", "turn deg", "frames"):
            table.add_column(col, justify="right")
        for c in summary["clips"]:
            table.add_row(c["path"], f"{c['target_speed_m_s']:.2f}", f"{c['speed_m_s']:.2f}",
                          f"{c['turn_deg']:.0f}", str(c["frames"]))
        console.print(table)
        return 0
    if args.command == "extract":
        from skeleton_steering.data.kit_extract import NoUsableClipError, extract

        try:
            manifest = extract(args.kit_root, args.out, _extract_config(args), console)
        except NoUsableClipError as err:
            manifest, failed = err.manifest, err
        else:
            failed = None
            s = manifest["summary"]
            console.print(f"extract: kept {s['kept']} of {s['found']} clips "
                          f"({s['seconds']:.1f} s) -> {args.out}/manifest.json")
        by_keyword = 0
        for item in manifest["skipped"]:
            if item["reason"].startswith(("no include keyword", "exclude keyword")):
                by_keyword += 1
            else:
                console.print(f"[yellow]skipped[/] {escape(item['path'])}: "
                              f"{escape(item['reason'])}", soft_wrap=True)
        if failed is not None:
            raise ValueError(f"{failed} ({by_keyword} left out by the keywords "
                             f"{list(manifest['filters']['include'])}, the others for the "
                             "reasons above)")
        return 0
    if args.command == "retarget":
        from skeleton_steering.data.retarget import RetargetConfig, qa_path, retarget_manifest

        data = read_yaml(args.config) if args.config else {}
        config = from_dict(RetargetConfig, data, source=args.config)
        check_writable_file(args.out)
        report = retarget_manifest(args.manifest, args.out, config, console)
        for row in report["clips"]:
            if not row["kept"]:
                console.print(f"[yellow]dropped[/] {row['path']}: {row['reason']}")
        console.print(f"retarget: {json.dumps(report['summary'])} (QA: {qa_path(args.out)})")
        return 0
    if args.command == "cache":
        from skeleton_steering.data.cache import (
            DISC_NAME,
            CacheSettings,
            StaleCacheError,
            build_cache,
            load_expert_cache,
        )

        settings = from_dict(CacheSettings, {"frequency": args.frequency}, source="--frequency")
        if not args.force:
            try:
                load_expert_cache(args.out, args.trajectory, settings)
                console.print(f"cache: {args.out} is up to date")
                return 0
            except StaleCacheError:
                pass
        # Before the features are computed; creates nothing (build_cache makes the folder).
        check_writable_file(Path(args.out) / DISC_NAME)
        summary = build_cache(args.trajectory, args.out, settings, console)
        console.print(f"cache: {json.dumps(summary)}")
        return 0
    raise ValueError(f"unknown data command {args.command!r}")
