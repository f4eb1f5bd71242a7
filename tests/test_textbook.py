"""The proof table of issue 13 (``tests/textbook_table.py``): classic derivatives
from the Matrix Cookbook, MML chapter 5, matrixcalculus.org's examples and the
usual ML losses, each with its textbook form in the formula language.

For every entry:

* the textbook form is right: it equals **numerical differentiation** of the
  function (Richardson extrapolation, :mod:`matgrad.numeric`, which knows nothing
  of the symbolic layers).  For a derivative of order ``k`` the witness is the
  numerical Hessian of the function (scalar function, order 2) or the numerical
  Jacobian of matgrad's order ``k − 1`` derivative, and every lower order is
  itself checked against the numerical Jacobian of the order below, down to the
  function — so no entry rests on matgrad's derivative alone;
* matgrad's derivative equals the textbook form at random valid inputs;

and, for the table as a whole, the printout criterion of the issue: matgrad's
printout at most 1.15× as long as the textbook form printed by the same printer
(matrix notation and LaTeX), met by at least :data:`MIN_MEETING` entries.

No string assertion on printed text here: the lengths are measured, the values
compared.  ``python -m benchmarks.printing`` prints the whole comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from textbook_table import (
    RATIO,
    TABLE,
    Built,
    Entry,
    Lengths,
    build,
    evaluate,
    lengths,
    values,
)

from matgrad import numeric
from matgrad.calculus.diff import derivative
from matgrad.ir.expr import Expr

MIN_MEETING = 83
"""Entries whose printout meets the length criterion (47 of 85 before the display
form of issue 13; 83 with it, the two misses being the adjugate's LaTeX,
``\\operatorname{adj}(X)^{\\top}`` against ``\\det(X) X^{-\\top}``).  Raise it as the
printouts improve; never lower it to make a change pass."""

SYMBOLIC_TOLERANCE = 1e-9
NUMERIC_TOLERANCE = 1e-6


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a − b| / max(1, max|a|, max|b|)``; ``inf`` for different shapes."""
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


def _witness(built: Built, point: dict[str, np.ndarray]) -> np.ndarray:
    """The numerical derivative of order ``entry.order`` of the function at
    ``point``; checks the lower orders of matgrad's derivative on the way."""
    f, wrt, order = built.function, built.wrt, built.entry.order
    x0 = np.asarray(point[wrt.name], dtype=np.float64)

    def at(expr: Expr) -> Callable[[np.ndarray], np.ndarray]:
        def call(m: np.ndarray) -> np.ndarray:
            # a symmetric variable varies over symmetric matrices (DESIGN.md §1)
            value = (m + m.T) / 2 if wrt.symmetric else m
            return evaluate(expr, {**point, wrt.name: value})

        return call

    if order == 1:
        return np.asarray(numeric.jacobian(at(f), x0, method="richardson"))
    if order == 2 and f.ndim == 0:
        return np.asarray(numeric.hessian(at(f), x0, method="richardson"))
    lower = f
    for k in range(1, order):  # matgrad's order-k derivative against numerics
        upper = derivative(f, wrt, k)
        expected = np.asarray(numeric.jacobian(at(lower), x0, method="richardson"))
        got = evaluate(upper, point)
        assert relative_error(got, expected) <= NUMERIC_TOLERANCE, (
            f"{built.entry.name}: matgrad's order-{k} derivative differs from numerics"
        )
        lower = upper
    return np.asarray(numeric.jacobian(at(lower), x0, method="richardson"))


def _check(entry: Entry, seeds: tuple[int, ...] = (0, 1)) -> None:
    built = build(entry)
    expected_shape = built.function.shape + entry.order * built.wrt.shape
    assert built.derivative.shape == expected_shape
    assert built.textbook.shape == expected_shape, (
        f"{entry.name}: the textbook form has shape {built.textbook.shape}, "
        f"expected {expected_shape}"
    )
    for seed in seeds:
        point = values(built, seed)
        book = evaluate(built.textbook, point)
        ours = evaluate(built.derivative, point)
        assert relative_error(ours, book) <= SYMBOLIC_TOLERANCE, (
            f"{entry.name} (seed {seed}): matgrad's derivative differs from the textbook "
            f"form by {relative_error(ours, book):.2e}"
        )
        if seed == seeds[0]:
            witness = _witness(built, point)
            assert relative_error(book, witness) <= NUMERIC_TOLERANCE, (
                f"{entry.name}: the textbook form differs from numerical differentiation "
                f"by {relative_error(book, witness):.2e}"
            )


def test_the_table_is_big_enough_and_cited() -> None:
    assert len(TABLE) >= 55
    names = [e.name for e in TABLE]
    assert len(set(names)) == len(names)
    for e in TABLE:
        assert e.source and e.textbook and e.order >= 1, e.name
    sources = " ".join(e.source for e in TABLE)
    for kind in ("Matrix Cookbook", "MML", "matrixcalculus.org", "ML loss"):
        assert kind in sources
    assert {e.order for e in TABLE} >= {1, 2, 3}


@pytest.mark.parametrize("entry", TABLE, ids=[e.name for e in TABLE])
def test_textbook_form(entry: Entry) -> None:
    _check(entry)


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("trace-AXB", "B*A"),                          # denominator layout: wrong shape
        ("trace-X2B", "X*B + B*X"),                    # denominator layout: transposed
        ("xtBx", "2*B*x"),                             # right only for symmetric B
        ("logistic-hessian", "X'*diag(sigmoid(X*w))*X"),
        ("x4-third", "12*x^2"),                        # the second derivative, not the third
        ("gaussian-nll-Sigma", "inv(S)/2 - inv(S)*(x - m)*(x - m)'*inv(S)"),  # factor 2
    ],
)
def test_a_wrong_textbook_form_fails(name: str, wrong: str) -> None:
    (entry,) = [e for e in TABLE if e.name == name]
    _check(entry, seeds=(0,))  # the right form passes
    bad = Entry(entry.name, entry.function, entry.wrt, wrong, entry.source, entry.order,
                entry.shapes, entry.symmetric, entry.spd)
    with pytest.raises(AssertionError, match="differs|has shape"):
        _check(bad, seeds=(0,))


def test_printouts_are_at_most_115_percent_of_the_textbook() -> None:
    measured = [(e, lengths(build(e))) for e in TABLE]
    meeting = [e.name for e, n in measured if n.meets]
    missing = [
        f"  {e.name}: text {n.text}/{n.text_textbook} = {n.text_ratio:.2f}, "
        f"LaTeX {n.latex}/{n.latex_textbook} = {n.latex_ratio:.2f}"
        for e, n in measured
        if not n.meets
    ]
    assert len(meeting) >= MIN_MEETING, (
        f"{len(meeting)} of {len(TABLE)} entries print at most {RATIO}x as long as the "
        f"textbook form (expected at least {MIN_MEETING}); not meeting it:\n"
        + "\n".join(missing)
    )


def test_the_length_criterion_can_fail() -> None:
    """Both printers count: 1.15 is the bound, in matrix notation and in LaTeX."""
    assert Lengths(115, 100, 115, 100).meets
    assert not Lengths(116, 100, 10, 100).meets
    assert not Lengths(10, 100, 116, 100).meets
    assert Lengths(0, 0, 0, 0).meets
