"""`bench sizes`: bytes of a training checkpoint and of a policy export, at a config's sizes.

The training state is built for real at each preset's sizes (a GPU preset's 1M-pair replay
buffer is ~0.7 GB of host memory here) and broken down by what it holds; the sum of its arrays
is what a checkpoint file holds, up to a few kB of msgpack framing. At the CPU defaults both
files are also written, so the sum is checked against the bytes on disk.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from skeleton_steering.bench.machine import describe
from skeleton_steering.config import to_dict
from skeleton_steering.env.registry import make_env
from skeleton_steering.learn import amp_ppo, checkpoint, expert_data, policy_export, train_config
from skeleton_steering.skeleton import model

GPU_PRESET = Path("config/gpu.yaml")


def gpu_overrides(workflow_preset: Path = GPU_PRESET) -> list[str]:
    """The training overrides of the workflow's GPU preset, as `section.key=value`."""
    data = yaml.safe_load(workflow_preset.read_text())
    items = data.get("train", {}).get("overrides", {})
    return [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...')}"
            .strip() for k, v in items.items()]


def _nbytes(tree: Any) -> int:
    return int(sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def initial_state(config: train_config.TrainConfig) -> Any:
    expert = expert_data.standing_demo()
    env = make_env(config.env_id, config.env, expert.qpos, expert.qvel)
    return amp_ppo.init_state(amp_ppo.make_learner(env, config), 0, expert.disc_pairs)


def export_parts(policy: Any, obs_norm: Any, disc_norm: Any, disc_params: Any) -> dict[str, int]:
    """Bytes per part of a policy export (reference frames at most); arrays or shapes."""
    mj = model.load_mj_model()
    return {
        "export: policy": _nbytes(policy),
        "export: normalizers": _nbytes(obs_norm) + _nbytes(disc_norm),
        "export: discriminator": _nbytes(disc_params),
        # float32 qpos + qvel
        "export: reference frames": policy_export.MAX_REFERENCE_FRAMES * (mj.nq + mj.nv) * 4,
    }


def breakdown(state: Any) -> dict[str, int]:
    """Bytes per part of the checkpoint state and of the export."""
    parts = {f"checkpoint: {f}": _nbytes(getattr(state, f)) for f in state.__dataclass_fields__}
    parts.update(export_parts(state.params["policy"], state.obs_norm, state.disc_norm,
                              state.disc_params))
    return parts


def _written(state: Any, config: train_config.TrainConfig) -> dict[str, int]:
    """File sizes of a real checkpoint and export of `state`."""
    expert = expert_data.standing_demo()
    frames = policy_export.MAX_REFERENCE_FRAMES
    reference = (np.repeat(expert.qpos, frames, axis=0), np.repeat(expert.qvel, frames, axis=0))
    with tempfile.TemporaryDirectory() as tmp:
        ck = checkpoint.save(Path(tmp) / "c.msgpack", state, to_dict(config), {})
        ex = policy_export.save(Path(tmp) / "p.msgpack", state, to_dict(config), {}, reference)
        return {"checkpoint": ck.stat().st_size, "export": ex.stat().st_size}


def run(config_path: str | None, console: Console, write_cpu: bool = True) -> dict[str, Any]:
    presets = {
        "cpu": train_config.load(config_path),
        "gpu": train_config.load(config_path, gpu_overrides()),
    }
    table = Table(title="checkpoint and policy export sizes (MB = 1e6 bytes)")
    table.add_column("part")
    for name in presets:
        table.add_column(name, justify="right")
    results: dict[str, Any] = {}
    per = {}
    written = None
    for name, cfg in presets.items():
        with console.status(f"building the {name} preset's training state ..."):
            state = initial_state(cfg)
            per[name] = breakdown(state)
            if name == "cpu" and write_cpu:
                written = _written(state, cfg)
        del state
    for part in per["cpu"]:
        table.add_row(part, *(f"{per[n][part] / 1e6:,.2f}" for n in presets))
    for name in presets:
        ck = sum(v for k, v in per[name].items() if k.startswith("checkpoint"))
        ex = sum(v for k, v in per[name].items() if k.startswith("export"))
        keep = presets[name].run.keep_checkpoints
        results[name] = {"checkpoint_mb": ck / 1e6, "export_mb": ex / 1e6,
                         "kept_checkpoints": keep, "per_seed_mb": (keep * ck + 2 * ex) / 1e6}
    table.add_row("[bold]checkpoint total", *(f"{results[n]['checkpoint_mb']:,.2f}"
                                              for n in presets))
    table.add_row("[bold]export total", *(f"{results[n]['export_mb']:,.2f}" for n in presets))
    table.add_row("per seed (kept checkpoints + 2 exports)",
                  *(f"{results[n]['per_seed_mb']:,.1f}" for n in presets))
    console.print(table)
    if written is not None:
        results["cpu"]["written_bytes"] = written
        console.print(f"cpu files written: checkpoint {written['checkpoint'] / 1e6:.2f} MB, "
                      f"export {written['export'] / 1e6:.2f} MB")
    results["machine"] = describe()
    print(json.dumps(results))
    return results
