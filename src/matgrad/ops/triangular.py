"""Triangular and Cholesky solves (layer 3), as ``scipy.linalg`` has them.

Declared: ``solve_triangular(A, B)``, ``op(T)⁻¹ B`` for the triangle ``T`` of ``A``
that is read (``lower``; strictly below or above the diagonal, with a unit diagonal,
for ``unit_diagonal``) and ``op`` the identity, the transpose (``trans=1`` or
``"T"``) or, for real matrices, ``trans=2`` (``"C"``).  Built from it:
``cho_solve((c, lower), B)``, two triangular solves with the Cholesky factor ``c``,
and ``cho_factor``, the factor of :func:`matgrad.ops.decompositions.cholesky`.

**Derivative.**  ``dX = op(T)⁻¹ (dB − op(tri(dA)) X)``, where ``tri`` keeps the
triangle that is read: the gradient in ``A`` lives on that triangle (zero on the
other, which the solve never reads; as JAX, PyTorch and autograd), and the gradient
in ``B`` is ``op(T)⁻ᵀ B̄``.

SciPy's functions convert their arguments with ``np.asarray``: on expressions, call
``mg.solve_triangular``, ``mg.cho_solve`` (the same names under ``matgrad``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.linalg

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, einsum_node, zeros
from matgrad.ops.decompositions import cholesky
from matgrad.ops.indexing import permute, tril, triu
from matgrad.ops.registry import declare

__all__ = ["cho_factor", "cho_solve", "solve_triangular"]

Attrs = dict[str, Any]

_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}


def _check(attrs: Any) -> Attrs:
    trans = attrs["trans"]
    if isinstance(trans, (bool, np.bool_)) or trans not in _TRANS:
        raise InvalidArgumentError(
            f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}"
        )
    return {
        "trans": _TRANS[trans],
        "lower": bool(attrs["lower"]),
        "unit_diagonal": bool(attrs["unit_diagonal"]),
    }


def _shape(shapes: tuple[Shape, ...], attrs: Any) -> Shape:
    a, b = shapes
    if len(a) != 2 or a[0] != a[1]:
        raise ShapeError(f"solve_triangular needs a square matrix A, got shape {a}")
    if len(b) < 1 or b[0] != a[0]:
        raise ShapeError(f"solve_triangular: shapes {a} and {b} do not fit")
    return b


def _solve(a: Any, b: Any, trans: int, lower: bool, unit_diagonal: bool) -> Any:
    """SciPy's triangular solve, with any trailing axes of ``b`` as columns."""
    a, b = np.asarray(a), np.asarray(b)
    if trans == 2 and not np.iscomplexobj(a):
        trans = 1
    flat = b.reshape(b.shape[0], -1)
    x = scipy.linalg.solve_triangular(
        a, flat, trans=trans, lower=lower, unit_diagonal=unit_diagonal, check_finite=False
    )
    return np.asarray(x).reshape(b.shape)


def _solve_portable(ns: Any, attrs: Any) -> Callable[..., Any]:
    """``op(T)⁻¹ B`` on any engine: the triangle ``T`` (unit diagonal if asked) masked
    out of ``A`` — as SciPy reads only it — and ``B``'s trailing axes as columns;
    a leading batch axis on both operands."""
    trans, lower, unit = attrs["trans"], attrs["lower"], attrs["unit_diagonal"]

    def kernel(a: Any, b: Any) -> Any:
        n = a.shape[-1]
        lead = tuple(a.shape[:-2])
        keep = np.tril(np.ones((n, n)), -1 if unit else 0)
        if not lower:
            keep = keep.T
        t = a * ns.asarray(keep, like=a)
        if unit:
            t = t + ns.asarray(np.eye(n), like=a)
        low = lower
        if trans:
            t, low = ns.matrix_transpose(t), not lower
        flat = ns.reshape(b, (*lead, n, -1))
        x = ns.linalg.solve_triangular(t, flat, lower=low)
        return ns.reshape(x, tuple(b.shape))

    return kernel


def _triangle(node: Apply, da: Expr) -> Expr:
    """The part of ``dA`` that the solve reads."""
    attrs = node.attrs
    k = (-1 if attrs["lower"] else 1) if attrs["unit_diagonal"] else 0
    return tril(da, k) if attrs["lower"] else triu(da, k)


def _d_solve_triangular(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dX = op(T)⁻¹ (dB − op(tri(dA)) X)`` with ``T = tri(A)``, ``X = op(T)⁻¹ B`` and
    ``tri`` the triangle read (strict for a unit diagonal): the gradient in ``A`` lives
    on that triangle."""
    assert isinstance(node, Apply)
    da, db = d
    if node.attrs["trans"] == 2 and np.issubdtype(node.dtype, np.complexfloating):
        raise UnsupportedOperationError(
            "solve_triangular: the derivative with trans='C' of a complex matrix (not "
            "complex-linear) is not supported; use trans='T' on the conjugate"
        )
    parts: list[Expr] = [] if isinstance(db, Zero) else [db]
    coeffs: list[float] = [1.0] if parts else []
    if not isinstance(da, Zero):
        t = _triangle(node, da)
        rest = tuple(range(2, node.ndim + 1))
        rows = (1, 0) if node.attrs["trans"] else (0, 1)
        parts.append(einsum_node([t, node], [rows, (1, *rest)], (0, *rest)))
        coeffs.append(-1.0)
    if not parts:
        return zeros(node.shape, node.dtype)
    return _SOLVE(node.args[0], add(parts, coeffs), **node.attrs)


def _push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    """Linear in B: solve with the tangent's extra axes as more columns."""
    assert isinstance(node, Apply)
    if not isinstance(tangents[0], Zero):
        raise AssertionError("internal error: solve_triangular is not linear in A")
    if isinstance(tangents[1], Zero):
        return zeros(node.shape + extra, node.dtype)
    return _SOLVE(node.args[0], tangents[1], **node.attrs)


def _pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    """``B̄ = op(T)⁻ᵀ X̄``, the cotangent's leading axes carried as columns."""
    assert isinstance(node, Apply)
    if k == 0:
        raise AssertionError("internal error: solve_triangular is not linear in A")
    e, r = len(extra), node.ndim
    moved = permute(cotangent, (*range(e, e + r), *range(e)))
    attrs = {**node.attrs, "trans": 0 if node.attrs["trans"] else 1}
    solved = _SOLVE(node.args[0], moved, **attrs)
    return permute(solved, (*range(r, r + e), *range(r)))


def _lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    sl = fresh("sl")
    a, b = args
    at = node.attrs
    n = node.shape[0]
    return [
        f"import scipy.linalg as {sl}",
        (
            f"{var} = {sl}.solve_triangular({a}, {b}.reshape({n}, -1), trans={at['trans']}, "
            f"lower={at['lower']}, unit_diagonal={at['unit_diagonal']}).reshape({node.shape})"
        ),
    ]


_SOLVE = Operation(
    name="solve_triangular",
    family="triangular",
    doc="op(T)⁻¹ B for the triangle T of A that is read (scipy.linalg.solve_triangular)",
    arity=2,
    attrs=("trans", "lower", "unit_diagonal"),
    check=_check,
    shape=_shape,
    numpy=_solve,
    array_api=_solve_portable,
    stacks=True,
    differential=_d_solve_triangular,
    linear=Linear(_push, _pull),
    flops=lambda shapes: int(shapes[0][0] ** 2 * np.prod(shapes[1][1:], dtype=np.int64)),
    domain=lambda attrs: ("spd", "general"),
    notation=Notation(numpy_lines=_lines),
    samples=(
        Sample(
            "solve-triangular-lower",
            lambda a, b: solve_triangular(a, b, lower=True),
            lambda n, m: ((n, n), (n, m)),
            ("spd", "general"),
        ),
        Sample(
            "solve-triangular-upper-transposed",
            lambda a, b: solve_triangular(a, b, trans="T"),
            lambda n, m: ((n, n), (n,)),
            ("spd", "general"),
        ),
        Sample(
            "solve-triangular-unit-diagonal",
            lambda a, b: solve_triangular(a, b, lower=True, unit_diagonal=True),
            lambda n, m: ((n, n), (n, m)),
            ("general", "general"),
        ),
    ),
    # the triangle of an spd form D + E (‖E‖_F ≤ 1/4, D ≥ I) has singular values ≥ 1/2
    fuzz=(Fuzz("spd", operands=("general",), bound=lambda lo, hi, n, **attrs: 2.0 * n * hi[1],
               attrs=({"trans": 0, "lower": True, "unit_diagonal": False},
                      {"trans": 1, "lower": False, "unit_diagonal": False},
                      {"trans": 0, "lower": False, "unit_diagonal": True})),),
)
declare(_SOLVE)


def solve_triangular(
    a: Any,
    b: Any,
    trans: Any = 0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
) -> Expr:
    """``op(T)⁻¹ b`` for the triangle ``T`` of ``a`` (upper by default, as SciPy),
    ``op`` chosen by ``trans`` (0/'N', 1/'T', 2/'C'); ``scipy.linalg.solve_triangular``
    on expressions.

    >>> import matgrad as mg
    >>> L, b = mg.Matrix("L", (3, 3)), mg.Vector("b", 3)
    >>> print(mg.solve_triangular(L, b, lower=True).shape)
    (3,)
    """
    return _SOLVE(as_expr(a), as_expr(b), trans=trans, lower=lower, unit_diagonal=unit_diagonal)


solve_triangular.op = _SOLVE  # type: ignore[attr-defined]


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Expr:
    """``A⁻¹ b`` for ``A = c cᵀ`` (``lower``) or ``cᵀ c``, from the Cholesky factor ``c``
    (``scipy.linalg.cho_solve``): two triangular solves, reading one triangle of ``c``.

    >>> import matgrad as mg
    >>> c, b = mg.Matrix("c", (2, 2)), mg.Vector("b", 2)
    >>> print(mg.cho_solve((c, True), b).shape)
    (2,)
    """
    try:
        c, lower = c_and_lower
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "cho_solve: pass the pair (c, lower) that cho_factor returns"
        ) from None
    lower = bool(lower)
    first = solve_triangular(c, b, trans=0 if lower else 1, lower=lower)
    return solve_triangular(c, first, trans=1 if lower else 0, lower=lower)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Expr, bool]:
    """``(c, lower)`` with ``c`` the Cholesky factor of the symmetric positive definite
    ``a`` (``scipy.linalg.cho_factor``): reading the lower triangle, ``L`` with
    ``a = L Lᵀ`` (``lower=True``), else reading the upper, ``U = Lᵀ`` with ``a = Uᵀ U``;
    unlike SciPy's, the other triangle of ``c`` is zero.  Built on :func:`cholesky`.

    >>> import matgrad as mg
    >>> c, lower = mg.cho_factor(mg.Matrix("A", (2, 2)))
    >>> print(c.shape, lower)
    (2, 2) False
    """
    ae = as_expr(a)
    if lower:
        return cholesky(ae), True
    return permute(cholesky(permute(ae, (1, 0))), (1, 0)), False
