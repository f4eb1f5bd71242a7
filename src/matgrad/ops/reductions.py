"""Reductions (layer 3): ``max``, ``min``, ``prod`` and ``cumsum`` over axes as
NumPy has them (``axis`` ``None``, an int or a tuple of ints, negative ones from
the end; ``keepdims``).  ``sum`` and ``mean`` are einsums
(:mod:`matgrad.ops.core`); ``var``, ``std``, ``cov`` and ``average`` are
composites (:mod:`matgrad.ops.statistics`).

Declared: ``max``, ``min`` (NumPy's ``amax``, ``amin`` too), ``prod``,
``prod_except`` (the derivative tensors of ``prod``: products of all entries
but some) and ``cumsum`` (linear: its transpose is the cumulative sum from the
other end).

Conventions where they are not differentiable: at a tie ``max`` and ``min``
share the derivative equally among the entries that attain the extreme (JAX's
``reduce_max`` rule: each gets ``1/count``); ``prod``'s derivative is the
product of the other entries, exact where entries are zero (no division).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, add, as_expr, einsum_node, ones
from matgrad.ops.core import keep_dims, reduction_axes, reduction_options, sum
from matgrad.ops.elementwise import power
from matgrad.ops.piecewise import equal, maximum, minimum, ordered_dtype
from matgrad.ops.piecewise import where as select
from matgrad.ops.registry import declare, language_function, register_numpy
from matgrad.ops.structure import reshape

__all__ = [
    "amax",
    "amin",
    "cumsum",
    "max",
    "min",
    "prod",
    "prod_except",
]

APART = 5.0
"""Samples of ``max`` and ``min`` space the entries this far apart (general values
lie in [−2, 2]) so that no tie is within a numerical-derivative step."""


def _spaced(a: Expr) -> Expr:
    """``a`` plus distinct multiples of :data:`APART` in a fixed shuffled order."""
    order = np.random.default_rng(a.size).permutation(a.size).reshape(a.shape)
    return add([a, as_expr(order * APART)])


def _matrix(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _labels(ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim))


def _kept(shape: Shape, axes: Sequence[int]) -> tuple[int, ...]:
    """The positions of the axes a reduction over ``axes`` keeps."""
    return tuple(k for k in range(len(shape)) if k not in axes)


def _expand(m: Expr, shape: Shape, axes: Sequence[int]) -> Expr:
    """A reduced ``m`` (the kept axes of ``shape``) repeated along ``axes``."""
    if not axes:
        return m
    kept = _kept(shape, axes)
    extra = ones(tuple(shape[a] for a in axes), m.dtype)
    return einsum_node([m, extra], [kept, tuple(axes)], _labels(len(shape)))


def _contract(w: Expr, dx: Expr, axes: Sequence[int], node: Apply) -> Expr:
    """``Σ_axes w ⊙ dx``, with the reduced axes kept as the node has them."""
    labels = _labels(dx.ndim)
    out = einsum_node([w, dx], [labels, labels], _kept(dx.shape, axes))
    return keep_dims(out, dx.shape, axes) if node.attrs.get("keepdims") else out


# ---------------------------------------------------------------------------------------
# The attributes of a reduction over axes
# ---------------------------------------------------------------------------------------


def _axes(value: Any, what: str) -> tuple[int, ...]:
    """``axis`` of a node: sorted distinct non-negative ints (the public functions
    normalize NumPy's ``axis`` to this)."""
    items = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        axes = tuple(int(a) for a in items)
    except TypeError:
        raise InvalidArgumentError(f"{what}: axis must be a tuple of ints, got {value!r}") from None
    if any(a < 0 for a in axes) or list(axes) != sorted(set(axes)):
        raise InvalidArgumentError(
            f"{what}: axis must be sorted distinct non-negative ints, got {value!r}"
        )
    return axes


def _reduce_check(what: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def check(attrs: Mapping[str, Any]) -> dict[str, Any]:
        return {"axis": _axes(attrs["axis"], what), "keepdims": bool(attrs["keepdims"])}

    return check


def _reduce_shape(
    what: str, empty: bool
) -> Callable[[tuple[Shape, ...], Mapping[str, Any]], Shape]:
    def rule(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
        (s,) = shapes
        axes = attrs["axis"]
        if any(a >= len(s) for a in axes):
            raise ShapeError(f"{what}: axis {axes} is out of range for shape {s}")
        if not empty and any(s[a] == 0 for a in axes):
            raise ShapeError(f"{what}: reduction over an empty axis of shape {s}")
        if attrs.get("keepdims"):
            return tuple(1 if k in axes else d for k, d in enumerate(s))
        return tuple(d for k, d in enumerate(s) if k not in axes)

    return rule


def _no_reduction(x: Expr, **attrs: Any) -> Expr | None:
    """A reduction over no axis is its operand (as in NumPy)."""
    return x if not attrs["axis"] else None


# ---------------------------------------------------------------------------------------
# max and min
# ---------------------------------------------------------------------------------------


def _d_extreme(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d max(x) = Σ_axis W ⊙ dx`` with ``W = [x = max x] / Σ_axis [x = max x]``
    (likewise ``min``): at a tie the entries that attain the extreme share the
    derivative equally (JAX's convention); the mask has derivative zero."""
    assert isinstance(node, Apply)
    x, (dx,) = node.x, d
    axes = node.attrs["axis"]
    reduced = reshape(node, tuple(x.shape[k] for k in _kept(x.shape, axes)))
    mask = equal(x, _expand(reduced, x.shape, axes))
    share = _expand(power(sum(mask, axes), -1.0), x.shape, axes)
    labels = _labels(x.ndim)
    return _contract(einsum_node([mask, share], [labels, labels], labels), dx, axes, node)


def _shift_axes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes for operands with one more, leading (batch) axis."""
    axis = attrs["axis"]
    moved = axis + 1 if isinstance(axis, int) else tuple(a + 1 for a in axis)
    return {**attrs, "axis": moved}


def _reduce_portable(name: str) -> Callable[[Any, Mapping[str, Any]], Callable[..., Any]]:
    """``max``/``min``/``prod`` over axes on any engine (array API names)."""

    def make(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
        fn = getattr(ns, name)
        axis, keepdims = attrs["axis"], attrs["keepdims"]
        return lambda x: fn(x, axis=axis, keepdims=keepdims)

    return make


def _extreme(name: str, numpy: Callable[..., Any], doc: str) -> Operation:
    return Operation(
        name=name,
        family="reductions",
        doc=doc,
        attrs=("axis", "keepdims"),
        check=_reduce_check(name),
        shape=_reduce_shape(name, empty=False),
        numpy=lambda x, axis, keepdims: numpy(x, axis=axis, keepdims=keepdims),
        array_api=_reduce_portable(name),
        batched_attrs=_shift_axes,
        differential=_d_extreme,
        dtype=ordered_dtype,
        canonical=_no_reduction,
        notation=Notation(numpy=f"np.{name}({{0}}, axis={{axis}}, keepdims={{keepdims}})"),
        samples=(
            Sample(name, lambda a: _REDUCTIONS[name](_spaced(a)), _matrix, ("general",)),
            Sample(f"{name}-axis", lambda a: _REDUCTIONS[name](_spaced(a), 1, True), _matrix,
                   ("general",)),
            Sample(f"{name}-axis0", lambda a: _REDUCTIONS[name](_spaced(a), 0), _matrix,
                   ("general",)),
        ),
        fuzz=(Fuzz("distinct", bound=lambda lo, hi, n, **attrs: hi,
                   attrs=({"axis": (0,), "keepdims": False}, {"axis": (1,), "keepdims": False},
                   {"axis": (0,), "keepdims": True}, {"axis": (0, 1), "keepdims": False},
                   {"axis": (1,), "keepdims": True})),),
    )


_MAX = _extreme("max", np.max, "largest entry, over all axes or over axis")
_MIN = _extreme("min", np.min, "smallest entry, over all axes or over axis")
declare(_MAX)
declare(_MIN)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """The largest entry (``np.max``, ``np.amax``), over all axes or over ``axis``
    (an int or a tuple, negative from the end); ``keepdims`` keeps the reduced
    axes with size 1.  At a tie the entries that attain the maximum share the
    derivative equally (JAX's convention).

    >>> import matgrad as mg
    >>> mg.max(mg.Matrix("Z", (2, 3)), axis=1, keepdims=True).shape
    (2, 1)
    """
    xe = as_expr(x)
    return _MAX(xe, axis=reduction_axes(axis, xe.ndim, "max"), keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """The smallest entry (``np.min``, ``np.amin``); see :func:`max`."""
    xe = as_expr(x)
    return _MIN(xe, axis=reduction_axes(axis, xe.ndim, "min"), keepdims=keepdims)


max.op = _MAX  # type: ignore[attr-defined]
min.op = _MIN  # type: ignore[attr-defined]
amax = max
amin = min


# ---------------------------------------------------------------------------------------
# prod, and the products of all entries but some (its derivatives)
# ---------------------------------------------------------------------------------------


def _others(y: Any) -> Any:
    """``Π_{j≠i} y[..., j]`` along the last axis, from prefix and suffix products
    (no division, exact with zeros)."""
    if y.shape[-1] == 0:
        return np.ones_like(y)
    one = np.ones((*y.shape[:-1], 1), dtype=y.dtype)
    left = np.cumprod(np.concatenate([one, y[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([one, y[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def _excluding(y: Any, r: int) -> Any:
    """``T[..., i₁, …, i_r] = Π_{k ∉ {i₁…i_r}} y[..., k]`` for distinct ``i``, else 0."""
    n = y.shape[-1]
    if r == 1:
        return _others(y)
    grid = np.indices((n,) * r)
    taken = np.zeros((n,) * r, dtype=bool)
    for t in range(r - 1):
        taken |= grid[t] == grid[r - 1]
    spread = y.reshape(y.shape[:-1] + (1,) * (r - 1) + (n,))
    rest = _others(np.where(taken, np.ones((), y.dtype), spread))
    distinct = np.ones((n,) * r, dtype=bool)
    for s in range(r):
        for t in range(s + 1, r):
            distinct &= grid[s] != grid[t]
    return np.where(distinct, rest, np.zeros((), rest.dtype))


def _prod_except(x: Any, axis: tuple[int, ...], r: int) -> Any:
    """The NumPy value of ``prod_except``: the reduced axes are moved last and
    flattened, :func:`_excluding` computed, and the first group of axes moved
    back to the operand's layout."""
    x = np.asarray(x)
    kept = [k for k in range(x.ndim) if k not in axis]
    moved = np.transpose(x, kept + list(axis))
    lead, group = moved.shape[: len(kept)], moved.shape[len(kept):]
    n = math.prod(group)
    t = _excluding(moved.reshape((*lead, n)), r).reshape(lead + group * r)
    position = {p: k for k, p in enumerate(kept)}
    position.update({p: len(kept) + g for g, p in enumerate(axis)})
    order = [position[p] for p in range(x.ndim)] + list(range(x.ndim, t.ndim))
    return np.transpose(t, order)


def _except_masks(n: int, r: int) -> tuple[Any, Any]:
    """For ``r`` indices into ``n`` entries: ``taken[i₁…i_r, k]`` (``k`` is one of
    the ``i``) and ``distinct[i₁…i_r]`` (the ``i`` differ), as NumPy booleans."""
    grid = np.indices((n,) * r)
    k = np.arange(n).reshape((1,) * r + (n,))
    taken = np.zeros((n,) * r + (n,), dtype=bool)
    for t in range(r):
        taken |= grid[t][..., None] == k
    distinct = np.ones((n,) * r, dtype=bool)
    for s in range(r):
        for t in range(s + 1, r):
            distinct &= grid[s] != grid[t]
    return taken, distinct


def _prod_except_portable(ns: Any, x: Any, axis: tuple[int, ...], r: int) -> Any:
    """``prod_except`` on any engine: each product over the entries not taken,
    as a product of a masked copy (no division, exact with zeros; O(nʳ⁺¹) work,
    the size of the result times ``n``)."""
    kept = [k for k in range(x.ndim) if k not in axis]
    moved = ns.permute_dims(x, tuple(kept + list(axis)))
    lead, group = tuple(moved.shape[: len(kept)]), tuple(moved.shape[len(kept):])
    n = math.prod(group)
    y = ns.reshape(moved, (*lead, n))
    taken, distinct = _except_masks(n, r)
    spread = y[(Ellipsis,) + (None,) * r + (slice(None),)]
    ones = ns.ones_like(spread)
    t = ns.prod(ns.where(ns.asarray(taken, like=y), ones, spread), axis=-1)
    t = t * ns.asarray(distinct.astype(np.float64), like=y)
    t = ns.reshape(t, lead + group * r)
    position = {p: k for k, p in enumerate(kept)}
    position.update({p: len(kept) + g for g, p in enumerate(axis)})
    order = [position[p] for p in range(x.ndim)] + list(range(x.ndim, len(t.shape)))
    return ns.permute_dims(t, tuple(order))


def _prod_except_reference(x: Any, axis: tuple[int, ...], r: int) -> Any:
    """The plainest ``prod_except``: for each entry of the result, the product over
    the group of the entries not excluded (for tests)."""
    x = np.asarray(x)
    group = [x.shape[a] for a in axis]
    out = np.zeros(x.shape + tuple(group) * (r - 1), dtype=x.dtype)
    for index in np.ndindex(*out.shape):
        first, rest = index[: x.ndim], index[x.ndim:]
        picked = [tuple(first[a] for a in axis)]
        picked += [rest[k: k + len(axis)] for k in range(0, len(rest), len(axis))]
        if len(set(picked)) < len(picked):
            continue
        value = x.dtype.type(1)
        for g in np.ndindex(*group):
            if g not in picked:
                at = list(first)
                for a, v in zip(axis, g):
                    at[a] = v
                value *= x[tuple(at)]
        out[index] = value
    return out


def _except_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                  node: Expr) -> list[str]:
    """NumPy source of ``prod_except``: the excluded entries replaced by 1 and the
    rest multiplied (no division), zero where an index repeats."""
    assert isinstance(node, Apply)
    axes, r = node.attrs["axis"], node.attrs["r"]
    shape = node.x.shape
    kept = [k for k in range(len(shape)) if k not in axes]
    lead = tuple(shape[k] for k in kept)
    group = tuple(shape[a] for a in axes)
    n = math.prod(group)
    position = {p: k for k, p in enumerate(kept)}
    position.update({p: len(kept) + g for g, p in enumerate(axes)})
    order = tuple(position[p] for p in range(len(shape))) + tuple(
        range(len(shape), len(shape) + len(group) * (r - 1))
    )
    m, g, t = fresh("m"), fresh("g"), fresh("t")
    pairs = [f"({g}[{a}] != {g}[{b}])" for a in range(r) for b in range(a + 1, r)]
    distinct = " & ".join(pairs) if pairs else "True"
    return [
        f"{m} = np.transpose({args[0]}, {tuple(kept) + tuple(axes)}).reshape({(*lead, n)})",
        f"{g} = np.indices({(n,) * r})",
        (
            f"{t} = np.prod(np.where(({g}[..., None] == np.arange({n})).any(axis=0), "
            f"np.ones((), {m}.dtype), {m}.reshape({lead + (1,) * r + (n,)})), axis=-1)"
        ),
        f"{t} = np.where({distinct}, {t}, np.zeros((), {t}.dtype))",
        f"{var} = np.transpose({t}.reshape({lead + group * r}), {order})",
    ]


def _d_prod(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d Π x = Σ_axis (Π_{j≠i} x_j) ⊙ dx``: each entry's differential times the
    product of the others, ``prod_except(x)``, never a quotient ``Π x / x`` (exact
    where entries are zero)."""
    assert isinstance(node, Apply)
    x, (dx,) = node.x, d
    axes = node.attrs["axis"]
    return _contract(prod_except(x, axes, 1), dx, axes, node)


def _except_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    r = attrs["r"]
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1:
        raise InvalidArgumentError(f"prod_except: r must be a positive int, got {r!r}")
    return {"axis": _axes(attrs["axis"], "prod_except"), "r": int(r)}


def _except_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    axes = attrs["axis"]
    if not axes or any(a >= len(s) for a in axes):
        raise ShapeError(f"prod_except: axis {axes} is not a non-empty set of axes of {s}")
    extra: tuple[int, ...] = tuple(s[a] for a in axes) * (int(attrs["r"]) - 1)
    return (*s, *extra)


def _d_prod_except(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d Π_{k∉I} x_k = Σ_{j∉I} (Π_{k∉I∪{j}} x_k) dx_j``: the next tensor,
    ``prod_except(x, r + 1)``, contracted with ``dx`` over its last group of axes
    (zero where an index repeats)."""
    assert isinstance(node, Apply)
    x, (dx,) = node.x, d
    axes, r = node.attrs["axis"], node.attrs["r"]
    nxt = prod_except(x, axes, r + 1)
    width = x.ndim + len(axes) * (r - 1)
    new = tuple(range(width, width + len(axes)))
    dx_labels = tuple(new[axes.index(p)] if p in axes else p for p in range(x.ndim))
    return einsum_node([nxt, dx], [_labels(nxt.ndim), dx_labels], _labels(width))


_PROD_EXCEPT = Operation(
    name="prod_except",
    family="reductions",
    doc="products of the entries along axis but r of them (the derivatives of prod)",
    attrs=("axis", "r"),
    check=_except_check,
    shape=_except_shape,
    numpy=_prod_except,
    array_api=lambda ns, attrs: lambda x: _prod_except_portable(ns, x, attrs["axis"], attrs["r"]),
    batched_attrs=_shift_axes,
    reference=_prod_except_reference,
    differential=_d_prod_except,
    notation=Notation(numpy_lines=_except_lines),
    samples=(
        Sample("prod-except", lambda a: prod_except(a, (1,), 1), _matrix, ("general",)),
        Sample("prod-except-2", lambda a: prod_except(a, (0,), 2), _matrix, ("general",),
               orders=(1,)),
    ),
)
prod_except: Callable[..., Expr] = declare(_PROD_EXCEPT)

_PROD = Operation(
    name="prod",
    family="reductions",
    doc="product of the entries, over all axes or over axis",
    attrs=("axis", "keepdims"),
    check=_reduce_check("prod"),
    shape=_reduce_shape("prod", empty=True),
    numpy=lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    array_api=_reduce_portable("prod"),
    batched_attrs=_shift_axes,
    differential=_d_prod,
    canonical=_no_reduction,
    notation=Notation(numpy="np.prod({0}, axis={axis}, keepdims={keepdims})"),
    samples=(
        Sample("prod", lambda a: prod(a), _matrix, ("general",)),
        Sample("prod-axis", lambda a: prod(a, 0, True), _matrix, ("general",)),
        Sample("prod-axes", lambda a: prod(a, (0, 2)), lambda n, m: ((n, m, 2),),
               ("general",)),
    ),
    fuzz=(Fuzz("general", 2.0, lambda lo, hi, n, axis, keepdims: hi**n,
                attrs=({"axis": (0,), "keepdims": False},)),),
)
declare(_PROD)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """The product of the entries (``np.prod``), over all axes or over ``axis``.
    Its derivative multiplies the other entries (no division: exact at zeros).

    >>> import matgrad as mg, numpy as np
    >>> x = mg.Vector("x", 3)
    >>> mg.derivative(mg.prod(x), x).evaluate(x=np.array([2.0, 0.0, 5.0]))
    array([ 0., 10.,  0.])
    """
    xe = as_expr(x)
    return _PROD(xe, axis=reduction_axes(axis, xe.ndim, "prod"), keepdims=keepdims)


prod.op = _PROD  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# cumsum: linear
# ---------------------------------------------------------------------------------------


def _cumsum_numpy(x: Any, axis: int, reverse: bool) -> Any:
    if not reverse:
        return np.cumsum(x, axis=axis)
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


def _cumsum_portable(ns: Any, x: Any, axis: int, reverse: bool) -> Any:
    total = getattr(ns, "cumulative_sum", None) or ns.cumsum
    if not reverse:
        return total(x, axis=axis)
    return ns.flip(total(ns.flip(x, axis=axis), axis=axis), axis=axis)


def _cumsum_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    axis = attrs["axis"]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis < 0:
        raise InvalidArgumentError(f"cumsum: axis must be a non-negative int, got {axis!r}")
    return {"axis": int(axis), "reverse": bool(attrs["reverse"])}


def _cumsum_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if attrs["axis"] >= len(s):
        raise ShapeError(f"cumsum: axis {attrs['axis']} is out of range for shape {s}")
    return s


def _d_cumsum(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Cumulative sums are linear: ``d cumsum(x) = cumsum(dx)``; the transpose is
    the cumulative sum from the other end (``reverse``)."""
    assert isinstance(node, Apply)
    return _CUMSUM(d[0], **node.attrs)


def _cumsum_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return _CUMSUM(tangents[0], **node.attrs)


def _cumsum_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    axis, reverse = node.attrs["axis"], node.attrs["reverse"]
    return _CUMSUM(cotangent, axis=axis + len(extra), reverse=not reverse)


def _cumsum_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                  node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    (x,), axis = args, node.attrs["axis"]
    if not node.attrs["reverse"]:
        return [f"{var} = np.cumsum({x}, axis={axis})"]
    return [f"{var} = np.flip(np.cumsum(np.flip({x}, {axis}), axis={axis}), {axis})"]


_CUMSUM: Operation = Operation(
    name="cumsum",
    family="reductions",
    doc="cumulative sums along axis (reverse: from the last entry)",
    attrs=("axis", "reverse"),
    check=_cumsum_check,
    shape=_cumsum_shape,
    numpy=_cumsum_numpy,
    array_api=lambda ns, attrs: lambda x: _cumsum_portable(ns, x, attrs["axis"], attrs["reverse"]),
    batched_attrs=_shift_axes,
    differential=_d_cumsum,
    dtype=lambda dtypes, attrs: dtypes[0],
    linear=Linear(_cumsum_push, _cumsum_pull),
    notation=Notation(numpy_lines=_cumsum_lines),
    samples=(
        Sample("cumsum", lambda a: cumsum(a, axis=0), _matrix, ("general",)),
        Sample("cumsum-reverse", lambda a: _CUMSUM(a, axis=1, reverse=True), _matrix,
               ("general",)),
        Sample("cumsum-flat", lambda a: cumsum(a), _matrix, ("general",)),
    ),
    fuzz=(Fuzz("general", bound=lambda lo, hi, n, axis, reverse: n * hi,
               attrs=({"axis": 0, "reverse": False}, {"axis": 0, "reverse": True})),),
)
declare(_CUMSUM)


def cumsum(x: Any, axis: int | None = None) -> Expr:
    """Cumulative sums along ``axis`` (``np.cumsum``; ``None``: of the entries in
    row-major order, as a vector).  Linear; its transpose sums from the other end.

    >>> import matgrad as mg
    >>> print(mg.cumsum(mg.Vector("x", 3)))
    cumsum(x, axis=0, reverse=False)
    """
    xe = as_expr(x)
    if axis is None:
        xe, axis = reshape(xe, (xe.size,)), 0
    (a,) = reduction_axes(axis, xe.ndim, "cumsum")
    return _CUMSUM(xe, axis=a, reverse=False)


cumsum.op = _CUMSUM  # type: ignore[attr-defined]

_REDUCTIONS: dict[str, Callable[..., Expr]] = {"max": max, "min": min}


# ---------------------------------------------------------------------------------------
# NumPy entry points
# ---------------------------------------------------------------------------------------


def _np_extreme(reduce: Callable[..., Expr], pair: Callable[..., Expr], what: str) -> Any:
    def handler(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
                initial: Any = None, where: Any = True) -> Expr:
        xe = as_expr(a)
        reduction_options(what, xe, None, out, where=where)
        result = reduce(xe, axis, keepdims)
        return result if initial is None else pair(result, initial)

    return handler


def _np_prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, initial: Any = None, where: Any = True) -> Expr:
    xe = as_expr(a)
    reduction_options("prod", xe, dtype, out)
    if where is not True and where is not None:
        if isinstance(where, Expr):
            raise UnsupportedOperationError("prod: where= must be a constant boolean array")
        xe = select(np.broadcast_to(np.asarray(where, dtype=bool), xe.shape), xe, 1.0)
    result = prod(xe, axis, keepdims)
    return result if initial is None else result * initial


def _np_cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Expr:
    xe = as_expr(a)
    reduction_options("cumsum", xe, dtype, out)
    return cumsum(xe, axis)


for _func, _max_like, _pair in ((np.max, max, maximum), (np.amax, max, maximum),
                                (np.min, min, minimum), (np.amin, min, minimum)):
    register_numpy(_func, _np_extreme(_max_like, _pair, _func.__name__))
register_numpy(np.prod, _np_prod)
register_numpy(np.cumsum, _np_cumsum)
language_function(Language(("max",), "largest entry", "x -> ()"), lambda x: max(x))
language_function(Language(("min",), "smallest entry", "x -> ()"), lambda x: min(x))
language_function(Language(("prod",), "product of the entries", "x -> ()"), lambda x: prod(x))
language_function(Language(("cumsum",), "cumulative sums of a vector", "(n) -> (n)"),
                  lambda x: cumsum(x))
