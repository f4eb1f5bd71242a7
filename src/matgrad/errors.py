"""Exception types raised by matgrad.

Every error matgrad raises on purpose is a :class:`MatgradError`, and also an
instance of the builtin exception a Python user would expect (``ValueError``,
``TypeError``, ...), so ``except ValueError`` keeps working.  Messages say what
was wrong and what was expected.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MatgradError",
    "ShapeError",
    "InvalidArgumentError",
    "NotCallableError",
    "NonFiniteError",
    "BindingError",
    "UnsupportedOperationError",
    "ParseError",
    "NotDifferentiableError",
    "DegenerateSpectrumError",
    "ComplexSpectrumError",
    "MatgradWarning",
    "IllConditionedWarning",
]


class MatgradError(Exception):
    """Base class of every error matgrad raises deliberately."""


class ShapeError(MatgradError, ValueError):
    """Shapes that do not fit: an operation's operands, a binding, or a function
    that returns arrays of different shapes for different inputs."""


class InvalidArgumentError(MatgradError, ValueError):
    """An argument with the right type but a value outside what is allowed
    (a non-positive step, an unknown method name, a non-numeric array, ...)."""


class NotCallableError(MatgradError, TypeError):
    """Something that should be a function is not callable."""


class NonFiniteError(MatgradError, FloatingPointError):
    """A function produced NaN or infinity where a finite value is needed."""


class BindingError(MatgradError, ValueError):
    """Missing, extra or wrong-shaped values bound to the symbols of an expression."""


class UnsupportedOperationError(MatgradError, TypeError):
    """An operation (for example a NumPy function) that matgrad does not support."""


class ParseError(MatgradError, ValueError):
    """Text that is not a valid matgrad expression."""


class NotDifferentiableError(MatgradError, TypeError):
    """A function that has no derivative anywhere matgrad could use (an integer-valued,
    piecewise constant function such as ``numpy.linalg.matrix_rank``)."""


class DegenerateSpectrumError(MatgradError, np.linalg.LinAlgError):
    """Repeated (or zero) eigenvalues or singular values where a derivative that does
    not exist there is needed: eigenvectors at a repeated eigenvalue, singular
    vectors at a repeated or zero singular value, the second derivative of a single
    eigenvalue at a tie.  Functions of the spectrum as a whole stay differentiable."""


class ComplexSpectrumError(MatgradError, np.linalg.LinAlgError):
    """A real matrix with complex (conjugate pairs of) eigenvalues given to ``eig`` or
    ``eigvals``: matgrad's expressions are real, so these are defined, and
    differentiated, only at matrices whose spectrum is real.  Real functions of the
    spectrum stay available: ``trace`` (the sum of the eigenvalues), ``det`` (their
    product), ``eigh``/``eigvalsh`` for symmetric matrices, matrix functions such as
    ``expm`` and their traces."""


class MatgradWarning(UserWarning):
    """Base class of every warning matgrad issues deliberately."""


class IllConditionedWarning(MatgradWarning, RuntimeWarning):
    """A result computed with an ill-conditioned matrix (``inv``, ``solve``, the
    derivatives of ``logdet``): its estimated relative error, the condition number
    times the machine epsilon, exceeds 1e-6.  The value is returned; raise it as an
    error with ``warnings.simplefilter("error", IllConditionedWarning)``."""
