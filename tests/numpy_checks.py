"""Checks shared by the tests of NumPy-style operations (test_piecewise,
test_reductions): values against NumPy itself and derivatives against
Richardson differences, in both accumulation modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import matgrad as mg
from matgrad import numeric


def close(a: Any, b: Any, tol: float = 1e-7) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=tol, atol=tol)


def check_derivatives(f: Callable[[Any], Any], x0: np.ndarray, order: int = 2) -> None:
    """``f`` traced on a symbol: its value against NumPy, its first (and second)
    derivative in both modes against Richardson differences of ``f`` applied to
    arrays (NumPy itself)."""
    x = mg.Tensor("x", x0.shape)
    expr = f(x)
    assert isinstance(expr, mg.Expr)
    close(expr.evaluate(x=x0), f(x0), 1e-12)

    def value(v: np.ndarray) -> Any:
        return np.asarray(f(v), dtype=float)

    d1_num = numeric.jacobian(value, x0, method="richardson")
    for mode in ("forward", "reverse"):
        d1 = mg.derivative(expr, x, mode=mode)
        close(d1.evaluate(x=x0), d1_num, 1e-6)
        if order >= 2:
            d2 = mg.derivative(expr, x, order=2, mode=mode)
            d2_num = numeric.jacobian(lambda v: mg.derivative(expr, x).evaluate(x=v), x0,
                                      method="richardson")
            close(d2.evaluate(x=x0), d2_num, 1e-5)


def bind(expr: mg.Expr, **values: Any) -> np.ndarray:
    """``expr`` evaluated with the values of the symbols it has."""
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in values.items() if k in names}))


def grad_at(expr: mg.Expr, wrt: mg.Symbol, **values: Any) -> np.ndarray:
    """The derivative of ``expr`` with respect to ``wrt`` in both modes (equal)."""
    fwd = mg.derivative(expr, wrt, mode="forward").evaluate(**values)
    rev = mg.derivative(expr, wrt, mode="reverse").evaluate(**values)
    close(fwd, rev, 1e-14)
    return np.asarray(fwd)
