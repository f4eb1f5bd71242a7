"""The stencils of the numerical methods and their steps (:mod:`matgrad.numeric`).

A method is a :class:`_Scheme` per derivative order: weighted points around ``x``
in units of the steps.  This module also checks ``x`` and a user ``step``, and
chooses the default steps (:func:`default_step`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import ArrayLike, FloatArray, Shape
from matgrad.errors import InvalidArgumentError, ShapeError

__all__ = ["METHODS", "default_step"]

METHODS: tuple[str, ...] = ("forward", "central", "richardson", "complex")
"""The method names accepted by :func:`jacobian`, :func:`gradient` and :func:`hessian`."""

_EPS = float(np.finfo(np.float64).eps)
_COMPLEX_STEP = 1e-20


@dataclass(frozen=True)
class _Scheme:
    """A stencil: ``Σ_t weight_t · f(x + Σ_q coeff_tq · h_q e_(i_q)) / Π_q h_q``.

    One step axis ``q`` per derivative order; a complex coefficient marks a
    complex step, and then the imaginary part of ``f`` is used.  ``power`` is
    the leading order of the truncation error in ``h`` (which falls in powers of
    ``h**power``); ``symmetric`` says the stencil for ``(i, j)`` is the one for
    ``(j, i)`` (same points, same weights).
    """

    terms: tuple[tuple[tuple[complex, ...], float], ...]
    bases: tuple[float, ...]  # relative step per axis: h = base * max(|x|, 1)
    power: int
    extrapolate: bool = False
    symmetric: bool = True

    @property
    def imaginary(self) -> tuple[bool, ...]:
        return tuple(
            any(coeffs[q].imag != 0 for coeffs, _ in self.terms) for q in range(len(self.bases))
        )


_CENTRAL_1 = (((-1,), -0.5), ((1,), 0.5))
_CENTRAL_2 = (((1, 1), 0.25), ((1, -1), -0.25), ((-1, 1), -0.25), ((-1, -1), 0.25))
_SCHEMES: dict[tuple[str, int], _Scheme] = {
    ("forward", 1): _Scheme((((0,), -1.0), ((1,), 1.0)), (_EPS ** (1 / 2),), power=1),
    ("central", 1): _Scheme(_CENTRAL_1, (_EPS ** (1 / 3),), power=2),
    ("richardson", 1): _Scheme(_CENTRAL_1, (2.0**-5,), power=2, extrapolate=True),
    ("complex", 1): _Scheme((((1j,), 1.0),), (_COMPLEX_STEP,), power=2),
    ("forward", 2): _Scheme(
        (((1, 1), 1.0), ((1, 0), -1.0), ((0, 1), -1.0), ((0, 0), 1.0)),
        (_EPS ** (1 / 3),) * 2,
        power=1,
    ),
    ("central", 2): _Scheme(_CENTRAL_2, (_EPS ** (1 / 4),) * 2, power=2),
    ("richardson", 2): _Scheme(_CENTRAL_2, (2.0**-5,) * 2, power=2, extrapolate=True),
    ("complex", 2): _Scheme(
        (((1j, 1), 0.5), ((1j, -1), -0.5)),
        (_COMPLEX_STEP, 2.0**-5),
        power=2,
        extrapolate=True,
        symmetric=False,
    ),
}



# --------------------------------------------------------------------------- inputs


def _as_point(x: ArrayLike) -> FloatArray:
    """``x`` as a float64 array (a copy), or a clear error."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"x must be an array of real numbers: {err}") from err
    if arr.dtype.kind == "c":
        raise InvalidArgumentError(
            f"x has complex dtype {arr.dtype}; numerical derivatives here are with respect to "
            "real inputs (pass the real and imaginary parts as separate real arguments; "
            "method='complex' takes a real x and perturbs it along the imaginary axis itself)"
        )
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"x must be numeric, got an array of dtype {arr.dtype}")
    point = arr.astype(np.float64)
    bad = ~np.isfinite(point)
    if bad.any():
        where = _entry(np.unravel_index(int(np.argmax(bad.ravel())), point.shape))
        raise InvalidArgumentError(f"x must be finite, but {where} is {point[bad].flat[0]}")
    return point


def _entry(index: tuple[Any, ...]) -> str:
    return "x[" + ", ".join(str(int(i)) for i in index) + "]" if index else "x"


def _user_step(step: ArrayLike, shape: Shape) -> FloatArray:
    arr = np.asarray(step)
    if arr.dtype.kind not in "iuf":
        raise InvalidArgumentError(
            f"step must be a positive number or an array of them, got dtype {arr.dtype}"
        )
    if arr.shape not in ((), shape):
        raise ShapeError(f"step has shape {arr.shape}; it must be a scalar or of x's shape {shape}")
    h = np.broadcast_to(arr.astype(np.float64), shape)
    ok = np.isfinite(h) & (h > 0)
    if not ok.all():
        where = np.unravel_index(int(np.argmin(ok.ravel())), shape)
        raise InvalidArgumentError(
            f"step must be positive and finite, got {h[where]} for {_entry(where)}"
        )
    return h


def _steps(x: FloatArray, scheme: _Scheme, step: ArrayLike | None) -> list[FloatArray]:
    """The flat step array of each axis of ``scheme`` at ``x``.

    Default steps are the power of two nearest ``base * max(|x|, 1)``; a user
    ``step`` replaces the real steps (or the complex step, when that is the only
    axis).  Real steps are then replaced by ``(x + h) - x`` so that ``x + h`` is
    exactly the point the divisor assumes.
    """
    user = None if step is None else _user_step(step, x.shape)
    scale = np.maximum(np.abs(x), 1.0)
    imaginary = scheme.imaginary
    steps: list[FloatArray] = []
    for base, imag in zip(scheme.bases, imaginary):
        if user is not None and (not imag or all(imaginary)):
            h = user
        else:
            h = np.exp2(np.round(np.log2(base * scale)))
        if not imag:
            h = (x + h) - x
            ok = np.isfinite(h) & (h > 0)
            if not ok.all():
                where = np.unravel_index(int(np.argmin(ok.ravel())), x.shape)
                raise InvalidArgumentError(
                    f"step is too small or too large for {_entry(where)} = {float(x[where])}: "
                    "x + step is not a distinct finite float64"
                )
        steps.append(np.asarray(h, dtype=np.float64).ravel())
    return steps



def default_step(x: ArrayLike, method: str = "central", *, order: int = 1) -> FloatArray:
    """The default step for each entry of ``x``, an array of ``x``'s shape.

    ``h_i = c · max(|x_i|, 1)`` rounded to a power of two and then replaced by
    ``(x_i + h_i) - x_i``, so that ``x_i + h_i`` is exactly representable.  For
    first derivatives ``c`` is ``eps^(1/2)`` (forward: balances the ``O(h)``
    truncation against ``eps/h`` rounding), ``eps^(1/3)`` (central: ``O(h²)``
    against ``eps/h``), ``2⁻⁵`` (Richardson: the largest of the four halved steps;
    extrapolation removes the truncation error, so large steps keep rounding low)
    and ``1e-20`` (complex: there is no cancellation, so any tiny step works).  For
    ``order=2``: ``eps^(1/3)`` (forward), ``eps^(1/4)`` (central), ``2⁻⁵``
    (Richardson) and ``2⁻⁵`` for the complex scheme's real step (this is the step
    returned; its imaginary step is ``1e-20 · max(|x_i|, 1)``).

    >>> import numpy as np
    >>> from matgrad import numeric
    >>> h = numeric.default_step(np.array([0.0, 1000.0]), "central")
    >>> print(h.tolist(), 2.0**-17)
    [7.62939453125e-06, 0.0078125] 7.62939453125e-06
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {METHODS}")
    if order not in (1, 2):
        raise InvalidArgumentError(f"order must be 1 or 2, got {order!r}")
    point = _as_point(x)
    steps = _steps(point, _SCHEMES[method, order], None)
    return steps[-1].reshape(point.shape)
