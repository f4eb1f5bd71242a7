"""Numerical differentiation of any tensor map (layer 1).

This package is matgrad's independent witness: it knows nothing of the symbolic
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

The package is layered along the stages of that routine:
:mod:`~matgrad.numeric.stencils` (the methods' stencils, the steps, the checks of
``x`` and :func:`default_step`), :mod:`~matgrad.numeric.evaluation` (the distinct
points and the checked calls of ``f``), :mod:`~matgrad.numeric.core` (the Richardson
tableau, the error estimate and :class:`Estimate`),
:mod:`~matgrad.numeric.derivatives` (:func:`jacobian`, :func:`gradient`,
:func:`hessian`) and :mod:`~matgrad.numeric.compare` (:func:`gradient_error`).
"""

from matgrad.numeric.compare import gradient_error
from matgrad.numeric.core import Estimate
from matgrad.numeric.derivatives import gradient, hessian, jacobian
from matgrad.numeric.evaluation import Function as Function
from matgrad.numeric.stencils import METHODS, default_step

__all__ = [
    "METHODS",
    "Estimate",
    "default_step",
    "gradient",
    "gradient_error",
    "hessian",
    "jacobian",
]
