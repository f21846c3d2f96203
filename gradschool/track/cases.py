"""The kinds of case the grader runs, each a closure that raises CaseFailed on a mismatch.

    op_case         a primitive: the learner's forward, then the backward called on the node
                    it made (`out._backward(g)`), without the learner's topological sort
    composite_case  softmax, cross-entropy, conv2d, attention: the learner's function on
                    gradschool's Tensors (`on_reference_tensors`), backward through them
    graph_case      the topological sort: the order checked, then a full backward() through
                    ops that are not blanks (tanh, pow, neg, cat, transpose: no _unbroadcast)
    optim_case      an optimizer's trajectory beside the oracle's, step by step
    sched_case      a schedule's rates beside the oracle's, step by step
    loop_case       the learner's loop beside gradschool's trainer, from the same weights and
                    the same batches: the losses and the final weights

So each step is checked on its own, and a mistake in one never shows up as another's failure.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from gradschool.track.oracle import TOL, Context, EngineSide, Fn, TorchSide, expected, make, seed_of
from gradschool.track.results import Case, CaseFailed, compare, fmt_shape

# ---- primitives and composites ---------------------------------------------------------------


def _total(parts: list[Any]) -> Any:
    """A node's gradient when it is several parents of one op (x + x): the sum of its parts.
    A part that is not an array of the common shape is returned as it is, for compare()."""
    arrays: list[Any] = [p for p in parts if isinstance(p, (np.ndarray, np.generic, float, int))]
    if len(arrays) < len(parts) or len({np.shape(p) for p in arrays}) > 1:
        return next((p for p in parts if not any(p is a for a in arrays)), parts[0])
    return sum(arrays[1:], np.asarray(arrays[0]))


def op_case(
    ctx: Context,
    label: str,
    fn: Fn,
    inputs: list[np.ndarray],
    requires: list[bool] | None = None,
    names: tuple[str, ...] = ("a", "b"),
    kink: bool = False,
    signed_zero: bool = False,
) -> Case:
    """A primitive op: the learner's forward, then its backward called on the output node."""
    requires = [True] * len(inputs) if requires is None else requires
    seed = seed_of(label)

    def run() -> None:
        exp_out, exp_grads, w = expected(ctx, fn, inputs, requires, seed, kink)
        side = ctx.learner
        xs = [side.tensor(a.copy(), r) for a, r in zip(inputs, requires)]
        out = fn(side, *xs)
        if not isinstance(out, side.T.Tensor):
            raise CaseFailed("forward", "structure", expected="a Tensor", got=type(out).__name__)
        atol, rtol = ctx.tol
        compare("forward", out.data, exp_out, atol, rtol)
        if signed_zero and np.any(np.signbit(out.data) & (out.data == 0) & ~np.signbit(exp_out)):
            raise CaseFailed(
                "forward",
                "value",
                expected="0.0",
                got="-0.0",
                detail="negative inputs must give +0.0, as torch's do",
            )
        if out._backward is None:
            raise CaseFailed(
                "the output",
                "structure",
                expected="a recorded op (Tensor._make(..., backward, name))",
                got="a tensor with no backward",
            )
        g = np.array(w)
        grads = out._backward(g)
        if not np.array_equal(g, w):
            raise CaseFailed(
                "g (the output's gradient)",
                "mutation",
                expected="g unchanged",
                got="g modified in place",
            )
        n = len(out._parents)
        if not isinstance(grads, (tuple, list)) or len(grads) != n:
            shape = f"a {type(grads).__name__}"
            if isinstance(grads, (tuple, list)):
                shape = f"a {type(grads).__name__} of {len(grads)}"
            raise CaseFailed(
                "backward's result",
                "structure",
                expected=f"a tuple of {n} gradient{'s' * (n > 1)}, one per input, e.g. "
                + ("(grad_a, grad_b)" if n > 1 else "(grad,)"),
                got=shape,
            )
        for x, r, name, exp in zip(xs, requires, names, exp_grads):
            if r:  # x + x: x is both parents, and its gradient is the sum of both
                mine = [grads[i] for i, p in enumerate(out._parents) if p is x]
                compare(f"gradient of {name}", _total(mine), exp, atol, rtol)

    return Case(label, run)


@contextlib.contextmanager
def on_reference_tensors(package: ModuleType, modules: list[ModuleType]) -> Iterator[None]:
    """While inside, the names `modules` imported from the learner's other modules (Tensor,
    _lift, softmax, dropout, ...) are gradschool's engine's, so a composite is checked alone."""
    prefix = package.__name__ + "."
    swapped: list[tuple[ModuleType, str, Any]] = []
    for module in modules:
        for name, value in list(vars(module).items()):
            owner = getattr(value, "__module__", None)
            if not isinstance(owner, str) or not owner.startswith(prefix):
                continue
            if owner == module.__name__:
                continue  # defined in this module: the learner's own (given or written)
            reference = importlib.import_module("gradschool.engine." + owner[len(prefix) :])
            if hasattr(reference, name):
                swapped.append((module, name, value))
                setattr(module, name, getattr(reference, name))
    try:
        yield
    finally:
        for module, name, value in swapped:
            setattr(module, name, value)


def composite_case(
    ctx: Context,
    label: str,
    fn: Fn,
    inputs: list[np.ndarray],
    requires: list[bool],
    names: tuple[str, ...],
    modules: list[ModuleType],
) -> Case:
    """A composite: the learner's function on gradschool's Tensors, backward through them."""
    seed = seed_of(label)

    def run() -> None:
        exp_out, exp_grads, w = expected(ctx, fn, inputs, requires, seed, kink=False)
        side = ctx.composites
        with on_reference_tensors(ctx.L, modules):
            xs = [side.tensor(a.copy(), r) for a, r in zip(inputs, requires)]
            out = fn(side, *xs)
            if not isinstance(out, side.T.Tensor):
                raise CaseFailed(
                    "the result", "structure", expected="a Tensor", got=type(out).__name__
                )
            atol, rtol = ctx.tol
            compare("forward", out.data, exp_out, atol, rtol)
            if any(requires) and not out.requires_grad:
                raise CaseFailed(
                    "the result",
                    "structure",
                    expected="a tensor the gradient flows through (Tensor ops)",
                    got="a tensor cut off from the graph (NumPy on .data, or a new Tensor)",
                )
            (out * side.tensor(w)).sum().backward()
        for x, r, name, exp in zip(xs, requires, names, exp_grads):
            if r:
                compare(f"gradient of {name}", side.grad(x), exp, atol, rtol)

    return Case(label, run)


def _node_name(node: Any) -> str:
    return f"'{node._op}'" if node._op else f"a leaf of shape {fmt_shape(node.shape)}"


def _check_order(order: Any, root: Any) -> None:
    if not isinstance(order, (list, tuple)):
        raise CaseFailed(
            "the order", "structure", expected="a list of tensors", got=type(order).__name__
        )
    reachable, stack = {}, [root]
    while stack:
        node = stack.pop()
        if id(node) in reachable:
            continue
        reachable[id(node)] = node
        stack.extend(p for p in node._parents if p.requires_grad)
    seen: dict[int, int] = {}
    for i, node in enumerate(order):
        if id(node) in seen:
            raise CaseFailed(
                "the order",
                "structure",
                expected="each node once",
                got=f"{_node_name(node)} listed twice",
            )
        seen[id(node)] = i
    missing = [n for key, n in reachable.items() if key not in seen]
    if missing:
        raise CaseFailed(
            "the order",
            "structure",
            expected=f"all {len(reachable)} nodes",
            got=f"{len(missing)} missing, e.g. {_node_name(missing[0])}",
        )
    for node in order:
        for parent in node._parents:
            if parent.requires_grad and seen[id(parent)] > seen[id(node)]:
                raise CaseFailed(
                    "the order",
                    "structure",
                    expected="every node after all of its parents",
                    got=f"{_node_name(node)} before its parent {_node_name(parent)}",
                )


def graph_case(ctx: Context, label: str, fn: Fn, inputs: list[np.ndarray], names: tuple) -> Case:
    requires = [True] * len(inputs)
    seed = seed_of(label)

    def run() -> None:
        exp_out, exp_grads, w = expected(ctx, fn, inputs, requires, seed, kink=False)
        side = ctx.learner
        xs = [side.tensor(a.copy(), True) for a in inputs]
        out = fn(side, *xs)
        _check_order(ctx.learner.T.topological_order(out), out)
        out.backward(np.array(w))
        atol, rtol = ctx.tol
        for x, name, exp in zip(xs, names, exp_grads):
            compare(f"gradient of {name} after backward()", side.grad(x), exp, atol, rtol)

    return Case(label, run)


def _problem(seed: int) -> tuple[list[np.ndarray], Callable[[int, np.ndarray], np.ndarray]]:
    """Two parameters and a gradient g_i(p) = A_i * p + B_i, tie-heavy: B holds zeros and
    small integers, and a quarter of the entries have A = B = 0 (a gradient always 0)."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,)]
    params = [make(shapes[0], "random", rng), make(shapes[1], "small integers", rng)]
    A = [rng.uniform(0.5, 2.0, s) for s in shapes]
    B = [make(shapes[0], "small integers", rng), make(shapes[1], "constant patches", rng)]
    for a, b in zip(A, B):
        a.reshape(-1)[::4] = 0.0
        b.reshape(-1)[::4] = 0.0

    def grad(i: int, p: np.ndarray) -> np.ndarray:
        return A[i] * p + B[i]

    return params, grad


def _trajectory(
    side: Any,
    make_opt: Callable,
    params: list[np.ndarray],
    grad: Callable,
    steps: int,
    check: Callable | None = None,
) -> list[list[np.ndarray]]:
    ps = [side.tensor(p.copy(), True) for p in params]
    opt = make_opt(side, ps)
    out = []
    for t in range(steps):
        for i, p in enumerate(ps):
            p.grad = side.tensor(grad(i, np.array(side.data(p))))
        before = [np.array(side.data(p.grad)) for p in ps]
        opt.step()
        now = [np.array(side.data(p)) for p in ps]
        if check is not None:
            check(t, now, before, [side.data(p.grad) for p in ps])
        out.append(now)
    return out


def optim_case(ctx: Context, label: str, make_opt: Callable, steps: int = 12) -> Case:
    def run() -> None:
        params, grad = _problem(seed_of(label))
        oracle = TorchSide(ctx.torch) if ctx.torch is not None else ctx.ref
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = _trajectory(oracle, make_opt, params, grad, steps)
        names = [f"p{i} {fmt_shape(p.shape)}" for i, p in enumerate(params)]

        def check(t: int, now: list, before: list, after: list) -> None:
            for name, b, a in zip(names, before, after):
                if not np.array_equal(b, a):
                    raise CaseFailed(
                        f"the gradient of {name} in step {t + 1}",
                        "mutation",
                        expected="p.grad unchanged",
                        got="p.grad modified",
                    )
            for name, got, exp in zip(names, now, want[t]):
                compare(f"{name} after step {t + 1} of {steps}", got, exp, *TOL)

        _trajectory(ctx.learner, make_opt, params, grad, steps, check)

    return Case(label, run)


def optim_of(side: Any, ctx: Context) -> Any:
    return ctx.torch.optim if isinstance(side, TorchSide) else _engine_optim(side, ctx)


def _engine_optim(side: EngineSide, ctx: Context) -> ModuleType:
    from gradschool import engine

    return ctx.L.optim if side.T is ctx.learner.T else engine.optim


def sched_case(ctx: Context, label: str, cls: str, kw: dict, lrs: tuple = (0.1,)) -> Case:
    steps = 30

    def rates(side: Any) -> list[list[float]]:
        optim = optim_of(side, ctx)
        sched_mod = (
            ctx.torch.optim.lr_scheduler
            if isinstance(side, TorchSide)
            else (ctx.L.lr_scheduler if optim is ctx.L.optim else _ref_scheduler())
        )
        groups = [{"params": [side.tensor(np.zeros(2), True)], "lr": lr} for lr in lrs]
        opt = optim.SGD(groups, lr=lrs[0])
        sched = getattr(sched_mod, cls)(opt, **kw)
        out = [[float(g["lr"]) for g in opt.param_groups]]
        for _ in range(steps):
            opt.step()  # no gradients: changes nothing, keeps torch from warning
            sched.step()
            out.append([float(g["lr"]) for g in opt.param_groups])
        return out

    def run() -> None:
        oracle = TorchSide(ctx.torch) if ctx.torch is not None else ctx.ref
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = rates(oracle)
        got = rates(ctx.learner)
        for t, (g, e) in enumerate(zip(got, want)):
            compare(f"the learning rate at step {t}", np.array(g), np.array(e), 1e-12, 1e-10)

    return Case(label, run)


def _ref_scheduler() -> ModuleType:
    from gradschool import engine

    return engine.lr_scheduler


class _TensorLoader:
    """gradschool's DataLoader, serving engine tensors: what the seed's `trainloader` is."""

    def __init__(self, loader: Any, backend: Any) -> None:
        self.loader, self.backend = loader, backend

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for xb, yb in self.loader:  # each `for` is the next epoch, reshuffled
            yield self.backend.tensor(xb), self.backend.tensor(yb)

    def __len__(self) -> int:
        return len(self.loader)


def _synthetic(n: int, seed: int) -> Any:
    """n examples of 784 features and 10 classes (what the seed's network reads)."""
    from gradschool.data.prepare import Prepared

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return Prepared(X, y, None, None, None, None, [str(i) for i in range(10)], None, "synthetic")


def loop_case(ctx: Context, label: str, settings: dict, n: int) -> Case:
    def run() -> None:
        from gradschool.config import Config
        from gradschool.train.trainer import Trainer, fit

        config = Config.from_dict(settings)
        data = _synthetic(n, seed_of(label))
        reference = fit(config, data=data, console=False)  # gradschool's own loop
        want = np.array([row["train_loss"] for row in reference.state.history])
        trainer = Trainer(config, data=data, console=False)  # same seed: weights and batches
        loader = _TensorLoader(trainer.loader, trainer.backend)

        def criterion(outputs: Any, labels: Any) -> Any:
            return trainer.task.loss(trainer.backend.F, outputs, labels)

        epochs = config.train.epochs
        losses = ctx.L.loop.train(trainer.model, loader, trainer.optimizer, criterion, epochs)
        if not isinstance(losses, (list, tuple)) or len(losses) != epochs:
            raise CaseFailed(
                "the returned losses",
                "structure",
                expected=f"a list of {epochs} numbers (one per epoch)",
                got=repr(losses)[:60],
            )
        compare("the mean loss of each epoch", np.array(losses, dtype=float), want, 1e-6, 1e-5)
        mine = trainer.model.state_dict()
        for name, value in reference.model.state_dict().items():
            compare(f"weight {name} after {epochs} epochs", mine[name].data, value.data, 1e-6, 1e-5)

    return Case(label, run)
