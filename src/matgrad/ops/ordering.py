"""Ordering (layer 3): ``sort`` and the statistics built on it (``median``,
``quantile``, ``percentile``), and ``ptp``.

Declared: ``sort`` (along one axis, NumPy's ``np.sort``) and ``sort_gather``,
its derivative: the entries of a tangent taken in the order that sorts the
operand's *value* (``sort_gather(t, x)[..., i] = t[..., p[i]]`` with ``p`` the
stable ``argsort`` of ``x``).  ``sort_gather`` is linear in ``t`` (its transpose
scatters back: the inverse permutation) and takes ``x`` as a non-differentiated
argument, so ``sort`` is differentiated any number of times: its second
derivative is zero wherever the order does not change.

Built from them: ``median`` (the middle entry of the sorted values, the mean of
the two middle ones for an even count), ``quantile`` and ``percentile`` (NumPy's
default ``linear`` method: ``(1 − g) s[⌊h⌋] + g s[⌊h⌋ + 1]`` at the virtual index
``h = q (n − 1)``, ``g = h − ⌊h⌋``, for constant ``q``), ``ptp`` (``max − min``).

Conventions where they are not differentiable (JAX's: ``jnp.sort`` is a stable
``lax.sort`` whose JVP gathers the tangent by the sorting permutation;
``jnp.quantile`` interpolates the sorted values with constant weights):

- ``sort``: at ties the tangent is gathered by the *stable* sorting permutation
  (equal entries keep their order), so each tied entry passes its derivative to
  the position it sorts to, as JAX;
- ``median``: of an even count, ½ to each of the two middle sorted entries;
  at ties, as ``sort``;
- ``quantile``/``percentile``: weights ``1 − g`` and ``g`` on the two neighbouring
  sorted entries (a weight of 0 at an exact index: all to ``s[⌊h⌋]``);
- ``ptp``: as ``max`` and ``min`` (ties share equally).

The integer-valued ``argsort``, ``argmax`` and ``argmin`` are refused on
expressions: an index computed from a traced value is not known while tracing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, add, as_expr
from matgrad.ops.core import reduction_axes
from matgrad.ops.indexing import entrywise_square
from matgrad.ops.piecewise import ordered_dtype
from matgrad.ops.reductions import max as _max
from matgrad.ops.reductions import min as _min
from matgrad.ops.registry import declare, register_numpy
from matgrad.ops.structure import moveaxis, reshape, take
from matgrad.ops.subscripts import normalize_axis

__all__ = ["median", "percentile", "ptp", "quantile", "sort", "sort_gather"]

APART = 5.0
"""Samples space the entries this far apart (general values lie in [−2, 2]) so
that no tie is within a numerical-derivative step."""


def _spaced(a: Expr) -> Expr:
    """``a`` plus distinct multiples of :data:`APART` in a fixed shuffled order."""
    order = np.random.default_rng(a.size + 1).permutation(a.size).reshape(a.shape)
    return add([a, as_expr(order * APART)])


def _matrix(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _stable_order(x: Any, axis: int, inverse: bool) -> Any:
    """The stable sorting permutation of ``x`` along ``axis`` (or its inverse)."""
    perm = np.argsort(x, axis=axis, kind="stable")
    return np.argsort(perm, axis=axis, kind="stable") if inverse else perm


# ---------------------------------------------------------------------------------------
# sort_gather: the derivative of sort
# ---------------------------------------------------------------------------------------


def _gather_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    axis, lead = attrs["axis"], attrs["lead"]
    for what, v in (("axis", axis), ("lead", lead)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InvalidArgumentError(f"sort_gather: {what} must be a non-negative int")
    return {"axis": int(axis), "lead": int(lead), "inverse": bool(attrs["inverse"])}


def _gather_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    t, x = shapes
    lead, axis = attrs["lead"], attrs["axis"]
    if axis >= len(x) or t[lead : lead + len(x)] != x:
        raise ShapeError(
            f"sort_gather: the tangent's shape {t} does not hold the operand's {x} after "
            f"{lead} leading axes (axis {axis})"
        )
    return t


def _sort_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any] | None:
    sort = getattr(ns, "sort", None)
    if sort is None:
        return None
    axis = attrs["axis"]
    return lambda x: sort(x, axis=axis, stable=True)


def _gather_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any] | None:
    """``sort_gather`` on an engine with a stable ``argsort`` and ``take_along_axis``."""
    argsort, take = getattr(ns, "argsort", None), getattr(ns, "take_along_axis", None)
    if argsort is None or take is None:
        return None
    axis, lead, inverse = attrs["axis"], attrs["lead"], attrs["inverse"]

    def kernel(t: Any, x: Any) -> Any:
        perm = argsort(x, axis=axis, stable=True)
        if inverse:
            perm = argsort(perm, axis=axis, stable=True)
        trail = t.ndim - lead - x.ndim
        shape = (1,) * lead + tuple(x.shape) + (1,) * trail
        index = ns.broadcast_to(ns.reshape(perm, shape), tuple(t.shape))
        return take(t, index, axis=lead + axis)

    return kernel


def _gather_batched(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """A batch of both operands is one gather along the same axis when ``t`` has no
    leading axes of its own (else the batch axes would not line up)."""
    return {**attrs, "axis": attrs["axis"] + 1} if attrs["lead"] == 0 else None


def _gather_numpy(t: Any, x: Any, axis: int, lead: int, inverse: bool) -> Any:
    t, x = np.asarray(t), np.asarray(x)
    perm = _stable_order(x, axis, inverse)
    trail = t.ndim - lead - x.ndim
    index = np.broadcast_to(perm.reshape((1,) * lead + x.shape + (1,) * trail), t.shape)
    return np.take_along_axis(t, index, axis=lead + axis)


def _d_gather(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d sort_gather(t, x) = sort_gather(dt, x)``: linear in ``t``; the
    permutation is piecewise constant in ``x`` (derivative zero, JAX's convention
    at ties)."""
    assert isinstance(node, Apply)
    return _GATHER(d[0], node.args[1], **node.attrs)


def _gather_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return _GATHER(tangents[0], node.args[1], **node.attrs)


def _gather_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    """The transpose of a gather by a permutation is the gather by its inverse."""
    assert isinstance(node, Apply)
    if k != 0:
        raise AssertionError("internal error: sort_gather's permutation has no derivative")
    a = node.attrs
    return _GATHER(cotangent, node.args[1], axis=a["axis"], lead=a["lead"] + len(extra),
                   inverse=not a["inverse"])


def _gather_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                  node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    (t, x), a = args, node.attrs
    x_ndim = node.args[1].ndim
    perm = fresh("perm")
    lines = [f'{perm} = np.argsort({x}, axis={a["axis"]}, kind="stable")']
    if a["inverse"]:
        lines.append(f'{perm} = np.argsort({perm}, axis={a["axis"]}, kind="stable")')
    trail = node.ndim - a["lead"] - x_ndim
    shape = f"(1,) * {a['lead']} + {perm}.shape + (1,) * {trail}"
    lines.append(
        f"{var} = np.take_along_axis({t}, np.broadcast_to({perm}.reshape({shape}), "
        f"{t}.shape), axis={a['lead'] + a['axis']})"
    )
    return lines


_GATHER: Operation = Operation(
    name="sort_gather",
    family="ordering",
    doc="the entries of t along axis in the stable order that sorts x",
    arity=2,
    attrs=("axis", "lead", "inverse"),
    check=_gather_check,
    shape=_gather_shape,
    numpy=_gather_numpy,
    array_api=_gather_portable,
    batched_attrs=_gather_batched,
    differential=_d_gather,
    dtype=lambda dtypes, attrs: dtypes[0],
    linear=Linear(_gather_push, _gather_pull),
    flops=lambda shapes: 0,
    notation=Notation(
        text="sort_gather({0}, {1}, axis={axis}, lead={lead}, inverse={inverse})",
        numpy_lines=_gather_lines,
    ),
    samples=(
        Sample("sort_gather",
               lambda t, x: entrywise_square(_GATHER(t, _spaced(x), axis=1, lead=0,
                                                     inverse=False)),
               lambda n, m: ((n, m), (n, m)), ("general", "general")),
        Sample("sort_gather-inverse",
               lambda t, x: entrywise_square(_GATHER(t, _spaced(x), axis=0, lead=1,
                                                     inverse=True)),
               lambda n, m: ((2, n, m), (n, m)), ("general", "general")),
    ),
    fuzz=(Fuzz("general", operands=("distinct",), bound=lambda lo, hi, n, **attrs: hi[0],
               attrs=({"axis": 0, "lead": 0, "inverse": False},
                      {"axis": 0, "lead": 0, "inverse": True})),),
)
sort_gather: Callable[..., Expr] = declare(_GATHER)


# ---------------------------------------------------------------------------------------
# sort
# ---------------------------------------------------------------------------------------


def _sort_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    axis = attrs["axis"]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis < 0:
        raise InvalidArgumentError(f"sort: axis must be a non-negative int, got {axis!r}")
    return {"axis": int(axis)}


def _sort_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if attrs["axis"] >= len(s):
        raise ShapeError(f"sort: axis {attrs['axis']} is out of range for shape {s}")
    return s


def _d_sort(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d sort(x) = sort_gather(dx, x)``: the differential taken in the order that
    sorts ``x`` (``d sort(x)[i] = dx[p[i]]``, ``p`` the stable argsort of ``x``);
    at ties the stable permutation decides, as JAX's sort JVP."""
    assert isinstance(node, Apply)
    return _GATHER(d[0], node.x, axis=node.attrs["axis"], lead=0, inverse=False)


_SORT = Operation(
    name="sort",
    family="ordering",
    doc="the entries of x sorted in ascending order along axis",
    attrs=("axis",),
    check=_sort_check,
    shape=_sort_shape,
    numpy=lambda x, axis: np.sort(x, axis=axis, kind="stable"),
    array_api=_sort_portable,
    batched_attrs=lambda attrs: {"axis": attrs["axis"] + 1},
    differential=_d_sort,
    dtype=ordered_dtype,
    flops=lambda shapes: math.prod(shapes[0]) * math.ceil(math.log2(max(2, math.prod(shapes[0])))),
    notation=Notation(text="sort({0}, axis={axis})",
                      latex=r"\operatorname{{sort}}{0:arg}",
                      numpy='np.sort({0}, axis={axis}, kind="stable")'),
    samples=(
        Sample("sort", lambda a: entrywise_square(sort(_spaced(a))), _matrix, ("general",)),
        Sample("sort-axis0", lambda a: sort(_spaced(a), axis=0) * a, _matrix, ("general",)),
        Sample("sort-flat", lambda a: entrywise_square(sort(_spaced(a), axis=None)), _matrix,
               ("general",)),
    ),
    fuzz=(Fuzz("distinct", bound=lambda lo, hi, n, axis: hi,
               attrs=({"axis": 0}, {"axis": 1})),),
)
declare(_SORT)


def sort(a: Any, axis: int | None = -1) -> Expr:
    """The entries sorted in ascending order along ``axis`` (``np.sort``; ``None``:
    the flattened entries).  Its derivative gathers the differential in the order
    that sorts the value (stable at ties, as JAX).

    >>> import matgrad as mg, numpy as np
    >>> x = mg.Vector("x", 3)
    >>> mg.derivative(mg.sort(x)[0], x).evaluate(x=np.array([3.0, 1.0, 2.0]))
    array([0., 1., 0.])
    """
    xe = as_expr(a)
    if axis is None:
        xe, axis = reshape(xe, (xe.size,)), 0
    if xe.ndim == 0:
        raise ShapeError("sort: axis out of bounds for a 0-d expression")
    return _SORT(xe, axis=normalize_axis(axis, xe.ndim, "sort"))


sort.op = _SORT  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# median, quantile, percentile, ptp: composites
# ---------------------------------------------------------------------------------------


def _sorted_front(x: Expr, axis: Any, what: str) -> tuple[Expr, tuple[int, ...]]:
    """The entries over ``axis`` (None, an int or a tuple) flattened into the first
    axis and sorted along it; the other axes follow in order."""
    axes = reduction_axes(axis, x.ndim, what)
    if not axes:
        raise ShapeError(f"{what}: no axis to reduce")
    rest = [k for k in range(x.ndim) if k not in axes]
    moved = moveaxis(x, list(axes), list(range(len(axes)))) if x.ndim else x
    n = math.prod(x.shape[k] for k in axes)
    if n == 0:
        raise ShapeError(f"{what} of an empty array is not defined")
    flat = reshape(moved, (n, *(x.shape[k] for k in rest)))
    return sort(flat, axis=0), axes


def _interpolate(x: Any, qs: Any, axis: Any, keepdims: bool, what: str) -> Expr:
    """NumPy's ``linear`` quantiles ``qs`` (a constant array in [0, 1]) over ``axis``."""
    xe = as_expr(x)
    s, axes = _sorted_front(xe, axis, what)
    n = s.shape[0]
    q = np.asarray(qs, dtype=float)
    h = q * (n - 1)
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    g = h - lo
    rest = s.shape[1:]
    low, high = take(s, lo, axis=0), take(s, hi, axis=0)
    weight = g.reshape(g.shape + (1,) * len(rest))
    exact = bool(np.all(g == 0))
    result = low if exact else low * (1.0 - weight) + high * weight
    if keepdims:
        result = reshape(result, q.shape + tuple(1 if k in axes else d
                                                 for k, d in enumerate(xe.shape)))
    return result


def _quantiles(q: Any, scale: float, what: str) -> Any:
    if isinstance(q, Expr):
        raise UnsupportedOperationError(
            f"{what}: q must be a constant (a number or an array), not an expression"
        )
    qs = np.asarray(q, dtype=float) / scale
    if not np.all((qs >= 0) & (qs <= 1)):
        bound = "[0, 100]" if scale == 100 else "[0, 1]"
        raise InvalidArgumentError(f"{what}: q must lie in {bound}, got {q!r}")
    return qs


def median(a: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """The median over ``axis`` (``np.median``): the middle sorted entry, or the
    mean of the two middle ones for an even count (½ of the derivative to each).

    >>> import matgrad as mg, numpy as np
    >>> x = mg.Vector("x", 4)
    >>> mg.derivative(mg.median(x), x).evaluate(x=np.array([4.0, 1.0, 3.0, 2.0]))
    array([0. , 0. , 0.5, 0.5])
    """
    return _interpolate(a, 0.5, axis, keepdims, "median")


def quantile(a: Any, q: Any, axis: Any = None, keepdims: bool = False,
             method: str = "linear") -> Expr:
    """The ``q``-th quantiles over ``axis`` (``np.quantile``, ``method="linear"``):
    ``(1 − g) s[⌊h⌋] + g s[⌊h⌋+1]`` of the sorted entries ``s`` at ``h = q (n−1)``.
    ``q``: a constant number or array in [0, 1]; the result has ``q``'s axes first."""
    if method != "linear":
        raise UnsupportedOperationError(
            f"quantile: method={method!r} is not supported on matgrad expressions (only "
            "'linear', NumPy's default)"
        )
    return _interpolate(a, _quantiles(q, 1.0, "quantile"), axis, keepdims, "quantile")


def percentile(a: Any, q: Any, axis: Any = None, keepdims: bool = False,
               method: str = "linear") -> Expr:
    """The ``q``-th percentiles (``q`` in [0, 100]): ``quantile(a, q / 100)``."""
    if method != "linear":
        raise UnsupportedOperationError(
            f"percentile: method={method!r} is not supported on matgrad expressions (only "
            "'linear', NumPy's default)"
        )
    return _interpolate(a, _quantiles(q, 100.0, "percentile"), axis, keepdims, "percentile")


def ptp(a: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """The range ``max − min`` over ``axis`` (``np.ptp``)."""
    xe = as_expr(a)
    return _max(xe, axis, keepdims) - _min(xe, axis, keepdims)


# ---------------------------------------------------------------------------------------
# NumPy entry points
# ---------------------------------------------------------------------------------------


def _refuse(what: str, options: Mapping[str, Any]) -> None:
    given = sorted(k for k, v in options.items() if v is not None and v is not False)
    if given:
        raise UnsupportedOperationError(
            f"{what}: the argument(s) {', '.join(given)} are not supported on matgrad expressions"
        )


def _np_sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *,
             stable: Any = None) -> Expr:
    _refuse("sort", {"order": order})
    return sort(a, axis)


def _np_median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               keepdims: bool = False) -> Expr:
    _refuse("median", {"out": out})
    return median(a, axis, keepdims)


def _np_quantile_like(build: Callable[..., Expr], what: str) -> Callable[..., Expr]:
    def handler(a: Any, q: Any, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                *, weights: Any = None, interpolation: Any = None) -> Expr:
        _refuse(what, {"out": out, "weights": weights, "interpolation": interpolation})
        return build(a, q, axis, keepdims, method)

    return handler


def _np_ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Expr:
    _refuse("ptp", {"out": out})
    return ptp(a, axis, keepdims)


def _no_index(name: str, instead: str) -> Callable[..., Any]:
    def handler(*args: Any, **kwargs: Any) -> Any:
        raise UnsupportedOperationError(
            f"numpy.{name} of a traced expression is refused: its result is an integer index "
            "computed from the traced value, which is not known while the function is traced "
            f"(and an integer has no derivative), so it cannot index while traced; {instead}"
        )

    handler.refused = True  # type: ignore[attr-defined]  # served only with a reason to refuse
    return handler


_VALUE_INSTEAD = (
    "write the value you want instead: np.max(x) for x[np.argmax(x)], np.min(x) for "
    "x[np.argmin(x)], np.sort(x) for x[np.argsort(x)], and np.where(x == np.max(x, "
    "axis=..., keepdims=True), a, b) for a choice at the maximum"
)

for _func, _handler in (
    (np.sort, _np_sort),
    (np.median, _np_median),
    (np.quantile, _np_quantile_like(quantile, "quantile")),
    (np.percentile, _np_quantile_like(percentile, "percentile")),
    (np.ptp, _np_ptp),
    (np.argsort, _no_index("argsort", _VALUE_INSTEAD)),
    (np.argmax, _no_index("argmax", _VALUE_INSTEAD)),
    (np.argmin, _no_index("argmin", _VALUE_INSTEAD)),
):
    register_numpy(_func, _handler)
