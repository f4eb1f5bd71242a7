"""Tools for testing derivatives (layer 4).

* :func:`check_derivative` / :func:`assert_derivative_close`: compare a claimed
  Jacobian (or Jacobian-vector product) with numerical differentiation; see
  :mod:`matgrad.testing.check`.
* ``matgrad.testing.strategies``: hypothesis strategies for vectors, matrices and
  structured matrices (symmetric, SPD, invertible, orthogonal).  Hypothesis is a
  test extra, so that module is imported lazily, on first access; everything else
  here works without hypothesis installed.

>>> import numpy as np
>>> from matgrad.testing import assert_derivative_close
>>> report = assert_derivative_close(np.exp, lambda x: np.diag(np.exp(x)), np.zeros(3))
>>> report.passed
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from matgrad.testing.check import (
    DerivativeReport,
    WorstEntry,
    assert_derivative_close,
    check_derivative,
)

if TYPE_CHECKING:
    from matgrad.testing import strategies as strategies

__all__ = [
    "DerivativeReport",
    "WorstEntry",
    "assert_derivative_close",
    "check_derivative",
]  # not "strategies": a star import must not need hypothesis


def __getattr__(name: str) -> Any:
    """Import ``matgrad.testing.strategies`` (and so hypothesis) only when asked for."""
    if name == "strategies":
        return importlib.import_module("matgrad.testing.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
