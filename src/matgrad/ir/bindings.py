"""Validation of the values bound to an expression's symbols (layer 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.errors import BindingError
from matgrad.ir.expr import Symbol

__all__ = ["check_bindings", "check_value"]


def check_bindings(expr_symbols: Sequence[Symbol], bindings: dict[str, Any]) -> dict[str, Array]:
    """Validate values bound by name to ``expr_symbols``: none missing, none extra,
    shapes equal, symmetric symbols bound to symmetric matrices."""
    by_name: dict[str, Symbol] = {}
    for sym in expr_symbols:
        other = by_name.setdefault(sym.name, sym)
        if other is not sym:
            raise BindingError(
                f"two different symbols are named {sym.name!r} (shapes {other.shape} and "
                f"{sym.shape}, symmetric {other.symmetric} and {sym.symmetric}); values are bound "
                "by name, so give them different names"
            )
    missing = sorted(set(by_name) - set(bindings))
    extra = sorted(set(bindings) - set(by_name))
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing values for " + ", ".join(missing))
        if extra:
            parts.append("values for unknown symbols " + ", ".join(extra))
        raise BindingError("; ".join(parts) + f" (the expression's symbols: {sorted(by_name)})")
    values: dict[str, Array] = {}
    for name, sym in by_name.items():
        values[name] = check_value(sym, bindings[name])
    return values


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
