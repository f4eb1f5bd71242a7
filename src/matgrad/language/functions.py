"""The functions of the formula language (layer 4): the core's table, the
operation registry's functions, and the declared operations the printers write
as calls (``name(x, attr=value)``) or comparisons (``(a > b)``), which the parser
reads back although the language has no function of that name.  Read live from
the registry, so that an operation declared at run time is known at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from matgrad.ir.apply import Operation
from matgrad.ops import registry
from matgrad.ops.registry import LanguageEntry

__all__ = [
    "ARITY",
    "CORE",
    "FUNCTIONS",
    "KEYWORDS",
    "FunctionTable",
    "arity",
    "call_form",
    "call_operation",
    "operation_of",
    "subscript_operation",
    "comparisons",
    "entries",
    "functions",
    "keywords",
]

CORE: dict[str, str] = {
    "tr": "trace of a square matrix (also trace)",
    "trace": "trace of a square matrix",
    "sum": "sum of all entries; sum(X, axis=k) sums over axis k",
    "mean": "mean of all entries; mean(X, axis=k) over axis k",
    "diag": "diagonal of a square matrix, or diagonal matrix of a vector",
    "outer": "outer product of two vectors",
    "kron": "Kronecker product of two matrices (also A ⊗ B)",
    "hadamard": "entrywise product (also A .* B and A ⊙ B)",
    "matmul": "matrix product (also A @ B)",
    "dot": "matrix product, or scaling when an operand is a scalar",
    "transpose": "transpose (also X' and X.T)",
    "matrix_power": "matrix_power(X, k): X multiplied by itself k times (k < 0: of inv(X))",
    "solve": "solve(A, B) = inv(A) * B",
    "einsum": 'einsum("ij,jk->ik", A, B): any multilinear product',
    "ones": "ones(n) or ones((m, n)): all-ones vector or matrix",
    "zeros": "zeros(n) or zeros((m, n))",
    "eye": "eye(n): the n×n identity (I is the identity of the size that fits)",
    "array": "array([[1, 2], [3, 4]]): a constant",
}
"""The functions of the algebraic core, with a one-line description each.  The
other functions of the language are the operation registry's
(:func:`matgrad.ops.registry.language_entries`): see :func:`entries`."""

ARITY: dict[str, tuple[int, int]] = {
    "sum": (1, 2), "mean": (1, 2), "outer": (2, 2), "kron": (2, 2), "hadamard": (2, 2),
    "matmul": (2, 2), "dot": (2, 2), "matrix_power": (2, 2), "solve": (2, 2),
    "einsum": (2, 64),
}
"""(fewest, most) arguments of the core functions that do not take exactly one; a
registry function takes one argument per parameter of its signature."""

KEYWORDS: dict[str, tuple[str, ...]] = {"sum": ("axis",), "mean": ("axis",)}
"""The keyword arguments of the core functions (registry functions take none)."""


def entries() -> dict[str, LanguageEntry]:
    """The registry's functions of the language, name → entry, read now (so that
    an operation declared after import counts); a core name is never one of them."""
    return {n: e for n, e in registry.language_entries().items() if n not in CORE}


def arity(name: str, entry: LanguageEntry | None = None) -> tuple[int, int]:
    """(fewest, most) arguments of the function ``name``."""
    if name in CORE:
        return ARITY.get(name, (1, 1))
    if entry is None:
        entry = entries()[name]
    count = len(entry.signature.params)
    return count, count


def functions() -> dict[str, str]:
    """Every function of the language, name → one-line description: the core's
    (:data:`CORE`), then the operation registry's, read now.

    >>> functions()["tr"]
    'trace of a square matrix (also trace)'
    >>> all(name in functions() for name in entries())   # the registry's, too
    True
    """
    table = dict(CORE)
    table.update((n, e.language.description) for n, e in entries().items())
    return table


class FunctionTable(Mapping[str, str]):
    """:func:`functions` as a mapping that reads the registry at each use (never
    cached, so an operation declared at run time is a function at once)."""

    def _table(self) -> dict[str, str]:
        return functions()

    def __getitem__(self, name: str) -> str:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __contains__(self, name: object) -> bool:
        return name in CORE or name in registry.language_entries()

    def __repr__(self) -> str:
        return f"FunctionTable({self._table()!r})"


FUNCTIONS: Mapping[str, str] = FunctionTable()
"""The functions of the language, with a one-line description each (read live from
the core table and the operation registry)."""


def call_operation(name: str, keys: Iterable[str] = (), *, exact: bool = False) -> Operation | None:
    """The declared operation the printers write as the call ``name(...)`` with the
    keyword arguments ``keys``: an operation without a template prints as
    ``name(x, attr=value)``; a template may also be such a call, with operands by
    keyword (``logsumexp({0}, b={1}, axis={axis})``).  The formula language reads
    these back even where it has no function of that name.  ``exact``: ``keys``
    are all the keywords of the call (every attribute and keyword operand)."""
    wanted = set(keys)
    for op in _operations().values():
        form = call_form(op)
        if form is None or form[0] != name:
            continue
        known = set(op.attrs) | set(form[1])
        if wanted == known or (not exact and wanted <= known):
            return op
    return None


def operation_of(call: Any) -> Operation | None:
    """The operation a call of the syntax tree (``name``, ``kwargs``) is read as."""
    return call_operation(call.name, [k for k, _ in call.kwargs], exact=True)


def subscript_operation() -> tuple[str, str] | None:
    """(name, key attribute) of the declared operation printed ``{0:atom}[{key}]``."""
    for op in registry.operations():
        match = _SUBSCRIPT.fullmatch(op.notation.text or "")
        if match and op.arity == 1 and op.attrs == (match.group(1),):
            return op.name, match.group(1)
    return None


def call_form(op: Operation) -> tuple[str, dict[str, int]] | None:
    """How ``op`` prints, when as a call: the function name and its operands given by
    keyword (keyword → operand index); ``None`` for any other notation."""
    text = op.notation.text
    if text is None:
        return op.name, {}
    if _COMPARISON.fullmatch(text) or _SUBSCRIPT.fullmatch(text):
        return op.name, {}
    match = _CALL.fullmatch(text)
    if match is None:
        return None
    by_key: dict[str, int] = {}
    attrs = set()
    inside = match.group(2)
    if inside.startswith(_LISTED) and op.arity is None:  # f([{args:, }], axis={axis})
        inside = inside[len(_LISTED) :].removeprefix(", ")
    parts = inside.split(", ") if inside else []
    for k, part in enumerate(parts):
        item = _PART.fullmatch(part)
        if item is None:
            return None
        key, slot = item.group(1), item.group(2)
        if slot.isdigit():
            if (key is None) != (int(slot) == k) and key is None:
                return None  # operands in order, then by keyword
            if key is not None:
                by_key[key] = int(slot)
        elif key != slot:
            return None
        else:
            attrs.add(slot)
    return (match.group(1), by_key) if attrs == set(op.attrs) else None


_LISTED = "[{args:, }]"
"""All operands of a variadic operation as a list (the first argument)."""
_SUBSCRIPT = re.compile(r"\{0:atom\}\[\{(\w+)\}\]")
_CALL = re.compile(r"(\w+)\((.*)\)")
_PART = re.compile(r"(?:(\w+)=)?\{(\w+)\}")


def _operations() -> dict[str, Operation]:
    return {op.name: op for op in registry.operations()}


_COMPARISON = re.compile(r"\(\{0\} (\S+) \{1\}\)")


def comparisons() -> dict[str, str]:
    """Operator → name of the declared operations printed ``({0} > {1})``."""
    found = {}
    for op in registry.operations():
        match = _COMPARISON.fullmatch(op.notation.text or "")
        if match and op.arity == 2 and not op.attrs:
            found[match.group(1)] = op.name
    return found


def keywords(name: str, entry: LanguageEntry | None) -> tuple[str, ...]:
    """The keyword arguments of the function ``name``: the core's, or the names of a
    registry function's constant parameters."""
    if entry is None:
        return KEYWORDS.get(name, ())
    return tuple(p.name for p in entry.signature.params if p.name and p.kind != "array")
