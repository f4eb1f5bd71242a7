"""Check a claimed derivative against numerical differentiation (layer 4).

:func:`check_derivative` compares an analytic Jacobian with the finite-difference
one from :mod:`matgrad.numeric`, the independent witness, and returns a
:class:`DerivativeReport`; :func:`assert_derivative_close` raises an
``AssertionError`` showing that report when the check fails.

Layout as everywhere in matgrad: ``f`` maps arrays of shape ``S_in`` to arrays of
shape ``S_out`` and its Jacobian has shape ``S_out + S_in``.

**Pass criterion.**  With ``df`` the analytic and ``dh`` the numerical values,

    ``passed  ⇔  gradient_error(df, dh) <= rtol  or  max |df − dh| <= atol``

where ``gradient_error = sqrt(Σ(dh − df)² / Σ(dh + df)²)`` is the relative measure
of *Mathematics for Machine Learning* §5.2 (about half the relative error of the
whole Jacobian, insensitive to its scale), and ``atol`` rescues Jacobians that are
zero or nearly so, where any relative measure is dominated by the
finite-difference noise.  Any NaN or infinity in either fails the check.  The
defaults ``rtol=1e-6, atol=1e-8`` suit the default ``method="richardson"``
(accurate to about ``1e-12`` relative on well-scaled functions) and also
``"central"`` and ``"complex"``; with ``method="forward"`` (about ``1e-7``) use
``rtol=1e-4``.  For functions whose values are themselves tiny, lower ``atol``
(``atol=0`` makes the check purely relative).

**Full mode** builds the whole numerical Jacobian: ``2·4 = 8`` evaluations of ``f``
per input entry with Richardson extrapolation, 2 with central differences.
**Directional mode** (``directional=True``) compares Jacobian-vector products
``J·v`` for ``n_directions`` random unit directions ``v`` with the derivative of
``t ↦ f(x + t v)`` at ``t = 0``: its cost is a fixed number of evaluations of ``f``
per direction whatever the size of ``x``, and with ``jvp=`` no Jacobian is ever
formed, so it scales to inputs of any size.

When Richardson's own error estimate shows that the finite differences are too
inaccurate to judge ``df`` (steps too large near a singularity of ``f``), a failed
check is repeated with smaller steps; see :func:`check_derivative`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from matgrad import numeric
from matgrad._types import ArrayLike, FloatArray, Shape
from matgrad.errors import InvalidArgumentError, NotCallableError, ShapeError

__all__ = [
    "DerivativeReport",
    "WorstEntry",
    "assert_derivative_close",
    "check_derivative",
]

Mode = Literal["full", "directional"]
Values = npt.NDArray[Any]  # float64 or complex128
Function = Callable[[Any], Any]
Jacobian = ArrayLike | Callable[[Any], Any] | None
Jvp = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class WorstEntry:
    """One of the compared entries with the largest discrepancy.

    In full mode ``index`` indexes the Jacobian (``S_out + S_in``); in directional
    mode it is ``(k, *o)``: direction number ``k`` and output index ``o`` of the
    product ``J·v``.

    >>> e = WorstEntry(index=(0, 1), analytic=2.0, numeric=1.0, abs_error=1.0)
    >>> e.index, e.abs_error
    ((0, 1), 1.0)
    """

    index: tuple[int, ...]
    analytic: float | complex
    numeric: float | complex
    abs_error: float


@dataclass(frozen=True)
class DerivativeReport:
    """The outcome of :func:`check_derivative`.

    ``error`` is the book's ``gradient_error`` of the compared values and
    ``max_abs_error`` their largest absolute difference; ``passed`` applies the
    criterion ``error <= rtol or max_abs_error <= atol``.  ``worst`` lists the
    compared entries with the largest differences, largest first.  In full mode the
    compared values are the Jacobians; in directional mode they are the products
    ``J·v`` stacked over the ``n_directions`` directions (shape
    ``(n_directions,) + out_shape``).  ``evaluations`` counts the calls of ``f``;
    ``numeric_error`` is the largest estimated error of the numerical values
    (available for ``method="richardson"``, else ``None``), and ``refinements``
    the number of repeats with smaller steps (see :func:`check_derivative`).
    ``str(report)`` is a readable multi-line account with the table of worst
    entries; ``summary()`` is its first line.

    >>> import numpy as np
    >>> report = check_derivative(np.sin, lambda x: np.diag(np.cos(x)), np.array([0.5, 1.0]))
    >>> report.passed, report.shape, report.mode
    (True, (2, 2), 'full')
    >>> print(report.summary())                      # doctest: +ELLIPSIS
    PASSED: full check of a Jacobian of shape (2,) + (2,), method 'richardson': ...
    """

    passed: bool
    error: float
    max_abs_error: float
    out_shape: Shape
    in_shape: Shape
    worst: tuple[WorstEntry, ...]
    mode: Mode
    method: str
    rtol: float
    atol: float
    n_directions: int
    evaluations: int
    numeric_error: float | None
    refinements: int

    @property
    def shape(self) -> Shape:
        """The Jacobian's shape, ``out_shape + in_shape``."""
        return self.out_shape + self.in_shape

    def summary(self) -> str:
        """One line: verdict, what was compared, and the error measures."""
        verdict = "PASSED" if self.passed else "FAILED"
        what = (
            "full check"
            if self.mode == "full"
            else f"directional check ({self.n_directions} "
            f"direction{'s' if self.n_directions != 1 else ''})"
        )
        return (
            f"{verdict}: {what} of a Jacobian of shape {self.out_shape} + {self.in_shape}, "
            f"method {self.method!r}: gradient error {self.error:.3g} (rtol {self.rtol:.3g}), "
            f"max abs error {self.max_abs_error:.3g} (atol {self.atol:.3g})"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        lines.append(
            "  criterion: passed iff gradient error <= rtol or max abs error <= atol; "
            f"{self.evaluations} evaluations of f"
        )
        if self.numeric_error is not None:
            lines.append(f"  estimated error of the numerical values: {self.numeric_error:.3g}")
        if self.refinements:
            lines.append(f"  steps refined {self.refinements} time(s), each by a factor 8")
        if self.worst:
            where = (
                "index into the Jacobian"
                if self.mode == "full"
                else "index (direction, *output index) into the products J·v"
            )
            lines.append(f"  worst entries ({where}):")
            lines.extend("    " + row for row in _table(self.worst))
        return "\n".join(lines)


def _table(entries: tuple[WorstEntry, ...]) -> list[str]:
    header = ("index", "analytic", "numeric", "abs error")
    rows = [
        (str(e.index), f"{e.analytic:.9g}", f"{e.numeric:.9g}", f"{e.abs_error:.3g}")
        for e in entries
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(4)]
    return [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in [header, *rows]
    ]


# --------------------------------------------------------------------------
# argument handling


class _Counted:
    """``f`` with a counter of its calls."""

    def __init__(self, f: Function) -> None:
        self.f = f
        self.calls = 0

    def __call__(self, x: Any) -> Any:
        self.calls += 1
        return self.f(x)


def _point(x: ArrayLike) -> FloatArray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"x must be an array of real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _values(value: Any, name: str) -> Values:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be an array of numbers: {exc}") from exc
    if arr.dtype.kind not in "biufc":
        raise InvalidArgumentError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    return arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)


def _analytic_jacobian(df: Jacobian, x: FloatArray, out_shape: Shape) -> Values:
    """``df`` (or ``df(x)``) as an array, checked to have shape ``S_out + S_in``."""
    value = df(x.copy()) if callable(df) else df
    jac = _values(value, "df(x)" if callable(df) else "df")
    expected = out_shape + x.shape
    if jac.shape != expected:
        source = "df(x) returned" if callable(df) else "df has"
        raise ShapeError(
            f"{source} shape {jac.shape}, but the Jacobian of f at x has shape "
            f"S_out + S_in = {out_shape} + {x.shape} = {expected}"
        )
    return jac


def _check_tolerance(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise InvalidArgumentError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


# --------------------------------------------------------------------------
# the two modes


def _numeric(
    f: Function, x: ArrayLike, method: str, step: ArrayLike | None, batched: bool
) -> tuple[Values, float | None]:
    """The numerical Jacobian of ``f`` at ``x`` and, if free, its largest error estimate."""
    if method == "richardson":  # the error estimate costs nothing extra here
        estimate = numeric.jacobian(
            f, x, method=method, step=step, batched=batched, return_error=True
        )
        worst = float(np.max(estimate.error, initial=0.0))
        return _values(estimate.value, "numeric"), worst
    value = numeric.jacobian(f, x, method=method, step=step, batched=batched)
    return _values(value, "numeric"), None


def _full(
    f: Function, x: FloatArray, method: str, step: ArrayLike | None, shrink: float, batched: bool
) -> tuple[Values, float | None]:
    """The numerical Jacobian, with numeric's default steps times ``shrink`` unless ``step``."""
    if step is None and shrink != 1.0:
        step = numeric.default_step(x, method) * shrink
    return _numeric(f, x, method, step, batched)


def _along(f: Function, x: FloatArray, direction: FloatArray) -> Function:
    """``t ↦ f(x + t·direction)``, for a scalar ``t`` or (batched) a stack ``(k,)`` of them."""

    def g(t: Any) -> Any:
        t = np.asarray(t)
        return f(x + t.reshape(t.shape + (1,) * x.ndim) * direction)

    return g


def _directions(shape: Shape, count: int, seed: int) -> list[FloatArray]:
    rng = np.random.default_rng(seed)
    result: list[FloatArray] = []
    for _ in range(count):
        v = rng.standard_normal(shape)
        norm = float(np.linalg.norm(v))
        result.append(v / norm if norm > 0 else v)
    return result


def _directional(
    f: Function,
    x: FloatArray,
    directions: list[FloatArray],
    method: str,
    step: ArrayLike | None,
    shrink: float,
    batched: bool,
) -> tuple[Values, float | None]:
    """The numerical ``J·v`` for each direction, stacked, and the largest error estimate.

    Each is the derivative at ``t = 0`` of ``t ↦ f(x + t s v)``, divided by ``s``: the
    default step along the unit direction scales with ``x`` as numeric's per-entry
    steps do (``s`` is ``max(|x|, 1)`` rounded to a power of two, so the division is
    exact); a user ``step`` is the plain distance along ``v``.
    """
    if step is None:
        largest = float(np.max(np.abs(x), initial=1.0))
        scale = 2.0 ** round(math.log2(largest))
        t_step = float(numeric.default_step(0.0, method)) * shrink
    else:
        scale, t_step = 1.0, float(np.asarray(step))
    values: list[Values] = []
    errors: list[float] = []
    for v in directions:
        value, error = _numeric(_along(f, x, scale * v), 0.0, method, t_step, batched)
        values.append(value / scale)
        if error is not None:
            errors.append(error / scale)
    return np.stack(values), (max(errors) if errors else None)


def _products(
    df: Jacobian, jvp: Jvp | None, x: FloatArray, directions: list[FloatArray], out_shape: Shape
) -> Values:
    """The analytic ``J·v`` for each direction, stacked: from ``jvp``, else from ``df``."""
    if jvp is None:
        jac = _analytic_jacobian(df, x, out_shape)
        return np.stack([np.tensordot(jac, v, axes=x.ndim) for v in directions])
    products = []
    for v in directions:
        product = _values(jvp(x.copy(), v.copy()), "jvp(x, v)")
        if product.shape != out_shape:
            raise ShapeError(
                f"jvp(x, v) returned shape {product.shape}, but f's output has shape "
                f"{out_shape}; the product J·v must have f's output shape"
            )
        products.append(product)
    return np.stack(products)


@dataclass(frozen=True)
class _Comparison:
    error: float
    max_abs_error: float
    difference: FloatArray  # |analytic - numeric|, NaN replaced by inf
    passed: bool


def _compare(analytic: Values, numerical: Values, rtol: float, atol: float) -> _Comparison:
    error = numeric.gradient_error(analytic, numerical)
    difference = np.abs(analytic - numerical)
    difference = np.where(np.isnan(difference), np.inf, difference)
    max_abs = float(np.max(difference, initial=0.0))
    passed = bool(error <= rtol or max_abs <= atol) and math.isfinite(max_abs)
    return _Comparison(error, max_abs, difference, passed)


def _undecided(
    analytic: Values, numerical: Values, numeric_error: float | None, rtol: float, atol: float
) -> bool:
    """Whether the numerical values are too uncertain to judge ``df`` by: their
    estimated error exceeds ``max(atol, rtol * scale)``, ``scale`` the largest
    magnitude among the compared values."""
    if numeric_error is None:
        return False
    scale = max(float(np.max(np.abs(a), initial=0.0)) for a in (analytic, numerical))
    return numeric_error > max(atol, rtol * scale)


_SHRINK = 1 / 8  # step reduction per refinement
_MAX_REFINEMENTS = 4


def check_derivative(
    f: Function,
    df: Jacobian,
    x: ArrayLike,
    *,
    method: str = "richardson",
    directional: bool = False,
    n_directions: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    seed: int = 0,
    jvp: Jvp | None = None,
    step: ArrayLike | None = None,
    batched: bool = False,
    n_worst: int = 5,
) -> DerivativeReport:
    """Compare the claimed Jacobian ``df`` of ``f`` at ``x`` with a numerical one.

    ``f`` maps a real array of shape ``S_in`` (``x``'s shape) to an array of shape
    ``S_out``; ``df`` is its claimed Jacobian of shape ``S_out + S_in``, either an
    array or a callable ``df(x)`` returning one.  Returns a
    :class:`DerivativeReport`; see the module docstring for the pass criterion
    (``gradient_error <= rtol or max |df − dh| <= atol``).

    - Full mode (default): the whole Jacobian against
      ``numeric.jacobian(f, x, method=method, step=step, batched=batched)``.
    - ``directional=True``: for ``n_directions`` random unit directions ``v``
      (from ``np.random.default_rng(seed)``), ``J·v`` (``df`` contracted over the
      input axes, or ``jvp(x, v)`` if ``jvp`` is given; then ``df`` must be
      ``None``) against the numerical derivative of ``t ↦ f(x + t v)`` at 0,
      with the same ``method``.  The cost is a fixed number of calls of ``f`` per
      direction (8 for Richardson, 2 for central differences), independent of
      ``x.size``.  ``step``, if given, is the single step along ``v``.

    Refinement: with ``method="richardson"`` and no ``step``, a failed comparison
    whose numerical values are themselves uncertain (Richardson's error estimate
    above ``max(atol, rtol·scale)``, ``scale`` the largest compared magnitude: the
    steps were too large for ``f``, say near a singularity) is repeated with all
    steps divided by 8, at most 4 times (down to the size of central-difference
    steps); ``report.refinements`` counts the repeats.  When the numerical values
    are accurate, a wrong ``df`` fails at once.

    ``batched=True`` means ``f`` accepts a stack of points ``(k,) + S_in`` and
    returns ``(k,) + S_out`` (as in :func:`matgrad.numeric.jacobian`).  ``n_worst``
    entries with the largest differences are kept in the report.

    Raises :class:`~matgrad.errors.NotCallableError` if ``f`` or ``jvp`` is not
    callable, :class:`~matgrad.errors.ShapeError` if ``df`` is not
    ``S_out + S_in`` or ``jvp`` does not return ``S_out``,
    :class:`~matgrad.errors.InvalidArgumentError` for bad options or a
    non-numeric ``df``, and whatever :func:`matgrad.numeric.jacobian` raises for
    ``f`` itself (e.g. :class:`~matgrad.errors.NonFiniteError`).

    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> check_derivative(lambda x: A @ x, A, np.array([1.0, -1.0])).passed
    True
    >>> report = check_derivative(lambda x: A @ x, A.T @ A, np.ones(2))  # wrong shape
    Traceback (most recent call last):
        ...
    matgrad.errors.ShapeError: df has shape (2, 2), but the Jacobian ... = (3,) + (2,) = (3, 2)
    >>> report = check_derivative(np.sin, lambda x: np.diag(np.cos(x)), np.ones(1000),
    ...                           directional=True)          # 24 calls of f, not 8000
    >>> report.passed, report.evaluations
    (True, 24)
    """
    if not callable(f):
        raise NotCallableError(f"f must be callable, got {type(f).__name__}: {f!r:.80}")
    if jvp is not None and not callable(jvp):
        raise NotCallableError(f"jvp must be callable, got {type(jvp).__name__}")
    if method not in numeric.METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {numeric.METHODS}")
    rtol = _check_tolerance("rtol", rtol)
    atol = _check_tolerance("atol", atol)
    n_worst = _check_count("n_worst", n_worst, 0)
    if jvp is not None:
        if not directional:
            raise InvalidArgumentError("jvp= is used in directional mode only (directional=True)")
        if df is not None:
            raise InvalidArgumentError("give either df or jvp in directional mode, not both")
    elif df is None:
        raise InvalidArgumentError("df is required (or jvp= with directional=True)")
    point = _point(x)
    if directional:
        n_directions = _check_count("n_directions", n_directions, 1)
        if step is not None and np.ndim(step) != 0:
            raise InvalidArgumentError(
                "in directional mode step= is the step along each direction: a single number"
            )
        directions = _directions(point.shape, n_directions, seed)
    else:
        n_directions = 0
    counted = _Counted(f)
    refinable = method == "richardson" and step is None
    analytic: Values | None = None
    refinements = 0
    while True:
        shrink = _SHRINK**refinements
        if directional:
            numerical, numeric_error = _directional(
                counted, point, directions, method, step, shrink, batched
            )
            out_shape: Shape = numerical.shape[1:]
            if analytic is None:
                analytic = _products(df, jvp, point, directions, out_shape)
        else:
            numerical, numeric_error = _full(counted, point, method, step, shrink, batched)
            out_shape = numerical.shape[: numerical.ndim - point.ndim]
            if analytic is None:
                analytic = _analytic_jacobian(df, point, out_shape)
        comparison = _compare(analytic, numerical, rtol, atol)
        if (
            comparison.passed
            or not refinable
            or refinements == _MAX_REFINEMENTS
            or not _undecided(analytic, numerical, numeric_error, rtol, atol)
        ):
            break
        refinements += 1
    return DerivativeReport(
        passed=comparison.passed,
        error=comparison.error,
        max_abs_error=comparison.max_abs_error,
        out_shape=out_shape,
        in_shape=point.shape,
        worst=_worst(analytic, numerical, comparison.difference, n_worst),
        mode="directional" if directional else "full",
        method=method,
        rtol=rtol,
        atol=atol,
        n_directions=n_directions,
        evaluations=counted.calls,
        numeric_error=numeric_error,
        refinements=refinements,
    )


def _scalar(value: Any) -> float | complex:
    return complex(value) if np.iscomplexobj(value) else float(value)


def _worst(
    analytic: Values, numerical: Values, difference: FloatArray, count: int
) -> tuple[WorstEntry, ...]:
    flat = difference.ravel()
    count = min(count, flat.size)
    if count == 0:
        return ()
    order = np.argsort(-flat, kind="stable")[:count]
    entries = []
    for k in order:
        index = tuple(int(i) for i in np.unravel_index(int(k), difference.shape))
        entries.append(
            WorstEntry(
                index=index,
                analytic=_scalar(analytic[index]),
                numeric=_scalar(numerical[index]),
                abs_error=float(flat[k]),
            )
        )
    return tuple(entries)


def assert_derivative_close(
    f: Function,
    df: Jacobian,
    x: ArrayLike,
    *,
    method: str = "richardson",
    directional: bool = False,
    n_directions: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    seed: int = 0,
    jvp: Jvp | None = None,
    step: ArrayLike | None = None,
    batched: bool = False,
    n_worst: int = 5,
) -> DerivativeReport:
    """:func:`check_derivative`, raising ``AssertionError`` with the report if it fails.

    Returns the (passing) report.  The message shows the shapes, both error
    measures against their tolerances, and a table of the worst entries.

    >>> import numpy as np
    >>> X = np.array([[2.0, 1.0], [0.5, 3.0]])
    >>> logabsdet = lambda X: np.linalg.slogdet(X)[1]
    >>> _ = assert_derivative_close(logabsdet, lambda X: np.linalg.inv(X).T, X)
    >>> assert_derivative_close(logabsdet, lambda X: np.linalg.inv(X), X)
    Traceback (most recent call last):
        ...
    AssertionError: FAILED: full check of a Jacobian of shape () + (2, 2), method 'richardson': ...
      criterion: passed iff gradient error <= rtol or max abs error <= atol; 32 evaluations of f
      estimated error of the numerical values: ...
      worst entries (index into the Jacobian):
        index   analytic  numeric  abs error
        (0, 1)  ...
    """
    report = check_derivative(
        f,
        df,
        x,
        method=method,
        directional=directional,
        n_directions=n_directions,
        rtol=rtol,
        atol=atol,
        seed=seed,
        jvp=jvp,
        step=step,
        batched=batched,
        n_worst=n_worst,
    )
    if not report.passed:
        raise AssertionError(str(report))
    return report
