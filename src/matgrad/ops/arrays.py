"""Everyday array functions (layer 3), each a composite of existing operations
(no declaration of its own): ``flip``, ``fliplr``, ``flipud``, ``roll``,
``pad``, ``repeat``, ``tile``, ``append``, ``copy``, ``zeros_like``,
``full_like``, ``empty_like``, ``real``, ``imag``, ``conj``, ``deg2rad``,
``rad2deg``, ``multi_dot``, ``cross``, ``polyval``, ``trapezoid``, ``vecdot``,
``cumprod``, ``ndim``, ``shape`` and ``size`` — each also the NumPy function of
that name on expressions.

Entries are moved by indexing with constant index arrays (gathers whose
transpose scatters: :mod:`matgrad.ops.indexing`) and by concatenation and
reshaping (:mod:`matgrad.ops.structure`); products are einsums.  ``cumprod`` is
exact at zeros: each entry is a ``prod`` of a masked copy of the operand (the
entries after it replaced by 1), whose derivatives multiply the other entries
without dividing (:func:`matgrad.ops.reductions.prod`); it costs ``O(n²)`` along
the axis.

Where NumPy takes an argument or mode these do not serve, they raise
``UnsupportedOperationError`` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.expr import Expr, as_expr, einsum_node, zeros
from matgrad.ops.core import _broadcast_shape, matmul, reduction_axes
from matgrad.ops.core import sum as _sum
from matgrad.ops.piecewise import where
from matgrad.ops.reductions import prod
from matgrad.ops.registry import register_numpy
from matgrad.ops.structure import broadcast_to, concatenate, diff, moveaxis, ravel, reshape, take
from matgrad.ops.subscripts import as_int, normalize_axis

__all__ = [
    "append",
    "cross",
    "cumprod",
    "deg2rad",
    "empty_like",
    "flip",
    "fliplr",
    "flipud",
    "full_like",
    "multi_dot",
    "pad",
    "polyval",
    "rad2deg",
    "repeat",
    "roll",
    "tile",
    "trapezoid",
    "vecdot",
    "zeros_like",
]


def _unsupported(what: str, **given: Any) -> None:
    used = sorted(k for k, v in given.items() if v is not None)
    if used:
        raise UnsupportedOperationError(
            f"{what}: the argument(s) {', '.join(used)} are not supported on matgrad expressions"
        )


def _real_only(x: Expr, what: str) -> None:
    if np.issubdtype(x.dtype, np.complexfloating):
        raise UnsupportedOperationError(
            f"{what} of a complex expression is not supported (matgrad serves it on real ones)"
        )


# ---------------------------------------------------------------------------------------
# Moving entries
# ---------------------------------------------------------------------------------------


def _axis_tuple(axis: Any, ndim: int, what: str) -> tuple[int, ...]:
    return reduction_axes(axis, ndim, what)


def flip(m: Any, axis: Any = None) -> Expr:
    """The entries in reverse order along ``axis`` (all axes when ``None``), as
    ``np.flip``."""
    xe = as_expr(m)
    axes = _axis_tuple(axis, xe.ndim, "flip")
    key = tuple(slice(None, None, -1) if k in axes else slice(None) for k in range(xe.ndim))
    return xe[key] if axes else xe


def fliplr(m: Any) -> Expr:
    """The columns in reverse order (``np.fliplr``; at least two axes)."""
    xe = as_expr(m)
    if xe.ndim < 2:
        raise ShapeError("fliplr needs an array of at least two axes")
    return flip(xe, 1)


def flipud(m: Any) -> Expr:
    """The rows in reverse order (``np.flipud``; at least one axis)."""
    xe = as_expr(m)
    if xe.ndim < 1:
        raise ShapeError("flipud needs an array of at least one axis")
    return flip(xe, 0)


def roll(a: Any, shift: Any, axis: Any = None) -> Expr:
    """The entries shifted cyclically by ``shift`` along ``axis`` (``np.roll``:
    ``None`` rolls the flattened entries; tuples of shifts and axes broadcast)."""
    xe = as_expr(a)
    if axis is None:
        return reshape(roll(ravel(xe), shift, 0), xe.shape)
    shifts = np.atleast_1d(np.asarray(shift))
    axes = np.atleast_1d(np.asarray(axis))
    if shifts.dtype.kind not in "iu" or axes.dtype.kind not in "iu":
        raise InvalidArgumentError("roll: shift and axis must be integers")
    total: dict[int, int] = {}
    for s, ax in zip(*np.broadcast_arrays(shifts, axes)):
        k = normalize_axis(int(ax), xe.ndim, "roll")
        total[k] = total.get(k, 0) + int(s)
    out = xe
    for k, s in total.items():
        n = xe.shape[k]
        if n and s % n:
            out = take(out, (np.arange(n) - s) % n, axis=k)
    return out


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Expr:
    """Each entry repeated ``repeats`` times along ``axis`` (``np.repeat``; the
    flattened entries when ``None``)."""
    xe = as_expr(a)
    if isinstance(repeats, Expr):
        raise UnsupportedOperationError("repeat: repeats must be constant integers")
    if axis is None:
        xe, axis = ravel(xe), 0
    k = normalize_axis(axis, xe.ndim, "repeat")
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iub":
        raise InvalidArgumentError("repeat: repeats must be integers")
    return take(xe, np.repeat(np.arange(xe.shape[k]), counts), axis=k)


def tile(A: Any, reps: Any) -> Expr:
    """``A`` repeated ``reps`` times along each axis (``np.tile``): a broadcast
    along interleaved new axes, reshaped."""
    xe = as_expr(A)
    counts = tuple(as_int(r, "tile: reps") for r in np.atleast_1d(np.asarray(reps)).tolist())
    if any(r < 0 for r in counts):
        raise InvalidArgumentError("tile: reps must be non-negative")
    d = max(len(counts), xe.ndim)
    counts = (1,) * (d - len(counts)) + counts
    shape = (1,) * (d - xe.ndim) + xe.shape
    spread = reshape(xe, tuple(v for n in shape for v in (1, n)))
    big = broadcast_to(spread, tuple(v for r, n in zip(counts, shape) for v in (r, n)))
    return reshape(big, tuple(r * n for r, n in zip(counts, shape)))


def append(arr: Any, values: Any, axis: int | None = None) -> Expr:
    """``values`` after the entries of ``arr`` (``np.append``: flattened when
    ``axis`` is ``None``)."""
    if axis is None:
        return concatenate([ravel(as_expr(arr)), ravel(as_expr(values))], axis=0)
    return concatenate([arr, values], axis=axis)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pairs(value: Any, ndim: int, what: str) -> Any:
    arr = np.asarray(value)
    try:
        return np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: {what} {value!r} does not fit {ndim} axes") from None


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Expr:
    """``array`` padded along each axis (``np.pad``) with ``mode`` ``"constant"``
    (``constant_values``: numbers, or one scalar expression), ``"edge"``,
    ``"reflect"``, ``"symmetric"`` or ``"wrap"``; the axes are padded one after
    the other, as NumPy does."""
    xe = as_expr(array)
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise UnsupportedOperationError(
            f"pad: mode={mode!r} is not supported on matgrad expressions (supported: "
            f"{', '.join(_PAD_MODES)})"
        )
    allowed = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
               "symmetric": {"reflect_type"}}.get(mode, set())
    extra = sorted(set(kwargs) - allowed)
    if extra:
        raise UnsupportedOperationError(f"pad: the argument(s) {', '.join(extra)} are not "
                                        f"supported with mode={mode!r}")
    if kwargs.get("reflect_type", "even") != "even":
        raise UnsupportedOperationError("pad: only reflect_type='even' is supported")
    if isinstance(pad_width, Expr):
        raise UnsupportedOperationError("pad: pad_width must be constant integers")
    widths = _pairs(pad_width, xe.ndim, "pad_width")
    if widths.dtype.kind not in "iu":
        raise InvalidArgumentError("pad: pad_width must be integers")
    if np.any(widths < 0):
        raise InvalidArgumentError("pad: pad_width must be non-negative")
    fill = kwargs.get("constant_values", 0)
    scalar_fill = isinstance(fill, Expr)
    if scalar_fill and as_expr(fill).ndim != 0:
        raise UnsupportedOperationError("pad: an expression constant_values must be a scalar")
    values = None if scalar_fill else _pairs(fill, xe.ndim, "constant_values")
    out = xe
    for k in range(xe.ndim):
        before, after = int(widths[k, 0]), int(widths[k, 1])
        if not before and not after:
            continue
        n = out.shape[k]
        if mode == "constant":
            parts = []
            for width, side in ((before, 0), (after, 1)):
                block = (*out.shape[:k], width, *out.shape[k + 1 :])
                if scalar_fill:
                    parts.append(broadcast_to(fill, block) if width else None)
                else:
                    assert values is not None
                    parts.append(as_expr(np.full(block, values[k, side], dtype=xe.dtype))
                                 if width else None)
            out = concatenate([p for p in (parts[0], out, parts[1]) if p is not None], axis=k)
            continue
        if n == 0:
            raise ShapeError(f"pad: cannot pad an empty axis with mode={mode!r}")
        index = np.pad(np.arange(n), (before, after), mode=mode)  # type: ignore[call-overload]
        out = take(out, index, axis=k)
    return out


def copy(a: Any, order: str = "K", subok: bool = False) -> Expr:
    """The expression itself (``np.copy``: expressions are immutable)."""
    return as_expr(a)


def _like(a: Any, dtype: Any, shape: Any, what: str) -> tuple[tuple[int, ...], Any]:
    xe = as_expr(a)
    target = xe.shape if shape is None else tuple(
        as_int(d, f"{what}: shape") for d in np.atleast_1d(np.asarray(shape)).tolist())
    return target, (xe.dtype if dtype is None else np.dtype(dtype))


def zeros_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, *, device: Any = None) -> Expr:
    """Zeros of ``a``'s shape and dtype (``np.zeros_like``): a constant."""
    target, dt = _like(a, dtype, shape, "zeros_like")
    return zeros(target, dt)


def empty_like(prototype: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, *, device: Any = None) -> Expr:
    """``np.empty_like`` of an expression: zeros (a defined value)."""
    return zeros_like(prototype, dtype, order, subok, shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, order: str = "K",
              subok: bool = True, shape: Any = None, *, device: Any = None) -> Expr:
    """``fill_value`` in every entry of ``a``'s shape (``np.full_like``); the fill
    may be a scalar expression."""
    target, dt = _like(a, dtype, shape, "full_like")
    if isinstance(fill_value, Expr):
        return broadcast_to(fill_value, target)
    return as_expr(np.full(target, fill_value, dtype=dt))


def real(val: Any) -> Expr:
    """The real part of a real expression: itself (``np.real``)."""
    xe = as_expr(val)
    _real_only(xe, "real")
    return xe


def imag(val: Any) -> Expr:
    """The imaginary part of a real expression: zeros (``np.imag``)."""
    xe = as_expr(val)
    _real_only(xe, "imag")
    return zeros(xe.shape, xe.dtype)


def conj(x: Any) -> Expr:
    """The complex conjugate of a real expression: itself (``np.conj``)."""
    xe = as_expr(x)
    _real_only(xe, "conjugate")
    return xe


def deg2rad(x: Any) -> Expr:
    """Degrees to radians, ``x π / 180`` (``np.deg2rad``, ``np.radians``)."""
    return as_expr(x) * (math.pi / 180.0)


def rad2deg(x: Any) -> Expr:
    """Radians to degrees, ``x 180 / π`` (``np.rad2deg``, ``np.degrees``)."""
    return as_expr(x) * (180.0 / math.pi)


# ---------------------------------------------------------------------------------------
# Products and sums
# ---------------------------------------------------------------------------------------


def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Expr:
    """The chain product of matrices (``np.linalg.multi_dot``; the first and the
    last may be vectors)."""
    _unsupported("multi_dot", out=out)
    items = list(arrays)
    if len(items) < 2:
        raise InvalidArgumentError("multi_dot: expecting at least two arrays")
    exprs = [as_expr(a) for a in items]
    for k, e in enumerate(exprs):
        if e.ndim != 2 and not (e.ndim == 1 and k in (0, len(exprs) - 1)):
            raise ShapeError(f"multi_dot: array {k} has {e.ndim} axes (matrices; vectors "
                             "only first or last)")
    result = exprs[0]
    for e in exprs[1:]:
        result = matmul(result, e)
    return result


_LEVI_CIVITA = np.zeros((3, 3, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _LEVI_CIVITA[_i, _j, _k], _LEVI_CIVITA[_i, _k, _j] = 1.0, -1.0


def _with_z(v: Expr) -> Expr:
    """A 2-vector (last axis) as a 3-vector with a zero third component."""
    z = zeros((*v.shape[:-1], 1), v.dtype)
    return concatenate([v, z], axis=-1)


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Expr:
    """The cross product of 3-vectors (or 2-vectors: its z component, a scalar)
    along the last axis, batched and broadcast (``np.cross``):
    ``c_i = ε_ijk a_j b_k``."""
    ae, be = as_expr(a), as_expr(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if ae.ndim == 0 or be.ndim == 0:
        raise ShapeError("cross: operands need at least one axis")
    ae = moveaxis(ae, normalize_axis(axisa, ae.ndim, "cross"), -1)
    be = moveaxis(be, normalize_axis(axisb, be.ndim, "cross"), -1)
    na, nb = ae.shape[-1], be.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError("cross: incompatible dimensions for cross product (dimension must be "
                         "2 or 3)")
    batch = _broadcast_shape("cross", ae.shape[:-1], be.shape[:-1])
    ae, be = broadcast_to(ae, (*batch, na)), broadcast_to(be, (*batch, nb))
    lead = tuple(range(3, 3 + len(batch)))
    if na == nb == 2:
        eps = as_expr(np.array([[0.0, 1.0], [-1.0, 0.0]]))
        return einsum_node([eps, ae, be], [(1, 2), (*lead, 1), (*lead, 2)], lead)
    ae = _with_z(ae) if na == 2 else ae
    be = _with_z(be) if nb == 2 else be
    c = einsum_node([as_expr(_LEVI_CIVITA), ae, be], [(0, 1, 2), (*lead, 1), (*lead, 2)],
                    (*lead, 0))
    return moveaxis(c, -1, normalize_axis(axisc, c.ndim, "cross")) if c.ndim > 1 else c


def vecdot(x1: Any, x2: Any) -> Expr:
    """``Σ_i x1[..., i] x2[..., i]`` over the last axis, broadcast (``np.vecdot``
    of real operands)."""
    ae, be = as_expr(x1), as_expr(x2)
    _real_only(ae, "vecdot")
    if ae.ndim == 0 or be.ndim == 0:
        raise ShapeError("vecdot: operands need at least one axis")
    if ae.shape[-1] != be.shape[-1]:
        raise ShapeError(f"vecdot: last axes differ: {ae.shape} and {be.shape}")
    return _sum(ae * be, axis=-1)


def polyval(p: Any, x: Any) -> Expr:
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by
    Horner's rule (``np.polyval``); coefficients and points may be constants or
    expressions."""
    if isinstance(p, Expr):
        if p.ndim != 1:
            raise ShapeError(f"polyval: the coefficients must be a vector, got shape {p.shape}")
        coeffs: list[Any] = [p[k] for k in range(p.shape[0])]
    else:
        coeffs = list(p) if isinstance(p, (list, tuple)) else list(np.asarray(p))
    xe = as_expr(x)
    result: Expr = zeros(xe.shape, xe.dtype)
    for c in coeffs:
        result = result * xe + c
    return result


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Expr:
    """The trapezoidal rule along ``axis`` (``np.trapezoid``): ``Σ d (y[1:] +
    y[:-1]) / 2`` with spacings ``d = diff(x)`` (or ``dx``)."""
    ye = as_expr(y)
    k = normalize_axis(axis, ye.ndim, "trapezoid")
    if x is None:
        d: Any = dx
    else:
        xe = as_expr(x)
        d = diff(xe, axis=-1 if xe.ndim == 1 else k)
        if xe.ndim == 1:
            shape = [1] * ye.ndim
            shape[k] = d.shape[0]
            d = reshape(d, tuple(shape))
    lead = (slice(None),) * k
    above, below = (*lead, slice(1, None)), (*lead, slice(None, -1))
    upper, lower = ye[above], ye[below]
    return _sum((upper + lower) * d, axis=k) * 0.5


def cumprod(a: Any, axis: int | None = None) -> Expr:
    """Cumulative products along ``axis`` (``np.cumprod``; ``None``: of the
    flattened entries): entry ``k`` is the ``prod`` of the entries up to ``k``,
    built with the later entries masked to 1, so derivatives are exact at zeros."""
    xe = as_expr(a)
    if axis is None:
        xe, axis = ravel(xe), 0
    k = normalize_axis(axis, xe.ndim, "cumprod")
    n = xe.shape[k]
    last = moveaxis(xe, k, -1)
    spread = reshape(last, (*last.shape[:-1], 1, n))
    upto = np.tril(np.ones((n, n), dtype=bool))
    masked = where(upto, spread, 1.0)
    return moveaxis(prod(masked, axis=-1), -1, k)


# ---------------------------------------------------------------------------------------
# NumPy entry points
# ---------------------------------------------------------------------------------------


def _np_cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Expr:
    xe = as_expr(a)
    _unsupported("cumprod", out=out)
    if dtype is not None and np.dtype(dtype) != xe.dtype:
        raise UnsupportedOperationError("cumprod: the argument dtype is not supported")
    return cumprod(xe, axis)


def _np_trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Expr:
    return trapezoid(y, x, dx, axis)


def _np_polyval(p: Any, x: Any) -> Expr:
    return polyval(p, x)


def _np_size(a: Any, axis: int | None = None) -> int:
    xe = as_expr(a)
    return xe.size if axis is None else xe.shape[normalize_axis(axis, xe.ndim, "size")]


def _np_append(arr: Any, values: Any, axis: int | None = None) -> Expr:
    return append(arr, values, axis)


def _np_roll(a: Any, shift: Any, axis: Any = None) -> Expr:
    return roll(a, shift, axis)


def _np_repeat(a: Any, repeats: Any, axis: int | None = None) -> Expr:
    return repeat(a, repeats, axis)


for _func, _handler in (
    (np.flip, flip),
    (np.fliplr, fliplr),
    (np.flipud, flipud),
    (np.roll, _np_roll),
    (np.pad, pad),
    (np.repeat, _np_repeat),
    (np.tile, tile),
    (np.append, _np_append),
    (np.copy, copy),
    (np.zeros_like, zeros_like),
    (np.empty_like, empty_like),
    (np.full_like, full_like),
    (np.real, real),
    (np.imag, imag),
    (np.conjugate, conj),
    (np.deg2rad, deg2rad),
    (np.radians, deg2rad),
    (np.rad2deg, rad2deg),
    (np.degrees, rad2deg),
    (np.linalg.multi_dot, multi_dot),
    (np.cross, cross),
    (np.polyval, _np_polyval),
    (np.vecdot, vecdot),
    (np.cumprod, _np_cumprod),
    (np.ndim, lambda a: as_expr(a).ndim),
    (np.shape, lambda a: as_expr(a).shape),
    (np.size, _np_size),
):
    register_numpy(_func, _handler)
for _name in ("trapezoid", "trapz"):
    if hasattr(np, _name):
        register_numpy(getattr(np, _name), _np_trapezoid)
