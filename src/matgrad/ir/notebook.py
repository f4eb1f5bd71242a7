"""How an expression shows in a Jupyter notebook (layer 2): the rich representations
that ``Expr._repr_mimebundle_`` and ``Expr._repr_markdown_`` return
(``Expr._repr_latex_`` keeps returning the bare ``$formula$``).

IPython calls these methods when a cell's value is an expression (IPython is never
imported here).  Front ends pick one representation of the bundle by their own order
of preference, so both forms carry the formula *and* a caption line with the shapes
of the symbols:

* ``text/markdown`` (display math ``$$ … $$``, then the caption with the names as
  code) is what JupyterLab (renderer ranks: HTML 50, Markdown 60, LaTeX 70) and the
  classic Notebook (HTML, Markdown, LaTeX) choose;
* ``text/latex`` (``$\\displaystyle …$``, then the caption in LaTeX text, which reads
  the same as Markdown) is what VS Code chooses (its order puts LaTeX before
  Markdown, and it renders LaTeX output with its Markdown renderer and KaTeX) and
  what nbconvert's LaTeX/PDF export uses.

There is deliberately no ``text/html``: every front end would prefer it, and VS Code
does not typeset math inside HTML.

>>> import matgrad as mg
>>> X, x = mg.Matrix("X", (3, 3)), mg.Vector("x", 3)
>>> caption(X @ x)
'vector of 3 · X: 3×3 matrix, x: vector of 3'
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, Protocol

import numpy as np

from matgrad._types import Shape

__all__ = ["caption", "describe", "latex", "markdown", "mimebundle"]

LATEX = "text/latex"
MARKDOWN = "text/markdown"


class Displayed(Protocol):
    """What the notebook forms need of an expression (``Expr`` has all of it)."""

    @property
    def shape(self) -> Shape: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def latex(self) -> str: ...

    def symbols(self) -> tuple[Any, ...]: ...


def describe(shape: Shape, dtype: Any = np.float64, symmetric: bool = False) -> str:
    """A shape in words: ``scalar``, ``vector of 3``, ``3×4 matrix``, ``2×3×4 tensor``.

    >>> describe((3, 3), symmetric=True), describe((2, 3, 4)), describe((), complex)
    ('3×3 symmetric matrix', '2×3×4 tensor', 'complex scalar')
    """
    kind = (
        "scalar" if not shape
        else f"vector of {shape[0]}" if len(shape) == 1
        else "×".join(map(str, shape)) + (" symmetric" if symmetric else "")
        + (" matrix" if len(shape) == 2 else " tensor")
    )
    return ("complex " if np.issubdtype(np.dtype(dtype), np.complexfloating) else "") + kind


def caption(expr: Displayed) -> str:
    """The line under the formula: the expression's shape, then each symbol's
    (``symbols()`` order: by name)."""
    return _caption(expr, str)


def latex(expr: Displayed) -> str:
    """``text/latex``: the formula in display style on one line, a blank line, the
    caption (LaTeX text whose escapes are also Markdown's)."""
    return f"$\\displaystyle {_one_line(expr.latex())}$\n\n{_caption(expr, _tex)}\n"


def markdown(expr: Displayed) -> str:
    """``text/markdown``: the formula as display math, then the caption (symbol names
    in code spans, so that no Markdown character in a name applies)."""
    return f"$$\n{_one_line(expr.latex())}\n$$\n\n{_caption(expr, _code)}\n"


_FORMS: dict[str, Callable[[Displayed], str]] = {MARKDOWN: markdown, LATEX: latex}


def mimebundle(
    expr: Displayed,
    include: Container[str] | None = None,
    exclude: Container[str] | None = None,
) -> dict[str, str]:
    """The ``{mime type: text}`` bundle of ``_repr_mimebundle_``, limited to the types
    in ``include`` (all when None) and not in ``exclude``; ``text/plain`` is left to
    IPython, which takes it from ``repr``."""
    return {
        mime: form(expr)
        for mime, form in _FORMS.items()
        if (include is None or mime in include) and (exclude is None or mime not in exclude)
    }


def _caption(expr: Displayed, name: Callable[[str], str]) -> str:
    symbols = ", ".join(
        f"{name(s.name)}: {describe(s.shape, s.dtype, bool(getattr(s, 'symmetric', False)))}"
        for s in expr.symbols()
    )
    own = describe(expr.shape, expr.dtype)
    return f"{own} · {symbols}" if symbols else own


def _one_line(tex: str) -> str:
    """LaTeX without line breaks in the source (a blank line would end a Markdown
    math block); ``\\\\`` row breaks are kept."""
    return " ".join(tex.split())


_TEX_SPECIAL = str.maketrans({c: "\\" + c for c in "_&%#${}"})


def _tex(name: str) -> str:
    """A name as LaTeX text: ``x_1`` → ``x\\_1`` (a backslash escape that Markdown
    reads as the plain character too)."""
    return name.translate(_TEX_SPECIAL)


def _code(name: str) -> str:
    ticks = "``" if "`" in name else "`"
    pad = " " if "`" in name else ""
    return f"{ticks}{pad}{name}{pad}{ticks}"
