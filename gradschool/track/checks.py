"""The cases of every step of the engine track (steps.py lists the steps).

Each `_check_<step>(ctx)` returns that step's cases, built from the kinds in cases.py. The
inputs cover random values and ties (small integers, zeros, constant patches), and shapes that
broadcast in every way NumPy allows; the first cases are the ones a common mistake fails (a
square matmul for a transposed gradient, a (3, 3) sum for a gradient on the wrong axis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradschool.track.cases import (
    composite_case,
    graph_case,
    loop_case,
    op_case,
    optim_case,
    optim_of,
    sched_case,
)
from gradschool.track.oracle import KINDS, Context, Fn, make, seed_of, shapes_text
from gradschool.track.results import Case, fmt_shape
from gradschool.track.steps import Step

_BINARY_SHAPES = [
    ((4, 3), (4, 3)),
    ((4, 3), (3,)),
    ((4, 3), (4, 1)),
    ((3,), (4, 3)),
    ((1, 3), (4, 1)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 1, 3), (4, 1)),
]


def _binary(ctx: Context, symbol: str, fn: Fn) -> list[Case]:
    rng = np.random.default_rng(seed_of(symbol))
    cases = []
    for i, (sa, sb) in enumerate(_BINARY_SHAPES):
        kind = KINDS[i % len(KINDS)]
        inputs = [make(sa, kind, rng), make(sb, "random" if kind == "zeros" else kind, rng)]
        a_txt, b_txt = shapes_text(inputs, ("a", "b"))
        cases.append(op_case(ctx, f"{a_txt} {symbol} {b_txt}, {kind}", fn, inputs))
    # one input without requires_grad, and a Python number as the other operand
    a, b = make((3, 4), "random", rng), make((4,), "small integers", rng)
    cases.append(
        op_case(
            ctx, f"a (3, 4) {symbol} b (4,), b without requires_grad", fn, [a, b], [True, False]
        )
    )
    scalar: Fn = (lambda s, x: x + 2.5) if symbol == "+" else (lambda s, x: x * 2.5)
    cases.append(op_case(ctx, f"a (2, 3) {symbol} 2.5", scalar, [a[:2, :3].copy()], names=("a",)))
    # a tensor meeting itself: both inputs are the same node
    same: Fn = (lambda s, x: x + x) if symbol == "+" else (lambda s, x: x * x)
    cases.append(op_case(ctx, f"a (3, 4) {symbol} a (the same tensor)", same, [a], names=("a",)))
    return cases


def _check_add(ctx: Context) -> list[Case]:
    return _binary(ctx, "+", lambda s, a, b: a + b)


def _check_mul(ctx: Context) -> list[Case]:
    return _binary(ctx, "*", lambda s, a, b: a * b)


def _check_matmul(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("matmul"))
    shapes = [
        ((4, 4), (4, 4)),  # square first: a transposed gradient still has the right shape
        ((3, 4), (4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((3, 4), (2, 4, 5)),
    ]
    cases = []
    for i, (sa, sb) in enumerate(shapes):
        kind = KINDS[i % len(KINDS)]
        inputs = [make(sa, kind, rng), make(sb, "random" if kind == "zeros" else kind, rng)]
        a_txt, b_txt = shapes_text(inputs, ("a", "b"))
        cases.append(op_case(ctx, f"{a_txt} @ {b_txt}, {kind}", lambda s, a, b: a @ b, inputs))
    a, b = make((3, 4), "random", rng), make((4, 2), "random", rng)
    cases.append(
        op_case(
            ctx,
            "a (3, 4) @ b (4, 2), a without requires_grad",
            lambda s, a, b: a @ b,
            [a, b],
            [False, True],
        )
    )
    return cases


def _unary(ctx: Context, name: str, fn: Fn, positive: bool = False, **kw: Any) -> list[Case]:
    rng = np.random.default_rng(seed_of(name))
    shapes = [(3, 4), (2, 3, 4), (5,), (3, 4), ()]
    cases = []
    for i, shape in enumerate(shapes):
        kind = KINDS[i % len(KINDS)]
        x = make(shape, kind, rng, positive=positive)
        shown = "ones" if positive and kind == "zeros" else kind  # log needs x > 0
        label = f"{name}(x), x {fmt_shape(shape)}, {shown}"
        cases.append(op_case(ctx, label, fn, [x], names=("x",), **kw))
    return cases


def _check_exp(ctx: Context) -> list[Case]:
    cases = _unary(ctx, "exp", lambda s, x: x.exp())
    x = np.array([[-30.0, -1.0, 0.0], [1.0, 3.0, 5.0]])
    cases.append(
        op_case(ctx, "exp(x), x (2, 3) from -30 to 5", lambda s, x: x.exp(), [x], names=("x",))
    )
    return cases


def _check_log(ctx: Context) -> list[Case]:
    cases = _unary(ctx, "log", lambda s, x: x.log(), positive=True)
    x = np.array([[1e-3, 0.5, 1.0], [2.0, 10.0, 1e3]])
    cases.append(
        op_case(ctx, "log(x), x (2, 3) from 1e-3 to 1e3", lambda s, x: x.log(), [x], names=("x",))
    )
    return cases


def _check_relu(ctx: Context) -> list[Case]:
    relu: Fn = lambda s, x: x.relu()  # noqa: E731
    cases = _unary(ctx, "relu", relu, kink=True, signed_zero=True)
    x = np.array([[-2.0, -0.0, 0.0, 1e-12], [3.0, 0.0, -1e-12, -5.0]])
    cases.append(
        op_case(
            ctx,
            "relu(x), x (2, 4) with exact zeros",
            relu,
            [x],
            names=("x",),
            kink=True,
            signed_zero=True,
        )
    )
    return cases


def _check_sum(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("sum"))
    specs: list[tuple[tuple[int, ...], Any, bool]] = [
        ((3, 4), None, False),
        ((3, 4), 0, False),
        ((3, 3), 0, False),  # square: g broadcast along the wrong axis has the right shape
        ((3, 4), 1, True),
        ((3, 4), -1, False),
        ((2, 3, 4), (0, 2), False),
        ((2, 3, 4), (0, -1), True),
        ((2, 3, 4), 1, False),
        ((), None, False),
        ((5,), 0, True),
    ]
    cases = []
    for i, (shape, dim, keep) in enumerate(specs):
        kind = KINDS[i % len(KINDS)]
        x = make(shape, kind, rng)
        if dim is None:
            fn: Fn = lambda s, x: x.sum()  # noqa: E731
            text = "x.sum()"
        else:
            fn = lambda s, x, d=dim, k=keep: x.sum(dim=d, keepdim=k)  # noqa: E731
            text = f"x.sum(dim={dim}, keepdim={keep})"
        cases.append(op_case(ctx, f"{text}, x {fmt_shape(shape)}, {kind}", fn, [x], names=("x",)))
    return cases


def _deep(s: Any, x: Any) -> Any:
    for _ in range(2000):
        x = -x
    return x**2


def _check_backward(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("backward"))
    x, y = make((3, 4), "random", rng), make((3, 4), "small integers", rng)
    c = make((3, 4), "constant patches", rng)
    graphs: list[tuple[str, Fn, list[np.ndarray], tuple[str, ...]]] = [
        ("a chain: ((x ** 2).tanh()) ** 3", lambda s, x: ((x**2).tanh()) ** 3, [x], ("x",)),
        (
            "a diamond: t = x.tanh(); cat([t ** 2, (-t).tanh()])",
            lambda s, x: s.cat([x.tanh() ** 2, (-(x.tanh())).tanh()]),
            [x],
            ("x",),
        ),
        (
            "one node used four times: t = x.tanh(); cat([t, t, t ** 2, -t])",
            lambda s, x: (lambda t: s.cat([t, t, t**2, -t]))(x.tanh()),
            [x],
            ("x",),
        ),
        (
            "paths of different lengths: t = x.tanh(); cat([t, t.tanh().tanh(), x ** 3])",
            lambda s, x: (lambda t: s.cat([t, t.tanh().tanh(), x**3]))(x.tanh()),
            [x],
            ("x",),
        ),
        (
            "two leaves and a shared node: cat([x.tanh(), (x.tanh() ** 2).T, y ** 2 ...])",
            lambda s, x, y: (lambda t: s.cat([t, (t**2).T.T, (y**2).tanh(), -(t**3)]))(x.tanh()),
            [x, y],
            ("x", "y"),
        ),
        ("a chain 2000 ops deep: -(-(...-x)) ** 2", _deep, [c], ("x",)),
    ]
    cases = [graph_case(ctx, label, fn, inputs, names) for label, fn, inputs, names in graphs]
    const = make((3, 4), "random", rng)
    cases.append(
        graph_case(
            ctx,
            "a constant (no requires_grad) in the graph: cat([x.tanh(), c.tanh()])",
            lambda s, x, k=const: s.cat([x.tanh(), s.tensor(k).tanh() ** 2]),
            [x],
            ("x",),
        )
    )
    return cases


def _check_softmax(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("softmax"))
    modules = [ctx.module("functional")]
    big = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, 5.0], [1e3, 1e3, 1e3]])
    specs = [((3, 5), -1, "random"), ((4, 3), 0, "small integers"), ((2, 3, 4), 1, "zeros")]
    specs += [((3, 4), -1, "constant patches")]
    cases = []
    for name in ("softmax", "log_softmax"):
        for shape, dim, kind in specs:
            x = make(shape, kind, rng)
            fn: Fn = lambda s, x, n=name, d=dim: getattr(s.F, n)(x, dim=d)  # noqa: E731
            cases.append(
                composite_case(
                    ctx,
                    f"{name}(x, dim={dim}), x {fmt_shape(shape)}, {kind}",
                    fn,
                    [x],
                    [True],
                    ("x",),
                    modules,
                )
            )
        fn = lambda s, x, n=name: getattr(s.F, n)(x, dim=1)  # noqa: E731
        cases.append(
            composite_case(
                ctx,
                f"{name}(x, dim=1), x (3, 3) with logits of +-1000",
                fn,
                [big],
                [True],
                ("x",),
                modules,
            )
        )
    target = np.array([0, 3, 3, 1, 2, 0], dtype=np.int64)  # repeated classes
    for kind, reduction, smoothing in [
        ("random", "mean", 0.0),
        ("small integers", "sum", 0.0),
        ("constant patches", "none", 0.0),
        ("zeros", "mean", 0.0),
        ("random", "mean", 0.1),
        ("small integers", "none", 0.2),
    ]:
        x = make((6, 4), kind, rng)
        fn = lambda s, x, t, r=reduction, e=smoothing: s.F.cross_entropy(  # noqa: E731
            x, t, reduction=r, label_smoothing=e
        )
        label = f"cross_entropy(x (6, 4), target (6,), reduction={reduction!r}"
        label += f", label_smoothing={smoothing}), {kind}" if smoothing else f"), {kind}"
        cases.append(
            composite_case(ctx, label, fn, [x, target], [True, False], ("x", "target"), modules)
        )
    big_ce = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 1e3]])
    cases.append(
        composite_case(
            ctx,
            "cross_entropy(x (2, 3) with logits of +-1000, target (2,))",
            lambda s, x, t: s.F.cross_entropy(x, t),
            [big_ce, np.array([1, 0])],
            [True, False],
            ("x", "target"),
            modules,
        )
    )
    return cases


def _check_sgd(ctx: Context) -> list[Case]:
    specs = [
        ("SGD(lr=0.1)", {"lr": 0.1}),
        ("SGD(lr=0.05, momentum=0.9): the seed's optimizer", {"lr": 0.05, "momentum": 0.9}),
        (
            "SGD(lr=0.05, momentum=0.9, dampening=0.5)",
            {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
        ),
        (
            "SGD(lr=0.05, momentum=0.8, nesterov=True)",
            {"lr": 0.05, "momentum": 0.8, "nesterov": True},
        ),
        (
            "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)",
            {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
        ),
    ]
    cases = []
    for label, kw in specs:
        make_opt = lambda s, ps, kw=kw: optim_of(s, ctx).SGD(ps, **kw)  # noqa: E731
        cases.append(optim_case(ctx, label, make_opt))
    groups = lambda s, ps: optim_of(s, ctx).SGD(  # noqa: E731
        [{"params": [ps[0]], "lr": 0.2}, {"params": [ps[1]], "momentum": 0.5}],
        lr=0.05,
        momentum=0.9,
    )
    cases.append(optim_case(ctx, "SGD with two parameter groups (lr 0.2; momentum 0.5)", groups))
    return cases


def _check_adam(ctx: Context) -> list[Case]:
    specs = [
        ("Adam(lr=0.01)", "Adam", {"lr": 0.01}),
        (
            "Adam(lr=0.05, betas=(0.8, 0.95), eps=1e-6)",
            "Adam",
            {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6},
        ),
        (
            "Adam(lr=0.01, weight_decay=0.1): L2 in the gradient",
            "Adam",
            {"lr": 0.01, "weight_decay": 0.1},
        ),
        ("AdamW(lr=0.01, weight_decay=0.1): decoupled", "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
        ("Adam(lr=0.02, amsgrad=True)", "Adam", {"lr": 0.02, "amsgrad": True}),
    ]
    cases = []
    for label, cls, kw in specs:
        make_opt = lambda s, ps, c=cls, kw=kw: getattr(optim_of(s, ctx), c)(ps, **kw)  # noqa: E731
        cases.append(optim_case(ctx, label, make_opt, steps=15))
    return cases


def _check_schedule(ctx: Context) -> list[Case]:
    specs = [
        ("StepLR(step_size=3, gamma=0.5)", "StepLR", {"step_size": 3, "gamma": 0.5}),
        ("StepLR(step_size=1, gamma=0.9)", "StepLR", {"step_size": 1, "gamma": 0.9}),
        ("ExponentialLR(gamma=0.9)", "ExponentialLR", {"gamma": 0.9}),
        (
            "PolynomialLR(total_iters=10, power=1): the seed's 'exponential decay'",
            "PolynomialLR",
            {"total_iters": 10, "power": 1.0},
        ),
        (
            "PolynomialLR(total_iters=12, power=2)",
            "PolynomialLR",
            {"total_iters": 12, "power": 2.0},
        ),
        (
            "PolynomialLR(total_iters=7, power=0.5)",
            "PolynomialLR",
            {"total_iters": 7, "power": 0.5},
        ),
        (
            "LinearLR(start_factor=1/3, end_factor=1, total_iters=5): a warm-up",
            "LinearLR",
            {"start_factor": 1 / 3, "end_factor": 1.0, "total_iters": 5},
        ),
        (
            "LinearLR(start_factor=1, end_factor=0.1, total_iters=8): a linear decay",
            "LinearLR",
            {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 8},
        ),
    ]
    cases = [sched_case(ctx, label, cls, kw) for label, cls, kw in specs]
    cases.append(
        sched_case(
            ctx,
            "StepLR(step_size=4, gamma=0.3), two groups (lr 0.1 and 0.02)",
            "StepLR",
            {"step_size": 4, "gamma": 0.3},
            lrs=(0.1, 0.02),
        )
    )
    cases.append(
        sched_case(
            ctx,
            "PolynomialLR(total_iters=6, power=3), two groups",
            "PolynomialLR",
            {"total_iters": 6, "power": 3.0},
            lrs=(0.5, 0.01),
        )
    )
    return cases


def _check_loop(ctx: Context) -> list[Case]:
    quiet = {"progress": "off", "log_every": 0}
    return [
        loop_case(
            ctx,
            "the seed's recipe (784-128-64-10, SGD lr 0.01 momentum 0.9, batch 64), 2 epochs "
            "of 256 examples",
            {"data": {"batch_size": 64}, "train": {"epochs": 2, **quiet}},
            256,
        ),
        loop_case(
            ctx,
            "Adam lr 0.003, batch 48 (the last batch smaller), 3 epochs of 200 examples",
            {
                "data": {"batch_size": 48},
                "optim": {"name": "adam", "lr": 0.003},
                "train": {"epochs": 3, "seed": 7, **quiet},
            },
            200,
        ),
    ]


def _check_conv2d(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("conv2d"))
    specs = [
        # x shape, weight shape, bias, stride, padding, kind
        ((2, 3, 6, 6), (4, 3, 3, 3), True, 1, 0, "random"),
        ((2, 3, 6, 6), (4, 3, 3, 3), True, 2, 1, "small integers"),
        ((1, 2, 5, 7), (3, 2, 2, 3), False, (2, 1), (1, 0), "random"),
        ((2, 2, 5, 5), (2, 2, 1, 1), True, 1, 0, "constant patches"),
        ((1, 1, 5, 5), (2, 1, 5, 5), True, 1, 0, "random"),
        ((2, 1, 4, 4), (2, 1, 3, 3), True, 1, 1, "zeros"),
    ]
    cases = []
    for xs, ws, bias, stride, padding, kind in specs:
        x = make(xs, kind, rng)
        w = make(ws, "random" if kind == "zeros" else kind, rng)
        inputs, names = [x, w], ("x", "weight", "bias")[: 2 + bool(bias)]
        if bias:
            inputs.append(make((ws[0],), "random", rng))
        fn: Fn = lambda s, *t, st=stride, p=padding: s.F.conv2d(  # noqa: E731
            *t, stride=st, padding=p
        )
        label = f"conv2d(x {fmt_shape(xs)}, weight {fmt_shape(ws)}"
        label += f", bias ({ws[0]},)" if bias else ", no bias"
        label += f", stride={stride}, padding={padding}), {kind}"
        cases.append(
            composite_case(
                ctx, label, fn, inputs, [True] * len(inputs), names, [ctx.module("conv")]
            )
        )
    return cases


def _check_attention(ctx: Context) -> list[Case]:
    rng = np.random.default_rng(seed_of("attention"))
    modules = [ctx.module("functional")]
    causal_keep = np.tril(np.ones((4, 6), dtype=bool)) | (rng.random((4, 6)) < 0.3)
    specs: list[tuple[str, tuple, tuple, str, dict]] = [
        ("causal", (2, 2, 5, 4), (2, 2, 5, 4), "random", {"is_causal": True}),
        ("causal", (2, 5, 4), (2, 5, 4), "small integers", {"is_causal": True}),
        ("no mask", (2, 2, 3, 4), (2, 2, 6, 4), "random", {}),
        (
            "causal, scale=0.3",
            (1, 2, 4, 3),
            (1, 2, 4, 3),
            "constant patches",
            {"is_causal": True, "scale": 0.3},
        ),
        (
            "causal, query of zeros (uniform weights)",
            (2, 1, 5, 4),
            (2, 1, 5, 4),
            "zeros",
            {"is_causal": True},
        ),
        ("a boolean mask", (2, 4, 3), (2, 6, 3), "random", {"attn_mask": causal_keep}),
        ("a float mask", (2, 4, 3), (2, 6, 3), "random", {"attn_mask": rng.uniform(-2, 0, (4, 6))}),
    ]
    cases = []
    for what, qs, ks, kind, kw in specs:
        q = make(qs, kind, rng)
        k = make(ks, "random" if kind == "zeros" else kind, rng)
        v = make(ks[:-1] + (qs[-1] + 1,), "random", rng)
        fn: Fn = lambda s, q, k, v, kw=kw: s.F.scaled_dot_product_attention(  # noqa: E731
            q, k, v, **_mask_for(s, kw)
        )
        label = (
            f"attention, {what}: q {fmt_shape(qs)}, k {fmt_shape(ks)}, "
            f"v {fmt_shape(v.shape)}, {kind}"
        )
        cases.append(
            composite_case(ctx, label, fn, [q, k, v], [True] * 3, ("q", "k", "v"), modules)
        )
    return cases


def _mask_for(side: Any, kw: dict) -> dict:
    """A mask as each engine takes it (a torch tensor for torch, a Tensor for the engines)."""
    if "attn_mask" not in kw:
        return kw
    mask = kw["attn_mask"]
    return {**kw, "attn_mask": side.tensor(mask)}


_CHECKS: dict[str, Callable[[Context], list[Case]]] = {
    "add": _check_add,
    "mul": _check_mul,
    "matmul": _check_matmul,
    "exp": _check_exp,
    "log": _check_log,
    "relu": _check_relu,
    "sum": _check_sum,
    "backward": _check_backward,
    "softmax": _check_softmax,
    "sgd": _check_sgd,
    "adam": _check_adam,
    "schedule": _check_schedule,
    "loop": _check_loop,
    "conv2d": _check_conv2d,
    "attention": _check_attention,
}


def cases_for(step: Step, ctx: Context) -> list[Case]:
    return _CHECKS[step.name](ctx)
