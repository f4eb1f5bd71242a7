"""Forms in LaTeX (layer 2): the structure of matrix notation in the conventions of
mathematics, where vectors are columns: ``x^{\\top} A x``, ``\\operatorname{tr}``,
``X^{-1}``, ``\\odot``, and index notation with explicit sums for the fallback."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from matgrad.ir.expr import Constant, Delta, Ones, Symbol, Zero
from matgrad.printing import forms as fm
from matgrad.printing.notation import (
    ATOM,
    MUL,
    PRODUCTS,
    UNARY,
    R,
    Renderer,
    fraction,
    letter_map,
    py_number,
    reciprocal,
    starts_with_vector,
)
from matgrad.printing.text import TextRenderer

__all__ = ["LatexRenderer", "latex_name"]

# fmt: off
_GREEK = frozenset((
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
))
# fmt: on
_LATEX_ESCAPES = {
    "\\": r"\backslash{}",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"\sim{}",
    "^": r"\wedge{}",
}


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return "\\" + word
    if len(word) == 1 and word.isalnum():
        return word
    if word.isdigit():
        return word
    escaped = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in word)
    return f"\\mathrm{{{escaped}}}"


def _operator_name(name: str) -> str:
    """An operation's name inside ``\\operatorname``: letters as they are."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in name)


def latex_name(name: str) -> str:
    """A symbol name in LaTeX: trailing digits and ``_`` parts become subscripts,
    Greek letter names become letters.

    >>> latex_name("A0"), latex_name("x_hat"), latex_name("sigma"), latex_name("W12")
    ('A_{0}', 'x_{\\\\mathrm{hat}}', '\\\\sigma', 'W_{12}')
    """
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if match:
        return f"{_latex_word(match.group(1))}_{{{match.group(2)}}}"
    if "_" in name.strip("_"):
        base, sub = name.split("_", 1) if not name.startswith("_") else ("", name)
        if base:
            return f"{_latex_word(base)}_{{{_latex_word(sub)}}}"
    return _latex_word(name)


def latex_number(c: Any) -> str:
    """A Python number in LaTeX: ``0.5``, ``10^{-8}``, ``(1 + 2 i)``, ``\\infty``."""
    c = py_number(c)
    if isinstance(c, complex):
        re_, im = latex_number(c.real), latex_number(abs(c.imag))
        sign = "-" if c.imag < 0 or math.copysign(1.0, c.imag) < 0 else "+"
        return f"({re_} {sign} {im} i)" if c.real != 0 else f"{'-' if sign == '-' else ''}{im} i"
    text = repr(c)
    if text in ("inf", "-inf"):
        return text.replace("inf", r"\infty")
    if text == "nan":
        return r"\mathrm{NaN}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        if mantissa in ("1", "1.0"):
            return power
        if mantissa in ("-1", "-1.0"):
            return "-" + power
        return f"{mantissa} \\cdot {power}"
    return text


class LatexRenderer(Renderer):
    """Matrix notation in the conventions of mathematics: vectors are columns."""

    name_style = staticmethod(latex_name)
    number_style = staticmethod(latex_number)
    _text: TextRenderer | None = None

    def measurer(self) -> type[Renderer]:
        return TextRenderer

    def order_key(self, form: fm.Form) -> str:
        if self._text is None:
            self._text = TextRenderer(self.ctx, names=self.names)
            self._text.sized = self.sized  # the same identities read as I
        return self._text.render(form).text

    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        if not defs:
            return main
        return main + r",\quad \text{where } " + r",\; ".join(f"{n} = {t}" for n, t in defs)

    def paren(self, text: str) -> str:
        return f"\\left({text}\\right)"

    def _base(self, r: R) -> str:
        """``r`` as the base of a superscript."""
        return self.paren(r.text) if r.prec < ATOM or r.sup else r.text

    def _arg(self, r: R) -> str:
        """``r`` as a function argument."""
        return f"({r.text})" if r.prec == ATOM and not r.sup else self.paren(r.text)

    def _row(self, r: R) -> str:
        """A vector written as a row: ``x^{\\top}``."""
        return self._base(r) + "^{\\top}"

    def r_Leaf(self, form: fm.Leaf) -> R:
        node = form.node
        if isinstance(node, Symbol):
            return R(latex_name(node.name), ATOM)
        if isinstance(node, Delta):
            return R("I", ATOM)
        if isinstance(node, (Zero, Ones)):
            bold = r"\mathbf{0}" if isinstance(node, Zero) else r"\mathbf{1}"
            if not node.shape:
                return R("0" if isinstance(node, Zero) else "1", ATOM)
            if len(node.shape) == 1:
                return R(bold, ATOM)
            return R(bold + "_{" + r" \times ".join(map(str, node.shape)) + "}", ATOM)
        assert isinstance(node, Constant)
        if node.name:
            return R(latex_name(node.name), ATOM)
        if not node.shape:
            return self.number(node.value.item())
        if node.ndim <= 2 and node.size <= 16 and node.size:
            rows = node.value.reshape(-1, 1) if node.ndim == 1 else node.value
            body = r" \\ ".join(" & ".join(latex_number(v) for v in row) for row in rows.tolist())
            return R(f"\\begin{{bmatrix}} {body} \\end{{bmatrix}}", ATOM)
        size = r" \times ".join(map(str, node.shape))
        return R(f"C_{{{size}}}", ATOM)

    def r_Transpose(self, form: fm.Transpose) -> R:
        inner = self.resolve(form.x)
        if isinstance(inner, fm.OpForm) and inner.op.notation.latex_transposed is not None:
            return R(self.fill_template(inner, inner.op.notation.latex_transposed), ATOM, sup=True)
        return R(self._base(self.render(form.x)) + "^{\\top}", ATOM, sup=True)

    def _row_text(self, form: fm.Form) -> str:
        """A vector written as a row: ``x^{\\top}``, or ``x^{\\top} A`` for ``x @ A``."""
        inner = self.resolve(form)
        if form.ndim == 1 and starts_with_vector(inner):
            assert isinstance(inner, fm.MatMul)
            return " ".join(self._juxtapose(inner.factors))
        if form.ndim == 1 and isinstance(inner, fm.MatMul) and inner.factors[-1].ndim == 1:
            # the column Aᵀ v as a row is vᵀ A, where that has fewer transposes
            *mats, v = inner.factors
            flipped = [self.ctx.transpose(f) for f in reversed(mats)]
            if sum(self.ctx.cost(f) for f in flipped) < sum(self.ctx.cost(f) for f in mats):
                return " ".join(self._juxtapose([v, *flipped]))
        return self._row(self.render(form))

    def _juxtapose(self, factors: Sequence[fm.Form]) -> list[str]:
        """A chain in math notation: a leading vector is a row, others are columns."""
        parts = []
        for k, f in enumerate(factors):
            if k == 0 and f.ndim == 1 and len(factors) > 1:
                parts.append(self._row_text(f))
            else:
                parts.append(self.wrap(self.render(f), MUL, ("@",), first=k == 0))
        return parts

    def r_MatMul(self, form: fm.MatMul) -> R:
        factors = form.factors
        if form.ndim == 1 and factors[0].ndim == 1:  # x @ A is the column Aᵀ x
            factors = tuple(self.ctx.transpose(f) for f in reversed(factors))
        return R(" ".join(self._juxtapose(factors)), MUL, "@")

    def r_Mul(self, form: fm.Mul) -> R:
        numer, denom = fraction(form, self.resolve)
        parts = self.numerator(numer)
        text = parts[0]
        for p in parts[1:]:
            text += (r" \cdot " if p[:1].isdigit() else " ") + p
        if denom:
            below = " ".join(self.wrap(self.render(f), MUL, ("*",)) for f in denom)
            if numer[-1].ndim == 0:
                return R(f"\\frac{{{text}}}{{{below}}}", ATOM)
            *scalars, matrix = parts
            top = " ".join(scalars) or "1"
            return R(f"\\frac{{{top}}}{{{below}}} {matrix}", MUL, "*")
        return R(text, MUL, "*")

    def r_Hadamard(self, form: fm.Hadamard) -> R:
        return self.infix(form.factors, r"\odot", "⊙")

    def r_Kron(self, form: fm.Kron) -> R:
        return self.infix((form.a, form.b), r"\otimes", "⊗")

    def r_Outer(self, form: fm.Outer) -> R:
        a = self.wrap(self.render(form.a), MUL, ("@",))
        return R(f"{a} {self._row_text(form.b)}", MUL, "@")

    def _op(self, name: str, x: fm.Form) -> R:
        return R(f"\\operatorname{{{name}}}{self._arg(self.render(x))}", ATOM)

    def r_Trace(self, form: fm.Trace) -> R:
        return self._op("tr", form.x)

    def r_DiagOf(self, form: fm.DiagOf) -> R:
        return self._op("diag", form.x)

    def r_DiagMat(self, form: fm.DiagMat) -> R:
        return self._op("diag", form.x)

    def r_Sum(self, form: fm.Sum) -> R:
        x = self.render(form.x)
        one = r"\mathbf{1}"
        inner = self.wrap(x, MUL, ("@",))
        if form.x.ndim == 1:
            return R(f"{one}^{{\\top}} {inner}", MUL, "@")
        if form.x.ndim == 2 and form.axes is None:
            return R(f"{one}^{{\\top}} {inner} {one}", MUL, "@")
        if form.x.ndim == 2 and form.axes == (1,):
            return R(f"{inner} {one}", MUL, "@")
        if form.x.ndim == 2 and form.axes == (0,):
            return R(f"{self._base(x)}^{{\\top}} {one}", MUL, "@")
        if form.axes is None:
            return self._op("sum", form.x)
        axes = ",".join(map(str, form.axes))
        return R(f"\\operatorname{{sum}}_{{{axes}}}{self._arg(x)}", ATOM)

    def template(self, form: fm.OpForm) -> str | None:
        latex = form.op.notation.latex
        return latex(form.attr_dict, form.ndim) if callable(latex) else latex

    def operand_style(self, r: R, spec: str) -> str:
        if spec == "arg":
            return self._arg(r)
        if spec == "base":
            return self._base(r)
        if spec == "atom":
            return r.text if r.prec == ATOM and not r.sup else self.paren(r.text)
        return r.text

    def attr_style(self, value: Any, spec: str, scalar: bool) -> str:
        if spec == "times":
            return r" \times ".join(map(str, value)) or "()"
        text = super().attr_style(value, spec, scalar)
        return text if spec != "circ" or scalar else f"\\circ {text}"

    def superscript(self, notation: Any) -> bool:
        return bool(notation.superscript)

    def default_call(self, form: fm.OpForm, args: Sequence[R]) -> R:
        name = f"\\operatorname{{{_operator_name(form.op.name)}}}"
        if len(args) == 1 and not form.attrs:
            return R(name + self._arg(args[0]), ATOM)
        parts = [r.text for r in args]
        parts += [f"{k}={self.attr_style(v, '', False)}" for k, v in form.attrs]
        return R(f"{name}\\left({', '.join(parts)}\\right)", ATOM)

    def r_Generic(self, form: fm.Generic) -> R:
        args = ", ".join(self.render(a).text for a in form.args)
        return R(f"\\operatorname{{{_latex_word(form.kind)}}}\\left({args}\\right)", ATOM)

    def r_EinsumCall(self, form: fm.EinsumCall) -> R:
        letters = letter_map(form.indices, form.out)

        def sub(ids: Sequence[int]) -> str:
            names = [letters[i] for i in ids]
            return ("," if any(len(n) > 1 for n in names) else "").join(names)

        parts = []
        for f, ix in zip(form.operands, form.indices):
            if isinstance(f, fm.Leaf) and isinstance(f.node, Ones):
                continue
            if isinstance(f, fm.Leaf) and isinstance(f.node, Delta):
                parts.append(f"\\delta_{{{sub(ix)}}}")
                continue
            r = self.render(f)
            simple = r.prec == ATOM and not r.sup and "_" not in r.text
            base = r.text if simple else self.paren(r.text)
            parts.append(f"{base}_{{{sub(ix)}}}")
        body = " ".join(parts) or "1"
        summed = [i for i in letters if i not in form.out]
        if summed:
            body = f"\\sum_{{{sub(summed)}}} {body}"
        return R(f"\\left[{body}\\right]_{{{sub(form.out)}}}", ATOM)

    def _coefficient(self, c: Any) -> str:
        """A coefficient: ``2``, ``\\frac{1}{3}``, ``10^{-8}``."""
        n = reciprocal(c)
        if n is None:
            return latex_number(c)
        return f"{'-' if n < 0 else ''}\\frac{{1}}{{{abs(n)}}}"

    def times(self, c: Any, r: R) -> R:
        body = self.wrap(r, MUL, PRODUCTS, first=False)
        sep = r" \cdot " if body[:1].isdigit() else " "
        return R(self._coefficient(c) + sep + body, MUL, "*")

    def scaled_one(self, c: Any) -> R:
        text = self._coefficient(py_number(c))
        return R(text, UNARY if text.startswith("-") else ATOM)
