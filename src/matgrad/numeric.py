"""Numerical differentiation of any tensor map (layer 1).

This module is matgrad's independent witness: it knows nothing of the symbolic
layers and differentiates plain Python functions by evaluating them.  A map
``f`` from arrays of shape ``S_in`` to arrays of shape ``S_out`` has the
Jacobian ``J`` of shape ``S_out + S_in`` with ``J[o..., i...] = ∂f[o...]/∂x[i...]``
(numerator layout, as everywhere in matgrad).

Every method is a *stencil*: a few weighted evaluations of ``f`` around ``x``
for each input entry (or pair of entries, for Hessians), divided by the steps.
One core routine plans the distinct points, evaluates ``f`` on them (one call per
point, or a single call when ``batched=True``), checks what comes back, and
combines the values; Richardson extrapolation and the error estimates are a
tableau over halved steps.  See ``docs/numeric.md`` for the measured accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from matgrad._types import Array, ArrayLike, FloatArray, Shape
from matgrad.errors import InvalidArgumentError, NonFiniteError, NotCallableError, ShapeError

__all__ = [
    "METHODS",
    "Estimate",
    "default_step",
    "gradient",
    "gradient_error",
    "hessian",
    "jacobian",
]

METHODS: tuple[str, ...] = ("forward", "central", "richardson", "complex")
"""The method names accepted by :func:`jacobian`, :func:`gradient` and :func:`hessian`."""

Function = Callable[[Any], Any]
"""A map from an array of shape ``S_in`` to something array-like of shape ``S_out``."""

_EPS = float(np.finfo(np.float64).eps)
_LEVELS = 4  # Richardson: steps h, h/2, h/4, h/8
_COMPLEX_STEP = 1e-20
_ROUNDING = 4.0  # function values are trusted to a few ulps in the error estimate

_Key = tuple[tuple[int, float | complex], ...]  # a point: (flat index, new value) pairs
_IntArray = npt.NDArray[np.intp]
_Values = npt.NDArray[Any]  # float64 or complex128 values, internal arithmetic
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


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Plan:
    points: list[_Key]  # the distinct points to evaluate
    rows: _IntArray  # (levels, stencils, terms) -> index into points
    scale: FloatArray  # (levels, stencils): the product of the steps
    stencils: list[tuple[int, ...]]  # the flat input index (or pair) of each stencil


def _plan(x: FloatArray, scheme: _Scheme, steps: list[FloatArray], levels: int) -> _Plan:
    n, flat = x.size, x.ravel().tolist()
    stencils: list[tuple[int, ...]]
    if len(scheme.bases) == 1:
        stencils = [(i,) for i in range(n)]
    elif scheme.symmetric:
        stencils = [(i, j) for i in range(n) for j in range(i, n)]
    else:
        stencils = [(i, j) for i in range(n) for j in range(n)]
    index: dict[_Key, int] = {}
    rows = np.zeros((levels, len(stencils), len(scheme.terms)), dtype=np.intp)
    scale = np.ones((levels, len(stencils)))
    for level in range(levels):
        # Richardson halves from the base step; otherwise the last level is the step itself
        mult = 2.0 ** (-level if scheme.extrapolate else levels - 1 - level)
        for s, entries in enumerate(stencils):
            hs = [mult * float(steps[q][i]) for q, i in enumerate(entries)]
            scale[level, s] = math.prod(hs)
            for t, (coeffs, _) in enumerate(scheme.terms):
                moves: dict[int, complex] = {}
                for i, c, h in zip(entries, coeffs, hs):
                    moves[i] = moves.get(i, 0) + c * h
                key = tuple(sorted((i, flat[i] + d) for i, d in moves.items() if d != 0))
                rows[level, s, t] = index.setdefault(key, len(index))
    if not index:  # x has no entries: evaluate f once to learn the output shape
        index[()] = 0
    return _Plan(list(index), rows, scale, stencils)


def _where(key: _Key, x: FloatArray) -> str:
    if not key:
        return "the base point x"
    flat = x.ravel()
    moves = []
    for i, value in key:
        d = value - flat[i]
        text = f"{d.imag:+.3g}i" if isinstance(d, complex) and d.real == 0 else f"{d:+.3g}"
        moves.append(f"{_entry(np.unravel_index(i, x.shape))} moved by {text}")
    return "x with " + " and ".join(moves)


# --------------------------------------------------------------------------- evaluation


def _call(f: Function, arg: Array, complex_step: bool, where: str) -> Array:
    """One call of ``f``, with its result checked to be a numeric array."""
    if complex_step:
        try:
            with np.errstate(all="ignore"):
                out = f(arg)
        except Exception as err:  # any failure on complex input means: no complex support
            raise InvalidArgumentError(
                "method='complex' evaluates f at complex points x + i·h, but f does not support "
                f"complex input: at {where} it raised {type(err).__name__}: {err}"
            ) from err
    else:
        with np.errstate(all="ignore"):  # NaN and infinity are reported below, with the point
            out = f(arg)
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"f must return an array of numbers; at {where}: {err}") from err
    if arr.dtype.kind not in "biufc":
        raise InvalidArgumentError(
            f"f must return numbers, but returned {type(out).__name__} of dtype {arr.dtype} "
            f"at {where}"
        )
    if complex_step and arr.dtype.kind != "c":
        raise InvalidArgumentError(
            "method='complex' evaluates f at complex points x + i·h, but f does not support "
            f"complex input: it returned real dtype {arr.dtype} at {where} (it drops the "
            "imaginary part, e.g. through abs, np.real, float() or a real-typed buffer)"
        )
    return arr


def _evaluate(
    f: Function, x: FloatArray, plan: _Plan, *, batched: bool, complex_step: bool, scalar: bool
) -> _Values:
    """``f`` at every planned point, stacked: shape ``(points,) + S_out``."""
    count = len(plan.points)
    flat = np.repeat(x.reshape(1, -1), count, axis=0).astype(
        np.complex128 if complex_step else np.float64
    )
    for k, key in enumerate(plan.points):
        for i, value in key:
            flat[k, i] = value
    stack = flat.reshape((count, *x.shape))
    if batched:
        values = _call(f, stack, complex_step, "the stacked points (batched call)")
        if values.ndim == 0 or values.shape[0] != count or (scalar and values.ndim != 1):
            wanted = f"({count},)" if scalar else f"({count}, ...)"
            raise ShapeError(
                f"batched f was called with {count} points stacked as shape {stack.shape} and "
                f"must return shape {wanted}, one result per point, but returned shape "
                f"{values.shape}"
            )
    else:
        results: list[Array] = []
        for k in range(count):
            where = _where(plan.points[k], x)
            out = _call(f, stack[k, ...], complex_step, where)
            if k == 0 and scalar and out.shape != ():
                raise ShapeError(
                    f"gradient needs a scalar-valued f, but f returns shape {out.shape}; "
                    "use jacobian for non-scalar f"
                )
            if k and out.shape != results[0].shape:
                raise ShapeError(
                    f"f returned shape {results[0].shape} at {_where(plan.points[0], x)} but "
                    f"shape {out.shape} at {where}; f must return one shape for all inputs"
                )
            results.append(out)
        values = np.stack(results)
    finite = np.isfinite(values.reshape(count, -1)).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        bad = values[k][~np.isfinite(values[k])].flat[0]
        raise NonFiniteError(
            f"f returned a non-finite value ({bad}) at {_where(plan.points[k], x)}; "
            "is that point outside f's domain? (a smaller step= may help)"
        )
    if complex_step:
        return values.imag.astype(np.float64)
    return values.astype(np.complex128 if values.dtype.kind == "c" else np.float64)


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


# --------------------------------------------------------------------------- public API


@overload
def jacobian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[False] = ...,
) -> _Inexact: ...
@overload
def jacobian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[True],
) -> Estimate: ...
@overload
def jacobian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: bool,
) -> _Inexact | Estimate: ...
def jacobian(
    f: Function,
    x: ArrayLike,
    *,
    method: str = "central",
    step: ArrayLike | None = None,
    batched: bool = False,
    return_error: bool = False,
) -> _Inexact | Estimate:
    """The Jacobian ``J[o..., i...] = ∂f[o...]/∂x[i...]`` at ``x``, shape ``S_out + S_in``.

    ``x`` is anything :func:`numpy.asarray` accepts with a bool, integer or float
    dtype; it is converted to float64 and all arithmetic is float64 (float32 input
    gives a float64 result).  ``f`` receives float64 arrays of ``x``'s shape
    (complex ones for ``method="complex"``) and may return Python numbers; a
    complex-valued ``f`` gives a complex Jacobian with the real-step methods.

    ``method`` (typical accuracy on smooth functions in docs/numeric.md):
    ``"forward"`` ``(f(x + h e_i) − f(x))/h``, error ``O(h)``, ~1e-8;
    ``"central"`` ``(f(x + h e_i) − f(x − h e_i))/2h``, ``O(h²)``, ~1e-11;
    ``"richardson"`` central differences at ``h, h/2, h/4, h/8`` extrapolated to
    remove the ``h², h⁴, h⁶`` terms, ~1e-14; ``"complex"`` the complex step
    ``Im f(x + i h e_i)/h`` with ``h ≈ 1e-20``, no cancellation, ~1e-16, for ``f``
    that accept complex input and are real-analytic (no ``abs``, ``np.real``, ...).

    ``step``: a positive float (one absolute step for all entries) or an array of
    ``x``'s shape; default :func:`default_step`.  ``batched=True``: ``f`` maps a
    stack ``(k,) + S_in`` to ``(k,) + S_out`` and all points go in one call.
    ``return_error=True``: an :class:`Estimate` whose ``error`` is the difference
    of the last two Richardson levels (other methods also evaluate at ``2h``)
    plus the rounding noise of ``f`` carried through the stencil.

    Raises ``NotCallableError``; ``InvalidArgumentError`` (bad ``x``, ``method``
    or ``step``, non-numeric output, no complex support); ``ShapeError`` (the
    output shape changes, wrong batched or ``step`` shape); ``NonFiniteError``
    (NaN or infinity from ``f``, naming the perturbed entry).  NumPy
    floating-point warnings inside ``f`` are silenced: bad values are reported
    by that error instead.

    >>> import numpy as np
    >>> from matgrad import numeric
    >>> A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> J = numeric.jacobian(lambda x: A @ x, np.ones(3))    # d(Ax)/dx = A
    >>> print(J.shape, np.round(J, 8).tolist())
    (2, 3) [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    >>> J = numeric.jacobian(np.sin, np.zeros((2, 2)), method="complex")
    >>> print(J.shape, J[1, 0, 1, 0], J[1, 0, 0, 1])          # S_out + S_in
    (2, 2, 2, 2) 1.0 0.0
    """
    return _differentiate(
        f, x, order=1, method=method, step=step, batched=batched, return_error=return_error
    )


@overload
def gradient(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[False] = ...,
) -> _Inexact: ...
@overload
def gradient(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[True],
) -> Estimate: ...
@overload
def gradient(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: bool,
) -> _Inexact | Estimate: ...
def gradient(
    f: Function,
    x: ArrayLike,
    *,
    method: str = "central",
    step: ArrayLike | None = None,
    batched: bool = False,
    return_error: bool = False,
) -> _Inexact | Estimate:
    """The gradient of a scalar-valued ``f`` at ``x``: an array of ``x``'s shape.

    :func:`jacobian` with ``S_out = ()``, same options and errors; if ``f`` returns
    anything but a scalar (with ``batched=True``: shape ``(k,)``) a ``ShapeError``
    says so.

    >>> import numpy as np
    >>> from matgrad import numeric
    >>> X = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> G = numeric.gradient(lambda X: np.linalg.slogdet(X)[1], X, method="richardson")
    >>> print(np.allclose(G, np.linalg.inv(X).T, rtol=0, atol=1e-10))   # ∇ log|det X| = X⁻ᵀ
    True
    >>> print(round(float(numeric.gradient(lambda t: t**3, 2.0)), 6))
    12.0
    """
    return _differentiate(
        f, x, order=1, method=method, step=step, batched=batched,
        return_error=return_error, scalar=True,
    )


@overload
def hessian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[False] = ...,
) -> _Inexact: ...
@overload
def hessian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: Literal[True],
) -> Estimate: ...
@overload
def hessian(
    f: Function, x: ArrayLike, *, method: str = ..., step: ArrayLike | None = ...,
    batched: bool = ..., return_error: bool,
) -> _Inexact | Estimate: ...
def hessian(
    f: Function,
    x: ArrayLike,
    *,
    method: str = "central",
    step: ArrayLike | None = None,
    batched: bool = False,
    return_error: bool = False,
) -> _Inexact | Estimate:
    """Second derivatives ``H[o..., i..., j...] = ∂²f[o...]/∂x[i...]∂x[j...]``.

    Shape ``S_out + S_in + S_in`` (``S_in + S_in`` for scalar ``f``); options and
    errors as for :func:`jacobian`.  With ``u = h_i e_i``, ``v = h_j e_j``:
    ``"forward"`` ``(f(x+u+v) − f(x+u) − f(x+v) + f(x))/(h_i h_j)``, ``O(h)``;
    ``"central"`` ``(f(x+u+v) − f(x+u−v) − f(x−u+v) + f(x−u−v))/(4 h_i h_j)``,
    ``O(h²)``; ``"richardson"`` the central scheme at ``h, h/2, h/4, h/8``,
    extrapolated; ``"complex"`` ``Im(f(x+iu+v) − f(x+iu−v))/(2 h_i h_j)`` with an
    imaginary step ``h_i ≈ 1e-20``, at real steps ``h_j, ..., h_j/8`` extrapolated
    as for Richardson (``step=`` sets the real step).

    Symmetry: the forward, central and Richardson stencils for ``(i, j)`` and
    ``(j, i)`` are the same points with the same weights, so each pair is computed
    once and ``H`` is exactly symmetric without any symmetrization.  The complex
    scheme treats ``i`` and ``j`` differently and so gives two estimates of each
    mixed partial; they are averaged, which is justified because the complex step
    already requires ``f`` to be real-analytic, so ``∂²f/∂x_i∂x_j = ∂²f/∂x_j∂x_i``
    (Schwarz).  Its error estimate includes half their difference.

    >>> import numpy as np
    >>> from matgrad import numeric
    >>> A = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> H = numeric.hessian(lambda x: x @ A @ x, np.array([1.0, -1.0]))  # H = A + Aᵀ
    >>> print(np.round(H, 6).tolist())
    [[4.0, 1.0], [1.0, 6.0]]
    >>> numeric.hessian(lambda x: np.sin(x), np.zeros(3)).shape
    (3, 3, 3)
    """
    return _differentiate(
        f, x, order=2, method=method, step=step, batched=batched, return_error=return_error
    )


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
