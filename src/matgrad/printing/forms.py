"""Forms: how an expression reads in matrix notation, as data (layer 2).

A *form* is a small immutable tree that says how one node of the expression
DAG reads on paper (``A @ X``, ``trace(...)``, ``diag(v)``, ``X ⊙ Y``, ...), with
:class:`Ref` leaves pointing at other nodes.  :mod:`matgrad.printing.einsum_forms` reads
einsums into forms, :mod:`matgrad.printing.matrix` builds the forms of a whole
DAG, and the text and LaTeX renderers print them, so both notations always agree
on structure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from matgrad._types import Shape
from matgrad.ir.apply import Operation
from matgrad.ir.expr import Expr

LEAF_KINDS = frozenset(("symbol", "constant", "zero", "ones", "delta"))
"""Node kinds printed directly, never through a :class:`Ref`."""


@dataclass(frozen=True, eq=False)
class Form:
    """How one (sub)expression reads in matrix notation; ``shape`` is its value's shape."""

    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, eq=False)
class NodeForm(Form):
    """A form that stands for one node of the DAG."""

    node: Expr


class Leaf(NodeForm):
    """A symbol, constant, zero, ones or delta node, printed as itself."""


class Ref(NodeForm):
    """Another node of the DAG (printed inline, or by its let-name when shared)."""


@dataclass(frozen=True, eq=False)
class Unary(Form):
    """A form with one operand ``x``."""

    x: Form


@dataclass(frozen=True, eq=False)
class Product(Form):
    """A form with a sequence of factors."""

    factors: tuple[Form, ...]


@dataclass(frozen=True, eq=False)
class Pair(Form):
    """A form with two operands ``a`` and ``b``."""

    a: Form
    b: Form


class Transpose(Unary):
    """``x.T``."""


class MatMul(Product):
    """``f1 @ f2 @ ...``; vectors may stand at either end (NumPy's 1-d rules)."""


class Mul(Product):
    """Scalars times one last factor of any shape: ``s * t * X``."""


class Hadamard(Product):
    """``f1 ⊙ f2 ⊙ ...`` (entry by entry)."""


class Kron(Pair):
    """``a ⊗ b``."""


class Outer(Pair):
    """``outer(a, b)`` of two vectors."""


class Trace(Unary):
    """``trace(x)``."""


class DiagOf(Unary):
    """The diagonal of a square matrix, as a vector."""


class DiagMat(Unary):
    """The diagonal matrix of a vector."""


@dataclass(frozen=True, eq=False)
class Sum(Unary):
    """Sum over ``axes`` (all axes when ``None``)."""

    axes: tuple[int, ...] | None


@dataclass(frozen=True, eq=False)
class OpForm(Form):
    """A declared operation applied to operand forms; it prints as its
    declaration's notation says (:class:`~matgrad.ir.apply.Notation`)."""

    op: Operation
    args: tuple[Form, ...]
    attrs: tuple[tuple[str, Any], ...]

    @property
    def attr_dict(self) -> dict[str, Any]:
        return dict(self.attrs)

    def reciprocal_of(self) -> Form | None:
        """The operand, when this is ``1 / operand`` (printed as a fraction)."""
        test = self.op.notation.reciprocal
        return self.args[0] if test is not None and test(self.attr_dict) else None


@dataclass(frozen=True, eq=False)
class LinComb(Form):
    """``Σ c_k f_k`` with Python-number coefficients."""

    terms: tuple[tuple[complex, Form], ...]


@dataclass(frozen=True, eq=False)
class EinsumCall(Form):
    """The index-notation fallback: operands with index ids, giving ``out``."""

    indices: tuple[tuple[int, ...], ...]
    out: tuple[int, ...]
    operands: tuple[Form, ...]


@dataclass(frozen=True, eq=False)
class Generic(Form):
    """A node kind this module does not know: ``kind(children...)``."""

    kind: str
    args: tuple[Form, ...]


def children(form: Form) -> tuple[Form, ...]:
    """The sub-forms of ``form`` (a :class:`Ref` has none: it points at a node)."""
    if isinstance(form, Unary):
        return (form.x,)
    if isinstance(form, OpForm):
        return form.args
    if isinstance(form, Product):
        return form.factors
    if isinstance(form, Pair):
        return (form.a, form.b)
    if isinstance(form, LinComb):
        return tuple(f for _, f in form.terms)
    if isinstance(form, EinsumCall):
        return form.operands
    if isinstance(form, Generic):
        return form.args
    return ()


def iter_forms(form: Form) -> Iterator[Form]:
    """``form`` and all its sub-forms (not following refs), iteratively."""
    stack = [form]
    while stack:
        f = stack.pop()
        yield f
        stack.extend(reversed(children(f)))


def diag_of(x: Form) -> Form:
    """``diag`` of a matrix form; ``diag(Mᵀ) = diag(M)``."""
    while isinstance(x, Transpose):
        x = x.x
    return DiagOf(x.shape[:1], x)


def matmul(factors: Sequence[Form], shape: Shape) -> Form:
    """A chain of one or more factors (one factor is itself)."""
    if len(factors) == 1:
        return factors[0]
    return MatMul(shape, tuple(factors))


__all__ = [
    "LEAF_KINDS",
    "DiagMat",
    "DiagOf",
    "EinsumCall",
    "Form",
    "Generic",
    "Hadamard",
    "Kron",
    "Leaf",
    "LinComb",
    "MatMul",
    "Mul",
    "NodeForm",
    "OpForm",
    "Outer",
    "Pair",
    "Product",
    "Ref",
    "Sum",
    "Trace",
    "Transpose",
    "Unary",
    "children",
    "diag_of",
    "iter_forms",
    "matmul",
]
