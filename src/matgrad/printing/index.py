"""Index (Einstein) notation with explicit free indices (layer 2):
``out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]``.

The summation rule is ``numpy.einsum``'s: an index of a product that is not free
is summed over that product.  Nested products are fused into one; a function
argument and a parenthesized sum are scopes of their own; matrix functions keep
matrix notation inside (``inv(A @ B)[i,j]``).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from matgrad.ir.apply import Apply
from matgrad.ir.expr import Add, Constant, Delta, Einsum, Expr, Ones, Symbol, Zero
from matgrad.printing.forms import LEAF_KINDS
from matgrad.printing.matrix import FormContext, sort_keys
from matgrad.printing.notation import (
    ADD,
    ATOM,
    MUL,
    POW,
    Operand,
    R,
    array_text,
    call_text,
    choose_shared,
    fill,
    fresh_names,
    index_letters,
    letter,
    negative,
    number_text,
    py_number,
)
from matgrad.printing.text import TextRenderer

__all__ = ["IndexPrinter"]


class _Alloc:
    """Index letters in use in the current scope."""

    def __init__(self, used: set[str]) -> None:
        self.used = used

    def fresh(self) -> str:
        k = 0
        while True:
            name = letter(k)
            if name not in self.used:
                self.used.add(name)
                return name
            k += 1


class IndexPrinter:
    """Einstein notation with explicit free indices: ``out[i,j] = A[i,k] X[k,j]``.

    An index of a product that is not free in its scope is summed over that
    product (``numpy.einsum``'s rule).  A function argument and a parenthesized
    sum are scopes of their own, whose free indices are those they share with the
    enclosing product; an index summed outside but written only inside one such
    scope is marked with ``Σ[j]`` in front of the product."""

    def __init__(self, root: Expr) -> None:
        self.root = root
        order = root.walk()
        self.keys = sort_keys(order)
        inner = [n for n in order if n.kind not in LEAF_KINDS]
        deps = {n.uid: [c.uid for c in n.children if c.kind not in LEAF_KINDS] for n in inner}
        own = {n.uid: _index_own_size(n) for n in inner}
        wrappers = {n.uid for n in inner if _is_wrapper(n)}
        chosen = set(choose_shared([n.uid for n in inner], deps, own, root.uid, wrappers))
        chosen |= set(_deep_nodes(order, chosen, root))
        named = [n for n in order if n.uid in chosen]
        taken = {s.name for s in root.symbols()}
        self.names = {n.uid: name for n, name in zip(named, fresh_names(len(named), taken))}
        self.nodes = {n.uid: n for n in named}
        self._text: TextRenderer | None = None

    def document(self) -> str:
        lines = [self._definition("out", self.root)]
        for uid, name in self.names.items():
            lines.append(self._definition(name, self.nodes[uid]))
        return "\n".join(lines)

    def _definition(self, name: str, node: Expr) -> str:
        # index letters skip the names of subexpressions (no ``r[r,s]``)
        taken = set(self.names.values())
        letters = tuple(n for n in index_letters(node.ndim + len(taken)) if n not in taken)
        letters = letters[: node.ndim]
        text, _ = self.render(node, letters, _Alloc(set(letters) | taken), top=True)
        return f"{self._subscript(name, letters)} = {text}"

    def _matrix_text(self, node: Expr) -> R:
        """``node`` in matrix notation, sharing this printer's names."""
        if self._text is None:
            self._text = TextRenderer(FormContext(self.root), names=self.names)
        return self._text.render(self._text.ctx.ref(node))

    @staticmethod
    def _subscript(base: str, letters: tuple[str, ...]) -> str:
        return f"{base}[{','.join(letters)}]" if letters else base

    def render(
        self, node: Expr, letters: tuple[str, ...], alloc: _Alloc, *, top: bool = False
    ) -> tuple[str, int]:
        name = None if top else self.names.get(node.uid)
        if name is not None:
            return self._subscript(name, letters), ATOM
        if isinstance(node, Symbol):
            return self._subscript(node.name, letters), ATOM
        if isinstance(node, Delta):
            return self._subscript("δ", letters), ATOM
        if isinstance(node, (Zero, Ones)):
            return self._subscript("0" if isinstance(node, Zero) else "1", letters), ATOM
        if isinstance(node, Constant):
            if node.name:
                return self._subscript(node.name, letters), ATOM
            if not node.shape:
                text = number_text(node.value.item())
                return text, ADD if text.startswith("-") else ATOM
            return self._subscript(array_text(node.value), letters), ATOM
        if isinstance(node, Einsum) or (isinstance(node, Add) and len(node.terms) == 1):
            coeff, factors, marks = self._product(node, letters, alloc, top=top)
            return self._product_text(coeff, factors, marks)
        if isinstance(node, Add):
            return self._sum(node, letters, alloc)
        if isinstance(node, Apply) and node.op.elementwise:
            return self._elementwise(node, letters, alloc)
        # matrix functions, reshapes, unknown kinds: matrix notation inside, indexed
        r = self._matrix_text(node)
        base = r.text if r.prec == ATOM else f"({r.text})"
        return self._subscript(base, letters), ATOM

    def _elementwise(
        self, node: Apply, letters: tuple[str, ...], alloc: _Alloc
    ) -> tuple[str, int]:
        """An elementwise operation of indexed operands: ``exp(X[i,j])``, ``x[i]**2``."""
        notation = node.op.notation
        inner = [self.render(a, letters, alloc) for a in node.args]
        template = notation.index or notation.text
        if template is None:
            return call_text(node.op.name, [t for t, _ in inner], node.attrs), ATOM
        operands = [Operand(functools.partial(_index_operand, t, p)) for t, p in inner]
        attrs = {k: Operand(functools.partial(_index_attr, v)) for k, v in node.attrs.items()}
        return fill(template, operands, attrs), POW if notation.power else ATOM

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
        if isinstance(node, Apply) and node.op.elementwise:
            plain = all(a.kind in LEAF_KINDS or a.uid in self.names for a in node.args)
            return not node.op.notation.power or not plain
        return False

    def _product_text(
        self, coeff: Any, factors: list[tuple[str, int]], marks: Sequence[str] = ()
    ) -> tuple[str, int]:
        parts = [t if p >= MUL and not t.startswith("-") else f"({t})" for t, p in factors]
        if marks:
            parts.insert(0, f"Σ[{','.join(marks)}]")
        body = " ".join(parts)
        c = py_number(coeff)
        if c == 1:
            if len(parts) == 1 and factors:
                return factors[0]
            return (body or "1"), MUL if parts else ATOM
        if c == -1:
            return "-" + (body or "1"), ADD
        text = number_text(c) + (" " + body if body else "")
        return text, ADD if text.startswith("-") else MUL

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
            c_py = py_number(coeff * c)
            minus = negative(c_py)
            magnitude = self._product_text(-c_py if minus else c_py, factors, marks)[0]
            terms.append((minus, magnitude, self._product_text(c_py, factors, marks)[0]))
            alloc.used |= scope.used
        terms.sort(key=lambda t: (t[0], t[1]))
        text = terms[0][2]
        for minus, magnitude, _ in terms[1:]:
            body = f"({magnitude})" if magnitude.startswith("-") else magnitude
            text += (" - " if minus else " + ") + body
        return text, ADD


def _index_operand(text: str, prec: int, spec: str) -> str:
    return text if spec != "atom" or prec >= ATOM else f"({text})"


def _index_attr(value: Any, spec: str) -> str:
    return number_text(value) if isinstance(value, (int, float, complex)) else str(value)


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
    """About the length of ``node``'s own text, its non-leaf operands left out."""
    size = 6
    for child in node.children:
        if isinstance(child, Symbol):
            size += len(child.name) + 2 * child.ndim + 2
        elif child.kind in LEAF_KINDS:
            size += 3 + 2 * child.ndim
    if isinstance(node, Einsum):
        size += sum(len(ix) for ix in node.indices)
    return size


def _is_wrapper(node: Expr) -> bool:
    """A transpose, or a product of one array and numbers (no deeper than its operand)."""
    if isinstance(node, Einsum):
        return sum(1 for o in node.operands if o.ndim > 0 or not isinstance(o, Constant)) == 1
    return isinstance(node, Add) and len(node.terms) == 1


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
