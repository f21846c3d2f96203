"""Data-parallel training over several processes, on PyTorch's own distributed engine.

Data parallelism keeps one full copy of the model in each of N processes (one per GPU, or a
few on a CPU). Every step, each process takes its own share of a global batch, computes the
gradient of its share, and the processes average their gradients (an *all-reduce*), so every
copy takes the same step and the weights stay identical everywhere. N processes at batch B
therefore follow the same trajectory as one process at batch N*B, in about 1/N of the time
when the all-reduce is cheap next to the compute.

Nothing here is home-made: processes are started by `torchrun` (torch.distributed.run), they
find each other through its rendezvous, gradients are averaged by
`torch.nn.parallel.DistributedDataParallel` (DDP) during the backward pass, over NCCL between
GPUs or gloo between CPU processes. This module only connects gradschool to them:

    torchrun --nproc_per_node=2 -m gradschool train --engine torch ...   # what --nproc 2 runs
    gradschool train --engine torch --nproc 2 ...                          # the same, shorter

- `launched()` / `from_environment()` / `current()`: is this process one of several, and which;
- `process_group(device)`: join the group (init_process_group) and leave it at the end;
- `wrap_ddp`, `all_reduce_mean`, `broadcast_object`: what `TorchBackend` calls (backends.py);
- `lost_a_process(err)`: is this the error of a collective whose other end died;
- `check_sharded(loader, world_size)`: refuse a loader that would give every process the same
  batches.

It is glue, and sits below the backends that call it: it imports nothing of gradschool's but
its errors. What `gradschool train --nproc N` does - start N copies of itself under torchrun,
and run ranks other than 0 silently - is the training loop's business: train/launch.py.

How the one training loop runs in such a group: the DataLoader gives each rank its own
contiguous part of every global batch (same order on every rank, data/loader.py); the model
the loop calls is DDP-wrapped (`backend.prepare_model`); the epoch's training loss is averaged
over ranks; rank 0 evaluates and sends its metrics to all, so every rank takes the same early
stopping decision; only rank 0 creates the run directory and writes logs, checkpoints and
plots. See docs/compute.md for multi-machine runs.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gradschool.errors import GradschoolError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the data-parallel processes."""

    rank: int  # 0 .. world_size-1 over all machines; rank 0 logs and saves
    local_rank: int  # number on this machine: the GPU it uses
    world_size: int  # processes in all

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """True when torchrun started this process as one of several (WORLD_SIZE > 1).

    torchrun tells each process its place through environment variables: RANK, LOCAL_RANK,
    WORLD_SIZE, LOCAL_WORLD_SIZE, and MASTER_ADDR / MASTER_PORT for the rendezvous.
    """
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def from_environment() -> ProcessGroup | None:
    """This process's place as torchrun announced it, before joining the group (None outside
    torchrun): enough to choose this process's GPU and refuse what cannot work, before any
    process waits for the others."""
    if not launched():
        return None
    return ProcessGroup(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=int(os.environ["WORLD_SIZE"]),
    )


def current() -> ProcessGroup | None:
    """The process group this process has joined, or None (a single-process run)."""
    torch = sys.modules.get("torch")  # never import torch for a NumPy-engine run
    if torch is None:
        return None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return ProcessGroup(
        rank=dist.get_rank(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=dist.get_world_size(),
    )


@contextlib.contextmanager
def process_group(device: str) -> Iterator[ProcessGroup | None]:
    """Join the process group torchrun set up (if it did), and leave it on the way out.

    `device` is where this process computes (backends.resolve_device, from LOCAL_RANK): NCCL
    between CUDA GPUs (each process on its own), gloo on the CPU. Outside torchrun this yields
    None and does nothing, so the caller can always write `with process_group(device):`.
    """
    if not launched() or current() is not None:
        yield current()
        return
    import torch  # torchrun started this process, so torch is installed

    dist = torch.distributed
    if not dist.is_available():
        raise GradschoolError(
            "this PyTorch was built without torch.distributed, so it cannot train in several "
            "processes; run a single process (--nproc 1)."
        )
    if str(device).startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend)
    try:
        yield current()
        # Free what still holds the group (a DDP model's reducer, its pending work) while the
        # interpreter is fully alive: a gloo thread left to die at exit aborts the process.
        gc.collect()
        # All ranks leave together: a rank that tears its connections down while another is
        # still finishing (rank 0 writing its last files, say) can make that one fail.
        dist.barrier()
    finally:
        dist.destroy_process_group()


# ---- what the torch backend calls ------------------------------------------------------------


def wrap_ddp(model: Any, device: Any) -> Any:
    """`model` wrapped in DistributedDataParallel: same parameters, gradients averaged.

    At construction DDP copies rank 0's weights to every rank, so all copies start equal even
    if their seeds differed. During `loss.backward()` it all-reduces the gradients in buckets
    while the rest of the backward pass still runs (the all-reduce overlaps the compute).
    NOTE: BatchNorm layers still normalise with each rank's own share of the batch (DDP only
    keeps their running statistics in step, from rank 0); that is what makes N processes at
    batch B differ from one at N*B for a network with BatchNorm. SyncBatchNorm (CUDA) would
    normalise over the global batch, at one more all-reduce per layer.
    """
    import torch

    device = torch.device(device)
    device_ids = (
        [device.index if device.index is not None else 0] if device.type == "cuda" else None
    )
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_mean(value: Any) -> Any:
    """The mean over all ranks of a scalar tensor (a new tensor; `value` is left as it is)."""
    import torch.distributed as dist

    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (a small picklable object, such as a row of metrics).

    NOTE: pickled between our own processes only, never read from a file.
    """
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# Words in the error a collective raises when a process at the other end is gone (gloo, NCCL).
_PEER_GONE = ("reset by peer", "closed by peer", "broken pipe", "connection refused", "timed out")


def lost_a_process(err: BaseException) -> bool:
    """True for the error a collective raises in a process whose group lost another process
    (killed, crashed): what every survivor meets in its next all-reduce."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if isinstance(err, getattr(torch.distributed, "DistError", ())):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(words in text for words in _PEER_GONE)


# ---- what the training loop checks -------------------------------------------------------------


def check_sharded(loader: Any, world_size: int) -> None:
    """Refuse a data-parallel run whose loader would give every process the same batches.

    Every process would then compute the same gradient: the all-reduce would average N copies
    of one batch, N times the work for one process's progress.
    """
    inner = getattr(loader, "loader", loader)  # an AugmentedLoader wraps a DataLoader
    if world_size == 1:
        return
    if getattr(inner, "world_size", 1) != world_size:
        raise GradschoolError(
            f"this task's batches ({type(loader).__name__}) are not split among the "
            f"{world_size} processes, so each would train on the same examples. Train it in "
            f"one process (--nproc 1), or give its loader rank= and world_size= as "
            f"gradschool.data.DataLoader has."
        )
    # NOTE: an epoch's last global batch may be short. With fewer examples than processes,
    # some process would get none, and the mean loss of no examples is NaN: drop that batch.
    n = inner.num_examples
    per_step = n if inner.batch_size == "full" else inner.batch_size * world_size
    last = n % per_step
    if 0 < last < world_size and not inner.drop_last:
        inner.drop_last = True
        logger.warning(
            "the last batch of each epoch holds %d example(s), too few to give each of the %d "
            "processes one: it is left out (drop_last). Choose a batch size that leaves no such "
            "remainder to train on every example.",
            last,
            world_size,
        )
