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
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.errors import CheckpointError, GradschoolError

ENGINES = ("numpy", "torch")


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
    """The from-scratch engine. Runs on the CPU only."""

    name = "numpy"

    def __init__(self, dtype: str = "float32") -> None:
        super().__init__(dtype)
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
        return tensor.data if hasattr(tensor, "data") else np.asarray(tensor)

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
        from gradschool.train.checkpoint import save_tree

        save_tree(obj, Path(path), to_numpy=self.to_numpy)

    def load(self, path: Path) -> dict:
        from gradschool.train.checkpoint import load_tree

        return load_tree(Path(path))


class TorchBackend(Backend):
    """PyTorch, imported only when asked for."""

    name = "torch"

    def __init__(self, dtype: str = "float32", device: str = "cpu") -> None:
        super().__init__(dtype)
        try:
            self.torch = importlib.import_module("torch")
        except ImportError as err:
            raise GradschoolError(
                "the torch engine needs PyTorch, which is not installed. Install it with "
                "`pip install 'gradschool[torch]'` (or `pip install torch`), or use the NumPy "
                "engine: --engine numpy."
            ) from err
        torch = self.torch
        self.nn, self.F = torch.nn, torch.nn.functional
        self.optim, self.lr_scheduler = torch.optim, torch.optim.lr_scheduler
        self._float = getattr(torch, dtype)
        self.device = torch.device(device)

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
        return self.tensor(array)

    def to_numpy(self, tensor: Any) -> np.ndarray:
        if isinstance(tensor, self.torch.Tensor):
            return tensor.detach().cpu().numpy()
        return np.asarray(tensor)

    def no_grad(self) -> contextlib.AbstractContextManager:
        return self.torch.no_grad()

    def manual_seed(self, seed: int) -> None:
        self.torch.manual_seed(seed)

    def get_rng_state(self) -> Any:
        return self.torch.get_rng_state()

    def set_rng_state(self, state: Any) -> None:
        self.torch.set_rng_state(state)

    def cast_model(self, model: Any) -> Any:
        return super().cast_model(model).to(self.device)

    @property
    def checkpoint_suffix(self) -> str:
        return ".pt"

    def save(self, obj: dict, path: Path) -> None:
        from gradschool.train.checkpoint import atomic_write

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


def get_backend(name: str, dtype: str = "float32", device: str = "cpu") -> Backend:
    """The backend called `name` ("numpy" or "torch")."""
    if name == "numpy":
        if device not in ("cpu", "auto"):
            raise GradschoolError(
                f"the NumPy engine runs on the CPU only, but device {device!r} was asked for; "
                f"use --engine torch for {device}, or --device cpu"
            )
        return NumpyBackend(dtype)
    if name == "torch":
        return TorchBackend(dtype, device if device != "auto" else "cpu")
    raise GradschoolError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
