"""The workflow on the single-node test cluster with `--profile profiles/slurm`: two seeds on a
tiny budget, every rule instance that is not a local rule runs as its own SLURM job, each seed
gets its outputs, and a training job killed with scancel mid-run is retried and resumes from
its checkpoint. About 20 minutes on a 2-core machine."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from slurm_cluster import REPO, SlurmCluster, base_state, start_workflow, wait_rule_job

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

SEEDS = (42, 43)
# Overrides on config/config.yaml: a budget that trains for a few iterations with a
# checkpoint after each, so a cancelled attempt always leaves one to resume from.
TINY = {
    "seeds": list(SEEDS),
    "train": {
        "iterations": 8,
        "overrides": {"eval.every": 4, "run.checkpoint_every": 1},
        "retries": 1,
    },
    "eval": {"n_steps": 50, "episodes": 1},
    "render": {"n_steps": 25},
    # The reference walker's full-length evaluations add minutes and no SLURM behaviour.
    "reference_policy": "",
}
# "Job 2 has been submitted with SLURM jobid 16 (log: .../slurm_logs/rule_train/42/16.log)."
SUBMITTED = re.compile(
    r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(?:rule|group)_([^/]+)/"
    r"(?:([^/]+)/)?\d+\.log\)"
)


@pytest.fixture(scope="module")
def workflow_dir(tmp_path_factory) -> Path:
    """The repository's files (tracked and untracked, not ignored) in a fresh directory, so
    the run writes its own results/ and .snakemake/."""
    if not (REPO / "Snakefile").exists() or not (REPO / "profiles/slurm").is_dir():
        pytest.skip("no Snakefile or profiles/slurm in this tree")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    dest = tmp_path_factory.mktemp("workflow")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    return dest


def test_workflow_runs_each_rule_as_a_slurm_job_and_resumes_after_scancel(
    slurm_cluster: SlurmCluster, workflow_dir: Path, tmp_path: Path
):
    run = start_workflow(
        slurm_cluster,
        tmp_path / "snakemake.log",
        "--configfile", "config/config.yaml", "tiny.yaml",
        "--slurm-init-seconds-before-status-checks", "10",
        workdir=workflow_dir,
    )  # fmt: skip
    run_dir = workflow_dir / "results/runs/seed42"

    # Kill seed 42's training once it has written a checkpoint.
    job = wait_rule_job(slurm_cluster, run, "train", "42", "RUNNING", timeout=1800)
    slurm_cluster.wait_for(
        "a checkpoint of seed 42",
        lambda: list(run_dir.glob("checkpoint_0*.msgpack")),
        timeout=900,
        interval=2,
    )
    slurm_cluster.scancel(job["JobIDRaw"])

    assert run.wait(timeout=3600) == 0, run.log()[-6000:]
    log = run.log()

    # Per-seed outputs and the report.
    for seed in SEEDS:
        for path in (
            f"results/runs/seed{seed}/train.done",
            f"results/eval/seed{seed}.json",
            f"results/videos/seed{seed}.mp4",
        ):
            assert (workflow_dir / path).is_file(), path
    assert any((workflow_dir / "results/report").iterdir())

    # Every submission is its own SLURM job, under this run's job name, with the rule
    # instance in its comment; only seed 42's training ran twice.
    submissions = defaultdict(list)  # (rule, wildcards) -> SLURM job ids in submission order
    for jobid, rule, wildcards in SUBMITTED.findall(log):
        submissions[(rule, wildcards)].append(jobid)
    for seed in SEEDS:
        for rule in ("train", "eval", "render"):
            assert (rule, str(seed)) in submissions, (rule, seed, dict(submissions))
    sacct = {job["JobIDRaw"]: job for job in slurm_cluster.jobs_since(run.started)}
    run_names = {sacct[jobid]["JobName"] for ids in submissions.values() for jobid in ids}
    assert len(run_names) == 1, run_names
    for (rule, wildcards), ids in submissions.items():
        comment = f"rule_{rule}" + (f"_wildcards_{wildcards}" if wildcards else "")
        states = [base_state(sacct[jobid]["State"]) for jobid in ids]
        assert all(sacct[jobid]["Comment"] == comment for jobid in ids), (rule, wildcards)
        if (rule, wildcards) == ("train", "42"):
            assert states == ["CANCELLED", "COMPLETED"], states
        else:
            assert states == ["COMPLETED"], (rule, wildcards, states)

    # The retry resumed: the run's log shows the stop and a checkpoint saved, and only one
    # start (a fresh start writes the "run_dir ..." header again; resuming does not); the
    # metrics go on from the checkpoint to the last iteration without a gap.
    train_log = (run_dir / "train.log").read_text()
    assert "checkpoint saved" in train_log, train_log
    assert train_log.count("run_dir ") == 1, train_log
    rows = (run_dir / "metrics.csv").read_text().split()[1:]
    iterations = [int(row.split(",")[0]) for row in rows]
    assert iterations == list(range(1, TINY["train"]["iterations"] + 1)), iterations
