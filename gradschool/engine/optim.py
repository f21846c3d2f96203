"""Optimizers: how a gradient becomes a step, shaped like `torch.optim`.

    SGD       theta -= lr * grad, with momentum / Nesterov (the seed's section 3 and 4)
    Adagrad   divide by the root of the sum of all squared gradients so far
    RMSprop   divide by the root of a running average of squared gradients
    Adam      momentum + RMSprop + bias correction; AdamW decays the weights separately

Every optimizer here follows the update rule of its torch counterpart line for line (the
tests run both side by side for 50 steps in float64 and compare the weights to 1e-10), with
the same hyper-parameters, defaults, parameter groups and state_dict layout, so the formulas
in each `step` are the ones torch documents. docs/optimization.md explains when to use which.

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


def _check(ok: bool, message: str) -> None:
    """Every optimizer checks its hyper-parameters this way, with torch's own message
    ("Invalid epsilon value: -1"), so a bad value fails the same on both engines."""
    if not ok:
        raise ValueError(message)


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
        _check(lr >= 0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _check(
            not nesterov or (momentum > 0 and dampening == 0),
            "Nesterov momentum requires a momentum and zero dampening",
        )
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
            # NOTE: plain Python floats. A schedule may leave a NumPy float64 rate in the group,
            # and float64 scalar * float32 array is a float64 array in NumPy 2: a needless
            # promotion (and a cast back) over every weight, every step.
            lr, mu, damp = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            wd, nesterov = float(group["weight_decay"]), group["nesterov"]
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
                        buf += g if damp == 0 else (1 - damp) * g  # (1 - 0) * g is g: one pass
                    g = g + mu * buf if nesterov else buf
                # in place: p -= lr * g (float32 stays float32: lr is a Python float)
                p.data -= lr * g


# ---- adaptive methods: a step size for every weight ----------------------------------------------
#
# SGD moves every weight with the same rate. The methods below keep running statistics of each
# weight's gradient and divide the step by the root of its (averaged) square, so a weight whose
# gradients are large takes smaller steps and one whose gradients are small takes larger ones.
# NOTE: every state array is updated in place (`+=`, `*=`), as torch's `mul_` / `add_` do; the
# formulas in the docstrings are what those lines compute.


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan and Singer, 2011): divide by the root of all squared gradients so far.

        g   = grad + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s   = s + g * g                     (s starts at initial_accumulator_value)
        p   = p - clr * g / (sqrt(s) + eps)

    The sum only grows, so the effective rate only falls: fine for convex problems and sparse
    features, often too fast a decay for deep networks (which is why RMSprop and Adam average).
    NOTE: like torch, the state (step and sum) is created for every parameter at construction.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        _check(lr >= 0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _check(
            initial_accumulator_value >= 0,
            f"Invalid initial_accumulator_value value: {initial_accumulator_value}",
        )
        _check(eps >= 0, f"Invalid epsilon value: {eps}")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self._state(p)
                state["step"] = 0.0
                state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p, g in self._params_with_grad(group):
                state = self._state(p)
                state["step"] = t = float(state["step"]) + 1
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * p.data
                clr = lr / (1 + (t - 1) * group["lr_decay"])
                state["sum"] += g * g
                p.data -= clr * g / (np.sqrt(state["sum"]) + eps)


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012): divide by a running average of g^2.

        g = grad + wd * p
        v = alpha * v + (1 - alpha) * g * g
        centered:  a = alpha * a + (1 - alpha) * g;   denom = sqrt(v - a * a) + eps
        else:                                          denom = sqrt(v) + eps
        momentum > 0:  b = momentum * b + g / denom;   p = p - lr * b
        else:          p = p - lr * g / denom

    `centered` divides by an estimate of the gradient's variance instead of its raw second
    moment. NOTE: torch adds eps *outside* the square root (Adam does too); some texts put it
    inside, which gives different numbers for small v.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        _check(lr >= 0, f"Invalid learning rate: {lr}")
        _check(eps >= 0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0, f"Invalid alpha value: {alpha}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu = group["weight_decay"], group["momentum"]
            for p, g in self._params_with_grad(group):
                state = self._state(p)
                if not state:  # first step: the state torch creates (its keys, its layout)
                    state["step"] = 0.0
                    state["square_avg"] = np.zeros_like(p.data)
                    if mu > 0:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] = float(state["step"]) + 1
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * p.data
                v = state["square_avg"]
                v *= alpha
                v += (1 - alpha) * g * g
                if group["centered"]:
                    a = state["grad_avg"]
                    a += (1 - alpha) * (g - a)  # torch's lerp: a -> alpha a + (1 - alpha) g
                    denom = np.sqrt(v - a * a) + eps
                else:
                    denom = np.sqrt(v) + eps
                if mu > 0:
                    # NOTE: a schedule (OneCycleLR) may turn momentum on after the first step.
                    b = state.setdefault("momentum_buffer", np.zeros_like(p.data))
                    b *= mu
                    b += g / denom
                    p.data -= lr * b
                else:
                    p.data -= lr * g / denom


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum on the gradient, RMSprop on its scale, both
    corrected for starting at zero.

        g  = grad + wd * p                         (L2 penalty; AdamW decays p instead)
        m  = beta1 * m + (1 - beta1) * g           first moment: a running mean of g
        v  = beta2 * v + (1 - beta2) * g * g       second moment: a running mean of g^2
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)    bias corrections
        amsgrad:  v_max = max(v_max, v), used in place of v
        p  = p - lr * m_hat / (sqrt(v_hat) + eps)

    The bias correction matters early: with beta2 = 0.999, v after one step is 0.001 g^2, and
    dividing by it uncorrected would make the first steps ~30x too large.
    `decoupled_weight_decay=True` is AdamW (torch's Adam takes the same flag).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check(lr >= 0, f"Invalid learning rate: {lr}")
        _check(eps >= 0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            # NOTE: Python floats, as in SGD: a NumPy float64 rate would promote every pass.
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p, g in self._params_with_grad(group):
                state = self._state(p)
                if not state:
                    state["step"] = 0.0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] = t = float(state["step"]) + 1
                if group["maximize"]:
                    g = -g
                if wd:
                    if group["decoupled_weight_decay"]:
                        p.data *= 1 - lr * wd  # AdamW: shrink the weights, not the gradient
                    else:
                        g = g + wd * p.data
                # NOTE: every line below writes into `m`, `v`, `p` or one scratch array `tmp`:
                # the update of a GPT's 52 weight tensors then allocates nothing, which makes
                # the step ~15% faster than with a fresh array per operation.
                tmp = self._scratch(p.data)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                np.subtract(g, m, out=tmp)
                tmp *= 1 - beta1
                m += tmp  # torch's lerp: m -> beta1 m + (1 - beta1) g
                v *= beta2
                np.multiply(g, g, out=tmp)
                tmp *= 1 - beta2
                v += tmp  # v -> beta2 v + (1 - beta2) g^2
                if group["amsgrad"]:
                    np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                # Both corrections folded into two scalars, as torch does:
                # lr * m_hat / (sqrt(v_hat) + eps) = (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
                step_size = lr / (1 - beta1**t)
                np.sqrt(v, out=tmp)
                tmp /= (1 - beta2**t) ** 0.5
                tmp += eps  # the denominator
                np.divide(m, tmp, out=tmp)
                tmp *= step_size
                p.data -= tmp

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A scratch array shaped and typed like `like`: a view of one buffer per dtype, kept
        between steps and grown to the largest parameter."""
        buffers = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(like.dtype)
        if buf is None or buf.size < like.size:
            buf = buffers[like.dtype] = np.empty(like.size, dtype=like.dtype)
        return buf[: like.size].reshape(like.shape)


class AdamW(Adam):
    """AdamW (Loshchilov and Hutter, 2019): Adam with *decoupled* weight decay.

        p = p * (1 - lr * wd)      before the Adam step, instead of adding wd * p to g

    With Adam's L2 penalty, the decay term passes through the division by sqrt(v), so weights
    with large gradients are barely decayed; decoupling decays every weight at the same rate.
    NOTE: the default weight_decay is 1e-2 here (torch's too), 0 for Adam.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
