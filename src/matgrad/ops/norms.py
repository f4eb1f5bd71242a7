"""Vector and matrix norms and rank (layer 3), as ``numpy.linalg`` has them:
``norm``, ``vector_norm``, ``matrix_norm``, ``matrix_rank`` (``cond``, which needs
the inverse, is in :mod:`matgrad.ops.linalg`).  All are built from declared
operations; no operation of their own.

Conventions where a norm is not differentiable (JAX's ``jnp.linalg.norm``, which
computes the singular values and then takes ``max``/``min``/``sum``):

- ``ord=2`` (``-2``) is the largest (smallest) singular value; where several are
  exactly equal they share the derivative equally (``max``'s rule), so the
  gradient of ``‖A‖₂`` at an exact tie is the average ``(1/k) Σᵢ uᵢvᵢᵀ`` over the
  tied pairs.  Singular values that LAPACK returns a rounding error apart (an
  orthogonal ``A``) are not tied for ``max``: the gradient is then ``u₁v₁ᵀ`` for the
  basis NumPy picked — still a subgradient, as in JAX.  Second derivatives need the
  singular values distinct and nonzero (``DegenerateSpectrumError`` otherwise).
- ``'nuc'`` is ``Σ sᵢ``; its gradient is the polar factor ``U Vᵀ`` and its Hessian
  is finite at repeated singular values while ``A`` has full rank.
- ``ord=1, -1, inf, -inf`` take ``max``/``min`` of absolute column (row) sums: ties
  share equally, ``abs′(0) = 0`` (matgrad's ``abs``).
- vector ``ord=0`` counts nonzero entries: derivative zero; ``ord=p`` is
  ``(Σ |xᵢ|ᵖ)^(1/p)``; ``ord=±inf`` ``max``/``min`` of ``|xᵢ|``.
- ``matrix_rank`` is integer-valued: applied to an expression it raises
  :class:`~matgrad.errors.NotDifferentiableError`.

>>> import matgrad as mg
>>> A = mg.Matrix("A", (3, 2))
>>> print(mg.derivative(norm(A, "nuc"), A))
svd_power(A, p=0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from matgrad.errors import (
    InvalidArgumentError,
    NotDifferentiableError,
    ShapeError,
    UnsupportedOperationError,
)
from matgrad.ir.apply import Language
from matgrad.ir.expr import Expr, as_expr, einsum_node, ones
from matgrad.ops.core import multiply, reduction_axes, transpose
from matgrad.ops.core import sum as _sum
from matgrad.ops.elementwise import abs as _abs
from matgrad.ops.elementwise import power, sqrt
from matgrad.ops.piecewise import not_equal
from matgrad.ops.reductions import max as _max
from matgrad.ops.reductions import min as _min
from matgrad.ops.registry import language_function, register_numpy
from matgrad.ops.singular import svd_values

__all__ = ["matrix_norm", "matrix_rank", "norm", "vector_norm"]


def _is(ord: Any, value: float) -> bool:
    return not isinstance(ord, str) and ord is not None and float(ord) == value


def vector_norm(x: Any, ord: Any = 2, axis: Any = None, keepdims: bool = False) -> Expr:
    """``np.linalg.vector_norm``: ``(Σ |xᵢ|ᵖ)^(1/p)`` over ``axis`` (all entries by
    default), ``ord`` 2 (default), 1, 0 (the count of nonzeros), ``±inf`` or any
    real ``p``.

    >>> import matgrad as mg
    >>> print(vector_norm(mg.Vector("x", 3), 1))
    sum(abs(x))
    """
    xe = as_expr(x)
    if isinstance(ord, str):
        raise InvalidArgumentError(f"vector_norm: ord must be a number, got {ord!r}")
    axes = None if axis is None else reduction_axes(axis, xe.ndim, "vector_norm")
    if ord is None or _is(ord, 2.0):
        return sqrt(_sum(multiply(xe, xe), axis=axes, keepdims=keepdims))
    if _is(ord, math.inf):
        return _max(_abs(xe), axis=axes, keepdims=keepdims)
    if _is(ord, -math.inf):
        return _min(_abs(xe), axis=axes, keepdims=keepdims)
    if _is(ord, 0.0):
        return _sum(not_equal(xe, 0.0), axis=axes, keepdims=keepdims)
    if _is(ord, 1.0):
        return _sum(_abs(xe), axis=axes, keepdims=keepdims)
    p = float(ord)
    return power(_sum(power(_abs(xe), p), axis=axes, keepdims=keepdims), 1.0 / p)


def _matrix_axes(xe: Expr, axis: Any) -> Expr:
    """``xe`` with the matrix axes ``axis`` (a pair) as its two axes."""
    if xe.ndim != 2:
        raise UnsupportedOperationError(
            f"matrix norms of stacks are not supported (shape {xe.shape}); take one matrix")
    if axis is None:
        return xe
    pair = reduction_axes(axis, 2, "matrix norm")
    if len(pair) != 2 or len(tuple(axis)) != 2:
        raise InvalidArgumentError(f"a matrix norm needs two distinct axes, got {axis!r}")
    first = int(next(iter(axis))) % 2
    return xe if first == 0 else transpose(xe)


def _keep(value: Expr, keepdims: bool) -> Expr:
    if not keepdims:
        return value
    return einsum_node([value, ones((1, 1), value.dtype)], [(), (0, 1)], (0, 1))


def matrix_norm(x: Any, ord: Any = "fro", keepdims: bool = False, axis: Any = None) -> Expr:
    """``np.linalg.matrix_norm``: ``'fro'`` (default), ``'nuc'`` (the sum of the
    singular values), ``2``/``-2`` (the largest/smallest singular value),
    ``1``/``-1`` (max/min absolute column sum), ``inf``/``-inf`` (row sums); see the
    module docstring for the conventions at ties."""
    xe = _matrix_axes(as_expr(x), axis)
    if ord is None or ord == "fro":
        value = sqrt(_sum(multiply(xe, xe)))
    elif ord == "nuc":
        value = _sum(svd_values(xe))
    elif isinstance(ord, str):
        raise InvalidArgumentError(f"matrix_norm: unknown ord {ord!r}")
    elif _is(ord, 2.0):
        value = _max(svd_values(xe))
    elif _is(ord, -2.0):
        value = _min(svd_values(xe))
    elif _is(ord, 1.0) or _is(ord, -1.0):
        sums = _sum(_abs(xe), axis=0)
        value = _max(sums) if float(ord) > 0 else _min(sums)
    elif _is(ord, math.inf) or _is(ord, -math.inf):
        sums = _sum(_abs(xe), axis=1)
        value = _max(sums) if float(ord) > 0 else _min(sums)
    else:
        raise InvalidArgumentError(f"matrix_norm: ord {ord!r} is not a matrix norm")
    return _keep(value, keepdims)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Expr:
    """``np.linalg.norm`` for the ``ord`` values of :func:`vector_norm` (vectors,
    an int ``axis``) and :func:`matrix_norm` (matrices, an ``axis`` pair);
    ``ord=None`` is the 2-norm of all entries (Frobenius for a matrix).

    >>> import matgrad as mg
    >>> print(norm(mg.Matrix("A", (2, 2)), "nuc"))
    sum(svdvals(A))
    """
    xe = as_expr(x)
    if axis is None:
        if ord is None:
            flat = tuple(range(xe.ndim))
            value = sqrt(_sum(multiply(xe, xe)))
            return _reshape_kept(value, xe.ndim) if keepdims and flat else value
        if xe.ndim == 1:
            return vector_norm(xe, ord, keepdims=keepdims)
        if xe.ndim == 2:
            return matrix_norm(xe, ord, keepdims=keepdims)
        raise ShapeError(f"norm: ord={ord!r} needs a vector or a matrix, got shape {xe.shape}")
    if isinstance(axis, (int, np.integer)) or (isinstance(axis, Sequence) and len(axis) == 1):
        return vector_norm(xe, 2 if ord is None else ord, axis=axis, keepdims=keepdims)
    return matrix_norm(xe, "fro" if ord is None else ord, keepdims=keepdims, axis=axis)


def _reshape_kept(value: Expr, ndim: int) -> Expr:
    return einsum_node([value, ones((1,) * ndim, value.dtype)], [(), tuple(range(ndim))],
                       tuple(range(ndim)))


def matrix_rank(a: Any, *args: Any, **kwargs: Any) -> Expr:
    """Refused on expressions: the rank is an integer, piecewise constant in the
    entries, with no derivative to offer."""
    raise NotDifferentiableError(
        "matrix_rank is integer-valued and piecewise constant: it has no derivative. "
        "Compute it with numpy on the array value instead (np.linalg.matrix_rank(A0))"
    )


register_numpy(np.linalg.matrix_rank, matrix_rank)
if hasattr(np.linalg, "matrix_norm"):
    register_numpy(np.linalg.matrix_norm, lambda x, *, keepdims=False, ord="fro": matrix_norm(
        x, ord, keepdims))
if hasattr(np.linalg, "vector_norm"):
    register_numpy(np.linalg.vector_norm, lambda x, *, axis=None, keepdims=False, ord=2:
                   vector_norm(x, ord, axis, keepdims))
language_function(Language(("nuclear_norm", "nuc"), "nuclear norm: the sum of the singular values",
                           "(m,n) -> ()"), lambda a: matrix_norm(a, "nuc"))
language_function(Language(("spectral_norm",), "spectral norm: the largest singular value",
                           "(m,n) -> ()"), lambda a: matrix_norm(a, 2))
