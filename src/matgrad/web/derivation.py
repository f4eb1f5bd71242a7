"""A formula, its variable and its derivative, checked (layer 7): the pieces that the
``matgrad`` command and the web page share.

:func:`problem` parses a formula with the given shapes and flags and finds the
variable; :func:`run_check` compares a derivative with Richardson-extrapolated
numerical differentiation at random valid inputs and keeps those inputs, so that
the caller can evaluate the derivative there too (the page's heatmap).  The
command line (``matgrad derive``/``check``) and ``matgrad serve`` word their
problems with their own names for the options (:class:`Labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matgrad.errors import MatgradError, NonFiniteError
from matgrad.ir.expr import Expr, Symbol
from matgrad.language.claims import numeric_check, random_values
from matgrad.language.parse import Parsed, parse_expression, symbol_names
from matgrad.testing import DerivativeReport

MAX_CHECKED = 2500
"""Entries of the variable beyond which the command skips the numerical check (it
costs 8 evaluations of the function per entry)."""

Array = np.ndarray


class UsageError(MatgradError):
    """An option (a shape, a flag, the variable) that does not fit the formula."""


@dataclass(frozen=True)
class Labels:
    """How the caller names its options in messages."""

    shape: str = "--shape"
    symmetric: str = "--symmetric"
    spd: str = "--spd"
    wrt: str = "--wrt"


CLI_LABELS = Labels()


@dataclass(frozen=True)
class Formula:
    """A parsed formula with the options it was parsed with.  ``ignored``: names of
    options that do not occur in the formula, when the caller asked to ignore
    those."""

    parsed: Parsed
    symmetric: tuple[str, ...]
    spd: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Problem(Formula):
    """A parsed formula and the variable ``wrt`` to differentiate it by."""

    wrt: Symbol


def _symbols_text(parsed: Parsed) -> str:
    return ", ".join(parsed.symbols) or "none"


def formula(
    text: str,
    shapes: Mapping[str, tuple[int, ...]],
    symmetric: Sequence[str] = (),
    spd: Sequence[str] = (),
    size: int = 3,
    *,
    also: Sequence[str] = (),
    labels: Labels = CLI_LABELS,
    strict: bool = True,
) -> Formula:
    """Parse ``text`` with ``shapes`` and the ``symmetric``/``spd`` flags; free
    dimensions get ``size``.  ``also``: other formulas (a claim) whose symbols may
    be named in the options.  With ``strict``, an option naming a symbol that
    occurs nowhere is a :class:`UsageError`; otherwise it is dropped and listed in
    ``ignored``.

    >>> f = formula("tr(X'*A*X)", {"X": (3, 2), "Y": (2,)}, strict=False)
    >>> {n: s.shape for n, s in f.parsed.symbols.items()}, f.ignored
    ({'X': (3, 2), 'A': (3, 3)}, ('Y',))
    """
    parsed = parse_expression(text, shapes, symmetric=symmetric, spd=spd, default_size=size)
    known = set(parsed.symbols)
    for other in also:  # the claim may name the same symbols
        known |= set(symbol_names(other))
    ignored: list[str] = []
    options = (
        (labels.shape, list(shapes)), (labels.symmetric, list(symmetric)), (labels.spd, list(spd))
    )
    for option, names in options:
        for name in names:
            if name in known:
                continue
            if strict:
                raise UsageError(
                    f"{option}: {name!r} does not occur in the formula; its symbols: "
                    + _symbols_text(parsed)
                )
            ignored.append(name)
    drop = set(ignored)
    return Formula(
        parsed,
        tuple(n for n in symmetric if n not in drop),
        tuple(n for n in spd if n not in drop),
        {n: s for n, s in shapes.items() if n not in drop},
        tuple(dict.fromkeys(ignored)),
    )


def problem(
    text: str,
    wrt: str,
    shapes: Mapping[str, tuple[int, ...]],
    symmetric: Sequence[str] = (),
    spd: Sequence[str] = (),
    size: int = 3,
    *,
    also: Sequence[str] = (),
    labels: Labels = CLI_LABELS,
    strict: bool = True,
) -> Problem:
    """:func:`formula` and the variable ``wrt``; a ``wrt`` that is not a symbol of
    the formula is a :class:`UsageError`.

    >>> p = problem("tr(X'*A*X)", "X", {"X": (3, 2)})
    >>> p.wrt.shape
    (3, 2)
    """
    f = formula(text, shapes, symmetric, spd, size, also=also, labels=labels, strict=strict)
    if wrt not in f.parsed.symbols:
        raise UsageError(
            f"{labels.wrt}: {wrt!r} does not occur in the formula; its symbols: "
            + _symbols_text(f.parsed)
        )
    return Problem(
        f.parsed, f.symmetric, f.spd, f.shapes, f.ignored, wrt=f.parsed.symbols[wrt]
    )


@dataclass(frozen=True)
class Check:
    """The numerical check of a derivative: the ``report``, or why none could be
    made (``problem``, ``""`` when there is a report); ``values``: the random
    inputs it used (empty when none could be drawn)."""

    report: DerivativeReport | None
    problem: str
    values: Mapping[str, Array] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.problem.startswith("skipped")

    @property
    def passed(self) -> bool:
        return self.skipped or (self.report is not None and self.report.passed)


def run_check(
    f: Expr, wrt: Symbol, result: Expr, order: int, seed: int, spd: Sequence[str],
    *, max_checked: int = MAX_CHECKED,
) -> Check:
    """Compare ``result`` (the order-``order`` derivative of ``f``) with numerical
    differentiation at random valid inputs drawn from ``seed``; skipped when
    ``wrt`` has more than ``max_checked`` entries."""
    if wrt.size > max_checked:
        return Check(None, f"skipped: {wrt.name} has {wrt.size} entries, more than the "
                           f"{max_checked} the numerical check differentiates by")
    try:
        values = random_values([f, result], seed=seed, spd=spd, extra=[wrt])
    except (NonFiniteError, np.linalg.LinAlgError) as err:
        return Check(None, f"could not evaluate at random inputs: {err}")
    try:
        with np.errstate(all="ignore"):
            report = numeric_check(f, wrt, values, order=order, result=result)
    except (NonFiniteError, np.linalg.LinAlgError) as err:
        return Check(None, f"could not evaluate at random inputs: {err}", values)
    return Check(report, "", values)
