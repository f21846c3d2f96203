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

- `launched()` / `current()`: is this process one of several, and which one;
- `process_group(train_config)`: join the group (init_process_group) and leave it at the end;
- `launch(nproc, argv)`: what `gradschool train --nproc N` does: start N copies under torchrun;
- `wrap_ddp`, `all_reduce_mean`, `broadcast_object`: what `TorchBackend` calls (backends.py).

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
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gradschool.errors import GradschoolError


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the data-parallel processes."""

    rank: int  # 0 .. world_size-1 over all machines; rank 0 logs and saves
    local_rank: int  # number on this machine: the GPU it uses
    world_size: int  # processes in all
    backend: str  # "gloo" (CPU) or "nccl" (CUDA GPUs)

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
        backend=str(dist.get_backend()),
    )


@contextlib.contextmanager
def process_group(train_config: Any) -> Iterator[ProcessGroup | None]:
    """Join the process group torchrun set up (if it did), and leave it on the way out.

    NCCL when the processes train on CUDA GPUs (each process on GPU `LOCAL_RANK`), gloo on the
    CPU. Outside torchrun this yields None and does nothing, so the caller can always write
    `with process_group(config.train) as group:`.
    """
    if not launched() or current() is not None:
        yield current()
        return
    if train_config.engine != "torch":
        raise GradschoolError(
            "torchrun started this process as one of several, but the NumPy engine trains in "
            "one process only: data-parallel training runs on PyTorch's "
            "DistributedDataParallel. Add --engine torch."
        )
    from gradschool.backends import _import_torch, resolve_device

    torch = _import_torch()
    dist = torch.distributed
    if not dist.is_available():
        raise GradschoolError(
            "this PyTorch was built without torch.distributed, so it cannot train in several "
            "processes; run a single process (--nproc 1)."
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(train_config.device, "torch", train_config.dtype, local_rank)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
        backend = "nccl"
    elif device == "mps":
        raise GradschoolError(
            "data-parallel training on MPS (Apple GPU) is not supported by torch.distributed: "
            "use --device cpu (gloo) with several processes, or one process on MPS."
        )
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


# ---- the launcher behind `gradschool train --nproc N` -----------------------------------------


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N -m gradschool -- ARGV`.

    `--standalone` runs the rendezvous on this machine, on a free port. For several machines,
    run torchrun yourself with --nnodes, --node_rank and --rdzv_endpoint (docs/compute.md).
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "gradschool",
        # NOTE: "--" ends torchrun's own options. Without it torchrun's parser would take
        # gradschool's --nproc for its --nproc-per-node and --monitor for --monitor-interval
        # (argparse accepts abbreviations).
        "--",
        *argv,
    ]


def launch(nproc: int, argv: Sequence[str], engine: str = "torch") -> int:
    """Run `gradschool ARGV` in `nproc` processes under torchrun; return its exit status.

    The child processes see torchrun's environment, so their own `gradschool train` joins
    the group instead of launching again.
    """
    if engine != "torch":
        raise GradschoolError(
            f"--nproc {nproc} needs the torch engine: the NumPy engine trains in one process "
            f"only. Add --engine torch, or use --nproc 1."
        )
    command = torchrun_command(nproc, argv)
    env = dict(os.environ)
    # NOTE: the children import gradschool from the same place this process did, even when it
    # is not installed (e.g. run from a checkout with PYTHONPATH).
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    print(f"Launching {nproc} processes: {' '.join(command[1:])}", flush=True)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130


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
        warnings.warn(
            f"the last batch of each epoch holds {last} example(s), too few to give each of "
            f"the {world_size} processes one: it is left out (drop_last). Choose a batch size "
            f"that leaves no such remainder to train on every example.",
            stacklevel=2,
        )


def train_worker(config: Any, checkpoint: Any = None) -> int:
    """What every rank but 0 runs: the same training, silently and without a run directory.

    It computes its share of every batch and joins every all-reduce, but prints nothing
    (standard output goes nowhere; errors still reach standard error) and writes no file.
    Resuming, it reads the checkpoint rank 0 resumes from, so all ranks start equal.
    """
    from gradschool.config import with_updates
    from gradschool.train.trainer import fit

    quiet = with_updates(config, {"train.progress": "off"})
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        fit(quiet, run=None, resume=checkpoint if checkpoint is not None else False)
    return 0
