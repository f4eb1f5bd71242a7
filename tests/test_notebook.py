"""Expressions in Jupyter (issue 13, item 3): ``_repr_mimebundle_`` gives Markdown
(display math and a caption with the shapes) and LaTeX; ``_repr_markdown_`` and
``_repr_latex_`` the same forms one by one.  Jupyter is not needed: the methods are
called directly, as IPython's display formatter would."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import matgrad as mg
from matgrad.ir.notebook import caption, describe

MARKDOWN, LATEX = "text/markdown", "text/latex"


def math_and_caption(markdown: str) -> tuple[str, str]:
    """The display-math block's content and the caption under it."""
    assert markdown.startswith("$$\n")
    math, rest = markdown[3:].split("\n$$\n", 1)
    return math, rest.strip()


def latex_math_and_caption(latex: str) -> tuple[str, str]:
    """The same for the ``text/latex`` form: ``$\\displaystyle …$``, a blank line,
    the caption."""
    head, caption_text = latex.split("\n\n", 1)
    assert head.startswith("$\\displaystyle ") and head.endswith("$")
    return head[len("$\\displaystyle "):-1], caption_text.strip()


@pytest.fixture
def symbols() -> tuple[mg.Symbol, mg.Symbol, mg.Symbol]:
    return mg.Matrix("X", (3, 3)), mg.Matrix("A", (3, 3)), mg.Vector("x", 3)


def test_the_bundle_has_markdown_and_latex_and_no_html(symbols: tuple[mg.Symbol, ...]) -> None:
    X, _, x = symbols
    bundle = (X @ x)._repr_mimebundle_()
    assert set(bundle) == {MARKDOWN, LATEX}  # no text/html: VS Code would not typeset it
    assert (X @ x)._repr_mimebundle_(include={LATEX}) == {LATEX: bundle[LATEX]}
    assert (X @ x)._repr_mimebundle_(exclude={LATEX}) == {MARKDOWN: bundle[MARKDOWN]}
    assert bundle[MARKDOWN] == (X @ x)._repr_markdown_()


def test_caption_names_every_symbol_with_its_shape(symbols: tuple[mg.Symbol, ...]) -> None:
    X, A, x = symbols
    S = mg.Matrix("S", (3, 3), symmetric=True)
    s = mg.Scalar("s")
    assert caption(X @ x) == "vector of 3 · X: 3×3 matrix, x: vector of 3"
    assert caption(s * mg.trace(A @ S)) == (
        "scalar · A: 3×3 matrix, S: 3×3 symmetric matrix, s: scalar"
    )
    _, under = math_and_caption((X @ x)._repr_markdown_())
    assert under == "vector of 3 · `X`: 3×3 matrix, `x`: vector of 3"
    _, under = latex_math_and_caption((X @ x)._repr_mimebundle_()[LATEX])
    assert under == "vector of 3 · X: 3×3 matrix, x: vector of 3"  # VS Code shows this one


def test_jacobian_tensors_show_their_shape(symbols: tuple[mg.Symbol, ...]) -> None:
    X, A, x = symbols
    H = mg.derivative(mg.trace(X.T @ A @ X), X, order=2)  # A ⊗ I + Aᵀ ⊗ I, rank 4
    assert H.shape == (3, 3, 3, 3)
    math, under = math_and_caption(H._repr_markdown_())
    assert under.startswith("3×3×3×3 tensor · ") and "`A`: 3×3 matrix" in under
    assert math == " ".join(H.latex().split())
    J = mg.derivative(mg.tanh(X @ x), x)  # a Jacobian matrix
    assert caption(J).startswith("3×3 matrix · ")
    identity = mg.derivative(mg.trace(X), X)  # a constant: no symbols left
    assert caption(identity) == "3×3 matrix"


def test_describe_words() -> None:
    assert describe(()) == "scalar"
    assert describe((4,)) == "vector of 4"
    assert describe((2, 5)) == "2×5 matrix"
    assert describe((2, 3, 4)) == "2×3×4 tensor"
    assert describe((3, 3), np.complex128) == "complex 3×3 matrix"
    Z = mg.Matrix("Z", (2, 2), dtype=np.complex128)
    assert caption(Z) == "complex 2×2 matrix · Z: complex 2×2 matrix"


def test_math_is_one_block_even_when_the_printout_has_several_lines() -> None:
    x, A, b = mg.Vector("x", 3), mg.Matrix("A", (3, 3)), mg.Vector("b", 3)
    r = A @ x - b
    shared = mg.sum(mg.exp(r)) * mg.sum(mg.sin(r)) + mg.sum(mg.cos(r))  # r occurs 3 times
    for e in (shared, mg.derivative(shared, x), mg.derivative(shared, x, order=2)):
        math, _ = math_and_caption(e._repr_markdown_())
        assert "\n" not in math and "$" not in math
        latex_math, under = latex_math_and_caption(e._repr_mimebundle_()[LATEX])
        assert latex_math == math and "$" not in latex_math
        assert under == caption(e)


def test_odd_symbol_names_stay_code() -> None:
    odd = mg.Vector("x_1#", 2)
    _, under = math_and_caption(mg.sum(odd)._repr_markdown_())
    assert "`x_1#`: vector of 2" in under
    _, under = latex_math_and_caption(mg.sum(odd)._repr_mimebundle_()[LATEX])
    assert "x\\_1\\#: vector of 2" in under  # LaTeX escapes, which Markdown reads too
    tick = mg.Scalar("a`b")
    _, under = math_and_caption((tick * 2.0)._repr_markdown_())
    assert "`` a`b ``: scalar" in under


def test_the_old_latex_repr_is_kept(symbols: tuple[mg.Symbol, ...]) -> None:
    X, A, _ = symbols
    assert (A @ X)._repr_latex_() == f"${(A @ X).latex()}$"


def test_rendering_imports_no_ipython() -> None:
    code = (
        "import sys, matgrad as mg\n"
        "X = mg.Matrix('X', (2, 2))\n"
        "(X @ X)._repr_mimebundle_(); (X @ X)._repr_markdown_(); (X @ X)._repr_latex_()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('IPython', 'jupyter_core', 'nbformat', 'ipykernel')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ipython_display_formatter_picks_the_forms_up() -> None:
    """Runs only where IPython is installed (it is not a test dependency)."""
    formatters = pytest.importorskip("IPython.core.formatters")
    X = mg.Matrix("X", (2, 2))
    data, _ = formatters.DisplayFormatter().format(X @ X.T)
    assert data[MARKDOWN] == (X @ X.T)._repr_markdown_()
    assert data[LATEX].startswith("$")
    assert data["text/plain"] == repr(X @ X.T)
