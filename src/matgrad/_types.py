"""Type aliases shared by all matgrad modules (layer 0)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Shape = tuple[int, ...]
"""A concrete tensor shape: ``()`` for scalars, ``(n,)`` for vectors, ..."""

Order = Literal["F", "C"]
"""Flattening order: ``"F"`` column-major (the default, as in the book), ``"C"`` row-major."""

Array = npt.NDArray[np.generic]
"""A NumPy array of any dtype."""

FloatArray = npt.NDArray[np.floating]
"""A NumPy array of floating dtype."""

ArrayLike = npt.ArrayLike
"""Anything :func:`numpy.asarray` accepts."""

__all__ = ["Shape", "Order", "Array", "FloatArray", "ArrayLike"]
