"""Statistics (layer 3): ``var``, ``std``, ``cov`` and ``average`` as NumPy has
them (``axis``, ``ddof``, ``keepdims``, weights), composites of the multilinear
core (``mean``, ``sum``, products) and ``sqrt``: no operations of their own.

``std`` at zero variance has no derivative (NaN from ``sqrt′(0)``, as in JAX).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Language
from matgrad.ir.expr import Expr, as_expr, einsum_node, ones
from matgrad.ops.core import mean, multiply, reduction_axes, reduction_options, sum
from matgrad.ops.elementwise import power, sqrt
from matgrad.ops.registry import language_function, register_numpy
from matgrad.ops.structure import concatenate, reshape

__all__ = ["average", "cov", "std", "var"]


def _kept(shape: Shape, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(k for k in range(len(shape)) if k not in axes)


def _count(shape: Shape, axes: Sequence[int]) -> int:
    return math.prod(shape[a] for a in axes)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Expr:
    """The variance ``Σ (x − mean x)² / (N − ddof)`` over all axes or ``axis``
    (``np.var``).

    >>> import matgrad as mg, numpy as np
    >>> mg.var(mg.Vector("x", 3)).evaluate(x=np.array([1.0, 2.0, 6.0]))
    array(4.66666667)
    """
    xe = as_expr(x)
    axes = reduction_axes(axis, xe.ndim, "var")
    count = _count(xe.shape, axes) - ddof
    if count <= 0:
        raise InvalidArgumentError(
            f"var: {_count(xe.shape, axes)} entries leave no degrees of freedom with ddof={ddof}"
        )
    centered = xe - mean(xe, axes, keepdims=True)
    return sum(multiply(centered, centered), axes, keepdims) * (1.0 / count)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Expr:
    """The standard deviation ``sqrt(var(x))`` (``np.std``).  At zero variance it has
    no derivative (``sqrt′(0)``: NaN, as in JAX)."""
    return sqrt(var(x, axis, ddof, keepdims))


def _rows(m: Any, rowvar: bool, what: str) -> Expr:
    """The observations of ``np.cov`` as rows of variables."""
    x = as_expr(m)
    if x.ndim > 2:
        raise ShapeError(f"{what}: shape {x.shape} has more than 2 dimensions")
    x = reshape(x, (1, x.size)) if x.ndim < 2 else x
    return x.T if not rowvar and x.shape[0] != 1 else x


def cov(
    m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
    fweights: Any = None, aweights: Any = None,
) -> Expr:
    """The covariance matrix of the variables in the rows of ``m`` (columns with
    ``rowvar=False``), as ``np.cov``: ``Xc Xcᵀ / (N − ddof)`` with ``Xc`` the
    centered observations (``ddof`` 1, or 0 with ``bias=True``); ``fweights`` and
    ``aweights`` weigh the observations; one variable gives a scalar.

    >>> import matgrad as mg
    >>> mg.cov(mg.Matrix("X", (3, 10))).shape
    (3, 3)
    """
    x = _rows(m, rowvar, "cov")
    if y is not None:
        x = concatenate([x, _rows(y, rowvar, "cov")], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w: Expr | None = None
    for given in (fweights, aweights):
        if given is not None:
            g = as_expr(given)
            if g.shape != (n,):
                raise ShapeError(f"cov: weights of shape {g.shape} for {n} observations")
            w = g if w is None else multiply(w, g)
    if w is None:
        centered = x - mean(x, axis=1, keepdims=True)
        count: Any = n - ddof
        if count <= 0:
            raise InvalidArgumentError(f"cov: {n} observations with ddof={ddof}")
        c = (centered @ centered.T) * (1.0 / count)
    else:
        total = sum(w)
        centered = x - reshape((x @ w) / total, (x.shape[0], 1))
        if aweights is None:
            count = total - ddof
        else:
            count = total - ddof * (w @ as_expr(aweights)) / total
        c = (centered @ multiply(centered, w).T) / count
    return reshape(c, ()) if c.shape == (1, 1) else c


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
    keepdims: bool = False,
) -> Expr | tuple[Expr, Expr]:
    """The (weighted) average ``Σ a w / Σ w`` over all axes or ``axis``
    (``np.average``); ``weights`` of ``a``'s shape or, with ``axis``, of the
    shape of the axes averaged over.  ``returned=True`` also gives ``Σ w``.

    >>> import matgrad as mg, numpy as np
    >>> x = mg.Vector("x", 2)
    >>> mg.average(x, weights=np.array([1.0, 3.0])).evaluate(x=np.array([4.0, 8.0]))
    array(7.)
    """
    ae = as_expr(a)
    axes = reduction_axes(axis, ae.ndim, "average")
    if weights is None:
        avg = mean(ae, axes, keepdims)
        scale: Expr = as_expr(np.full(avg.shape, float(_count(ae.shape, axes))))
        return (avg, scale) if returned else avg
    w = as_expr(weights)
    if w.shape != ae.shape:
        if axis is None:
            raise ShapeError("average: axis must be given when a and weights differ in shape")
        if w.shape != tuple(ae.shape[k] for k in axes):
            raise ShapeError(
                f"average: weights of shape {w.shape} do not fit a of shape {ae.shape} "
                f"along axis {axis}"
            )
        w = einsum_node([w, ones(tuple(ae.shape[k] for k in _kept(ae.shape, axes)))],
                        [axes, _kept(ae.shape, axes)], tuple(range(ae.ndim)))
    if not isinstance(weights, Expr):
        values = np.asarray(weights, dtype=float)
        if np.any(np.sum(values, axis=axes if values.shape == ae.shape else None) == 0):
            raise ZeroDivisionError("average: the weights sum to zero")
    total = sum(w, axes, keepdims)
    avg = multiply(sum(multiply(ae, w), axes, keepdims), power(total, -1.0))
    return (avg, total) if returned else avg


# ---------------------------------------------------------------------------------------
# NumPy entry points
# ---------------------------------------------------------------------------------------


def _np_moment(reduce: Callable[..., Expr], what: str) -> Any:
    def handler(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
                keepdims: bool = False, *, where: Any = True, mean: Any = None,
                correction: Any = None) -> Expr:
        xe = as_expr(a)
        reduction_options(what, xe, dtype, out, where=where, mean=mean)
        if correction is not None:
            if ddof != 0:
                raise InvalidArgumentError(f"{what}: ddof and correction cannot both be given")
            ddof = correction
        return reduce(xe, axis, ddof, keepdims)

    return handler


def _np_cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
            ddof: int | None = None, fweights: Any = None, aweights: Any = None, *,
            dtype: Any = None) -> Expr:
    reduction_options("cov", as_expr(m), dtype)
    return cov(m, y, rowvar, bias, ddof, fweights, aweights)


register_numpy(np.var, _np_moment(var, "var"))
register_numpy(np.std, _np_moment(std, "std"))
register_numpy(np.cov, _np_cov)
register_numpy(np.average, average)
language_function(Language(("var",), "variance of the entries", "x -> ()"), lambda x: var(x))
language_function(Language(("std",), "standard deviation of the entries", "x -> ()"),
                  lambda x: std(x))
