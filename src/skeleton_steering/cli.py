"""`skeleton-steering <subcommand>`: one entry point for every stage of the pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from skeleton_steering.config import ConfigError

DEFAULT_ENV_ID = "SkeletonTorque.walk.mocap"


def _add_bench(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (each ends with one JSON line)")
    which = bench.add_subparsers(dest="bench", required=True)
    env = which.add_parser("env", help="env steps/s next to bare MJX physics and native MuJoCo")
    env.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    env.add_argument("--steps", type=int, default=50, help="control steps per timed rollout")
    env.add_argument("--env_id", default=DEFAULT_ENV_ID)
    env.add_argument("--no-native", action="store_true", help="skip the native MuJoCo rollout")
    env.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="step the steering environment and summarize it")
    demo.add_argument("--out", default="results/demo", help="directory for summary.json")
    demo.add_argument("--envs", type=int, default=16)
    demo.add_argument("--steps", type=int, default=150)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--env_id", default=DEFAULT_ENV_ID)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skeleton-steering", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)
    _add_bench(sub)
    return parser


def _force_cpu_if(flag: bool) -> None:
    if flag:
        import jax

        jax.config.update("jax_platforms", "cpu")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.command == "bench" and args.bench == "env":
            _force_cpu_if(args.jax_cpu)
            from skeleton_steering.bench import env_bench

            env_bench.run(args.batch, args.steps, args.env_id, not args.no_native, console)
        elif args.command == "demo":
            from skeleton_steering import demo

            demo.run(args.out, args.envs, args.steps, args.seed, args.env_id, console)
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
