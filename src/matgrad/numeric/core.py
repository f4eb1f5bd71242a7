"""The one core routine behind :func:`~matgrad.numeric.jacobian`,
:func:`~matgrad.numeric.gradient` and :func:`~matgrad.numeric.hessian`
(:func:`_differentiate`): plan the points, evaluate ``f``, combine the values
through the stencil's weights, extrapolate over halved steps (the Richardson
tableau) and estimate the error (:class:`Estimate`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matgrad._types import ArrayLike, FloatArray, Shape
from matgrad.errors import InvalidArgumentError, NotCallableError
from matgrad.numeric.evaluation import Function, _evaluate, _Plan, _plan, _Values
from matgrad.numeric.stencils import _EPS, _SCHEMES, METHODS, _as_point, _Scheme, _steps

__all__ = ["Estimate"]

_LEVELS = 4  # Richardson: steps h, h/2, h/4, h/8
_ROUNDING = 4.0  # function values are trusted to a few ulps in the error estimate

_Inexact = npt.NDArray[np.inexact[Any]]  # what the public functions return


@dataclass(frozen=True, eq=False)
class Estimate:
    """A derivative together with a per-entry estimate of its absolute error.

    Returned by :func:`jacobian`, :func:`gradient` and :func:`hessian` when
    ``return_error=True``; ``error`` has the shape of ``value``.  Compared by
    identity (arrays have no single truth value).

    >>> import numpy as np
    >>> from matgrad import numeric
    >>> est = numeric.gradient(np.exp, 0.0, method="richardson", return_error=True)
    >>> print(round(float(est.value), 12), bool(est.error < 1e-10))
    1.0 True
    """

    value: _Inexact
    error: FloatArray


# --------------------------------------------------------------------------- combination


def _tableau_row(estimates: list[_Values], power: int) -> list[_Values]:
    """The last row of the Richardson tableau over estimates at steps h, h/2, h/4, ...

    Entry ``k`` of a row has the error terms ``h**power, ..., h**(k*power)`` removed.
    """
    row = [estimates[0]]
    for level in range(1, len(estimates)):
        new = [estimates[level]]
        for k in range(1, level + 1):
            new.append(new[k - 1] + (new[k - 1] - row[k - 1]) / (2.0 ** (power * k) - 1))
        row = new
    return row


def _to_layout(d: _Values, plan: _Plan, scheme: _Scheme, in_shape: Shape) -> _Values:
    """Stencil results ``(stencils,) + S_out`` to the layout ``S_out + S_in (+ S_in)``."""
    out_shape = d.shape[1:]
    if len(scheme.bases) == 1:
        return np.moveaxis(d, 0, -1).reshape(out_shape + in_shape)
    n = math.prod(in_shape)
    full = np.zeros((n, n, *out_shape), dtype=d.dtype)
    if plan.stencils:
        first, second = np.array(plan.stencils, dtype=np.intp).T
        full[first, second] = d
        if scheme.symmetric:
            full[second, first] = d
    return np.moveaxis(full, (0, 1), (-2, -1)).reshape(out_shape + in_shape + in_shape)


def _swap_inputs(a: _Values, in_ndim: int) -> _Values:
    """``H[o..., i..., j...]`` to ``H[o..., j..., i...]``."""
    lead = a.ndim - 2 * in_ndim
    axes = [*range(lead), *range(lead + in_ndim, a.ndim), *range(lead, lead + in_ndim)]
    return np.transpose(a, axes)


def _noise(values: _Values, relative_step: float) -> _Values:
    """The size of the rounding error of each output entry of a real ``f``, over ``eps``.

    A backward-stable ``f`` returns ``f(x ∘ (1 + δ))`` with ``|δ| ≲ eps``: an error of
    about ``eps (|f| + Σ_i |x_i ∂f/∂x_i|)``, which is large when ``f`` itself is small
    but sensitive (``log det X`` near ``X = I``).  The sum is estimated from the
    spread of the values over the planned points, which lie up to
    ``relative_step · max(|x_i|, 1)`` from ``x``.
    """
    size: _Values = np.max(np.abs(values), axis=0)
    if relative_step > 0:
        size = size + np.max(np.abs(values - values[0]), axis=0) / (2 * relative_step)
    return size


def _differentiate(
    f: Function,
    x: ArrayLike,
    *,
    order: int,
    method: str,
    step: ArrayLike | None,
    batched: bool,
    return_error: bool,
    scalar: bool = False,
) -> _Inexact | Estimate:
    """The one core routine behind jacobian, gradient and hessian."""
    if not callable(f):
        raise NotCallableError(f"f must be callable, got {type(f).__name__}: {f!r:.80}")
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {METHODS}")
    point = _as_point(x)
    scheme = _SCHEMES[method, order]
    levels = _LEVELS if scheme.extrapolate else 2 if return_error else 1
    steps = _steps(point, scheme, step)
    plan = _plan(point, scheme, steps, levels)
    complex_step = any(scheme.imaginary)
    values = _evaluate(f, point, plan, batched=batched, complex_step=complex_step, scalar=scalar)
    weights = np.array([w for _, w in scheme.terms])
    gathered = values[plan.rows]  # (levels, stencils, terms) + S_out
    scale = plan.scale.reshape(plan.scale.shape + (1,) * (values.ndim - 1))
    row = _tableau_row(list(np.tensordot(gathered, weights, axes=([2], [0])) / scale), scheme.power)
    result = _to_layout(row[-1] if scheme.extrapolate else row[0], plan, scheme, point.shape)
    averaged = order == 2 and not scheme.symmetric
    swapped = _swap_inputs(result, point.ndim) if averaged else result
    if not return_error:
        return (result + swapped) / 2 if averaged else result
    # truncation: the last two tableau entries; rounding: the noise of f through the weights
    coeffs = _tableau_row(list(np.eye(levels)), scheme.power)
    alpha = np.abs(coeffs[-1] if scheme.extrapolate else coeffs[0])
    if complex_step:  # imaginary parts carry no cancellation: a few ulps of each
        noise = np.abs(gathered)
    else:  # without Richardson the points reach out to steps * 2**(levels - 1)
        reach = 1.0 if scheme.extrapolate else 2.0 ** (levels - 1)
        big = np.maximum(np.abs(point.ravel()), 1.0)
        relative = reach * min(float(np.min(h / big, initial=math.inf)) for h in steps)
        noise = np.broadcast_to(_noise(values, relative), gathered.shape)
    magnitude = np.tensordot(noise, np.abs(weights), axes=([2], [0])) / scale
    error = _ROUNDING * _EPS * np.tensordot(alpha, magnitude, axes=1)
    if levels > 1:
        error = error + np.abs(row[-1] - row[-2])
    error = _to_layout(error, plan, scheme, point.shape)
    if averaged:  # see hessian
        error = (error + _swap_inputs(error, point.ndim) + np.abs(result - swapped)) / 2
        result = (result + swapped) / 2
    return Estimate(result, error.astype(np.float64))
