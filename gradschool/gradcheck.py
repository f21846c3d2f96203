"""Gradient checking: is the engine's backward right? Ask the definition of the derivative.

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        (central difference)

That formula needs nothing but the forward pass, so it is an independent witness for every
hand-written backward in `engine/tensor.py` (and for the composites built from them). Its error
is O(eps^2) from the Taylor series plus O(machine_eps / eps) from rounding, which is why it is
done in float64 with eps = 1e-6: both terms are then around 1e-10.

Three levels, from one function to the whole engine:

- `numeric_grad(fn, inputs)`: the finite-difference gradient of a scalar function;
- `gradcheck(fn, inputs)`: the engine's analytic gradient beside the numeric one, as a report;
- `run_gradcheck()`: `gradcheck` over a catalogue of every engine op, one row per input, and
  `format_table(rows)` to print it (`gradschool gradcheck [op ...]`, or
  `python -m gradschool.gradcheck`).

NOTE: a finite difference only means something where the function is smooth. The catalogue
keeps inputs away from kinks (ReLU at 0, ties in max, clamp bounds); the behaviour *at* a kink
is a convention, checked against torch in the test suite instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.engine import functional as F
from gradschool.engine.tensor import Tensor, cat, stack, where
from gradschool.errors import ConfigError, GradschoolError

__all__ = [
    "GradcheckReport",
    "GradcheckRow",
    "CATALOGUE",
    "format_table",
    "gradcheck",
    "main",
    "numeric_grad",
    "run_gradcheck",
]


# ---- level 1: the numeric gradient ---------------------------------------------------------


def _scalar(value: Any) -> float:
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    if data.size != 1:
        raise ValueError(
            f"numeric_grad needs a function with a scalar output, got shape {data.shape}: "
            "reduce it first, e.g. lambda x: (f(x) * w).sum() for a fixed random w"
        )
    return float(data.reshape(()))


def numeric_grad(
    fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
) -> list[np.ndarray | None]:
    """Central-difference gradient of the scalar `fn(*inputs)` with respect to each input.

    `inputs` are arrays or Tensors; each floating one is copied to float64 and nudged one
    element at a time (2 forward passes per element). Integer inputs (class labels, indices)
    are passed through unchanged and get `None`. `fn` receives Tensors and must return a Tensor
    (or number) with one element.
    """
    arrays = [_as_input(x) for x in inputs]
    grads: list[np.ndarray | None] = []
    for x in arrays:
        if x.dtype.kind != "f":
            grads.append(None)
            continue
        grad = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            old = x[j]
            x[j] = old + eps
            up = _scalar(fn(*[Tensor(a) for a in arrays]))
            x[j] = old - eps
            down = _scalar(fn(*[Tensor(a) for a in arrays]))
            x[j] = old
            grad[j] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def _as_input(x: Any) -> np.ndarray:
    data = np.array(x.data if isinstance(x, Tensor) else x)  # always a copy
    return data.astype(np.float64) if data.dtype.kind == "f" else data


# ---- level 2: analytic beside numeric -------------------------------------------------------


@dataclass
class GradcheckRow:
    """One input of one op: how large its gradient is and how far backward is from the truth."""

    op: str
    input: str
    max_abs_grad: float  # max |analytic|
    max_abs_err: float  # max |analytic - numeric|
    rel_err: float  # max_abs_err / max(max |analytic|, max |numeric|)
    ok: bool


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow]
    analytic: list[np.ndarray | None]
    numeric: list[np.ndarray | None]

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
    name: str = "fn",
) -> GradcheckReport:
    """Compare the engine's gradient of `fn(*inputs)` with central differences, in float64.

    A non-scalar output y is reduced to L = sum(w * y) with a fixed random w, so that every
    output element matters and a gradient that is wrong in only one place still shows.
    An input passes when max |analytic - numeric| <= atol + rtol * max |numeric|.
    """
    arrays = [_as_input(x) for x in inputs]
    leaves = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*leaves)
    weight = np.random.default_rng(seed).standard_normal(out.shape)

    def loss(*xs: Tensor) -> Tensor:
        return (fn(*xs) * Tensor(weight)).sum()

    loss(*leaves).backward()
    analytic = [
        None if a.dtype.kind != "f" else (t.grad.data if t.grad is not None else np.zeros_like(a))
        for a, t in zip(arrays, leaves)
    ]
    numeric = numeric_grad(loss, arrays, eps)
    rows = []
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if a is None or n is None:
            continue
        err = float(np.max(np.abs(a - n), initial=0.0))
        scale = float(max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0)))
        ok = bool(np.isfinite(err)) and err <= atol + rtol * float(np.max(np.abs(n), initial=0))
        rows.append(
            GradcheckRow(
                op=name,
                input=f"x{i} {tuple(a.shape)}",
                max_abs_grad=float(np.max(np.abs(a), initial=0.0)),
                max_abs_err=err,
                rel_err=err / scale if scale else 0.0,
                ok=ok,
            )
        )
    return GradcheckReport(rows, analytic, numeric)


# ---- level 3: the catalogue -----------------------------------------------------------------
# Each entry builds (fn, inputs) from a random generator: small float64 inputs, kept where the
# op is smooth (log of positive numbers, relu away from 0, max without ties...).


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform in [-2, -0.5] U [0.5, 2]: far enough from 0 for relu, abs, division."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with no ties (a shuffled grid), so that max has a unique winner everywhere."""
    n = int(np.prod(shape))
    return (rng.permutation(n) / n * 4 - 2).reshape(shape) + 0.01


def _normal(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.standard_normal(s) for s in shapes]


def _labels(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    return rng.integers(0, classes, n)


Case = Callable[[np.random.Generator], tuple[Callable[..., Any], list[np.ndarray]]]

CATALOGUE: dict[str, Case] = {
    # elementwise arithmetic, with broadcasting
    "add": lambda r: (lambda a, b: a + b, _normal(r, (3, 1), (1, 4))),
    "sub": lambda r: (lambda a, b: a - b, _normal(r, (2, 3), (3,))),
    "mul": lambda r: (lambda a, b: a * b, _normal(r, (2, 3, 4), (3, 1))),
    "div": lambda r: (lambda a, b: a / b, [r.standard_normal((3, 4)), _away_from_zero(r, (4,))]),
    "neg": lambda r: (lambda a: -a, _normal(r, (3, 4))),
    "pow": lambda r: (lambda a: a**3, _normal(r, (3, 4))),
    "pow_frac": lambda r: (lambda a: a**1.5, [r.uniform(0.5, 2.0, (3, 4))]),
    "rpow": lambda r: (lambda a: 2.0**a, _normal(r, (3, 4))),
    "rsub_rdiv": lambda r: (lambda a: (2 - a) + 2 / a, [_away_from_zero(r, (3, 4))]),
    # matrix multiplication
    "matmul": lambda r: (lambda a, b: a @ b, _normal(r, (3, 4), (4, 5))),
    "matmul_batched": lambda r: (lambda a, b: a @ b, _normal(r, (2, 1, 3, 4), (3, 4, 2))),
    "matmul_vec_mat": lambda r: (lambda a, b: a @ b, _normal(r, (4,), (4, 3))),
    "matmul_mat_vec": lambda r: (lambda a, b: a @ b, _normal(r, (3, 4), (4,))),
    # elementwise functions
    "exp": lambda r: (lambda a: a.exp(), _normal(r, (3, 4))),
    "log": lambda r: (lambda a: a.log(), [r.uniform(0.5, 3.0, (3, 4))]),
    "tanh": lambda r: (lambda a: a.tanh(), _normal(r, (3, 4))),
    "relu": lambda r: (lambda a: a.relu(), [_away_from_zero(r, (3, 4))]),
    "erf": lambda r: (lambda a: a.erf(), _normal(r, (3, 4))),
    "clone": lambda r: (lambda a: a.clone(), _normal(r, (3,))),
    # selection
    "maximum": lambda r: (lambda a, b: a.maximum(b), _normal(r, (3, 4), (4,))),
    "minimum": lambda r: (lambda a, b: a.minimum(b), _normal(r, (3, 4), (3, 1))),
    "where": lambda r: (
        (lambda c: lambda a, b: where(c, a, b))(r.random((3, 4)) > 0.5),
        _normal(r, (3, 4), (4,)),
    ),
    "masked_fill": lambda r: (
        (lambda m: lambda a: a.masked_fill(m, -1.0))(r.random((3, 4)) > 0.5),
        _normal(r, (3, 4)),
    ),
    "clamp": lambda r: (lambda a: a.clamp(-1.0, 1.0), [r.uniform(-2, 2, (4, 5)).round(1) + 0.05]),
    # reductions
    "sum": lambda r: (lambda a: a.sum(dim=(0, 2), keepdim=True), _normal(r, (2, 3, 4))),
    "mean": lambda r: (lambda a: a.mean(dim=1), _normal(r, (2, 3, 4))),
    "amax": lambda r: (lambda a: a.amax(dim=-1), [_distinct(r, (3, 5))]),
    "max_dim": lambda r: (lambda a: a.max(dim=1).values, [_distinct(r, (3, 5))]),
    # shapes and indexing
    "reshape": lambda r: (lambda a: a.reshape(4, 6), _normal(r, (2, 3, 4))),
    "permute": lambda r: (lambda a: a.permute(2, 0, 1), _normal(r, (2, 3, 4))),
    "transpose": lambda r: (lambda a: a.transpose(0, 1), _normal(r, (2, 3))),
    "expand": lambda r: (lambda a: a.expand(2, 3, 4), _normal(r, (3, 1))),
    "index_slice": lambda r: (lambda a: a[1:, ::-2], _normal(r, (3, 5))),
    "index_array": lambda r: (lambda a: a[np.array([0, 2, 0, 0])], _normal(r, (3, 4))),
    "index_mask": lambda r: (
        (lambda m: lambda a: a[m])(r.random((3, 4)) > 0.5),
        _normal(r, (3, 4)),
    ),
    "gather": lambda r: (
        (lambda i: lambda a: a.gather(1, i))(r.integers(0, 4, (3, 6))),
        _normal(r, (3, 4)),
    ),
    "cat": lambda r: (lambda a, b: cat([a, b], dim=1), _normal(r, (2, 3), (2, 2))),
    "stack": lambda r: (lambda a, b: stack([a, b], dim=1), _normal(r, (2, 3), (2, 3))),
    # composites (functional.py): their gradients come from the primitives above
    "sigmoid": lambda r: (F.sigmoid, _normal(r, (3, 4))),
    "gelu": lambda r: (F.gelu, _normal(r, (3, 4))),
    "gelu_tanh": lambda r: (lambda a: F.gelu(a, approximate="tanh"), _normal(r, (3, 4))),
    "softmax": lambda r: (lambda a: F.softmax(a, dim=1), _normal(r, (3, 5))),
    "log_softmax": lambda r: (lambda a: F.log_softmax(a, dim=0), _normal(r, (3, 5))),
    "cross_entropy": lambda r: (
        (lambda y: lambda a: F.cross_entropy(a, Tensor(y), label_smoothing=0.1))(_labels(r, 4, 5)),
        _normal(r, (4, 5)),
    ),
    "nll_loss": lambda r: (
        (lambda y: lambda a: F.nll_loss(a, Tensor(y), reduction="sum"))(_labels(r, 4, 5)),
        _normal(r, (4, 5)),
    ),
    "mse_loss": lambda r: (F.mse_loss, _normal(r, (3, 4), (3, 4))),
    "l1_loss": lambda r: (
        lambda a, b: F.l1_loss(a, b),
        (lambda b: [b + _away_from_zero(r, (3, 4)), b])(r.standard_normal((3, 4))),
    ),
    "linear": lambda r: (F.linear, _normal(r, (2, 4), (3, 4), (3,))),
    # the transformer's pieces (engine/transformer.py): embedding is a primitive
    "embedding": lambda r: (
        (lambda i: lambda w: F.embedding(i, w))(r.integers(0, 5, (2, 6))),
        _normal(r, (5, 3)),
    ),
    "layer_norm": lambda r: (
        lambda x, w, b: F.layer_norm(x, 4, w, b),
        _normal(r, (2, 3, 4), (4,), (4,)),
    ),
    "attention_causal": lambda r: (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        _normal(r, (1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)),
    ),
    # images (engine/conv.py): sliding_windows (im2col) is a primitive, the rest composites
    "conv2d": lambda r: (
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        _normal(r, (2, 2, 5, 5), (3, 2, 3, 3), (3,)),
    ),
    "max_pool2d": lambda r: (lambda x: F.max_pool2d(x, 3, 2, 1), [_distinct(r, (1, 2, 5, 5))]),
    "avg_pool2d": lambda r: (lambda x: F.avg_pool2d(x, 2), _normal(r, (1, 2, 4, 5))),
    "batch_norm": lambda r: (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        _normal(r, (3, 2, 2, 2), (2,), (2,)),
    ),
}


def run_gradcheck(
    ops: Sequence[str] | None = None, seed: int = 0, eps: float = 1e-6
) -> list[GradcheckRow]:
    """`gradcheck` every op of the catalogue (or the named ones): one row per input."""
    names = list(CATALOGUE) if ops is None else list(ops)
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise ConfigError(
            f"unknown op(s) {unknown} for gradcheck; the catalogue has: {', '.join(CATALOGUE)}"
        )
    rows: list[GradcheckRow] = []
    for k, name in enumerate(names):
        rng = np.random.default_rng([seed, k])
        fn, inputs = CATALOGUE[name](rng)
        rows.extend(gradcheck(fn, inputs, eps=eps, seed=seed, name=name).rows)
    return rows


def format_table(rows: Sequence[GradcheckRow]) -> str:
    """A plain-text table, one line per (op, input), and a summary line."""
    header = ("op", "input", "max |analytic|", "max |error|", "rel error", "")
    lines = [
        (
            r.op,
            r.input,
            f"{r.max_abs_grad:.3e}",
            f"{r.max_abs_err:.2e}",
            f"{r.rel_err:.2e}",
            "ok" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header).rstrip(), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*line).rstrip() for line in lines]
    failed = sum(not r.ok for r in rows)
    ops = len({r.op for r in rows})
    out.append(
        f"{ops} ops, {len(rows)} inputs: "
        + ("all gradients agree with finite differences" if not failed else f"{failed} FAILED")
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gradschool.gradcheck [op ...] [--seed N] [--list]`: print the table (the
    same as `gradschool gradcheck`); exit status 1 if any op fails."""
    parser = argparse.ArgumentParser(
        prog="python -m gradschool.gradcheck",
        description="Check every engine op's backward against central finite differences.",
    )
    parser.add_argument("ops", nargs="*", help="op names from the catalogue (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random inputs seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list the catalogue's ops and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(CATALOGUE))
        return 0
    try:
        rows = run_gradcheck(args.ops or None, seed=args.seed)
    except GradschoolError as exc:
        parser.error(str(exc))
    print(format_table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
