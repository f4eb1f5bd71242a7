"""Jacobian determinants: how a map ℝⁿ → ℝⁿ scales volume (layer 4).

For a differentiable ``f`` with square Jacobian ``J = ∂f/∂x``, ``|det J(x)|`` is the
factor by which ``f`` stretches an infinitesimal volume around ``x`` (MML §5.3,
Figure 5.5: the map ``(x₁, x₂) ↦ (−2x₁ + x₂, x₁ + x₂)`` turns the unit square into
a parallelogram of area ``|det J| = 3``).  It is the factor of the
change-of-variables formula for integrals and probability densities,
``p_y(f(x)) |det J(x)| = p_x(x)``; densities are usually handled through its
logarithm, :func:`log_abs_det_jacobian`.

Both functions take either

* an **expression** and the **symbol** it is a function of: they return an
  expression (``det`` or ``logdet`` of the symbolic Jacobian), or
* a **Python function** written with NumPy and a **point**: they trace it with
  :func:`matgrad.jacobian` and return the number at that point.

The output must have the input's shape (a map of a space to itself).  Vectors
are the usual case; for other shapes the Jacobian tensor is flattened the same
way on both sides (``prod(shape) × prod(shape)``), which leaves the determinant
unchanged whatever the flattening order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np

from matgrad._types import ArrayLike
from matgrad.calculus.diff import derivative
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.function_api.transforms import jacobian
from matgrad.ir.expr import Expr, Symbol
from matgrad.ops import det, logdet
from matgrad.ops.structure import reshape

__all__ = ["jacobian_det", "log_abs_det_jacobian"]


def _square_jacobian(expr: Expr, wrt: Any, what: str) -> Expr:
    if not isinstance(wrt, Symbol):
        raise InvalidArgumentError(
            f"{what}: with an expression, the second argument must be the symbol it is a "
            f"function of, got {type(wrt).__name__}"
        )
    if expr.shape != wrt.shape:
        raise ShapeError(
            f"{what} needs a map of a space to itself: the expression has shape "
            f"{expr.shape} but {wrt.name!r} has shape {wrt.shape}"
        )
    jac = derivative(expr, wrt)
    n = wrt.size
    return reshape(jac, (n, n))


def _numeric_jacobian(fun: Callable[..., Any], point: ArrayLike, what: str) -> Any:
    x = np.asarray(point)
    if np.iscomplexobj(x):
        raise InvalidArgumentError(f"{what}: the point must be real, got dtype {x.dtype}")
    jac = np.asarray(jacobian(fun)(x))
    out_shape = jac.shape[: jac.ndim - x.ndim]
    if out_shape != x.shape:
        raise ShapeError(
            f"{what} needs a map of a space to itself: the function maps shape {x.shape} "
            f"to shape {out_shape}"
        )
    return jac.reshape(x.size, x.size)


@overload
def jacobian_det(f: Expr, wrt: Symbol) -> Expr: ...
@overload
def jacobian_det(f: Callable[..., Any], wrt: ArrayLike) -> float: ...
def jacobian_det(f: Any, wrt: Any) -> Expr | float:
    """``det(∂f/∂x)``: an expression for ``jacobian_det(expr, x)``, a number for
    ``jacobian_det(fun, x0)``.

    >>> import numpy as np, matgrad as mg
    >>> x = mg.Vector("x", 2)
    >>> J0 = np.array([[-2.0, 1.0], [1.0, 1.0]])          # MML Figure 5.5
    >>> d = mg.jacobian_det(J0 @ x, x)       # a linear map: d depends on no symbol
    >>> round(float(d.evaluate()), 12)
    -3.0
    >>> round(mg.jacobian_det(lambda v: J0 @ v, np.ones(2)), 12)
    -3.0
    """
    if isinstance(f, Expr):
        return det(_square_jacobian(f, wrt, "jacobian_det"))
    if callable(f):
        return float(np.linalg.det(_numeric_jacobian(f, wrt, "jacobian_det")))
    raise InvalidArgumentError(
        f"jacobian_det needs an expression or a function, got {type(f).__name__}"
    )


@overload
def log_abs_det_jacobian(f: Expr, wrt: Symbol) -> Expr: ...
@overload
def log_abs_det_jacobian(f: Callable[..., Any], wrt: ArrayLike) -> float: ...
def log_abs_det_jacobian(f: Any, wrt: Any) -> Expr | float:
    """``log |det(∂f/∂x)|``, the log-volume change of a change of variables: an
    expression for ``(expr, x)``, a number for ``(fun, x0)``; ``-inf`` where the
    Jacobian is singular.

    >>> import numpy as np, matgrad as mg
    >>> x = mg.Vector("x", 3)
    >>> ld = mg.log_abs_det_jacobian(mg.exp(x), x)       # det = exp(x₁ + x₂ + x₃)
    >>> float(ld.evaluate(x=np.array([0.5, 1.0, -2.0])))
    -0.5
    """
    if isinstance(f, Expr):
        return logdet(_square_jacobian(f, wrt, "log_abs_det_jacobian"))
    if callable(f):
        sign_and_log = np.linalg.slogdet(_numeric_jacobian(f, wrt, "log_abs_det_jacobian"))
        return float(sign_and_log[1])
    raise InvalidArgumentError(
        f"log_abs_det_jacobian needs an expression or a function, got {type(f).__name__}"
    )
