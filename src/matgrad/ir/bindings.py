"""Validation of the values bound to an expression's symbols, and the record of
what each derived expression was derived from (layer 2).

**Provenance.**  A derivative, a Taylor polynomial or a simplified expression
may no longer contain a symbol of the computation it came from
(``derivative(A @ x, A)`` does not depend on ``A``), yet evaluating it "at a
point" names that symbol too.  The operations that derive expressions
(:mod:`matgrad.calculus`) record, with :func:`record_derivation`, the symbols
each result was derived from; binding validation accepts values for those
symbols (checked against their shapes) and ignores them.  A name that was never
a symbol of the computation is still an error.  Nodes are hash-consed, so the
record of a node is the union over every derivation that produced it; a record
lives as long as its node.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.errors import BindingError, elide
from matgrad.ir.expr import Expr, Symbol
from matgrad.ir.node import HOOKS

__all__ = [
    "check_bindings",
    "check_value",
    "derived_symbols",
    "expression_bindings",
    "record_derivation",
]

_DERIVED: dict[int, frozenset[Symbol]] = {}
"""node uid → the symbols the node was derived from (beyond its own); an entry
goes when its node does (uids are never reused)."""
_version = [0]
"""Bumped on every new record (so cached lookups know when to look again)."""


def record_derivation(
    result: Expr, sources: Iterable[Expr] = (), symbols: Iterable[Symbol] = ()
) -> Expr:
    """Record that ``result`` was derived from the expressions ``sources`` (their
    symbols and what they were derived from) and from ``symbols``; returns
    ``result``.

    >>> import matgrad as mg
    >>> A = mg.Matrix("A", (2, 2)); x = mg.Vector("x", 2)
    >>> [s.name for s in derived_symbols(mg.derivative(A @ x, A))]
    ['A']
    """
    found: set[Symbol] = set(symbols)
    for source in sources:
        found.update(source.symbols())
        found.update(derived_symbols(source))
    own = set(result.symbols())
    new = frozenset(found - own)
    if not new:
        return result
    old = _DERIVED.get(result.uid)
    if old is None:
        weakref.finalize(result, _DERIVED.pop, result.uid, None)
        old = frozenset()
    if not new <= old:
        _DERIVED[result.uid] = old | new
        _version[0] += 1
    return result


def derived_symbols(expr: Expr | Sequence[Expr]) -> tuple[Symbol, ...]:
    """The symbols ``expr`` (or any of several expressions) was derived from but
    does not contain, sorted by name: the record of ``expr`` itself and of each of
    its operations (an expression built from a derivative was derived from what
    the derivative was); the records of shared leaves (zeros, constants) inside a
    larger expression are not consulted."""
    roots = (expr,) if isinstance(expr, Expr) else tuple(expr)
    found: set[Symbol] = set()
    own: set[Symbol] = set()
    for root in roots:
        cached = root._memo.get("derived")
        if cached is None or cached[0] != _version[0]:
            cached = (_version[0], _collect(root))
            root._memo["derived"] = cached
        found.update(cached[1])
        own.update(root.symbols())
    return tuple(sorted(found - own, key=lambda s: (s.name, s.uid)))


def _collect(root: Expr) -> frozenset[Symbol]:
    if not _DERIVED:
        return frozenset()
    found: set[Symbol] = set(_DERIVED.get(root.uid, ()))
    for node in root.walk():
        if node.children:
            found.update(_DERIVED.get(node.uid, ()))
    return frozenset(found)


def check_bindings(
    expr_symbols: Sequence[Symbol],
    bindings: Mapping[str, Any],
    *,
    derived_from: Sequence[Symbol] = (),
) -> dict[str, Array]:
    """Validate values bound by name to ``expr_symbols``: none missing, none extra,
    shapes equal, symmetric symbols bound to symmetric matrices.  Values for the
    symbols ``derived_from`` (what the expression was derived from, see
    :func:`derived_symbols`) are checked the same way and left out of the result."""
    by_name = _by_name(expr_symbols)
    accepted = {s.name: s for s in derived_from if s.name not in by_name}
    missing = sorted(set(by_name) - set(bindings))
    extra = sorted(set(bindings) - set(by_name) - set(accepted))
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing values for " + elide(", ".join(missing)))
        if extra:
            parts.append("values for unknown symbols " + elide(", ".join(extra)))
        raise BindingError("; ".join(parts) + f" ({_known(by_name, accepted)})")
    for name, sym in accepted.items():
        if name in bindings:
            check_value(sym, bindings[name])
    return {name: check_value(sym, bindings[name]) for name, sym in by_name.items()}


def expression_bindings(expr: Expr, bindings: Mapping[str, Any]) -> dict[str, Array]:
    """:func:`check_bindings` for the symbols of ``expr``, accepting values for the
    symbols it was derived from.

    >>> import numpy as np, matgrad as mg
    >>> A = mg.Matrix("A", (2, 2)); x = mg.Vector("x", 2)
    >>> sorted(expression_bindings(mg.derivative(A @ x, A), {"A": np.eye(2), "x": np.ones(2)}))
    ['x']
    """
    extra = [name for name in bindings if not any(s.name == name for s in expr.symbols())]
    derived = derived_symbols(expr) if extra else ()
    return check_bindings(expr.symbols(), bindings, derived_from=derived)


def _by_name(symbols: Iterable[Symbol]) -> dict[str, Symbol]:
    by_name: dict[str, Symbol] = {}
    for sym in symbols:
        other = by_name.setdefault(sym.name, sym)
        if other is not sym:
            raise BindingError(
                f"two different symbols are named {sym.name!r} (shapes {other.shape} and "
                f"{sym.shape}, symmetric {other.symmetric} and {sym.symmetric}); values are bound "
                "by name, so give them different names"
            )
    return by_name


def _known(by_name: Mapping[str, Symbol], accepted: Mapping[str, Symbol]) -> str:
    text = f"the expression's symbols: {elide(str(sorted(by_name)))}"
    if accepted:
        text += f"; it was also derived from {elide(str(sorted(accepted)))}"
    return text


def check_value(sym: Symbol, value: Any) -> Array:
    """One binding checked against its symbol's shape and properties."""
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise BindingError(f"value for {sym.name!r} is not an array: {exc}") from exc
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise BindingError(f"value for {sym.name!r} must be numeric, got dtype {arr.dtype}")
    if arr.shape != sym.shape:
        raise BindingError(
            f"value for {sym.name!r} has shape {arr.shape}, expected {sym.shape}"
        )
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        arr = arr.astype(sym.dtype)
    if sym.symmetric and not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12):
        raise BindingError(f"{sym.name!r} is declared symmetric but its value is not symmetric")
    return arr


HOOKS["provenance"] = lambda result, sources: record_derivation(result, sources)
