"""`skeleton-steering <subcommand>`: one entry point for every stage of the pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from skeleton_steering import arg_types
from skeleton_steering.arg_types import count, finite_float, seed
from skeleton_steering.entry import run_guarded

DEFAULT_ENV_ID = "SkeletonTorque.walk.mocap"


def _add_bench(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (each ends with one JSON line)")
    which = bench.add_subparsers(dest="bench", required=True)
    env = which.add_parser("env", help="env steps/s next to bare MJX physics and native MuJoCo")
    env.add_argument("--batch", type=count, nargs="+", default=[64, 256])
    env.add_argument("--steps", type=count, default=50, help="control steps per timed rollout")
    env.add_argument("--env_id", default=DEFAULT_ENV_ID)
    env.add_argument("--no-native", action="store_true", help="skip the native MuJoCo rollout")
    env.add_argument("--setting", action="append", default=None, metavar="SPEC",
                     help="physics setting as in `bench physics --setting` (e.g. "
                          "hz=100,substeps=2,iterations=1,integrator=euler,damping=joint); "
                          "repeat to compare, ratios are against the first (default: the "
                          "training defaults)")
    env.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")
    ret = which.add_parser("retarget", help="retargeting source frames/s and QA summary")
    ret.add_argument("--rate", type=finite_float, default=100.0, help="source frame rate (Hz)")
    ret.add_argument("--copies", type=count, default=3, help="copies of the sample clip set")
    ret.add_argument("--repeats", type=count, default=3, help="timed passes (best is kept)")
    ret.add_argument("--clips", default=None,
                     help="folder of AMASS clips to time instead of the bundled sample")
    _add_bench_train(which)
    _add_bench_learn(which)
    _add_bench_render(which)
    rep = which.add_parser("replay", help="open-loop PD replay: seconds a demonstration stays up")
    rep.add_argument("--clip", action="append", default=[], help="AMASS clip (repeatable)")
    rep.add_argument("--sample", action="append", default=None,
                     help="sample motion (repeatable; default walking_medium01 and "
                          "walking_turn_left01)")
    sizes = which.add_parser("sizes", help="checkpoint and policy export bytes, CPU and GPU preset")
    sizes.add_argument("--config", default=None, help="training YAML (default: built-in defaults)")
    sizes.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")


def _add_bench_train(which: argparse._SubParsersAction) -> None:
    train = which.add_parser("train", help="training env steps/s next to bare MJX physics")
    train.add_argument("--config", default=None, help="training YAML (default: built-in defaults)")
    train.add_argument("--num_envs", type=count, default=64)
    train.add_argument("--rollout_length", type=count, default=32)
    train.add_argument("--iterations", type=count, default=5, help="timed training iterations")
    train.add_argument("--run_dir", default="results/bench/train", help="for the sample data")
    train.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="config overrides, e.g. a preset's sizes (a rollout of 4,096 envs "
                            "needs amp.replay_capacity >= 131072)")


def _add_bench_learn(which: argparse._SubParsersAction) -> None:
    from skeleton_steering.bench import learn_bench, physics_bench

    learn = which.add_parser("learn", help="configs and seeds side by side at equal env steps")
    learn_bench.add_arguments(learn)
    physics = which.add_parser("physics", help="blow-ups and cost of each physics setting")
    physics_bench.add_arguments(physics)


def _add_bench_render(which: argparse._SubParsersAction) -> None:
    render = which.add_parser("render", help="video frames/s: rendering alone, + encoding")
    render.add_argument("--frames", type=count, default=100, help="frames per timed pass")
    render.add_argument("--width", type=int, default=640)
    render.add_argument("--height", type=int, default=480)


def _add_render(sub: argparse._SubParsersAction) -> None:
    from skeleton_steering.evaluate import render_cli

    render_cli.add_parser(sub)


def _add_train(sub: argparse._SubParsersAction) -> None:
    from skeleton_steering.learn.train import add_arguments

    train = sub.add_parser("train", help="train a steering policy with AMP + PPO")
    add_arguments(train)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from skeleton_steering.evaluate.eval_cli import add_arguments

    ev = sub.add_parser("eval", help="steering metrics of a checkpoint under a command schedule")
    add_arguments(ev)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="step the steering environment and summarize it")
    demo.add_argument("--out", default="results/demo", help="directory for summary.json")
    demo.add_argument("--envs", type=count, default=16)
    demo.add_argument("--steps", type=count, default=150)
    demo.add_argument("--seed", type=seed, default=0)
    demo.add_argument("--env_id", default=DEFAULT_ENV_ID)
    demo.add_argument("--cache", default=None, help="expert cache dir for reference-state init")


def _add_data(sub: argparse._SubParsersAction) -> None:
    from skeleton_steering.data import data_cli

    data_cli.add_parsers(sub)


def _add_report(sub: argparse._SubParsersAction) -> None:
    from skeleton_steering.report.build import add_arguments

    report = sub.add_parser("report", help="all seeds side by side: curves, eval table, videos")
    add_arguments(report)


def build_parser() -> argparse.ArgumentParser:
    parser = arg_types.ArgumentParser(prog="skeleton-steering", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)
    _add_bench(sub)
    _add_data(sub)
    _add_train(sub)
    _add_eval(sub)
    _add_render(sub)
    _add_report(sub)
    return parser


def _force_cpu_if(flag: bool) -> None:
    if flag:
        import jax

        jax.config.update("jax_platforms", "cpu")


def _dispatch(args: argparse.Namespace, console: Console) -> int | None:
    if args.command == "bench" and args.bench == "env":
        _force_cpu_if(args.jax_cpu)
        from skeleton_steering.bench import env_bench

        env_bench.run(args.batch, args.steps, args.env_id, not args.no_native, console,
                      args.setting or ())
    elif args.command == "bench" and args.bench == "retarget":
        from skeleton_steering.bench import retarget_bench

        retarget_bench.run(args.rate, args.copies, args.repeats, console, args.clips)
    elif args.command in ("sample-kit", "extract", "retarget", "cache"):
        from skeleton_steering.data import data_cli

        return data_cli.run(args, console)
    elif args.command == "bench" and args.bench == "train":
        _force_cpu_if(args.jax_cpu)
        from skeleton_steering.bench import train_bench

        train_bench.run(args.config, args.num_envs, args.rollout_length, args.iterations,
                        args.run_dir, console, args.overrides)
    elif args.command == "bench" and args.bench == "learn":
        _force_cpu_if(args.jax_cpu)
        from skeleton_steering.bench import learn_bench

        return learn_bench.main_from_args(args, console)
    elif args.command == "bench" and args.bench == "physics":
        _force_cpu_if(args.jax_cpu)
        from skeleton_steering.bench import physics_bench

        return physics_bench.main_from_args(args, console)
    elif args.command == "bench" and args.bench == "replay":
        from skeleton_steering.bench import replay_bench

        samples = args.sample if args.sample is not None else ["walking_medium01",
                                                               "walking_turn_left01"]
        replay_bench.run(args.clip, samples, console)
    elif args.command == "bench" and args.bench == "sizes":
        _force_cpu_if(args.jax_cpu)
        from skeleton_steering.bench import sizes_bench

        sizes_bench.run(args.config, console)
    elif args.command == "bench" and args.bench == "render":
        from skeleton_steering.bench import render_bench

        render_bench.run(args.frames, args.width, args.height, console)
    elif args.command == "report":
        from skeleton_steering.report import build as report

        return report.main_from_args(args, console)
    elif args.command == "render":
        from skeleton_steering.evaluate import render_cli

        return render_cli.run(args, console)
    elif args.command == "train":
        from skeleton_steering.learn import train

        return train.main_from_args(args, console)
    elif args.command == "eval":
        from skeleton_steering.evaluate import eval_cli

        return eval_cli.main_from_args(args, console)
    elif args.command == "demo":
        from skeleton_steering import demo

        demo.run(args.out, args.envs, args.steps, args.seed, args.env_id, console, args.cache)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(stderr=True)
    # Parsed inside the guard: a bad flag is one line and exit status 2, like bad input.
    return run_guarded(console, lambda: _dispatch(build_parser().parse_args(argv), console))


if __name__ == "__main__":
    sys.exit(main())
