"""The intermediate representation: frozen, hash-consed expression nodes (layer 2).

Every node has a concrete ``shape`` and a ``dtype`` and is immutable.  Nodes are
*hash-consed*: building the same structure twice returns the same object, so
structural equality is identity, ``hash`` is cheap, common subexpressions are
shared automatically and a DAG evaluates each distinct node once.

Node kinds (``Expr.kind``):

=============  ===============================================================
``symbol``     a named variable (``Scalar``, ``Vector``, ``Matrix``, ``Tensor``)
``constant``   a NumPy array (hashed by content)
``zero``       the symbolic zero tensor of a shape
``ones``       the all-ones tensor of a shape
``delta``      the Kronecker delta (identity matrix) ``δ(i, j)`` of size n
``einsum``     every multilinear operation: a product of operands with index ids
``add``        a linear combination ``Σ cₖ tₖ`` of same-shaped terms
=============  ===============================================================

Every other node is an :class:`~matgrad.ir.apply.Apply` of a declared
operation (:mod:`matgrad.ir.apply`, declarations in :mod:`matgrad.ops`); its
``kind`` is the operation's name.

Constructors check shapes and put nodes in a canonical form (einsum index ids
renumbered, commutative operands sorted, sums flattened and like terms merged).
Heavier rewriting (fusing einsums, eliminating deltas) is ``matgrad.calculus.simplify``.
"""

from __future__ import annotations

import bisect
import hashlib
import numbers
import weakref
from collections.abc import Callable, Hashable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.errors import (
    InvalidArgumentError,
    ShapeError,
    UnsupportedOperationError,
)
from matgrad.ir.node import FUNCTION_HANDLERS as FUNCTION_HANDLERS  # re-exported
from matgrad.ir.node import HOOKS as HOOKS  # re-exported
from matgrad.ir.node import UFUNC_HANDLERS as UFUNC_HANDLERS  # re-exported
from matgrad.ir.node import Expr as Expr  # re-exported
from matgrad.ir.node import _check_shape, _intern, _result_dtype

Number = complex  # a Python int, float or complex coefficient

# =====================================================================================
# Leaves
# =====================================================================================


class Symbol(Expr):
    """A named variable.  ``symmetric=True`` declares a square matrix that varies
    only over symmetric matrices (its gradient is the symmetric one, DESIGN.md §1)."""

    __slots__ = ("name", "symmetric")
    kind = "symbol"
    name: str
    symmetric: bool

    def params(self) -> tuple[Any, ...]:
        return (self.name, self.symmetric)


def symbol(
    name: str, shape: Iterable[int] = (), *, dtype: Any = np.float64, symmetric: bool = False
) -> Symbol:
    """A symbol of any shape: the general ``Tensor`` constructor."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a symbol needs a non-empty string name, got {name!r}")
    shp = _check_shape(shape, f"symbol {name!r}")
    dt = np.dtype(dtype)
    if not np.issubdtype(dt, np.inexact):
        raise InvalidArgumentError(f"symbol {name!r}: dtype must be floating or complex, got {dt}")
    if symmetric and (len(shp) != 2 or shp[0] != shp[1]):
        raise ShapeError(f"symbol {name!r}: symmetric=True needs a square matrix, got shape {shp}")
    node: Symbol = _intern(
        Symbol,
        (name, shp, dt.str, bool(symmetric)),
        {"name": name, "shape": shp, "dtype": dt, "symmetric": bool(symmetric)},
    )
    return node


def Scalar(name: str, *, dtype: Any = np.float64) -> Symbol:
    """A scalar symbol (shape ``()``)."""
    return symbol(name, (), dtype=dtype)


def Vector(name: str, n: int, *, dtype: Any = np.float64) -> Symbol:
    """A vector symbol of length ``n`` (shape ``(n,)``)."""
    return symbol(name, (n,), dtype=dtype)


def Matrix(
    name: str, shape: tuple[int, int], *, dtype: Any = np.float64, symmetric: bool = False
) -> Symbol:
    """A matrix symbol; ``symmetric=True`` for square matrices that vary symmetrically."""
    shp = _check_shape(shape, f"Matrix {name!r}")
    if len(shp) != 2:
        raise ShapeError(f"Matrix {name!r} needs a 2-d shape, got {shp}")
    return symbol(name, shp, dtype=dtype, symmetric=symmetric)


def Tensor(name: str, shape: Iterable[int], *, dtype: Any = np.float64) -> Symbol:
    """A symbol of any rank."""
    return symbol(name, shape, dtype=dtype)


class Constant(Expr):
    """A NumPy array (read-only copy), identified by its content."""

    __slots__ = ("name", "value")
    kind = "constant"
    value: Array
    name: str | None

    def params(self) -> tuple[Any, ...]:
        return (self.name,)


@dataclass(frozen=True)
class _SeenArray:
    """A user array already wrapped as a constant: a weak reference to it and
    (weakly) the node made from it, whose value is a copy of its bytes then."""

    array: weakref.ref[Any]
    node: weakref.ref[Constant]
    name: str | None


_SEEN_ARRAYS: dict[int, _SeenArray] = {}


def _same_bits(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Bit-for-bit equality (so -0.0 differs from 0.0 and NaNs compare) of two
    arrays of one dtype and shape."""
    if a.dtype.kind == "f":
        as_int = np.dtype(f"i{a.dtype.itemsize}")
        return bool(np.array_equal(a.view(as_int), b.view(as_int)))
    return a.tobytes() == b.tobytes()


def _seen_constant(value: np.ndarray[Any, Any], name: str | None) -> Constant | None:
    """The node of an array wrapped before, if it still holds exactly the same
    bits (an array changed in place is wrapped anew, never served stale)."""
    seen = _SEEN_ARRAYS.get(id(value))
    if seen is None or seen.array() is not value or seen.name != name:
        return None
    node = seen.node()
    if node is None or node.value.dtype != value.dtype or node.shape != value.shape:
        return None
    return node if _same_bits(value, node.value) else None


def _remember(value: np.ndarray[Any, Any], node: Constant, name: str | None) -> None:
    key = id(value)

    def forget(_: object) -> None:
        _SEEN_ARRAYS.pop(key, None)

    try:
        ref = weakref.ref(value, forget)
    except TypeError:  # an array type without weak references: no shortcut
        return
    _SEEN_ARRAYS[key] = _SeenArray(ref, weakref.ref(node), name)


def constant(value: Any, name: str | None = None) -> Constant:
    """Wrap a number or array as a constant node (copied and made read-only).

    Constants are identified by their content.  Re-wrapping the same array
    object (as re-tracing a function with a closure array does) compares its
    bytes with those seen last time instead of hashing it again.
    """
    is_array = isinstance(value, np.ndarray) and value.dtype.kind in "fc"
    if is_array:
        seen = _seen_constant(value, name)
        if seen is not None:
            return seen
    arr = np.array(value, copy=True)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InvalidArgumentError(
            f"constants must be numeric arrays, got dtype {arr.dtype} ({type(value).__name__})"
        )
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    arr.setflags(write=False)
    digest = hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).hexdigest()
    node: Constant = _intern(
        Constant,
        (arr.shape, arr.dtype.str, digest, name),
        {"value": arr, "name": name, "shape": arr.shape, "dtype": arr.dtype},
    )
    if is_array and node.value.dtype == value.dtype:
        _remember(value, node, name)
    return node


class Zero(Expr):
    """The symbolic zero tensor."""

    __slots__ = ()
    kind = "zero"


def _filled(cls: type[Expr], shape: Iterable[int], dtype: Any) -> Any:
    """The unique all-zeros or all-ones node of a shape and dtype."""
    shp = _check_shape(shape, cls.kind)
    dt = np.dtype(dtype)
    return _intern(cls, (shp, dt.str), {"shape": shp, "dtype": dt})


def zeros(shape: Iterable[int], dtype: Any = np.float64) -> Zero:
    """The symbolic zero tensor of ``shape``."""
    node: Zero = _filled(Zero, shape, dtype)
    return node


class Ones(Expr):
    """The all-ones tensor (used to broadcast)."""

    __slots__ = ()
    kind = "ones"


def ones(shape: Iterable[int], dtype: Any = np.float64) -> Ones:
    """The all-ones tensor of ``shape``."""
    node: Ones = _filled(Ones, shape, dtype)
    return node


class Delta(Expr):
    """The Kronecker delta ``δ(i, j)``: the n×n identity, kept symbolic."""

    __slots__ = ()
    kind = "delta"


def delta(n: int, dtype: Any = np.float64) -> Delta:
    (size,) = _check_shape((n,), "delta")
    dt = np.dtype(dtype)
    node: Delta = _intern(Delta, (size, dt.str), {"shape": (size, size), "dtype": dt})
    return node


# =====================================================================================
# Einsum: every multilinear operation
# =====================================================================================


class Einsum(Expr):
    """``out[o] = Σ_{summed} Πₖ operands[k][indices[k]]`` in index notation.

    Index ids are small ints in canonical order: the output's are ``0..len(out)-1``
    (so ``out == (0, 1, ...)``), summed ones follow in order of first appearance.
    """

    __slots__ = ("indices", "operands", "out")
    kind = "einsum"
    operands: tuple[Expr, ...]
    indices: tuple[tuple[int, ...], ...]
    out: tuple[int, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def params(self) -> tuple[Any, ...]:
        return (self.indices, self.out)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return einsum_node(children, self.indices, self.out)

    def dims(self) -> dict[int, int]:
        """Size of every index id."""
        sizes: dict[int, int] = {}
        for op, idx in zip(self.operands, self.indices):
            sizes.update(zip(idx, op.shape))
        return sizes


def is_symmetric(node: Expr) -> bool:
    """Whether ``node`` is a square matrix known to equal its transpose: symmetric
    symbols, deltas, sums of symmetric matrices, operations that preserve
    symmetry (elementwise functions, inverses, ...) of symmetric matrices, and
    einsums that are their own transpose (``A @ A.T``)."""
    if node.ndim != 2 or node.shape[0] != node.shape[1]:
        return False
    cached = node._memo.get("symmetric")
    if cached is None:
        cached = _symmetric(node)
        node._memo["symmetric"] = cached
    return bool(cached)


def _symmetric(node: Expr) -> bool:
    if isinstance(node, Symbol):
        return node.symmetric
    if isinstance(node, (Delta, Zero, Ones)):
        return True
    if isinstance(node, Constant):
        return bool(np.array_equal(node.value, node.value.T))
    if isinstance(node, Add):
        return all(is_symmetric(t) for t in node.terms)
    if isinstance(node, Einsum):
        return einsum_node(node.operands, node.indices, node.out[::-1]) is node
    operands = node.symmetric_operands()
    return operands is not None and all(is_symmetric(o) for o in operands)


def einsum_node(
    operands: Sequence[Any], indices: Sequence[Sequence[Hashable]], out: Sequence[Hashable]
) -> Expr:
    """The einsum of ``operands`` labelled by ``indices`` (any hashable ids), giving
    the indices ``out``; checks that every index has one size; canonicalizes."""
    ops = [as_expr(o) for o in operands]
    idx = [tuple(i) for i in indices]
    out_t = tuple(out)
    raw_key = (tuple(o.uid for o in ops), tuple(idx), out_t)
    try:
        known = _EINSUMS_BUILT.get(raw_key)
    except TypeError:  # unhashable labels: the checks below say so
        known = None
    if known is not None:
        return known
    built = _build_einsum(ops, idx, out_t)
    _EINSUMS_BUILT[raw_key] = built
    return built


_EINSUMS_BUILT: weakref.WeakValueDictionary[tuple[Any, ...], Expr] = (
    weakref.WeakValueDictionary()
)
"""Einsums by their operands and labels as given, before canonicalization (uids
are never reused, so a key cannot alias), so that re-tracing is a lookup."""


def _build_einsum(ops: list[Expr], idx: list[tuple[Any, ...]], out_t: tuple[Any, ...]) -> Expr:
    if len(ops) != len(idx):
        raise InvalidArgumentError(f"einsum: {len(ops)} operands but {len(idx)} index lists")
    if not ops:
        raise InvalidArgumentError("einsum needs at least one operand")
    sizes: dict[Any, int] = {}
    first: dict[Any, int] = {}
    for k, (op, ix) in enumerate(zip(ops, idx)):
        if len(ix) != op.ndim:
            raise ShapeError(
                f"einsum: operand {k} has shape {op.shape} but {len(ix)} indices {ix}"
            )
        for label, dim in zip(ix, op.shape):
            if sizes.setdefault(label, dim) != dim:
                j = first[label]
                raise ShapeError(
                    f"einsum: index {label!r} has size {sizes[label]} in operand {j} (shape "
                    f"{ops[j].shape}) but {dim} in operand {k} (shape {op.shape})"
                )
            first.setdefault(label, k)
    if len(set(out_t)) != len(out_t):
        raise ShapeError(f"einsum: output indices {out_t} repeat an index (use a delta)")
    missing = [label for label in out_t if label not in sizes]
    if missing:
        raise ShapeError(f"einsum: output indices {missing} appear in no operand")
    shape = tuple(sizes[label] for label in out_t)
    dtype = _result_dtype(*(o.dtype for o in ops))

    # Zeros annihilate; scalar constants become coefficients.
    if any(isinstance(o, Zero) for o in ops):
        return zeros(shape, dtype)
    coeff: complex = 1
    keep = []
    for op, ix in zip(ops, idx):
        if isinstance(op, Constant) and op.shape == ():
            coeff *= op.value.item()
        elif isinstance(op, Ones) and not ix:
            continue
        else:
            keep.append((op, ix))
    if coeff != 1 or len(keep) != len(ops):
        if not keep:
            return constant(np.full((), coeff, dtype=dtype)) if not shape else _never()
        inner = einsum_node([o for o, _ in keep], [i for _, i in keep], out_t)
        return add([inner], [coeff])
    # A single operand with exactly the output's indices is the operand itself.
    if len(ops) == 1 and idx[0] == out_t:
        return ops[0]

    # Canonical form: sort operands, renumber ids (output first).
    out_pos = {label: p for p, label in enumerate(out_t)}
    counts: dict[Any, int] = {}
    for ix in idx:
        for label in ix:
            counts[label] = counts.get(label, 0) + 1

    symmetric = [len(ix) == 2 and ix[0] != ix[1] and is_symmetric(op) for op, ix in zip(ops, idx)]

    def key(item: tuple[Expr, tuple[Any, ...], bool]) -> tuple[Any, ...]:
        op, ix, sym = item
        pat = tuple((0, out_pos[i]) if i in out_pos else (1, counts[i]) for i in ix)
        return (op.uid, tuple(sorted(pat)) if sym else pat)

    triples = sorted(zip(ops, idx, symmetric), key=key)
    renum: dict[Any, int] = dict(out_pos)
    for _, ix, _ in triples:
        for label in ix:
            if label not in renum:
                renum[label] = len(renum)
    # a symmetric matrix operand reads the same either way round: orient it ascending
    new_idx = tuple(
        tuple(sorted(renum[i] for i in ix)) if sym else tuple(renum[i] for i in ix)
        for _, ix, sym in triples
    )
    pairs = [(op, ix) for op, ix, _ in triples]
    new_out = tuple(range(len(out_t)))
    new_ops = tuple(op for op, _ in pairs)
    node: Einsum = _intern(
        Einsum,
        (tuple(o.uid for o in new_ops), new_idx, new_out),
        {
            "operands": new_ops,
            "indices": new_idx,
            "out": new_out,
            "shape": shape,
            "dtype": dtype,
        },
    )
    return node


def _never() -> Expr:  # pragma: no cover - guarded by the caller's logic
    raise AssertionError("unreachable")


# =====================================================================================
# Linear combinations
# =====================================================================================


class Add(Expr):
    """``Σₖ coeffs[k] * terms[k]`` over same-shaped terms (at least two, or one with
    a coefficient other than 1)."""

    __slots__ = ("coeffs", "terms")
    kind = "add"
    terms: tuple[Expr, ...]
    coeffs: tuple[complex, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.terms

    def params(self) -> tuple[Any, ...]:
        return (self.coeffs,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return add(children, self.coeffs)


def _clean_number(c: complex) -> complex:
    """A coefficient as a plain Python number (NumPy scalars would change the
    promotion of float32 results), integral values as ints."""
    if isinstance(c, np.generic):
        c = c.item()
    if isinstance(c, complex) and c.imag == 0:
        c = c.real
    if isinstance(c, float) and c.is_integer() and abs(c) < 2**53:
        return int(c)
    return c


def _add_key(node: Add) -> tuple[tuple[int, ...], tuple[tuple[str, complex], ...]]:
    """The interning key of a sum: its terms' uids and its coefficients (memoized)."""
    key = node._memo.get("add_key")
    if key is None:
        key = (tuple(t.uid for t in node.terms), tuple((type(c).__name__, c) for c in node.coeffs))
        node._memo["add_key"] = key
    return key


def _add_one(total: Add, term: Expr) -> Expr | None:
    """``total + term`` for a new term, without walking the terms in Python: the
    step of Python's ``sum()`` over many terms (``sum(x[i] * x[i + 1] for i in
    ...)``), which would otherwise cost time quadratic in their number.  None
    when the general path must decide (a nested sum, a zero, a term already in
    ``total``, a shape or dtype change)."""
    if isinstance(term, (Add, Zero)) or term.shape != total.shape or term.dtype != total.dtype:
        return None
    uids, coeffs = _add_key(total)
    at = bisect.bisect_left(uids, term.uid)
    if at < len(uids) and uids[at] == term.uid:
        return None
    new_uids = (*uids[:at], term.uid, *uids[at:])
    new_coeffs = (*coeffs[:at], ("int", 1), *coeffs[at:])
    node: Add = _intern(
        Add,
        (new_uids, new_coeffs),
        {
            "terms": (*total.terms[:at], term, *total.terms[at:]),
            "coeffs": (*total.coeffs[:at], 1, *total.coeffs[at:]),
            "shape": total.shape,
            "dtype": total.dtype,
        },
    )
    node._memo.setdefault("add_key", (new_uids, new_coeffs))
    return node


def add(terms: Sequence[Any], coeffs: Sequence[complex] | None = None) -> Expr:
    """The linear combination ``Σ cₖ tₖ``; nested sums are flattened, equal terms
    merged, zero terms dropped.  All terms must have one shape."""
    if len(terms) == 2 and (coeffs is None or (coeffs[0] == 1 and coeffs[1] == 1)):
        first, second = terms
        if isinstance(first, Add) and isinstance(second, Expr):
            fast = _add_one(first, second)
        elif isinstance(second, Add) and isinstance(first, Expr):
            fast = _add_one(second, first)
        else:
            fast = None
        if fast is not None:
            return fast
    items = [as_expr(t) for t in terms]
    cs: list[complex] = [1] * len(items) if coeffs is None else [_clean_number(c) for c in coeffs]
    if len(cs) != len(items):
        raise InvalidArgumentError(f"add: {len(items)} terms but {len(cs)} coefficients")
    if not items:
        raise InvalidArgumentError("add needs at least one term")
    shape = items[0].shape
    for t in items[1:]:
        if t.shape != shape:
            raise ShapeError(f"cannot add shapes {shape} and {t.shape}")
    dtype = _result_dtype(*(t.dtype for t in items))
    if any(isinstance(c, complex) and c.imag != 0 for c in cs):
        dtype = np.dtype(np.result_type(dtype, np.complex64))
    merged: dict[int, list[Any]] = {}
    for t, c in zip(items, cs):
        if isinstance(t, Add):
            for sub, sc in zip(t.terms, t.coeffs):
                entry = merged.setdefault(sub.uid, [sub, 0])
                entry[1] += c * sc
        elif not isinstance(t, Zero) and c != 0:
            entry = merged.setdefault(t.uid, [t, 0])
            entry[1] += c
    kept = [(t, _clean_number(c)) for t, c in merged.values() if c != 0]
    if not kept:
        return zeros(shape, dtype)
    if len(kept) == 1 and kept[0][1] == 1:
        return kept[0][0]  # type: ignore[no-any-return]
    kept.sort(key=lambda p: p[0].uid)
    node: Add = _intern(
        Add,
        (tuple(t.uid for t, _ in kept), tuple((type(c).__name__, c) for _, c in kept)),
        {
            "terms": tuple(t for t, _ in kept),
            "coeffs": tuple(c for _, c in kept),
            "shape": shape,
            "dtype": dtype,
        },
    )
    return node


# =====================================================================================
# Conversions and the operations behind Python's operators
# =====================================================================================


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool) or isinstance(
        value, np.number
    )


CAPTURE: ContextVar[Callable[[Any], Expr | None] | None] = ContextVar(
    "matgrad_capture", default=None
)
"""Set by the function API while it traces: given an array met by :func:`as_expr`,
the expression standing for it (a captured input of the compiled plan), or None
to make it a constant as usual."""


def as_expr(value: Any) -> Expr:
    """An expression as is; a number or array as a :class:`Constant` (or, while the
    function API traces, a large array as the input it captures: ``CAPTURE``)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, np.ndarray):
        capture = CAPTURE.get()
        if capture is not None:
            captured = capture(value)
            if captured is not None:
                return captured
    if isinstance(value, (np.ndarray, np.generic, numbers.Number, list, tuple)):
        return constant(value)
    engine = type(value).__module__.partition(".")[0]
    hint = (
        f"; a {engine} array read by a traced function must be one of its arguments "
        "(mg.grad(f)(w, X, y), not a closure), and then runs on its engine"
        if engine in ("dask", "torch", "jax", "jaxlib", "cupy") else ""
    )
    raise UnsupportedOperationError(
        f"cannot use a {type(value).__name__} in a matgrad expression (expected an expression, "
        f"a number or a NumPy array){hint}"
    )
