"""Train a steering policy with AMP + PPO (`python -m skeleton_steering.train`, `... train`).

    python -m skeleton_steering.train --config config/amp_ppo.yaml \\
        --env_id SkeletonTorque.walk.mocap --seed 42 [--deterministic] [--jax_cpu] \\
        [--resume] [--debug_nans] [--run_dir DIR] [--distributed auto|on|off] \\
        [section.key=value ...]

The run directory gets the resolved config (`config.yaml`), `metrics.csv`, TensorBoard
events (`tensorboard/`), a one-line summary per logging interval (`train.log`), periodic
checkpoints and the best checkpoint (by a deterministic evaluation on fixed commands).
`--resume` continues from the newest checkpoint exactly; Ctrl-C or SIGTERM (a cluster
preempting the job) saves a checkpoint before the process exits. `run()` is the same driver
for in-process use (tests, benchmarks); compiled iterations are cached per process, so runs
with the same algorithm settings compile once.

Every local device trains (data-parallel, `data_parallel`); `--distributed` joins several
processes, e.g. one per node under `srun`, into one run over all their devices: only process 0
writes the run directory, the others get its (resumed) state and stop when it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jp
import numpy as np
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from skeleton_steering import jax_setup
from skeleton_steering.arg_types import positive_float, seed
from skeleton_steering.config import ConfigError, to_dict
from skeleton_steering.entry import exit_at_once_on_ctrl_c, module_main
from skeleton_steering.env.registry import make_env, resolve
from skeleton_steering.io_utils import atomic_write_text, check_writable_dir
from skeleton_steering.learn import (
    amp_ppo,
    checkpoint,
    data_parallel,
    demo_gait,
    expert_data,
    expert_source,
    memory_estimate,
    periodic_eval,
    policy_export,
    run_lock,
    train_config,
)
from skeleton_steering.learn.train_config import TrainConfig
from skeleton_steering.learn.train_log import KEY_METRICS, MetricsLog, summary_line

DEFAULT_RUN_DIR = "results/runs/seed{seed}"


class TrainingDivergedError(RuntimeError):
    """A loss or parameter became NaN/inf; the run stopped without saving the bad state."""


@dataclasses.dataclass
class RunResult:
    status: str  # "completed", "interrupted" (signal) or "time_budget"
    iteration: int
    env_steps: int
    run_dir: Path
    last_metrics: dict[str, float]
    best_score: float | None
    history: list[dict[str, float]]  # metrics of the iterations run in this call
    signum: int | None = None  # the signal that interrupted the run, if one did


# -- expert data and compiled functions --------------------------------------------------------


@dataclasses.dataclass(eq=False)
class Compiled:
    """A learner with its compiled iteration and (lazily) its compiled evaluation."""

    learner: amp_ppo.Learner
    # The compiled iteration per device count: a run that resumes on another count (or a
    # test that trains on both) compiles each once.
    iterations: dict[int, Any] = dataclasses.field(default_factory=dict)
    evaluate: Any = None
    compile_s: float = 0.0


_CACHE: dict[str, Compiled] = {}


def _cache_key(config: TrainConfig, expert: expert_data.ExpertData) -> str:
    cfg = to_dict(config)
    fixed = {k: cfg[k] for k in (*train_config.RESUME_FIXED, "eval") if k not in ("seed", "data")}
    digest = hashlib.sha1()
    for arr in (expert.qpos, expert.qvel):
        digest.update(b"none" if arr is None else np.ascontiguousarray(arr).tobytes())
    fixed["expert"] = digest.hexdigest()
    fixed["demo_shape"] = list(expert.disc_pairs.shape)
    fixed["precision"] = str(jax.config.jax_default_matmul_precision)
    fixed["backend"] = jax.default_backend()
    return json.dumps(fixed, sort_keys=True)


def compiled_for(config: TrainConfig, expert: expert_data.ExpertData) -> Compiled:
    """The cached learner for this algorithm config and expert data (built on first use)."""
    key = _cache_key(config, expert)
    if key not in _CACHE:
        with data_parallel.local_devices_first():
            env = make_env(config.env_id, config.env, expert.qpos, expert.qvel)
        _CACHE[key] = Compiled(amp_ppo.make_learner(env, config))
    return _CACHE[key]


# -- the driver --------------------------------------------------------------------------------


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between iterations (a second Ctrl-C aborts)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _host_metrics(raw: dict[str, Any]) -> dict[str, float]:
    metrics = {k: float(v) for k, v in jax.device_get(raw).items()}
    if metrics.get("episode_count", 0.0) == 0.0:
        metrics["episode_return"] = math.nan
        metrics["episode_length"] = math.nan
    return metrics


def _non_finite(metrics: dict[str, float]) -> list[str]:
    bad = [k for k in amp_ppo.LOSS_METRICS if not math.isfinite(metrics.get(k, 0.0))]
    if metrics.get("params_finite", 1.0) != 1.0:
        bad.append("parameters")
    return bad


def _diverged(bad: list[str], iteration: int, run_dir: Path, primary: bool = True) -> None:
    last = checkpoint.newest(run_dir) if primary else None
    kept = (f"the last good checkpoint is {last}" if last else
            "no checkpoint was written yet" if primary else "see the primary process's log")
    raise TrainingDivergedError(
        f"training diverged at iteration {iteration}: non-finite {', '.join(bad)}; "
        f"stopped without saving this state, {kept}. Try a lower learning rate, or rerun "
        "with --debug_nans to find the first NaN."
    )


class _NoLog:
    """What a non-primary process of a distributed run logs: nothing (the primary writes the
    run's metrics.csv, TensorBoard events and train.log)."""

    def write(self, *args: Any) -> None:
        pass

    def write_eval(self, *args: Any) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _scratch(primary: bool) -> Iterator[Path | None]:
    """None on the primary process; elsewhere a private folder for what loading the expert data
    writes (the bundled sample, a trajectory's cache), so only the primary writes the run
    directory. The data come out the same everywhere (`check_same_everywhere` checks)."""
    if primary:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="skeleton-steering-expert-") as folder:
        yield Path(folder)


def _fingerprint(config: TrainConfig, expert: expert_data.ExpertData) -> bytes:
    """What every process of a run must share: the config and the expert data."""
    digest = hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode())
    for arr in (expert.qpos, expert.qvel, expert.disc_pairs):
        digest.update(b"none" if arr is None else np.ascontiguousarray(arr).tobytes())
    return digest.digest()


def _evaluate(
    compiled: Compiled, state: amp_ppo.TrainingState, console: Console
) -> dict[str, float]:
    if compiled.evaluate is None:
        console.print("compiling the evaluation ...")
        compiled.evaluate = periodic_eval.make_evaluate(compiled.learner)
    # On one device: every device of a mesh would repeat the same evaluation.
    parts = data_parallel.on_one_device(
        (state.params["policy"], state.obs_norm, state.disc_params, state.disc_norm)
    )
    out = compiled.evaluate(*parts)
    return {k: float(v) for k, v in jax.device_get(out).items()}


def _prepare_state(
    compiled: Compiled,
    config: TrainConfig,
    run_dir: Path,
    resume: bool,
    demo: jax.Array,
    console: Console,
) -> tuple[amp_ppo.TrainingState, dict[str, Any]]:
    existing = checkpoint.newest(run_dir)
    if not resume:
        if existing is not None:
            raise ConfigError(
                f"{run_dir} already holds checkpoints (newest {existing.name}); pass --resume "
                "to continue that run, or choose another --run_dir"
            )
        return amp_ppo.init_state(compiled.learner, config.seed, demo), {}

    def skipped(path: Path, err: checkpoint.CheckpointError) -> None:
        console.print(f"[yellow]warning:[/] --resume: skipping {path.name}: {err}")

    ckpt = checkpoint.newest_valid(run_dir, on_skip=skipped)
    if ckpt is None:
        if existing is not None:
            raise checkpoint.CheckpointError(
                f"--resume: none of the checkpoints in {run_dir} can be read (see the warnings "
                "above); move them away to start afresh"
            )
        # e.g. a retried job whose first attempt died before its first save
        return amp_ppo.init_state(compiled.learner, config.seed, demo), {}
    existing = ckpt.path
    saved = train_config.from_mapping(ckpt.config, source=f"{existing} (stored config)")
    differ = train_config.resume_mismatches(saved, config)
    if differ:
        raise ConfigError(
            f"--resume: {existing} was trained with a different config; these fields differ: "
            f"{', '.join(differ[:8])}{' ...' if len(differ) > 8 else ''}"
        )
    template = amp_ppo.init_state(compiled.learner, config.seed, demo)
    state = checkpoint.restore(template, ckpt)
    return amp_ppo._strong(state), ckpt.meta


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]train[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[sps]} steps/s"),
        TextColumn("{task.fields[key]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


def run(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    max_seconds: float | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    expert: expert_data.ExpertData | None = None,
    devices: int | None = None,
) -> RunResult:
    """Train until `config.run.iterations`, a signal, or `max_seconds` of training time.

    Holds the run directory's lock (`run_lock`) throughout: a second trainer on the same
    directory raises `run_lock.RunDirInUseError` before writing anything. What can be refused
    without a run directory is refused before it exists (`check_inputs`); a run directory this
    call created is removed again when the run fails before training starts (before
    `config.yaml` is written), so a refused run leaves nothing behind.
    """
    console = console or Console(stderr=True)
    check_inputs(config, check_data=expert is None)
    if not data_parallel.is_primary():
        # Another process of a distributed run: it trains its share and writes nothing (the
        # primary holds the lock and writes the run directory).
        return _run_locked(config, Path(run_dir), resume=resume, console=Console(quiet=True),
                           show_progress=False, max_seconds=max_seconds,
                           on_iteration=on_iteration, expert=expert, devices=devices)
    created = not Path(run_dir).exists()
    run_dir = check_writable_dir(run_dir)
    with run_lock.hold(run_dir, console):
        try:
            return _run_locked(config, run_dir, resume=resume, console=console,
                               show_progress=show_progress, max_seconds=max_seconds,
                               on_iteration=on_iteration, expert=expert, devices=devices)
        except BaseException:
            if created and not (run_dir / "config.yaml").exists():
                _discard(run_dir)
            raise


def check_inputs(config: TrainConfig, check_data: bool = True) -> None:
    """Refuse, naming the key, a config that cannot fit in memory or whose data is missing."""
    memory_estimate.check_fits(config)
    if not check_data:
        return
    trajectory, cache_dir = config.data.trajectory, config.data.cache_dir
    if trajectory is not None and not Path(trajectory).is_file():
        raise ConfigError(f"data.trajectory: {trajectory}: "
                          f"{'is a directory' if Path(trajectory).is_dir() else 'file not found'}")
    if cache_dir is not None and not Path(cache_dir).is_dir():
        raise ConfigError(f"data.cache_dir: {cache_dir}: directory not found")


def _discard(run_dir: Path) -> None:
    """Remove a run directory this process made (while it still holds the lock: moved aside
    first, so a trainer that starts now gets a fresh directory, not this one's remains)."""
    aside = run_dir.with_name(f".{run_dir.name}.failed-{os.getpid()}")
    try:
        os.replace(run_dir, aside)
    except OSError:
        return  # left as it is; the error that ended the run is the one to report
    shutil.rmtree(aside, ignore_errors=True)


def _run_locked(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool,
    console: Console,
    show_progress: bool,
    max_seconds: float | None,
    on_iteration: Callable[[int, dict[str, float]], None] | None,
    expert: expert_data.ExpertData | None,
    devices: int | None = None,
) -> RunResult:
    """`devices`: train on the first that many devices (default: all, data-parallel).

    With several processes (`jax.distributed`) every process runs this; only the primary
    reads checkpoints and writes the run directory, the others get its state.
    """
    primary = data_parallel.is_primary()
    with data_parallel.together("loading the expert data"), _scratch(primary) as scratch:
        expert = expert or expert_source.resolve_expert(config, scratch or run_dir, console)
        compiled = compiled_for(config, expert)
    data_parallel.check_same_everywhere("a config or expert data", _fingerprint(config, expert))
    demo = jp.asarray(expert.disc_pairs)
    learner = compiled.learner
    env = learner.env

    nothing_saved = True
    with data_parallel.together("preparing the training state"):
        if primary:
            nothing_saved = checkpoint.newest(run_dir) is None
            if resume and nothing_saved:
                console.print(f"--resume: no checkpoint in {run_dir} yet; starting at iteration 0")
            for stale in checkpoint.remove_stale_temp_files(run_dir):
                console.print(f"removed {stale.name}, left by an earlier process that was "
                              "killed mid-write")
            state, meta = _prepare_state(compiled, config, run_dir, resume, demo, console)
        else:
            state, meta = amp_ppo.init_state(learner, config.seed, demo), {}
    state = data_parallel.from_primary(state)  # a resumed state, on every process
    start_iteration = int(state.iteration)
    mesh = data_parallel.make_mesh(devices)
    n_devices = 1 if mesh is None else mesh.size
    if mesh is not None:
        data_parallel.check_divisible(amp_ppo.split_sizes(config), mesh.size)
        state = data_parallel.place(state, amp_ppo.state_specs(state), mesh)
        demo = data_parallel.place(demo, jax.sharding.PartitionSpec(), mesh)
        console.print(f"training on {mesh.size} devices: {config.ppo.num_envs // mesh.size} "
                      "envs each")
    if resume and start_iteration > config.run.iterations:
        raise ConfigError(
            f"--resume: the checkpoint in {run_dir} is at iteration {start_iteration}, past "
            f"run.iterations={config.run.iterations}; raise run.iterations to train on"
        )
    batch = config.ppo.batch_size
    best_score = meta.get("best_score")
    config_dict = to_dict(config)
    if primary:
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config_dict, sort_keys=False))

    if n_devices not in compiled.iterations:
        console.print("compiling the training iteration (a few minutes on CPU) ...")
        t0 = time.perf_counter()
        with exit_at_once_on_ctrl_c(console, "compiling the training iteration"):
            step = amp_ppo.make_iteration(learner, mesh, state)
            compiled.iterations[n_devices] = step.lower(state, demo).compile()
        compiled.compile_s = time.perf_counter() - t0
        console.print(f"compiled in {compiled.compile_s:.0f} s")
    iterate = compiled.iterations[n_devices]

    if primary:
        # Resuming from nothing still truncates what an earlier attempt logged after iteration 0.
        log: MetricsLog | _NoLog = MetricsLog(run_dir, start_iteration if resume else None,
                                              start_iteration * batch)
        if not resume or nothing_saved:
            log.line(f"run_dir {run_dir} | env_id {config.env_id} | seed {config.seed} | "
                     f"expert data: {expert.source}")
        if jax.process_count() > 1:
            log.line(f"distributed: {jax.process_count()} processes, {n_devices} devices")
        # Taken once, at the start of this (possibly resumed) session: a commit made while the
        # run trains is not the code that trained it.
        session_provenance = policy_export.provenance()
    else:
        log, session_provenance = _NoLog(), {}

    def base_meta(iteration: int) -> dict[str, Any]:
        return {
            "provenance": session_provenance,
            "iteration": iteration,
            "env_steps": iteration * batch,
            "seed": config.seed,
            "best_score": best_score,
            "train_seconds": train_seconds,
            "observation_size": env.observation_size,
            "action_size": env.action_size,
            "disc_obs_size": env.disc_obs_size,
            "expert_source": expert.source,
        }

    reference = expert_source.reference_frames(expert)
    # The exports carry the demos' gait statistics, so they evaluate gait fidelity alone.
    demo_gait_stats = demo_gait.stats_or_none(expert, config.env.physics.control_dt)
    last_eval: dict[str, float] | None = meta.get("eval")

    saved_at: int | None = None

    def save_periodic(st: amp_ppo.TrainingState, iteration: int) -> None:
        nonlocal saved_at
        host = data_parallel.to_host(st)  # every process hands over its environments' rows
        saved_at = iteration
        if not primary:
            return
        meta_now = {**base_meta(iteration), "eval": last_eval}
        checkpoint.save(run_dir / checkpoint.periodic_name(iteration), host, config_dict,
                        meta_now)
        checkpoint.prune(run_dir, config.run.keep_checkpoints)
        policy_export.save(run_dir / policy_export.LATEST_NAME, host, config_dict, meta_now,
                           reference, demo_gait_stats)

    history: list[dict[str, float]] = []
    metrics: dict[str, float] = {}
    status = "completed"
    iteration = start_iteration
    train_seconds = float(meta.get("train_seconds", 0.0))
    session_seconds = 0.0
    total = config.run.iterations
    with _StopRequest() as stop, _progress(console, show_progress) as progress:
        bar = progress.add_task("train", total=total, completed=iteration, sps="-", key="")
        try:
            while iteration < total:
                t0 = time.perf_counter()
                new_state, raw = iterate(state, demo)
                metrics = _host_metrics(raw)
                dt = time.perf_counter() - t0
                train_seconds += dt
                session_seconds += dt
                iteration += 1
                metrics["env_steps_per_s"] = batch / dt
                log.write(iteration, iteration * batch, train_seconds, metrics)
                bad = _non_finite(metrics)
                # Every process sees the same (replicated) metrics; agreed all the same, so a
                # process never goes on alone into the next iteration's collectives.
                if data_parallel.agree_any([bool(bad)])[0]:
                    _diverged(bad or ["metrics on another process"], iteration, run_dir, primary)
                state = new_state
                history.append(metrics)

                if config.eval.every and (iteration % config.eval.every == 0 or iteration == total):
                    ev = _evaluate(compiled, state, progress.console)
                    last_eval = ev
                    log.write_eval(iteration * batch, ev)
                    if best_score is None or ev["score"] > best_score:
                        best_score = ev["score"]
                        meta_best = {**base_meta(iteration), "eval": ev}
                        if primary:  # the exported parts are replicated: no collective
                            policy_export.save(run_dir / policy_export.BEST_NAME, state,
                                               config_dict, meta_best, reference,
                                               demo_gait_stats)
                    evals = ", ".join(f"{k} {v:.4g}" for k, v in ev.items())
                    log.line(f"eval iter {iteration}: {evals} (best {best_score:.4g})")

                if iteration % config.run.checkpoint_every == 0 or iteration == total:
                    save_periodic(state, iteration)
                key_text = " ".join(
                    f"{short} {metrics[k]:.3g}" for k, short in KEY_METRICS.items() if k in metrics
                )
                progress.update(bar, completed=iteration, sps=f"{batch / dt:,.0f}", key=key_text)
                if iteration % config.run.log_every == 0 or iteration == total:
                    line = summary_line(iteration, iteration * batch, batch / dt, metrics)
                    progress.console.print(line)
                    log.line(line)
                    log.flush()
                if on_iteration is not None:
                    on_iteration(iteration, metrics)
                # A signal or a time budget reached on any process stops every process here.
                signalled, out_of_time = data_parallel.agree_any([
                    stop.signum is not None,
                    max_seconds is not None and session_seconds >= max_seconds,
                ])
                if signalled or out_of_time:
                    status = "interrupted" if signalled else "time_budget"
                    if saved_at != iteration:
                        save_periodic(state, iteration)
                    why = (f"signal {stop.signum or 'on another process'}" if signalled
                           else "time budget")
                    log.line(f"stopped at iteration {iteration} ({why}); checkpoint saved")
                    progress.console.print(f"stopped at iteration {iteration} ({why}); "
                                           "checkpoint saved")
                    break
        finally:
            log.close()
    signum = stop.signum
    if status == "interrupted" and signum is None:  # the signal came to another process
        signum = signal.SIGTERM
    return RunResult(
        status, iteration, iteration * batch, run_dir, metrics, best_score, history, signum
    )


# -- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `python -m skeleton_steering.train` and `skeleton-steering train`."""
    parser.add_argument("--config", default=None, help="training YAML (default: built-in defaults)")
    parser.add_argument("--env_id", default=None, help="environment id (overrides the config)")
    parser.add_argument("--seed", type=seed, default=None,
                        help="random seed, 0..2^32-1 (overrides the config)")
    parser.add_argument("--run_dir", default=None, help=f"output directory ({DEFAULT_RUN_DIR})")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--deterministic", action="store_true",
                        help="repeatable numbers: deterministic XLA ops, full-precision matmuls")
    parser.add_argument("--jax_cpu", action="store_true", help="force the CPU backend")
    parser.add_argument("--debug_nans", action="store_true", help="JAX NaN checking (slow)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--max_minutes", type=positive_float, default=None,
                        help="stop (with a checkpoint) after this much training time in this "
                             "process; --resume continues")
    parser.add_argument("--distributed", choices=data_parallel.DISTRIBUTED_MODES, default="auto",
                        help="one run over several processes (hosts) with jax.distributed: "
                             "auto (default) joins when srun started several tasks or "
                             f"{data_parallel.ENV_COORDINATOR}, {data_parallel.ENV_NUM_PROCESSES} "
                             f"and {data_parallel.ENV_PROCESS_ID} are set; on requires that; "
                             "off trains this process alone (docs/multi_gpu.md)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. ppo.num_envs=128 run.iterations=10")


def main_from_args(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run training from parsed flags; returns the process exit code."""
    console = console or Console(stderr=True)
    jax_setup.configure_jax(deterministic=args.deterministic, cpu=args.jax_cpu,
                            debug_nans=args.debug_nans)
    # Before jax touches a device; the other processes of a run report only their errors.
    data_parallel.initialize_distributed(args.distributed)
    overrides = list(args.overrides)
    if args.env_id is not None:
        resolve(args.env_id)
        overrides.append(f"env_id={args.env_id}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ConfigError(f"--max_minutes must be a positive number, got {args.max_minutes}")
    config = train_config.load(args.config, overrides)
    run_dir = Path(args.run_dir or DEFAULT_RUN_DIR.format(seed=config.seed))
    max_seconds = None if args.max_minutes is None else 60.0 * args.max_minutes
    try:
        result = run(config, run_dir, resume=args.resume, console=console,
                     show_progress=not args.no_progress, max_seconds=max_seconds)
    except (TrainingDivergedError, FloatingPointError,  # the latter: --debug_nans
            data_parallel.PeerProcessError) as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
        return 1
    if result.status == "interrupted":
        return 128 + int(result.signum or signal.SIGTERM)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    prog = "python -m skeleton_steering.train"
    return module_main(prog, __doc__, add_arguments, main_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
