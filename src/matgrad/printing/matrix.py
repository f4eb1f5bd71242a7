"""From the expression DAG to matrix notation: the forms behind the printers (layer 2).

:class:`FormContext` turns every node of a DAG into a *form*
(:mod:`matgrad.printing.forms`): how the node reads on paper, with :class:`Ref` leaves
pointing at other nodes.  Einsums are read as index graphs by
:func:`matgrad.printing.einsum_forms.einsum_form`; the context keeps the structural facts
that reading needs: which forms are symmetric, and how to transpose a form with
as few transposes as possible.  The text and LaTeX printers render the same
forms, so both notations always agree on structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    Add,
    Delta,
    Einsum,
    Expr,
    Ones,
    Symbol,
    Zero,
)
from matgrad.printing.einsum_forms import einsum_form
from matgrad.printing.forms import (
    LEAF_KINDS,
    DiagMat,
    Form,
    Generic,
    Hadamard,
    Kron,
    Leaf,
    LinComb,
    MatMul,
    Mul,
    NodeForm,
    OpForm,
    Ref,
    Transpose,
    iter_forms,
)

__all__ = ["FormContext", "sort_keys"]


# =====================================================================================
# The context: one form per node, plus the structural facts the chains need
# =====================================================================================


class FormContext:
    """The forms of every node of a DAG, built once, children first."""

    def __init__(self, root: Expr) -> None:
        self.root = root
        self.order = root.walk()
        self.forms: dict[int, Form] = {}
        self.t_forms: dict[int, Form] = {}
        self._cost: dict[int, int] = {}
        self._sym: dict[int, bool] = {}
        self.keys = sort_keys(self.order)
        for node in self.order:
            if node.kind in LEAF_KINDS:
                continue
            form = _build(self, node)
            self.forms[node.uid] = form
            self._cost[node.uid] = self.cost(form) if isinstance(form, MatMul) else 0
            self._sym[node.uid] = self.symmetric(form)
            if isinstance(node, Einsum) and node.ndim == 2:
                self.t_forms[node.uid] = einsum_form(self, node, (1, 0))

    def ref(self, node: Expr) -> Form:
        """The form of ``node`` as an operand."""
        if node.kind in LEAF_KINDS:
            return Leaf(node.shape, node)
        return Ref(node.shape, node)

    @property
    def root_form(self) -> Form:
        return self.ref(self.root)

    def refs(self, form: Form) -> list[Expr]:
        """The nodes ``form`` refers to, with multiplicity."""
        return [f.node for f in iter_forms(form) if isinstance(f, Ref)]

    # ---- chain bookkeeping ----------------------------------------------------------
    def cost(self, form: Form) -> int:
        """The number of transposes a chain prints (what orientation choices minimize)."""
        if isinstance(form, Transpose):
            return 1
        if isinstance(form, MatMul):
            return sum(self.cost(f) for f in form.factors)
        if isinstance(form, Ref):
            return self._cost.get(form.node.uid, 0)
        return 0

    def symmetric(self, form: Form) -> bool:
        """Whether the (matrix) form is symmetric by construction."""
        if form.ndim != 2 or form.shape[0] != form.shape[1]:
            return False
        if isinstance(form, Leaf):
            node = form.node
            return isinstance(node, (Delta, Ones, Zero)) or (
                isinstance(node, Symbol) and node.symmetric
            )
        if isinstance(form, Ref):
            return self._sym.get(form.node.uid, False)
        if isinstance(form, DiagMat):
            return True
        if isinstance(form, Transpose):
            return self.symmetric(form.x)
        if isinstance(form, OpForm):
            return form.op.preserves_symmetry and all(self.symmetric(a) for a in form.args)
        if isinstance(form, (Hadamard, Mul)):
            return all(self.symmetric(f) or f.ndim == 0 for f in form.factors)
        if isinstance(form, LinComb):
            return all(self.symmetric(f) for _, f in form.terms)
        if isinstance(form, MatMul):
            return self._palindrome(form.factors)
        return False

    def _palindrome(self, factors: tuple[Form, ...]) -> bool:
        """``F1 F2 … Fm`` equals its transpose when ``Fk = F(m+1-k)ᵀ``."""
        m = len(factors)
        if any(f.ndim != 2 for f in factors):
            return False
        for k in range(m // 2):
            a, b = _base(factors[k]), _base(factors[m - 1 - k])
            if a is None or b is None or a[0] != b[0]:
                return False
            if a[1] == b[1] and not self.symmetric(factors[k]):
                return False
        return m % 2 == 0 or self.symmetric(factors[m // 2])

    def transpose(self, form: Form) -> Form:
        """``formᵀ`` written with as few transposes as possible."""
        if form.ndim < 2 or self.symmetric(form):
            return form
        if isinstance(form, Transpose):
            return form.x
        if isinstance(form, Ref):
            inner = self.forms.get(form.node.uid)
            if isinstance(inner, Transpose):
                return inner.x
            alt = self.t_forms.get(form.node.uid)
            if alt is not None and (
                self.cost(alt) == 0 or (self.cost(alt) == 1 and not isinstance(alt, Transpose))
            ):
                return alt
        if isinstance(form, MatMul) and all(f.ndim == 2 for f in form.factors):
            flipped = [self.transpose(f) for f in reversed(form.factors)]
            if sum(self.cost(f) for f in flipped) <= self.cost(form):
                return MatMul(form.shape[::-1], tuple(flipped))
        return Transpose(form.shape[::-1], form)


def sort_keys(order: Sequence[Expr]) -> dict[int, tuple[str, str, int]]:
    """A history-independent order of operands (node uids depend on what was built
    before): the smallest symbol name inside, then kind and rank."""
    keys: dict[int, tuple[str, str, int]] = {}
    for node in order:
        if isinstance(node, Symbol):
            name = node.name
        elif node.children:
            name = min(keys[c.uid][0] for c in node.children)
        else:
            name = "~"
        keys[node.uid] = (name, node.kind, node.ndim)
    return keys


def _base(form: Form) -> tuple[int, bool] | None:
    """(node uid, transposed?) of a plain or transposed operand, for palindromes."""
    flipped = False
    while isinstance(form, Transpose):
        form, flipped = form.x, not flipped
    if isinstance(form, NodeForm):
        return form.node.uid, flipped
    return None


# =====================================================================================
# Node kinds
# =====================================================================================


def _build(ctx: FormContext, node: Expr) -> Form:
    if isinstance(node, Einsum):
        return einsum_form(ctx, node, node.out)
    if isinstance(node, Add):
        terms = [(c, ctx.ref(t)) for t, c in zip(node.terms, node.coeffs)]
        first = next((k for k, (c, _) in enumerate(terms) if _positive(c)), 0)
        terms.insert(0, terms.pop(first))
        return LinComb(node.shape, tuple(terms))
    if isinstance(node, Apply):
        if node.op.notation.reads_as_kron:
            kron = _kron(ctx, node)
            if kron is not None:
                return kron
        args = tuple(ctx.ref(a) for a in node.args)
        return OpForm(node.shape, node.op, args, tuple(node.attrs.items()))
    return Generic(node.shape, node.kind, tuple(ctx.ref(c) for c in node.children))


def _positive(c: complex) -> bool:
    return not isinstance(c, complex) and bool(c > 0)


def _kron(ctx: FormContext, node: Apply) -> Form | None:
    """``reshape(A[i,k] B[j,l] -> ijkl, (m p, n q))`` is ``A ⊗ B``."""
    inner = node.x
    if not isinstance(inner, Einsum) or len(inner.operands) != 2 or inner.ndim != 4:
        return None
    if set(inner.indices) != {(0, 2), (1, 3)}:
        return None
    by_index = dict(zip(inner.indices, inner.operands))
    a, b = by_index[(0, 2)], by_index[(1, 3)]
    (m, n), (p, q) = a.shape, b.shape
    if node.shape != (m * p, n * q):
        return None
    return Kron(node.shape, ctx.ref(a), ctx.ref(b))
