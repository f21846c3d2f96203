"""Optimizers: how a gradient becomes a step, shaped like `torch.optim`.

Every optimizer here follows the update rule of its torch counterpart line for line (the
tests run both side by side for many steps and compare the weights), so the formulas in each
`step` are the ones torch documents.

NOTE: updates are done in place on `p.data` (no new arrays per step), and never modify
`p.grad`, which may be shared with other tensors.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from gradschool.engine.tensor import Tensor, no_grad

_REQUIRED = object()


class Optimizer:
    """Holds parameter groups (each a dict: 'params' plus hyper-parameters) and per-parameter
    state (momentum buffers, running averages...).

    `params` is an iterable of Tensors, or of dicts `{"params": [...], "lr": ...}` to give
    groups their own settings, as in torch.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[int, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for name, default in self.defaults.items():
            if default is _REQUIRED and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required '{name}'")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward pass (they would add up otherwise)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor(np.zeros_like(p.data))

    def _state(self, p: Tensor) -> dict[str, Any]:
        return self.state.setdefault(id(p), {})

    def _params_with_grad(self, group: dict[str, Any]) -> Iterable[tuple[Tensor, np.ndarray]]:
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad.data

    def step(self) -> None:
        raise NotImplementedError

    # ---- state_dict in torch's layout: parameters are named by their position ------------------

    def state_dict(self) -> dict[str, Any]:
        index, groups, position = {}, [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(position, position + len(group["params"])))
            for p in group["params"]:
                index[id(p)] = position
                position += 1
            groups.append(packed)
        state = {
            index[key]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for key, s in self.state.items()
            if key in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                "loaded state dict has a different number of parameter groups or parameters "
                "than this optimizer: it was saved for a different model"
            )
        params = [p for group in self.param_groups for p in group["params"]]
        self.state = {}
        for position, s in state_dict["state"].items():
            p = params[int(position)]
            self.state[id(p)] = {
                k: (np.array(v, dtype=p.data.dtype) if np.ndim(v) else v)
                for k, v in copy.deepcopy(s).items()
            }
        for group, saved in zip(self.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (section 3 of the source: theta -= lr * grad).

    With momentum mu, dampening d, weight decay wd (torch.optim.SGD):
        g = grad + wd * p
        b = g                      on the first step
        b = mu * b + (1 - d) * g   afterwards
        g = g + mu * b  if nesterov  else  b
        p = p - lr * g
    NOTE: this is torch's form, where lr multiplies the velocity, not Sutskever et al.'s
    v = mu v - lr g; the two agree for a constant lr but differ when the lr changes.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p, g in self._params_with_grad(group):
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * p.data
                if mu:
                    state = self._state(p)
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(g, dtype=p.data.dtype)
                    else:
                        buf *= mu
                        buf += (1 - damp) * g
                    g = g + mu * buf if nesterov else buf
                # in place: p -= lr * g
                p.data -= (lr * g).astype(p.data.dtype, copy=False)
