"""Indexing (layer 3): ``x[key]`` with NumPy's semantics, and its transpose.

Declared: ``getitem`` (``x[key]`` for integers, slices with any step,
``...``, ``None``, integer arrays and boolean masks given as constants, and
combinations of them) and ``scatter_add`` (zeros with an operand added at
indexed positions, as ``np.add.at``, so repeated indices accumulate).  Both are
linear and each is the other's transpose, so reverse mode scatters cotangents
into place: no selection matrix is ever formed.  Built from them: ``diagonal``
(any offset and axes), the trace with an offset and the diagonal matrix with
``k`` that ``np.trace`` and ``np.diag`` build.  Declared too: the triangles
``tril`` and ``triu`` (masks, their own transposes).

Conventions: a position selected twice gets the sum of its cotangents (as
``np.add.at`` and JAX's ``x.at[idx].add``, the transpose of a gather); indices
are constants, so one out of bounds raises ``IndexError`` when the expression
is built, as NumPy does (JAX clamps retrieval instead).  Indexing has no
non-differentiable points.

Keys are normalized by :mod:`matgrad.ops.subscripts` into hashable
:class:`~matgrad.ops.subscripts.Index` records, so ``x[0]`` built twice is one
node.

>>> import matgrad as mg
>>> x = mg.Vector("x", 5)
>>> print(x[1:] - x[:-1])
x[1:] - x[:4]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import (
    Constant,
    Expr,
    Ones,
    Symbol,
    Zero,
    as_expr,
    constant,
    delta,
    einsum_node,
    ones,
    zeros,
)
from matgrad.ir.node import HOOKS
from matgrad.ops.registry import declare, language_function, register_numpy
from matgrad.ops.subscripts import (
    At,
    Index,
    Key,
    as_int,
    as_key,
    compose,
    index_of,
    normalize_axis,
)

__all__ = [
    "diagonal",
    "getitem",
    "offset_diag",
    "offset_trace",
    "permute",
    "scatter_add",
    "tril",
    "triu",
]

FOLD_LIMIT = 100_000
"""Largest constant (in entries) that indexing a constant folds to a constant."""


# =====================================================================================
# getitem
# =====================================================================================


def _check_index(attrs: Mapping[str, Any]) -> dict[str, Any]:
    index = attrs["index"]
    return {"index": index if isinstance(index, Index) else as_key(index)}


def _resolve(shape: Shape, index: Index | Key) -> Index:
    if isinstance(index, Index):
        end = index.lead + len(index.shape)
        if shape[index.lead : end] != index.shape:
            raise ShapeError(
                f"an index for axes {index.shape} (after {index.lead} leading) cannot index "
                f"shape {shape}"
            )
        return index
    return index_of(shape, index)


def _getitem_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    idx = _resolve(s, attrs["index"])
    return s[: idx.lead] + idx.out_shape + s[idx.lead + len(idx.shape) :]


def _getitem_canonical(x: Expr, *, index: Index | Key) -> Expr | None:
    idx = _resolve(x.shape, index)
    if idx.identity:
        return x
    if idx is not index:
        return getitem(x, idx)
    if isinstance(x, Apply) and x.op is _GETITEM:
        both = compose(x.attrs["index"], idx)
        if both is not None:
            return getitem(x.x, both)
    shape = _getitem_shape((x.shape,), {"index": idx})
    if isinstance(x, Zero):
        return zeros(shape, x.dtype)
    if isinstance(x, Ones):
        return ones(shape, x.dtype)
    if isinstance(x, Constant) and int(np.prod(shape, dtype=np.int64)) <= FOLD_LIMIT:
        return constant(_take(idx)(x.value))
    return None


def _getitem_simplify(node: Expr) -> Expr | None:
    """``zeros.at[I].add(c)[I] = c`` when ``I`` selects no position twice."""
    assert isinstance(node, Apply)
    idx: Index = node.attrs["index"]
    inner = node.x
    if isinstance(inner, Apply) and inner.op is _SCATTER and idx.unique:
        if inner.attrs["at"].index == idx:
            return inner.x
    return None


def _take(idx: Index) -> Callable[[Any], Any]:
    """The NumPy kernel of ``getitem``."""
    key = idx.full_key
    if idx.front and idx.lead:
        src = tuple(range(idx.bdim))
        dst = tuple(range(idx.lead, idx.lead + idx.bdim))
        return lambda x: np.moveaxis(x[key], src, dst)
    return lambda x: x[key]


def _take_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[[Any], Any]:
    """``getitem`` on any engine: the same key (its index arrays as the engine's)."""
    idx: Index = attrs["index"]
    key = idx.full_key
    if idx.front and idx.lead:
        src = tuple(range(idx.bdim))
        dst = tuple(range(idx.lead, idx.lead + idx.bdim))
        return lambda x: ns.moveaxis(ns.take(x, key), src, dst)
    return lambda x: ns.take(x, key)


def _d_getitem(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Indexing is linear: ``d x[key] = (dx)[key]``."""
    assert isinstance(node, Apply)
    (dx,) = d
    return getitem(dx, node.attrs["index"])


def _getitem_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return getitem(tangents[0], node.attrs["index"])


def _getitem_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    idx: Index = node.attrs["index"]
    return scatter_add(cotangent, At(idx.with_lead(idx.lead + len(extra))))


def _getitem_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    assert isinstance(node, Apply)
    idx: Index = node.attrs["index"]
    text = f"{args[0]}[{idx.source()}]"
    if idx.front and idx.lead:
        src = tuple(range(idx.bdim))
        text = f"np.moveaxis({text}, {src}, {tuple(range(idx.lead, idx.lead + idx.bdim))})"
    return [f"{var} = {text}"]


def _vector(n: int, m: int) -> tuple[Shape, ...]:
    return ((n + 3,),)


def _matrix(n: int, m: int) -> tuple[Shape, ...]:
    return ((n + 2, m + 1),)


def entrywise_square(a: Expr) -> Expr:
    """``a ⊙ a``: samples that are not linear, so their second derivative is not 0."""
    labels = tuple(range(a.ndim))
    return einsum_node([a, a], [labels, labels], labels)


def _loop_sum(a: Expr) -> Expr:
    total: Expr = a[0] * a[1]
    for i in range(1, a.shape[0] - 1):
        total = total + a[i] * a[i + 1]
    return total


_GETITEM = Operation(
    name="getitem",
    family="indexing",
    doc="x[key]: entries of x selected by integers, slices, None, ... and constant arrays",
    attrs=("index",),
    check=_check_index,
    shape=_getitem_shape,
    dtype=lambda dtypes, attrs: dtypes[0],
    canonical=_getitem_canonical,
    simplify=_getitem_simplify,
    numpy=lambda x, index: _take(index)(x),
    kernel=lambda attrs: _take(attrs["index"]),
    array_api=_take_portable,
    batched_attrs=lambda attrs: {"index": attrs["index"].with_lead(attrs["index"].lead + 1)},
    differential=_d_getitem,
    linear=Linear(_getitem_push, _getitem_pull),
    flops=lambda shapes: 0,
    view=True,
    notation=Notation(
        text="{0:atom}[{index}]",
        latex="{0:atom}_{{[{index}]}}",
        numpy_lines=_getitem_lines,
    ),
    samples=(
        Sample("getitem-slices", lambda a: a[1:, ::-2] * a[:-1, ::-2], _matrix, ("general",)),
        Sample("getitem-int", lambda a: a[-1] * a[0, None], _matrix, ("general",)),
        Sample("getitem-repeated", lambda a: entrywise_square(a[[0, 2, 0, -1]]), _vector,
               ("general",)),
        Sample(
            "getitem-mask",
            lambda a: entrywise_square(a[np.arange(a.shape[0]) % 2 == 0, 1:]) * a[::2, :-1],
            _matrix,
            ("general",),
        ),
        Sample(
            "getitem-apart",
            lambda a: a[[1, 0, 1], ..., [0, 0, 1]] * a[[0, 1, 1], ..., [1, 0, 0]],
            lambda n, m: ((2, n, 2),),
            ("general",),
        ),
        Sample("getitem-loop", _loop_sum, _vector, ("general",)),
    ),
    fuzz=(
        Fuzz(
            bound=lambda lo, hi, n, **attrs: hi,
            attrs=(
                {"index": (slice(None, None, -1),)},
                {"index": (Ellipsis, slice(None, None, -1))},
                {"index": (0,)},
                {"index": (Ellipsis, -1)},
            ),
        ),
    ),
)

getitem: Callable[..., Expr] = declare(_GETITEM)


# =====================================================================================
# scatter_add: the transpose of getitem
# =====================================================================================


def _check_at(attrs: Mapping[str, Any]) -> dict[str, Any]:
    at = attrs["at"]
    if not isinstance(at, At):
        raise InvalidArgumentError(f"scatter_add: 'at' must be an At, got {type(at).__name__}")
    return {"at": at}


def _scatter_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    idx: Index = attrs["at"].index
    out = idx.out_shape
    if s[idx.lead : idx.lead + len(out)] != out:
        raise ShapeError(
            f"scatter_add: an operand of shape {s} does not fit the positions {idx} of "
            f"shape {idx.shape} (after {idx.lead} leading axes), which take shape {out}"
        )
    return s[: idx.lead] + idx.shape + s[idx.lead + len(out) :]


def _scatter_canonical(c: Expr, *, at: At) -> Expr | None:
    shape = _scatter_shape((c.shape,), {"at": at})
    if at.index.identity:
        return c
    if isinstance(c, Zero):
        return zeros(shape, c.dtype)
    return None


def _put(idx: Index) -> Callable[[Any], Any]:
    """The NumPy kernel of ``scatter_add``: zeros, then the operand added in
    place (assigned where no position is selected twice)."""
    key, lead, n_out = idx.full_key, idx.lead, len(idx.out_shape)
    move = idx.front and lead > 0
    src = tuple(range(lead, lead + idx.bdim))
    dst = tuple(range(idx.bdim))

    def kernel(c: Any) -> Any:
        c = np.asarray(c)
        z = np.zeros(c.shape[:lead] + idx.shape + c.shape[lead + n_out :], dtype=c.dtype)
        if move:
            c = np.moveaxis(c, src, dst)
        if idx.unique:
            z[key] = c
        else:
            np.add.at(z, key, c)
        return z

    return kernel


def _put_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """``scatter_add`` on an engine that can add into an array at a key
    (``ns.scatter_add``; ``None``: Dask runs the NumPy kernel as one task)."""
    idx: Index = attrs["at"].index
    key, lead, n_out = idx.full_key, idx.lead, len(idx.out_shape)
    move = idx.front and lead > 0
    src, dst = tuple(range(lead, lead + idx.bdim)), tuple(range(idx.bdim))
    scatter = getattr(ns, "scatter_add", None)
    if scatter is None:
        return None

    def kernel(c: Any) -> Any:
        shape = tuple(c.shape[:lead]) + idx.shape + tuple(c.shape[lead + n_out:])
        if move:
            c = ns.moveaxis(c, src, dst)
        return scatter(shape, key, c, idx.unique)

    return kernel


def _d_scatter(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Scattering is linear: ``d zeros.at[key].add(c) = zeros.at[key].add(dc)``."""
    assert isinstance(node, Apply)
    (dc,) = d
    return scatter_add(dc, node.attrs["at"])


def _scatter_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return scatter_add(tangents[0], node.attrs["at"])


def _scatter_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    idx: Index = node.attrs["at"].index
    return getitem(cotangent, idx.with_lead(idx.lead + len(extra)))


def _scatter_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    assert isinstance(node, Apply)
    idx: Index = node.attrs["at"].index
    c = args[0]
    if idx.front and idx.lead:
        src = tuple(range(idx.lead, idx.lead + idx.bdim))
        c = f"np.moveaxis({c}, {src}, {tuple(range(idx.bdim))})"
    lines = [f"{var} = np.zeros({node.shape}, dtype=np.{node.dtype.name})"]
    if idx.unique:
        lines.append(f"{var}[{idx.source()}] = {c}")
    else:
        lines.append(f"np.add.at({var}, np.s_[{idx.source()}], {c})")
    return lines


def _scatter_sample(positions: Any) -> Callable[[Expr], Expr]:
    def build(a: Expr) -> Expr:
        n = a.shape[0]
        at = At(index_of((n + 1, a.shape[1]), (positions(n),)))
        return entrywise_square(scatter_add(a, at))

    return build


_SCATTER = Operation(
    name="scatter_add",
    family="indexing",
    doc="zeros with x added at the positions an index selects (np.add.at; repeats add up)",
    attrs=("at",),
    check=_check_at,
    shape=_scatter_shape,
    dtype=lambda dtypes, attrs: dtypes[0],
    canonical=_scatter_canonical,
    numpy=lambda c, at: _put(at.index)(c),
    kernel=lambda attrs: _put(attrs["at"].index),
    array_api=_put_portable,
    batched_attrs=lambda attrs: {"at": At(attrs["at"].index.with_lead(attrs["at"].index.lead + 1))},
    differential=_d_scatter,
    linear=Linear(_scatter_push, _scatter_pull),
    flops=lambda shapes: int(np.prod(shapes[0], dtype=np.int64)),
    notation=Notation(
        text="{at}.add({0})",
        latex=r"{at}.\operatorname{{add}}{0:arg}",
        numpy_lines=_scatter_lines,
    ),
    samples=(
        Sample("scatter-add", _scatter_sample(lambda n: slice(1, None)),
               lambda n, m: ((n, m),), ("general",)),
        Sample("scatter-add-repeated", _scatter_sample(lambda n: [0] * n),
               lambda n, m: ((n, m),), ("general",)),
    ),
)

scatter_add: Callable[..., Expr] = declare(_SCATTER)


def _subscript(x: Expr, key: Any) -> Expr:
    """``x[key]`` (``Expr.__getitem__``)."""
    return getitem(x, key)


HOOKS["subscript"] = _subscript


# =====================================================================================
# Diagonals
# =====================================================================================


def permute(x: Expr, perm: Sequence[int]) -> Expr:
    """Axes reordered as ``np.transpose(x, perm)``."""
    perm = tuple(perm)
    if perm == tuple(range(x.ndim)):
        return x
    if isinstance(x, Symbol) and x.symmetric:
        return x
    return einsum_node([x], [tuple(range(x.ndim))], perm)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Expr:
    """The diagonal ``offset`` above the main one (below, for negative ``offset``)
    of the axes ``axis1`` and ``axis2``, as the last axis (``np.diagonal``).

    >>> import matgrad as mg
    >>> print(mg.diagonal(mg.Matrix("A", (3, 4)), 1))
    A[[0, 1, 2], [1, 2, 3]]
    """
    xe = as_expr(x)
    if xe.ndim < 2:
        raise ShapeError(f"diagonal needs at least 2 axes, got shape {xe.shape}")
    a1, a2 = normalize_axis(axis1, xe.ndim, "diagonal"), normalize_axis(axis2, xe.ndim, "diagonal")
    if a1 == a2:
        raise ShapeError("diagonal: axis1 and axis2 cannot be the same")
    k = as_int(offset, "diagonal: offset")
    n1, n2 = xe.shape[a1], xe.shape[a2]
    if k == 0 and n1 == n2:
        return _main_diagonal(xe, a1, a2, summed=False)
    length = max(0, min(n1 - max(0, -k), n2 - max(0, k)))
    key: list[Any] = [slice(None)] * xe.ndim
    key[a1] = np.arange(length) + max(0, -k)
    key[a2] = np.arange(length) + max(0, k)
    picked = getitem(xe, tuple(key))
    at = min(a1, a2) if abs(a1 - a2) == 1 else 0
    order = [a for a in range(picked.ndim) if a != at]
    return permute(picked, (*order, at))


def _main_diagonal(x: Expr, a1: int, a2: int, summed: bool) -> Expr:
    """The main diagonal of axes ``a1`` and ``a2`` of equal length, as the last
    axis or summed: one einsum with a repeated index."""
    labels = tuple(a2 if a == a1 else a for a in range(x.ndim))
    rest = tuple(a for a in range(x.ndim) if a not in (a1, a2))
    return einsum_node([x], [labels], rest if summed else (*rest, a2))


def offset_trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Expr:
    """The sum along a diagonal (``np.trace`` with ``offset`` and axes)."""
    xe = as_expr(x)
    if xe.ndim >= 2 and as_int(offset, "trace: offset") == 0:
        a1, a2 = normalize_axis(axis1, xe.ndim, "trace"), normalize_axis(axis2, xe.ndim, "trace")
        if a1 != a2 and xe.shape[a1] == xe.shape[a2]:
            return _main_diagonal(xe, a1, a2, summed=True)
    d = diagonal(xe, offset, axis1, axis2)
    labels = tuple(range(d.ndim))
    return einsum_node([d], [labels], labels[:-1])


def offset_diag(v: Any, k: int = 0) -> Expr:
    """``np.diag(v, k)``: the matrix with the vector ``v`` on its ``k``-th
    diagonal, or the ``k``-th diagonal of the matrix ``v``."""
    ve = as_expr(v)
    k = as_int(k, "diag: k")
    if ve.ndim == 2:
        return diagonal(ve, k)
    if ve.ndim != 1:
        raise ShapeError(f"diag needs a vector or a matrix, got shape {ve.shape}")
    n = ve.shape[0]
    if k == 0:
        return einsum_node([ve, delta(n, ve.dtype)], [(0,), (0, 1)], (0, 1))
    big = n + abs(k)
    rows = np.arange(n) + max(0, -k)
    cols = np.arange(n) + max(0, k)
    return scatter_add(ve, At(index_of((big, big), (rows, cols))))



# =====================================================================================
# Triangles: tril, triu
# =====================================================================================


def _tri_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if not 0 <= attrs["axis"] <= len(s) - 2:
        raise ShapeError(f"a triangle needs two axes from axis {attrs['axis']}; shape is {s}")
    return s


def _triangle(name: str, upper: bool) -> Operation:
    fn = np.triu if upper else np.tril
    keeps = "on and above" if upper else "on and below"

    def kernel(x: Any, k: int, axis: int) -> Any:
        x = np.asarray(x)
        if axis == x.ndim - 2:
            return fn(x, k)
        moved = np.moveaxis(x, (axis, axis + 1), (-2, -1))
        return np.moveaxis(fn(moved, k), (-2, -1), (axis, axis + 1))

    def array_api(ns: Any, attrs: Mapping[str, Any]) -> Callable[[Any], Any]:
        k, axis = attrs["k"], attrs["axis"]

        def portable(x: Any) -> Any:
            n, m = x.shape[axis], x.shape[axis + 1]
            keep = ~np.tri(n, m, k - 1, dtype=bool) if upper else np.tri(n, m, k, dtype=bool)
            keep = keep.reshape((n, m) + (1,) * (x.ndim - axis - 2))
            return ns.where(ns.asarray(keep, like=x), x, ns.zeros_like(x))

        return portable

    def build(x: Expr, k: int, axis: int) -> Expr:
        return op(x, k=k, axis=axis)

    def canonical(x: Expr, *, k: int, axis: int) -> Expr | None:
        return zeros(x.shape, x.dtype) if isinstance(x, Zero) else None

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        assert isinstance(node, Apply)
        return build(d[0], **node.attrs)

    differential.__doc__ = f"Masking is linear: ``d {name}(x) = {name}(dx)``."

    def push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
        assert isinstance(node, Apply)
        return build(tangents[0], **node.attrs)

    def pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
        """The mask is its own transpose (it scales each entry by 0 or 1)."""
        assert isinstance(node, Apply)
        return build(cotangent, node.attrs["k"], node.attrs["axis"] + len(extra))

    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        assert isinstance(node, Apply)
        k, axis = node.attrs["k"], node.attrs["axis"]
        if axis == node.ndim - 2:
            return [f"{var} = np.{name}({args[0]}, {k})"]
        pair = (axis, axis + 1)
        moved = f"np.moveaxis({args[0]}, {pair}, (-2, -1))"
        return [f"{var} = np.moveaxis(np.{name}({moved}, {k}), (-2, -1), {pair})"]

    op = Operation(
        name=name,
        family="indexing",
        doc=f"the entries {keeps} the k-th diagonal (of the axes axis, axis + 1), others 0",
        attrs=("k", "axis"),
        check=lambda attrs: {"k": as_int(attrs["k"], f"{name}: k"),
                             "axis": as_int(attrs["axis"], f"{name}: axis")},
        shape=_tri_shape,
        dtype=lambda dtypes, attrs: dtypes[0],
        canonical=canonical,
        numpy=kernel,
        array_api=array_api,
        batched_attrs=lambda attrs: {**attrs, "axis": attrs["axis"] + 1},
        differential=differential,
        linear=Linear(push, pull),
        notation=Notation(
            text=f"{name}({{0}}, {{k}})",
            latex=r"\operatorname{{" + name + r"}}_{{{k}}}{0:arg}",
            numpy_lines=lines,
        ),
        samples=(
            Sample(name, lambda a: entrywise_square(build(a, 0, 0)), lambda n, m: ((n, n),),
                   ("general",)),
            Sample(f"{name}-offset", lambda a: entrywise_square(build(a, -1 if upper else 1, 1)),
                   lambda n, m: ((2, n, m + 1),), ("general",)),
        ),
        fuzz=(Fuzz(bound=lambda lo, hi, n, **attrs: hi,
                   attrs=({"k": 0, "axis": 0}, {"k": 1, "axis": 0})),),
    )
    return op


_TRIL = _triangle("tril", upper=False)
_TRIU = _triangle("triu", upper=True)
declare(_TRIL)
declare(_TRIU)


def tril(m: Any, k: int = 0, axis: int | None = None) -> Expr:
    """The lower triangle: entries on and below the ``k``-th diagonal of the axes
    ``axis, axis + 1`` (the last two by default), the others zero (``np.tril``)."""
    xe = _triangle_operand(m)
    return _TRIL(xe, k=k, axis=xe.ndim - 2 if axis is None else axis)


def _triangle_operand(m: Any) -> Expr:
    xe = as_expr(m)
    if xe.ndim == 1:  # NumPy makes a square matrix of the vector's rows
        xe = einsum_node([xe, ones(xe.shape, xe.dtype)], [(1,), (0,)], (0, 1))
    return xe


def triu(m: Any, k: int = 0, axis: int | None = None) -> Expr:
    """The upper triangle: entries on and above the ``k``-th diagonal of the axes
    ``axis, axis + 1`` (the last two by default), the others zero (``np.triu``)."""
    xe = _triangle_operand(m)
    return _TRIU(xe, k=k, axis=xe.ndim - 2 if axis is None else axis)


tril.op = _TRIL  # type: ignore[attr-defined]
triu.op = _TRIU  # type: ignore[attr-defined]


register_numpy(np.diagonal, diagonal)
register_numpy(np.tril, tril)
register_numpy(np.triu, triu)
language_function(Language(("tril",), "lower triangle of a matrix", "(m,n) -> (m,n)"), tril)
language_function(Language(("triu",), "upper triangle of a matrix", "(m,n) -> (m,n)"), triu)
