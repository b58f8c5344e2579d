"""Drive the single-node test cluster of start_slurm.sh from Python.

`start_cluster()` runs tests/cluster/start_slurm.sh and returns a `SlurmCluster` whose `env`
points SLURM's commands at it (SLURM_CONF). Its methods submit, cancel and query jobs the way
the Snakemake SLURM executor does: job status comes from the executor's own `sacct` query
(`sacct -X --parsable2 --clusters all --noheader --format=JobIdRaw,State ... --name <run id>`)
or its `squeue` alternative, built by the installed plugin when it is importable.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
START_SCRIPT = HERE / "start_slurm.sh"
STOP_SCRIPT = HERE / "stop_slurm.sh"
# start_slurm.sh exits with this when it cannot run here (not root, packages not installable).
EXIT_UNAVAILABLE = 77

# Job states after which SLURM does nothing more with a job.
FINAL_STATES = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "TIMEOUT",
}


class ClusterUnavailableError(RuntimeError):
    """The cluster cannot be started on this machine (no root, or packages not installable)."""


class ClusterError(RuntimeError):
    """The cluster scripts or a SLURM command failed."""


def sacct_status_command(name: str) -> str:
    """The Snakemake SLURM executor's job-status query for jobs named `name` (its run id)."""
    try:
        from snakemake_executor_plugin_slurm.job_status_query import query_job_status_sacct
    except ImportError:  # the plugin is not installed: the same command, as plugin 2.8.0 builds it
        start = f"{datetime.now() - timedelta(days=2):%Y-%m-%dT%H:00}"
        return (
            "sacct -X --parsable2 --clusters all --noheader --format=JobIdRaw,State "
            f"--starttime {start} --endtime now --name {shlex.quote(name)}"
        )
    return query_job_status_sacct(name)


def squeue_status_command(name: str) -> str:
    """The executor's alternative status query (`slurm-status-command: squeue`)."""
    try:
        from snakemake_executor_plugin_slurm.job_status_query import query_job_status_squeue
    except ImportError:
        return f"squeue --format='%i|%T' --states=all --noheader --name {shlex.quote(name)}"
    return query_job_status_squeue(name)


def parse_status(output: str) -> dict[str, str]:
    """`<jobid>|<state>` lines -> {jobid: state}, the state as SLURM printed it
    (sacct may add detail, e.g. 'CANCELLED by 0')."""
    states = {}
    for line in output.splitlines():
        if "|" in line:
            jobid, state = line.split("|", 1)
            states[jobid.strip()] = state.strip()
    return states


def base_state(state: str) -> str:
    """'CANCELLED by 0' -> 'CANCELLED'."""
    return state.split()[0] if state.split() else state


@dataclass
class SlurmCluster:
    env: dict[str, str]
    started_here: bool = True
    start_seconds: float = 0.0
    start_log: str = ""
    _sequence: int = field(default=0, repr=False)

    # -- plumbing ---------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, timeout: float = 60, **kw):
        """Run a command (argv) with the cluster's environment; text output captured."""
        proc = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout, **kw
        )
        if check and proc.returncode != 0:
            raise ClusterError(
                f"{shlex.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def shell(self, command: str, check: bool = True, timeout: float = 60):
        return self.run("bash", "-c", command, check=check, timeout=timeout)

    def unique_name(self, prefix: str) -> str:
        self._sequence += 1
        return f"{prefix}-{os.getpid()}-{int(time.time())}-{self._sequence}"

    # -- jobs -------------------------------------------------------------------------------

    def sbatch(self, *args: str) -> str:
        """Submit with sbatch --parsable; return the job id."""
        out = self.run("sbatch", "--parsable", *args).stdout.strip()
        return out.split(";")[0]

    def scancel(self, *jobids: str) -> None:
        self.run("scancel", *jobids)

    def sacct_states(self, name: str) -> dict[str, str]:
        """{jobid: state} from the executor's sacct query for jobs named `name`."""
        return parse_status(self.shell(sacct_status_command(name)).stdout)

    def squeue_states(self, name: str) -> dict[str, str]:
        """{jobid: state} from the executor's squeue query (jobs ended within MinJobAge)."""
        return parse_status(self.shell(squeue_status_command(name)).stdout)

    def squeue_state(self, jobid: str) -> str:
        return self.run("squeue", "-h", "-j", jobid, "-o", "%T", check=False).stdout.strip()

    def wait_for(self, what: str, predicate, timeout: float = 120, interval: float = 1.0):
        """Poll `predicate()` until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
            time.sleep(interval)

    def wait_final_state(self, name: str, jobid: str, timeout: float = 120) -> str:
        """Wait until sacct reports a final state for the job; return it as printed."""

        def final():
            state = self.sacct_states(name).get(jobid, "")
            return state if base_state(state) in FINAL_STATES else None

        return self.wait_for(f"job {jobid} ({name}) to finish", final, timeout)

    def wait_running(self, jobid: str, timeout: float = 60) -> None:
        self.wait_for(
            f"job {jobid} to start", lambda: self.squeue_state(jobid) == "RUNNING", timeout, 0.5
        )

    def jobs_since(self, start: datetime) -> list[dict[str, str]]:
        """Every job (not steps) submitted since `start`, as sacct dicts with JobIDRaw,
        JobName, State, Comment (the executor writes rule_<rule>[_wildcards_<values>] there),
        ExitCode, Start, End."""
        fields = ["JobIDRaw", "JobName", "State", "Comment", "ExitCode", "Start", "End"]
        out = self.run(
            "sacct", "-X", "--parsable2", "--noheader", "--allusers",
            f"--starttime={start:%Y-%m-%dT%H:%M:%S}", "--endtime=now",
            "--format=JobIDRaw,JobName%100,State,Comment%300,ExitCode,Start,End",
        ).stdout  # fmt: skip
        return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines()]

    def jobs_of_rule(self, start: datetime, rule: str, wildcards: str = "") -> list[dict]:
        """Finished or running jobs since `start` that the Snakemake executor submitted for one
        rule instance (slurmdbd stores a job's comment when the job ends; `queued_jobs` has
        it while the job is queued or running)."""
        comment = rule_comment(rule, wildcards)
        return [job for job in self.jobs_since(start) if job["Comment"] == comment]

    def queued_jobs(self) -> list[dict[str, str]]:
        """Jobs slurmctld knows now (pending, running, or ended within MinJobAge), as dicts
        with JobIDRaw, JobName, State, Comment."""
        out = self.run("squeue", "-h", "--states=all", "-o", "%i|%j|%T|%k").stdout
        fields = ["JobIDRaw", "JobName", "State", "Comment"]
        return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines()]


def rule_comment(rule: str, wildcards: str = "") -> str:
    """The sbatch --comment the Snakemake SLURM executor gives a rule instance's job
    (wildcard values joined by '_')."""
    return f"rule_{rule}" + (f"_wildcards_{wildcards}" if wildcards else "")


def start_cluster(timeout: float = 900) -> SlurmCluster:
    """Run start_slurm.sh; raise ClusterUnavailableError where it cannot run here."""
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=timeout
    )
    seconds = time.monotonic() - t0
    if proc.returncode == EXIT_UNAVAILABLE:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unavailable"
        raise ClusterUnavailableError(reason)
    if proc.returncode != 0:
        raise ClusterError(f"start_slurm.sh exited {proc.returncode}:\n{proc.stderr}")
    env = dict(os.environ)
    for line in proc.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            env[key] = value
    env.setdefault("USER", getpass.getuser())
    # A test run inside a SLURM job must not leak that job's settings into submissions.
    for key in [k for k in env if k.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
        if key != "SLURM_CONF":
            del env[key]
    return SlurmCluster(
        env=env,
        started_here="already running" not in proc.stderr,
        start_seconds=seconds,
        start_log=proc.stderr,
    )


def stop_cluster() -> None:
    proc = subprocess.run(["bash", str(STOP_SCRIPT)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise ClusterError(f"stop_slurm.sh exited {proc.returncode}:\n{proc.stderr}")


# -- the workflow on the cluster ------------------------------------------------------------

REPO = HERE.parent.parent


@dataclass
class WorkflowRun:
    """A `snakemake --profile profiles/slurm` run in the background (see `start_workflow`)."""

    process: subprocess.Popen
    log_path: Path
    started: datetime

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.process.terminate()  # snakemake cancels its SLURM jobs on SIGTERM
            self.process.wait(timeout=120)
            raise TimeoutError(
                f"snakemake did not finish in {timeout:.0f} s; log: {self.log_path}"
            ) from exc

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def workflow_env(cluster: SlurmCluster, **extra: str) -> dict[str, str]:
    """The cluster's environment plus what profiles/slurm reads for this site, with this
    interpreter's bin first on PATH (the rules call `skeleton-steering`; sbatch passes PATH on
    to the jobs)."""
    env = dict(cluster.env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("SLURM_ACCOUNT", "skeleton")
    env.setdefault("SLURM_PARTITION", "debug")
    env.pop("SLURM_GPU_PARTITION", None)
    env.update(extra)
    return env


def start_workflow(
    cluster: SlurmCluster,
    log_path: Path,
    *args: str,
    workdir: Path = REPO,
    profile: str = "profiles/slurm",
    env: dict[str, str] | None = None,
) -> WorkflowRun:
    """Start `snakemake --profile <profile> <args>` in `workdir` against the test cluster.

    Runs the venv's snakemake (the one beside this interpreter), with stdout and stderr in
    `log_path`. Jobs submitted from now on are found with `cluster.jobs_since(run.started)`.
    """
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), "--profile", profile, *args]
    started = datetime.now() - timedelta(seconds=2)  # sacct's start times are whole seconds
    log_file = log_path.open("w")
    process = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env if env is not None else workflow_env(cluster),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log_file.close()
    return WorkflowRun(process=process, log_path=log_path, started=started)


def wait_rule_job(
    cluster: SlurmCluster,
    run: WorkflowRun,
    rule: str,
    wildcards: str = "",
    state: str = "RUNNING",
    timeout: float = 600,
) -> dict[str, str]:
    """Wait until a SLURM job of one rule instance is in `state` (as squeue shows it); return
    its squeue row. Fails early when snakemake exits first."""

    def find():
        if run.process.poll() is not None:
            raise ClusterError(
                f"snakemake exited {run.process.returncode} before rule {rule} {wildcards} "
                f"reached {state}; log tail:\n{run.log()[-3000:]}"
            )
        comment = rule_comment(rule, wildcards)
        for job in cluster.queued_jobs():
            if job["Comment"] == comment and base_state(job["State"]) == state:
                return job
        return None

    return cluster.wait_for(f"rule {rule} {wildcards} {state}", find, timeout, interval=2)
