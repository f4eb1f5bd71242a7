"""Exception types raised by matgrad.

Every error matgrad raises on purpose is a :class:`MatgradError`, and also an
instance of the builtin exception a Python user would expect (``ValueError``,
``TypeError``, ...), so ``except ValueError`` keeps working.  Messages say what
was wrong and what was expected.  An expression's text in a message (or a check
report) goes through :func:`elide`, so a message stays readable however large the
expression: at most :data:`MESSAGE_LIMIT` characters of it are shown.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MESSAGE_LIMIT",
    "elide",
    "MatgradError",
    "ShapeError",
    "InvalidArgumentError",
    "NotCallableError",
    "NonFiniteError",
    "BindingError",
    "UnsupportedOperationError",
    "MissingDependencyError",
    "ParseError",
    "NotDifferentiableError",
    "DegenerateSpectrumError",
    "ComplexSpectrumError",
    "MatgradWarning",
    "IllConditionedWarning",
]


MESSAGE_LIMIT = 300
"""The most characters of an expression's text that an error message or a check
report shows; longer text is elided in the middle by :func:`elide`."""


def elide(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` itself if it has at most ``limit`` characters, else its head and tail
    around a note saying how many characters were left out; the result has at most
    ``limit`` characters (or the note alone, if ``limit`` is smaller than it).

    >>> elide("x + y")
    'x + y'
    >>> elide("a" * 100 + "b" * 100, limit=60)
    'aaaaaaaaaaaaaaa … [171 characters left out] … bbbbbbbbbbbbbb'
    """
    if len(text) <= limit:
        return text
    left_out = len(text)
    while True:  # the note's length depends on the count it states
        note = f" … [{left_out} characters left out] … "
        kept = max(0, limit - len(note))
        if len(text) - kept == left_out:
            break
        left_out = len(text) - kept
    head = kept - kept // 2
    return text[:head] + note + text[len(text) - (kept - head):]


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


class MissingDependencyError(MatgradError, ImportError):
    """An optional dependency (an engine for ``backend=``, say) that is not installed;
    the message names the extra to install (``pip install 'matgrad[dask]'``)."""


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
