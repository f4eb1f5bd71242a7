"""Machine verification of catalogue entries, three ways (layer 4).

For each instance of an identity (a set of sizes and random valid values):

1. the **closed form** is compared with matgrad's **symbolic derivative**
   ``derivative(f, wrt, order)``, both evaluated;
2. both are compared with **numerical differentiation** (Richardson
   extrapolation, :mod:`matgrad.numeric`, which knows nothing of the symbolic
   layers): the numerical Jacobian of the evaluated function for first order;
   for second order the numerical Hessian of a scalar function, or the
   numerical Jacobian of the evaluated symbolic first derivative otherwise.

A symmetric variable varies over symmetric matrices only: the numerical witness
differentiates ``M ↦ f((M + Mᵀ)/2)``, whose gradient at a symmetric point is the
symmetric gradient ``(G + Gᵀ)/2`` of DESIGN.md §1.

The error of a comparison is ``max|a − b| / max(1, max|a|, max|b|)``: relative
for large entries, absolute for small ones.

If matgrad's symbolic derivative cannot be derived, compiled or evaluated at a
valid instance (say ``LinAlgError: Singular matrix``), that is a failure of the
check, recorded in :attr:`Check.error` with infinite errors, not an exception:
the instance is valid, so it is matgrad that fails (an entry's ``core_gap`` may
expect exactly that).  Errors of the identity itself (sizes it is not stated
for, a function or closed form that cannot be evaluated) are still raised.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad import numeric
from matgrad.calculus.diff import derivative
from matgrad.compiler import Compiled
from matgrad.compiler import compile as compile_expr
from matgrad.errors import MatgradError, elide
from matgrad.identities._record import Identity, Instance, describe_sizes, draw_value
from matgrad.ir.expr import Expr

__all__ = [
    "NUMERIC_TOLERANCE",
    "SYMBOLIC_TOLERANCE",
    "Check",
    "Verification",
    "derive_and_compile_seconds",
    "median_derive_and_compile_seconds",
    "relative_error",
    "resample",
    "verify",
]

SYMBOLIC_TOLERANCE = 1e-9
"""Largest error allowed between the closed form and the symbolic derivative."""
NUMERIC_TOLERANCE = 1e-6
"""Largest error allowed between either and numerical differentiation."""

_DERIVATIVE_ERRORS = (MatgradError, ArithmeticError, ValueError)  # LinAlgError is a ValueError


def relative_error(a: Any, b: Any) -> float:
    """``max|a − b| / max(1, max|a|, max|b|)``; ``inf`` for shapes that differ or
    non-finite values.

    >>> relative_error([1.0, 2.0], [1.0, 2.0 + 1e-12]) < 1e-11
    True
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("inf")
    if x.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    return float(np.max(np.abs(x - y))) / scale


@dataclass(frozen=True)
class Check:
    """One verified sample: the three pairwise errors at one set of sizes.

    ``error`` names what matgrad's symbolic derivative raised at this sample
    (``"LinAlgError: Singular matrix"``), ``""`` if nothing; the errors that need
    its values are then ``inf`` and the check fails.
    """

    sizes: tuple[tuple[str, int], ...]
    sample: int
    closed_vs_symbolic: float
    closed_vs_numeric: float
    symbolic_vs_numeric: float
    error: str = ""

    @property
    def symbolic_ok(self) -> bool:
        return not self.error and self.closed_vs_symbolic <= SYMBOLIC_TOLERANCE

    @property
    def numeric_ok(self) -> bool:
        return max(self.closed_vs_numeric, self.symbolic_vs_numeric) <= NUMERIC_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.symbolic_ok and self.numeric_ok


@dataclass(frozen=True)
class Verification:
    """The checks of one identity, with a one-line summary."""

    identity: Identity
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def max_error(self) -> float:
        """The largest of all errors of all checks."""
        return max(
            (max(c.closed_vs_symbolic, c.closed_vs_numeric, c.symbolic_vs_numeric)
             for c in self.checks),
            default=float("inf"),
        )

    def failures(self) -> list[str]:
        """A line per failed check, naming the sizes, the sample and the errors."""
        out = []
        for c in self.checks:
            if not c.passed:
                where = f"{self.identity.name} at {describe_sizes(c.sizes)}, sample {c.sample}: "
                if c.error:
                    where += f"matgrad's derivative raised {c.error}; "
                out.append(
                    f"{where}closed vs symbolic {c.closed_vs_symbolic:.2e}, closed vs numeric "
                    f"{c.closed_vs_numeric:.2e}, symbolic vs numeric {c.symbolic_vs_numeric:.2e}"
                )
        return out


def resample(instance: Instance, rng: np.random.Generator) -> Instance:
    """The same instance (same expressions) with new random values."""
    ident = instance.identity
    values = {
        spec.name: draw_value(
            ident.conditions_on(spec.name), instance.symbols[spec.name].shape, rng
        )
        for spec in ident.symbols
    }
    return dataclasses.replace(instance, values=values)


def _symmetrize(m: np.ndarray) -> np.ndarray:
    out: np.ndarray = (m + m.T) / 2
    return out


def _needs_first(instance: Instance) -> bool:
    """Whether the numerical witness differentiates matgrad's first derivative."""
    return instance.order == 2 and instance.function.ndim > 0


def _numeric(
    instance: Instance, f: Compiled, first: Compiled | None
) -> np.ndarray:
    """The numerical derivative of order ``instance.order`` of the function
    (of ``first``, matgrad's first derivative, when :func:`_needs_first`)."""
    wrt = instance.wrt
    values = dict(instance.values)
    point = np.array(values[wrt.name], dtype=np.float64)
    project: Callable[[np.ndarray], np.ndarray] = _symmetrize if wrt.symmetric else np.asarray

    def at(compiled: Compiled) -> Callable[[np.ndarray], np.ndarray]:
        def call(m: np.ndarray) -> np.ndarray:
            values[wrt.name] = project(m)
            return compiled(**values)

        return call

    if instance.order == 1:
        return np.asarray(numeric.jacobian(at(f), point, method="richardson"))
    if instance.function.ndim == 0:
        return np.asarray(numeric.hessian(at(f), point, method="richardson"))
    assert first is not None
    return np.asarray(numeric.jacobian(at(first), point, method="richardson"))


def verify(
    identity: Identity,
    sizes: Iterable[Mapping[str, int]] | None = None,
    *,
    samples: int = 3,
    seed: int = 0,
) -> Verification:
    """Verify ``identity`` at each of ``sizes`` (default: its test sizes) with
    ``samples`` random valid inputs each.

    >>> from matgrad import identities
    >>> result = verify(identities.get("trace-AXB"), samples=1)
    >>> result.passed, len(result.checks)
    (True, 2)
    """
    size_sets = identity.test_sizes() if sizes is None else tuple(dict(s) for s in sizes)
    checks: list[Check] = []
    for k, chosen in enumerate(size_sets):
        rng = np.random.default_rng([seed, k])
        instance = identity.instantiate(chosen, rng)
        syms = instance.symbol_list()
        f = compile_expr(instance.function, syms)
        closed = compile_expr(instance.closed_form, syms)
        df: Compiled | None = None
        first: Compiled | None = None
        failed = ""  # what deriving or compiling matgrad's derivatives raised
        try:
            df = compile_expr(derivative(instance.function, instance.wrt, instance.order), syms)
            if _needs_first(instance):
                first = compile_expr(derivative(instance.function, instance.wrt), syms)
        except _DERIVATIVE_ERRORS as err:
            failed = _describe(err)
        key = tuple(sorted(instance.sizes.items(), key=lambda p: identity.dims.index(p[0])))
        for sample in range(samples):
            if sample:
                instance = resample(instance, rng)
            values = dict(instance.values)
            c = np.asarray(closed(**values))
            error = failed
            s: np.ndarray | None = None
            num: np.ndarray | None = None
            if df is not None:
                try:
                    s = np.asarray(df(**values))
                    if first is not None:  # the witness evaluates matgrad's first derivative
                        num = _numeric(instance, f, first)
                except _DERIVATIVE_ERRORS as err:
                    error = _describe(err)
            if not _needs_first(instance):  # the witness evaluates f only: errors propagate
                num = _numeric(instance, f, None)
            checks.append(
                Check(
                    sizes=key,
                    sample=sample,
                    closed_vs_symbolic=_error_or_inf(c, s),
                    closed_vs_numeric=_error_or_inf(c, num),
                    symbolic_vs_numeric=_error_or_inf(s, num),
                    error=error,
                )
            )
    return Verification(identity, tuple(checks))


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {elide(str(err))}"


def _error_or_inf(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """:func:`relative_error`, or ``inf`` when a value is missing."""
    return float("inf") if a is None or b is None else relative_error(a, b)


def derive_and_compile_seconds(
    identity: Identity, sizes: Mapping[str, int] | None = None
) -> float:
    """Wall-clock seconds to derive (``derivative``, which simplifies) and compile
    the identity's symbolic derivative at ``sizes`` (default: its first test sizes)."""
    instance = identity.instantiate(sizes, 0)
    syms = instance.symbol_list()
    start = time.perf_counter()
    expr: Expr = derivative(instance.function, instance.wrt, instance.order)
    compile_expr(expr, syms)
    return time.perf_counter() - start


def median_derive_and_compile_seconds(identities: Iterable[Identity]) -> float:
    """The median of :func:`derive_and_compile_seconds` over ``identities``."""
    return statistics.median(derive_and_compile_seconds(i) for i in identities)
