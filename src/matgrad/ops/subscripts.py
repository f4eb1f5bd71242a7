"""NumPy index keys, normalized (layer 3): what ``x[key]`` selects.

A key as written (anything NumPy accepts as an index, with constant arrays) is
normalized once, against the shape it indexes, into an :class:`Index`
(hashable, so that ``x[0]`` built twice is one node): integers made
non-negative, slices made ``(start, count, step)``, ``...`` expanded, boolean
masks turned into the integer arrays of their ``nonzero()`` (NumPy's own
definition), a lone array of evenly spaced positions turned into a slice,
trailing axes made explicit.  :class:`Index` knows where NumPy puts the axes of
advanced indices (first when they are apart from each other) and whether a
position is selected twice.  ``Index.lead`` counts leading axes that pass
through (the extra axes a derivative carries in front).  The operations are in
:mod:`matgrad.ops.indexing`.

>>> print(index_of((4, 5), (Ellipsis, slice(None, None, -2))))
:, ::-2
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.expr import Expr

__all__ = [
    "At",
    "Index",
    "IndexArray",
    "IndexingError",
    "Key",
    "RawSlice",
    "Slice",
    "as_int",
    "as_key",
    "compose",
    "index_of",
    "normalize_axis",
]


class IndexingError(ShapeError, IndexError):
    """An index that does not fit the indexed shape (out of bounds, too many
    indices, a mask of the wrong shape): an ``IndexError`` as in NumPy."""


# =====================================================================================
# Keys and normalized indices
# =====================================================================================


class IndexArray:
    """A constant integer (or, in a raw :class:`Key`, boolean) index array,
    read-only and identified by its content."""

    __slots__ = ("_id", "value")
    value: np.ndarray[Any, Any]

    def __init__(self, value: Any) -> None:
        arr = np.array(value, copy=True)
        if arr.dtype != np.bool_:
            arr = arr.astype(np.intp)
        arr.setflags(write=False)
        self.value = arr
        self._id = (arr.dtype.str, arr.shape, arr.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexArray) and self._id == other._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __str__(self) -> str:
        return str(self.value.tolist())

    def __repr__(self) -> str:
        return f"np.array({self.value.tolist()!r})"

    def source(self) -> str:
        return f"np.array({self.value.tolist()!r}, dtype=np.{self.value.dtype.name})"


@dataclass(frozen=True)
class RawSlice:
    """A slice as written (``slice`` objects are not hashable before Python 3.12)."""

    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Key:
    """A key as written, made hashable: ints, :class:`RawSlice`, ``None``,
    ``Ellipsis`` and :class:`IndexArray` (integer or boolean)."""

    items: tuple[Any, ...]

    def __str__(self) -> str:
        return ", ".join(_raw_text(it) for it in self.items)


def _raw_text(item: Any) -> str:
    if item is Ellipsis:
        return "..."
    if isinstance(item, RawSlice):
        parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    return str(item)


@dataclass(frozen=True)
class Slice:
    """A normalized slice: the positions ``start + step * k`` for ``k < count``."""

    start: int
    count: int
    step: int

    def as_slice(self) -> slice:
        stop = self.start + self.step * self.count
        return slice(self.start, stop if stop >= 0 else None, self.step)

    def is_full(self, dim: int) -> bool:
        return self.start == 0 and self.step == 1 and self.count == dim

    def text(self, dim: int) -> str:
        """NumPy's slice syntax, with what is implied left out (``1:``, ``::-1``)."""
        if self.count == 0:
            return "0:0"
        stop = self.start + self.step * self.count
        first = 0 if self.step > 0 else dim - 1
        to_end = stop >= dim if self.step > 0 else stop < 0
        start = "" if self.start == first else str(self.start)
        end = "" if to_end else str(stop)
        return f"{start}:{end}" + ("" if self.step == 1 else f":{self.step}")


Item = int | Slice | None | IndexArray


@dataclass(frozen=True)
class Index:
    """A key normalized for the axes it indexes (``shape``), after ``lead``
    leading axes that pass through; axes after those pass through too.

    ``items`` has one entry per indexed axis (an ``int``, a :class:`Slice` or a
    1-d or n-d :class:`IndexArray` of non-negative integers) plus ``None`` for
    each new axis, in NumPy's order."""

    items: tuple[Item, ...]
    shape: Shape
    lead: int = 0

    # ---- what NumPy does with it ------------------------------------------------------
    @functools.cached_property
    def key(self) -> tuple[Any, ...]:
        """The NumPy key for the indexed axes."""
        out: list[Any] = []
        for it in self.items:
            if isinstance(it, Slice):
                out.append(it.as_slice())
            elif isinstance(it, IndexArray):
                out.append(it.value)
            else:
                out.append(it)
        return tuple(out)

    @functools.cached_property
    def full_key(self) -> tuple[Any, ...]:
        """The NumPy key with the leading axes as full slices."""
        return (slice(None),) * self.lead + self.key

    @functools.cached_property
    def _layout(self) -> tuple[Shape, Shape, bool, bool]:
        """(result shape of the indexed axes, broadcast shape of the advanced
        indices, whether those go first, whether no position is selected twice)."""
        advanced = [p for p, it in enumerate(self.items) if isinstance(it, IndexArray)]
        if advanced:  # integers count as advanced indices then (NumPy's rule)
            advanced = [p for p, it in enumerate(self.items) if isinstance(it, (int, IndexArray))]
        arrays = [np.asarray(it.value if isinstance(it, IndexArray) else it)
                  for it in self.items if isinstance(it, (int, IndexArray))]
        dims: list[int] = []
        basic_before: list[int] = []
        basic_after: list[int] = []
        for p, it in enumerate(self.items):
            if isinstance(it, Slice):
                dim = it.count
            elif it is None:
                dim = 1
            else:
                continue
            (basic_before if not advanced or p < advanced[0] else basic_after).append(dim)
            dims.append(dim)
        if not advanced:
            return tuple(dims), (), False, True
        bshape = tuple(np.broadcast_shapes(*(a.shape for a in arrays)))
        front = advanced != list(range(advanced[0], advanced[-1] + 1))
        axis_dims = self._axis_dims()
        sizes = [axis_dims[p] for p in advanced]
        flat = np.ravel_multi_index(
            [a.ravel() for a in np.broadcast_arrays(*arrays)], sizes
        ) if arrays and 0 not in sizes else np.zeros(0, np.intp)
        unique = int(np.unique(flat).size) == int(flat.size)
        out = bshape + tuple(dims) if front else tuple(basic_before) + bshape + tuple(basic_after)
        return out, bshape, front, unique

    def _axis_dims(self) -> dict[int, int]:
        """The size of the axis each item (except ``None``) indexes, by item position."""
        found: dict[int, int] = {}
        axis = 0
        for p, it in enumerate(self.items):
            if it is None:
                continue
            found[p] = self.shape[axis]
            axis += 1
        return found

    @property
    def out_shape(self) -> Shape:
        """The shape that the indexed axes become."""
        return self._layout[0]

    @property
    def front(self) -> bool:
        """Advanced indices apart from each other: their axes go first (in NumPy,
        before any leading axes too, which :func:`getitem` moves back)."""
        return self._layout[2]

    @property
    def bdim(self) -> int:
        """The number of axes the advanced indices make."""
        return len(self._layout[1])

    @property
    def unique(self) -> bool:
        """No position is selected twice (scattering may assign instead of add)."""
        return self._layout[3]

    @property
    def identity(self) -> bool:
        return len(self.items) == len(self.shape) and all(
            isinstance(it, Slice) and it.is_full(d) for it, d in zip(self.items, self.shape)
        )

    def with_lead(self, lead: int) -> Index:
        return replace(self, lead=lead)

    # ---- printing ---------------------------------------------------------------------
    def _texts(self, source: bool) -> list[str]:
        parts = [":"] * self.lead
        axis = 0
        trailing = 0
        for it in self.items:
            if it is None:
                parts.append("None")
                trailing = 0
                continue
            dim = self.shape[axis]
            axis += 1
            if isinstance(it, Slice):
                parts.append(it.text(dim))
                trailing = trailing + 1 if it.is_full(dim) else 0
            elif isinstance(it, IndexArray):
                parts.append(it.source() if source else str(it))
                trailing = 0
            else:
                parts.append(str(it))
                trailing = 0
        kept = parts[: len(parts) - trailing] if trailing < len(parts) - self.lead else parts
        return kept or [":"]

    def __str__(self) -> str:
        """The subscript in NumPy syntax, trailing full slices left out: ``1:3, ::2``."""
        return ", ".join(self._texts(source=False))

    def source(self) -> str:
        """The subscript as exact NumPy source (arrays as ``np.array``)."""
        return ", ".join(self._texts(source=True))


@dataclass(frozen=True)
class At:
    """Where ``scatter_add`` adds its operand: the positions ``index`` selects in
    zeros of the indexed shape (printed as JAX writes it, ``zeros(5).at[1:]``)."""

    index: Index

    def __str__(self) -> str:
        shape = self.index.shape
        text = str(shape[0]) if len(shape) == 1 else str(shape)
        return f"zeros({text}).at[{self.index}]"


def as_int(value: Any, what: str) -> int:
    """``value`` as an index integer (NumPy's error otherwise)."""
    if isinstance(value, Expr):
        raise _traced()
    try:
        return operator.index(value)
    except TypeError:
        raise IndexingError(
            f"{what} must be an integer, got {type(value).__name__}: only integers, slices "
            "(`:`), ellipsis (`...`), None and integer or boolean arrays are valid indices"
        ) from None


def _traced() -> UnsupportedOperationError:
    return UnsupportedOperationError(
        "an index that is a matgrad expression (a traced value) is not supported: indices "
        "must be constants (integers, slices, NumPy arrays); for a choice that depends on "
        "values, use np.where"
    )


def as_key(key: Any) -> Key:
    """``key`` as written (anything NumPy accepts as an index, with constant
    arrays) made hashable."""
    if isinstance(key, Key):
        return key
    items = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    for it in items:
        if isinstance(it, Expr):
            raise _traced()
        if it is None or it is Ellipsis:
            out.append(it)
        elif isinstance(it, slice):
            out.append(RawSlice(*(None if v is None else as_int(v, "a slice bound")
                                  for v in (it.start, it.stop, it.step))))
            if out[-1].step == 0:
                raise InvalidArgumentError("slice step cannot be zero")
        elif isinstance(it, (bool, np.bool_)):
            raise UnsupportedOperationError(
                "a boolean scalar index (x[True]) is not supported; use None to add an axis"
            )
        elif isinstance(it, (int, np.integer)):
            out.append(int(it))
        elif isinstance(it, IndexArray):
            out.append(it)
        else:
            out.append(_array_item(it))
    return Key(tuple(out))


def _holds_expr(item: Any) -> bool:
    if isinstance(item, Expr):
        return True
    return isinstance(item, (list, tuple)) and any(_holds_expr(v) for v in item)


def _array_item(item: Any) -> Any:
    if _holds_expr(item):
        raise _traced()
    try:
        arr = np.asarray(item)
    except (ValueError, TypeError):
        raise IndexingError(f"cannot use {type(item).__name__} {item!r} as an index") from None
    if arr.dtype == object:
        raise IndexingError(f"cannot use {item!r} as an index")
    if arr.dtype == np.bool_:
        if arr.ndim == 0:
            raise UnsupportedOperationError(
                "a boolean scalar index (x[True]) is not supported; use None to add an axis"
            )
        return IndexArray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return int(arr) if arr.ndim == 0 else IndexArray(arr)
    if arr.size == 0 and isinstance(item, (list, tuple)):
        return IndexArray(arr.astype(np.intp))
    raise IndexingError(
        f"arrays used as indices must be of integer or boolean type, got {arr.dtype}"
    )


def index_of(shape: Shape, key: Any, lead: int = 0) -> Index:
    """``key`` normalized for the axes ``shape`` (see :class:`Index`), with NumPy's
    errors for keys that do not fit."""
    if isinstance(key, Index):
        if key.shape != tuple(shape) or key.lead != lead:
            raise ShapeError(f"index for shape {key.shape} applied to shape {tuple(shape)}")
        return key
    raw = as_key(key)
    consumed = 0
    for it in raw.items:
        if isinstance(it, IndexArray) and it.value.dtype == np.bool_:
            consumed += it.value.ndim
        elif it is not None and it is not Ellipsis:
            consumed += 1
    if sum(it is Ellipsis for it in raw.items) > 1:
        raise IndexingError("an index can only have a single ellipsis ('...')")
    ndim = len(shape)
    if consumed > ndim:
        raise IndexingError(
            f"too many indices: the indexed shape {tuple(shape)} has {ndim} axes but "
            f"{consumed} were indexed"
        )
    fill = [RawSlice(None, None, None)] * (ndim - consumed)
    if Ellipsis in raw.items:
        at = raw.items.index(Ellipsis)
        expanded = [*raw.items[:at], *fill, *raw.items[at + 1 :]]
    else:
        expanded = [*raw.items, *fill]
    items: list[Item] = []
    axis = 0
    for it in expanded:
        if it is None:
            items.append(None)
            continue
        if isinstance(it, IndexArray) and it.value.dtype == np.bool_:
            mask = it.value
            dims = tuple(shape[axis : axis + mask.ndim])
            if mask.shape != dims:
                raise IndexingError(
                    f"boolean index of shape {mask.shape} does not match the indexed axes "
                    f"{dims} (starting at axis {axis})"
                )
            items.extend(IndexArray(nz) for nz in np.nonzero(mask))
            axis += mask.ndim
            continue
        dim = shape[axis]
        if isinstance(it, RawSlice):
            start, stop, step = slice(it.start, it.stop, it.step).indices(dim)
            count = len(range(start, stop, step))
            items.append(Slice(start, count, step if count > 1 else 1) if count else
                         Slice(0, 0, 1))
        elif isinstance(it, int):
            if not -dim <= it < dim:
                raise IndexingError(f"index {it} is out of bounds for axis {axis} with size {dim}")
            items.append(it % dim)
        else:
            assert isinstance(it, IndexArray)
            arr = it.value
            if arr.size and (arr.min() < -dim or arr.max() >= dim):
                bad = int(arr[(arr < -dim) | (arr >= dim)].ravel()[0])
                raise IndexingError(
                    f"index {bad} is out of bounds for axis {axis} with size {dim}"
                )
            items.append(IndexArray(np.where(arr < 0, arr + dim, arr)) if arr.size else it)
        axis += 1
    arrays = [it for it in items if isinstance(it, IndexArray)]
    if arrays:
        try:
            np.broadcast_shapes(*(a.value.shape for a in arrays))
        except ValueError:
            raise IndexingError(
                "shape mismatch: indexing arrays could not be broadcast together with shapes "
                + " ".join(str(a.value.shape) for a in arrays)
            ) from None
    if len(arrays) == 1 and not any(isinstance(it, int) for it in items):
        items = [_as_slice(it) if isinstance(it, IndexArray) else it for it in items]
    return Index(tuple(items), tuple(shape), lead)


def _as_slice(item: IndexArray) -> Item:
    """A 1-d array of evenly spaced positions is a slice (a view, nothing repeated)."""
    v = item.value
    if v.ndim != 1 or v.size == 0:
        return item
    if v.size == 1:
        return Slice(int(v[0]), 1, 1)
    steps = np.diff(v)
    if steps[0] != 0 and bool(np.all(steps == steps[0])):
        return Slice(int(v[0]), int(v.size), int(steps[0]))
    return item


def normalize_axis(axis: Any, ndim: int, what: str) -> int:
    """``axis`` of an array of ``ndim`` axes, made non-negative."""
    a = as_int(axis, f"{what}: axis")
    if not -ndim <= a < ndim:
        raise ShapeError(f"{what}: axis {a} is out of bounds for {ndim} axes")
    return a % ndim


def compose(first: Index, then: Index) -> Index | None:
    """The one index that selects what ``then`` selects from the result of
    ``first`` (``x[1:][::2]`` is ``x[1::2]``), for basic indices (integers,
    slices, ``None``) with the same leading axes; ``None`` otherwise."""
    basic = (int, Slice, type(None))
    if (
        first.lead != then.lead
        or then.shape != first.out_shape
        or not all(isinstance(it, basic) for it in first.items + then.items)
    ):
        return None
    pending = list(then.items)  # consumed front to back, one per output axis of ``first``
    items: list[Item] = []
    for it in first.items:
        if isinstance(it, int):
            items.append(it)
            continue
        while pending and pending[0] is None:
            items.append(pending.pop(0))
        picked = pending.pop(0)
        if it is None:
            if isinstance(picked, Slice) and picked.count == 0:
                return None  # an axis of length 0 where ``first`` made one of length 1
            if isinstance(picked, Slice):
                items.append(None)
        elif not isinstance(it, Slice):
            return None  # an array: not a basic index (excluded above)
        elif isinstance(picked, int):
            items.append(it.start + it.step * picked)
        else:
            assert isinstance(picked, Slice)
            count = picked.count
            start, step = it.start + it.step * picked.start, it.step * picked.step
            items.append(Slice(start, count, step if count > 1 else 1) if count else Slice(0, 0, 1))
    items.extend(pending)
    return Index(tuple(items), first.shape, first.lead)
