"""Structure (layer 3): operations that move entries without computing new ones.

Declared: ``reshape`` (row-major; ``-1`` is inferred) and ``concatenate``
(any number of operands).  Such operations are linear:
besides the differential, each declares how a derivative with extra axes flows
through it (:class:`~matgrad.ir.apply.Linear`).

Built from them, from indexing (:mod:`matgrad.ops.indexing`) and from
relabelling einsums: ``reshape(order="F")``, ``ravel``, ``flatten``,
``squeeze``, ``expand_dims``, ``swapaxes``, ``moveaxis``, ``broadcast_to``,
``stack``, ``hstack``, ``vstack``, ``column_stack``, ``split``,
``array_split``, ``hsplit``, ``vsplit``, ``take``, ``diff``, ``atleast_1d``,
``atleast_2d`` — each also the NumPy function of that name on expressions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, einsum_node, ones, zeros
from matgrad.ir.node import _result_dtype
from matgrad.ops.indexing import entrywise_square, getitem, permute
from matgrad.ops.registry import declare, register_numpy
from matgrad.ops.subscripts import as_int, index_of, normalize_axis

__all__ = [
    "array_split",
    "atleast_1d",
    "atleast_2d",
    "broadcast_to",
    "column_stack",
    "concatenate",
    "diff",
    "expand_dims",
    "flatten",
    "hsplit",
    "hstack",
    "moveaxis",
    "ravel",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "vsplit",
    "vstack",
]


def _none(name: str, **given: Any) -> None:
    """Refuse NumPy's keyword arguments that have no meaning for expressions."""
    used = sorted(k for k, v in given.items() if v is not None)
    if used:
        raise UnsupportedOperationError(f"{name}: arguments {used} are not supported")


# =====================================================================================
# reshape
# =====================================================================================


def _target(shape: Any) -> Shape:
    """A target shape: ints, at most one of them ``-1`` (inferred)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(as_int(d, "reshape: a dimension") for d in shape)
    except TypeError:
        raise ShapeError(f"reshape: shape must be a tuple of ints, got {shape!r}") from None
    if sum(d == -1 for d in out) > 1 or any(d < -1 for d in out):
        raise ShapeError(f"reshape: shape {out} has a negative dimension (one -1 is allowed)")
    return out


def _inferred(size: int, target: Shape) -> Shape:
    if -1 not in target:
        return target
    known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
    if known == 0 or size % known:
        raise ShapeError(f"cannot reshape an array of size {size} into shape {target}")
    return tuple(size // known if d == -1 else d for d in target)


def _reshape_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"shape": _target(attrs["shape"])}


def _reshape_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    size = int(np.prod(s, dtype=np.int64))
    target: Shape = _inferred(size, attrs["shape"])
    if int(np.prod(target, dtype=np.int64)) != size:
        raise ShapeError(f"cannot reshape shape {s} (size {size}) to {target}")
    return target


def _reshape_canonical(x: Expr, *, shape: Shape) -> Expr | None:
    target = _reshape_shape((x.shape,), {"shape": shape})
    if target == x.shape:
        return x
    inner = x.x if isinstance(x, Apply) and x.op is _RESHAPE else x
    if target != shape or inner is not x:
        return _reshape(inner, target)
    if isinstance(x, Zero):
        return zeros(target, x.dtype)
    return None


def _d_reshape(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Reshaping is linear: ``d reshape(x) = reshape(dx)``."""
    (dx,) = d
    return _reshape(dx, node.shape)


def _push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    return _reshape(tangents[0], node.shape + extra)


def _pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return _reshape(cotangent, extra + node.x.shape)


_RESHAPE = Operation(
    name="reshape",
    family="structure",
    doc="the entries of x, row by row, in a new shape",
    attrs=("shape",),
    check=_reshape_attrs,
    shape=_reshape_shape,
    dtype=lambda dtypes, attrs: dtypes[0],
    canonical=_reshape_canonical,
    numpy=lambda x, shape: np.reshape(x, shape),
    array_api=lambda ns, attrs: lambda x: ns.reshape(x, attrs["shape"]),
    batched_attrs=lambda attrs: {"shape": (-1, *attrs["shape"])},
    differential=_d_reshape,
    linear=Linear(_push, _pull),
    flops=lambda shapes: 0,
    view=True,
    notation=Notation(
        text="reshape({0}, {shape})",
        latex=r"\operatorname{{reshape}}_{{{shape:times}}}{0:arg}",
        numpy="np.reshape({0}, {shape})",
        reads_as_kron=True,
    ),
    language=Language(
        ("reshape",),
        "reshape(x, (m, n)): the entries of x, row by row, in a new shape",
        "x, shape:shape -> shape",
    ),
    samples=(
        Sample("reshape", lambda a: reshape(a, (a.size,)), lambda n, m: ((n, m),),
               ("general",)),
        Sample("reshape-F", lambda a: reshape(a, (-1, 1), order="F") * reshape(a, (-1, 1)),
               lambda n, m: ((n, m + 1),), ("general",)),
    ),
    fuzz=(Fuzz(bound=lambda lo, hi, n, shape: hi, attrs=({"shape": (-1,)},),
               shapes=lambda shape, k, attrs: [((1, *shape),), ((*shape, 1),)]),),
)

_reshape: Callable[..., Expr] = declare(_RESHAPE)


def reshape(x: Any, shape: Any, order: str = "C") -> Expr:
    """The entries of ``x`` in a new shape (one dimension may be ``-1``), read and
    written row by row (``order="C"``) or column by column (``"F"``), as
    ``np.reshape``.

    >>> import matgrad as mg
    >>> print(mg.reshape(mg.Matrix("A", (2, 3)), (-1,), order="F").shape)
    (6,)
    """
    xe = as_expr(x)
    target = _inferred(xe.size, _target(shape))
    if order == "C":
        return _reshape(xe, target)
    if order != "F":
        raise UnsupportedOperationError(f"reshape: order={order!r} (only 'C' and 'F')")
    # column-major = row-major on the axes reversed
    flipped = _reshape(permute(xe, range(xe.ndim)[::-1]), target[::-1])
    return permute(flipped, range(len(target))[::-1])


reshape.op = _RESHAPE  # type: ignore[attr-defined]


def ravel(x: Any, order: str = "C") -> Expr:
    """The entries as a vector (``np.ravel``)."""
    return reshape(x, (-1,), order)


def flatten(x: Any, order: str = "C") -> Expr:
    """The entries as a vector (``ndarray.flatten``)."""
    return ravel(x, order)


def _axes(axis: Any, ndim: int, what: str) -> tuple[int, ...]:
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    found = tuple(normalize_axis(a, ndim, what) for a in items)
    if len(set(found)) != len(found):
        raise ShapeError(f"{what}: repeated axis in {axis!r}")
    return found


def squeeze(x: Any, axis: Any = None) -> Expr:
    """``x`` without axes of length one (all, or those of ``axis``)."""
    xe = as_expr(x)
    if axis is None:
        drop = tuple(a for a, d in enumerate(xe.shape) if d == 1)
    else:
        drop = _axes(axis, xe.ndim, "squeeze")
        if any(xe.shape[a] != 1 for a in drop):
            raise ShapeError(f"squeeze: axes {drop} of shape {xe.shape} are not all of length one")
    return _reshape(xe, tuple(d for a, d in enumerate(xe.shape) if a not in drop))


def expand_dims(x: Any, axis: Any) -> Expr:
    """``x`` with new axes of length one at the positions ``axis`` of the result."""
    xe = as_expr(x)
    new = _axes(axis, xe.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1),
                "expand_dims")
    dims = iter(xe.shape)
    out = tuple(1 if a in new else next(dims) for a in range(xe.ndim + len(new)))
    return _reshape(xe, out)


def atleast_1d(x: Any) -> Expr:
    """``x`` with at least one axis (``np.atleast_1d`` of one array)."""
    xe = as_expr(x)
    return _reshape(xe, (1,)) if xe.ndim == 0 else xe


def atleast_2d(x: Any) -> Expr:
    """``x`` with at least two axes: a vector becomes a row (``np.atleast_2d``)."""
    xe = as_expr(x)
    return _reshape(xe, (1,) * (2 - xe.ndim) + xe.shape) if xe.ndim < 2 else xe


def swapaxes(x: Any, axis1: int, axis2: int) -> Expr:
    """``x`` with two axes exchanged."""
    xe = as_expr(x)
    a, b = normalize_axis(axis1, xe.ndim, "swapaxes"), normalize_axis(axis2, xe.ndim, "swapaxes")
    perm = list(range(xe.ndim))
    perm[a], perm[b] = b, a
    return permute(xe, perm)


def moveaxis(x: Any, source: Any, destination: Any) -> Expr:
    """``x`` with the axes ``source`` moved to the positions ``destination``."""
    xe = as_expr(x)
    src = _axes(source, xe.ndim, "moveaxis")
    dst = _axes(destination, xe.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ShapeError("moveaxis: source and destination need the same number of axes")
    order = [a for a in range(xe.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(xe, order)


def broadcast_to(x: Any, shape: Any) -> Expr:
    """``x`` repeated along new leading axes and axes of length one (NumPy's rules)."""
    xe = as_expr(x)
    target = tuple(as_int(d, "broadcast_to: a dimension") for d in
                   ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    lead = len(target) - xe.ndim
    if lead < 0 or any(d not in (1, target[lead + k]) for k, d in enumerate(xe.shape)):
        raise ShapeError(f"broadcast_to: shape {xe.shape} does not broadcast to {target}")
    keep = [lead + k for k, d in enumerate(xe.shape) if d == target[lead + k]]
    if len(keep) != xe.ndim:
        xe = _reshape(xe, tuple(target[a] for a in keep))
    extra = [a for a in range(len(target)) if a not in keep]
    if not extra:
        return xe
    filler = ones(tuple(target[a] for a in extra), xe.dtype)
    return einsum_node([xe, filler], [tuple(keep), tuple(extra)], tuple(range(len(target))))


# =====================================================================================
# concatenate: an operation of any number of operands
# =====================================================================================


def _concat_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    axis = attrs["axis"]
    first = shapes[0]
    if not first or not 0 <= axis < len(first):
        raise ShapeError(f"concatenate: axis {axis} is out of bounds for shape {first}")
    for s in shapes[1:]:
        if len(s) != len(first) or s[:axis] + s[axis + 1 :] != first[:axis] + first[axis + 1 :]:
            raise ShapeError(
                f"concatenate along axis {axis}: shapes {first} and {s} differ off that axis"
            )
    return (*first[:axis], sum(s[axis] for s in shapes), *first[axis + 1 :])


def _concat_canonical(*xs: Expr, axis: int) -> Expr | None:
    shape = _concat_shape(tuple(x.shape for x in xs), {"axis": axis})
    if len(xs) == 1:
        return xs[0]
    if all(isinstance(x, Zero) for x in xs):
        return zeros(shape, _result_dtype(*(x.dtype for x in xs)))
    parts = [x for x in xs if x.shape[axis]]
    flat: list[Expr] = []
    for x in parts:
        nested = isinstance(x, Apply) and x.op is _CONCATENATE and x.attrs["axis"] == axis
        flat.extend(x.args if isinstance(x, Apply) and nested else (x,))
    if len(flat) != len(xs) and flat:
        return _concatenate(*flat, axis=axis)
    return None


def _d_concat(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Concatenation is linear: ``d concat(x₁, …, xₖ) = concat(dx₁, …, dxₖ)``."""
    assert isinstance(node, Apply)
    return _concatenate(*d, axis=node.attrs["axis"])


def _concat_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return _concatenate(*tangents, axis=node.attrs["axis"])


def _concat_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    """Operand ``k``'s part of the cotangent: a slice along the axis."""
    assert isinstance(node, Apply)
    axis = node.attrs["axis"]
    start = sum(a.shape[axis] for a in node.args[:k])
    key = (slice(None),) * axis + (slice(start, start + node.args[k].shape[axis]),)
    return getitem(cotangent, index_of(node.shape, key, lead=len(extra)))


def _concat_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    assert isinstance(node, Apply)
    return [f"{var} = np.concatenate([{', '.join(args)}], axis={node.attrs['axis']})"]


def _concat_fuzz_shapes(shape: Shape, k: int, attrs: Mapping[str, Any]) -> list[tuple[Shape, ...]]:
    """For the fuzzer: ``k`` operands whose sizes along the axis add up to the
    result's (each at least 1)."""
    axis = attrs["axis"]
    if axis >= len(shape):
        return []
    found = []
    for cuts in itertools.combinations(range(1, shape[axis]), k - 1):
        sizes = [b - a for a, b in zip((0, *cuts), (*cuts, shape[axis]))]
        found.append(tuple((*shape[:axis], s, *shape[axis + 1 :]) for s in sizes))
    return found


def _concat_latex(attrs: Mapping[str, Any], ndim: int) -> str | None:
    """A block vector or matrix: blocks one above the other along the first axis,
    side by side along the second axis of a matrix; otherwise the call form."""
    if attrs["axis"] == 0 and ndim <= 2:
        return r"\begin{{bmatrix}} {args: \\ } \end{{bmatrix}}"
    if attrs["axis"] == 1 and ndim == 2:
        return r"\begin{{bmatrix}} {args: & } \end{{bmatrix}}"
    return None


_CONCATENATE = Operation(
    name="concatenate",
    family="structure",
    doc="the operands joined along an axis",
    arity=None,
    attrs=("axis",),
    check=lambda attrs: {"axis": as_int(attrs["axis"], "concatenate: axis")},
    shape=_concat_shape,
    dtype=lambda dtypes, attrs: _result_dtype(*dtypes),
    canonical=_concat_canonical,
    numpy=lambda *xs, axis: np.concatenate(xs, axis=axis),
    array_api=lambda ns, attrs: lambda *xs: ns.concat(list(xs), axis=attrs["axis"]),
    batched_attrs=lambda attrs: {"axis": attrs["axis"] + 1},
    differential=_d_concat,
    linear=Linear(_concat_push, _concat_pull),
    notation=Notation(
        text="concatenate([{args:, }], axis={axis})",
        latex=_concat_latex,
        numpy_lines=_concat_lines,
    ),
    samples=(
        Sample("concatenate", lambda a, b: entrywise_square(concatenate([a, b * a[:1]])),
               lambda n, m: ((n, m), (1, m)), ("general", "general")),
        Sample("stack", lambda a, b: entrywise_square(stack([a, b, a * b], axis=-1)),
               lambda n, m: ((n,), (n,)), ("general", "general")),
    ),
    fuzz=(Fuzz(bound=lambda lo, hi, n, axis: max(hi), count=(2, 3, 4),
               attrs=({"axis": 0}, {"axis": 1}), shapes=_concat_fuzz_shapes),),
)

_concatenate: Callable[..., Expr] = declare(_CONCATENATE)


def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> Expr:
    """The arrays joined along an existing axis (``axis=None``: their entries,
    flattened), as ``np.concatenate``.

    >>> import matgrad as mg
    >>> x = mg.Vector("x", 3)
    >>> print(mg.concatenate([x, 2 * x]).shape)
    (6,)
    """
    exprs = [as_expr(a) for a in arrays]
    if not exprs:
        raise InvalidArgumentError("need at least one array to concatenate")
    if axis is None:
        return _concatenate(*(ravel(e) for e in exprs), axis=0)
    if exprs[0].ndim == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated")
    return _concatenate(*exprs, axis=normalize_axis(axis, exprs[0].ndim, "concatenate"))


concatenate.op = _CONCATENATE  # type: ignore[attr-defined]


def stack(arrays: Sequence[Any], axis: int = 0) -> Expr:
    """Arrays of one shape joined along a new axis (``np.stack``)."""
    exprs = [as_expr(a) for a in arrays]
    if not exprs:
        raise InvalidArgumentError("need at least one array to stack")
    if any(e.shape != exprs[0].shape for e in exprs):
        raise ShapeError(f"stack: all arrays need one shape, got {[e.shape for e in exprs]}")
    a = normalize_axis(axis, exprs[0].ndim + 1, "stack")
    return _concatenate(*(expand_dims(e, a) for e in exprs), axis=a)


def hstack(tup: Sequence[Any]) -> Expr:
    """Arrays joined column-wise: along the first axis of vectors, else the second."""
    exprs = [atleast_1d(a) for a in tup]
    return concatenate(exprs, axis=0 if exprs and exprs[0].ndim == 1 else 1)


def vstack(tup: Sequence[Any]) -> Expr:
    """Arrays joined row-wise, vectors as rows (``np.vstack``)."""
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def column_stack(tup: Sequence[Any]) -> Expr:
    """Vectors as columns (and matrices) joined along the second axis."""
    exprs = [as_expr(a) for a in tup]
    return concatenate([_reshape(e, (e.size, 1)) if e.ndim < 2 else e for e in exprs], axis=1)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Expr]:
    """Pieces along an axis: ``k`` nearly equal ones, or cut at the given indices
    (``np.array_split``); each piece a slice of ``ary``."""
    xe = as_expr(ary)
    a = normalize_axis(axis, xe.ndim, "array_split")
    total = xe.shape[a]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise InvalidArgumentError("number of sections must be larger than 0")
        each, extra = divmod(total, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        cuts = list(np.cumsum([0, *sizes]))
    else:
        cuts = [0, *(as_int(i, "split: an index") for i in indices_or_sections), total]
    lead = (slice(None),) * a
    return [getitem(xe, (*lead, slice(int(lo), int(hi)))) for lo, hi in itertools.pairwise(cuts)]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Expr]:
    """Pieces along an axis, ``k`` equal ones or cut at indices (``np.split``)."""
    xe = as_expr(ary)
    if isinstance(indices_or_sections, (int, np.integer)):
        total = xe.shape[normalize_axis(axis, xe.ndim, "split")]
        if indices_or_sections <= 0 or total % int(indices_or_sections):
            raise ShapeError("array split does not result in an equal division")
    return array_split(xe, indices_or_sections, axis)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Expr]:
    """``split`` along the second axis (the first, of a vector)."""
    xe = as_expr(ary)
    return split(xe, indices_or_sections, axis=1 if xe.ndim > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Expr]:
    """``split`` along the first axis of an array of at least two axes."""
    xe = as_expr(ary)
    if xe.ndim < 2:
        raise ShapeError("vsplit only works on arrays of 2 or more dimensions")
    return split(xe, indices_or_sections, axis=0)


def take(a: Any, indices: Any, axis: int | None = None) -> Expr:
    """Entries at ``indices`` along ``axis`` (of the flattened array when ``None``)."""
    xe = as_expr(a)
    if axis is None:
        return getitem(ravel(xe), (indices,))
    return getitem(xe, (slice(None),) * normalize_axis(axis, xe.ndim, "take") + (indices,))


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Expr:
    """The ``n``-th differences along ``axis``, ``a[1:] - a[:-1]`` repeated
    (``np.diff``, with ``prepend`` and ``append`` values)."""
    xe = as_expr(a)
    if xe.ndim == 0:
        raise ShapeError("diff needs an array of at least one axis")
    ax = normalize_axis(axis, xe.ndim, "diff")
    order = as_int(n, "diff: n")
    if order < 0:
        raise InvalidArgumentError(f"diff: the order n must be non-negative, got {order}")

    def edge(value: Any) -> Expr:
        ve = as_expr(value)
        if ve.ndim == 0:
            ve = broadcast_to(ve, (*xe.shape[:ax], 1, *xe.shape[ax + 1 :]))
        return ve

    if prepend is not None or append is not None:
        before = [edge(prepend)] if prepend is not None else []
        after = [edge(append)] if append is not None else []
        xe = concatenate([*before, xe, *after], axis=ax)
    lead = (slice(None),) * ax
    for _ in range(order):
        xe = add([getitem(xe, (*lead, slice(1, None))), getitem(xe, (*lead, slice(None, -1)))],
                 [1, -1])
    return xe


# =====================================================================================
# NumPy entry points
# =====================================================================================


def _np_reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
                copy: Any = None) -> Expr:
    if shape is None:
        shape = newshape
    if shape is None:
        raise InvalidArgumentError("reshape: a shape is needed")
    return reshape(a, shape, order)


def _np_concatenate(arrays: Sequence[Any], axis: int | None = 0, out: Any = None,
                    dtype: Any = None, casting: Any = None) -> Expr:
    _none("concatenate", out=out, dtype=dtype)
    return concatenate(arrays, axis)


def _np_stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, *, dtype: Any = None,
              casting: Any = None) -> Expr:
    _none("stack", out=out, dtype=dtype)
    return stack(arrays, axis)


def _np_take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
             mode: str = "raise") -> Expr:
    _none("take", out=out)
    if mode != "raise":
        raise UnsupportedOperationError(f"take: mode={mode!r} is not supported")
    return take(a, indices, axis)


def _np_broadcast_to(array: Any, shape: Any, subok: bool = False) -> Expr:
    return broadcast_to(array, shape)


def _np_hstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Expr:
    _none("hstack", dtype=dtype)
    return hstack(tup)


def _np_vstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Expr:
    _none("vstack", dtype=dtype)
    return vstack(tup)


def _atleast(fn: Callable[[Any], Expr]) -> Callable[..., Any]:
    def handler(*arys: Any) -> Any:
        out = [fn(a) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)

    return handler


for _func, _handler in (
    (np.reshape, _np_reshape),
    (np.ravel, ravel),
    (np.squeeze, squeeze),
    (np.expand_dims, expand_dims),
    (np.swapaxes, swapaxes),
    (np.moveaxis, moveaxis),
    (np.broadcast_to, _np_broadcast_to),
    (np.concatenate, _np_concatenate),
    (np.stack, _np_stack),
    (np.hstack, _np_hstack),
    (np.vstack, _np_vstack),
    (np.column_stack, column_stack),
    (np.split, split),
    (np.array_split, array_split),
    (np.hsplit, hsplit),
    (np.vsplit, vsplit),
    (np.take, _np_take),
    (np.diff, diff),
    (np.atleast_1d, _atleast(atleast_1d)),
    (np.atleast_2d, _atleast(atleast_2d)),
):
    register_numpy(_func, _handler)

