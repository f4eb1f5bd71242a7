"""Tracing a Python function on symbols, with large captured arrays as inputs (layer 6).

A traced function is called with symbols standing for its arguments.  An array
it reads from its closure or globals meets the expression through ``as_expr``:
a float or complex ``ndarray`` of at least :data:`CAPTURE_THRESHOLD` entries
(:data:`RETRACED_CAPTURE_THRESHOLD` for a function traced on every call) is
*captured* — it becomes a symbol (``captured0``, ``captured1``, ... in the order
the trace meets them) that is an extra input of the compiled plan, and the
array object itself is passed to the plan at call time: never copied, never
hashed, never compared, so an array changed in place is read as it is now.
Smaller arrays, and integer or boolean ones (indices, masks), stay constants:
their values still serve folding and symmetry detection.

Naming captured symbols by capture order makes a re-trace of the same function
on same-shaped data build the same (hash-consed) expression, so the compiled
derivative cached for it is found again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.expr import CAPTURE, Expr, Symbol, as_expr, symbol

__all__ = [
    "CAPTURE_THRESHOLD",
    "PLAIN_DTYPES",
    "RETRACED_CAPTURE_THRESHOLD",
    "Traced",
    "as_array",
    "cached_symbol",
]

CAPTURE_THRESHOLD = 2**18
"""Entries (2¹⁸, 2 MiB of float64) from which a float or complex array met while
tracing a function whose trace can be reused (:mod:`~matgrad.function_api.guards`)
is captured as a plan input instead of becoming a constant.

A constant keeps value-dependent simplification (folding, symmetry detection)
and lets the trace be reused, its guard comparing the array bit for bit with a
snapshot on each call (about 0.6 ns an entry); a captured array is free per
entry, but a trace that captured one is never reused, so each call re-traces
(about 150 µs for a logistic loss).  The two costs meet between 2·10⁵ and
5·10⁵ entries (``python -m benchmarks.captured --threshold``)."""

RETRACED_CAPTURE_THRESHOLD = 2**12
"""Entries (4096) from which arrays are captured while tracing a function that is
traced on every call anyway (it reads something no guard covers, a large array
say): there a constant is only a cost, a
comparison with the last trace's copy, or a copy and a hash of an array computed
afresh by each trace (``-y`` of a captured ``y``)."""

PLAIN_DTYPES = frozenset(
    np.dtype(t) for t in (np.float64, np.float32, np.complex128, np.complex64)
)
"""The dtypes of arrays that are captured (and of arguments traced as they are)."""
_PLAIN = PLAIN_DTYPES


def as_array(value: Any, position: int) -> Array:
    """An argument as the array it is traced as (integers and booleans as float64)."""
    if type(value) is np.ndarray and value.dtype in _PLAIN:
        return value
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InvalidArgumentError(
            f"argument {position} must be numeric to be traced, got dtype {arr.dtype}"
        )
    if not np.issubdtype(arr.dtype, np.inexact):
        arr = arr.astype(np.float64)
    return arr


_SYMBOLS: dict[tuple[str, Any, Any], Symbol] = {}


def cached_symbol(name: str, shape: tuple[int, ...], dtype: Any) -> Symbol:
    """The symbol standing for an argument (kept, so tracing does not rebuild it)."""
    key = (name, shape, dtype)
    sym = _SYMBOLS.get(key)
    if sym is None:
        sym = symbol(name, shape, dtype=dtype)
        if len(_SYMBOLS) < 4096:
            _SYMBOLS[key] = sym
    return sym


class _Capture:
    """The arrays one trace captures: ``id`` → symbol, and the arrays themselves
    (kept, so that no id is reused while the trace runs)."""

    __slots__ = ("arrays", "by_id", "symbols", "threshold")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.arrays: list[Array] = []
        self.symbols: list[Symbol] = []
        self.by_id: dict[int, Symbol] = {}

    def __call__(self, value: Any) -> Expr | None:
        if type(value) is not np.ndarray or value.size < self.threshold:
            return None
        if value.dtype not in _PLAIN:
            return None
        sym = self.by_id.get(id(value))
        if sym is None:
            sym = cached_symbol(f"captured{len(self.arrays)}", value.shape, value.dtype)
            self.by_id[id(value)] = sym
            self.arrays.append(value)
            self.symbols.append(sym)
        return sym


class Traced:
    """One trace: the argument symbols, the captured symbols and arrays, the output."""

    __slots__ = ("captured", "captured_symbols", "out", "symbols")

    def __init__(
        self, fun: Callable[..., Any], values: Sequence[Array], what: str, reusable: bool = False
    ) -> None:
        """Trace ``fun`` on symbols of the shapes and dtypes of ``values``;
        ``reusable`` when the trace may be reused (its guards were built)."""
        self.symbols = [cached_symbol(f"arg{k}", v.shape, v.dtype) for k, v in enumerate(values)]
        capture = _Capture(CAPTURE_THRESHOLD if reusable else RETRACED_CAPTURE_THRESHOLD)
        token = CAPTURE.set(capture)
        try:
            out = fun(*self.symbols)
            out_expr = out if isinstance(out, Expr) else _output(out, what)
        except UnsupportedOperationError as exc:
            name = getattr(fun, "__name__", None) or type(fun).__name__
            raise type(exc)(f"{what} traced {name}, which failed: {exc}") from exc
        finally:
            CAPTURE.reset(token)
        self.out: Expr = out_expr
        self.captured: tuple[Array, ...] = tuple(capture.arrays)
        self.captured_symbols: tuple[Symbol, ...] = tuple(capture.symbols)

    @property
    def inputs(self) -> list[Symbol]:
        """The compiled plan's inputs: the arguments' symbols, then the captured ones."""
        return [*self.symbols, *self.captured_symbols]


def _output(out: Any, what: str) -> Expr:
    try:
        return as_expr(out)
    except TypeError:
        raise InvalidArgumentError(
            f"{what}: the function must return an array or a matgrad expression, "
            f"got {type(out).__name__}"
        ) from None
