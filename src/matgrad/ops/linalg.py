"""Linear algebra (layer 3): functions of matrices, as ``numpy.linalg`` has them.

Declared operations: ``inv``, ``det``, ``logdet`` (``log |det X|``) and ``adj``.
Built from them and the multilinear core: ``solve``, ``slogdet``, ``norm``
(Frobenius and vector 2-norms) and ``matrix_power``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad._types import Array, Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, square
from matgrad.ir.expr import Delta, Expr, add, as_expr, constant, delta, einsum_node
from matgrad.ir.node import _result_dtype
from matgrad.ops.core import matmul, multiply, reduction_axes
from matgrad.ops.core import sum as _sum
from matgrad.ops.elementwise import sign, sqrt
from matgrad.ops.norms import norm as ord_norm
from matgrad.ops.registry import declare, language_function, register_numpy

__all__ = ["adj", "det", "inv", "logdet", "matrix_power", "norm", "slogdet", "solve"]


def _square_samples(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


def _invertible(attrs: Any) -> tuple[str, ...]:
    """The operand is an invertible matrix (where the operation or its second
    derivative is defined)."""
    return ("invertible",)


def _trace_product(a: Expr, b: Expr) -> Expr:
    """``tr(A B)`` for square matrices of one size."""
    return einsum_node([a, b], [(0, 1), (1, 0)], ())


def _cubic(shapes: Sequence[Shape], factor: float = 1.0) -> int:
    n = shapes[0][0]
    return int(factor * n**3)


def _real_scalar(dtypes: Sequence[np.dtype[Any]], attrs: Any) -> np.dtype[Any]:
    dt = _result_dtype(*dtypes, floating=True)
    return np.dtype(np.finfo(dt).dtype) if np.issubdtype(dt, np.complexfloating) else dt


def _at_identity(value: Callable[[int, np.dtype[Any]], Expr]) -> Callable[[Expr], Expr | None]:
    """A simplification: the operation of the identity matrix is ``value(n, dtype)``."""

    def rewrite(node: Expr) -> Expr | None:
        assert isinstance(node, Apply)
        if isinstance(node.x, Delta):
            return value(node.x.shape[0], node.dtype)
        return None

    return rewrite


def _scalar(v: float) -> Callable[[int, np.dtype[Any]], Expr]:
    return lambda n, dt: constant(np.full((), v, dtype=dt))


# ---------------------------------------------------------------------------------------
# inv
# ---------------------------------------------------------------------------------------


def _d_inv(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d X⁻¹ = −X⁻¹ dX X⁻¹`` (Matrix Cookbook (59); MML (5.101) for the trace form)."""
    (dx,) = d
    return add([matmul(matmul(node, dx), node)], [-1])


def _inv_simplify(node: Expr) -> Expr | None:
    """``(X⁻¹)⁻¹ = X``; ``I⁻¹ = I``."""
    assert isinstance(node, Apply)
    if isinstance(node.x, Apply) and node.x.op is node.op:
        return node.x.x
    return _at_identity(lambda n, dt: delta(n, dt))(node)


def _invertible_bound(lo: float, hi: float, n: int) -> float:
    return 1.0 / lo


inv: Callable[..., Expr] = declare(
    Operation(
        name="inv",
        family="linalg",
        doc="inverse of a square matrix",
        shape=square("inv", lambda n: (n, n)),
        numpy=np.linalg.inv,
        differential=_d_inv,
        simplify=_inv_simplify,
        preserves_symmetry=True,
        flops=_cubic,
        domain=_invertible,
        solve_in_products=True,
        notation=Notation(
            latex="{0:base}^{{-1}}",
            latex_transposed="{0:base}^{{-\\top}}",
            superscript=True,
            numpy="np.linalg.inv({0})",
        ),
        numpy_functions=((np.linalg.inv, None),),
        language=Language(("inv",), "inverse of a square matrix", "(n,n) -> (n,n)"),
        samples=(Sample("inv", None, _square_samples, ("invertible",)),),
        fuzz=(Fuzz("invertible", bound=_invertible_bound),),
    )
)


# ---------------------------------------------------------------------------------------
# det, logdet, adj
# ---------------------------------------------------------------------------------------


def _d_det(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d det X = tr(adj(X) dX)`` (Jacobi's formula; Matrix Cookbook (46)).  Through the
    adjugate, so the gradient ``adj(X)ᵀ`` is finite at singular X too."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _trace_product(adj(node.x), dx)


def _d_logdet(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log|det X| = tr(X⁻¹ dX)`` (Matrix Cookbook (57); MML (5.107) for SPD X)."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _trace_product(inv(node.x), dx)


def _d_adj(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d adj X = tr(adj(X) dX) X⁻¹ − adj(X) dX X⁻¹`` from ``adj X = det(X) X⁻¹``;
    valid where X is invertible (the derivative of the adjugate at a singular X
    needs the inverse, and evaluation raises ``LinAlgError`` there)."""
    assert isinstance(node, Apply)
    (dx,) = d
    inverse = inv(node.x)
    scalar_part = multiply(_trace_product(node, dx), inverse)
    return add([scalar_part, matmul(matmul(node, dx), inverse)], [1, -1])


def _logdet(x: Any) -> Any:
    """``log |det X|`` from ``slogdet`` (``-inf`` for singular ``X``)."""
    return np.linalg.slogdet(x)[1]


def _adjugate(x: Any) -> Any:
    """The adjugate, finite for singular ``X`` too.

    With ``X = U S Vᴴ`` (SVD), ``adj(X) = det(U) det(Vᴴ) · V diag(pᵢ) Uᴴ`` where
    ``pᵢ = ∏_{j≠i} s_j`` is formed from prefix and suffix products, never by
    dividing by ``s_i``: where ``X`` is invertible this is ``det(X) X⁻¹``, and it is
    continuous (a polynomial in the entries) everywhere.
    """
    n = x.shape[0]
    if n <= 1:
        return np.ones_like(x)
    u, s, vh = np.linalg.svd(x)
    prefix = np.concatenate(([1], np.cumprod(s[:-1]))).astype(s.dtype)
    suffix = np.concatenate((np.cumprod(s[:0:-1])[::-1], [1])).astype(s.dtype)
    scale = np.linalg.det(u) * np.linalg.det(vh)
    v = vh.conj().T
    return (v * (prefix * suffix * scale)) @ u.conj().T


def cofactor_adjugate(x: Any) -> Array:
    """``adj(X)[j, i] = (−1)^(i+j) det(X without row i and column j)``: the
    textbook definition, for tests.

    >>> cofactor_adjugate(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[ 4., -2.],
           [-3.,  1.]])
    """
    n = x.shape[0]
    if n == 1:
        return np.ones((1, 1), dtype=x.dtype)
    out = np.empty_like(x)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(x, i, axis=0), j, axis=1)
            out[j, i] = (-1) ** (i + j) * np.linalg.det(minor)
    return np.asarray(out)


def _adjugate_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    """``adj X`` from the SVD ``X = U diag(s) Vᴴ``:
    ``adj X = det(U) det(Vᴴ) · V diag(Π_{j≠i} s_j) Uᴴ``, finite at singular X."""
    (x,) = args
    n = node.shape[0]
    dtype = f"np.{node.dtype.name}"
    if n <= 1:
        return [f"{var} = np.ones({node.shape}, dtype={dtype})"]
    u, s, vh, p = fresh("u"), fresh("s"), fresh("vh"), fresh("p")
    return [
        f"{u}, {s}, {vh} = np.linalg.svd({x})",
        (
            f"{p} = np.concatenate((np.ones(1, dtype={s}.dtype), np.cumprod({s}[:-1]))) * "
            f"np.concatenate((np.cumprod({s}[:0:-1])[::-1], np.ones(1, dtype={s}.dtype)))"
        ),
        (
            f"{var} = (np.linalg.det({u}) * np.linalg.det({vh})) * "
            f"(({vh}.conj().T * {p}) @ {u}.conj().T)"
        ),
    ]


det: Callable[..., Expr] = declare(
    Operation(
        name="det",
        family="linalg",
        doc="determinant of a square matrix",
        shape=square("det", lambda n: ()),
        numpy=np.linalg.det,
        differential=_d_det,
        domain=_invertible,
        simplify=_at_identity(_scalar(1.0)),
        flops=lambda shapes: _cubic(shapes, 2 / 3),
        notation=Notation(latex=r"\det{0:arg}", numpy="np.linalg.det({0})"),
        numpy_functions=((np.linalg.det, None),),
        language=Language(("det",), "determinant of a square matrix", "(n,n) -> ()"),
        samples=(
            # at a singular X the gradient adj(X)ᵀ exists and is computed; the second
            # derivative goes through X⁻¹ (d adj), so it is checked at invertible X only
            Sample("det", None, _square_samples, ("general",), orders=(1,)),
            Sample("det-invertible", None, _square_samples, ("invertible",)),
        ),
        fuzz=(Fuzz("invertible", bound=lambda lo, hi, n: hi**n),),
    )
)
logdet: Callable[..., Expr] = declare(
    Operation(
        name="logdet",
        family="linalg",
        doc="log |det X| of a square matrix",
        shape=square("logdet", lambda n: ()),
        numpy=_logdet,
        dtype=_real_scalar,
        domain=_invertible,
        differential=_d_logdet,
        simplify=_at_identity(_scalar(0.0)),
        flops=lambda shapes: _cubic(shapes, 2 / 3),
        notation=Notation(
            latex=r"\log\lvert\det {0:atom}\rvert", numpy="np.linalg.slogdet({0})[1]"
        ),
        language=Language(("logdet",), "log |det X| of a square matrix", "(n,n) -> ()"),
        samples=(
            Sample("logdet", None, _square_samples, ("invertible",)),
            Sample("logdet-spd", None, _square_samples, ("spd",)),
        ),
        fuzz=(
            Fuzz(
                "invertible",
                bound=lambda lo, hi, n: n * max(math.fabs(math.log(lo)), math.fabs(math.log(hi))),
            ),
        ),
    )
)
adj: Callable[..., Expr] = declare(
    Operation(
        name="adj",
        family="linalg",
        doc="adjugate of a square matrix (det(X) X⁻¹ where X is invertible; defined for all X)",
        shape=square("adj", lambda n: (n, n)),
        numpy=_adjugate,
        reference=cofactor_adjugate,
        domain=_invertible,
        differential=_d_adj,
        simplify=_at_identity(lambda n, dt: delta(n, dt)),
        preserves_symmetry=True,
        flops=lambda shapes: _cubic(shapes, 12),
        notation=Notation(latex=r"\operatorname{{adj}}{0:arg}", numpy_lines=_adjugate_lines),
        language=Language(("adj",), "adjugate of a square matrix", "(n,n) -> (n,n)"),
        samples=(Sample("adj", None, _square_samples, ("invertible",)),),
        fuzz=(Fuzz("invertible", bound=lambda lo, hi, n: max(1.0, hi) ** (n - 1)),),
    )
)


# ---------------------------------------------------------------------------------------
# Built from the operations above
# ---------------------------------------------------------------------------------------


def slogdet(x: Any) -> tuple[Expr, Expr]:
    """``(sign(det X), log |det X|)`` as ``np.linalg.slogdet``."""
    return sign(det(x)), logdet(x)


def solve(a: Any, b: Any) -> Expr:
    """``A⁻¹ B`` (evaluated by a linear solve, never by forming the inverse)."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 2 or ae.shape[0] != ae.shape[1]:
        raise ShapeError(f"solve needs a square matrix A, got shape {ae.shape}")
    if be.ndim not in (1, 2) or be.shape[0] != ae.shape[0]:
        raise ShapeError(f"solve: shapes {ae.shape} and {be.shape} do not fit")
    return matmul(inv(ae), be)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Expr:
    """Frobenius norm of a matrix, 2-norm of a vector (``ord`` None, 2 for vectors,
    "fro"), as ``np.linalg.norm``.  With ``axis`` an int (or a 1-tuple): the 2-norms
    of the vectors along that axis (``ord`` None or 2); a pair of axes: the
    Frobenius norms of the matrices over them (``ord`` None or "fro").
    ``keepdims`` keeps the reduced axes with size 1.

    >>> import matgrad as mg
    >>> mg.norm(mg.Matrix("X", (4, 3)), axis=1, keepdims=True).shape
    (4, 1)
    """
    xe = as_expr(x)
    if axis is None:
        if ord not in (None, "fro") and not (ord == 2 and xe.ndim == 1):
            return ord_norm(xe, ord, axis, keepdims)  # the other orders: ops.norms
    else:
        axes = reduction_axes(axis, xe.ndim, "norm")
        if len(axes) not in (1, 2):
            raise ShapeError(f"norm: axis {axis!r} must be an int or a pair of axes")
        allowed: tuple[Any, ...] = (None, 2) if len(axes) == 1 else (None, "fro")
        if ord not in allowed:
            return ord_norm(xe, ord, axis, keepdims)  # the other orders: ops.norms
    return sqrt(_sum(multiply(xe, xe), axis, keepdims))


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
        result = matmul(result, base)
    return result


register_numpy(np.linalg.slogdet, slogdet)
register_numpy(np.linalg.solve, solve)
register_numpy(np.linalg.norm, norm)
register_numpy(np.linalg.matrix_power, matrix_power)
language_function(
    Language(("norm", "norm2"), "Frobenius norm of a matrix, 2-norm of a vector", "x -> ()"),
    norm,
)
