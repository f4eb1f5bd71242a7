"""Printing expressions: matrix notation, LaTeX, index notation, NumPy source (layer 2).

Four forms of one expression, all available as functions here and as methods of
every expression once this module is imported (``import matgrad`` does it):

========================  ====================  ======================================
function                  method                example
========================  ====================  ======================================
:func:`to_text`           ``str(e)``            ``(A + A.T) @ X``
:func:`to_latex`          ``e.latex()``         ``\\left(A + A^{\\top}\\right) X``
:func:`to_index_notation` ``e.einsum()``        ``out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]``
:func:`to_numpy`          ``e.to_numpy("f")``   ``def f(A, X): ...`` (source code)
========================  ====================  ======================================

Matrix notation follows NumPy's rules, so the text of most expressions is valid
NumPy: a vector is neither a row nor a column (``x @ A @ x``, ``a @ X @ b``), ``@``
binds like ``*``, and ``.T`` transposes.  (LaTeX follows mathematics instead:
vectors are columns, ``x^{\\top} A x``; ``x @ A`` is ``A^{\\top} x``.)  Only ``⊙``
(Hadamard product), ``⊗`` (Kronecker product) and ``I`` (identity of the size
that fits) are not Python.  Einsums that are not matrix products, traces,
diagonals, sums, Hadamard or outer products print as
``einsum("ik,jl->ijkl", I, R)`` calls whose operands are again in matrix
notation.  See ``docs/printing.md``.

This module is the public face; the work is done by private modules:
:mod:`matgrad.printing.matrix` (with :mod:`matgrad.printing.forms` and
:mod:`matgrad.printing.einsum_forms`) reads the expression DAG into matrix-notation
forms, :mod:`matgrad.printing.notation` holds what the printers share, and
:mod:`matgrad.printing.text`, :mod:`matgrad.printing.latex`,
:mod:`matgrad.printing.index` and :mod:`matgrad.printing.numpy_source` write the four
forms.

>>> from matgrad.ir.expr import Matrix
>>> from matgrad import ops
>>> X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
>>> print(to_text(ops.trace(X.T @ A @ X)))
trace(X.T @ A @ X)
>>> print(to_latex(ops.inv(X).T @ A))
X^{-\\top} A
"""

from __future__ import annotations

from typing import Any

from matgrad.ir.expr import HOOKS, as_expr
from matgrad.printing.index import IndexPrinter
from matgrad.printing.latex import LatexRenderer
from matgrad.printing.latex import latex_name as latex_name  # re-exported
from matgrad.printing.matrix import FormContext
from matgrad.printing.notation import NAMING_THRESHOLD as NAMING_THRESHOLD  # re-exported
from matgrad.printing.notation import index_letters as index_letters  # re-exported
from matgrad.printing.numpy_source import function_source
from matgrad.printing.text import TextRenderer

__all__ = [
    "NAMING_THRESHOLD",
    "index_letters",
    "latex_name",
    "to_index_notation",
    "to_latex",
    "to_numpy",
    "to_text",
]

def _shown(expr: Any, display: bool) -> Any:
    """``expr`` as an expression, in the display normal form
    (:func:`matgrad.calculus.display.display`) unless ``display`` is false."""
    node = as_expr(expr)
    rewrite = HOOKS.get("display") if display else None
    if rewrite is None:
        return node
    try:
        return rewrite(node)
    except RecursionError:  # a DAG too deep to rewrite: print it as it is
        return node


def to_text(expr: Any, *, display: bool = True) -> str:
    """The expression in matrix notation (what ``str(expr)`` shows): of its form
    for reading (:func:`matgrad.calculus.display.display`), or with
    ``display=False`` of the expression as it is computed.

    >>> from matgrad.ir.expr import Matrix, Vector
    >>> from matgrad import ops
    >>> X, A, x = Matrix("X", (3, 3)), Matrix("A", (3, 3)), Vector("x", 3)
    >>> print(to_text(x @ A @ x))
    x @ A @ x
    >>> print(to_text(ops.diag(x) @ X.T))
    diag(x) @ X.T
    """
    return TextRenderer(FormContext(_shown(expr, display))).document()


def to_latex(expr: Any, *, display: bool = True) -> str:
    """The expression in LaTeX (math mode, without the ``$``), of its form for
    reading unless ``display=False`` (as :func:`to_text`).

    >>> from matgrad.ir.expr import Matrix, Vector
    >>> from matgrad import ops
    >>> X, a, b = Matrix("X", (3, 3)), Vector("a", 3), Vector("b", 3)
    >>> print(to_latex(a @ X @ b + ops.logdet(X)))
    a^{\\top} X b + \\log\\lvert\\det X\\rvert
    """
    return LatexRenderer(FormContext(_shown(expr, display))).document()


def to_index_notation(expr: Any) -> str:
    """The expression in index (Einstein) notation, free indices on the left.

    Nested products are fused (``(A @ B) @ C`` is ``A[i,k] B[k,l] C[l,j]``); an
    index of a product that is not free is summed over that product, as in
    ``numpy.einsum``.  Matrix functions keep matrix notation inside:
    ``inv(A @ B)[i,j]``.

    >>> from matgrad.ir.expr import Matrix
    >>> X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
    >>> print(to_index_notation(A @ X + A.T @ X))
    out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]
    """
    return IndexPrinter(as_expr(expr)).document()


def to_numpy(expr: Any, name: str = "f") -> str:
    """Python source of ``def <name>(<symbols sorted by name>)`` evaluating the
    expression with NumPy alone (the source starts with ``import numpy as np``).

    Every distinct node is computed once, into a local variable; constants are
    embedded at full precision; symbol names that are not Python identifiers are
    made into identifiers (``x'`` becomes ``x_``).

    >>> from matgrad.ir.expr import Matrix
    >>> from matgrad import ops
    >>> X = Matrix("X", (3, 3))
    >>> print(to_numpy(2 * ops.trace(X @ X), name="g"))
    import numpy as np
    <BLANKLINE>
    <BLANKLINE>
    def g(X):
        \"\"\"X: (3, 3) -> ()\"\"\"
        t0 = np.einsum("ik,kj->ij", X, X)
        t1 = np.einsum("ii->", t0)
        t2 = 2 * t1
        return t2
    <BLANKLINE>
    """
    return function_source(as_expr(expr), name)


HOOKS["text"] = to_text
HOOKS["latex"] = to_latex
HOOKS["einsum"] = to_index_notation
HOOKS["numpy"] = to_numpy
