"""The Tensor: a NumPy array that remembers how it was made, so it can be differentiated.

Read this file top to bottom. It is the whole of reverse-mode automatic differentiation
("backpropagation", section 3 of the source document):

1. Every operation on Tensors computes its result with NumPy (the *forward* pass) and, when a
   gradient is wanted, records its inputs (`_parents`) and a small function (`_backward`) that
   turns the gradient of the loss with respect to the output into gradients with respect to
   each input. That function is the chain rule for one operation,
   dL/dinput = dL/doutput * doutput/dinput, written right beside the forward.
2. `loss.backward()` sorts the recorded graph so that every node comes after everything it
   feeds, then walks it backwards once, handing each node's gradient to its `_backward`, and
   adding (`+=`) what comes back into the parents' gradients, because a value that is used
   twice receives gradient from both uses.

Only the *primitive* operations below carry a hand-written backward. Everything else
(softmax, cross-entropy, GELU, layer norm, attention...) is built from them in
`functional.py` and gets its gradient for free.

The surface follows PyTorch (`requires_grad`, `.grad`, `.backward()`, `.detach()`, `no_grad`),
so code written for one engine reads the same on the other. Where this engine deliberately
differs from torch, the docstring says so.
"""

from __future__ import annotations

import contextlib
import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.float32
_ERF = np.frompyfunc(math.erf, 1, 1)
# NOTE: inside class Tensor the name `float` is the method `x.float()` (as in torch), so the
# annotations there that mean a plain number say `Number`.
Number = float


# --------------------------------------------------------------------------------------------
# Gradient mode: inside `no_grad()` no graph is recorded (evaluation, optimizer updates).
# --------------------------------------------------------------------------------------------


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class _SetGradMode(contextlib.ContextDecorator):
    def __init__(self, mode: bool) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self.prev


def no_grad() -> _SetGradMode:
    """Context manager (and decorator) that stops graph recording, like `torch.no_grad()`."""
    return _SetGradMode(False)


def enable_grad() -> _SetGradMode:
    return _SetGradMode(True)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` back down to `shape`: the backward of NumPy broadcasting.

    If `b` of shape (3,) was added to `x` of shape (4, 3), each b[j] was used 4 times, so its
    gradient is the sum over those 4 uses: grad.sum(axis=0).
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _as_array(value: Any, dtype: Any = None) -> np.ndarray:
    """Data for a new Tensor: Python floats become float32 (torch's default dtype)."""
    if isinstance(value, np.ndarray):
        return value if dtype is None else value.astype(dtype, copy=False)
    array = np.asarray(value, dtype=dtype)
    if dtype is None and array.dtype == np.float64 and not isinstance(value, np.generic):
        array = array.astype(DEFAULT_DTYPE)
    return array


def lift(value: Any, like: Tensor) -> Tensor:
    """Turn the other operand of a binary op into a Tensor.

    NOTE: a Python number takes the dtype of the tensor it meets (`x * 2` stays float32), as in
    torch; NumPy alone would not always do that.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool)) and like.data.dtype.kind == "f":
        return Tensor(np.asarray(value, dtype=like.data.dtype))
    return Tensor(_as_array(value))


def _normalize_axis(dim: int | tuple[int, ...] | list[int] | None) -> int | tuple[int, ...] | None:
    return tuple(dim) if isinstance(dim, list) else dim


MaxResult = namedtuple("MaxResult", ["values", "indices"])


# --------------------------------------------------------------------------------------------
# The Tensor
# --------------------------------------------------------------------------------------------


class Tensor:
    """An n-dimensional array with an optional gradient.

    `Tensor(data, requires_grad=False, dtype=None)`: `data` is anything `np.asarray` accepts.
    Python floats become float32 (torch's default); NumPy arrays keep their dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op", "_retain")
    # NOTE: makes `np_array * tensor` call Tensor.__rmul__ instead of NumPy looping over us.
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data.data if isinstance(data, Tensor) else data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = False
        self.requires_grad_(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._backward = None
        self._op = ""
        self._retain = False

    # ---- how every op builds its output --------------------------------------------------

    @staticmethod
    def _make(data: np.ndarray, parents: tuple[Tensor, ...], backward: Any, op: str) -> Tensor:
        """The output of an op. The graph is recorded only if some input needs a gradient."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out._op, out._retain = data, None, op, False
        if _GradMode.enabled and any(p.requires_grad for p in parents):
            out.requires_grad, out._parents, out._backward = True, parents, backward
        else:
            out.requires_grad, out._parents, out._backward = False, (), None
        return out

    # ---- plain attributes ------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the op that made this tensor (torch returns a Function object); None
        for a leaf and for a result computed without a graph (under no_grad), as in torch."""
        return self._op if self._backward is not None else None

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.data.size} values is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = f", grad_fn=<{self._op}>" if self._op and self.requires_grad else ""
        grad = grad or (", requires_grad=True" if self.requires_grad else "")
        return f"tensor({np.array2string(self.data, separator=', ')}{grad})"

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"a Tensor with {self.data.size} elements cannot be converted to a Python scalar"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()."
            )
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (no copy, as in torch)."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on a non-leaf tensor after backward (leaves always keep theirs)."""
        self._retain = True

    def to(self, dtype: Any) -> Tensor:
        return self if self.data.dtype == dtype else self._cast(np.dtype(dtype))

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return Tensor(self.data.astype(np.int64))

    def contiguous(self) -> Tensor:
        return self

    # ---- comparisons give plain (non-differentiable) boolean tensors ---------------------------

    def _compare(self, other: Any, fn: Any) -> Tensor:
        return Tensor(fn(self.data, other.data if isinstance(other, Tensor) else other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    __hash__ = object.__hash__

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """The index of the largest element (along `dim`). NOTE: of the FIRST one where several
        tie, and of the first NaN if there is one, as torch (and NumPy)."""
        return Tensor(np.argmax(self.data, axis=dim, keepdims=keepdim))

    def sign(self) -> Tensor:
        """-1, 0 or 1: a constant (no gradient), as torch's sign has gradient 0 everywhere.
        NOTE: sign(NaN) is 0, as in torch (NumPy says NaN): |x| = x * sign(x) and the L1
        penalty rely on it to give torch's gradient, 0, at NaN as well as at 0."""
        out = np.sign(self.data)
        if out.dtype.kind == "f":
            out = np.where(np.isnan(out), 0, out).astype(out.dtype, copy=False)
        return Tensor(out)

    # ============================================================================================
    # Primitive ops. Each forward is followed by its backward: given g = dL/d(out), return
    # dL/d(input) for each input, in the order of `parents` (None where no gradient is needed).
    # ============================================================================================

    # ---- elementwise arithmetic (with broadcasting) -------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        a, b = self, lift(other, self)

        def backward(g: np.ndarray) -> tuple:
            # d(a+b)/da = 1, d(a+b)/db = 1; summed back over broadcast dimensions.
            return _unbroadcast(g, a.shape), _unbroadcast(g, b.shape)

        return Tensor._make(a.data + b.data, (a, b), backward, "add")

    def __sub__(self, other: Any) -> Tensor:
        a, b = self, lift(other, self)

        def backward(g: np.ndarray) -> tuple:
            return _unbroadcast(g, a.shape), _unbroadcast(-g, b.shape) if b.requires_grad else None

        return Tensor._make(a.data - b.data, (a, b), backward, "sub")

    def __mul__(self, other: Any) -> Tensor:
        a, b = self, lift(other, self)

        def backward(g: np.ndarray) -> tuple:
            # d(a*b)/da = b, d(a*b)/db = a
            ga = _unbroadcast(g * b.data, a.shape) if a.requires_grad else None
            gb = _unbroadcast(g * a.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(a.data * b.data, (a, b), backward, "mul")

    def __truediv__(self, other: Any) -> Tensor:
        a, b = self, lift(other, self)

        def backward(g: np.ndarray) -> tuple:
            # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
            ga = _unbroadcast(g / b.data, a.shape) if a.requires_grad else None
            gb = _unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(a.data / b.data, (a, b), backward, "div")

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, exponent: Number) -> Tensor:
        """`x ** p` for a number p (a tensor exponent is `exp(p * log(x))`, from primitives)."""
        if isinstance(exponent, Tensor):
            return (exponent * self.log()).exp()
        a, p = self, exponent

        def backward(g: np.ndarray) -> tuple:
            # d(x^p)/dx = p x^(p-1). NOTE: x^0 is constant; p x^(p-1) would give 0 * inf = nan
            # at x = 0, so its gradient is written as 0 outright, as torch does.
            return (g * p * a.data ** (p - 1) if p != 0 else np.zeros_like(g),)

        return Tensor._make(a.data**p, (a,), backward, "pow")

    def __radd__(self, other: Any) -> Tensor:
        return self + other

    def __rsub__(self, other: Any) -> Tensor:
        return lift(other, self) - self

    def __rmul__(self, other: Any) -> Tensor:
        return self * other

    def __rtruediv__(self, other: Any) -> Tensor:
        return lift(other, self) / self

    def __rpow__(self, base: Number) -> Tensor:
        return (self * float(np.log(base))).exp()

    # ---- matrix multiplication ---------------------------------------------------------------

    def __matmul__(self, other: Any) -> Tensor:
        """`a @ b`: 2-D, batched (leading dimensions broadcast) and 1-D, as `torch.matmul`."""
        a, b = self, lift(other, self)
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D")
        k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            rows = a.shape[-2] if a.ndim > 1 else 1
            cols = b.shape[-1] if b.ndim > 1 else 1
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and {k_b}x{cols}): "
                f"the last dimension of the left operand must equal the first (second-to-last) "
                f"dimension of the right one, got shapes {a.shape} and {b.shape}"
            )

        def backward(g: np.ndarray) -> tuple:
            # For out = A @ B: dL/dA = g @ B^T and dL/dB = A^T @ g. 1-D operands are treated as
            # a row (left) or a column (right) vector, as in the forward.
            A = a.data[None, :] if a.ndim == 1 else a.data
            B = b.data[:, None] if b.ndim == 1 else b.data
            G = g
            # NOTE: column first: for vector @ vector g is 0-d, and () -> (1,) -> (1, 1).
            if b.ndim == 1:
                G = np.expand_dims(G, -1)
            if a.ndim == 1:
                G = np.expand_dims(G, -2)
            ga = gb = None
            if a.requires_grad:
                ga = _unbroadcast(G @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
            if b.requires_grad:
                gb = _unbroadcast(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(b.shape)
            return ga, gb

        return Tensor._make(a.data @ b.data, (a, b), backward, "matmul")

    def __rmatmul__(self, other: Any) -> Tensor:
        return lift(other, self) @ self

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    # ---- elementwise functions ----------------------------------------------------------------

    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,), "exp")  # d(e^x)/dx = e^x

    def log(self) -> Tensor:
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,), "log")  # d(ln x)/dx = 1/x

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),), "tanh")

    def relu(self) -> Tensor:
        # NOTE: at exactly 0, where the kink is, the derivative is taken as 0, as torch does
        # (any value in [0, 1] is a valid subgradient there). The mask is "not x <= 0" rather
        # than "x > 0" because that is torch's test: the two differ only at NaN, which passes
        # its gradient in torch. The forward is np.maximum, not data * mask: -3.0 * False is
        # -0.0, which prints as "-0." (torch: 0.).
        mask = ~(self.data <= 0)

        def backward(g: np.ndarray) -> tuple:
            # NOTE: g first in the memory order of x (a copy) when the two differ: a CNN's
            # ReLU after its last pooling gets g through a Flatten as plain (N, C, H, W) while
            # x is channels-last, and NumPy runs an elementwise pass over two orders several
            # times slower than the copy and a straight pass (1.7 ms against 0.3 ms for the
            # MNIST CNN's (128, 64, 7, 7)). The values are the same; the gradient then reaches
            # the max-pool before it in that pool's order, as its backward wants it.
            if g.ndim > 1 and g.flags.c_contiguous != mask.flags.c_contiguous:
                g_in_order = np.empty_like(mask, dtype=g.dtype)  # the strides of mask (and x)
                g_in_order[...] = g
                g = g_in_order
            return (g * mask,)

        return Tensor._make(np.maximum(self.data, 0), (self,), backward, "relu")

    def abs(self) -> Tensor:
        """|x|, with d|x|/dx = sign(x). NOTE: at x = 0, where |x| has no derivative, the
        gradient is sign(0) = 0, torch's choice (any value in [-1, 1] is a subgradient)."""
        s = self.sign().data
        return Tensor._make(np.abs(self.data), (self,), lambda g: (g * s,), "abs")

    __abs__ = abs

    def erf(self) -> Tensor:
        """The error function, for the exact GELU. d erf(x)/dx = 2/sqrt(pi) e^(-x^2).

        NOTE: NumPy has no erf, so this calls Python's exact `math.erf` per element: correct to
        the last bit, but ~25x slower than tanh. The GPT therefore uses GELU's tanh form.
        """
        x = self.data
        out = np.asarray(_ERF(x), dtype=x.dtype)  # NOTE: asarray, as a 0-d input gives a float
        scale = 2 / np.sqrt(np.pi)
        return Tensor._make(out, (self,), lambda g: (g * scale * np.exp(-x * x),), "erf")

    def _cast(self, dtype: np.dtype) -> Tensor:
        src = self.data.dtype
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),), "to")

    def clone(self) -> Tensor:
        return Tensor._make(self.data.copy(), (self,), lambda g: (g,), "clone")

    # ---- selection ----------------------------------------------------------------------------

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max. Where the two are equal the gradient is split half and half (torch)."""
        a, b = self, lift(other, self)
        x, y = a.data, b.data

        def backward(g: np.ndarray) -> tuple:
            # NOTE: at a tie, max(a, b) has no derivative; torch's convention (and ours) gives
            # each input half of g. Elsewhere g goes to the larger one. The shares are written
            # as torch writes them: "half at a tie, else all unless smaller", which also gives
            # both inputs all of g where one is NaN. In g's dtype: a float64 share would turn a
            # float32 gradient into float64 for every op upstream.
            tie = x == y
            ga = gb = None
            if a.requires_grad:
                ga = _unbroadcast(g * np.where(tie, 0.5, ~(x < y)).astype(g.dtype), a.shape)
            if b.requires_grad:
                gb = _unbroadcast(g * np.where(tie, 0.5, ~(x > y)).astype(g.dtype), b.shape)
            return ga, gb

        return Tensor._make(np.maximum(x, y), (a, b), backward, "maximum")

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min, -max(-a, -b): the same convention, half of g to each at a tie."""
        return -((-self).maximum(-lift(other, self)))

    def masked_fill(self, mask: Any, value: Number) -> Tensor:
        return where(mask, lift(value, self), self)

    def clamp(self, min: Number | None = None, max: Number | None = None) -> Tensor:
        """Clamp to [min, max]; the gradient is 1 inside and at the bounds, 0 outside (torch).

        NOTE: at a bound the clamp has a kink (slope 1 on one side, 0 on the other); torch, and
        so this engine, passes the gradient there: the mask is min <= x <= max, inclusive. With
        min > max every output is max and no gradient passes (torch's rule too).
        """
        keep = np.ones(self.shape, dtype=bool)
        if min is not None:
            keep &= self.data >= min
        if max is not None:
            keep &= self.data <= max
        out = np.clip(self.data, min, max).astype(self.dtype, copy=False)
        return Tensor._make(out, (self,), lambda g: (g * keep,), "clamp")

    # ---- reductions ---------------------------------------------------------------------------

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        axis, shape = _normalize_axis(dim), self.shape

        def backward(g: np.ndarray) -> tuple:
            # Every input element contributed once to its sum, so each receives the sum's grad.
            if axis is not None and not keepdim:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape),)

        return Tensor._make(self.data.sum(axis=axis, keepdims=keepdim), (self,), backward, "sum")

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        axis = _normalize_axis(dim)
        axes = range(self.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(dim, keepdim) * (1.0 / count if count else float("nan"))

    def amax(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Max over `dim`. Ties share the gradient evenly, as `torch.amax` does.

        NOTE: where k elements tie for the max, each gets g / k: torch.amax's convention, and
        torch.max()'s without a dim. It is NOT max pooling's (the first maximum takes all,
        conv.max_pool2d) nor max(dim)'s (the returned index takes all).
        """
        axis = _normalize_axis(dim)
        out = self.data.max(axis=axis, keepdims=True)
        x = self.data

        def backward(g: np.ndarray) -> tuple:
            if not keepdim and axis is not None:
                g = np.expand_dims(g, axis)
            winners = x == out
            # NOTE: the count is cast to g's dtype: an int64 count would promote a float32
            # gradient to float64, and every op upstream would then run in float64.
            return (g * winners / winners.sum(axis=axis, keepdims=True).astype(g.dtype),)

        result = out if keepdim else (out.reshape(()) if axis is None else out.squeeze(axis))
        return Tensor._make(result, (self,), backward, "amax")

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
        """`x.max()` is the largest element; `x.max(dim)` is (values, indices), as in torch.

        NOTE: ties route as in torch: `x.max()` shares the gradient evenly among tied maxima
        (it is amax); `x.max(dim)` returns the FIRST maximal index and sends the whole
        gradient there (a gather at the argmax). `min` is the same on -x.
        """
        if dim is None:
            return self.amax()
        indices = np.argmax(self.data, axis=dim)
        index = np.expand_dims(indices, dim)
        values = self.gather(dim, Tensor(index))
        if not keepdim:
            values = values.squeeze(dim)
        else:
            indices = index
        return MaxResult(values, Tensor(indices))

    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
        result = (-self).max(dim, keepdim)
        if isinstance(result, Tensor):  # dim=None: the smallest element
            return -result
        return MaxResult(-result.values, result.indices)

    # ---- shape ops ----------------------------------------------------------------------------

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        src = self.shape
        out = self.data.reshape(shape)
        return Tensor._make(out, (self,), lambda g: (g.reshape(src),), "reshape")

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self.shape
        if not shape:
            return self.reshape(1)
        start, end = start_dim % len(shape), end_dim % len(shape)
        # NOTE: the flattened size written out, not -1: NumPy cannot infer -1 for an empty
        # batch (0 examples), which torch flattens fine (and DP-SGD's Poisson batches can be).
        flat = int(np.prod(shape[start : end + 1]))
        return self.reshape(*shape[:start], flat, *shape[end + 1 :])

    def unsqueeze(self, dim: int) -> Tensor:
        return self.reshape(np.expand_dims(self.data, dim).shape)

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is not None and self.shape[dim] != 1:
            return self
        return self.reshape(np.squeeze(self.data, dim).shape)

    def permute(self, *dims: int) -> Tensor:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        inverse = np.argsort(dims)
        out = self.data.transpose(dims)
        return Tensor._make(out, (self,), lambda g: (g.transpose(inverse),), "permute")

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def expand(self, *sizes: int) -> Tensor:
        """Broadcast to `sizes` without copying (-1 keeps a dimension)."""
        sizes = (
            tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        )
        lead = len(sizes) - self.ndim
        target = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        shape = self.shape
        out = np.broadcast_to(self.data, target)
        return Tensor._make(out, (self,), lambda g: (_unbroadcast(g, shape),), "expand")

    # ---- indexing -----------------------------------------------------------------------------

    def __getitem__(self, index: Any) -> Tensor:
        """Slices, integers, None, Ellipsis, boolean masks and integer arrays, as NumPy/torch."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        shape, dtype = self.shape, self.dtype
        out = self.data[index]
        # Basic indexing (slices, ints) touches each element at most once, so assignment is
        # enough; integer arrays may repeat an index, whose gradients must then be added.
        parts = index if isinstance(index, tuple) else (index,)
        advanced = any(
            isinstance(i, list) or (isinstance(i, np.ndarray) and i.dtype != bool) for i in parts
        )

        def backward(g: np.ndarray) -> tuple:
            grad = np.zeros(shape, dtype=dtype)
            if advanced:
                np.add.at(grad, index, g)
            else:
                grad[index] = g
            return (grad,)

        return Tensor._make(out, (self,), backward, "index")

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Cut along `dim` into pieces of `split_size` (the last may be shorter) or of the
        listed sizes, as `torch.split`. Each piece is a slice (a view in the forward)."""
        n = self.shape[dim]
        if isinstance(split_size, int):
            sizes = [min(split_size, n - i) for i in range(0, n, split_size)] or [0]
        else:
            sizes = list(split_size)
            if sum(sizes) != n:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                    f"tensor's size at dimension {dim}), but got split_sizes={sizes}"
                )
        lead = (slice(None),) * (dim % self.ndim)
        starts = [0, *np.cumsum(sizes).tolist()]
        return tuple(self[lead + (slice(a, b),)] for a, b in zip(starts[:-1], starts[1:]))

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """out[i][j] = x[i][index[i][j]] along `dim` (torch.gather); the gradient scatters back."""
        idx = index.data if isinstance(index, Tensor) else np.asarray(index)
        shape, dtype = self.shape, self.dtype
        out = np.take_along_axis(self.data, idx, axis=dim)

        def backward(g: np.ndarray) -> tuple:
            # Scatter-add g back to where each element was taken from (an index may repeat).
            grid: list[np.ndarray] = list(np.indices(idx.shape, sparse=True))
            grid[dim % len(shape)] = idx
            grad = np.zeros(shape, dtype=dtype)
            np.add.at(grad, tuple(grid), g)
            return (grad,)

        return Tensor._make(out, (self,), backward, "gather")

    # ---- backpropagation ---------------------------------------------------------------------

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding into `leaf.grad`.

        NOTE: gradients accumulate (`+=`) across calls, as in torch: call `zero_grad()` on the
        optimizer (or model) before each backward pass. The graph is freed afterwards unless
        `retain_graph=True`, so a second backward through it raises an error, as in torch.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "nothing upstream of this tensor has requires_grad=True (or it was computed "
                "under no_grad()), so there is nothing to differentiate"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs: this tensor has "
                    f"shape {self.shape}; reduce it to a scalar first (e.g. loss.mean()) or pass "
                    f"a gradient of the same shape, tensor.backward(gradient)"
                )
            gradient = np.ones_like(self.data)
        else:
            # NOTE: in this tensor's dtype, as torch does (a list of floats would be float32).
            gradient = _as_array(gradient.data if isinstance(gradient, Tensor) else gradient)
            gradient = gradient.astype(self.dtype, copy=False)
            if gradient.shape != self.shape:
                raise RuntimeError(
                    f"gradient has shape {gradient.shape} but the tensor has shape {self.shape}"
                )
        grads = {id(self): gradient}
        # How many entries of `grads` hold each gradient array right now. A leaf's array held
        # by its own entry alone, made by some backward (not the caller's `gradient`), belongs
        # to nobody else and may become its .grad without a copy (see _accumulate).
        # NOTE: counts go down as entries are consumed: a freed array's id may be reused by a
        # new array, which must then start from 0.
        held = {id(gradient): 1}
        for node in reversed(topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None or node._retain:
                own = node._backward is None and held[id(g)] == 1 and g is not gradient
                _accumulate(node, g, own)
                if node._backward is None:
                    held[id(g)] -= 1
                    continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                if key in grads:
                    # NOTE: `+` (a new array), never `+=`: `pg` may be the very array another
                    # parent also received (e.g. both inputs of an add get the same g).
                    held[id(grads[key])] -= 1
                    pg = grads[key] + pg
                grads[key] = pg
                held[id(pg)] = held.get(id(pg), 0) + 1
            held[id(g)] -= 1
            if not retain_graph:
                # Free the saved arrays now (the closure holds them), as torch does.
                node._backward, node._parents = _freed(node._op), ()


def _accumulate(node: Tensor, g: np.ndarray, own: bool = False) -> None:
    """Add `g` into `node.grad`, keeping the tensor's dtype and a writable, owned array.

    NOTE: a copy unless `own`: `g` may be the very array another tensor also received (both
    inputs of an add get the same g), a view of one, or the caller's `gradient`; sharing it
    would let an in-place change to one `.grad` silently change another. `own` says nothing
    else holds this array, so a fresh, writable array of the right dtype is kept as it is:
    for a weight matrix that saves a full copy per step.
    NOTE: a copy is laid out in C order, like the parameter: the gradient of `x @ W.T` arrives
    as a transposed view, and a copy in its own (Fortran) order would make every in-place
    optimizer update of W stride across memory, at twice the cost or more.
    """
    flags = g.flags
    if not (own and g.dtype == node.data.dtype and flags.owndata and flags.c_contiguous
            and flags.writeable):  # fmt: skip
        g = np.array(g, dtype=node.data.dtype, order="C")
    if node.grad is None:
        node.grad = Tensor(g)
    else:
        node.grad.data = node.grad.data + g


def _freed(op: str) -> Any:
    def backward(g: np.ndarray) -> tuple:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (at op '{op}'): its "
            "intermediate results were freed after the first backward(). Specify "
            "retain_graph=True on the first call if you need to backward twice, or recompute "
            "the forward pass."
        )

    return backward


def topological_order(root: Tensor) -> list[Tensor]:
    """Every node that needs a gradient, each listed after all of its parents.

    NOTE: iterative depth-first search with an explicit stack. micrograd's recursive version
    hits Python's recursion limit on graphs deeper than ~1000 ops (a long RNN, a 10,000-step
    chain); this one does not.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


# --------------------------------------------------------------------------------------------
# Functions over several tensors, and tensor factories
# --------------------------------------------------------------------------------------------


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """`x` where `condition` is true, else `y` (broadcasting); each side gets its part of g."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if not isinstance(x, Tensor):
        x = lift(x, y) if isinstance(y, Tensor) else Tensor(x)
    y = lift(y, x)

    def backward(g: np.ndarray) -> tuple:
        gx = _unbroadcast(np.where(cond, g, 0), x.shape) if x.requires_grad else None
        gy = _unbroadcast(np.where(cond, 0, g), y.shape) if y.requires_grad else None
        return gx, gy

    return Tensor._make(np.where(cond, x.data, y.data), (x, y), backward, "where")


def maximum(a: Tensor, b: Any) -> Tensor:
    return a.maximum(b)


def cat(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    """Join along an existing dimension; the gradient is cut back into the pieces."""
    tensors = tuple(tensors)
    sizes = np.cumsum([t.shape[dim] for t in tensors])[:-1]

    def backward(g: np.ndarray) -> tuple:
        return tuple(np.split(g, sizes, axis=dim))

    out = np.concatenate([t.data for t in tensors], axis=dim)
    return Tensor._make(out, tensors, backward, "cat")


def stack(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    """Join along a new dimension."""
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    return Tensor(array)


def zeros(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(as_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(as_shape(shape), dtype=dtype), requires_grad=requires_grad)


def arange(*args: int, dtype: Any = None) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))


def as_shape(shape: tuple) -> tuple[int, ...]:
    """The shape a factory was given, as torch accepts it: zeros(2, 3) or zeros((2, 3))."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


# Methods that are thin aliases of functions above, for the torch-shaped surface.
Tensor.where = lambda self, cond, other: where(cond, self, other)  # type: ignore[attr-defined]
Tensor.add = Tensor.__add__  # type: ignore[attr-defined]
Tensor.sub = Tensor.__sub__  # type: ignore[attr-defined]
Tensor.mul = Tensor.__mul__  # type: ignore[attr-defined]
Tensor.div = Tensor.__truediv__  # type: ignore[attr-defined]
Tensor.pow = Tensor.__pow__  # type: ignore[attr-defined]
Tensor.neg = Tensor.__neg__  # type: ignore[attr-defined]

__all__ = [
    "Tensor",
    "arange",
    "cat",
    "enable_grad",
    "from_numpy",
    "is_grad_enabled",
    "maximum",
    "no_grad",
    "ones",
    "stack",
    "tensor",
    "where",
    "zeros",
]
