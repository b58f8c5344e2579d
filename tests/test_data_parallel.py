"""Data-parallel training on two (forced) CPU devices equals training on one.

The device count is fixed when jax starts, so the runs happen in a child process
(`data_parallel_run.py`); the 1- and 2-device iterations compile once each there (about a
minute together on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skeleton_steering.config import ConfigError
from skeleton_steering.learn import amp_ppo, data_parallel, train_config
from tiny_training import TINY

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# Float rounding of sums taken in another order, grown by two Adam steps (which divide by the
# gradients' own size); a device that trained on its own minibatches or draws is off by O(1).
TOLERANCE = 2e-2


@pytest.fixture(scope="module")
def two_device_runs(tmp_path_factory) -> dict:
    from skeleton_steering.config import read_yaml
    from skeleton_steering.data.cache import ensure_default_walk_data

    base = tmp_path_factory.mktemp("data_parallel")
    data = read_yaml(ROOT / "config" / "amp_ppo.yaml")
    for section, values in TINY.items():
        data[section].update(values)
    # Correlated exploration noise and discriminator input noise: every random draw the
    # iteration makes is split across the devices.
    data["network"]["noise_correlation"] = 0.5
    data["amp"]["input_noise"] = 0.3
    data["data"]["cache_dir"] = str(ensure_default_walk_data(base / "data"))
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, str(HERE / "data_parallel_run.py"), str(config), str(base / "runs")],
        capture_output=True, text=True, env=env, timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_iteration_on_two_devices_equals_one_device(two_device_runs):
    gaps = two_device_runs["first"]
    for part in (".params", ".disc_params", ".obs_norm", ".disc_norm", ".replay", ".env_state"):
        assert any(k.startswith(part) for k in gaps), part
    worst = max(gaps, key=gaps.get)
    assert gaps[worst] < TOLERANCE, (worst, gaps[worst])


def test_checkpoints_resume_across_device_counts(two_device_runs):
    # A 2-device checkpoint went on on 1 device, a 1-device one on 2: both reach iteration 2
    # with the same state.
    assert two_device_runs["iterations"] == [2, 2]
    gaps = two_device_runs["second"]
    worst = max(gaps, key=gaps.get)
    assert gaps[worst] < TOLERANCE, (worst, gaps[worst])


def test_a_batch_that_does_not_split_is_refused():
    config = train_config.load(None, ["ppo.num_envs=6", "ppo.rollout_length=4",
                                      "ppo.num_minibatches=1", "amp.num_minibatches=1"])
    with pytest.raises(ConfigError, match=r"ppo.num_envs = 6 does not divide by the 4 devices"):
        data_parallel.check_divisible(amp_ppo.split_sizes(config), 4)
    data_parallel.check_divisible(amp_ppo.split_sizes(config), 2)


# -- several processes: how the environment describes them --------------------------------------


def test_explicit_coordinator_variables_describe_the_cluster():
    env = {"JAX_COORDINATOR_ADDRESS": "head:1234", "JAX_NUM_PROCESSES": "4",
           "JAX_PROCESS_ID": "3", "SLURM_STEP_NUM_TASKS": "8"}
    assert data_parallel.cluster_from_env(env) == data_parallel.Cluster(
        "head:1234", 4, 3, "JAX_* environment variables")
    with pytest.raises(ConfigError, match="JAX_COORDINATOR_ADDRESS set but not JAX_NUM_PROC"):
        data_parallel.cluster_from_env({"JAX_COORDINATOR_ADDRESS": "head:1234"})
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES must be a whole number"):
        data_parallel.cluster_from_env({**env, "JAX_NUM_PROCESSES": "four"})
    with pytest.raises(ConfigError, match=r"process index 4 is outside 0\.\.3"):
        data_parallel.cluster_from_env({**env, "JAX_PROCESS_ID": "4"})


def test_a_slurm_step_describes_the_cluster_and_its_batch_script_does_not():
    step = {"SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1", "SLURM_JOB_ID": "4097",
            "SLURM_STEP_NODELIST": "gpu[003-004,009],big1", "SLURM_NTASKS": "2"}
    assert data_parallel.cluster_from_env(step) == data_parallel.Cluster(
        "gpu003:61441", 2, 1, "SLURM")
    assert data_parallel.cluster_from_env({**step, "JAX_COORDINATOR_PORT": "5000"}).coordinator \
        == "gpu003:5000"
    batch_script = {k: v for k, v in step.items() if not k.startswith("SLURM_STEP")}
    assert data_parallel.cluster_from_env(batch_script) is None
    assert data_parallel.first_host("node7,node8") == "node7"
    assert data_parallel.first_host("a-b[1-2]") == "a-b1"


def test_distributed_modes():
    assert data_parallel.initialize_distributed("off", {"JAX_NUM_PROCESSES": "2"}) is None
    assert data_parallel.initialize_distributed("auto", {}) is None
    with pytest.raises(ConfigError, match="--distributed on: no cluster found"):
        data_parallel.initialize_distributed("on", {})
    with pytest.raises(ConfigError, match="--distributed must be one of auto, on, off"):
        data_parallel.initialize_distributed("yes", {})


def test_one_process_agrees_with_itself():
    assert data_parallel.agree_any([True, False]) == [True, False]
    with data_parallel.together("a step"):
        pass
    data_parallel.check_same_everywhere("data", b"x")
