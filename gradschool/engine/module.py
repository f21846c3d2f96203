"""`Module` and `Parameter`: what every layer is made of, shaped like `torch.nn.Module`.

A Module is a container that finds its own parameters: assigning a `Parameter` or another
Module as an attribute registers it, so `model.parameters()` can hand every weight to the
optimizer and `model.state_dict()` can save them all by name ("fc1.weight", ...). The layers
built on it are in nn.py, conv_layers.py and transformer_layers.py; `nn` re-exports both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradschool.engine.tensor import Tensor

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor that is a weight of a Module: it requires grad and is found by parameters()."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _HookHandle:
    """What `register_forward_hook` returns: `remove()` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict) -> None:
        self.hooks, self.id = hooks, _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


class Module:
    """Base class of every layer and model. Subclasses define `forward`."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign before Module.__init__() call")
        plain_tensor = value is None or (
            isinstance(value, Tensor) and not isinstance(value, Parameter)
        )
        if name in self._buffers and plain_tensor:
            self._buffers[name] = value  # a registered buffer stays one (running statistics)
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, (Parameter, Module)):
            # NOTE: drop a plain attribute of the same name (e.g. `bias = None` set before),
            # or normal lookup would find it first and never reach __getattr__.
            self.__dict__.pop(name, None)
            table = self._parameters if isinstance(value, Parameter) else self._modules
            table[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A tensor that is part of the state (saved, loaded) but not trained, e.g. running
        statistics of batch norm."""
        self._buffers[name] = value

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        self._parameters[name] = value

    def add_module(self, name: str, module: Module) -> None:
        self._modules[name] = module

    # ---- traversal ---------------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Depth-first, parents before children, children in the order they were assigned
        (torch's order, so parameters() and state_dict() list weights as torch does)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, c) for n, c in module._modules.items()]
            # NOTE: pushed in reverse so that the first child is popped (visited) first.
            stack.extend((n, c) for n, c in reversed(children) if c is not None)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(name, Parameter) pairs; a parameter shared by two layers is listed once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for module_name, module in self.named_modules(prefix):
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buf

    def buffers(self) -> Iterator[Tensor]:
        for _, buf in self.named_buffers():
            yield buf

    # ---- modes, gradients, dtype -------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode: dropout drops, batch norm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else Tensor(np.zeros_like(p.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn: Any) -> Module:
        """Call `fn` on every submodule, children first, then on self (torch's order)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating-point parameter and buffer to `dtype`, in place."""
        for module in self.modules():
            for table in (module._parameters, module._buffers):
                for tensor in table.values():
                    if tensor is not None and tensor.data.dtype.kind == "f":
                        tensor.data = tensor.data.astype(dtype)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---- state -------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer by dotted name, sharing memory with the model, as torch."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for module_name, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, tensor in table.items():
                    if tensor is not None:
                        key = f"{module_name}.{name}" if module_name else name
                        state[key] = tensor.detach()
        return state

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> tuple[list, list]:
        """Copy values (Tensors or NumPy arrays) into this model's parameters and buffers.

        Raises like torch when keys are missing or unexpected (strict) or shapes differ.
        """
        own = {}
        for module_name, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, tensor in table.items():
                    if tensor is not None:
                        own[f"{module_name}.{name}" if module_name else name] = tensor
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                f"{missing}, unexpected keys {unexpected}. The checkpoint was saved from a "
                f"different model: check the model settings (sizes, layers) match it."
            )
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != tensor.shape:
                raise RuntimeError(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {tensor.shape}."
                )
            tensor.data[...] = value
        return missing, unexpected

    # ---- calling -----------------------------------------------------------------------------

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        for hook in tuple(self.__dict__.get("_forward_hooks", {}).values()):
            result = hook(self, args, output)  # torch's signature: (module, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook: Any) -> _HookHandle:
        """Call `hook(module, args, output)` after every forward pass, as torch does; a
        non-None return value replaces the output. `handle.remove()` takes the hook away.

        Used by whoever must see a layer's inputs and outputs without changing the layer: the
        per-example gradients of DP-SGD (gradschool/trust/dp.py) keep each layer's input and
        its output's gradient from here.
        """
        hooks = self.__dict__["_forward_hooks"]
        handle = _HookHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n  " + "\n  ".join(lines) + "\n)" if lines else ")")
