"""The public derivatives of :mod:`matgrad.numeric`: :func:`jacobian`,
:func:`gradient` and :func:`hessian`, each a call of the core routine
(:mod:`matgrad.numeric.core`)."""

from __future__ import annotations

from typing import Literal, overload

from matgrad._types import ArrayLike
from matgrad.numeric.core import Estimate, _differentiate, _Inexact
from matgrad.numeric.evaluation import Function

__all__ = ["gradient", "hessian", "jacobian"]

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
    stack ``(k,) + S_in`` to ``(k,) + S_out`` and all points go in one call; the
    points and the arithmetic on the values are the same bits as unbatched, so the
    results are equal if ``f`` rounds each row of a stack as it rounds that point
    alone (``A @ B`` on a stack may use another BLAS kernel, and ``y**2`` of a
    NumPy scalar calls ``pow``; one ulp of ``f`` is ``ulp/h`` in the derivative).
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
