"""Two engines behind one small interface.

The trainer, the models and the experiments never import `torch` or `gradschool.engine`
directly: they ask for a `Backend` and speak only through it. That is what lets one training
loop run on the from-scratch NumPy engine and on PyTorch, and lets the tests prove the two
equal on the same work.

    backend = get_backend("numpy")            # or "torch"
    model = models.mlp(backend.nn, [784, 128, 64, 10])
    loss = backend.F.cross_entropy(model(backend.tensor(X)), backend.tensor(y))
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from gradschool import distributed
from gradschool.checkpoint import atomic_write, load_tree, save_tree
from gradschool.errors import CheckpointError, GradschoolError

logger = logging.getLogger(__name__)

ENGINES = ("numpy", "torch")

# What the NumPy engine does not do, by what was asked for. A run's config refuses these
# first (config.TrainConfig.cross_check); `numpy_engine_refuses` is the one guard for direct
# use of the API, where no config was validated.
NUMPY_LIMITS = {
    "device": "runs on the CPU only (it is NumPy code, and NumPy computes on the CPU)",
    "processes": "trains in one process (data-parallel training is PyTorch's "
    "DistributedDataParallel)",
    "precision": "computes in float32 or float64 only",
    "compile": "runs its Python ops as written, with no compiler and one memory layout",
}


def numpy_engine_refuses(limit: str, asked: str) -> GradschoolError:
    """The error for asking the NumPy engine for what only torch does (`NUMPY_LIMITS`)."""
    return GradschoolError(
        f"{asked} needs the torch engine: the NumPy engine {NUMPY_LIMITS[limit]}. Use "
        f"--engine torch, or leave {asked} out."
    )


class Backend:
    """What the training loop needs from an engine.

    Attributes `nn`, `F`, `optim`, `lr_scheduler` are the engine's modules of those names
    (torch.nn, torch.nn.functional, ...). Methods convert data in and out, seed the engine's
    random numbers, and save / load tensors.
    """

    name: str
    nn: Any
    F: Any
    optim: Any
    lr_scheduler: Any

    def __init__(self, dtype: str = "float32") -> None:
        if dtype not in ("float32", "float64"):
            raise GradschoolError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<Backend {self.name} {self.dtype}>"

    # Implemented by each engine:
    def tensor(self, array: np.ndarray) -> Any:
        """A NumPy array as an engine tensor: floats in the backend's dtype, integers int64."""
        raise NotImplementedError

    def to_numpy(self, tensor: Any) -> np.ndarray:
        raise NotImplementedError

    def stage(self, array: np.ndarray) -> Any:
        """A whole data set, put once where this engine reads batches from fastest."""
        return array

    # ---- compute: device, precision, processes (docs/compute.md) -------------------------------
    # The defaults below are the single-process CPU case; TorchBackend overrides them. They let
    # the trainer say "autocast", "prepare the model", "average over processes" without knowing
    # which engine runs, or how many processes.

    device: Any = "cpu"
    rank: int = 0  # this process's number among `world_size` data-parallel processes
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True in the process that logs, checkpoints and plots (rank 0)."""
        return self.rank == 0

    def autocast(self, precision: str = "fp32") -> contextlib.AbstractContextManager:
        """The context in which forward passes run at `precision` ("fp32": as they are)."""
        raise NotImplementedError

    def prepare_model(self, model: Any, train_config: Any = None) -> Any:
        """The module the training loop calls: `model` itself, or `model` compiled and/or
        wrapped for data parallelism. The trainer keeps `model` for state_dict, evaluation and
        checkpoints: both share the same parameters."""
        return model

    def all_reduce_mean(self, value: Any) -> Any:
        """The mean of `value` (a scalar tensor) over all processes; one process: itself."""
        return value

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's `obj` in every process; one process: `obj` itself."""
        return obj

    def describe(self) -> dict[str, Any]:
        """Where this backend computes, for run.json."""
        return {"device": str(self.device), "processes": self.world_size}

    def no_grad(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def manual_seed(self, seed: int) -> None:
        raise NotImplementedError

    def get_rng_state(self) -> Any:
        raise NotImplementedError

    def set_rng_state(self, state: Any) -> None:
        raise NotImplementedError

    def state_to_numpy(self, state_dict: dict) -> dict[str, np.ndarray]:
        """A model's state_dict as plain NumPy arrays (for parity tests and checkpoints)."""
        return {k: self.to_numpy(v).copy() for k, v in state_dict.items()}

    def numpy_to_state(self, arrays: dict[str, np.ndarray]) -> dict:
        return {k: self.tensor(np.asarray(v)) for k, v in arrays.items()}

    def cast_model(self, model: Any) -> Any:
        """Move a freshly built model to the backend's dtype."""
        return model.double() if self.dtype == "float64" else model.float()

    @property
    def checkpoint_suffix(self) -> str:
        raise NotImplementedError

    def save(self, obj: dict, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path) -> dict:
        raise NotImplementedError


class NumpyBackend(Backend):
    """The from-scratch engine. Runs on the CPU only, in one process, in float32 or float64:
    no GPU, no bf16, no compiler, no DDP (those are what the torch engine is for)."""

    name = "numpy"

    def __init__(self, dtype: str = "float32", processes: int = 1) -> None:
        super().__init__(dtype)
        if processes > 1:
            raise numpy_engine_refuses("processes", f"training in {processes} processes")
        from gradschool import engine

        self.engine = engine
        self.nn, self.F = engine.nn, engine.functional
        self.optim, self.lr_scheduler = engine.optim, engine.lr_scheduler
        self._float = np.dtype(dtype)

    def tensor(self, array: np.ndarray) -> Any:
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.dtype != self._float:
            array = array.astype(self._float)
        elif array.dtype.kind in "iu" and array.dtype != np.int64:
            array = array.astype(np.int64)
        return self.engine.Tensor(array)

    def to_numpy(self, tensor: Any) -> np.ndarray:
        # NOTE: test the type, not `hasattr(x, "data")`: a NumPy array's `.data` is a memoryview.
        return tensor.data if isinstance(tensor, self.engine.Tensor) else np.asarray(tensor)

    def autocast(self, precision: str = "fp32") -> contextlib.AbstractContextManager:
        if precision != "fp32":
            raise numpy_engine_refuses("precision", f"precision {precision!r}")
        return contextlib.nullcontext()

    def prepare_model(self, model: Any, train_config: Any = None) -> Any:
        for name in ("compile", "channels_last"):
            if getattr(train_config, name, False):
                raise numpy_engine_refuses("compile", f"train.{name}")
        return model

    def no_grad(self) -> contextlib.AbstractContextManager:
        return self.engine.no_grad()

    def manual_seed(self, seed: int) -> None:
        self.engine.manual_seed(seed)

    def get_rng_state(self) -> Any:
        return self.engine.rng.get_rng_state()

    def set_rng_state(self, state: Any) -> None:
        self.engine.rng.set_rng_state(state)

    @property
    def checkpoint_suffix(self) -> str:
        return ".npz"

    def save(self, obj: dict, path: Path) -> None:
        save_tree(obj, Path(path), to_numpy=self.to_numpy)

    def load(self, path: Path) -> dict:
        return load_tree(Path(path))


class TorchBackend(Backend):
    """PyTorch, imported only when asked for."""

    name = "torch"

    def __init__(
        self,
        dtype: str = "float32",
        device: str = "cpu",
        *,
        channels_last: bool = False,
        group: Any = None,
    ) -> None:
        super().__init__(dtype)
        self.torch = torch = _import_torch()
        self.nn, self.F = torch.nn, torch.nn.functional
        self.optim, self.lr_scheduler = torch.optim, torch.optim.lr_scheduler
        self._float = getattr(torch, dtype)
        self.device = torch.device(device)
        if self.device.type == "mps" and dtype == "float64":
            raise GradschoolError(
                "the MPS device (Apple GPU) has no float64: use --dtype float32 there, or "
                "--device cpu for float64."
            )
        # group: a gradschool.distributed.ProcessGroup when this process is one of several
        # data-parallel processes (torchrun), else None.
        if group is not None and group.world_size > 1 and self.device.type == "mps":
            raise GradschoolError(
                "data-parallel training on MPS (Apple GPU) is not supported by "
                "torch.distributed: use --device cpu (gloo) with --nproc, or one process on MPS."
            )
        self.channels_last = channels_last
        self.group = group
        if group is not None:
            self.rank, self.world_size = group.rank, group.world_size
        self._staged: dict[int, tuple[Any, Any]] = {}

    def tensor(self, array: np.ndarray) -> Any:
        torch = self.torch
        if isinstance(array, torch.Tensor):
            t = array
        else:
            array = np.asarray(array)
            t = torch.from_numpy(np.ascontiguousarray(array))
        if t.is_floating_point():
            t = t.to(self._float)
        elif t.dtype != torch.int64 and t.dtype != torch.bool:
            t = t.long()
        return t.to(self.device, non_blocking=True) if t.device != self.device else t

    def stage(self, array: np.ndarray) -> Any:
        # As tensors on the device: batches are then sliced there, with no copy per batch
        # from NumPy and, on a GPU, no host-to-device transfer per batch.
        key = id(array)
        hit = self._staged.get(key)
        if hit is not None and hit[0]() is array:
            return hit[1]
        t = self.tensor(array)
        if self.channels_last and t.dim() == 4 and t.is_floating_point():
            # NHWC in memory, as the model's weights (prepare_model): each batch sliced from it
            # keeps that layout, so convolutions need no layout change per batch.
            t = t.contiguous(memory_format=self.torch.channels_last)
        if self.device.type == "cpu":
            # On the CPU a float32 array is shared, not copied (torch.from_numpy): staging is
            # free, and remembering it would keep the array alive through its own tensor.
            return t
        # On a device, each array is copied there once: evaluation stages the validation and
        # test sets every epoch and gets the same device tensors back. NOTE: so the data must
        # not change in place once staged (gradschool's prepared arrays never do).
        staged = self._staged
        try:
            ref = weakref.ref(array, lambda _: staged.pop(key, None))
        except TypeError:  # not weak-referenceable (a list...): stage it without remembering
            return t
        staged[key] = (ref, t)
        return t

    def autocast(self, precision: str = "fp32") -> contextlib.AbstractContextManager:
        # bf16 keeps float32's 8 exponent bits (only the mantissa is shorter), so gradients
        # neither underflow nor overflow and, unlike float16, need no loss scaling
        # (torch.amp.GradScaler). Weights, gradients and optimizer state stay float32: autocast
        # only runs the matrix products and convolutions of the forward pass in bf16 and keeps
        # numerically sensitive ops (softmax, cross-entropy) in float32.
        if precision == "fp32":
            return contextlib.nullcontext()
        if precision == "bf16":
            return self.torch.autocast(device_type=self.device.type, dtype=self.torch.bfloat16)
        raise GradschoolError(f"unknown precision {precision!r}: choose fp32 or bf16")

    def prepare_model(self, model: Any, train_config: Any = None) -> Any:
        torch = self.torch
        if getattr(train_config, "channels_last", False):
            # Module.to converts the 4-D weights in place (same Parameter objects), so an
            # optimizer built before or after still holds them.
            model.to(memory_format=torch.channels_last)
        net = model
        if self.world_size > 1:
            net = distributed.wrap_ddp(model, self.device)
        if getattr(train_config, "compile", False):
            # NOTE: compiled after the DDP wrap, as PyTorch's DDP docs advise: the compiler
            # then splits its graph at DDP's gradient buckets, so communication still overlaps
            # the backward pass. The first batches pay the compilation (seconds to a minute).
            net = torch.compile(net)
        return net

    def all_reduce_mean(self, value: Any) -> Any:
        return value if self.world_size == 1 else distributed.all_reduce_mean(value)

    def broadcast_object(self, obj: Any) -> Any:
        return obj if self.world_size == 1 else distributed.broadcast_object(obj)

    def to_numpy(self, tensor: Any) -> np.ndarray:
        if isinstance(tensor, self.torch.Tensor):
            return tensor.detach().cpu().numpy()
        return np.asarray(tensor)

    def no_grad(self) -> contextlib.AbstractContextManager:
        return self.torch.no_grad()

    def manual_seed(self, seed: int) -> None:
        self.torch.manual_seed(seed)

    def get_rng_state(self) -> Any:
        # NOTE: on a GPU, dropout draws from the GPU's own generator: a resumed run needs both.
        state = self.torch.get_rng_state()
        if self.device.type == "cuda":
            return {"cpu": state, "cuda": self.torch.cuda.get_rng_state(self.device)}
        return state

    def set_rng_state(self, state: Any) -> None:
        # A checkpoint loaded with map_location on a GPU has its tensors there; the generators
        # take CPU byte tensors. A CPU checkpoint resumed on a GPU has no GPU state to restore.
        if isinstance(state, dict):
            if "cuda" in state and self.device.type == "cuda":
                self.torch.cuda.set_rng_state(state["cuda"].cpu(), self.device)
            state = state["cpu"]
        self.torch.set_rng_state(state.cpu())

    def cast_model(self, model: Any) -> Any:
        return super().cast_model(model).to(self.device)

    @property
    def checkpoint_suffix(self) -> str:
        return ".pt"

    def save(self, obj: dict, path: Path) -> None:
        atomic_write(Path(path), lambda tmp: self.torch.save(obj, tmp))

    def load(self, path: Path) -> dict:
        # NOTE: weights_only=True: a checkpoint is data, never code. Unpickling an untrusted
        # file with weights_only=False can run anything.
        try:
            return self.torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:  # noqa: BLE001 - any failure means an unreadable file
            raise CheckpointError(
                f"cannot read the torch checkpoint {path}: {err}. It may be truncated or "
                f"not a gradschool checkpoint; start a fresh run or restore the file."
            ) from err


def _import_torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as err:
        raise GradschoolError(
            "the torch engine needs PyTorch, which is not installed. Install it with "
            "`pip install 'gradschool[torch]'` (or `pip install torch`), or use the NumPy "
            "engine: --engine numpy."
        ) from err


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(
    device: str = "auto", engine: str = "torch", dtype: str = "float32", local_rank: int = 0
) -> str:
    """The concrete device a setting names: "cpu", "cuda:0", "mps".

    "auto" is the fastest device there is: a CUDA GPU, else an Apple GPU (MPS; not for
    float64, which it lacks), else the CPU. With several processes on one machine, process
    `local_rank` takes GPU number `local_rank`. Asking for a device that is not there is an
    error that says why, never a silent fall-back to the CPU.
    """
    kind = device.split(":")[0]
    if engine == "numpy":
        if kind not in ("cpu", "auto"):
            raise numpy_engine_refuses("device", f"device {device!r}")
        return "cpu"
    torch = _import_torch()
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "cuda"
        elif _mps_available(torch) and dtype != "float64":
            kind = "mps"
        else:
            kind = "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"this PyTorch ({torch.__version__}) is a CPU-only build"
                if torch.version.cuda is None
                else "PyTorch sees no CUDA GPU here (check `nvidia-smi` and CUDA_VISIBLE_DEVICES)"
            )
            raise GradschoolError(
                f"--device cuda was asked for, but {why}. Train on the CPU with --device cpu "
                f"(or --device auto, which takes a GPU only when there is one), or install a "
                f"CUDA build of PyTorch on a machine with an NVIDIA GPU."
            )
        if ":" in device:
            return device
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise GradschoolError(
                f"process {local_rank} on this machine needs GPU number {local_rank}, but "
                f"there are only {count}. Start at most {count} processes per machine "
                f"(--nproc / torchrun --nproc_per_node), one per GPU."
            )
        return f"cuda:{local_rank}"
    if kind == "mps":
        if not _mps_available(torch):
            raise GradschoolError(
                "--device mps was asked for, but PyTorch sees no Apple GPU (MPS needs macOS "
                "on Apple silicon and a PyTorch built with MPS). Use --device cpu or auto."
            )
        return "mps"
    if kind == "cpu":
        return "cpu"
    raise GradschoolError(f"unknown device {device!r}: choose auto, cpu, cuda or mps")


# A stand-in for the NumPy engine, set by `numpy_engine_as` (gradschool/track/train.py).
_NUMPY_STANDIN: list[Any] = []


@contextlib.contextmanager
def numpy_engine_as(make: Any) -> Any:
    """Inside this block, runs on the NumPy engine get `make(dtype)` instead of NumpyBackend:
    how `gradschool build train` trains on a learner's own engine, through the same trainer."""
    _NUMPY_STANDIN.append(make)
    try:
        yield
    finally:
        _NUMPY_STANDIN.pop()


def _numpy_backend(dtype: str, processes: int = 1) -> Backend:
    if _NUMPY_STANDIN and processes == 1:
        return _NUMPY_STANDIN[-1](dtype)
    return NumpyBackend(dtype, processes)


def get_backend(name: str, dtype: str = "float32", device: str = "cpu") -> Backend:
    """The backend called `name` ("numpy" or "torch") on `device` ("auto" = the fastest)."""
    if name == "numpy":
        resolve_device(device, "numpy")
        return _numpy_backend(dtype)
    if name == "torch":
        return TorchBackend(dtype, resolve_device(device, "torch", dtype))
    raise GradschoolError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")


def backend_for(train_config: Any, group: Any = None) -> Backend:
    """The backend a run's [train] settings ask for: engine, dtype, device, memory layout.

    `group` is this process's place among data-parallel processes (a
    `distributed.ProcessGroup`; default: the group this process has joined, if any). The
    device is resolved here, once per run: "auto" becomes the fastest device there is, and
    with several processes per machine each takes its own GPU (LOCAL_RANK). With
    `train.deterministic`, torch is switched to its deterministic algorithms here, before the
    model touches the device (`use_deterministic`).
    """
    group = distributed.current() if group is None else group
    processes = group.world_size if group is not None else 1
    deterministic = getattr(train_config, "deterministic", False)
    if train_config.engine == "numpy":
        resolve_device(train_config.device, "numpy")
        if deterministic:
            use_deterministic("numpy", "cpu")
        logger.debug("the NumPy engine in %s on the CPU", train_config.dtype)
        return _numpy_backend(train_config.dtype, processes)
    local_rank = group.local_rank if group is not None else 0
    device = resolve_device(train_config.device, "torch", train_config.dtype, local_rank)
    if deterministic:
        use_deterministic("torch", device)
    backend = TorchBackend(
        train_config.dtype,
        device,
        channels_last=getattr(train_config, "channels_last", False),
        group=group,
    )
    logger.debug("torch %s on %s, %d process(es)", backend.torch.__version__, device, processes)
    return backend


# cuBLAS keeps one workspace per stream; with a fixed-size one its reductions run in the same
# order every time. ":4096:8" is what torch's reproducibility notes recommend (":16:8" saves
# memory and may be slower). Read by cuBLAS when it starts, so set before the first GPU matmul.
CUBLAS_WORKSPACE = ":4096:8"


def use_deterministic(engine: str, device: str) -> str:
    """What `train.deterministic = true` does, for this whole process; returns it in words.

    torch: `torch.use_deterministic_algorithms(True)` (an op that has no deterministic
    implementation raises instead of running, warn_only=False), cuDNN's benchmark off (it times
    several convolution algorithms and keeps the fastest, which may differ from run to run) and
    its deterministic algorithms on; on a CUDA device also `CUBLAS_WORKSPACE_CONFIG`, unless it
    is set already. The NumPy engine has nothing to switch: every op of it computes in a fixed
    order, so the same seed gives the same numbers.

    NOTE: torch's switch is global and stays on after the run, for the rest of the process (a
    notebook's later runs too); `torch.use_deterministic_algorithms(False)` turns it off.
    """
    if engine == "numpy":
        done = "nothing to switch on the NumPy engine: its ops always run in the same order"
        logger.info("train.deterministic: %s", done)
        return done
    torch = _import_torch()
    if str(device).startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=False)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    done = "torch.use_deterministic_algorithms(True), cudnn.benchmark off"
    if str(device).startswith("cuda"):
        done += f", CUBLAS_WORKSPACE_CONFIG={os.environ['CUBLAS_WORKSPACE_CONFIG']}"
    logger.info("train.deterministic: %s", done)
    return done
