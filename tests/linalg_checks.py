"""Checks shared by the linear-algebra tests (test_decompositions,
test_linalg_conventions): a scaled closeness that also refuses non-finite
results, and directional derivatives by Richardson extrapolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from matgrad import numeric


def close(got: Any, want: Any, tol: float = 1e-6) -> None:
    """Equal shapes, ``got`` finite, and the largest difference below ``tol``
    relative to ``max(1, max |want|)``."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.all(np.isfinite(got)), got
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    err = float(np.max(np.abs(got - want), initial=0.0)) / scale
    assert err < tol, f"error {err:.2e} (scale {scale:.3g})"


def directional(fn: Callable[[np.ndarray], Any], x0: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``d/dt fn(x0 + t e)`` at 0 (Richardson extrapolation)."""
    return np.asarray(numeric.jacobian(lambda t: np.asarray(fn(x0 + t * e), dtype=float),
                                       np.array(0.0), method="richardson"))
