"""Printing expressions: matrix notation, LaTeX, index notation, NumPy source (layer 2).

Four forms of one expression, all available as functions here and as methods of
every expression once this module is imported (``import matgrad`` does it):

========================  ====================  ======================================
function                  method                example
========================  ====================  ======================================
:func:`to_text`           ``str(e)``            ``A @ X + A.T @ X``
:func:`to_latex`          ``e.latex()``         ``A X + A^{\\top} X``
:func:`to_index_notation` ``e.einsum()``        ``out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]``
:func:`to_numpy`          ``e.to_numpy("f")``   ``def f(A, X): ...`` (source code)
========================  ====================  ======================================

Matrix notation follows NumPy's rules, so the text of most expressions is valid
NumPy: a vector is neither a row nor a column (``x @ A @ x``, ``a @ X @ b``), ``@``
binds like ``*``, and ``.T`` transposes.  (LaTeX follows mathematics instead:
vectors are columns, ``x^{\\top} A x``; ``x @ A`` is ``A^{\\top} x``.)  Only ``⊙`` (Hadamard product), ``⊗``
(Kronecker product) and ``I`` (identity of the size that fits) are not Python.
Einsums that are not matrix products, traces, diagonals, sums, Hadamard or outer
products print as ``einsum("ik,jl->ijkl", I, R)`` calls whose operands are again
in matrix notation.  See ``docs/printing.md``.

>>> from matgrad.expr import Matrix
>>> from matgrad import ops
>>> X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
>>> print(to_text(ops.trace(X.T @ A @ X)))
trace(X.T @ A @ X)
>>> print(to_latex(ops.inv(X).T @ A))
X^{-\\top} A
"""

from __future__ import annotations

import keyword
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from matgrad import _matrix_notation as mn
from matgrad._types import Array
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.expr import (
    HOOKS,
    Add,
    Constant,
    Delta,
    Einsum,
    Elementwise,
    Expr,
    MatrixFunction,
    Ones,
    Reshape,
    Symbol,
    Zero,
    as_expr,
)

__all__ = [
    "NAMING_THRESHOLD",
    "PRINTED_KINDS",
    "index_letters",
    "latex_name",
    "to_index_notation",
    "to_latex",
    "to_numpy",
    "to_text",
]

PRINTED_KINDS = frozenset(
    (
        "symbol",
        "constant",
        "zero",
        "ones",
        "delta",
        "einsum",
        "add",
        "elementwise",
        "inv",
        "det",
        "logdet",
        "adj",
        "reshape",
    )
)
"""Node kinds every printer handles (the completeness test checks it against the IR)."""

NAMING_THRESHOLD = 4000
"""Above this estimated length (characters) of the fully expanded text, shared
subexpressions are printed once, as ``where t1 = ...`` definitions."""

_MIN_NAMED = 30  # a shared subexpression shorter than this is repeated, not named

# precedence levels: lower binds looser
_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5

_LETTERS = "ijklmnopqrstuvwxyzabcdefgh" + "ijklmnopqrstuvwxyzabcdefgh".upper()


def index_letters(count: int) -> list[str]:
    """Names of ``count`` indices: ``i, j, k, ...`` (52 letters, then ``i1, i2, ...``).

    >>> index_letters(4)
    ['i', 'j', 'k', 'l']
    """
    return [_LETTERS[k] if k < len(_LETTERS) else f"i{k - len(_LETTERS) + 1}" for k in range(count)]


# =====================================================================================
# Numbers
# =====================================================================================


def _py(c: Any) -> Any:
    if isinstance(c, np.generic):
        c = c.item()
    if isinstance(c, complex) and c.imag == 0:
        c = c.real
    if isinstance(c, float) and c.is_integer() and abs(c) < 2**53:
        c = int(c)
    return c


def _number(c: Any) -> str:
    """A Python number as short text: ``2``, ``0.5``, ``-1e-08``, ``(1+2j)``."""
    c = _py(c)
    if isinstance(c, bool):
        c = int(c)
    return repr(c)


def _latex_number(c: Any) -> str:
    c = _py(c)
    if isinstance(c, complex):
        re_, im = _latex_number(c.real), _latex_number(abs(c.imag))
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


def _reciprocal(c: Any) -> int | None:
    """``n`` when ``c == 1/n`` for an integer ``|n| >= 3`` (printed as a division)."""
    c = _py(c)
    if not isinstance(c, float) or c == 0 or not math.isfinite(c):
        return None
    n = 1.0 / c
    if abs(n) < 3 or abs(n) > 1e6 or not n.is_integer() or 1.0 / int(n) != c:
        return None
    return int(n)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else str(shape)


# =====================================================================================
# Naming shared subexpressions
# =====================================================================================


def _fresh_names(count: int, taken: set[str]) -> list[str]:
    names: list[str] = []
    k = 1
    while len(names) < count:
        candidate = f"t{k}"
        if candidate not in taken:
            names.append(candidate)
        k += 1
    return names


def _choose_shared(
    order: Sequence[int],
    deps: dict[int, list[int]],
    own: dict[int, int],
    root: int,
) -> list[int]:
    """The nodes to name so that the printed text stays short: shared ones whose
    expansion is long, and only when the fully expanded text would be long."""
    tree: dict[int, int] = {}
    for uid in order:
        tree[uid] = own[uid] + sum(tree[c] for c in deps[uid])
    if tree.get(root, 0) <= NAMING_THRESHOLD:
        return []
    uses: Counter[int] = Counter(c for uid in order for c in deps[uid])
    named: list[int] = []
    chosen: set[int] = set()
    size: dict[int, int] = {}
    for uid in order:
        size[uid] = own[uid] + sum(3 if c in chosen else size[c] for c in deps[uid])
        if uid != root and uses[uid] >= 2 and size[uid] > _MIN_NAMED:
            named.append(uid)
            chosen.add(uid)
    return named


def _form_plan(ctx: mn.FormContext) -> list[int]:
    """The node uids to name for the matrix-notation printers, children first."""
    root = ctx.root_form
    if not isinstance(root, mn.Ref):
        return []
    reachable: set[int] = set()
    stack = [root.node]
    while stack:
        node = stack.pop()
        if node.uid in reachable:
            continue
        reachable.add(node.uid)
        stack.extend(ctx.refs(ctx.forms[node.uid]))
    order = [n.uid for n in ctx.order if n.uid in reachable]
    deps = {uid: [n.uid for n in ctx.refs(ctx.forms[uid])] for uid in order}
    own = {uid: sum(_own_size(f) for f in mn.iter_forms(ctx.forms[uid])) for uid in order}
    return _choose_shared(order, deps, own, root.node.uid)


def _own_size(form: mn.Form) -> int:
    if isinstance(form, mn.Ref):
        return 0
    if isinstance(form, mn.Leaf):
        node = form.node
        return len(node.name) if isinstance(node, Symbol) else 8
    return 5


# =====================================================================================
# Rendering forms: the machinery shared by text and LaTeX
# =====================================================================================


@dataclass(frozen=True)
class _R:
    """Rendered text with what its context needs to know: precedence, product kind,
    whether it ends in a superscript (LaTeX)."""

    text: str
    prec: int
    kind: str = ""
    sup: bool = False


class _Renderer:
    """Render the forms of one :class:`FormContext`; every node is rendered once."""

    name_style: Callable[[str], str] = staticmethod(lambda s: s)

    def __init__(self, ctx: mn.FormContext, names: dict[int, str] | None = None) -> None:
        self.ctx = ctx
        if names is None:
            named = _form_plan(ctx)
            taken = {s.name for s in ctx.root.symbols()}
            names = dict(zip(named, _fresh_names(len(named), taken)))
        self.names = names
        self.memo: dict[int, _R] = {}

    def document(self) -> str:
        main = self.render(self.ctx.root_form).text
        defs = []
        for uid, name in self.names.items():
            self._prepare(uid)
            defs.append((self.name_style(name), self.memo[uid].text))
        return self.join(main, defs)

    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        raise NotImplementedError

    def _prepare(self, uid: int) -> None:
        """Render ``uid``'s form after everything it refers to (iteratively)."""
        stack: list[tuple[int, bool]] = [(uid, False)]
        while stack:
            u, expanded = stack.pop()
            if u in self.memo:
                continue
            form = self.ctx.forms[u]
            if expanded:
                self.memo[u] = self.render(form)
                continue
            stack.append((u, True))
            for dep in self.ctx.refs(form):
                if dep.uid not in self.memo and dep.uid not in self.names:
                    stack.append((dep.uid, False))

    def ref(self, node: Expr) -> _R:
        name = self.names.get(node.uid)
        if name is not None:
            return _R(self.name_style(name), _ATOM)
        self._prepare(node.uid)
        return self.memo[node.uid]

    def order_key(self, form: mn.Form) -> str:
        """What terms of a sum are sorted by: their text in matrix notation."""
        return self.render(form).text

    def resolve(self, form: mn.Form) -> mn.Form:
        """The form behind an unnamed :class:`Ref` (for notation that looks inside)."""
        if isinstance(form, mn.Ref) and form.node.uid not in self.names:
            return self.ctx.forms[form.node.uid]
        return form

    def render(self, form: mn.Form) -> _R:
        if isinstance(form, mn.Ref):
            return self.ref(form.node)
        method = getattr(self, "r_" + type(form).__name__)
        result: _R = method(form)
        return result


# =====================================================================================
# Text
# =====================================================================================


def _starts_with_vector(form: mn.Form) -> bool:
    """A chain whose first factor is a vector (``x @ A``: a row, in math)."""
    return isinstance(form, mn.MatMul) and form.factors[0].ndim == 1


def _wrap(r: _R, prec: int, kinds: Sequence[str] = (), *, first: bool = True) -> str:
    """``r`` in a context of precedence ``prec``, parenthesized when needed."""
    need = r.prec < prec or (r.prec == prec == _MUL and r.kind not in kinds)
    if not first and r.text.startswith("-"):
        need = True
    return f"({r.text})" if need else r.text


class _TextRenderer(_Renderer):
    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        if not defs:
            return main
        return main + "\nwhere\n" + "\n".join(f"    {name} = {text}" for name, text in defs)

    def r_Leaf(self, form: mn.Leaf) -> _R:
        node = form.node
        if isinstance(node, Symbol):
            return _R(node.name, _ATOM)
        if isinstance(node, Delta):
            return _R("I", _ATOM)
        if isinstance(node, (Zero, Ones)):
            if not node.shape:
                return _R("0" if isinstance(node, Zero) else "1", _ATOM)
            return _R(
                f"{'zeros' if isinstance(node, Zero) else 'ones'}({_shape_text(node.shape)})", _ATOM
            )
        assert isinstance(node, Constant)
        if node.name:
            return _R(node.name, _ATOM)
        if not node.shape:
            text = _number(node.value.item())
            return _R(text, _UNARY if text.startswith("-") else _ATOM)
        return _R(_array_text(node.value), _ATOM)

    def r_Transpose(self, form: mn.Transpose) -> _R:
        return _R(_wrap(self.render(form.x), _ATOM) + ".T", _ATOM)

    def _product(self, factors: Sequence[mn.Form], op: str, kinds: Sequence[str]) -> _R:
        parts = [_wrap(self.render(f), _MUL, kinds, first=k == 0) for k, f in enumerate(factors)]
        return _R(f" {op} ".join(parts), _MUL, op)

    def r_MatMul(self, form: mn.MatMul) -> _R:
        parts = []
        for k, f in enumerate(form.factors):
            r = self.render(f)
            # inlining ``v @ A`` after a factor would multiply by ``v`` first
            starts_with_vector = _starts_with_vector(self.resolve(f))
            need = k > 0 and starts_with_vector
            parts.append(f"({r.text})" if need else _wrap(r, _MUL, ("@",), first=k == 0))
        return _R(" @ ".join(parts), _MUL, "@")

    def r_Hadamard(self, form: mn.Hadamard) -> _R:
        return self._product(form.factors, "⊙", ("⊙",))

    def r_Kron(self, form: mn.Kron) -> _R:
        return self._product((form.a, form.b), "⊗", ("⊗",))

    def r_Mul(self, form: mn.Mul) -> _R:
        numer, denom = _fraction(form, self.resolve)
        parts = []
        for k, f in enumerate(numer):
            last = k == len(numer) - 1 and f.ndim > 0
            parts.append(_wrap(self.render(f), _MUL, ("*", "@") if last else ("*",), first=k == 0))
        text = " * ".join(parts) or "1"
        for f in denom:
            text += " / " + _wrap(self.render(f), _UNARY)
        return _R(text, _MUL, "*")

    def _call(self, fn: str, *args: str) -> _R:
        return _R(f"{fn}({', '.join(args)})", _ATOM)

    def r_Outer(self, form: mn.Outer) -> _R:
        return self._call("outer", self.render(form.a).text, self.render(form.b).text)

    def r_Trace(self, form: mn.Trace) -> _R:
        return self._call("trace", self.render(form.x).text)

    def r_DiagOf(self, form: mn.DiagOf) -> _R:
        return self._call("diag", self.render(form.x).text)

    def r_DiagMat(self, form: mn.DiagMat) -> _R:
        return self._call("diag", self.render(form.x).text)

    def r_Sum(self, form: mn.Sum) -> _R:
        x = self.render(form.x).text
        if form.axes is None:
            return self._call("sum", x)
        axis = str(form.axes[0]) if len(form.axes) == 1 else str(form.axes)
        return self._call("sum", x, f"axis={axis}")

    def r_Func(self, form: mn.Func) -> _R:
        return self._call(form.fn, self.render(form.x).text)

    def r_Power(self, form: mn.Power) -> _R:
        base = _wrap(self.render(form.x), _ATOM)
        return _R(f"{base} ** {_number(form.p)}", _POW)

    def r_ReshapeOf(self, form: mn.ReshapeOf) -> _R:
        return self._call("reshape", self.render(form.x).text, str(form.shape))

    def r_Generic(self, form: mn.Generic) -> _R:
        return self._call(form.kind, *(self.render(a).text for a in form.args))

    def r_EinsumCall(self, form: mn.EinsumCall) -> _R:
        spec = _einsum_spec(form.indices, form.out)
        args = ", ".join(self.render(f).text for f in form.operands)
        return _R(f'einsum("{spec}", {args})', _ATOM)

    def _scaled(self, c: Any, r: _R) -> _R:
        c = _py(c)
        if c == 1:
            return r
        if c == -1:
            return _R("-" + _wrap(r, _UNARY), _UNARY)
        n = _reciprocal(c)
        if n is not None and n < 0:
            return _R(f"-{_wrap(r, _UNARY)} / {-n}", _MUL, "*")
        if n is not None:
            return _R(f"{_wrap(r, _MUL, _PRODUCTS)} / {n}", _MUL, "*")
        return _R(f"{_number(c)} * {_wrap(r, _MUL, _PRODUCTS, first=False)}", _MUL, "*")

    def r_LinComb(self, form: mn.LinComb) -> _R:
        if len(form.terms) == 1:
            return self._scaled(form.terms[0][0], self.render(form.terms[0][1]))
        text = ""
        for k, (c, r) in enumerate(_sorted_terms(form, self.render, self.order_key)):
            negative = _negative(c)
            if k == 0:
                text = _wrap(self._scaled(c, r), _MUL, _PRODUCTS)
                continue
            term = self._scaled(-c if negative else c, r)
            text += (" - " if negative else " + ") + _wrap(term, _MUL, _PRODUCTS, first=False)
        return _R(text, _ADD)


_PRODUCTS = ("@", "*", "⊙", "⊗")


def _negative(c: Any) -> bool:
    return not isinstance(c, complex) and bool(c < 0)


def _sorted_terms(
    form: mn.LinComb, render: Callable[[mn.Form], _R], key: Callable[[mn.Form], str]
) -> list[tuple[Any, _R]]:
    """The terms in print order: positive ones first, then by their matrix-notation
    text (the IR orders terms by node id, which depends on what was built before)."""
    terms = sorted(form.terms, key=lambda t: (_negative(_py(t[0])), key(t[1])))
    return [(_py(c), render(f)) for c, f in terms]


def _fraction(
    form: mn.Mul, resolve: Callable[[mn.Form], mn.Form]
) -> tuple[list[mn.Form], list[mn.Form]]:
    """Numerator and denominator of a product: scalar factors ``x ** -1`` divide."""
    numer: list[mn.Form] = []
    denom: list[mn.Form] = []
    for f in form.factors:
        inner = resolve(f)
        if f.ndim == 0 and isinstance(inner, mn.Power) and inner.p == -1:
            denom.append(inner.x)
        else:
            numer.append(f)
    if not numer:
        return list(form.factors), []
    return numer, denom


def _array_text(value: Array) -> str:
    if value.size <= 16:
        body = _nested(value.tolist())
    else:
        body = np.array2string(
            value, separator=", ", threshold=16, edgeitems=2, max_line_width=sys.maxsize
        )
        body = " ".join(body.split())
    return f"array({body})"


def _nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(values)


def _einsum_spec(indices: Sequence[Sequence[int]], out: Sequence[int]) -> str:
    letters = _letter_map(indices, out)
    return (
        ",".join("".join(letters[i] for i in ix) for ix in indices)
        + "->"
        + "".join(letters[i] for i in out)
    )


def _letter_map(indices: Sequence[Sequence[int]], out: Sequence[int]) -> dict[int, str]:
    """Output ids get ``i, j, k, ...`` in order; summed ids the next letters."""
    ids = list(out)
    for ix in indices:
        for i in ix:
            if i not in ids:
                ids.append(i)
    return dict(zip(ids, index_letters(len(ids))))


# =====================================================================================
# LaTeX
# =====================================================================================

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


def _paren(text: str) -> str:
    return f"\\left({text}\\right)"


class _LatexRenderer(_Renderer):
    name_style = staticmethod(latex_name)
    _text: _TextRenderer | None = None

    def order_key(self, form: mn.Form) -> str:
        if self._text is None:
            self._text = _TextRenderer(self.ctx, names=self.names)
        return self._text.render(form).text

    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        if not defs:
            return main
        return main + r",\quad \text{where } " + r",\; ".join(f"{n} = {t}" for n, t in defs)

    def _wrap(self, r: _R, prec: int, kinds: Sequence[str] = (), *, first: bool = True) -> str:
        need = r.prec < prec or (r.prec == prec == _MUL and r.kind not in kinds)
        if not first and r.text.startswith("-"):
            need = True
        return _paren(r.text) if need else r.text

    def _base(self, r: _R) -> str:
        """``r`` as the base of a superscript."""
        return _paren(r.text) if r.prec < _ATOM or r.sup else r.text

    def _arg(self, r: _R) -> str:
        """``r`` as a function argument."""
        return f"({r.text})" if r.prec == _ATOM and not r.sup else _paren(r.text)

    def _row(self, r: _R) -> str:
        """A vector written as a row: ``x^{\\top}``."""
        return self._base(r) + "^{\\top}"

    def r_Leaf(self, form: mn.Leaf) -> _R:
        node = form.node
        if isinstance(node, Symbol):
            return _R(latex_name(node.name), _ATOM)
        if isinstance(node, Delta):
            return _R("I", _ATOM)
        if isinstance(node, (Zero, Ones)):
            bold = r"\mathbf{0}" if isinstance(node, Zero) else r"\mathbf{1}"
            if not node.shape:
                return _R("0" if isinstance(node, Zero) else "1", _ATOM)
            if len(node.shape) == 1:
                return _R(bold, _ATOM)
            return _R(bold + "_{" + r" \times ".join(map(str, node.shape)) + "}", _ATOM)
        assert isinstance(node, Constant)
        if node.name:
            return _R(latex_name(node.name), _ATOM)
        if not node.shape:
            text = _latex_number(node.value.item())
            return _R(text, _UNARY if text.startswith("-") else _ATOM)
        if node.ndim <= 2 and node.size <= 16 and node.size:
            rows = node.value.reshape(-1, 1) if node.ndim == 1 else node.value
            body = r" \\ ".join(" & ".join(_latex_number(v) for v in row) for row in rows.tolist())
            return _R(f"\\begin{{bmatrix}} {body} \\end{{bmatrix}}", _ATOM)
        size = r" \times ".join(map(str, node.shape))
        return _R(f"C_{{{size}}}", _ATOM)

    def r_Transpose(self, form: mn.Transpose) -> _R:
        inner = self.resolve(form.x)
        if isinstance(inner, mn.Func) and inner.fn == "inv":
            return _R(self._base(self.render(inner.x)) + "^{-\\top}", _ATOM, sup=True)
        return _R(self._base(self.render(form.x)) + "^{\\top}", _ATOM, sup=True)

    def _row_text(self, form: mn.Form) -> str:
        """A vector written as a row: ``x^{\\top}``, or ``x^{\\top} A`` for ``x @ A``."""
        inner = self.resolve(form)
        if form.ndim == 1 and _starts_with_vector(inner):
            assert isinstance(inner, mn.MatMul)
            return " ".join(self._juxtapose(inner.factors))
        return self._row(self.render(form))

    def _juxtapose(self, factors: Sequence[mn.Form]) -> list[str]:
        """A chain in math notation: a leading vector is a row, others are columns."""
        parts = []
        for k, f in enumerate(factors):
            if k == 0 and f.ndim == 1 and len(factors) > 1:
                parts.append(self._row_text(f))
            else:
                parts.append(self._wrap(self.render(f), _MUL, ("@",), first=k == 0))
        return parts

    def r_MatMul(self, form: mn.MatMul) -> _R:
        factors = form.factors
        if form.ndim == 1 and factors[0].ndim == 1:  # x @ A is the column Aᵀ x
            factors = tuple(self.ctx.transpose(f) for f in reversed(factors))
        return _R(" ".join(self._juxtapose(factors)), _MUL, "@")

    def r_Mul(self, form: mn.Mul) -> _R:
        numer, denom = _fraction(form, self.resolve)
        parts = []
        for k, f in enumerate(numer):
            last = k == len(numer) - 1 and f.ndim > 0
            parts.append(
                self._wrap(self.render(f), _MUL, ("*", "@") if last else ("*",), first=k == 0)
            )
        text = parts[0]
        for p in parts[1:]:
            text += (r" \cdot " if p[:1].isdigit() else " ") + p
        if denom:
            below = " ".join(self._wrap(self.render(f), _MUL, ("*",)) for f in denom)
            if numer[-1].ndim == 0:
                return _R(f"\\frac{{{text}}}{{{below}}}", _ATOM)
            *scalars, matrix = parts
            top = " ".join(scalars) or "1"
            return _R(f"\\frac{{{top}}}{{{below}}} {matrix}", _MUL, "*")
        return _R(text, _MUL, "*")

    def _infix(self, factors: Sequence[mn.Form], op: str, kind: str) -> _R:
        parts = [
            self._wrap(self.render(f), _MUL, (kind,), first=k == 0) for k, f in enumerate(factors)
        ]
        return _R(f" {op} ".join(parts), _MUL, kind)

    def r_Hadamard(self, form: mn.Hadamard) -> _R:
        return self._infix(form.factors, r"\odot", "⊙")

    def r_Kron(self, form: mn.Kron) -> _R:
        return self._infix((form.a, form.b), r"\otimes", "⊗")

    def r_Outer(self, form: mn.Outer) -> _R:
        a = self._wrap(self.render(form.a), _MUL, ("@",))
        return _R(f"{a} {self._row_text(form.b)}", _MUL, "@")

    def _op(self, name: str, x: mn.Form) -> _R:
        return _R(f"\\operatorname{{{name}}}{self._arg(self.render(x))}", _ATOM)

    def r_Trace(self, form: mn.Trace) -> _R:
        return self._op("tr", form.x)

    def r_DiagOf(self, form: mn.DiagOf) -> _R:
        return self._op("diag", form.x)

    def r_DiagMat(self, form: mn.DiagMat) -> _R:
        return self._op("diag", form.x)

    def r_Sum(self, form: mn.Sum) -> _R:
        x = self.render(form.x)
        one = r"\mathbf{1}"
        inner = self._wrap(x, _MUL, ("@",))
        if form.x.ndim == 1:
            return _R(f"{one}^{{\\top}} {inner}", _MUL, "@")
        if form.x.ndim == 2 and form.axes is None:
            return _R(f"{one}^{{\\top}} {inner} {one}", _MUL, "@")
        if form.x.ndim == 2 and form.axes == (1,):
            return _R(f"{inner} {one}", _MUL, "@")
        if form.x.ndim == 2 and form.axes == (0,):
            return _R(f"{self._base(x)}^{{\\top}} {one}", _MUL, "@")
        if form.axes is None:
            return self._op("sum", form.x)
        axes = ",".join(map(str, form.axes))
        return _R(f"\\operatorname{{sum}}_{{{axes}}}{self._arg(x)}", _ATOM)

    _FUNCTIONS: ClassVar[dict[str, str]] = {
        "exp": r"\exp",
        "log": r"\log",
        "sin": r"\sin",
        "cos": r"\cos",
        "tanh": r"\tanh",
        "sigmoid": r"\sigma",
        "sign": r"\operatorname{sign}",
        "adj": r"\operatorname{adj}",
        "det": r"\det",
    }

    def r_Func(self, form: mn.Func) -> _R:
        x = self.render(form.x)
        if form.fn == "inv":
            return _R(self._base(x) + "^{-1}", _ATOM, sup=True)
        if form.fn == "logdet":
            inner = x.text if x.prec == _ATOM and not x.sup else _paren(x.text)
            return _R(f"\\log\\lvert\\det {inner}\\rvert", _ATOM)
        if form.fn == "sqrt":
            return _R(f"\\sqrt{{{x.text}}}", _ATOM)
        if form.fn == "abs":
            return _R(f"\\lvert {x.text} \\rvert", _ATOM)
        name = self._FUNCTIONS.get(form.fn, f"\\operatorname{{{_latex_word(form.fn)}}}")
        return _R(name + self._arg(x), _ATOM)

    def r_Power(self, form: mn.Power) -> _R:
        base = self._base(self.render(form.x))
        p = _latex_number(form.p)
        exponent = p if form.x.ndim == 0 else f"\\circ {p}"
        return _R(f"{base}^{{{exponent}}}", _POW, sup=True)

    def r_ReshapeOf(self, form: mn.ReshapeOf) -> _R:
        size = r" \times ".join(map(str, form.shape)) or "()"
        return _R(f"\\operatorname{{reshape}}_{{{size}}}{self._arg(self.render(form.x))}", _ATOM)

    def r_Generic(self, form: mn.Generic) -> _R:
        args = ", ".join(self.render(a).text for a in form.args)
        return _R(f"\\operatorname{{{_latex_word(form.kind)}}}\\left({args}\\right)", _ATOM)

    def r_EinsumCall(self, form: mn.EinsumCall) -> _R:
        letters = _letter_map(form.indices, form.out)

        def sub(ids: Sequence[int]) -> str:
            names = [letters[i] for i in ids]
            return ("," if any(len(n) > 1 for n in names) else "").join(names)

        parts = []
        for f, ix in zip(form.operands, form.indices):
            if isinstance(f, mn.Leaf) and isinstance(f.node, Ones):
                continue
            if isinstance(f, mn.Leaf) and isinstance(f.node, Delta):
                parts.append(f"\\delta_{{{sub(ix)}}}")
                continue
            r = self.render(f)
            simple = r.prec == _ATOM and not r.sup and "_" not in r.text
            base = r.text if simple else _paren(r.text)
            parts.append(f"{base}_{{{sub(ix)}}}")
        body = " ".join(parts) or "1"
        summed = [i for i in letters if i not in form.out]
        if summed:
            body = f"\\sum_{{{sub(summed)}}} {body}"
        return _R(f"\\left[{body}\\right]_{{{sub(form.out)}}}", _ATOM)

    def _scaled(self, c: Any, r: _R) -> _R:
        c = _py(c)
        if c == 1:
            return r
        if c == -1:
            return _R("-" + self._wrap(r, _UNARY), _UNARY)
        n = _reciprocal(c)
        coeff = (
            f"{'-' if n < 0 else ''}\\frac{{1}}{{{abs(n)}}}" if n is not None else _latex_number(c)
        )
        body = self._wrap(r, _MUL, _PRODUCTS, first=False)
        sep = r" \cdot " if body[:1].isdigit() else " "
        return _R(coeff + sep + body, _MUL, "*")

    def r_LinComb(self, form: mn.LinComb) -> _R:
        if len(form.terms) == 1:
            c, f = form.terms[0]
            return self._scaled(c, self.render(f))
        text = ""
        for k, (c, r) in enumerate(_sorted_terms(form, self.render, self.order_key)):
            negative = _negative(c)
            if k == 0:
                text = self._wrap(self._scaled(c, r), _MUL, _PRODUCTS)
                continue
            term = self._scaled(-c if negative else c, r)
            body = self._wrap(term, _MUL, _PRODUCTS, first=False)
            text += (" - " if negative else " + ") + body
        return _R(text, _ADD)


# =====================================================================================
# Public entry points: text and LaTeX
# =====================================================================================


def to_text(expr: Any) -> str:
    """The expression in matrix notation (what ``str(expr)`` shows).

    >>> from matgrad.expr import Matrix, Vector
    >>> from matgrad import ops
    >>> X, A, x = Matrix("X", (3, 3)), Matrix("A", (3, 3)), Vector("x", 3)
    >>> print(to_text(x @ A @ x))
    x @ A @ x
    >>> print(to_text(ops.diag(x) @ X.T))
    diag(x) @ X.T
    """
    return _TextRenderer(mn.FormContext(as_expr(expr))).document()


def to_latex(expr: Any) -> str:
    """The expression in LaTeX (math mode, without the ``$``).

    >>> from matgrad.expr import Matrix, Vector
    >>> from matgrad import ops
    >>> X, a, b = Matrix("X", (3, 3)), Vector("a", 3), Vector("b", 3)
    >>> print(to_latex(a @ X @ b + ops.logdet(X)))
    a^{\\top} X b + \\log\\lvert\\det X\\rvert
    """
    return _LatexRenderer(mn.FormContext(as_expr(expr))).document()


# =====================================================================================
# Index notation
# =====================================================================================


class _Alloc:
    """Index letters in use in the current scope."""

    def __init__(self, used: set[str]) -> None:
        self.used = used

    def fresh(self) -> str:
        k = 0
        while True:
            letter = _LETTERS[k] if k < len(_LETTERS) else f"i{k - len(_LETTERS) + 1}"
            if letter not in self.used:
                self.used.add(letter)
                return letter
            k += 1


class _IndexPrinter:
    """Einstein notation with explicit free indices: ``out[i,j] = A[i,k] X[k,j]``.

    An index of a product that is not free in its scope is summed over that
    product (``numpy.einsum``'s rule).  A function argument and a parenthesized
    sum are scopes of their own, whose free indices are those they share with the
    enclosing product; an index summed outside but written only inside one such
    scope is marked with ``Σ[j]`` in front of the product."""

    def __init__(self, root: Expr) -> None:
        self.root = root
        order = root.walk()
        self.keys = mn.sort_keys(order)
        deps = {n.uid: [c.uid for c in n.children] for n in order}
        own = {n.uid: _index_own_size(n) for n in order}
        chosen = set(_choose_shared([n.uid for n in order], deps, own, root.uid))
        chosen |= set(_deep_nodes(order, chosen, root))
        named = [n for n in order if n.uid in chosen]
        taken = {s.name for s in root.symbols()}
        self.names = {n.uid: name for n, name in zip(named, _fresh_names(len(named), taken))}
        self.nodes = {n.uid: n for n in named}
        self._text: _TextRenderer | None = None

    def document(self) -> str:
        lines = [self._definition("out", self.root)]
        for uid, name in self.names.items():
            lines.append(self._definition(name, self.nodes[uid]))
        return "\n".join(lines)

    def _definition(self, name: str, node: Expr) -> str:
        letters = tuple(index_letters(node.ndim))
        text, _ = self.render(node, letters, _Alloc(set(letters)), top=True)
        return f"{self._subscript(name, letters)} = {text}"

    def _matrix_text(self, node: Expr) -> _R:
        """``node`` in matrix notation, sharing this printer's names."""
        if self._text is None:
            self._text = _TextRenderer(mn.FormContext(self.root), names=self.names)
        return self._text.render(self._text.ctx.ref(node))

    @staticmethod
    def _subscript(base: str, letters: tuple[str, ...]) -> str:
        return f"{base}[{','.join(letters)}]" if letters else base

    def render(
        self, node: Expr, letters: tuple[str, ...], alloc: _Alloc, *, top: bool = False
    ) -> tuple[str, int]:
        name = None if top else self.names.get(node.uid)
        if name is not None:
            return self._subscript(name, letters), _ATOM
        if isinstance(node, Symbol):
            return self._subscript(node.name, letters), _ATOM
        if isinstance(node, Delta):
            return self._subscript("δ", letters), _ATOM
        if isinstance(node, (Zero, Ones)):
            return self._subscript("0" if isinstance(node, Zero) else "1", letters), _ATOM
        if isinstance(node, Constant):
            if node.name:
                return self._subscript(node.name, letters), _ATOM
            if not node.shape:
                text = _number(node.value.item())
                return text, _ADD if text.startswith("-") else _ATOM
            return self._subscript(_array_text(node.value), letters), _ATOM
        if isinstance(node, Einsum) or (isinstance(node, Add) and len(node.terms) == 1):
            coeff, factors, marks = self._product(node, letters, alloc, top=top)
            return self._product_text(coeff, factors, marks)
        if isinstance(node, Add):
            return self._sum(node, letters, alloc)
        if isinstance(node, Elementwise):
            inner, prec = self.render(node.x, letters, alloc)
            if node.fn == "power":
                base = inner if prec >= _ATOM else f"({inner})"
                return f"{base}**{_number(node.param)}", _POW
            return f"{node.fn}({inner})", _ATOM
        # matrix functions, reshapes, unknown kinds: matrix notation inside, indexed
        r = self._matrix_text(node)
        base = r.text if r.prec == _ATOM else f"({r.text})"
        return self._subscript(base, letters), _ATOM

    def _product(
        self, node: Expr, letters: tuple[str, ...], alloc: _Alloc, *, top: bool = False
    ) -> tuple[Any, list[tuple[str, int]], list[str]]:
        """The coefficient, factors and marked sums of a product: nested einsums are
        fused into it, factors ordered along their chains, summed indices lettered in
        that order.  A summed index that only one factor carries, inside a function
        argument or parentheses, is marked (``Σ[j] tanh(A[j,i])``): unmarked it
        would be summed inside."""
        coeff: Any = 1
        atoms: list[tuple[Expr, tuple[str | int, ...]]] = []
        counter = 0
        stack: list[tuple[Expr, tuple[str | int, ...]]] = [(node, letters)]
        while stack:
            n, ls = stack.pop()
            if (n is not node or not top) and n.uid in self.names:
                atoms.append((n, ls))
            elif isinstance(n, Add) and len(n.terms) == 1:
                coeff *= n.coeffs[0]
                stack.append((n.terms[0], ls))
            elif isinstance(n, Einsum):
                mapping: dict[int, str | int] = dict(zip(n.out, ls))
                ranked = sorted(zip(n.operands, n.indices), key=lambda p: self.keys[p[0].uid])
                for _, ix in ranked:
                    for i in ix:
                        if i not in mapping:
                            mapping[i] = counter
                            counter += 1
                for op, ix in reversed(ranked):
                    stack.append((op, tuple(mapping[i] for i in ix)))
            else:
                atoms.append((n, ls))
        # an all-ones factor is needed only for an index no other factor carries
        # (a count, or a broadcast the surrounding scopes must see)
        carried = {i for n, ids in atoms if not isinstance(n, Ones) for i in ids}
        atoms = [(n, ids) for n, ids in atoms if not isinstance(n, Ones) or not set(ids) <= carried]
        letter_of: dict[str | int, str] = {}
        factors = []
        carriers: Counter[str | int] = Counter(i for _, ids in atoms for i in set(ids))
        marks = []
        for n, ids in _chain_order(atoms, letters):
            for label in ids:
                if isinstance(label, int) and label not in letter_of:
                    letter_of[label] = alloc.fresh()
                    if carriers[label] == 1 and self._is_scope(n):
                        marks.append(letter_of[label])
            named = tuple(x if isinstance(x, str) else letter_of[x] for x in ids)
            factors.append(self.render(n, named, alloc))
        return coeff, factors, marks

    def _is_scope(self, node: Expr) -> bool:
        """Whether ``node`` prints as a scope of its own (function call, parentheses)."""
        if node.uid in self.names:
            return False
        if isinstance(node, Add):
            return len(node.terms) > 1
        if isinstance(node, Elementwise):
            return node.fn != "power" or not (
                node.x.kind in mn.LEAF_KINDS or node.x.uid in self.names
            )
        return False

    def _product_text(
        self, coeff: Any, factors: list[tuple[str, int]], marks: Sequence[str] = ()
    ) -> tuple[str, int]:
        parts = [t if p >= _MUL and not t.startswith("-") else f"({t})" for t, p in factors]
        if marks:
            parts.insert(0, f"Σ[{','.join(marks)}]")
        body = " ".join(parts)
        c = _py(coeff)
        if c == 1:
            if len(parts) == 1 and factors:
                return factors[0]
            return (body or "1"), _MUL if parts else _ATOM
        if c == -1:
            return "-" + (body or "1"), _ADD
        text = _number(c) + (" " + body if body else "")
        return text, _ADD if text.startswith("-") else _MUL

    def _sum(self, node: Add, letters: tuple[str, ...], alloc: _Alloc) -> tuple[str, int]:
        base = set(alloc.used)
        terms = []
        for term, c in zip(node.terms, node.coeffs):
            scope = _Alloc(set(base))
            if term.uid not in self.names and (
                isinstance(term, Einsum) or (isinstance(term, Add) and len(term.terms) == 1)
            ):
                coeff, factors, marks = self._product(term, letters, scope)
            else:
                coeff, factors, marks = 1, [self.render(term, letters, scope)], []
            c_py = _py(coeff * c)
            negative = _negative(c_py)
            magnitude = self._product_text(-c_py if negative else c_py, factors, marks)[0]
            terms.append((negative, magnitude, self._product_text(c_py, factors, marks)[0]))
            alloc.used |= scope.used
        terms.sort(key=lambda t: (t[0], t[1]))
        text = terms[0][2]
        for negative, magnitude, _ in terms[1:]:
            body = f"({magnitude})" if magnitude.startswith("-") else magnitude
            text += (" - " if negative else " + ") + body
        return text, _ADD


def _chain_order(
    atoms: list[tuple[Expr, tuple[str | int, ...]]], free: tuple[str, ...]
) -> list[tuple[Expr, tuple[str | int, ...]]]:
    """Factors in reading order: scalars first, then along shared indices, starting
    at the first free index (or at a vector): ``x[i] A[i,j] x[j]``."""

    def start_key(atom: tuple[Expr, tuple[str | int, ...]]) -> tuple[int, int, int]:
        ids = atom[1]
        first_free = min((free.index(i) for i in ids if i in free), default=len(free))
        return first_free, 0 if ids[0] in free else 1, len(ids)

    scalars = [a for a in atoms if not a[1]]
    rest = [a for a in atoms if a[1]]
    ordered: list[tuple[Expr, tuple[str | int, ...]]] = []
    while rest:
        pick = None
        if ordered and ordered[-1][1]:
            last = ordered[-1][1]
            pick = next((a for a in rest if a[1][0] == last[-1]), None)
            if pick is None:
                pick = next((a for a in rest if set(a[1]) & set(last)), None)
        if pick is None:
            pick = min(rest, key=start_key)
        rest.remove(pick)
        ordered.append(pick)
    return scalars + ordered


def _index_own_size(node: Expr) -> int:
    if isinstance(node, Symbol):
        return len(node.name) + 2 * node.ndim + 2
    if isinstance(node, Einsum):
        return 2 * sum(len(ix) for ix in node.indices)
    return 6


def _deep_nodes(order: list[Expr], named: set[int], root: Expr, step: int = 60) -> list[int]:
    """Nodes that cut a deep DAG into pieces of bounded depth (keeps recursion shallow)."""
    height: dict[int, int] = {}
    cut: list[int] = []
    for node in order:
        h = 1 + max((height[c.uid] for c in node.children), default=0)
        if h >= step and node is not root and node.uid not in named and node.children:
            cut.append(node.uid)
            h = 0
        height[node.uid] = h
    return cut


def to_index_notation(expr: Any) -> str:
    """The expression in index (Einstein) notation, free indices on the left.

    Nested products are fused (``(A @ B) @ C`` is ``A[i,k] B[k,l] C[l,j]``); an
    index of a product that is not free is summed over that product, as in
    ``numpy.einsum``.  Matrix functions keep matrix notation inside:
    ``inv(A @ B)[i,j]``.

    >>> from matgrad.expr import Matrix
    >>> X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
    >>> print(to_index_notation(A @ X + A.T @ X))
    out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]
    """
    return _IndexPrinter(as_expr(expr)).document()


# =====================================================================================
# NumPy source
# =====================================================================================


class _Namer:
    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken) | {"np"}
        self.k = 0

    def __call__(self, prefix: str = "t") -> str:
        while True:
            name = f"{prefix}{self.k}"
            self.k += 1
            if name not in self.taken:
                self.taken.add(name)
                return name


def _identifier(name: str, taken: set[str]) -> str:
    """``name`` as a Python parameter name, unique among ``taken``."""
    ident = re.sub(r"\W", "_", name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or ident == "np":
        ident += "_"
    candidate, k = ident, 1
    while candidate in taken:
        candidate = f"{ident}_{k}"
        k += 1
    taken.add(candidate)
    return candidate


def _py_literal(value: Any) -> str:
    """Python source for a number that evaluates to exactly that number."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, complex):
        return f"complex({_py_literal(value.real)}, {_py_literal(value.imag)})"
    if isinstance(value, float):
        if math.isnan(value):
            return "np.nan"
        if math.isinf(value):
            return "np.inf" if value > 0 else "-np.inf"
        return repr(value)
    return repr(value)


def _array_literal(value: Array) -> str:
    dtype = value.dtype.name
    if value.ndim == 0:
        return f"np.array({_py_literal(value.item())}, dtype=np.{dtype})"
    flat = ", ".join(_py_literal(v) for v in value.ravel().tolist())
    return f"np.array([{flat}], dtype=np.{dtype}).reshape({value.shape})"


_NUMPY_ELEMENTWISE = {
    "exp": "np.exp({})",
    "log": "np.log({})",
    "sin": "np.sin({})",
    "cos": "np.cos({})",
    "tanh": "np.tanh({})",
    "sqrt": "np.sqrt({})",
    "abs": "np.abs({})",
    "sign": "np.sign({})",
    "sigmoid": "np.exp(-np.logaddexp(0, -{}))",
}
_NUMPY_COMPLEX = {"sigmoid": "1 / (1 + np.exp(-{}))"}


def _numpy_lines(node: Expr, var: str, args: list[str], fresh: _Namer) -> list[str]:
    """Statements computing ``node`` into ``var`` from its operands' variables."""
    dtype = f"np.{node.dtype.name}"
    if isinstance(node, Constant):
        return [f"{var} = {_array_literal(node.value)}"]
    if isinstance(node, Zero):
        return [f"{var} = np.zeros({node.shape}, dtype={dtype})"]
    if isinstance(node, Ones):
        return [f"{var} = np.ones({node.shape}, dtype={dtype})"]
    if isinstance(node, Delta):
        return [f"{var} = np.eye({node.shape[0]}, dtype={dtype})"]
    if isinstance(node, Einsum):
        if len(_letter_map(node.indices, node.out)) > len(_LETTERS):
            return _pairwise_einsum_lines(node, var, args, fresh)
        spec = _einsum_spec(node.indices, node.out)
        optimize = ", optimize=True" if len(args) > 2 else ""
        return [f'{var} = np.einsum("{spec}", {", ".join(args)}{optimize})']
    if isinstance(node, Add):
        text = ""
        for k, (a, c) in enumerate(zip(args, node.coeffs)):
            c = _py(c)
            negative = not isinstance(c, complex) and c < 0
            mag = -c if negative and k > 0 else c
            term = a if mag == 1 else f"-{a}" if mag == -1 else f"{_py_literal(mag)} * {a}"
            text += term if k == 0 else (" - " if negative else " + ") + term
        return [f"{var} = {text}"]
    if isinstance(node, Elementwise):
        if node.fn == "power":
            return [f"{var} = np.power({args[0]}, {_py_literal(float(node.param or 0.0))})"]
        table = _NUMPY_COMPLEX if np.issubdtype(node.dtype, np.complexfloating) else {}
        template = table.get(node.fn, _NUMPY_ELEMENTWISE[node.fn])
        return [f"{var} = " + template.format(args[0])]
    if isinstance(node, MatrixFunction):
        (x,) = args
        if node.kind == "inv":
            return [f"{var} = np.linalg.inv({x})"]
        if node.kind == "det":
            return [f"{var} = np.linalg.det({x})"]
        if node.kind == "logdet":
            return [f"{var} = np.linalg.slogdet({x})[1]"]
        if node.kind == "adj":
            return _adjugate_lines(node, var, x, fresh)
    if isinstance(node, Reshape):
        return [f"{var} = np.reshape({args[0]}, {node.shape})"]
    raise UnsupportedOperationError(f"to_numpy: no NumPy translation for {node.kind!r} nodes")


def _pairwise_einsum_lines(node: Einsum, var: str, args: list[str], fresh: _Namer) -> list[str]:
    """An einsum with more indices than ``numpy.einsum`` has letters, contracted one
    operand at a time (each step keeps only the indices still needed)."""
    if len(args) == 1:
        raise UnsupportedOperationError(
            "to_numpy: an operand with more than 52 axes cannot be written for numpy.einsum"
        )
    lines: list[str] = []
    current, ids = args[0], node.indices[0]
    for k in range(1, len(args)):
        later = {i for ix in node.indices[k + 1 :] for i in ix} | set(node.out)
        merged = tuple(dict.fromkeys((*ids, *node.indices[k])))
        keep = node.out if k == len(args) - 1 else tuple(i for i in merged if i in later)
        if len(merged) > len(_LETTERS):
            raise UnsupportedOperationError(
                "to_numpy: an einsum step with more than 52 indices cannot be written for "
                "numpy.einsum"
            )
        spec = _einsum_spec((ids, node.indices[k]), keep)
        target = var if k == len(args) - 1 else fresh()
        lines.append(f'{target} = np.einsum("{spec}", {current}, {args[k]})')
        current, ids = target, keep
    return lines


def _adjugate_lines(node: Expr, var: str, x: str, fresh: _Namer) -> list[str]:
    """``adj X`` from the SVD ``X = U diag(s) Vᴴ``:
    ``adj X = det(U) det(Vᴴ) · V diag(Π_{j≠i} s_j) Uᴴ``, finite at singular X."""
    n = node.shape[0]
    dtype = f"np.{node.dtype.name}"
    if n <= 1:
        return [f"{var} = np.ones({node.shape}, dtype={dtype})"]
    u, s, vh, p = fresh("u"), fresh("s"), fresh("vh"), fresh("p")
    return [
        f"{u}, {s}, {vh} = np.linalg.svd({x})",
        (
            f"{p} = np.concatenate((np.ones(1, dtype={s}.dtype), np.cumprod({s}[:-1]))) * "
            f"np.concatenate((np.cumprod({s}[:0:-1])[::-1], np.ones(1, dtype={s}.dtype)))"
        ),
        (
            f"{var} = (np.linalg.det({u}) * np.linalg.det({vh})) * "
            f"(({vh}.conj().T * {p}) @ {u}.conj().T)"
        ),
    ]


def to_numpy(expr: Any, name: str = "f") -> str:
    """Python source of ``def <name>(<symbols sorted by name>)`` evaluating the
    expression with NumPy alone (the source starts with ``import numpy as np``).

    Every distinct node is computed once, into a local variable; constants are
    embedded at full precision; symbol names that are not Python identifiers are
    made into identifiers (``x'`` becomes ``x_``).

    >>> from matgrad.expr import Matrix
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
    root = as_expr(expr)
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidArgumentError(
            f"to_numpy: function name must be a Python identifier, got {name!r}"
        )
    taken: set[str] = {"np", name}
    params: dict[int, str] = {}
    for sym in root.symbols():
        params[sym.uid] = _identifier(sym.name, taken)
    fresh = _Namer(taken)
    variables: dict[int, str] = dict(params)
    body: list[str] = []
    for node in root.walk():
        if node.uid in variables:
            continue
        var = fresh()
        args = [variables[c.uid] for c in node.children]
        body.extend(_numpy_lines(node, var, args, fresh))
        variables[node.uid] = var
    signature = ", ".join(params.values())
    doc = ", ".join(f"{params[s.uid]}: {s.shape}" for s in root.symbols())
    doc = f"{doc} -> {root.shape}" if doc else f"-> {root.shape}"
    lines = [
        "import numpy as np",
        "",
        "",
        f"def {name}({signature}):",
        f'    """{doc}"""',
        *(f"    {line}" for line in body),
        f"    return {variables[root.uid]}",
        "",
    ]
    return "\n".join(lines)


HOOKS["text"] = to_text
HOOKS["latex"] = to_latex
HOOKS["einsum"] = to_index_notation
HOOKS["numpy"] = to_numpy
