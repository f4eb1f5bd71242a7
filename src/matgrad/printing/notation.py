"""What the printers share (layer 2): index letters, numbers, precedence, the naming
of shared subexpressions, and the renderer of forms that text and LaTeX extend.

:class:`Renderer` walks the forms of one :class:`~matgrad.printing.matrix.FormContext`
and renders every node once; sums, products, fractions and parentheses are
decided here, so the text renderer (:mod:`matgrad.printing.text`) and the LaTeX
renderer (:mod:`matgrad.printing.latex`) differ only in their words and signs.
"""

from __future__ import annotations

import functools
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.ir.expr import Expr, Ones, Symbol
from matgrad.printing import forms as fm
from matgrad.printing.matrix import FormContext

NAMING_THRESHOLD = 4000
"""Above this estimated length (characters) of the fully expanded text, shared
subexpressions are printed once, as ``where t1 = ...`` definitions."""

MIN_NAMED = 30
"""A shared subexpression shorter than this (characters) is repeated, not named."""

# precedence levels: lower binds looser
ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5

PRODUCTS = ("@", "*", "⊙", "⊗")
"""The product kinds of matrix notation (all bind alike)."""

LETTERS = "ijklmnopqrstuvwxyzabcdefgh" + "ijklmnopqrstuvwxyzabcdefgh".upper()
"""The single-letter index names, in the order they are given out."""


# =====================================================================================
# Index letters
# =====================================================================================


def letter(k: int) -> str:
    """The name of index number ``k``: a letter of :data:`LETTERS`, then ``i1, i2, ...``."""
    return LETTERS[k] if k < len(LETTERS) else f"i{k - len(LETTERS) + 1}"


def index_letters(count: int) -> list[str]:
    """Names of ``count`` indices: ``i, j, k, ...`` (52 letters, then ``i1, i2, ...``).

    >>> index_letters(4)
    ['i', 'j', 'k', 'l']
    """
    return [letter(k) for k in range(count)]


def letter_map(indices: Sequence[Sequence[int]], out: Sequence[int]) -> dict[int, str]:
    """Output ids get ``i, j, k, ...`` in order; summed ids the next letters."""
    ids = list(out)
    for ix in indices:
        for i in ix:
            if i not in ids:
                ids.append(i)
    return dict(zip(ids, index_letters(len(ids))))


def einsum_spec(indices: Sequence[Sequence[int]], out: Sequence[int]) -> str:
    """The ``numpy.einsum`` subscripts of operands over ``indices`` giving ``out``."""
    letters = letter_map(indices, out)
    return (
        ",".join("".join(letters[i] for i in ix) for ix in indices)
        + "->"
        + "".join(letters[i] for i in out)
    )


# =====================================================================================
# Numbers
# =====================================================================================


def py_number(c: Any) -> Any:
    """``c`` as a plain Python number, as simple as its value allows (``2.0`` is ``2``)."""
    if isinstance(c, np.generic):
        c = c.item()
    if isinstance(c, complex) and c.imag == 0:
        c = c.real
    if isinstance(c, float) and c.is_integer() and abs(c) < 2**53:
        c = int(c)
    return c


def number_text(c: Any) -> str:
    """A Python number as short text: ``2``, ``0.5``, ``-1e-08``, ``(1+2j)``."""
    c = py_number(c)
    if isinstance(c, bool):
        c = int(c)
    return repr(c)


def reciprocal(c: Any) -> int | None:
    """``n`` when ``c == 1/n`` for an integer ``|n| >= 3`` (printed as a division)."""
    c = py_number(c)
    if not isinstance(c, float) or c == 0 or not math.isfinite(c):
        return None
    n = 1.0 / c
    if abs(n) < 3 or abs(n) > 1e6 or not n.is_integer() or 1.0 / int(n) != c:
        return None
    return int(n)


def negative(c: Any) -> bool:
    """Whether a coefficient prints with a minus sign (complex ones never do)."""
    return not isinstance(c, complex) and bool(c < 0)


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as the argument of ``ones``/``zeros``: ``3`` or ``(2, 3)``."""
    return str(shape[0]) if len(shape) == 1 else str(shape)


def array_text(value: Array) -> str:
    """An array constant as ``array([...])``, abbreviated when large."""
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
    return number_text(values)


# =====================================================================================
# Naming shared subexpressions
# =====================================================================================


class Namer:
    """Fresh names ``<prefix><k>`` for ``k = start, start + 1, ...``, none in ``taken``."""

    def __init__(self, taken: set[str], start: int = 0) -> None:
        self.taken = set(taken)
        self.k = start

    def __call__(self, prefix: str = "t") -> str:
        while True:
            name = f"{prefix}{self.k}"
            self.k += 1
            if name not in self.taken:
                self.taken.add(name)
                return name


def fresh_names(count: int, taken: set[str]) -> list[str]:
    """``count`` names ``t1, t2, ...`` that are not in ``taken``."""
    namer = Namer(taken, start=1)
    return [namer() for _ in range(count)]


def choose_shared(
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
        if uid != root and uses[uid] >= 2 and size[uid] > MIN_NAMED:
            named.append(uid)
            chosen.add(uid)
    return named


def _form_plan(ctx: FormContext) -> list[int]:
    """The node uids to name for the matrix-notation printers, children first."""
    root = ctx.root_form
    if not isinstance(root, fm.Ref):
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
    own = {uid: sum(_own_size(f) for f in fm.iter_forms(ctx.forms[uid])) for uid in order}
    return choose_shared(order, deps, own, root.node.uid)


def _own_size(form: fm.Form) -> int:
    if isinstance(form, fm.Ref):
        return 0
    if isinstance(form, fm.Leaf):
        node = form.node
        return len(node.name) if isinstance(node, Symbol) else 8
    return 5


# =====================================================================================
# Filling an operation's notation template
# =====================================================================================


class Operand:
    """A rendered operand in a notation template: ``format(operand, spec)`` asks
    ``style(spec)`` for it (``""``, ``"atom"``, ``"arg"``, ``"base"``)."""

    __slots__ = ("style",)

    def __init__(self, style: Callable[[str], str]) -> None:
        self.style = style

    def __format__(self, spec: str) -> str:
        return self.style(spec)


class Joined:
    """All operands of a template, joined by the format spec (``{args:, }``)."""

    __slots__ = ("operands",)

    def __init__(self, operands: Sequence[Operand]) -> None:
        self.operands = operands

    def __format__(self, spec: str) -> str:
        return spec.join(format(o, "") for o in self.operands)


def fill(template: str, operands: Sequence[Operand], attrs: dict[str, Operand]) -> str:
    """``template`` with its operands ``{0}``, ``{1}``, ..., all of them joined by a
    separator ``{args:SEP}``, and attributes ``{name}``."""
    return template.format(*operands, args=Joined(operands), **attrs)


def call_text(name: str, args: Sequence[str], attrs: dict[str, Any]) -> str:
    """``name(a, b, k=v)``: how an operation without a template prints."""
    parts = [*args, *(f"{k}={number_text(v) if _is_number(v) else v}" for k, v in attrs.items())]
    return f"{name}({', '.join(parts)})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex, np.number)) and not isinstance(value, bool)


# =====================================================================================
# Rendering forms: the machinery shared by text and LaTeX
# =====================================================================================


@dataclass(frozen=True)
class R:
    """Rendered text with what its context needs to know: precedence, product kind,
    whether it ends in a superscript (LaTeX)."""

    text: str
    prec: int
    kind: str = ""
    sup: bool = False


def starts_with_vector(form: fm.Form) -> bool:
    """A chain whose first factor is a vector (``x @ A``: a row, in math)."""
    return isinstance(form, fm.MatMul) and form.factors[0].ndim == 1


def fraction(
    form: fm.Mul, resolve: Callable[[fm.Form], fm.Form]
) -> tuple[list[fm.Form], list[fm.Form]]:
    """Numerator and denominator of a product: scalar factors ``x ** -1`` divide."""
    numer: list[fm.Form] = []
    denom: list[fm.Form] = []
    for f in form.factors:
        inner = resolve(f)
        below = inner.reciprocal_of() if isinstance(inner, fm.OpForm) else None
        if f.ndim == 0 and below is not None:
            denom.append(below)
        else:
            numer.append(f)
    if not numer:
        return list(form.factors), []
    return numer, denom


def _is_ones(form: fm.Form) -> bool:
    return isinstance(form, fm.Leaf) and isinstance(form.node, Ones) and form.ndim > 0


class Renderer:
    """Render the forms of one :class:`FormContext`; every node is rendered once.

    Subclasses give the words and signs: ``r_<Form>`` methods for the forms,
    :meth:`paren`, :attr:`number_style`, :meth:`times` and :meth:`join`."""

    name_style: Callable[[str], str] = staticmethod(lambda s: s)
    number_style: Callable[[Any], str] = staticmethod(number_text)

    def __init__(self, ctx: FormContext, names: dict[int, str] | None = None) -> None:
        self.ctx = ctx
        if names is None:
            named = _form_plan(ctx)
            taken = {s.name for s in ctx.root.symbols()}
            names = dict(zip(named, fresh_names(len(named), taken)))
        self.names = names
        self.memo: dict[int, R] = {}

    # ---- the document and the DAG ---------------------------------------------------
    def document(self) -> str:
        main = self.render(self.ctx.root_form).text
        defs = []
        for uid, name in self.names.items():
            self._prepare(uid)
            defs.append((self.name_style(name), self.memo[uid].text))
        return self.join(main, defs)

    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        """The main text followed by the definitions of the named subexpressions."""
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

    def ref(self, node: Expr) -> R:
        name = self.names.get(node.uid)
        if name is not None:
            return R(self.name_style(name), ATOM)
        self._prepare(node.uid)
        return self.memo[node.uid]

    def order_key(self, form: fm.Form) -> str:
        """What terms of a sum are sorted by: their text in matrix notation."""
        return self.render(form).text

    def resolve(self, form: fm.Form) -> fm.Form:
        """The form behind an unnamed :class:`Ref` (for notation that looks inside)."""
        if isinstance(form, fm.Ref) and form.node.uid not in self.names:
            return self.ctx.forms[form.node.uid]
        return form

    def render(self, form: fm.Form) -> R:
        if isinstance(form, fm.Ref):
            return self.ref(form.node)
        method = getattr(self, "r_" + type(form).__name__)
        result: R = method(form)
        return result

    # ---- declared operations ---------------------------------------------------------
    def template(self, form: fm.OpForm) -> str | None:
        """The notation template of the operation (``None``: the default call form)."""
        raise NotImplementedError

    def operand_style(self, r: R, spec: str) -> str:
        """An operand for the template's format ``spec`` (``""``: as rendered;
        ``"atom"``: parenthesized unless it binds tightest)."""
        if spec == "atom":
            return self.wrap(r, ATOM)
        if spec in ("arg", "base"):
            return self.paren(r.text) if spec == "arg" or r.prec < ATOM else r.text
        return r.text

    def attr_style(self, value: Any, spec: str, scalar: bool) -> str:
        """An attribute for the template's format ``spec``."""
        if _is_number(value):
            return self.number_style(value)
        return str(value)

    def default_call(self, form: fm.OpForm, args: Sequence[R]) -> R:
        return R(call_text(form.op.name, [r.text for r in args], form.attr_dict), ATOM)

    def fill_template(self, form: fm.OpForm, template: str) -> str:
        """``template`` filled with the operation's rendered operands and attributes."""
        scalar = all(a.ndim == 0 for a in form.args)
        operands = [
            Operand(functools.partial(self.operand_style, self.render(a))) for a in form.args
        ]
        attrs = {
            k: Operand(functools.partial(self.attr_style, v, scalar=scalar))
            for k, v in form.attrs
        }
        return fill(template, operands, attrs)

    def r_OpForm(self, form: fm.OpForm) -> R:
        template = self.template(form)
        if template is None:
            return self.default_call(form, [self.render(a) for a in form.args])
        notation = form.op.notation
        text = self.fill_template(form, template)
        return R(text, POW if notation.power else ATOM, sup=self.superscript(notation))

    def superscript(self, notation: Any) -> bool:
        """Whether the rendered form ends in a superscript (LaTeX only)."""
        return False

    # ---- parentheses and numbers ----------------------------------------------------
    def paren(self, text: str) -> str:
        return f"({text})"

    def wrap(self, r: R, prec: int, kinds: Sequence[str] = (), *, first: bool = True) -> str:
        """``r`` in a context of precedence ``prec``, parenthesized when needed."""
        need = r.prec < prec or (r.prec == prec == MUL and r.kind not in kinds)
        if not first and r.text.startswith("-"):
            need = True
        return self.paren(r.text) if need else r.text

    def number(self, c: Any) -> R:
        """A scalar number."""
        text = self.number_style(c)
        return R(text, UNARY if text.startswith("-") else ATOM)

    # ---- products ---------------------------------------------------------------------
    def infix(self, factors: Sequence[fm.Form], op: str, kind: str) -> R:
        """Factors joined by the product sign ``op`` (of product kind ``kind``)."""
        parts = [
            self.wrap(self.render(f), MUL, (kind,), first=k == 0) for k, f in enumerate(factors)
        ]
        return R(f" {op} ".join(parts), MUL, kind)

    def numerator(self, numer: Sequence[fm.Form]) -> list[str]:
        """The factors above the line of a product: scalars, then one of any shape."""
        parts = []
        for k, f in enumerate(numer):
            last = k == len(numer) - 1 and f.ndim > 0
            parts.append(
                self.wrap(self.render(f), MUL, ("*", "@") if last else ("*",), first=k == 0)
            )
        return parts

    # ---- sums ---------------------------------------------------------------------------
    def scaled(self, c: Any, r: R) -> R:
        """``c`` times ``r``."""
        c = py_number(c)
        if c == 1:
            return r
        if c == -1:
            return R("-" + self.wrap(r, UNARY), UNARY)
        return self.times(c, r)

    def times(self, c: Any, r: R) -> R:
        """``c`` times ``r`` for a coefficient other than ``±1``."""
        raise NotImplementedError

    def scaled_one(self, c: Any) -> R:
        """``c`` times the scalar 1: the number, or ``1 / n``."""
        return self.number(c) if reciprocal(c) is None else self.scaled(c, R("1", ATOM))

    def r_LinComb(self, form: fm.LinComb) -> R:
        if len(form.terms) == 1:
            c, f = form.terms[0]
            return self.scaled(c, self.render(f))
        # positive terms first, then by their text (the IR orders terms by node id)
        terms = sorted(
            ((py_number(c), f) for c, f in form.terms),
            key=lambda t: (negative(t[0]), self.order_key(t[1])),
        )
        # an all-ones term reads as the scalar 1 where another term shows the shape
        shape_shown = any(not _is_ones(f) for _, f in terms)
        text = ""
        for k, (c, f) in enumerate(terms):
            minus = k > 0 and negative(c)
            if minus:
                c = -c
            if shape_shown and _is_ones(f):
                term = self.scaled_one(c)
            else:
                term = self.scaled(c, self.render(f))
            sign = "" if k == 0 else " - " if minus else " + "
            text += sign + self.wrap(term, MUL, PRODUCTS, first=k == 0)
        return R(text, ADD)
