"""The single-node SLURM test cluster (start_slurm.sh) behaves like a site cluster for the
Snakemake SLURM executor: jobs run, their status reads back through the executor's own sacct
(and squeue) query, scancel cancels, srun works, and the accounting database knows the
submitting user's account."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from slurm_cluster import START_SCRIPT, SlurmCluster, base_state

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def test_node_is_idle_in_default_partition(slurm_cluster: SlurmCluster):
    version = slurm_cluster.run("sinfo", "--version").stdout.strip()
    assert version.startswith("slurm"), version
    out = slurm_cluster.run("sinfo", "-h", "-o", "%P|%a|%t|%D").stdout.split()
    partition, avail, state, nodes = out[0].split("|")
    assert partition.endswith("*"), f"no default partition: {out}"
    assert (avail, nodes) == ("up", "1")
    assert state in {"idle", "mix", "alloc"}, out


def test_batch_job_completes_as_the_executor_sees_it(slurm_cluster: SlurmCluster, tmp_path):
    name = slurm_cluster.unique_name("completes")
    out_file = tmp_path / "job.out"
    jobid = slurm_cluster.sbatch(
        "--job-name", name, "--output", str(out_file), "--ntasks=1", "--cpus-per-task=1",
        "--mem=100", "-t", "5", "--wrap", "hostname; sleep 2",
    )  # fmt: skip
    state = slurm_cluster.wait_final_state(name, jobid, timeout=120)
    assert state == "COMPLETED"
    assert out_file.read_text().strip() == socket.gethostname().split(".")[0]
    # The executor's squeue alternative sees the same job while it is within MinJobAge.
    assert slurm_cluster.squeue_states(name) == {jobid: "COMPLETED"}


def test_failed_job_reads_back_as_failed(slurm_cluster: SlurmCluster):
    name = slurm_cluster.unique_name("fails")
    jobid = slurm_cluster.sbatch("--job-name", name, "-o", "/dev/null", "--wrap", "exit 3")
    assert slurm_cluster.wait_final_state(name, jobid) == "FAILED"


def test_scancel_cancels_a_running_job(slurm_cluster: SlurmCluster):
    name = slurm_cluster.unique_name("cancelled")
    jobid = slurm_cluster.sbatch("--job-name", name, "-o", "/dev/null", "--wrap", "sleep 300")
    slurm_cluster.wait_running(jobid)
    slurm_cluster.scancel(jobid)
    state = slurm_cluster.wait_final_state(name, jobid, timeout=60)
    # sacct prints who cancelled it ("CANCELLED by 0"); squeue prints the bare state.
    assert base_state(state) == "CANCELLED", state
    assert slurm_cluster.squeue_states(name) == {jobid: "CANCELLED"}


def test_srun_runs_on_the_node(slurm_cluster: SlurmCluster):
    out = slurm_cluster.run("srun", "--ntasks=1", "--mem=100", "hostname", timeout=60).stdout
    assert out.strip() == socket.gethostname().split(".")[0]


def test_accounting_knows_the_submitting_users_account(slurm_cluster: SlurmCluster):
    # The executor checks a given account with exactly this query.
    user = slurm_cluster.env["USER"]
    out = slurm_cluster.shell(f'sacctmgr -n -s list user "{user}" format=account%256').stdout
    accounts = {line.strip() for line in out.splitlines() if line.strip()}
    assert "skeleton" in accounts, accounts


def test_starting_again_keeps_the_running_cluster(slurm_cluster: SlurmCluster):
    pids_before = slurm_cluster.run("scontrol", "show", "config").stdout
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "already running and healthy" in proc.stderr
    assert f"export SLURM_CONF={slurm_cluster.env['SLURM_CONF']}" in proc.stdout
    assert time.monotonic() - t0 < 30
    # Same controller: its boot time did not change.
    boot = [ln for ln in pids_before.splitlines() if ln.startswith("BOOT_TIME")]
    after = slurm_cluster.run("scontrol", "show", "config").stdout
    assert boot and boot[0] in after.splitlines()
