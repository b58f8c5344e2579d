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

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jp
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


def to_host(tree: Any) -> Any:
    """Numpy copies of the global values, also of arrays split across processes."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def on_one_device(tree: Any) -> Any:
    """The values on this process's first device (work every device would repeat, e.g. the
    periodic evaluation, runs once there)."""
    if jax.device_count() == 1:
        return tree
    return jax.device_put(to_host(tree), jax.local_devices()[0])


def is_primary() -> bool:
    """The process that writes the run directory (the only one, without `jax.distributed`)."""
    return jax.process_index() == 0


def agree(flag: bool) -> bool:
    """The primary process's `flag` on every process (e.g. to stop at the same iteration)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(multihost_utils.broadcast_one_to_all(jp.asarray(flag)))


# -- several processes ---------------------------------------------------------------------------


def slurm_tasks() -> int:
    """Tasks of the SLURM job step this process runs in (1 outside SLURM)."""
    value = os.environ.get("SLURM_NTASKS") or os.environ.get("SLURM_STEP_NUM_TASKS") or "1"
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"SLURM_NTASKS must be a whole number, got {value!r}") from None


def initialize_distributed(requested: bool) -> bool:
    """`jax.distributed.initialize()` when asked, or when SLURM started several tasks.

    Under SLURM jax reads the coordinator, the process count and this process's index from
    the job's environment; a single process (no SLURM, or one task) is left alone. Must run
    before jax touches a device. Returns whether it initialized.
    """
    if not requested and slurm_tasks() <= 1:
        return False
    jax.distributed.initialize()
    return True
