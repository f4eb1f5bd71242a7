"""Linear algebra (layer 3): functions of matrices, as ``numpy.linalg`` has them.

Declared operations: ``inv``, ``det``, ``logdet`` (``log |det X|``), ``adj``, and
for the derivatives of ``det`` at every ``X`` (singular ones too) ``adj_frechet``
(``d adj(X)[E]``) and ``det_minors`` (the k-th derivative tensor of ``det``).
Built from them and the multilinear core: ``solve``, ``slogdet``, ``norm``
(Frobenius and vector 2-norms) and ``matrix_power``.

**det is a polynomial**, so its derivatives of every order exist at every ``X``;
matgrad computes them without ``X⁻¹``, from the SVD ``X = U Σ Vᵀ`` (the derivative
tensors of ``det`` at ``Σ`` are sparse products of singular values): the gradient
``adj(X)ᵀ``, the Hessian through ``adj_frechet`` (O(n³) per direction), the third
and higher through ``det_minors`` — right at exactly and numerically singular X.

**Conditioning.** ``inv`` (and the solves the compiler makes of it: ``solve``, the
derivatives of ``logdet``) estimate the 1-norm condition number ``κ₁`` of ``X`` at
evaluation time, after the LU factorization NumPy would do (LAPACK's ``gesv``, with
the identity for ``inv``): ``‖X‖₁ ‖X⁻¹‖₁`` for ``inv``, ``gecon`` on the LU factors for
a solve (O(n²) either way); where
``κ₁ · eps > 1e-6`` (the result's estimated relative error exceeds 1e-6) they warn
with :class:`~matgrad.errors.IllConditionedWarning` and return the value.  An
exactly singular X still raises ``numpy.linalg.LinAlgError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import (
    Apply,
    Attrs,
    Fuzz,
    Language,
    Linear,
    Notation,
    Operation,
    Sample,
    square,
)
from matgrad.ir.expr import Delta, Expr, Zero, add, as_expr, constant, delta, einsum_node, zeros
from matgrad.ir.node import _result_dtype
from matgrad.ops.core import matmul, multiply, reduction_axes, transpose
from matgrad.ops.core import sum as _sum
from matgrad.ops.det_numerics import (
    adj_frechet_kernel,
    adj_frechet_lines,
    adj_frechet_portable,
    adj_portable,
    adjugate,
    adjugate_lines,
    brute_force_minors,
    cofactor_adjugate,
    det_minors_kernel,
    det_minors_lines,
    det_minors_portable,
    inv_checked,
)
from matgrad.ops.elementwise import power, sign, sqrt
from matgrad.ops.norms import _is, matrix_norm
from matgrad.ops.norms import norm as ord_norm
from matgrad.ops.reductions import max as _max
from matgrad.ops.reductions import min as _min
from matgrad.ops.registry import declare, language_function, register_numpy
from matgrad.ops.singular import svd_values
from matgrad.ops.spectral import finite_or_raise
from matgrad.ops.spectral_numerics import second_live

__all__ = [
    "adj",
    "adj_frechet",
    "cofactor_adjugate",
    "cond",
    "det",
    "det_minors",
    "inv",
    "logdet",
    "matrix_power",
    "norm",
    "slogdet",
    "solve",
]


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
# Portable kernels (any array engine, batched over leading axes; see Operation.array_api)
# ---------------------------------------------------------------------------------------


def _like(ns: Any, value: Any, x: Any) -> Any:
    """A NumPy constant on ``x``'s engine, device and precision."""
    return ns.asarray(np.asarray(value, dtype=np.float64), like=x)


def _inv_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    """``X⁻¹`` by the engine's LU (no condition-number warning: it would need ``κ₁``
    on the host)."""
    return lambda x: finite_or_raise(ns, ns.linalg.inv(x), "inv")


def _det_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    return lambda x: ns.linalg.det(x)


def _logdet_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    return lambda x: ns.linalg.slogdet(x)[1]


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
        doc="inverse of a square matrix (warns with IllConditionedWarning where "
        "κ₁(X) · eps > 1e-6)",
        shape=square("inv", lambda n: (n, n)),
        numpy=inv_checked,
        array_api=_inv_portable,
        stacks=True,
        reference=np.linalg.inv,
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
    """``d det X = tr(adj(X) dX)`` (Jacobi's formula; Matrix Cookbook (41)).  Through the
    adjugate, so the gradient ``adj(X)ᵀ`` is finite at singular X too, and so are the
    higher derivatives (``adj_frechet``, ``det_minors``: no X⁻¹ anywhere)."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _trace_product(adj(node.x), dx)


def _d_logdet(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log|det X| = tr(X⁻¹ dX)`` (Matrix Cookbook (57); MML (5.107) for SPD X)."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _trace_product(inv(node.x), dx)


def _d_adj(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d adj X = adj_frechet(X, dX)``, which is ``tr(adj(X) dX) X⁻¹ − adj(X) dX X⁻¹``
    where X is invertible, computed from the SVD without ``X⁻¹``: finite and right at
    singular X too (adj is a polynomial in X)."""
    assert isinstance(node, Apply)
    return adj_frechet(node.x, d[0])


def _logdet(x: Any) -> Any:
    """``log |det X|`` from ``slogdet`` (``-inf`` for singular ``X``)."""
    return np.linalg.slogdet(x)[1]



def _d_adj_frechet(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (d adj(X)[E]) = d adj(X)[dE] + ∂³det(X)[·, E, dX]`` with the third derivative
    tensor ``det_minors(X, 3)`` (zero for n < 3): exact at every X."""
    assert isinstance(node, Apply)
    x, e = node.args
    dx, de = d
    b = tuple(("batch", j) for j in range(e.ndim - 2))
    terms = [adj_frechet(x, de)]
    if not isinstance(dx, Zero) and x.shape[0] >= 3:
        terms.append(einsum_node([det_minors(x, 3), e, dx],
                                 [("a", "b", "c", "d", "e", "f"), (*b, "c", "d"), ("e", "f")],
                                 (*b, "b", "a")))
    return add(terms)


def _through_hessian(node: Expr, extra: Shape) -> bool:
    """Whether to apply ``d adj`` to directions with ``extra`` axes through the Hessian
    tensor ``det_minors(X, 2)`` (n⁴ entries, O(n⁴) where X is well conditioned) rather
    than direction by direction (O(n³) each): for ``n`` directions or more."""
    return math.prod(extra) >= node.shape[-1]


def _frechet_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    """``d adj(X)[E]`` for directions ``E`` with trailing axes ``extra``."""
    assert isinstance(node, Apply)
    if not _through_hessian(node, extra):
        return _push_each(node, tangents, extra)
    b = tuple(("batch", j) for j in range(node.ndim - 2))
    x = tuple(("extra", j) for j in range(len(extra)))
    return einsum_node([det_minors(node.x, 2), tangents[1]],
                       [("a", "b", "c", "d"), (*b, "c", "d", *x)], (*b, "b", "a", *x))


_push_each = second_live(lambda node, t: adj_frechet(node.x, t), 2)


def _frechet_pull(node: Expr, k: int, ct: Expr, extra: Shape) -> Expr:
    """Transpose in ``E``: ``G ↦ adj_frechet(X, Gᵀ)ᵀ`` (the Hessian of det is symmetric),
    or the cotangents (leading axes ``extra``) contracted with ``det_minors(X, 2)``."""
    assert isinstance(node, Apply)
    if _through_hessian(node, extra):
        b = tuple(("batch", j) for j in range(node.ndim - 2))
        x = tuple(("extra", j) for j in range(len(extra)))
        return einsum_node([det_minors(node.x, 2), ct],
                           [("a", "b", "c", "d"), (*x, *b, "b", "a")], (*x, *b, "c", "d"))
    r = ct.ndim
    swap = (*range(r - 2), r - 1, r - 2)
    return transpose(adj_frechet(node.x, transpose(ct, swap)), swap)


def _frechet_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    sx, se = shapes
    if len(sx) != 2 or sx[0] != sx[1]:
        raise ShapeError(f"adj_frechet needs a square matrix, got shape {sx}")
    if len(se) < 2 or se[-2:] != sx:
        raise ShapeError(f"adj_frechet: direction of shape {se} is not (..., {sx[0]}, {sx[0]})")
    return se


def _d_det_minors(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d ∂ᵏdet(X) = ∂ᵏ⁺¹det(X)[…, dX]``: ``det_minors(X, k + 1)`` contracted with
    ``dX`` on its last two axes (zero once ``k ≥ n``: det is a polynomial of degree n)."""
    assert isinstance(node, Apply)
    k, n = node.attrs["k"], node.shape[0]
    if k >= n or isinstance(d[0], Zero):
        return zeros(node.shape, node.dtype)
    labels = tuple(range(2 * k + 2))
    return einsum_node([det_minors(node.x, k + 1), d[0]], [labels, labels[-2:]], labels[:-2])


def _minors_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    n = square("det_minors", lambda m: (m,))(shapes, attrs)[0]
    return (n,) * (2 * int(attrs["k"]))


def _minors_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    k = attrs["k"]
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InvalidArgumentError(f"det_minors: k must be a positive integer, got {k!r}")
    return {"k": int(k)}


adj_frechet: Callable[..., Expr] = declare(
    Operation(
        name="adj_frechet",
        family="linalg",
        doc="d adj(X)[E], the derivative of the adjugate in the direction E (exact at "
        "singular X)",
        shape=_frechet_shape,
        numpy=adj_frechet_kernel,
        array_api=adj_frechet_portable,
        stacks=True,
        reference=lambda x, e: np.einsum(
            "abcd,...cd->...ba", brute_force_minors(x, 2), e),
        arity=2,
        canonical=lambda x, e: zeros(e.shape, e.dtype) if isinstance(e, Zero) else None,
        differential=_d_adj_frechet,
        linear=Linear(_frechet_push, _frechet_pull),
        flops=lambda shapes: 4 * _size_of(shapes[1]) * shapes[0][0] + 12 * shapes[0][0] ** 3,
        notation=Notation(numpy_lines=adj_frechet_lines),
        samples=(Sample("adj-frechet", None, lambda n, m: ((n, n), (n, n)),
                        ("general", "general")),),
    )
)
det_minors: Callable[..., Expr] = declare(
    Operation(
        name="det_minors",
        family="linalg",
        doc="the k-th derivative tensor of det X (axes a1, b1, ..., ak, bk): signed "
        "(n − k)-minors",
        shape=_minors_shape,
        numpy=det_minors_kernel,
        array_api=det_minors_portable,
        stacks=True,
        reference=brute_force_minors,
        attrs=("k",),
        check=_minors_check,
        differential=_d_det_minors,
        flops=lambda shapes: 12 * shapes[0][0] ** 3,
        notation=Notation(numpy_lines=det_minors_lines),
        samples=(Sample("det-minors-2", lambda x: det_minors(x, 2), _square_samples,
                        ("general",)),),
    )
)


def _size_of(shape: Shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


det: Callable[..., Expr] = declare(
    Operation(
        name="det",
        family="linalg",
        doc="determinant of a square matrix",
        shape=square("det", lambda n: ()),
        numpy=np.linalg.det,
        array_api=_det_portable,
        stacks=True,
        differential=_d_det,
        simplify=_at_identity(_scalar(1.0)),
        flops=lambda shapes: _cubic(shapes, 2 / 3),
        notation=Notation(latex=r"\det{0:arg}", numpy="np.linalg.det({0})"),
        numpy_functions=((np.linalg.det, None),),
        language=Language(("det",), "determinant of a square matrix", "(n,n) -> ()"),
        samples=(
            # a polynomial: every derivative exists at every X (singular ones too),
            # computed through adj, adj_frechet and det_minors without X⁻¹
            Sample("det", None, _square_samples, ("general",)),
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
        array_api=_logdet_portable,
        stacks=True,
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
        numpy=adjugate,
        array_api=adj_portable,
        stacks=True,
        reference=cofactor_adjugate,
        differential=_d_adj,
        simplify=_at_identity(lambda n, dt: delta(n, dt)),
        preserves_symmetry=True,
        flops=lambda shapes: _cubic(shapes, 12),
        notation=Notation(latex=r"\operatorname{{adj}}{0:arg}", numpy_lines=adjugate_lines),
        language=Language(("adj",), "adjugate of a square matrix", "(n,n) -> (n,n)"),
        samples=(Sample("adj", None, _square_samples, ("general",)),),
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
    """``A⁻¹ B`` (evaluated by a linear solve, never by forming the inverse).  An
    exactly singular ``A`` raises ``LinAlgError``; an ill-conditioned one (estimated
    relative error ``κ₁(A) · eps`` above 1e-6) warns with ``IllConditionedWarning``."""
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


def cond(x: Any, p: Any = None) -> Expr:
    """``np.linalg.cond``: ``s_max / s_min`` (``p`` None or 2; ``-2``: the inverse
    ratio) or ``‖A‖_p ‖A⁻¹‖_p`` for the other matrix norms (square ``A``)."""
    xe = as_expr(x)
    if xe.ndim != 2:
        raise ShapeError(f"cond takes one matrix, got shape {xe.shape}")
    if p is None or _is(p, 2.0) or _is(p, -2.0):
        s = svd_values(xe)
        big, small = _max(s), _min(s)
        if p is not None and float(p) < 0:
            big, small = small, big
        return multiply(big, power(small, -1.0))
    return multiply(matrix_norm(xe, p), matrix_norm(inv(xe), p))


register_numpy(np.linalg.slogdet, slogdet)
register_numpy(np.linalg.solve, solve)
register_numpy(np.linalg.norm, norm)
register_numpy(np.linalg.matrix_power, matrix_power)
register_numpy(np.linalg.cond, cond)
language_function(Language(("cond",), "condition number s_max / s_min", "(m,n) -> ()"), cond)
language_function(
    Language(("norm", "norm2"), "Frobenius norm of a matrix, 2-norm of a vector", "x -> ()"),
    norm,
)
