"""Comparing an analytic gradient with a numerical one (:mod:`matgrad.numeric`):
:func:`gradient_error`."""

from __future__ import annotations

import math

import numpy as np

from matgrad._types import ArrayLike
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.numeric.evaluation import _Values

__all__ = ["gradient_error"]


def gradient_error(analytic: ArrayLike, numeric: ArrayLike) -> float:
    """The relative difference of two gradients, ``sqrt(Σ(dh − df)² / Σ(dh + df)²)``.

    The gradient check of *Mathematics for Machine Learning* §5.2 (remark on
    gradient checking): a small value (say below ``1e-6``) means the analytic
    gradient agrees with the numerical one.  ``analytic`` and ``numeric`` must
    have exactly the same shape (:class:`~matgrad.errors.ShapeError` otherwise).
    Complex entries use ``|·|²``.  Returns ``0.0`` when ``dh = df`` (in particular
    when both are all zeros), ``inf`` when ``dh = −df ≠ 0``, and ``nan`` if either
    contains NaN or infinity.  Both are scaled by their largest magnitude first,
    so huge or tiny gradients neither overflow nor underflow.

    >>> from matgrad import numeric
    >>> print(round(numeric.gradient_error([1.0, 2.0], [1.0, 1.0]), 6))   # sqrt(1/13)
    0.27735
    >>> numeric.gradient_error([0.0, 0.0], [0.0, 0.0])
    0.0
    """
    a = _numbers(analytic, "analytic")
    b = _numbers(numeric, "numeric")
    if a.shape != b.shape:
        raise ShapeError(
            f"analytic has shape {a.shape} but numeric has shape {b.shape}; they must match"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan
    size = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    if size == 0.0:
        return 0.0
    a, b = a / size, b / size
    num = float(np.sum(np.abs(a - b) ** 2))
    den = float(np.sum(np.abs(a + b) ** 2))
    if num == 0.0:
        return 0.0
    if den == 0.0:
        return math.inf
    return math.sqrt(num / den)


def _numbers(values: ArrayLike, name: str) -> _Values:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"{name} must be an array of numbers: {err}") from err
    if arr.dtype.kind not in "biufc":
        raise InvalidArgumentError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    return arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)
