"""Copy a trained policy export into `policies/` with a record of where it came from.

    python scripts/ship_policy.py --export results/ship/seed0/policy_best.msgpack \
        --eval results/shipped/eval.json --eval results/shipped/eval_random.json \
        [--eval results/shipped/eval_straight.json] --out policies/walker

writes `policies/walker.msgpack` (the export, unchanged) and `policies/walker.json`: the file's
SHA-256 and size, the training command, commit, seed and env steps from the export's
provenance, its periodic evaluation, and one entry per `--eval` summary (the output of
`skeleton-steering eval`, one per schedule): the eval flags that reproduce it, its settings
(schedule, seed and its role, determinism, criterion), pooled metrics and gait fidelity
(without the gait-cycle curves, which the plot shows). An evaluation of any other file than
the export (by SHA-256, not by path) is refused, and so is one on a tuning seed, and so is an
export without the demos' gait statistics (add them with `scripts/add_gait_stats.py`).
`tests/test_shipped_policy.py` re-runs every recorded evaluation and compares.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from skeleton_steering.bench.machine import describe
from skeleton_steering.io_utils import atomic_write, atomic_write_text, file_sha256
from skeleton_steering.learn import policy_export

# What of the eval summary the record keeps: its settings and pooled metrics (not per episode).
EVAL_KEYS = ("schedule", "n_steps", "episodes", "seed", "seed_role", "deterministic",
             "settle_seconds", "leg_contacts", "criterion", "metrics", "gait")


class ShipError(ValueError):
    """An evaluation does not belong to the export, or cannot be reproduced from its record."""


def eval_flags(summary: dict[str, Any]) -> list[str]:
    """The `skeleton-steering eval` flags (bar --model_path and --out) that gave `summary`."""
    flags = ["--schedule", summary["schedule"], "--n_steps", str(summary["n_steps"]),
             "--episodes", str(summary["episodes"]), "--seed", str(summary["seed"]),
             "--settle_seconds", repr(float(summary["settle_seconds"]))]
    if summary["deterministic"]:
        flags.append("--deterministic")
    else:
        flags += ["--action_std", repr(float(summary["action_std"]))]
    flags += ["--leg_contacts", "on" if summary["leg_contacts"] else "off"]
    return flags


def evaluation_record(summary: dict[str, Any], source: str, sha256: str) -> dict[str, Any]:
    """The record of one evaluation summary of the export with this SHA-256."""
    missing = [k for k in (*EVAL_KEYS, "checkpoint_sha256") if k not in summary]
    if missing:
        raise ShipError(f"{source}: field '{missing[0]}' is missing (an evaluation of an older "
                        "version of `skeleton-steering eval`: run it again)")
    if summary["checkpoint_sha256"] != sha256:
        theirs = summary["checkpoint_sha256"]
        raise ShipError(f"{source}: it evaluated a file with SHA-256 {theirs[:12]}..., "
                        f"not the export ({sha256[:12]}...)")
    if summary["seed_role"] != "held_out":
        raise ShipError(f"{source}: seed {summary['seed']} is a tuning seed; report on a "
                        "held-out one (the eval default)")
    record = {"eval_flags": eval_flags(summary), **{key: summary[key] for key in EVAL_KEYS}}
    record["gait"] = {k: v for k, v in summary["gait"].items() if k != "cycle"}
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="policy export (.msgpack)")
    parser.add_argument("--eval", required=True, action="append",
                        help="summary JSON of skeleton-steering eval (once per schedule)")
    parser.add_argument("--out", required=True, help="output stem, e.g. policies/walker")
    args = parser.parse_args(argv)

    export = policy_export.load(args.export)
    sha256 = file_sha256(args.export)
    evaluations: dict[str, Any] = {}
    if export.gait is None:
        print(f"error: {args.export} carries no demo gait statistics; add them with "
              "scripts/add_gait_stats.py and evaluate that file", file=sys.stderr)
        return 2
    try:
        for path in args.eval:
            summary = json.loads(Path(path).read_text(encoding="utf-8"))
            record = evaluation_record(summary, path, sha256)
            if record["schedule"] in evaluations:
                raise ShipError(f"{path}: a second evaluation on schedule '{record['schedule']}'")
            evaluations[record["schedule"]] = record
    except (OSError, json.JSONDecodeError, ShipError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    prov = export.meta["provenance"]
    out = Path(args.out)
    record = {
        "file": out.with_suffix(".msgpack").name,
        "sha256": sha256,
        "size_bytes": Path(args.export).stat().st_size,
        "command": prov["command"],
        "commit": prov["commit"],
        "created_utc": prov["created_utc"],
        "host": prov["host"],
        "seed": export.config.seed,
        "env_steps": export.meta["env_steps"],
        "iteration": export.meta["iteration"],
        "periodic_eval": export.meta.get("eval"),
        "gait_stats": {**export.gait.describe(), "source": export.meta.get("gait_stats_source")},
        "evaluated_on": describe(),
        "evaluations": evaluations,
    }
    with open(args.export, "rb") as src:
        atomic_write(out.with_suffix(".msgpack"), lambda dst: shutil.copyfileobj(src, dst))
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.msgpack')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
