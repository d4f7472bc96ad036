"""Several processes, one model: ``torch.distributed`` as ``torchrun`` starts it.

Every process (a *rank*) trains the same network on its share of the windows; PyTorch's
``DistributedDataParallel`` averages the gradients after each backward pass, so all ranks take
the same step. Without a process group every function here is the single-process case: rank 0 of
a world of 1, and the training loop keeps its own single-process path.

Two ways to share the data, told apart at ``fit`` time (:func:`all_same`):

- *replicated*: every rank holds every series (one data file); ``DistributedSampler`` deals each
  rank its share of the windows, reshuffled per epoch from the seed;
- *sharded*: each rank holds its own series (its files of a data directory); each reshuffles its
  own windows per epoch, and ranks with fewer windows go round theirs again so that every rank
  takes the same number of steps.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .errors import ConfigError, DataError

log = logging.getLogger("lstmcast")

# A collective waits this long for a silent peer before failing. A peer that dies is noticed at
# once (its sockets close) and torchrun stops the others; this bounds a peer that hangs. It must
# exceed the longest stretch one rank works alone: rank 0 writing a checkpoint.
TIMEOUT = datetime.timedelta(minutes=10)


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started (it sets these variables for each worker)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def active() -> bool:
    """True when a process group is initialised: training and I/O are then data-parallel."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def local_device(device: torch.device) -> torch.device:
    """This rank's device: a bare ``cuda`` becomes the GPU torchrun assigned (LOCAL_RANK)."""
    if device.type == "cuda" and device.index is None and active():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def start(device: torch.device) -> torch.device:
    """Join the process group torchrun describes in the environment; return this rank's device.

    NCCL for CUDA, gloo for the CPU.
    """
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return device


def stop() -> None:
    if active():
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    # NCCL only moves CUDA tensors; gloo moves CPU ones.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def sum_across(values: list[float]) -> list[float]:
    """The sums of ``values`` over all ranks (float64); the values themselves without a group."""
    if not active():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return tensor.tolist()


def max_across(value: int) -> int:
    if not active():
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def gather(value: Any) -> list[Any]:
    """Every rank's ``value`` (picklable, small), in rank order, on every rank."""
    if not active():
        return [value]
    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value)
    return values


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a seed, a path)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


def leave_together() -> None:
    """Wait for every rank before leaving the process group (call it just before :func:`stop`).

    A rank that tears gloo down while a peer is still finishing its work (rank 0 saving or
    printing) could abort ("terminate called without an active exception"), and torchrun then
    stops the peer. A peer already gone has nothing left to wait for.
    """
    with contextlib.suppress(RuntimeError):
        barrier()


def lost_peer(error: RuntimeError) -> bool:
    """Whether ``error`` is a collective failing because another rank went away.

    gloo reports a peer that went away as a plain RuntimeError naming its transport (``[...
    pair.cc:537] Read error ...: Connection reset by peer``), NCCL as one naming NCCL.
    """
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return "gloo" in text or "NCCL" in text or "Connection closed by peer" in text


def all_same(fingerprint: str) -> tuple[bool, str]:
    """Whether every rank holds the same data, and a fingerprint of all ranks' data together."""
    fingerprints = gather(fingerprint)
    if len(set(fingerprints)) == 1:
        return True, fingerprint
    return False, hashlib.sha256("".join(fingerprints).encode()).hexdigest()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel: rank 0's weights everywhere, gradients averaged."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


@dataclass(frozen=True)
class DataParallel:
    """How training windows are dealt to the ranks of the process group."""

    seed: int  # of the per-epoch shuffle, the same on every rank
    replicated: bool  # every rank holds all windows; else each holds its own


class EpochSampler:
    """Which of the rank's windows it trains on in each epoch, and in what order.

    ``torch.utils.data.DistributedSampler`` draws the shuffle from ``seed + epoch``, so any epoch's
    order is known without replaying the earlier ones (a resumed run continues exactly).
    """

    def __init__(self, n: int, parallel: DataParallel) -> None:
        from torch.utils.data import DistributedSampler

        if parallel.replicated:
            self.sampler = DistributedSampler(
                range(n), num_replicas=world_size(), rank=rank(), shuffle=True, seed=parallel.seed
            )
            self.per_rank = len(self.sampler)
            self.total = n
        else:
            if n == 0:
                raise DataError(
                    f"rank {rank()} has no training windows in its series; give every process "
                    "series at least window + horizon long (or use fewer processes)"
                )
            # The rank's own windows; a seed per rank, so that ranks do not shuffle alike.
            self.sampler = DistributedSampler(
                range(n), num_replicas=1, rank=0, shuffle=True, seed=parallel.seed + rank()
            )
            self.per_rank = max_across(n)
            self.total = int(sum_across([float(n)])[0])

    def batches(self, batch_size: int) -> int:
        return math.ceil(self.per_rank / batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """Indices of this rank's windows for ``epoch``, ``per_rank`` of them, (per_rank,)."""
        self.sampler.set_epoch(epoch)
        order = torch.tensor(list(self.sampler), dtype=torch.int64)
        # A rank with fewer windows than the largest goes round its own again (as
        # DistributedSampler pads), so every rank takes the same number of steps.
        return order.repeat(math.ceil(self.per_rank / len(order)))[: self.per_rank]


def assign_files(files: list[Path], world: int) -> list[list[Path]]:
    """Files per rank, balanced by size: the largest file first, to the rank with least so far.

    Every rank computes the same assignment from the same listing.
    """
    if len(files) < world:
        raise ConfigError(
            f"the data has {len(files)} file(s) for {world} processes; split it into at least "
            f"{world} files (one or more whole series each), or start fewer processes"
        )
    sizes = {file: file.stat().st_size for file in files}
    shares: list[list[Path]] = [[] for _ in range(world)]
    loads = [0] * world
    for file in sorted(files, key=lambda f: (-sizes[f], f.name)):
        lightest = loads.index(min(loads))
        shares[lightest].append(file)
        loads[lightest] += sizes[file]
    return [sorted(share) for share in shares]


def assign_series(ids: np.ndarray, world: int) -> list[np.ndarray]:
    """Series ids per rank when every rank holds them all (one data file): even, contiguous
    blocks in the order given, so that each series is forecast by exactly one rank."""
    return np.array_split(ids, world)
