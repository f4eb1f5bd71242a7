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
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.ir.expr import Constant, Delta, Expr, Ones, Symbol
from matgrad.printing import forms as fm
from matgrad.printing.matrix import FormContext

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

NAMING_THRESHOLD = 0
"""Kept for compatibility: naming no longer waits for long text.  Every shared,
non-trivial subexpression is named (:func:`choose_shared`)."""

SHORT = 16
"""A subexpression that is one operation on leaves (up to transposes, signs and
scalings) and at most this many characters long is *trivial*: it is repeated
where it occurs (``exp(x)``, ``inv(X)``, ``A @ x``), never named."""

WHERE = "where"
"""The word that opens the definitions of named subexpressions (the formula
language reads it back)."""

NAMES = ("r", "s", "t", "u", "v", "w", "p", "q")
"""The names of shared subexpressions, in the order they are given out (then
``t1, t2, ...``); a name a symbol of the expression has is skipped."""


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
    """``count`` names for shared subexpressions that are not in ``taken``: the
    letters of :data:`NAMES`, then ``t1, t2, ...``.

    >>> fresh_names(3, {"r", "A", "x"})
    ['s', 't', 'u']
    """
    names = [n for n in NAMES if n not in taken][:count]
    namer = Namer(taken | set(names), start=1)
    names += [namer() for _ in range(count - len(names))]
    return names


def choose_shared(
    order: Sequence[int],
    deps: dict[int, list[int]],
    own: dict[int, int],
    root: int,
    wrappers: frozenset[int] | set[int] = frozenset(),
) -> list[int]:
    """The nodes to name, children first: every node that would be printed more
    than once and is not trivial.

    ``order`` lists the nodes children first, ``deps`` the nodes each one prints
    (with multiplicity; leaves left out), ``own`` the length of its own text
    without them.  A node is *trivial* when it is at most one operation deep
    (``wrappers`` — transposes, signs, scalings — add no depth) and its fully
    written text is at most :data:`SHORT` characters.  How often a node is printed
    is counted from the root down: a named node is printed once (its definition),
    an unnamed one as often as its parents print it.  So the printed size is
    bounded by the size of the DAG times a constant, never the size of the tree."""
    named: set[int] = set()
    for _ in range(6):  # a named operand reads as a leaf: decide again until stable
        tree: dict[int, int] = {}
        depth: dict[int, int] = {}
        for uid in order:
            cs = [c for c in deps[uid] if c not in named]
            tree[uid] = own[uid] + 2 * (len(deps[uid]) - len(cs)) + sum(tree[c] for c in cs)
            depth[uid] = max((depth[c] for c in cs), default=0) + (uid not in wrappers)
        occurs: dict[int, int] = dict.fromkeys(order, 0)
        occurs[root] = 1
        chosen: set[int] = set()
        for uid in reversed(order):
            count = occurs[uid]
            if uid != root and count >= 2 and (depth[uid] > 1 or tree[uid] > SHORT):
                chosen.add(uid)
                count = 1
            for c in deps[uid]:
                occurs[c] += count
        if chosen == named:
            break
        named = chosen
    return [uid for uid in order if uid in named]


def _is_wrapper(form: fm.Form) -> bool:
    """A transpose, sign or scaling by numbers: no deeper than what it wraps."""
    if isinstance(form, fm.Transpose):
        return True
    if isinstance(form, fm.LinComb):
        return len(form.terms) == 1
    if isinstance(form, fm.Mul):
        return all(
            isinstance(f, fm.Leaf) and not isinstance(f.node, Symbol) for f in form.factors[:-1]
        )
    return False


_PLACEHOLDER = re.compile("\x00([0-9]+)\x01")


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


def identity_leaf(form: fm.Form) -> fm.Form | None:
    """The identity leaf of ``I`` or of numbers times ``I``, else ``None``."""
    if isinstance(form, fm.Mul):
        form = form.factors[-1]
    if isinstance(form, fm.Leaf) and isinstance(form.node, Delta):
        return form
    return None


def _scalar_number(form: fm.Form) -> Any:
    """The value of a scalar constant without a name (``None`` for anything else)."""
    if isinstance(form, fm.Leaf) and isinstance(form.node, Constant) and not form.node.shape:
        if not form.node.name:
            value = py_number(form.node.value.item())
            return None if isinstance(value, complex) else value
    return None


def _is_ones(form: fm.Form) -> bool:
    return isinstance(form, fm.Leaf) and isinstance(form.node, Ones) and form.ndim > 0


def _common_scale(coeffs: Sequence[Any]) -> float | None:
    """The magnitude all coefficients of a sum share, when it is not 1 (and the
    coefficients are real and at least two)."""
    if len(coeffs) < 2 or any(isinstance(c, complex) for c in coeffs):
        return None
    magnitudes = {abs(c) for c in coeffs}
    if len(magnitudes) != 1:
        return None
    g = float(magnitudes.pop())
    return None if g in (0.0, 1.0) else g


class Renderer:
    """Render the forms of one :class:`FormContext`; every node is rendered once.

    Subclasses give the words and signs: ``r_<Form>`` methods for the forms,
    :meth:`paren`, :attr:`number_style`, :meth:`times` and :meth:`join`."""

    name_style: Callable[[str], str] = staticmethod(lambda s: s)
    number_style: Callable[[Any], str] = staticmethod(number_text)

    def __init__(self, ctx: FormContext, names: dict[int, str] | None = None) -> None:
        self.ctx = ctx
        self.memo: dict[int, R] = {}
        self.sized: set[int] = set()
        """Identity leaves (by ``id``) whose size the context shows: a term of a sum
        or a factor of a product beside an operand of known shape."""
        if names is None:
            named = self.plan()
            taken = {s.name for s in ctx.root.symbols()}
            names = dict(zip(named, fresh_names(len(named), taken)))
        self.names = names

    # ---- which shared subexpressions get names ---------------------------------------
    def measurer(self) -> type[Renderer]:
        """The renderer whose text decides what is named (the text printer's, so
        that every printer names the same subexpressions)."""
        return type(self)

    def plan(self) -> list[int]:
        """The node uids to name (:func:`choose_shared`), children first, measured
        on the text of each node with the nodes it prints standing for themselves."""
        ctx = self.ctx
        root = ctx.root_form
        if not isinstance(root, fm.Ref):
            return []
        marks = {uid: f"\x00{uid}\x01" for uid in ctx.forms}
        measure = self.measurer()(ctx, names=marks)
        deps: dict[int, list[int]] = {}
        own: dict[int, int] = {}
        stack = [root.node.uid]
        while stack:
            uid = stack.pop()
            if uid in deps:
                continue
            text = measure.render(ctx.forms[uid]).text
            found = [int(m) for m in _PLACEHOLDER.findall(text)]
            deps[uid] = found
            own[uid] = len(_PLACEHOLDER.sub("", text))
            stack.extend(c for c in found if c not in deps)
        order = [n.uid for n in ctx.order if n.uid in deps]
        wrappers = {uid for uid in order if _is_wrapper(ctx.forms[uid])}
        return choose_shared(order, deps, own, root.node.uid, wrappers)

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

    def size_identities(self, forms: Sequence[fm.Form]) -> None:
        """Mark the identities among ``forms`` (alone or scaled) as sized by the
        others, when one of the others is not an identity."""
        found = [identity_leaf(f) for f in forms]
        if any(leaf is None for leaf in found):
            self.sized.update(id(leaf) for leaf in found if leaf is not None)

    def r_LinComb(self, form: fm.LinComb) -> R:
        self.size_identities([f for _, f in form.terms])
        if len(form.terms) == 1:
            c, f = form.terms[0]
            return self.scaled(c, self.render(f))
        # a number is a coefficient of 1 (``s - 3``, not ``s + -3``), after the rest
        pairs = []
        for c, f in form.terms:
            value = _scalar_number(f)
            pairs.append((py_number(c) if value is None else py_number(c * value), f, value))
        common = _common_scale([c for c, _, _ in pairs])
        if common is not None:  # 0.5 * a - 0.5 * b reads (a - b) / 2
            ones = fm.LinComb(form.shape, tuple((c / common, f) for c, f in form.terms))
            return self.scaled(common, self.r_LinComb(ones))
        # positive terms first, then by their text (the IR orders terms by node id)
        terms = sorted(
            pairs,
            key=lambda t: (negative(t[0]), "~" if t[2] is not None else self.order_key(t[1])),
        )
        # an all-ones term reads as the scalar 1 where another term shows the shape
        shape_shown = any(not _is_ones(f) for _, f, _ in terms)
        text = ""
        for k, (c, f, value) in enumerate(terms):
            minus = k > 0 and negative(c)
            if minus:
                c = -c
            if value is not None:
                term = self.scaled_one(c)
            elif shape_shown and _is_ones(f):
                term = self.scaled_one(c)
            else:
                term = self.scaled(c, self.render(f))
            sign = "" if k == 0 else " - " if minus else " + "
            text += sign + self.wrap(term, MUL, PRODUCTS, first=k == 0)
        return R(text, ADD)
