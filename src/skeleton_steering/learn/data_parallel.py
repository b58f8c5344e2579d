"""Data parallelism: one training run whose environments are split across devices and hosts.

The shape of Brax's PPO with `pmap`/`pmean`, written with `jax.sharding` and `jax.shard_map`:
a one-axis `Mesh` over every device (of every process, after `jax.distributed.initialize()`),
the environments, their episode counters and the replay buffer's rows split along it, and
everything else (networks, optimizer states, normalizers, rng, counters) replicated. Inside
the iteration each device steps its own environments and computes its share of every
minibatch's gradient; `pmean` averages the gradients and the metrics, normalizer statistics
merge the moments of every device's samples.

The global batch is what the config names (`ppo.num_envs` environments over all devices),
and the run's numbers do not depend on how many devices share it: random draws are made for
the whole batch on every device and each device takes its rows, and each PPO and
discriminator minibatch is the same global sample as on one device, split into equal shares.
So one iteration on D devices equals one on one device to float rounding, and a checkpoint
(which holds the global arrays) resumes on any device count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from skeleton_steering.config import ConfigError

AXIS = "envs"  # the mesh axis the environments are split along


@dataclasses.dataclass(frozen=True)
class DeviceAxis:
    """The mesh axis as the per-device code inside `shard_map` sees it: collectives by name."""

    name: str
    size: int

    def index(self) -> jax.Array:
        return jax.lax.axis_index(self.name)

    def mean(self, tree: Any) -> Any:
        return jax.lax.pmean(tree, self.name)

    def sum(self, tree: Any) -> Any:
        return jax.lax.psum(tree, self.name)

    def gather(self, x: jax.Array, axis: int = 0) -> jax.Array:
        """Every device's block of `x` along `axis`, concatenated in device order."""
        return jax.lax.all_gather(x, self.name, axis=axis, tiled=True)

    def block(self, x: jax.Array, axis: int = 0) -> jax.Array:
        """This device's block of a whole-batch array (`size` equal blocks along `axis`)."""
        rows = x.shape[axis] // self.size
        return jax.lax.dynamic_slice_in_dim(x, self.index() * rows, rows, axis)

    def sum_scatter(self, x: jax.Array) -> jax.Array:
        """The sum over devices of `x`, of which each device keeps its block of rows."""
        return jax.lax.psum_scatter(x, self.name, scatter_dimension=0, tiled=True)


def device_count() -> int:
    return jax.device_count()


def make_mesh(count: int | None = None) -> Mesh | None:
    """A mesh over every device of every process (or the first `count`), or None where that
    is one device."""
    devices = jax.devices()
    if count is not None and jax.process_count() > 1 and count != len(devices):
        raise ConfigError(f"devices = {count}: a distributed run trains on all "
                          f"{len(devices)} devices of its {jax.process_count()} processes")
    if count is not None:
        if not 1 <= count <= len(devices):
            raise ConfigError(f"devices = {count}: this process sees {len(devices)} device(s)")
        devices = devices[:count]
    if len(devices) == 1:
        return None
    return Mesh(np.asarray(devices), (AXIS,))


def axis_of(mesh: Mesh) -> DeviceAxis:
    return DeviceAxis(AXIS, mesh.shape[AXIS])


def check_divisible(sizes: dict[str, int], devices: int) -> None:
    """ConfigError naming the first size (a config key, or what it is made of) that does not
    split evenly over `devices` devices."""
    for key, value in sizes.items():
        if value % devices:
            raise ConfigError(
                f"{key} = {value} does not divide by the {devices} devices this run trains on: "
                f"choose a multiple of {devices} (the config names the global batch, split "
                "evenly across devices), or run on fewer devices (e.g. CUDA_VISIBLE_DEVICES)"
            )


def shard_map(
    fn: Callable[..., Any], mesh: Mesh, in_specs: Any, out_specs: Any
) -> Callable[..., Any]:
    """`jax.shard_map` with explicit collectives: gradients are local until `pmean`ed (as
    under `pmap`), which is what the per-device code is written for."""
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def shardings(specs: Any, mesh: Mesh) -> Any:
    """`NamedSharding`s on `mesh` for a pytree of `PartitionSpec`s."""
    return jax.tree.map(
        lambda spec: NamedSharding(mesh, spec), specs,
        is_leaf=lambda x: isinstance(x, PartitionSpec),
    )


def place(tree: Any, specs: Any, mesh: Mesh) -> Any:
    """Host (or single-device) values of the whole batch laid out on the mesh by `specs`.

    Every process holds the same global values and hands over the blocks of its own devices,
    so this works across hosts as well as on one.
    """

    def put(x: Any, spec: PartitionSpec) -> jax.Array:
        host = np.asarray(x)
        sharding = NamedSharding(mesh, spec)
        # An empty array (MJX keeps some for unused model features) has no blocks to hand over.
        if jax.process_count() == 1 or host.size == 0:
            return jax.device_put(host, sharding)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree, specs)


def _identity(tree: Any) -> Any:
    return tree  # at module level, so jit's cache reuses the gather's compiled program


def to_host(tree: Any) -> Any:
    """Numpy copies of the global values, also of arrays split across processes.

    With several processes this is a collective: every process must call it, in the same
    order (each one contributes its blocks; one compiled gather for the whole tree).
    """
    if jax.process_count() == 1:
        return jax.device_get(tree)
    leaves, treedef = jax.tree.flatten(tree)
    split = [
        i for i, x in enumerate(leaves)
        if isinstance(x, jax.Array) and not x.is_fully_replicated and x.size
    ]
    gathered = jax.jit(
        _identity,
        out_shardings=[NamedSharding(leaves[i].sharding.mesh, PartitionSpec()) for i in split],
    )([leaves[i] for i in split])
    out = list(leaves)
    for i, value in zip(split, gathered, strict=True):
        out[i] = np.asarray(value)
    for i, x in enumerate(out):
        if isinstance(x, jax.Array):  # replicated (held whole here) or empty
            out[i] = np.asarray(x) if x.size else np.zeros(x.shape, x.dtype)
    return jax.tree.unflatten(treedef, out)


def on_one_device(tree: Any) -> Any:
    """The values on this process's first device (work every device would repeat, e.g. the
    periodic evaluation, runs once there)."""
    if jax.device_count() == 1:
        return tree
    return jax.device_put(to_host(tree), jax.local_devices()[0])


# -- several processes ---------------------------------------------------------------------------
#
# `jax.distributed.initialize()` joins this process to the others of one training run; then
# `jax.devices()` lists every process's devices and the mesh spans them all. Every process runs
# the same program on the same global values (the same config and expert data, checked by
# `check_same_everywhere`), steps the environments of its own devices, and takes part in every
# collective in the same order; only the primary process (index 0) writes the run directory.
# Decisions that could differ between processes (a signal, a time budget) are agreed on with
# `agree_any` before anyone acts on them, and a failure on one process before training starts
# (`together`) ends every process with an error instead of leaving the others waiting.

DISTRIBUTED_MODES = ("auto", "on", "off")
# Explicit coordinator settings (JAX_COORDINATOR_ADDRESS is jax's own name for the first).
ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"
ENV_PORT = "JAX_COORDINATOR_PORT"  # the port under SLURM (default: derived from the job id)


class PeerProcessError(RuntimeError):
    """Another process of the run failed; this one stops too (the cause is in that one's log)."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where the processes of one run meet: the coordinator (process 0's host:port), how many
    processes there are, and which one this is."""

    coordinator: str
    num_processes: int
    process_id: int
    source: str  # the environment it was read from, for messages


def _whole(environ: Mapping[str, str], name: str) -> int:
    value = environ[name]
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: 'gpu[003-004,009],big1' -> 'gpu003'."""
    match = re.match(r"^([^,\[]+)(?:\[([^,\]\-]+))?", nodelist.strip())
    if match is None:
        raise ConfigError(f"SLURM_STEP_NODELIST: cannot read a host name from {nodelist!r}")
    return match.group(1) + (match.group(2) or "")


def cluster_from_env(environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The run's processes as the environment describes them, or None for a single process.

    Explicit settings (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID, all three)
    win; otherwise a SLURM job step started by `srun` with several tasks (SLURM_STEP_NUM_TASKS,
    which the batch script of a job does not have: there only one process runs) gives the
    count, SLURM_PROCID the index and the step's first node the coordinator.
    """
    env = os.environ if environ is None else environ
    explicit = (ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID)
    given = [name for name in explicit if env.get(name)]
    if given:
        missing = [name for name in explicit if not env.get(name)]
        if missing:
            raise ConfigError(
                f"{', '.join(given)} set but not {', '.join(missing)}: a distributed run "
                f"needs all of {', '.join(explicit)}"
            )
        cluster = Cluster(env[ENV_COORDINATOR], _whole(env, ENV_NUM_PROCESSES),
                          _whole(env, ENV_PROCESS_ID), "JAX_* environment variables")
    elif env.get("SLURM_STEP_NUM_TASKS"):
        for name in ("SLURM_PROCID", "SLURM_STEP_NODELIST", "SLURM_JOB_ID"):
            if not env.get(name):
                raise ConfigError(f"SLURM_STEP_NUM_TASKS is set but {name} is not")
        # Like jax's own SLURM detection: a port in the ephemeral range picked by the job id,
        # so two jobs sharing a first node do not meet at the same port.
        port = _whole(env, ENV_PORT) if env.get(ENV_PORT) else (
            _whole(env, "SLURM_JOB_ID") % 4096 + 61440
        )
        cluster = Cluster(f"{first_host(env['SLURM_STEP_NODELIST'])}:{port}",
                          _whole(env, "SLURM_STEP_NUM_TASKS"), _whole(env, "SLURM_PROCID"),
                          "SLURM")
    else:
        return None
    if cluster.num_processes < 1:
        raise ConfigError(f"{cluster.source}: the process count must be >= 1, "
                          f"got {cluster.num_processes}")
    if not 0 <= cluster.process_id < cluster.num_processes:
        raise ConfigError(f"{cluster.source}: process index {cluster.process_id} is outside "
                          f"0..{cluster.num_processes - 1}")
    return cluster


def initialize_distributed(mode: str, environ: Mapping[str, str] | None = None) -> Cluster | None:
    """`jax.distributed.initialize()` as `mode` asks: 'off' never, 'on' always (refused where
    the environment describes no cluster), 'auto' where it describes several processes.

    Must run before jax touches a device. Every process uses every device it sees (one per
    process where SLURM binds a GPU to each task; all of a node's where one task runs per
    node), which is why jax's own SLURM detection (one device per process, picked by the
    task's local index) is switched off. Returns the cluster joined, or None.
    """
    if mode not in DISTRIBUTED_MODES:
        raise ConfigError(f"--distributed must be one of {', '.join(DISTRIBUTED_MODES)}, "
                          f"got {mode!r}")
    if mode == "off":
        return None
    cluster = cluster_from_env(environ)
    if cluster is None:
        if mode == "on":
            raise ConfigError(
                "--distributed on: no cluster found: start the processes with srun (several "
                f"tasks), or set {ENV_COORDINATOR}, {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID}"
            )
        return None
    if cluster.num_processes == 1 and mode == "auto":
        return None
    jax.distributed.initialize(
        coordinator_address=cluster.coordinator,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
        cluster_detection_method="deactivate",
    )
    return cluster


@contextlib.contextmanager
def local_devices_first() -> Iterator[None]:
    """Inside: `jax.devices()` lists this process's devices only.

    MJX places a model and its data on `jax.devices()[0]` when given no device, which in a
    distributed run is process 0's device, one no other process can hold arrays on; building
    the environment inside this puts them on this process's first device instead. Nothing
    else runs meanwhile (it is the single-threaded start of a run). A no-op for one process.
    """
    if jax.process_count() == 1:
        yield
        return
    every = jax.devices
    jax.devices = lambda backend=None: jax.local_devices(backend=backend)  # type: ignore[assignment]
    try:
        yield
    finally:
        jax.devices = every  # type: ignore[assignment]


def is_primary() -> bool:
    """The process that writes the run directory (the only one, without `jax.distributed`)."""
    return jax.process_index() == 0


def agree_any(flags: Sequence[bool]) -> list[bool]:
    """Per flag, whether any process raised it: the same answer on every process (a
    collective with several processes, so each must call it at the same point)."""
    if jax.process_count() == 1:
        return [bool(f) for f in flags]
    from jax.experimental import multihost_utils

    every = multihost_utils.process_allgather(np.asarray(flags, dtype=np.int32))
    return [bool(v) for v in np.asarray(every).reshape(jax.process_count(), -1).max(axis=0)]


@contextlib.contextmanager
def together(what: str) -> Iterator[None]:
    """Run a block on every process; if it fails on one, every other process raises
    `PeerProcessError` at its end instead of waiting for that one in the next collective."""
    if jax.process_count() == 1:
        yield
        return
    from jax.experimental import multihost_utils

    def failed(here: bool) -> list[int]:
        flags = multihost_utils.process_allgather(np.asarray(int(here), dtype=np.int32))
        return [i for i, f in enumerate(np.asarray(flags).ravel()) if f]

    try:
        yield
    except BaseException:
        failed(True)
        raise
    others = failed(False)
    if others:
        raise PeerProcessError(
            f"process {others[0]} of {jax.process_count()} failed while {what} (its log says "
            "why); this one stops too"
        )


def from_primary(tree: Any) -> Any:
    """The primary process's values of a pytree of host-sized arrays, on every process (e.g.
    the training state it read from a checkpoint); each process's `tree` gives the shapes."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    leaves, treedef = jax.tree.flatten(jax.device_get(tree))
    leaves = [np.asarray(x) for x in leaves]
    sent = [i for i, x in enumerate(leaves) if x.size]
    # A sum over processes of which only the primary's is non-zero: bools come back as ints.
    got = multihost_utils.broadcast_one_to_all([leaves[i] for i in sent])
    for i, value in zip(sent, got, strict=True):
        leaves[i] = np.asarray(value).astype(leaves[i].dtype)
    return jax.tree.unflatten(treedef, leaves)


def check_same_everywhere(what: str, fingerprint: bytes) -> None:
    """ConfigError on every process where some process's `fingerprint` (a digest of what must
    be equal, e.g. the config and the expert data) differs from the primary's."""
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    words = np.frombuffer(hashlib.sha256(fingerprint).digest(), dtype=np.uint32)
    every = np.asarray(multihost_utils.process_allgather(words)).reshape(jax.process_count(), -1)
    differ = [i for i in range(1, len(every)) if not np.array_equal(every[i], every[0])]
    if differ:
        raise ConfigError(
            f"process {differ[0]} of {jax.process_count()} has other {what} than process 0: "
            "every process of a distributed run must train the same config on the same data"
        )
