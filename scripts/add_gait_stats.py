"""Add the demonstrations' gait statistics to a policy export written before they existed.

    python scripts/add_gait_stats.py --export policies/walker.msgpack --out results/walker.msgpack \
        [--cache_dir results/cache]

The demos are the export's own training data (its stored config: the configured cache or
trajectory, or the env id's default dataset, i.e. the bundled sample, rebuilt in the user cache
directory when needed), or the expert cache `--cache_dir` names. Everything else in the export
is kept as it is; `meta.gait_stats_source` names the demos. `--out` may be the export itself.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from skeleton_steering.data.gait_stats import GaitStatsError
from skeleton_steering.io_utils import user_cache_dir
from skeleton_steering.learn import (
    checkpoint,
    demo_gait,
    expert_data,
    expert_source,
    policy_export,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="policy export (.msgpack)")
    parser.add_argument("--out", required=True, help="where the export with statistics goes")
    parser.add_argument("--cache_dir", default=None,
                        help="expert cache of the demos (default: the export's training data)")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        export = policy_export.load(args.export)
        config = export.config
        if args.cache_dir is not None:
            expert = expert_data.load_cache(args.cache_dir, *expert_source.expert_shape(config))
        else:
            expert = expert_source.resolve_expert(config, user_cache_dir(), console)
        stats = demo_gait.stats_of(expert, config.env.physics.control_dt)
    except (checkpoint.CheckpointError, expert_data.ExpertDataError, GaitStatsError) as err:
        console.print(f"[bold red]error:[/] {err}", soft_wrap=True)
        return 2
    source = expert.source
    if args.cache_dir is None and config.data.cache_dir is None and config.data.trajectory is None:
        source = f"the bundled sample walking data (the default dataset of {config.env_id})"
    path = policy_export.write(policy_export.with_gait(export, stats, source), args.out)
    console.print(f"wrote {path}: gait statistics of {stats.strides} demo strides at "
                  f"{stats.speed_range[0]:.2f}-{stats.speed_range[1]:.2f} m/s from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
