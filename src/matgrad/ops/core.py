"""Public constructors of expressions, and the registry of NumPy functions and
ufuncs that build expressions when applied to them (layer 3).

Every function takes expressions, arrays and numbers alike.  Anything NumPy
offers that is not registered here raises ``UnsupportedOperationError`` (a
``TypeError``) naming it.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.expr import (
    FUNCTION_HANDLERS,
    UFUNC_HANDLERS,
    Expr,
    Symbol,
    add,
    as_expr,
    delta,
    einsum_node,
    elementwise,
    is_number,
    matrix_function,
    ones,
    reshape,
)

__all__ = [
    "abs",
    "adj",
    "broadcast_add",
    "cos",
    "det",
    "diag",
    "dot",
    "einsum",
    "exp",
    "hadamard",
    "inv",
    "kron",
    "log",
    "logdet",
    "matmul",
    "matrix_power",
    "mean",
    "multiply",
    "norm",
    "outer",
    "power",
    "sigmoid",
    "sign",
    "sin",
    "slogdet",
    "solve",
    "sqrt",
    "sum",
    "tanh",
    "trace",
    "transpose",
]


# ---------------------------------------------------------------------------------------
# The operations behind Python's operators (Expr's operators dispatch to the
# ufunc handlers registered at the end of this module)
# ---------------------------------------------------------------------------------------


def transpose(x: Any, axes: Sequence[int] | None = None) -> Expr:
    """Axes permuted (reversed by default), as ``numpy.transpose``."""
    xe = as_expr(x)
    perm = tuple(range(xe.ndim))[::-1] if axes is None else tuple(int(a) for a in axes)
    if sorted(perm) != list(range(xe.ndim)):
        raise ShapeError(f"transpose: axes {perm} are not a permutation of {xe.ndim} axes")
    if perm == tuple(range(xe.ndim)):
        return xe
    if isinstance(xe, Symbol) and xe.symmetric:
        return xe
    return einsum_node([xe], [tuple(range(xe.ndim))], perm)


def _matmul(a: Expr, b: Expr) -> Expr:
    """``a @ b`` with NumPy's rules for 1-d and 2-d operands."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: scalar operand (shapes {a.shape} @ {b.shape}); use *")
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(
            f"matmul of shapes {a.shape} @ {b.shape}: only 1-d and 2-d operands are supported"
        )
    if a.shape[-1] != b.shape[0]:
        raise ShapeError(
            f"matmul: shapes {a.shape} @ {b.shape} do not fit ({a.shape[-1]} != {b.shape[0]})"
        )
    ia = ("i", "k") if a.ndim == 2 else ("k",)
    ib = ("k", "j") if b.ndim == 2 else ("k",)
    out = tuple(i for i in (*ia[:-1], *ib[1:]))
    return einsum_node([a, b], [ia, ib], out)


def _broadcast_pair(a: Expr, b: Expr, what: str) -> tuple[Expr, Expr]:
    """Broadcast two operands to a common shape (NumPy's rules, size-1 stretching
    excepted), with the all-ones tensor for the missing axes."""
    if a.shape == b.shape:
        return a, b
    nd = max(a.ndim, b.ndim)
    pa = (1,) * (nd - a.ndim) + a.shape
    pb = (1,) * (nd - b.ndim) + b.shape
    target = []
    for da, db in zip(pa, pb):
        if da != db and 1 not in (da, db):
            raise ShapeError(f"{what}: shapes {a.shape} and {b.shape} do not broadcast")
        target.append(max(da, db))
    return _broadcast_to(a, tuple(target), what), _broadcast_to(b, tuple(target), what)


def _broadcast_to(x: Expr, shape: Shape, what: str) -> Expr:
    if x.shape == shape:
        return x
    lead = len(shape) - x.ndim
    if any(d != shape[lead + k] for k, d in enumerate(x.shape)):
        if any(d != 1 and d != shape[lead + k] for k, d in enumerate(x.shape)):
            raise ShapeError(f"{what}: shape {x.shape} does not broadcast to {shape}")
        squeezed = tuple(d for d in x.shape if d != 1)
        keep = [lead + k for k, d in enumerate(x.shape) if d != 1]
        x = reshape(x, squeezed)
    else:
        keep = list(range(lead, len(shape)))
    extra = [a for a in range(len(shape)) if a not in keep]
    operands: list[Expr] = [x]
    indices: list[tuple[int, ...]] = [tuple(keep)]
    if extra:
        operands.append(ones(tuple(shape[a] for a in extra), x.dtype))
        indices.append(tuple(extra))
    return einsum_node(operands, indices, tuple(range(len(shape))))


def broadcast_add(a: Expr, b: Expr, sign: int) -> Expr:
    """``a + sign * b`` with broadcasting."""
    a2, b2 = _broadcast_pair(a, b, "add" if sign == 1 else "subtract")
    return add([a2, b2], [1, sign])


def multiply(a: Any, b: Any) -> Expr:
    """Elementwise product with broadcasting (``*``); numbers become coefficients."""
    if is_number(a):
        return add([as_expr(b)], [a])
    if is_number(b):
        return add([as_expr(a)], [b])
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim == 0 or be.ndim == 0:
        big, small = (be, ae) if ae.ndim == 0 else (ae, be)
        labels = tuple(range(big.ndim))
        return einsum_node([small, big], [(), labels], labels)
    a2, b2 = _broadcast_pair(ae, be, "multiply")
    labels = tuple(range(a2.ndim))
    return einsum_node([a2, b2], [labels, labels], labels)



# ---------------------------------------------------------------------------------------
# Public constructors
# ---------------------------------------------------------------------------------------


def trace(x: Any) -> Expr:
    """``tr(X)``, the sum of the diagonal of a square matrix.

    >>> import matgrad as mg
    >>> print(mg.trace(mg.Matrix("X", (3, 3))).shape)
    ()
    """
    xe = as_expr(x)
    if xe.ndim != 2 or xe.shape[0] != xe.shape[1]:
        raise ShapeError(f"trace needs a square matrix, got shape {xe.shape}")
    return einsum_node([xe], [(0, 0)], ())


def diag(x: Any) -> Expr:
    """The diagonal of a square matrix, or the diagonal matrix of a vector (as ``np.diag``)."""
    xe = as_expr(x)
    if xe.ndim == 1:
        return einsum_node([xe, delta(xe.shape[0], xe.dtype)], [(0,), (0, 1)], (0, 1))
    if xe.ndim == 2 and xe.shape[0] == xe.shape[1]:
        return einsum_node([xe], [(0, 0)], (0,))
    raise ShapeError(f"diag needs a vector or a square matrix, got shape {xe.shape}")


def sum(x: Any, axis: int | Sequence[int] | None = None) -> Expr:
    """Sum over all axes, or over ``axis``."""
    xe = as_expr(x)
    labels = tuple(range(xe.ndim))
    if axis is None:
        drop = set(labels)
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        try:
            drop = {labels[a] for a in axes}
        except (IndexError, TypeError):
            raise ShapeError(f"sum: axis {axis!r} is out of range for shape {xe.shape}") from None
    return einsum_node([xe], [labels], tuple(i for i in labels if i not in drop))


def mean(x: Any, axis: int | Sequence[int] | None = None) -> Expr:
    """Mean over all axes, or over ``axis``."""
    xe = as_expr(x)
    total = sum(xe, axis)
    return total * (total.size / xe.size if xe.size else 1.0)


def outer(a: Any, b: Any) -> Expr:
    """Outer product of two vectors (NumPy flattens other shapes; matgrad refuses them)."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 1 or be.ndim != 1:
        raise ShapeError(f"outer needs two vectors, got shapes {ae.shape} and {be.shape}")
    return einsum_node([ae, be], [(0,), (1,)], (0, 1))


def kron(a: Any, b: Any) -> Expr:
    """Kronecker product of two matrices, ``(A ⊗ B)[i p + k, j q + l] = A[i, j] B[k, l]``."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 2 or be.ndim != 2:
        raise ShapeError(f"kron needs two matrices, got shapes {ae.shape} and {be.shape}")
    (m, n), (p, q) = ae.shape, be.shape
    four = einsum_node([ae, be], [(0, 2), (1, 3)], (0, 1, 2, 3))
    return reshape(four, (m * p, n * q))


def hadamard(a: Any, b: Any) -> Expr:
    """Elementwise (Hadamard) product ``A ⊙ B`` of same-shaped operands."""
    ae, be = as_expr(a), as_expr(b)
    if ae.shape != be.shape:
        raise ShapeError(f"hadamard needs equal shapes, got {ae.shape} and {be.shape}")
    return multiply(ae, be)


def einsum(subscripts: str, *operands: Any) -> Expr:
    """``np.einsum`` in explicit (``"ij,jk->ik"``) or implicit (``"ij,jk"``) mode;
    ellipses are not supported."""
    if not isinstance(subscripts, str):
        raise UnsupportedOperationError("einsum: only the subscripts-string form is supported")
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise UnsupportedOperationError("einsum: ellipsis ('...') is not supported")
    if "->" in spec:
        lhs, out = spec.split("->")
    else:
        lhs = spec
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise InvalidArgumentError(
            f"einsum: {subscripts!r} names {len(terms)} operands but {len(operands)} were given"
        )
    for ch in spec.replace(",", "").replace("->", ""):
        if ch not in string.ascii_letters:
            raise InvalidArgumentError(f"einsum: invalid subscript character {ch!r}")
    return einsum_node(list(operands), [tuple(t) for t in terms], tuple(out))


def inv(x: Any) -> Expr:
    """Matrix inverse ``X⁻¹``."""
    return matrix_function("inv", x)


def det(x: Any) -> Expr:
    """Determinant ``det X``."""
    return matrix_function("det", x)


def logdet(x: Any) -> Expr:
    """``log |det X|``."""
    return matrix_function("logdet", x)


def adj(x: Any) -> Expr:
    """Adjugate ``adj X`` (``det(X) X⁻¹`` where X is invertible; defined for all X)."""
    return matrix_function("adj", x)


def slogdet(x: Any) -> tuple[Expr, Expr]:
    """``(sign(det X), log |det X|)`` as ``np.linalg.slogdet``."""
    return elementwise("sign", det(x)), logdet(x)


def solve(a: Any, b: Any) -> Expr:
    """``A⁻¹ B`` (evaluated by a linear solve, never by forming the inverse)."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 2 or ae.shape[0] != ae.shape[1]:
        raise ShapeError(f"solve needs a square matrix A, got shape {ae.shape}")
    if be.ndim not in (1, 2) or be.shape[0] != ae.shape[0]:
        raise ShapeError(f"solve: shapes {ae.shape} and {be.shape} do not fit")
    return _matmul(inv(ae), be)


def norm(x: Any, ord: Any = None, axis: Any = None) -> Expr:
    """Frobenius norm of a matrix, 2-norm of a vector (``ord`` None, 2 for vectors, "fro")."""
    if axis is not None:
        raise UnsupportedOperationError("norm: the axis argument is not supported")
    xe = as_expr(x)
    if ord not in (None, "fro") and not (ord == 2 and xe.ndim == 1):
        raise UnsupportedOperationError(
            f"norm: ord={ord!r} is not supported (Frobenius and vector 2-norms only)"
        )
    return sqrt(sum(multiply(xe, xe)))


def _unary(fn: str) -> Callable[[Any], Expr]:
    def apply(x: Any) -> Expr:
        return elementwise(fn, x)

    apply.__name__ = fn
    apply.__doc__ = f"``{fn}(x)`` entry by entry."
    return apply


exp = _unary("exp")
log = _unary("log")
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")
sqrt = _unary("sqrt")
abs = _unary("abs")
sign = _unary("sign")


def power(x: Any, p: float) -> Expr:
    """``x ** p`` entry by entry, for a real constant ``p``."""
    return elementwise("power", x, float(p))


def matrix_power(x: Any, k: int) -> Expr:
    """``Xᵏ`` for an integer ``k`` (negative: powers of ``X⁻¹``)."""
    xe = as_expr(x)
    if xe.ndim != 2 or xe.shape[0] != xe.shape[1]:
        raise ShapeError(f"matrix_power needs a square matrix, got shape {xe.shape}")
    if int(k) != k:
        raise InvalidArgumentError(f"matrix_power needs an integer exponent, got {k!r}")
    k = int(k)
    if k == 0:
        return delta(xe.shape[0], xe.dtype)
    base = inv(xe) if k < 0 else xe
    result = base
    for _ in range((-k if k < 0 else k) - 1):
        result = _matmul(result, base)
    return result


def matmul(a: Any, b: Any) -> Expr:
    """``a @ b``."""
    return _matmul(as_expr(a), as_expr(b))


def dot(a: Any, b: Any) -> Expr:
    """``np.dot`` for scalars, vectors and matrices."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim == 0 or be.ndim == 0:
        return multiply(ae, be)
    return _matmul(ae, be)


def _divide(a: Any, b: Any) -> Expr:
    if is_number(b):
        if b == 0:
            raise ZeroDivisionError("division of an expression by zero")
        return add([as_expr(a)], [1 / b])
    return multiply(a, elementwise("power", as_expr(b), -1.0))


def _negative(x: Any) -> Expr:
    return add([as_expr(x)], [-1])


def _subtract(a: Any, b: Any) -> Expr:
    return broadcast_add(as_expr(a), as_expr(b), -1)


def _add(a: Any, b: Any) -> Expr:
    return broadcast_add(as_expr(a), as_expr(b), 1)


def _transpose(a: Any, axes: Sequence[int] | None = None) -> Expr:
    return transpose(a, axes)


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Expr:
    if (offset, axis1, axis2) != (0, 0, 1):
        raise UnsupportedOperationError("trace: only offset=0, axis1=0, axis2=1 are supported")
    return trace(a)


def _diag(v: Any, k: int = 0) -> Expr:
    if k != 0:
        raise UnsupportedOperationError("diag: only k=0 is supported")
    return diag(v)


def _sum(a: Any, axis: Any = None, **kwargs: Any) -> Expr:
    if kwargs:
        raise UnsupportedOperationError(f"sum: arguments {sorted(kwargs)} are not supported")
    return sum(a, axis)


def _mean(a: Any, axis: Any = None, **kwargs: Any) -> Expr:
    if kwargs:
        raise UnsupportedOperationError(f"mean: arguments {sorted(kwargs)} are not supported")
    return mean(a, axis)


def _square(x: Any) -> Expr:
    return elementwise("power", x, 2.0)


def _reciprocal(x: Any) -> Expr:
    return elementwise("power", x, -1.0)


def _np_power(x: Any, p: Any) -> Expr:
    if isinstance(p, Expr) or np.ndim(p) != 0 or np.iscomplexobj(p):
        raise UnsupportedOperationError(
            f"x ** p: only a constant real scalar exponent is supported, got {type(p).__name__}"
        )
    return elementwise("power", x, float(p))


def _ones_like(x: Any) -> Expr:
    xe = as_expr(x)
    return ones(xe.shape, xe.dtype)


UFUNC_HANDLERS.update(
    {
        np.add: _add,
        np.subtract: _subtract,
        np.multiply: multiply,
        np.true_divide: _divide,
        np.negative: _negative,
        np.positive: as_expr,
        np.matmul: matmul,
        np.power: _np_power,
        np.square: _square,
        np.reciprocal: _reciprocal,
        np.exp: exp,
        np.log: log,
        np.sin: sin,
        np.cos: cos,
        np.tanh: tanh,
        np.sqrt: sqrt,
        np.absolute: abs,
        np.sign: sign,
    }
)

FUNCTION_HANDLERS.update(
    {
        np.trace: _trace,
        np.diag: _diag,
        np.sum: _sum,
        np.mean: _mean,
        np.outer: outer,
        np.kron: kron,
        np.einsum: einsum,
        np.matmul: matmul,
        np.dot: dot,
        np.transpose: _transpose,
        np.linalg.inv: inv,
        np.linalg.det: det,
        np.linalg.slogdet: slogdet,
        np.linalg.solve: solve,
        np.linalg.norm: norm,
        np.linalg.matrix_power: matrix_power,
        np.ones_like: _ones_like,
    }
)
