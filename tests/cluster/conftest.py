"""Fixtures for the cluster tests: one single-node SLURM cluster per test session.

The cluster is started by start_slurm.sh (which installs Debian's SLURM, munge and MariaDB
when missing) and stopped by stop_slurm.sh after the session, unless it was already running
before the session or SKELETON_SLURM_KEEP=1 is set. Where it cannot start because this machine
offers no root or no apt-get, the tests that use it are skipped with the script's reason.
"""

from __future__ import annotations

import os

import pytest
from slurm_cluster import ClusterUnavailableError, SlurmCluster, start_cluster, stop_cluster


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    try:
        cluster = start_cluster()
    except ClusterUnavailableError as exc:
        pytest.skip(f"no SLURM test cluster on this machine: {exc}")
    yield cluster
    if cluster.started_here and os.environ.get("SKELETON_SLURM_KEEP") != "1":
        stop_cluster()
