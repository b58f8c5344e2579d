"""The Snakemake workflow: DAG, per-seed targets, config schema, lint and format, SLURM resource
mapping, containers, retries, the lock files, and (slow) a real run of a tiny config.

Every run happens in a temporary working directory with its own config/config.yaml, so the
repository's results/ is never touched. Containers: Apptainer cannot be installed here, so a
stand-in `apptainer` (and `singularity`) on PATH records its arguments and runs the command it
was given on the host; together with a stand-in `skeleton-steering` that writes each stage's
outputs, this checks how the workflow calls containers, not the image (the image's own
`%test` checks that, see containers/README.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
DATA_RULES = {"sample_kit": 1, "extract": 1, "retarget": 1, "cache": 1}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_workdir(path: Path, overrides: dict | None = None) -> Path:
    """A working directory whose config/config.yaml is the default one plus `overrides`."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["train"]["config"] = str(ROOT / "config" / "amp_ppo.yaml")
    config = _merge(config, overrides or {})
    (path / "config").mkdir(parents=True, exist_ok=True)
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    # The venv's bin (where `skeleton-steering` lives) first, after any stand-ins.
    path = [full_env.pop("PATH_FIRST", ""), str(BIN), full_env.get("PATH", "")]
    full_env["PATH"] = os.pathsep.join(p for p in path if p)
    proc = subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=workdir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table (job name -> count), without its total line."""
    lines = output.splitlines()
    start = lines.index("Job stats:") + 3  # title, header, dashes
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    total = counts.pop("total")
    assert total == sum(counts.values())
    return counts


def planned_jobs(output: str) -> list[dict]:
    """Each job block of a dry run: rule, wildcards, threads, resources, shell command."""
    jobs = []
    for block in re.split(r"\n\s*\n", output):
        head = re.search(r"^(local)?rule (\w+):$", block, re.MULTILINE)
        if not head:
            continue
        job = {"rule": head.group(2), "resources": {}}
        if m := re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE):
            job["wildcards"] = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
        if m := re.search(r"^\s+resources: (.*)$", block, re.MULTILINE):
            for item in m.group(1).split(", "):
                key, value = item.split("=", 1)
                job["resources"][key] = int(value) if value.isdigit() else value
        if m := re.search(r"^Shell command: (.*)$", block, re.MULTILINE):
            job["shell"] = m.group(1)
        if m := re.search(r"^\s+threads: (\d+)$", block, re.MULTILINE):
            job["threads"] = int(m.group(1))
        jobs.append(job)
    return jobs


# -- the DAG ---------------------------------------------------------------------------------


def test_dry_run_plans_every_stage_once_and_train_eval_render_per_seed(tmp_path):
    wd = make_workdir(tmp_path, {"seeds": [1, 2, 3]})
    out = snakemake(wd, "-n").stdout
    assert job_counts(out) == {
        **DATA_RULES,
        "train": 3,
        "eval": 3,
        "render": 3,
        "report": 1,
        "reference_eval": 1,
        "reference_render": 1,
        "all": 1,
    }
    seeds = sorted(j["wildcards"]["seed"] for j in planned_jobs(out) if j["rule"] == "train")
    assert seeds == ["1", "2", "3"]

    # Seeds from the command line arrive as strings; the schema takes digit strings too.
    out = snakemake(wd, "-n", "--config", "seeds=[7,8]").stdout
    seeds = sorted(j["wildcards"]["seed"] for j in planned_jobs(out) if j["rule"] == "train")
    assert seeds == ["7", "8"]


def test_dry_run_commands_carry_the_config(tmp_path):
    wd = make_workdir(
        tmp_path,
        {
            "seeds": [5],
            "train": {
                "iterations": 7,
                "overrides": {"ppo.num_envs": 16, "network.policy_hidden": [8, 8]},
            },
            "eval": {"n_steps": 123, "schedule": "random"},
            "extract": {"include": ["walk"], "min_rate": 60},
        },
    )
    jobs = {j["rule"]: j for j in planned_jobs(snakemake(wd, "-n", "-p").stdout)}
    train = jobs["train"]["shell"]
    assert "skeleton-steering train" in train and "--seed 5" in train
    assert "--run_dir results/runs/seed5" in train and "--jax_cpu" in train
    assert "data.cache_dir=results/cache" in train and "run.iterations=7" in train
    assert "ppo.num_envs=16" in train and "'network.policy_hidden=[8, 8]'" in train
    assert "--resume" not in train.replace("echo --resume", "")  # only a retry resumes
    # config/config.yaml evaluates the last policy export, written with the final checkpoint.
    assert "--model_path results/runs/seed5/policy_latest.msgpack" in jobs["eval"]["shell"]
    assert "--n_steps 123" in jobs["eval"]["shell"] and "--schedule random" in jobs["eval"]["shell"]
    assert "--include walk --min-duration" in jobs["extract"]["shell"]
    assert "--min-rate 60" in jobs["extract"]["shell"]
    assert "--kit-root results/sample_kit" in jobs["extract"]["shell"]
    for job in jobs.values():
        if job["rule"] != "all":
            assert job["shell"].endswith(f"> results/logs/{_log_name(job)} 2>&1"), job


def test_gpu_preset_merges_over_the_default(tmp_path):
    wd = make_workdir(tmp_path)
    out = snakemake(wd, "-n", "-p", "--configfile", str(ROOT / "config" / "gpu.yaml")).stdout
    assert job_counts(out) == {
        **DATA_RULES,
        "train": 5,
        "eval": 5,
        "render": 5,
        "report": 1,
        "reference_eval": 1,
        "reference_render": 1,
        "all": 1,
    }
    for job in planned_jobs(out):
        if job["rule"] in ("train", "eval", "render"):
            assert job["resources"]["gpu"] == 1
    train = next(j for j in planned_jobs(out) if j["rule"] == "train")
    assert train["resources"]["runtime"] == 720
    assert "ppo.num_envs=4096" in train["shell"] and "run.iterations=5000" in train["shell"]
    assert "--jax_cpu" not in train["shell"]
    assert (
        "policy_best.msgpack"
        in next(j for j in planned_jobs(out) if j["rule"] == "eval")["shell"]
    )


def _log_name(job: dict) -> str:
    seed = job.get("wildcards", {}).get("seed")
    return f"{job['rule']}/seed{seed}.log" if seed else f"{job['rule']}.log"


def test_schema_fills_defaults_for_keys_left_out(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        f"seeds: [9]\ntrain:\n  config: {ROOT / 'config' / 'amp_ppo.yaml'}\n"
    )
    jobs = {j["rule"]: j for j in planned_jobs(snakemake(tmp_path, "-n", "-p").stdout)}
    # The schema's defaults: 2000 iterations, 1000 eval steps, the best checkpoint, a
    # 120-minute training job.
    assert "run.iterations=2000" in jobs["train"]["shell"]
    assert "--n_steps 1000" in jobs["eval"]["shell"]
    assert "--model_path results/runs/seed9/policy_best.msgpack" in jobs["render"]["shell"]
    assert jobs["train"]["resources"]["runtime"] == 120


def test_a_configured_kit_root_replaces_the_sample_clips(tmp_path):
    kit = tmp_path / "amass"
    (kit / "KIT" / "3").mkdir(parents=True)
    wd = make_workdir(tmp_path / "wd", {"kit_root": str(kit)})
    out = snakemake(wd, "-n", "-p").stdout
    counts = job_counts(out)
    assert "sample_kit" not in counts and counts["extract"] == 1
    extract = next(j for j in planned_jobs(out) if j["rule"] == "extract")
    assert f"--kit-root {kit} " in extract["shell"]

    make_workdir(tmp_path / "wd", {"kit_root": str(tmp_path / "missing")})
    proc = snakemake(wd, "-n", check=False)
    assert proc.returncode != 0
    assert "missing" in proc.stdout + proc.stderr


# -- per-seed targets --------------------------------------------------------------------------


def test_a_video_target_builds_only_what_that_seed_needs(tmp_path):
    wd = make_workdir(tmp_path)  # seeds [42, 43]
    out = snakemake(wd, "-n", "results/videos/seed42.mp4").stdout
    assert job_counts(out) == {**DATA_RULES, "train": 1, "render": 1}
    assert {j["wildcards"]["seed"] for j in planned_jobs(out) if "wildcards" in j} == {"42"}
    assert "seed43" not in out


def test_a_seed_outside_the_config_trains_on_request(tmp_path):
    wd = make_workdir(tmp_path)  # seeds [42, 43]
    out = snakemake(wd, "-n", "results/runs/seed7/train.done").stdout
    assert job_counts(out) == {**DATA_RULES, "train": 1}
    assert "--seed 7 --run_dir results/runs/seed7" in out
    out = snakemake(wd, "-n", "results/eval/seed7.json").stdout
    assert job_counts(out) == {**DATA_RULES, "train": 1, "eval": 1}


def test_a_seed_must_be_digits(tmp_path):
    wd = make_workdir(tmp_path)
    proc = snakemake(wd, "-n", "results/videos/seedx.mp4", check=False)
    assert proc.returncode != 0
    assert "MissingRuleException" in proc.stdout + proc.stderr


# -- the config schema -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seeds": ["forty-two"]}, "invalid config at 'seeds.0': 'forty-two' is not valid"),
        ({"seeds": []}, "invalid config at 'seeds': [] should be non-empty"),
        ({"train": {"iterations": 0}}, "invalid config at 'train.iterations': 0 is less than"),
        ({"eval": {"checkpoint": "newest"}}, "'eval.checkpoint': 'newest' is not one of"),
        ({"trian": {"iterations": 5}}, "('trian' was unexpected)"),
        ({"train": {"overrides": {"iterations": 5}}}, "'train.overrides': 'iterations' does not"),
        ({"resources": {"train": {"gpu": 1}}}, "('gpu' was unexpected)"),
    ],
)
def test_the_schema_rejects_a_bad_config_naming_the_key(tmp_path, overrides, message):
    wd = make_workdir(tmp_path, overrides)
    proc = snakemake(wd, "-n", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert message in text, text
    assert "workflow/schemas/config.schema.yaml" in text


# -- lint and format -----------------------------------------------------------------------


def test_snakemake_lint_reports_nothing():
    proc = subprocess.run(
        [str(SNAKEMAKE), "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "Lints for" not in text and "in a good condition" in text, text


def test_snakefmt_leaves_every_workflow_file_unchanged():
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- SLURM -----------------------------------------------------------------------------------


class _Resources(dict):
    """Snakemake's job resources as the SLURM plugin reads them (attributes and .get)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


def test_slurm_profile_plans_one_job_per_rule_instance_with_resources_mapped(tmp_path):
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    wd = make_workdir(
        tmp_path,
        {
            "seeds": [1, 2],
            "use_gpu": True,
            "resources": {"train": {"threads": 2, "mem_mb": 32000, "runtime": 720}},
        },
    )
    env = {"SLURM_ACCOUNT": "proj42", "SLURM_PARTITION": "cpuq", "SLURM_GPU_PARTITION": "gpuq"}
    out = snakemake(
        wd, "-n", "--executor", "slurm", "--profile", str(ROOT / "profiles" / "slurm"), env=env
    ).stdout
    jobs = planned_jobs(out)
    assert job_counts(out) == {
        **DATA_RULES,
        "train": 2,
        "eval": 2,
        "render": 2,
        "report": 1,
        "reference_eval": 1,
        "reference_render": 1,
        "all": 1,
    }
    assert len(jobs) == sum(job_counts(out).values())

    for job in jobs:
        res = job["resources"]
        if job["rule"] == "all":
            continue
        assert res["slurm_account"] == "proj42"
        assert isinstance(res["runtime"], int) and isinstance(res["mem_mb"], int)
        gpu = job["rule"] in ("train", "eval", "render", "reference_eval", "reference_render")
        assert res.get("gpu", 0) == (1 if gpu else 0)
        assert res["slurm_partition"] == ("gpuq" if gpu else "cpuq")
        # What the pinned plugin turns these resources into.
        threads = job.get("threads", 1)  # the dry run prints threads only above 1
        fake = SimpleNamespace(resources=_Resources(res), threads=threads)
        call = get_submit_command(
            fake,
            {
                "run_uuid": "u",
                "slurm_logfile": "log",
                "comment_str": "c",
                "account": "",
                "partition": "",
                "workdir": str(wd),
            },
        ) + set_gres_string(fake)
        assert f"-t {res['runtime']}" in call and f"--mem {res['mem_mb']}" in call
        assert f"--cpus-per-task={threads}" in call
        assert ("--gpus=1" in call) == gpu
        if job["rule"] == "train":
            assert (res["runtime"], res["mem_mb"]) == (720, 32000)


# -- containers and retries (stand-ins) --------------------------------------------------------

FAKE_CLI = '''\
#!{python}
"""Stand-in for `skeleton-steering`: logs its arguments, writes each stage's outputs."""
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_CLI_LOG"], "a") as fh:
    fh.write(json.dumps(args) + "\\n")


def opt(name):
    return Path(args[args.index(name) + 1])


cmd = args[0]
if cmd == "sample-kit":
    (opt("--out") / "KIT" / "1").mkdir(parents=True)
    (opt("--out") / "KIT" / "1" / "walking_poses.npz").write_bytes(b"")
elif cmd == "extract":
    opt("--out").mkdir(parents=True, exist_ok=True)
    (opt("--out") / "manifest.json").write_text("{{}}")
elif cmd == "retarget":
    opt("--out").write_bytes(b"")
    opt("--out").with_name(opt("--out").stem + "_qa.json").write_text("{{}}")
elif cmd == "cache":
    opt("--out").mkdir(parents=True, exist_ok=True)
    for name in ("expert_traj.npz", "expert_disc_obs.npz"):
        (opt("--out") / name).write_bytes(b"")
elif cmd == "train":
    run = opt("--run_dir")
    run.mkdir(parents=True, exist_ok=True)
    # The first attempt of every training job dies, as a preempted job would.
    if not (run / "attempted").exists():
        (run / "attempted").touch()
        sys.exit(3)
elif cmd == "eval":
    opt("--out").parent.mkdir(parents=True, exist_ok=True)
    opt("--out").write_text('{{"metrics": {{"success_rate": 0.5}}}}')
    opt("--out").with_suffix(".csv").write_text("episode,step\\n")
elif cmd == "render":
    opt("--out").parent.mkdir(parents=True, exist_ok=True)
    opt("--out").write_bytes(b"mp4")
    opt("--out").with_suffix(".gif").write_bytes(b"GIF89a")
elif cmd == "report":
    opt("--out").mkdir(parents=True)
    (opt("--out") / "index.html").write_text("<html></html>")
'''

FAKE_APPTAINER = '''\
#!{python}
"""Stand-in for apptainer/singularity: logs `exec` calls and runs the command on the host."""
import json, os, subprocess, sys
from pathlib import Path

args = sys.argv[1:]
if args == ["--version"]:
    print("apptainer version 1.3.6")
    sys.exit(0)
with open(os.environ["FAKE_APPTAINER_LOG"], "a") as fh:
    fh.write(json.dumps([Path(sys.argv[0]).name, *args]) + "\\n")
if args[0] != "exec":
    sys.exit(f"stand-in apptainer: only exec is supported, got {{args}}")
shell, flag, command = args[-3:]
sys.exit(subprocess.call([shell, flag, command]))
'''


@pytest.fixture
def stand_ins(tmp_path) -> dict[str, str]:
    """PATH entries and log files for the stand-in CLI, apptainer and singularity."""
    bin_dir = tmp_path / "stand-in-bin"
    bin_dir.mkdir()
    for name, text in (
        ("skeleton-steering", FAKE_CLI),
        ("apptainer", FAKE_APPTAINER),
        ("singularity", FAKE_APPTAINER),
    ):
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable))
        path.chmod(0o755)
    return {
        "PATH_FIRST": str(bin_dir),
        "FAKE_CLI_LOG": str(tmp_path / "cli.log"),
        "FAKE_APPTAINER_LOG": str(tmp_path / "apptainer.log"),
    }


def _log(path: str) -> list[list[str]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_every_rule_runs_in_the_configured_container_with_the_profile_args(tmp_path, stand_ins):
    image = tmp_path / "images" / "skeleton-steering.sif"
    image.parent.mkdir()
    image.write_bytes(b"")
    wd = make_workdir(
        tmp_path / "wd",
        # No reference walker: its rules run the same commands as eval and render.
        {"seeds": [1, 2], "container": str(image), "train": {"retries": 1},
         "reference_policy": ""},
    )
    snakemake(wd, "--sdm", "apptainer", "--cores", "1", env=stand_ins)

    calls = _log(stand_ins["FAKE_APPTAINER_LOG"])
    subcommands = []
    for call in calls:
        assert call[0] == "apptainer"  # preferred over singularity when both exist
        args = call[1:]
        assert args[0] == "exec"
        assert args[args.index("--home") + 1] == str(wd)
        assert "--nv" in args  # from profiles/default
        assert args[-4] == str(image) and args[-3:-1] == ["bash", "-c"]
        command = args[-1]
        assert "export JAX_COMPILATION_CACHE_DIR=results/.jax_cache;" in command
        assert "export JAX_PLATFORMS=cpu;" in command
        subcommands.append(re.search(r"skeleton-steering (\S+)", command).group(1))
    # Training runs twice per seed: the first attempt dies, the retry resumes.
    assert sorted(subcommands) == sorted(
        ["sample-kit", "extract", "retarget", "cache", "report"]
        + ["train"] * 4
        + ["eval"] * 2
        + ["render"] * 2
    )
    assert (wd / "results" / "report" / "index.html").is_file()


def test_a_failed_training_job_is_retried_with_resume(tmp_path, stand_ins):
    wd = make_workdir(tmp_path, {"seeds": [3], "train": {"retries": 1}})
    snakemake(wd, "--cores", "1", "results/runs/seed3/train.done", env=stand_ins)
    trains = [args for args in _log(stand_ins["FAKE_CLI_LOG"]) if args[0] == "train"]
    assert len(trains) == 2
    assert "--resume" not in trains[0] and "--resume" in trains[1]
    assert (
        trains[0][: trains[0].index("--no_progress")]
        == trains[1][: trains[1].index("--no_progress")]
    )
    assert (wd / "results" / "runs" / "seed3" / "train.done").is_file()

    # No retries left: the job fails and says where its log is.
    wd2 = make_workdir(tmp_path / "again", {"seeds": [4], "train": {"retries": 0}})
    proc = snakemake(
        wd2, "--cores", "1", "results/runs/seed4/train.done", env=stand_ins, check=False
    )
    assert proc.returncode != 0
    assert "results/logs/train/seed4.log" in proc.stdout + proc.stderr


# -- lock files ------------------------------------------------------------------------------


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_lock_files_and_conda_env_agree():
    cpu = _pins((ROOT / "envs" / "requirements-cpu.lock").read_text().splitlines())
    cuda = _pins((ROOT / "envs" / "requirements-cuda.lock").read_text().splitlines())
    env = yaml.safe_load((ROOT / "envs" / "skeleton-steering.yaml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_list) == cpu
    assert "python=3.11" in env["dependencies"]
    assert {k: cuda[k] for k in cpu} == cpu  # every CPU pin, same version
    extra = set(cuda) - set(cpu)
    assert {"jax-cuda12-plugin", "jax-cuda12-pjrt", "nvidia-cudnn-cu12"} <= extra
    assert all(k.startswith(("jax-cuda12", "nvidia-")) for k in extra), extra
    assert cpu["jax"] == cpu["jaxlib"] == cuda["jax-cuda12-plugin"] == "0.8.1"
    for name in ("snakemake", "snakemake-executor-plugin-slurm", "snakefmt", "matplotlib"):
        assert name in cpu
    assert cpu["snakemake"].startswith("9.")


def test_container_definition_is_pinned_and_installs_the_cuda_lock():
    text = (ROOT / "containers" / "skeleton-steering.def").read_text()
    assert re.search(r"^From: \S+@sha256:[0-9a-f]{64}$", text, re.MULTILINE)
    for section in ("%labels", "%help", "%files", "%post", "%test", "%runscript"):
        assert re.search(rf"^{section}$", text, re.MULTILINE), section
    assert "-r /opt/skeleton-steering/envs/requirements-cuda.lock" in text
    assert "envs/requirements-cuda.lock /opt/skeleton-steering/envs/requirements-cuda.lock" in text


# -- a real run ------------------------------------------------------------------------------

TINY = {
    "seeds": [42, 43],
    "train": {
        "iterations": 1,
        "overrides": {
            "ppo.num_envs": 8,
            "ppo.rollout_length": 8,
            "ppo.num_minibatches": 2,
            "ppo.epochs": 1,
            "amp.num_minibatches": 2,
            "amp.epochs": 1,
            "amp.replay_capacity": 256,
            "network.policy_hidden": [32, 32],
            "network.value_hidden": [32, 32],
            "network.disc_hidden": [32, 32],
            "run.checkpoint_every": 1,
        },
    },
    "eval": {"n_steps": 60, "episodes": 2},  # the last checkpoint, as in config/config.yaml
    "render": {"n_steps": 30},
}


@pytest.mark.slow
def test_a_tiny_config_runs_end_to_end_and_reports(tmp_path):
    wd = make_workdir(tmp_path, TINY)
    snakemake(wd, "--cores", "2", timeout=3600)
    results = wd / "results"
    for seed in (42, 43):
        video = results / "videos" / f"seed{seed}.mp4"
        assert video.read_bytes()[4:8] == b"ftyp"  # an MP4 container
        assert (results / "videos" / f"seed{seed}.gif").read_bytes()[:3] == b"GIF"
        summary = json.loads((results / "eval" / f"seed{seed}.json").read_text())
        assert "success_rate" in summary["metrics"]
        assert summary["checkpoint"] == f"results/runs/seed{seed}/policy_latest.msgpack"
        assert (results / "benchmarks" / "train" / f"seed{seed}.tsv").is_file()
    index = (results / "report" / "index.html").read_text()
    assert index.count("<video") == 2 and index.count('class="preview"') == 2
    assert (results / "report" / "learning_curves.svg").read_text().lstrip().startswith("<?xml")
    table = (results / "report" / "eval_metrics.csv").read_text().splitlines()
    assert table[0] == "metric,mean,std,seed42,seed43"
    assert any(row.startswith("success_rate,") for row in table)
    # The persistent compilation cache was shared: the jobs after the first found entries.
    assert any((results / ".jax_cache").iterdir())

    # Nothing is stale afterwards (params, code and inputs unchanged).
    assert "Nothing to be done" in snakemake(wd, "-n").stdout

    # Snakemake's own report: the summary folder and each seed's video inside the zip.
    snakemake(wd, "--report", "report.zip")
    names = zipfile.ZipFile(wd / "report.zip").namelist()
    assert any(n.endswith("seed42.mp4") for n in names), names
    assert any(n.endswith("index.html") and "report" in n for n in names), names


def test_readme_documents_the_workflow_commands():
    text = (ROOT / "README.md").read_text()
    for snippet in (
        "snakemake --sdm apptainer -j4 --configfile config/gpu.yaml",
        "--profile profiles/slurm",
        "results/videos/seed42.mp4",
        "tensorboard --logdir results/runs",
    ):
        assert snippet in text, snippet


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ppo.max_learning_rate": 1e400}, "'ppo.max_learning_rate' must be a finite number"),
        ({"env.episode_length": 10**12}, "'env.episode_length' must be a 32-bit integer"),
        ({"ppo.num_envs": "many"}, "override 'ppo.num_envs=many'"),
        ({"ppo.rollout_lenght": 8}, "did you mean 'rollout_length'"),
    ],
)
def test_a_dry_run_refuses_a_bad_train_override_value(tmp_path, overrides, message):
    """The training config's own checker runs on the overrides when the DAG is built."""
    wd = make_workdir(tmp_path, {"train": {"overrides": overrides}})
    proc = snakemake(wd, "-n", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "invalid config at 'train.overrides'" in text, text
    assert message in text and "rule train" not in text


def test_train_jobs_ask_for_the_configured_gpus_on_slurm(tmp_path):
    # resources.train.gpus reaches the train jobs (and only them) as `gpu`, which the pinned
    # plugin submits as --gpus; the per-seed DAG stays as it is.
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    wd = make_workdir(tmp_path, {"seeds": [1, 2], "use_gpu": True,
                                 "resources": {"train": {"gpus": 4}}})
    out = snakemake(
        # profiles/default's gpu limit (1, this machine) caps a job's request: raised here.
        wd, "-n", "--executor", "slurm", "--profile", str(ROOT / "profiles" / "slurm"),
        "--resources", "gpu=4", env={"SLURM_ACCOUNT": "proj42", "SLURM_GPU_PARTITION": "gpuq"},
    ).stdout
    assert job_counts(out)["train"] == 2
    for job in planned_jobs(out):
        if job["rule"] == "all":
            continue
        expected = {"train": 4, "eval": 1, "render": 1, "reference_eval": 1,
                    "reference_render": 1}.get(job["rule"], 0)
        assert job["resources"].get("gpu", 0) == expected, job
        if job["rule"] == "train":
            fake = SimpleNamespace(resources=_Resources(job["resources"]),
                                   threads=job.get("threads", 1))
            call = get_submit_command(
                fake, {"run_uuid": "u", "slurm_logfile": "log", "comment_str": "c",
                       "account": "", "partition": "", "workdir": str(wd)},
            ) + set_gres_string(fake)
            assert "--gpus=4" in call, call
    # Without use_gpu no job asks for a GPU, whatever resources.train.gpus says.
    wd = make_workdir(tmp_path / "cpu", {"resources": {"train": {"gpus": 4}}})
    out = snakemake(wd, "-n").stdout
    assert all(j["resources"].get("gpu", 0) == 0 for j in planned_jobs(out))
