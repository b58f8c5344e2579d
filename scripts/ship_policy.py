"""Copy a trained policy export into `policies/` with a record of where it came from.

    python scripts/ship_policy.py --export results/ship/seed0/policy_best.msgpack \
        --eval results/ship/seed0_eval.json --out policies/walker

writes `policies/walker.msgpack` (the export, unchanged) and `policies/walker.json`: the
training command, commit, seed and env steps from the export's provenance, its periodic
evaluation, and the summary of the fall-aware evaluation given by `--eval` (the output of
`skeleton-steering eval`). `tests/test_shipped_policy.py` checks the two agree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from skeleton_steering.io_utils import atomic_write, atomic_write_text
from skeleton_steering.learn import policy_export

# What of the eval summary the record keeps: its settings and pooled metrics (not per episode).
EVAL_KEYS = ("schedule", "n_steps", "episodes", "seed", "deterministic", "settle_seconds",
             "criterion", "metrics")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="policy export (.msgpack)")
    parser.add_argument("--eval", required=True, help="summary JSON of skeleton-steering eval")
    parser.add_argument("--out", required=True, help="output stem, e.g. policies/walker")
    args = parser.parse_args(argv)

    export = policy_export.load(args.export)
    summary = json.loads(Path(args.eval).read_text(encoding="utf-8"))
    evaluated = Path(summary["checkpoint"]).resolve()
    if evaluated != Path(args.export).resolve():
        print(f"error: {args.eval} evaluated {evaluated}, not {args.export}", file=sys.stderr)
        return 2
    prov = export.meta["provenance"]
    record = {
        "command": prov["command"],
        "commit": prov["commit"],
        "created_utc": prov["created_utc"],
        "host": prov["host"],
        "seed": export.config.seed,
        "env_steps": export.meta["env_steps"],
        "iteration": export.meta["iteration"],
        "periodic_eval": export.meta.get("eval"),
        "eval": {key: summary[key] for key in EVAL_KEYS},
    }
    out = Path(args.out)
    with open(args.export, "rb") as src:
        atomic_write(out.with_suffix(".msgpack"), lambda dst: shutil.copyfileobj(src, dst))
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.msgpack')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
