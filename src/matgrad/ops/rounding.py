"""Rounding and masks (layer 3): piecewise-constant functions, whose derivative
is zero.

Declared, each an elementwise operation with a zero differential: ``floor``,
``ceil``, ``trunc`` (NumPy's ``np.trunc`` and ``np.fix``), ``rint`` and
``round`` (``np.round``/``np.around`` with ``decimals``; halves to even, as
NumPy).

Built from the comparisons of :mod:`matgrad.ops.piecewise` (masks: 1 where a
relation holds, 0 elsewhere, derivative zero) and ``where``: ``heaviside``,
the logic of masks (``logical_and``, ``logical_or``, ``logical_not``,
``logical_xor``: a nonzero entry is true, as NumPy reads numbers), ``isclose``,
``isnan``, ``isfinite`` and ``isinf`` — each also the NumPy function of that name
on expressions; their results are masks (0/1 in the floating dtype), usable as
``np.where``'s condition.

Conventions (JAX's: ``jnp.round``, ``jnp.floor``, ``jnp.ceil``, ``jnp.trunc``
and ``jnp.rint`` have the derivative zero everywhere, the jumps included;
``jnp.heaviside(x, h0)`` is ``where(x < 0, 0, where(x > 0, 1, h0))``):

- ``round``, ``rint``, ``floor``, ``ceil``, ``trunc``, ``fix``: derivative zero,
  at the jumps too;
- ``heaviside(x, h0)``: zero derivative in ``x``; ``h0`` (when an expression)
  passes its derivative where ``x == 0``;
- masks (``isclose``, ``isnan``, ``isfinite``, ``isinf``, ``logical_*``):
  derivative zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import UnsupportedOperationError
from matgrad.ir.apply import Fuzz, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Expr, as_expr, zeros
from matgrad.ops.elementwise import abs as _abs
from matgrad.ops.piecewise import equal, less, less_equal, not_equal, ordered_dtype, where
from matgrad.ops.piecewise import greater as _greater
from matgrad.ops.registry import declare, operation, register_numpy
from matgrad.ops.subscripts import as_int

__all__ = [
    "ceil",
    "floor",
    "heaviside",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "rint",
    "round",
    "trunc",
]


def _matrix(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _away(a: Expr, where_: float) -> Expr:
    """General values (in [−2, 2]) squeezed to ``where_ ± 0.02``: no jump of a
    rounding function within a numerical-derivative step."""
    return a * 0.01 + where_


def _piecewise_constant(
    name: str, numpy: Callable[..., Any], doc: str, source: str,
    funcs: tuple[Callable[..., Any], ...], attrs: tuple[str, ...] = (),
    check: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    sample_at: float = 3.5,
    array_api: Callable[[Any, Any], Callable[..., Any]] | None = None,
) -> Operation:
    """The declaration of an elementwise piecewise-constant function."""

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        return zeros(node.shape, node.dtype)

    differential.__doc__ = (
        f"``d {name}(x) = 0``: {name} is piecewise constant; its derivative is zero, and "
        "taken as zero at the jumps too (JAX's convention)."
    )
    return Operation(
        name=name,
        family="rounding",
        doc=doc,
        attrs=attrs,
        check=check,
        shape=same_shape,
        numpy=numpy,
        array_api=array_api,
        differential=differential,
        dtype=ordered_dtype,
        elementwise=True,
        preserves_symmetry=True,
        notation=Notation(numpy=source),
        numpy_functions=tuple((f, None) for f in funcs),
        samples=(
            Sample(name, lambda a: operation(name)(_away(a, sample_at), *_defaults(attrs)) * a,
                   _matrix, ("general",)),
        ),
        fuzz=(Fuzz("mask", bound=lambda lo, hi, n, **kw: 1.0,
                   attrs=({k: 0 for k in attrs},)),),
    )


def _defaults(attrs: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(0 for _ in attrs)


floor: Callable[..., Expr] = declare(_piecewise_constant(
    "floor", np.floor, "entrywise largest integer not above x", "np.floor({0})", (np.floor,)))
ceil: Callable[..., Expr] = declare(_piecewise_constant(
    "ceil", np.ceil, "entrywise smallest integer not below x", "np.ceil({0})", (np.ceil,)))
trunc: Callable[..., Expr] = declare(_piecewise_constant(
    "trunc", np.trunc, "entrywise integer part (towards zero)", "np.trunc({0})", (np.trunc,)))
rint: Callable[..., Expr] = declare(_piecewise_constant(
    "rint", np.rint, "entrywise nearest integer (halves to even)", "np.rint({0})", (np.rint,),
    sample_at=3.25, array_api=lambda ns, attrs: ns.round))


def _round_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """``round`` on any engine, as NumPy computes it: scale by ``10**decimals``,
    round halves to even, scale back."""
    d = int(attrs["decimals"])
    if d == 0:
        return ns.round  # type: ignore[no-any-return]
    scale = 10.0**d
    if d > 0:
        return lambda x: ns.round(x * scale) / scale
    return lambda x: ns.round(x / (1 / scale)) * (1 / scale)


def _round_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"decimals": as_int(attrs["decimals"], "round: decimals")}


_ROUND = _piecewise_constant(
    "round", lambda x, decimals: np.round(x, decimals),
    "entrywise x rounded to decimals places (halves to even)",
    "np.round({0}, {decimals})", (), attrs=("decimals",), check=_round_check, sample_at=3.25,
    array_api=_round_portable)
round: Callable[..., Expr] = declare(_ROUND)


# ---------------------------------------------------------------------------------------
# Masks built from comparisons
# ---------------------------------------------------------------------------------------


def _truth(a: Any) -> Any:
    """``a`` read as a mask: 1 where nonzero (true), 0 elsewhere."""
    if isinstance(a, Expr):
        return not_equal(a, 0.0)
    return (np.asarray(a) != 0).astype(np.float64)


def logical_and(a: Any, b: Any) -> Expr:
    """The mask of ``a ∧ b`` (``np.logical_and``): the product of their masks."""
    return as_expr(_truth(a) * _truth(b))


def logical_or(a: Any, b: Any) -> Expr:
    """The mask of ``a ∨ b`` (``np.logical_or``): ``A + B − A B`` of their masks."""
    ta, tb = _truth(a), _truth(b)
    return as_expr(ta + tb - ta * tb)


def logical_xor(a: Any, b: Any) -> Expr:
    """The mask of ``a ≠ b`` as truth values (``np.logical_xor``)."""
    ta, tb = _truth(a), _truth(b)
    return not_equal(ta, tb) if isinstance(ta, Expr) or isinstance(tb, Expr) else as_expr(
        (ta != tb).astype(np.float64))


def logical_not(a: Any) -> Expr:
    """The mask of ``¬a`` (``np.logical_not``): 1 where ``a`` is zero."""
    return equal(as_expr(a), 0.0)


def isnan(x: Any) -> Expr:
    """The mask of NaN entries (``np.isnan``): ``x ≠ x``."""
    xe = as_expr(x)
    return not_equal(xe, xe)


def isfinite(x: Any) -> Expr:
    """The mask of finite entries (``np.isfinite``): ``|x| < ∞``."""
    return less(_abs(as_expr(x)), np.inf)


def isinf(x: Any) -> Expr:
    """The mask of infinite entries (``np.isinf``): ``|x| = ∞``."""
    return equal(_abs(as_expr(x)), np.inf)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Expr:
    """The mask of ``|a − b| ≤ atol + rtol |b|`` (``np.isclose``; infinite entries
    are close when equal; ``equal_nan``: two NaNs are close)."""
    for what, v in (("rtol", rtol), ("atol", atol)):
        if isinstance(v, Expr):
            raise UnsupportedOperationError(f"isclose: {what} must be a constant")
    ae, be = as_expr(a), as_expr(b)
    finite = logical_and(isfinite(ae), isfinite(be))
    af, bf = where(finite, ae, 0.0), where(finite, be, 0.0)  # no inf − inf
    within = less_equal(_abs(af - bf), atol + rtol * _abs(bf))
    result = where(finite, within, equal(ae, be))
    if equal_nan:
        result = logical_or(result, logical_and(isnan(ae), isnan(be)))
    return result


def heaviside(x: Any, h0: Any) -> Expr:
    """The step function (``np.heaviside``): 0 below zero, 1 above, ``h0`` at zero;
    as JAX's ``where(x < 0, 0, where(x > 0, 1, h0))`` (derivative zero in ``x``)."""
    xe = as_expr(x)
    step = where(less(xe, 0.0), 0.0, where(_greater(xe, 0.0), 1.0, h0))
    return where(isnan(xe), np.nan, step)  # NaN stays NaN, as NumPy


# ---------------------------------------------------------------------------------------
# NumPy entry points
# ---------------------------------------------------------------------------------------


def _np_round(a: Any, decimals: int = 0, out: Any = None) -> Expr:
    if out is not None:
        raise UnsupportedOperationError("round: the out argument is not supported")
    return round(as_expr(a), decimals)


def _np_fix(x: Any, out: Any = None) -> Expr:
    if out is not None:
        raise UnsupportedOperationError("fix: the out argument is not supported")
    return trunc(x)


def _np_isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Expr:
    return isclose(a, b, rtol, atol, equal_nan)


for _func, _handler in (
    (np.round, _np_round),
    (np.around, _np_round),
    (np.fix, _np_fix),
    (np.isclose, _np_isclose),
    (np.heaviside, heaviside),
    (np.logical_and, logical_and),
    (np.logical_or, logical_or),
    (np.logical_xor, logical_xor),
    (np.logical_not, logical_not),
    (np.isnan, isnan),
    (np.isfinite, isfinite),
    (np.isinf, isinf),
):
    register_numpy(_func, _handler)
