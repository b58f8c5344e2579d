"""The policy export: a trained policy that loads on its own, small enough to keep in git.

Training checkpoints hold everything `--resume` needs (optimizer state, replay buffer, the
environments' physics state); at the CPU defaults that is ~46 MB, at the GPU preset several
hundred. What evaluation, rendering and users need is much less, and this file holds exactly
that: the policy network and its observation normalizer, the discriminator and its feature
normalizer (so an evaluation can score style), a subsample of the expert frames that episodes
start from (so no dataset is needed to run the policy), the resolved training config (network
and environment settings), and provenance (commit, command, seed, env steps, eval metrics).

It also carries the demonstrations' gait statistics (`data.gait_stats`, ~40 kB), so that an
evaluation can compare the policy's gait with its demos without the dataset: arrays under
`['gait'][<name>]`, their description under `meta['gait_stats']`. Exports written before they
existed load without them (`PolicyExport.gait` is None); `with_gait` adds them.

Same container as a checkpoint (`checkpoint.save`: flax msgpack, data only, checksummed,
written atomically) with its own format tag; arrays under `['policy']`, `['obs_norm']`,
`['disc']`, `['disc_norm']`, `['reference']['qpos']` and `['reference']['qvel']`.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jp
import numpy as np

from skeleton_steering.data.gait_stats import GaitStats, GaitStatsError
from skeleton_steering.learn import amp_ppo, checkpoint, networks, normalizer, train_config
from skeleton_steering.learn.train_config import TrainConfig

FORMAT = "skeleton_steering.policy_export"
BEST_NAME = "policy_best.msgpack"  # the best periodic evaluation
LATEST_NAME = "policy_latest.msgpack"  # the state of the newest periodic checkpoint
# Start frames kept: enough to cover a dataset's poses evenly (a 10 s gait cycle set has a few
# hundred distinct frames), little next to the networks (1,024 x 67 floats = 0.27 MB).
MAX_REFERENCE_FRAMES = 1024
GAIT_META = "gait_stats"


@dataclasses.dataclass(frozen=True)
class PolicyExport:
    path: Path
    config: TrainConfig
    meta: dict[str, Any]
    policy: Any  # flax params of networks.GaussianPolicy
    obs_norm: normalizer.NormalizerState
    disc: Any  # flax params of networks.Discriminator
    disc_norm: normalizer.NormalizerState
    reference_qpos: np.ndarray  # (N, nq) episode start frames
    reference_qvel: np.ndarray  # (N, nv)
    gait: GaitStats | None = None  # the demos' gait statistics (None in older exports)


def reference_frames(
    qpos: np.ndarray, qvel: np.ndarray, limit: int = MAX_REFERENCE_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` frames, evenly spaced over the dataset (all of them when fewer)."""
    n = qpos.shape[0]
    idx = np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).round().astype(np.int64)
    return (np.asarray(qpos[idx], np.float32), np.asarray(qvel[idx], np.float32))


def _git_commit() -> str | None:
    """Commit of the source tree this package runs from, with '+dirty' for local changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # an installed package, or no git
    return head + ("+dirty" if dirty.strip() else "")


def provenance() -> dict[str, Any]:
    """Where a policy came from: commit, command line, host, library versions, time."""
    import mujoco

    return {
        "commit": _git_commit(),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "host": platform.node(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
        "created_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _tree(policy: Any, obs_norm: Any, disc: Any, disc_norm: Any, qpos: np.ndarray,
          qvel: np.ndarray, gait: GaitStats | None = None) -> dict[str, Any]:
    """The exported pytree; its key paths are the array names `from_container` reads."""
    tree = {"policy": policy, "obs_norm": obs_norm, "disc": disc, "disc_norm": disc_norm,
            "reference": {"qpos": qpos, "qvel": qvel}}
    if gait is not None:
        tree["gait"] = gait.to_arrays()
    return tree


def export_tree(state: Any, reference: tuple[np.ndarray, np.ndarray],
                gait: GaitStats | None = None) -> dict[str, Any]:
    """The exported arrays of an `amp_ppo.TrainingState`."""
    return _tree(state.params["policy"], state.obs_norm, state.disc_params, state.disc_norm,
                 *reference, gait)


def _with_gait_meta(meta: dict[str, Any], gait: GaitStats | None) -> dict[str, Any]:
    meta = {k: v for k, v in meta.items() if k != GAIT_META}
    return meta if gait is None else {**meta, GAIT_META: gait.describe()}


def save(
    path: str | Path,
    state: Any,
    config: dict[str, Any],
    meta: dict[str, Any],
    reference: tuple[np.ndarray, np.ndarray],
    gait: GaitStats | None = None,
) -> Path:
    """Write the export of a training state; `meta` gets the provenance added unless it has it.

    `gait`: the demos' gait statistics (`learn.demo_gait.stats_of`), so the export evaluates
    its gait alone.
    """
    return checkpoint.save(path, export_tree(state, reference, gait), config,
                           _with_gait_meta(_with_provenance(meta), gait), fmt=FORMAT)


def _with_provenance(meta: dict[str, Any]) -> dict[str, Any]:
    # Only looked up when missing: it runs git.
    return {**meta, "provenance": meta.get("provenance") or provenance()}


def _modules(config: TrainConfig, action_size: int) -> tuple[Any, Any]:
    return networks.make_policy(config.network, action_size), networks.make_discriminator(
        config.network
    )


def _size(ckpt: checkpoint.Checkpoint, field: str) -> int:
    value = ckpt.meta.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise checkpoint.CheckpointError(
            f"{ckpt.path}: field 'meta.{field}' is missing or not a positive integer"
        )
    return value


def _restore_parts(ckpt: checkpoint.Checkpoint, prefixes: dict[str, str]) -> dict[str, Any]:
    config = train_config.from_mapping(ckpt.config, source=f"{ckpt.path} (stored config)")
    obs_size, act_size = _size(ckpt, "observation_size"), _size(ckpt, "action_size")
    disc_size = _size(ckpt, "disc_obs_size")
    policy_mod, disc_mod = _modules(config, act_size)
    key = jax.random.PRNGKey(0)
    return {
        "config": config,
        "policy": checkpoint.restore(policy_mod.init(key, jp.zeros((1, obs_size))), ckpt,
                                     prefix=prefixes["policy"]),
        "obs_norm": checkpoint.restore(normalizer.init(obs_size), ckpt, prefixes["obs_norm"]),
        "disc": checkpoint.restore(disc_mod.init(key, jp.zeros((1, 2 * disc_size))), ckpt,
                                   prefix=prefixes["disc"]),
        "disc_norm": checkpoint.restore(normalizer.init(disc_size), ckpt, prefixes["disc_norm"]),
    }


_EXPORT_PREFIXES = {"policy": "['policy']", "obs_norm": "['obs_norm']", "disc": "['disc']",
                    "disc_norm": "['disc_norm']"}
_CHECKPOINT_PREFIXES = {"policy": ".params['policy']", "obs_norm": ".obs_norm",
                        "disc": ".disc_params", "disc_norm": ".disc_norm"}


def reference_of(ckpt: checkpoint.Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """The start frames stored in an export container, checked."""
    ref = {}
    for name in ("qpos", "qvel"):
        key = f"['reference']['{name}']"
        arr = ckpt.arrays.get(key)
        if arr is None or arr.ndim != 2 or arr.shape[0] == 0 or not np.isfinite(arr).all():
            raise checkpoint.CheckpointError(
                f"{ckpt.path}: array '{key}' is missing, empty or not finite"
            )
        ref[name] = arr.astype(np.float32)
    if ref["qpos"].shape[0] != ref["qvel"].shape[0]:
        raise checkpoint.CheckpointError(f"{ckpt.path}: reference qpos and qvel differ in length")
    return ref["qpos"], ref["qvel"]


def gait_of(ckpt: checkpoint.Checkpoint) -> GaitStats | None:
    """The demos' gait statistics stored in an export container; None when it has none."""
    if GAIT_META not in ckpt.meta:
        return None
    prefix = "['gait']"
    arrays = {key[len(prefix) + 2 : -2]: arr for key, arr in ckpt.arrays.items()
              if key.startswith(prefix)}
    try:
        return GaitStats.from_arrays(ckpt.meta[GAIT_META], arrays, str(ckpt.path))
    except GaitStatsError as err:
        raise checkpoint.CheckpointError(str(err)) from err


def from_container(ckpt: checkpoint.Checkpoint) -> PolicyExport:
    """A loaded export container as a `PolicyExport` (every array checked by name and shape)."""
    qpos, qvel = reference_of(ckpt)
    parts = _restore_parts(ckpt, _EXPORT_PREFIXES)
    return PolicyExport(ckpt.path, meta=ckpt.meta, reference_qpos=qpos, reference_qvel=qvel,
                        gait=gait_of(ckpt), **parts)


def load(path: str | Path) -> PolicyExport:
    """Read a policy export; `checkpoint.CheckpointError` names the file and the problem."""
    return from_container(checkpoint.load(path, FORMAT, what="policy export"))


def from_training_checkpoint(
    ckpt: checkpoint.Checkpoint, reference: tuple[np.ndarray, np.ndarray]
) -> PolicyExport:
    """The export of a loaded training checkpoint, with the given start frames."""
    parts = _restore_parts(ckpt, _CHECKPOINT_PREFIXES)
    return PolicyExport(ckpt.path, meta=ckpt.meta, reference_qpos=reference[0],
                        reference_qvel=reference[1], **parts)


def policy_of(export: PolicyExport) -> amp_ppo.Policy:
    """The export's policy as an `amp_ppo.Policy` (act on raw observations)."""
    act_size = int(export.meta["action_size"])
    return amp_ppo.Policy(export.config, networks.make_policy(export.config.network, act_size),
                          export.policy, export.obs_norm)


def write(export: PolicyExport, path: str | Path) -> Path:
    """Write a `PolicyExport` (e.g. one made from a training checkpoint) to `path`."""
    from skeleton_steering.config import to_dict

    tree = _tree(export.policy, export.obs_norm, export.disc, export.disc_norm,
                 export.reference_qpos, export.reference_qvel, export.gait)
    meta = _with_gait_meta(_with_provenance(export.meta), export.gait)
    return checkpoint.save(path, tree, to_dict(export.config), meta, fmt=FORMAT)


def with_gait(export: PolicyExport, gait: GaitStats, source: str) -> PolicyExport:
    """`export` carrying these demo gait statistics; `source` (the demos) goes into its meta."""
    meta = {**export.meta, "gait_stats_source": source}
    return dataclasses.replace(export, gait=gait, meta=meta)
