# Config validation, software deployment and the helpers every stage uses.

import json
import shlex
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def _validate_config() -> None:
    """Check the config against the schema and fill in its defaults. A bad value is reported
    in one line naming the key, instead of the validator's dump of the whole schema."""
    try:
        validate(config, schema="../schemas/config.schema.yaml")
    except WorkflowError as err:
        cause = err.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            raise
        path = ".".join(str(p) for p in cause.absolute_path)
        where = f" at '{path}'" if path else ""
        raise WorkflowError(
            f"invalid config{where}: {cause.message} "
            "(every key is described in workflow/schemas/config.schema.yaml)"
        ) from None


_validate_config()


def _config_override_items() -> list[str]:
    """`train.overrides` as the train CLI's `key=value` arguments (values as YAML flow)."""
    items = []
    for key, value in config["train"]["overrides"].items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        items.append(f"{key}={text.removesuffix('...').strip()}")
    return items


def _check_train_config() -> None:
    """The training config with the workflow's overrides, through the training config's own
    checker, for every configured seed: a bad value fails the DAG, not a job after the data
    chain. Skipped (with a note) where the package is not importable on the host, e.g. when
    every job runs in a container."""
    try:
        from skeleton_steering.config import ConfigError
        from skeleton_steering.learn import train_config
    except ImportError as err:
        print(
            f"note: train.overrides are checked at train time ({err})", file=sys.stderr
        )
        return
    path = Path(config["train"]["config"])
    items = [
        f"run.iterations={config['train']['iterations']}",
        *_config_override_items(),
    ]
    for seed in config["seeds"]:
        try:
            train_config.load(
                path if path.is_file() else None, [*items, f"seed={seed}"]
            )
        except ConfigError as err:
            raise WorkflowError(
                f"invalid config at 'train.overrides' (or 'seeds'): {err}"
            ) from None


_check_train_config()


# A registry URI or a local .sif; with `--sdm apptainer` each job runs in it. Empty: none.
container: config["container"]


wildcard_constraints:
    seed=r"\d+",


# The `gpu` limit of profiles/default (one GPU here) counts jobs running on this machine; on a
# cluster each submitted job gets its own GPU, so the limit must not throttle submissions.
resource_scopes:
    gpu="local",


CONDA_ENV = "../../envs/skeleton-steering.yaml"
SAMPLE_KIT = "results/sample_kit"


def _shell_exports() -> str:
    """Environment every job starts with (inside a container too, since it is in the command).

    A shared persistent compilation cache lets the second seed, eval and render reuse the
    XLA executables the first job compiled; with use_gpu false JAX stays on the CPU even
    where a GPU build is installed.
    """
    exports = []
    if config["jax_cache_dir"]:
        cache = Path(config["jax_cache_dir"]).expanduser()
        exports.append(f"export JAX_COMPILATION_CACHE_DIR={shlex.quote(str(cache))}")
    if not config["use_gpu"]:
        exports.append("export JAX_PLATFORMS=cpu")
    return "".join(f"{e}; " for e in exports)


shell.prefix(f"set -euo pipefail; {_shell_exports()}")


# -- targets ------------------------------------------------------------------------------


def all_targets() -> list[str]:
    """What a plain `snakemake` builds (the `all` target): every configured seed evaluated
    and rendered, and the report that puts them side by side."""
    seeds = config["seeds"]
    return [
        *expand("results/eval/seed{seed}.json", seed=seeds),
        *expand("results/videos/seed{seed}.mp4", seed=seeds),
        *reference_targets(),
        "results/report",
    ]


# -- the reference policy -----------------------------------------------------------------

REFERENCE = "results/shipped"


def reference_targets() -> list[str]:
    """The reference policy's evaluations (scripted and random schedule) and video, when one
    is configured: the report shows it first, beside the seeds."""
    if not config["reference_policy"]:
        return []
    return [
        f"{REFERENCE}/eval.json",
        f"{REFERENCE}/eval_random.json",
        f"{REFERENCE}/walker.mp4",
        f"{REFERENCE}/walker.gif",
    ]


def reference_policy() -> str:
    """The configured reference export; a relative path not found here is taken from the
    project (beside the Snakefile), so a workflow run from another folder still finds the
    walker in policies/."""
    path = Path(config["reference_policy"])
    if not path.is_absolute() and not path.exists():
        path = Path(workflow.basedir) / path
    return str(path)


def report_reference_inputs(wildcards) -> dict[str, str]:
    if not config["reference_policy"]:
        return {}
    return {
        "ref_eval": f"{REFERENCE}/eval.json",
        "ref_video": f"{REFERENCE}/walker.mp4",
        "ref_preview": f"{REFERENCE}/walker.gif",
    }


def report_reference_flags(wildcards, input) -> str:
    if not config["reference_policy"]:
        return ""
    return (
        f"--reference_eval {input.ref_eval} --reference_video {input.ref_video}"
        f" --reference_preview {input.ref_preview}"
    )


# -- resources ----------------------------------------------------------------------------


def threads_of(rule_name: str) -> int:
    return config["resources"][rule_name]["threads"]


def mem_mb_of(rule_name: str) -> int:
    return config["resources"][rule_name]["mem_mb"]


def runtime_of(rule_name: str) -> int:
    return config["resources"][rule_name]["runtime"]


def gpus(rule_name: str = "") -> int:
    """GPUs a train/eval/render job asks for: the local profile's `gpu` limit queues them,
    and the SLURM executor turns the resource into `--gpus`. Training asks for
    `resources.train.gpus` (one process trains over all of them, data-parallel; the config
    names the global batch); eval and render for one."""
    if not config["use_gpu"]:
        return 0
    if rule_name == "train":
        return config["resources"]["train"]["gpus"]
    return 1


# -- data ---------------------------------------------------------------------------------


def kit_root() -> str:
    """The configured AMASS KIT folder, or the generated sample clips when none is set."""
    return config["kit_root"] or SAMPLE_KIT


def extract_flags() -> str:
    ext = config["extract"]
    flags = [
        "--include",
        *ext["include"],
        "--min-duration",
        str(ext["min_duration"]),
        "--max-duration",
        str(ext["max_duration"]),
        "--min-rate",
        str(ext["min_rate"]),
        "--max-rate",
        str(ext["max_rate"]),
    ]
    if ext["exclude"]:
        flags += ["--exclude", *ext["exclude"]]
    if ext["link"]:
        flags.append("--link")
    return shlex.join(flags)


def retarget_settings() -> str:
    """The retarget section as one line of YAML, written beside the trajectory for
    `retarget --config` (so the settings used stay on disk with the result)."""
    return json.dumps(config["retarget"], sort_keys=True)


# -- training -----------------------------------------------------------------------------


def run_dir(wildcards) -> str:
    return f"results/runs/seed{wildcards.seed}"


def train_overrides(wildcards, input) -> str:
    """`section.key=value` arguments: the workflow's cache and budget, then the config's
    own overrides (values as YAML flow, which is how the train CLI parses them)."""
    items = [
        f"data.cache_dir={Path(input.traj).parent}",
        f"run.iterations={config['train']['iterations']}",
    ]
    items += _config_override_items()
    return shlex.join(items)


def train_flags() -> str:
    """Flags of every training attempt. A retry adds `--resume` in the rule itself (only
    resources see the attempt number), so the job continues from the newest checkpoint its
    failed attempt left instead of refusing to overwrite it; `train.resume` asks for that on
    the first attempt too."""
    flags = ["--no_progress"]
    if config["train"]["resume"]:
        flags.append("--resume")
    if config["train"]["deterministic"]:
        flags.append("--deterministic")
    if not config["use_gpu"]:
        flags.append("--jax_cpu")
    return " ".join(flags)


def checkpoint_path(wildcards) -> str:
    """The policy export eval and render load: the best periodic evaluation, or the last one."""
    name = (
        "policy_best.msgpack"
        if config["eval"]["checkpoint"] == "best"
        else "policy_latest.msgpack"
    )
    return f"{run_dir(wildcards)}/{name}"


def schedule_flag(section: str) -> str:
    name = config[section]["schedule"]
    return f"--schedule {shlex.quote(name)}" if name else ""


def eval_flags() -> str:
    ev = config["eval"]
    flags = f"--n_steps {ev['n_steps']} --episodes {ev['episodes']} --seed {ev['seed']}"
    flags += " --no_progress"
    if ev["deterministic"]:
        flags += " --deterministic"
    return f"{flags} {schedule_flag('eval')}".strip()


def render_flags() -> str:
    rd = config["render"]
    return f"--n_steps {rd['n_steps']} --seed {rd['seed']} {schedule_flag('render')}".strip()


def render_env() -> str:
    gl = config["render"]["mujoco_gl"]
    return f"MUJOCO_GL={gl} " if gl else ""
