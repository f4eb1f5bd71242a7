"""W8: numerical Jacobians of X ↦ X⁻¹ — matgrad's methods against SciPy and
numdifftools, time and error against the exact Jacobian."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.timing import median_time, relative_error

W8_SIZES = (10, 20)


@dataclass
class NumericResult:
    n: int
    method: str
    seconds: float | None
    error: float | None
    note: str = ""


def exact_jacobian(X: np.ndarray) -> np.ndarray:
    """``∂(X⁻¹)[i, j]/∂X[k, l] = −X⁻¹[i, k] X⁻¹[l, j]``."""
    Y = np.linalg.inv(X)
    return -np.einsum("ik,lj->ijkl", Y, Y)


def _methods(n: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from matgrad import numeric

    def flat(v: np.ndarray) -> np.ndarray:
        return np.linalg.inv(v.reshape(n, n)).ravel()

    def to_tensor(J: Any) -> np.ndarray:
        return np.asarray(J).reshape(n, n, n, n)

    methods: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for m in numeric.METHODS:
        methods[f"matgrad {m}"] = (
            lambda X, m=m: numeric.jacobian(np.linalg.inv, X, method=m, batched=True)
        )
    methods["matgrad central (one call per point)"] = lambda X: numeric.jacobian(
        np.linalg.inv, X, method="central"
    )
    try:
        from scipy.optimize._numdiff import approx_derivative
    except ImportError:  # pragma: no cover - SciPy is a bench dependency
        approx_derivative = None
    if approx_derivative is not None:
        for m in ("2-point", "3-point", "cs"):
            methods[f"scipy approx_derivative {m}"] = lambda X, m=m: to_tensor(
                approx_derivative(flat, X.ravel(), method=m)
            )
    try:
        from scipy.differentiate import jacobian as scipy_jacobian
    except ImportError:
        scipy_jacobian = None
    if scipy_jacobian is not None:

        def vectorized(x: np.ndarray) -> np.ndarray:
            rest = x.shape[1:]
            stack = np.moveaxis(x.reshape(n, n, -1), -1, 0)
            inv = np.moveaxis(np.linalg.inv(stack), 0, -1)
            return inv.reshape(n * n, *rest)

        methods["scipy.differentiate.jacobian"] = lambda X: to_tensor(
            scipy_jacobian(vectorized, X.ravel()).df
        )
    try:
        import numdifftools as nd
    except ImportError:
        nd = None
    if nd is not None:
        methods["numdifftools Jacobian"] = lambda X: to_tensor(nd.Jacobian(flat)(X.ravel()))
    return methods


def run_w8(sizes: tuple[int, ...], seed: int, log: Callable[[str], None]) -> list[NumericResult]:
    results = []
    for n in sizes:
        rng = np.random.default_rng(seed + n)
        X = rng.standard_normal((n, n)) / np.sqrt(n) + 2.0 * np.eye(n)
        exact = exact_jacobian(X)
        for name, method in _methods(n).items():
            try:
                value = method(X)
                error = relative_error(value, exact)
                seconds = median_time(lambda m=method, x=X: m(x), repeats=5, budget=2.0)
                results.append(NumericResult(n, name, seconds, error))
            except Exception as exc:  # report and go on
                results.append(NumericResult(n, name, None, None, f"failed: {exc!r}"[:80]))
            log(f"  W8 n={n} {name}: done")
    return results
