"""The operation registry (layer 3): the table of declared operations.

A family module (:mod:`matgrad.ops.elementwise`, :mod:`matgrad.ops.linalg`,
:mod:`matgrad.ops.structure`) declares each of its operations once, with
:func:`declare`; that makes the public constructor (``mg.exp``), registers the
NumPy functions that build it (``np.exp`` on an expression), and lists it for
the formula language, the printers, the compiler, the spec table and the
fuzzer, which all read it from here.

>>> from matgrad.ops import registry
>>> registry.operation("exp").family
'elementwise'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.apply import Language, Operation, Signature
from matgrad.ir.node import FUNCTION_HANDLERS, UFUNC_HANDLERS, Expr

__all__ = [
    "LanguageEntry",
    "declare",
    "language_entries",
    "operation",
    "operations",
    "register_numpy",
    "withdraw",
]

_OPERATIONS: dict[str, Operation] = {}
_NUMPY_OF: dict[str, list[Callable[..., Any]]] = {}
_LANGUAGE: dict[str, LanguageEntry] = {}


class LanguageEntry:
    """A formula-language function: its names, description, signature and builder."""

    __slots__ = ("build", "language", "signature")

    def __init__(self, language: Language, build: Callable[..., Expr]) -> None:
        self.language = language
        self.signature = Signature.parse(language.signature)
        self.build = build


def declare(op: Operation) -> Callable[..., Expr]:
    """Add ``op`` to the registry; returns its public constructor (``op.name``),
    a function whose ``op`` attribute is the declaration."""
    if not isinstance(op, Operation):
        raise InvalidArgumentError(f"declare needs an Operation, got {type(op).__name__}")
    if op.name in _OPERATIONS:
        raise InvalidArgumentError(f"operation {op.name!r} is declared already")
    if not op.samples:
        raise InvalidArgumentError(f"operation {op.name!r} declares no test samples")
    if op.language is not None:
        taken = [n for n in op.language.names if n in _LANGUAGE]
        if taken:
            raise InvalidArgumentError(f"formula-language names {taken} are taken")
        Signature.parse(op.language.signature)  # fails early on a bad signature
    _OPERATIONS[op.name] = op
    for func, handler in op.numpy_functions:
        register_numpy(func, op if handler is None else handler)
        _NUMPY_OF.setdefault(op.name, []).append(func)
    if op.language is not None:
        entry = LanguageEntry(op.language, op)
        for name in op.language.names:
            _LANGUAGE[name] = entry
    return _constructor(op)


def _constructor(op: Operation) -> Callable[..., Expr]:
    def build(*args: Any, **attrs: Any) -> Expr:
        return op(*args, **attrs)

    build.__name__ = build.__qualname__ = op.name
    build.__module__ = f"matgrad.ops.{op.family}"
    operands = ["x", "..."] if op.arity is None else ["x", "y", "z"][: op.arity]
    signature = ", ".join(operands + list(op.attrs))
    build.__doc__ = f"``{op.name}({signature})``: {op.doc}"
    build.op = op  # type: ignore[attr-defined]
    return build


def register_numpy(func: Callable[..., Any], handler: Callable[..., Any]) -> None:
    """Make the NumPy (or SciPy) function or ufunc ``func`` build ``handler(*args)``
    when applied to expressions."""
    if isinstance(func, np.ufunc):
        UFUNC_HANDLERS[func] = handler
    else:
        FUNCTION_HANDLERS[func] = handler


def language_function(language: Language, build: Callable[..., Expr]) -> None:
    """A formula-language function that builds a composite (no operation of its own)."""
    entry = LanguageEntry(language, build)
    for name in language.names:
        if name in _LANGUAGE:
            raise InvalidArgumentError(f"formula-language name {name!r} is taken")
        _LANGUAGE[name] = entry


def withdraw(name: str) -> None:
    """Remove a declared operation again (for tests that declare one of their own)."""
    op = _OPERATIONS.pop(name)
    for func in _NUMPY_OF.pop(name, []):
        UFUNC_HANDLERS.pop(func, None)  # type: ignore[call-overload]
        FUNCTION_HANDLERS.pop(func, None)
    if op.language is not None:
        for lang_name in op.language.names:
            _LANGUAGE.pop(lang_name, None)


def operation(name: str) -> Operation:
    """The declared operation ``name``."""
    try:
        return _OPERATIONS[name]
    except KeyError:
        raise UnsupportedOperationError(
            f"no operation named {name!r}; declared: {', '.join(sorted(_OPERATIONS))}"
        ) from None


def operations(family: str | None = None) -> tuple[Operation, ...]:
    """All declared operations (of one family), in declaration order."""
    return tuple(op for op in _OPERATIONS.values() if family is None or op.family == family)


def language_entries() -> dict[str, LanguageEntry]:
    """Formula-language name → entry, for every declared name."""
    return dict(_LANGUAGE)


def numpy_names(op: Operation) -> Iterator[str]:
    """The dotted names of the NumPy/SciPy functions that build ``op``."""
    for func, _ in op.numpy_functions:
        module = getattr(func, "__module__", None) or "numpy"
        module = module.replace("numpy.linalg._linalg", "numpy.linalg")
        if module.startswith("numpy.") and module.count(".") > 1:
            module = "numpy"
        yield f"{module}.{getattr(func, '__name__', '?')}"
