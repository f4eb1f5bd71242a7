"""Random expressions for fuzzing the derivative machinery (layer 4).

:func:`random_expressions` is a hypothesis strategy of :class:`FuzzCase` records:
an expression composed of matgrad's operations several levels deep, the symbol
to differentiate it with respect to, and a value for every symbol it uses.

**Leaves** are the symbols ``s`` (scalar), ``x`` and ``y`` (vectors of size
``n``), ``A`` (``n×n``), ``B`` (``n×m``) and ``X`` (``n×n``, drawn invertible
or symmetric positive definite, the matrix that ``inv``, ``det``, ``logdet`` and
``solve`` see), small constant arrays, and the identity (a symbolic delta).
Shapes without a symbol of their own get ``B.T``, ``B.T @ x`` or a constant.

**Inner nodes** are drawn for a target shape, so every expression is
shape-correct by construction.  Two kinds: the *composites* (:data:`COMPOSITES`)
built here from the multilinear core and the public constructors — ``+``,
``−``, scaling by a number or by a scalar expression, Hadamard products,
broadcasting (``M + v``, ``a + c``), ``@`` (matrix-matrix, matrix-vector,
vector-matrix, ``u @ v``, ``u @ M @ v``), ``.T``, ``trace``, ``diag`` (both
ways), ``sum`` and ``mean`` (all or one axis), ``outer``, ``kron`` (as
``reshape(kron(P, Q) @ vec(R))`` and ``trace(kron(P, Q))``), ``matrix_power``,
division by and ``norm`` of *positive* forms, ``solve`` — and every *declared
operation* with fuzz entries (:class:`~matgrad.ir.apply.Fuzz`), read from the
registry when a case is drawn (so an operation declared at run time is drawn
too).  One generic builder draws those: a :class:`~matgrad.ir.apply.Fuzz`
record of the operation and attributes from it, then an operand from the
record's domain — ``general``: any expression, tamed to the record's limit;
``positive``: a positive form (a declared operation with a positive result such
as ``exp(a)``, ``sigmoid(a)``, ``sqrt(p)``, or ``1 + a**2``); ``nonzero``:
``±1 + tanh(a)/2``, bounded away from zero; ``invertible``: a
*well-conditioned* form (``X``, ``X.T``, ``nI + tanh(M)/2``,
``tanh(M) tanh(M)ᵀ + I``, products and inverses of those) with known bounds on
its singular values.  An elementwise operation produces any shape; any other
one the shapes its shape rule gives for the operands the domain allows.

**Scale.**  Every generated subexpression carries an upper bound on the
magnitude of its entries (from the value domains: general symbols are bounded by
2, ``X`` has singular values in ``[0.2, 2]``; a declared operation's bound
comes from its :class:`~matgrad.ir.apply.Fuzz` record).  An operand whose bound
exceeds a limit (5, or 3 under ``exp`` and powers) is tamed before it is used —
wrapped in ``tanh`` or scaled down by a constant — so that values stay moderate,
the functions stay smooth on the scale of a finite-difference step, and
numerical differentiation is a meaningful witness.

Every case carries Python source for itself: ``case.code()`` is a self-contained
reproducer.

>>> from hypothesis import find
>>> case = find(random_expressions(outputs=["scalar"]), lambda c: c.wrt.name == "X")
>>> case.expr.shape, case.wrt.shape, sorted(case.values) == [s.name for s in case.expr.symbols()]
((), (1, 1), True)
>>> print(case.code().splitlines()[3])
X = mg.Matrix("X", (1, 1))
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from matgrad import ops
from matgrad._types import Array, Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Fuzz, Operation
from matgrad.ir.expr import Expr, Matrix, Scalar, Symbol, Vector, add, constant, delta
from matgrad.ops import registry
from matgrad.testing import strategies as mgst
from matgrad.testing.opspec import value_strategy

__all__ = [
    "COMPOSITES",
    "OPERATIONS",
    "FuzzCase",
    "form_label",
    "fuzzed_operations",
    "known_operations",
    "random_expressions",
    "source_name",
]

COMPOSITES: frozenset[str] = frozenset(
    {
        # linear combinations and broadcasting
        "add", "sub", "scale", "scalar_times", "shift", "broadcast_add",
        # multilinear (einsums)
        "hadamard", "matmul", "matvec", "vecmat", "dot", "quadratic", "transpose",
        "trace", "diag", "sum", "mean", "outer", "kron", "matrix_power",
        # built from declared operations
        "divide", "norm", "solve",
    }
)
"""The operations built here from the core and the public constructors (not
declared operations of their own)."""

ONE_PLUS_SQUARE = "one_plus_square"
"""The label (in :attr:`FuzzCase.drawn`) of the positive form ``1 + a**2``."""


def fuzzed_operations() -> tuple[Operation, ...]:
    """The declared operations the fuzzer draws now: those of one operand with
    fuzz entries, in declaration order."""
    return tuple(op for op in registry.operations() if op.fuzz and op.arity == 1)


def known_operations() -> frozenset[str]:
    """The names :func:`random_expressions` accepts in ``operations=`` now: the
    composites and every operation :func:`fuzzed_operations` lists."""
    return COMPOSITES | {op.name for op in fuzzed_operations()}


OPERATIONS: frozenset[str] = known_operations()
"""Names of the operations :func:`random_expressions` composes (its ``operations=``),
as declared when this module was imported (:func:`known_operations` is the
current set)."""


def form_label(op: Operation, k: int) -> str:
    """The label (in :attr:`FuzzCase.drawn`) of the ``k``-th fuzz record of ``op``."""
    return f"{op.name}[{k}]"


def source_name(op: Operation) -> str:
    """How Python source with ``import matgrad as mg`` reaches ``op``'s constructor:
    ``mg.<name>``, else ``mg.ops.<name>``, else through the registry (an operation
    declared at run time)."""
    root = sys.modules.get("matgrad")
    if getattr(getattr(root, op.name, None), "op", None) is op:
        return f"mg.{op.name}"
    if getattr(getattr(ops, op.name, None), "op", None) is op:
        return f"mg.ops.{op.name}"
    return f"mg.ops.registry.operation({op.name!r})"


def _op_of(constructor: Callable[..., Expr]) -> Operation:
    """The declaration behind a public constructor (``mg.tanh`` → its operation)."""
    op = vars(constructor).get("op")
    if not isinstance(op, Operation):
        raise InvalidArgumentError(f"{constructor!r} is not a declared operation's constructor")
    return op


def _call_source(op: Operation, operands: Iterable[str], attrs: Mapping[str, Any]) -> str:
    """Source applying ``op`` to operand sources, attributes positionally."""
    args = [*operands, *(repr(attrs[name]) for name in op.attrs)]
    return f"{source_name(op)}({', '.join(args)})"


LIMIT = 5.0
"""Operands whose magnitude bound exceeds this are tamed (``tanh`` or rescaled)."""
STEEP_LIMIT = 3.0
"""The limit for arguments of integer ``matrix_power`` (declared operations give
their own limits, 3 for ``exp`` and integer powers)."""
POSITIVE_LIMIT = 2.0
"""The limit for general operands of positive forms (``exp(a)``, ``sigmoid(a)``),
so that the forms stay bounded away from zero."""
NONZERO = (0.5, 1.5)
"""The bounds on the magnitude of the nonzero form ``±1 + tanh(a)/2``."""

SYMBOL_NAMES = ("s", "x", "y", "A", "B", "X")
"""The leaf symbols, in the order their declarations are printed."""


@dataclass(frozen=True, eq=False)
class FuzzCase:
    """One generated expression with the variable to differentiate and values for
    its symbols.  ``source`` is Python (``mg.`` for matgrad, ``np.`` for NumPy)
    that builds ``expr`` from the declared symbols; ``n`` and ``m`` are the sizes.
    ``operations`` are the operations the draw could choose from; ``drawn`` labels
    what it built: the composites and declared operations by name, each declared
    operation's fuzz record by :func:`form_label` too, and the positive form
    ``1 + a**2`` as :data:`ONE_PLUS_SQUARE`."""

    expr: Expr
    wrt: Symbol
    values: Mapping[str, Array]
    source: str
    n: int
    m: int
    depth: int = 0
    operations: frozenset[str] = field(default=frozenset())
    drawn: frozenset[str] = field(default=frozenset())

    def code(self) -> str:
        """A self-contained Python snippet that rebuilds the case (``f``, ``wrt``, ``values``)."""
        lines = ["import numpy as np", "import matgrad as mg", f"n, m = {self.n}, {self.m}"]
        for sym in sorted(self.expr.symbols(), key=lambda s: SYMBOL_NAMES.index(s.name)):
            lines.append(f"{sym.name} = {_declaration(sym)}")
        lines.append(f"f = {self.source}")
        lines.append(f"wrt = {self.wrt.name}")
        items = ", ".join(f"{k!r}: {_array_source(v)}" for k, v in self.values.items())
        lines.append("values = {" + items.replace("'", '"') + "}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"FuzzCase(shape={self.expr.shape}, wrt={self.wrt.name}, depth={self.depth}, "
            f"source={self.source!r})\n# reproducer:\n{self.code()}"
        )


def _declaration(sym: Symbol) -> str:
    if sym.ndim == 0:
        return f'mg.Scalar("{sym.name}")'
    if sym.ndim == 1:
        return f'mg.Vector("{sym.name}", {sym.shape[0]})'
    return f'mg.Matrix("{sym.name}", {sym.shape})'


def _array_source(value: Any) -> str:
    return f"np.array({np.asarray(value).tolist()!r})"


# ---------------------------------------------------------------------------------------
# Generated pieces
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """A generated subexpression: its expression, its source, an upper bound on the
    magnitude of its entries and (for positive forms) a positive lower bound."""

    expr: Expr
    source: str
    bound: float
    low: float = 0.0


@dataclass(frozen=True)
class _Invertible:
    """A square matrix with bounds on its singular values."""

    term: _Term
    sigma_min: float
    sigma_max: float


@dataclass(frozen=True)
class _Form:
    """One way to draw a declared operation for a target shape: the ``k``-th fuzz
    record, attribute values from it and the operand's shape."""

    op: Operation
    k: int
    fuzz: Fuzz
    attrs: Mapping[str, Any]
    operand: Shape


Builder = Callable[["_Generator", Shape, int], _Term]


class _Generator:
    """The state of one draw: sizes, symbols used, nodes built, and the declared
    operations it may draw (read from the registry when the draw starts)."""

    def __init__(
        self,
        draw: st.DrawFn,
        n: int,
        m: int,
        operations: frozenset[str],
        max_size: int,
        x_domain: str,
    ) -> None:
        self.draw = draw
        self.n = n
        self.m = m
        self.operations = operations
        self.max_size = max_size
        self.size = 0
        self.used: set[str] = set()
        self.drawn: set[str] = set()
        self.x_domain = x_domain
        self.declared: dict[str, Operation] = {op.name: op for op in fuzzed_operations()}
        self._forms: dict[tuple[str, Shape], list[_Form]] = {}
        self.symbols: dict[str, Symbol] = {
            "s": Scalar("s"),
            "x": Vector("x", n),
            "y": Vector("y", n),
            "A": Matrix("A", (n, n)),
            "B": Matrix("B", (n, m)),
            "X": Matrix("X", (n, n)),
        }

    # ---- leaves ---------------------------------------------------------------------

    def symbol(self, name: str) -> _Term:
        self.used.add(name)
        return _Term(self.symbols[name], name, 2.0)

    def leaf(self, shape: Shape) -> _Term:
        options: list[Callable[[], _Term]] = []
        for name in SYMBOL_NAMES:
            if self.symbols[name].shape == shape:
                options.append(functools.partial(self.symbol, name))
        n, m = self.n, self.m
        if shape == (m, n):
            options.append(lambda: self.transposed(self.symbol("B")))
        if shape == (m,):
            options.append(lambda: self.matvec_term(self.transposed(self.symbol("B")),
                                                    self.symbol("x")))
        if len(shape) == 2 and shape[0] == shape[1]:
            options.append(lambda: self.identity(shape[0]))
        options.append(lambda: self.constant(shape))
        pick = self.draw(st.integers(0, len(options) - 1))
        return options[pick]()

    def constant(self, shape: Shape) -> _Term:
        if shape == ():
            value = np.array(self.draw(st.sampled_from((1.0, 0.5, -1.0, 2.0, -0.25))))
        else:
            elements = st.floats(-1.0, 1.0, allow_subnormal=False).map(
                lambda v: 0.0 if abs(v) < 1e-6 else v
            )
            value = np.asarray(self.draw(mgst.arrays(shape, elements=elements)))
        bound = float(np.max(np.abs(value), initial=0.0))
        return _Term(constant(value), f"mg.constant({_array_source(value)})", bound)

    def identity(self, size: int) -> _Term:
        return _Term(delta(size), f"mg.ir.expr.delta({size})", 1.0, 0.0)

    # ---- helpers that build nodes from terms ------------------------------------------

    def transposed(self, a: _Term) -> _Term:
        return _Term(a.expr.T, f"{a.source}.T", a.bound)

    def matvec_term(self, a: _Term, v: _Term) -> _Term:
        k = a.expr.shape[1]
        return _Term(a.expr @ v.expr, f"({a.source} @ {v.source})", k * a.bound * v.bound)

    def scaled(self, c: float, a: _Term) -> _Term:
        return _Term(add([a.expr], [c]), f"({c!r} * {a.source})", abs(c) * a.bound,
                     c * a.low if c > 0 else 0.0)

    def tanh(self, a: _Term) -> _Term:
        """``tanh(a)``, bounded by 1."""
        return _Term(ops.tanh(a.expr), _call_source(_op_of(ops.tanh), [a.source], {}), 1.0)

    def tame(self, a: _Term, limit: float) -> _Term:
        """``a`` itself if its bound is within ``limit``, else ``tanh(a)`` or ``c·a``."""
        if a.bound <= limit:
            return a
        if self.draw(st.booleans()):
            c = float(f"{limit / a.bound:.3g}")
            c = c if c * a.bound <= limit else limit / a.bound
            return self.scaled(c, a)
        return self.tanh(a)

    # ---- recursion --------------------------------------------------------------------

    def term(self, shape: Shape, depth: int, *, leaf: bool = True) -> _Term:
        """Any expression of ``shape`` with at most ``depth`` levels of operations
        (``leaf=False``: not a leaf, unless no operation is allowed)."""
        if depth <= 0 or self.size >= self.max_size:
            return self.leaf(shape)
        if leaf and self.draw(st.integers(0, 4)) == 0:
            return self.leaf(shape)
        names = [name for name in _candidates(shape, self) if name in self.operations]
        if not names:
            return self.leaf(shape)
        # half the time an operation that changes shapes (there are fewer of them)
        reshaping = [name for name in names if not self.same_shape(name)]
        if len(reshaping) > 0 and self.draw(st.booleans()):
            names = reshaping
        name = self.draw(st.sampled_from(names))
        self.size += 1
        if name in self.declared:
            return self.declared_term(self.declared[name], shape, depth - 1)
        self.drawn.add(name)
        return _BUILDERS[name](self, shape, depth - 1)

    def same_shape(self, name: str) -> bool:
        """Whether the operands of operation ``name`` have the result's shape."""
        if name in self.declared:
            return self.declared[name].elementwise
        return name in _SAME_SHAPE

    def child(self, shape: Shape, depth: int, limit: float = LIMIT) -> _Term:
        return self.tame(self.term(shape, depth), limit)

    def positive(self, shape: Shape, depth: int) -> _Term:
        """An expression whose entries are positive, with bounds ``low ≤ · ≤ bound``:
        a declared operation whose fuzz record says its result is positive (one
        whose operand must itself be positive only while ``depth`` is left), or
        ``1 + a**2``."""
        forms: dict[str, list[_Form]] = {}
        for op in self.declared.values():
            for form in self.forms(op, shape):
                if form.fuzz.positive and (form.fuzz.domain != "positive" or depth > 0):
                    forms.setdefault(op.name, []).append(form)
        kind = self.draw(st.sampled_from([*forms, ONE_PLUS_SQUARE]))
        if kind != ONE_PLUS_SQUARE:
            form = self.draw(st.sampled_from(forms[kind]))
            inner = depth - 1 if form.fuzz.domain == "positive" else depth
            return self.apply(form, inner, limit=min(form.fuzz.limit, POSITIVE_LIMIT))
        self.drawn.add(ONE_PLUS_SQUARE)
        a = self.child(shape, depth, limit=2.5)
        return _Term(1.0 + a.expr**2, f"(1.0 + {a.source} ** 2)", 1.0 + a.bound**2, 1.0)

    def nonzero(self, shape: Shape, depth: int) -> _Term:
        """``±1 + tanh(a)/2``: entries of magnitude in :data:`NONZERO`."""
        sign = self.draw(st.sampled_from((1.0, -1.0)))
        t = self.tanh(self.child(shape, depth))
        lo, hi = NONZERO
        return _Term(t.expr * 0.5 + sign, f"(0.5 * {t.source} + {sign!r})", hi, lo)

    def invertible(self, depth: int) -> _Invertible:
        """An ``n×n`` matrix with singular values bounded away from zero."""
        n = self.n
        kinds = ["X", "X.T", "shifted", "gram"]
        if depth > 0:
            kinds += ["product", "inverse"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "X":
            return _Invertible(self.symbol("X"), 0.2, 2.0)
        if kind == "X.T":
            return _Invertible(self.transposed(self.symbol("X")), 0.2, 2.0)
        if kind == "shifted":  # ‖tanh(M)/2‖₂ ≤ ‖tanh(M)‖_F / 2 ≤ n/2
            t = self.tanh(self.child((n, n), depth))
            eye = self.identity(n)
            expr = add([eye.expr, t.expr], [n, 0.5])
            src = f"({n} * {eye.source} + 0.5 * {t.source})"
            return _Invertible(_Term(expr, src, 1.5 * n), 0.5 * n, 1.5 * n)
        if kind == "gram":  # T Tᵀ + I with ‖T‖₂ ≤ n
            t = self.tanh(self.child((n, n), depth))
            eye = self.identity(n)
            expr = t.expr @ t.expr.T + eye.expr
            src = f"({t.source} @ {t.source}.T + {eye.source})"
            return _Invertible(_Term(expr, src, n * n + 1.0), 1.0, n * n + 1.0)
        if kind == "product":
            p = self.invertible(depth - 1)
            q = self.invertible(depth - 1)
            expr = p.term.expr @ q.term.expr
            src = f"({p.term.source} @ {q.term.source})"
            hi = p.sigma_max * q.sigma_max
            return _Invertible(_Term(expr, src, hi), p.sigma_min * q.sigma_min, hi)
        p = self.invertible(depth - 1)
        src = _call_source(_op_of(ops.inv), [p.term.source], {})
        return _Invertible(
            _Term(ops.inv(p.term.expr), src, 1.0 / p.sigma_min),
            1.0 / p.sigma_max,
            1.0 / p.sigma_min,
        )

    def inner_size(self) -> int:
        return self.n if self.draw(st.booleans()) else self.m

    # ---- declared operations ------------------------------------------------------------

    def forms(self, op: Operation, shape: Shape) -> list[_Form]:
        """The ways ``op`` can produce ``shape``: per fuzz record and attribute
        choice, each operand shape its domain allows (the result's shape for an
        elementwise operation, ``n×n`` for an invertible operand, else any shape
        of :func:`_shapes` or a scalar) for which its shape rule gives ``shape``."""
        key = (op.name, shape)
        if key not in self._forms:
            found: list[_Form] = []
            for k, fz in enumerate(op.fuzz):
                if fz.domain == "invertible":
                    operands: tuple[Shape, ...] = ((self.n, self.n),)
                elif op.elementwise:
                    operands = (shape,)
                else:
                    operands = tuple(dict.fromkeys((*_shapes(self), ())))
                for attrs in fz.attrs:
                    checked = dict(attrs) if op.check is None else op.check(dict(attrs))
                    for operand in operands:
                        try:
                            result = op.shape((operand,), checked)
                        except (ShapeError, InvalidArgumentError):
                            continue
                        if result == shape:
                            found.append(_Form(op, k, fz, attrs, operand))
            self._forms[key] = found
        return self._forms[key]

    def declared_term(self, op: Operation, shape: Shape, depth: int) -> _Term:
        """``op`` applied to an operand drawn from one of its fuzz records."""
        form = self.draw(st.sampled_from(self.forms(op, shape)))
        return self.apply(form, depth)

    def apply(self, form: _Form, depth: int, limit: float | None = None) -> _Term:
        """The operation of ``form`` applied to an operand from its record's domain
        (a general operand tamed to ``limit``, by default the record's), with the
        result's bounds from the record."""
        op, fz = form.op, form.fuzz
        self.drawn.update((op.name, form_label(op, form.k)))
        size = form.operand[0] if form.operand else 1
        if fz.domain == "invertible":
            w = self.invertible(depth)
            a, lo, hi = w.term, w.sigma_min, w.sigma_max
        elif fz.domain == "positive":
            a = self.positive(form.operand, depth)
            if a.bound > fz.limit:  # scaling keeps it positive, tanh might not
                a = self.scaled(fz.limit / a.bound, a)
            lo, hi = a.low, a.bound
        elif fz.domain == "nonzero":
            a = self.nonzero(form.operand, depth)
            lo, hi = a.low, a.bound
        elif fz.domain == "general":
            a = self.child(form.operand, depth, fz.limit if limit is None else limit)
            lo, hi = 0.0, a.bound
        else:
            raise InvalidArgumentError(
                f"operation {op.name!r}: unknown fuzz domain {fz.domain!r}; known: "
                "general, positive, nonzero, invertible"
            )
        expr = op(a.expr, **form.attrs)
        bound = float(fz.bound(lo, hi, size, **form.attrs))
        low = float(fz.low(lo, hi)) if fz.positive else 0.0
        return _Term(expr, _call_source(op, [a.source], form.attrs), bound, low)


# ---------------------------------------------------------------------------------------
# The composites, each building a term of a requested shape
# ---------------------------------------------------------------------------------------


_SAME_SHAPE = frozenset({"add", "sub", "scale", "hadamard", "shift", "divide", "scalar_times"})
"""Composites whose operands have the result's shape (and the declared elementwise
operations)."""


def _candidates(shape: Shape, g: _Generator) -> list[str]:
    """The operations that can produce ``shape`` (simplest first, for shrinking)."""
    names = ["add", "sub", "scale", "hadamard", "shift"]
    names += [op.name for op in g.declared.values() if op.elementwise and g.forms(op, shape)]
    names.append("divide")
    if shape != ():
        names.append("scalar_times")
    if len(shape) == 2:
        names += ["transpose", "matmul", "outer", "broadcast_add", "kron"]
        if shape[0] == shape[1]:
            names += ["diag", "matrix_power"]
        if shape[0] == g.n:
            names.append("solve")
    if len(shape) == 1:
        names += ["matvec", "vecmat", "diag", "sum", "mean"]
        if shape[0] == g.n:
            names.append("solve")
    if shape == ():
        names += ["trace", "sum", "mean", "dot", "quadratic", "kron", "norm"]
    names += [op.name for op in g.declared.values()
              if not op.elementwise and g.forms(op, shape)]
    return list(dict.fromkeys(names))


def _add(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    return _Term(a.expr + b.expr, f"({a.source} + {b.source})", a.bound + b.bound)


def _sub(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    return _Term(a.expr - b.expr, f"({a.source} - {b.source})", a.bound + b.bound)


def _scale(g: _Generator, shape: Shape, depth: int) -> _Term:
    c = g.draw(st.sampled_from((2.0, -1.0, 0.5, -1.5, 3.0)))
    return g.scaled(c, g.child(shape, depth))


def _scalar_times(g: _Generator, shape: Shape, depth: int) -> _Term:
    s, a = g.child((), depth), g.child(shape, depth)
    return _Term(s.expr * a.expr, f"({s.source} * {a.source})", s.bound * a.bound)


def _hadamard(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    expr = ops.hadamard(a.expr, b.expr)
    return _Term(expr, f"mg.hadamard({a.source}, {b.source})", a.bound * b.bound)


def _shift(g: _Generator, shape: Shape, depth: int) -> _Term:
    c = g.draw(st.sampled_from((1.0, -0.5, 2.0)))
    a = g.child(shape, depth)
    return _Term(a.expr + c, f"({a.source} + {c!r})", a.bound + abs(c))


def _broadcast_add(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, v = g.child(shape, depth), g.child(shape[1:], depth)
    return _Term(a.expr + v.expr, f"({a.source} + {v.source})", a.bound + v.bound)


def _divide(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.positive(shape, depth)
    return _Term(a.expr / b.expr, f"({a.source} / {b.source})", a.bound / b.low)


def _transpose(g: _Generator, shape: Shape, depth: int) -> _Term:
    return g.transposed(g.child(shape[::-1], depth))


def _matmul(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    a, b = g.child((shape[0], k), depth), g.child((k, shape[1]), depth)
    return _Term(a.expr @ b.expr, f"({a.source} @ {b.source})", k * a.bound * b.bound)


def _matvec(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    return g.matvec_term(g.child((shape[0], k), depth), g.child((k,), depth))


def _vecmat(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    v, a = g.child((k,), depth), g.child((k, shape[0]), depth)
    return _Term(v.expr @ a.expr, f"({v.source} @ {a.source})", k * a.bound * v.bound)


def _dot(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    u, v = g.child((k,), depth), g.child((k,), depth)
    return _Term(u.expr @ v.expr, f"({u.source} @ {v.source})", k * u.bound * v.bound)


def _quadratic(g: _Generator, shape: Shape, depth: int) -> _Term:
    k, l = g.inner_size(), g.inner_size()
    u, a, v = g.child((k,), depth), g.child((k, l), depth), g.child((l,), depth)
    expr = u.expr @ a.expr @ v.expr
    return _Term(expr, f"({u.source} @ {a.source} @ {v.source})",
                 k * l * u.bound * a.bound * v.bound)


def _outer(g: _Generator, shape: Shape, depth: int) -> _Term:
    u, v = g.child(shape[:1], depth), g.child(shape[1:], depth)
    return _Term(ops.outer(u.expr, v.expr), f"mg.outer({u.source}, {v.source})",
                 u.bound * v.bound)


def _trace(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    a = g.child((k, k), depth)
    return _Term(ops.trace(a.expr), f"mg.trace({a.source})", k * a.bound)


def _diag(g: _Generator, shape: Shape, depth: int) -> _Term:
    if len(shape) == 2:  # the diagonal matrix of a vector
        v = g.child(shape[:1], depth)
        return _Term(ops.diag(v.expr), f"mg.diag({v.source})", v.bound)
    a = g.child((shape[0], shape[0]), depth)
    return _Term(ops.diag(a.expr), f"mg.diag({a.source})", a.bound)


def _reduce(fn: str) -> Builder:
    """``sum`` or ``mean``: over everything for a scalar, over one axis for a vector."""

    def build(g: _Generator, shape: Shape, depth: int) -> _Term:
        scale = 1.0 if fn == "sum" else 0.0
        if shape == ():
            source_shape = g.draw(st.sampled_from(_shapes(g)))
            a = g.child(source_shape, depth)
            size = math.prod(source_shape)
            return _Term(getattr(ops, fn)(a.expr), f"mg.{fn}({a.source})",
                         (size if scale else 1.0) * a.bound)
        k = g.inner_size()
        axis = g.draw(st.integers(0, 1))
        source_shape = (k, shape[0]) if axis == 0 else (shape[0], k)
        a = g.child(source_shape, depth)
        return _Term(getattr(ops, fn)(a.expr, axis=axis),
                     f"mg.{fn}({a.source}, axis={axis})", (k if scale else 1.0) * a.bound)

    return build


def _shapes(g: _Generator) -> tuple[Shape, ...]:
    n, m = g.n, g.m
    return ((n,), (n, n), (n, m), (m,), (m, n))


def _norm(g: _Generator, shape: Shape, depth: int) -> _Term:
    source_shape = g.draw(st.sampled_from(_shapes(g)))
    a = g.positive(source_shape, depth)  # positive entries: the norm is far from 0
    size = math.prod(source_shape)
    return _Term(ops.norm(a.expr), f"mg.norm({a.source})", math.sqrt(size) * a.bound,
                 math.sqrt(size) * a.low)


def _kron(g: _Generator, shape: Shape, depth: int) -> _Term:
    if shape == ():  # tr(P ⊗ Q) = tr P tr Q
        p, q = g.inner_size(), g.inner_size()
        a, b = g.child((p, p), depth), g.child((q, q), depth)
        expr = ops.trace(ops.kron(a.expr, b.expr))
        return _Term(expr, f"mg.trace(mg.kron({a.source}, {b.source}))",
                     p * q * a.bound * b.bound)
    # (P ⊗ Q) vec(R) = vec(P R Qᵀ) with row-major vec
    p, q = shape
    a, b, r = g.child((p, p), depth), g.child((q, q), depth), g.child(shape, depth)
    flat = ops.reshape(r.expr, (p * q,))
    expr = ops.reshape(ops.kron(a.expr, b.expr) @ flat, shape)
    vec_r = _call_source(_op_of(ops.reshape), [r.source], {"shape": (p * q,)})
    src = _call_source(_op_of(ops.reshape), [f"mg.kron({a.source}, {b.source}) @ {vec_r}"],
                       {"shape": shape})
    return _Term(expr, src, p * q * a.bound * b.bound * r.bound)


def _matrix_power(g: _Generator, shape: Shape, depth: int) -> _Term:
    size = shape[0]
    if shape == (g.n, g.n) and g.draw(st.booleans()):
        w = g.invertible(depth)
        k = g.draw(st.sampled_from((-1, -2)))
        bound = (1.0 / w.sigma_min) ** -k
        return _Term(ops.matrix_power(w.term.expr, k),
                     f"mg.matrix_power({w.term.source}, {k})", bound)
    k = g.draw(st.sampled_from((2, 3)))
    a = g.child(shape, depth, STEEP_LIMIT)
    bound = size ** (k - 1) * a.bound**k
    return _Term(ops.matrix_power(a.expr, k), f"mg.matrix_power({a.source}, {k})", bound)


def _solve(g: _Generator, shape: Shape, depth: int) -> _Term:
    w = g.invertible(depth)
    b = g.child(shape, depth)
    bound = math.sqrt(g.n) * b.bound / w.sigma_min
    return _Term(ops.solve(w.term.expr, b.expr), f"mg.solve({w.term.source}, {b.source})",
                 bound)


_BUILDERS: dict[str, Builder] = {
    "add": _add,
    "sub": _sub,
    "scale": _scale,
    "scalar_times": _scalar_times,
    "hadamard": _hadamard,
    "shift": _shift,
    "broadcast_add": _broadcast_add,
    "divide": _divide,
    "transpose": _transpose,
    "matmul": _matmul,
    "matvec": _matvec,
    "vecmat": _vecmat,
    "dot": _dot,
    "quadratic": _quadratic,
    "outer": _outer,
    "trace": _trace,
    "diag": _diag,
    "sum": _reduce("sum"),
    "mean": _reduce("mean"),
    "norm": _norm,
    "kron": _kron,
    "matrix_power": _matrix_power,
    "solve": _solve,
}
assert set(_BUILDERS) == COMPOSITES


# ---------------------------------------------------------------------------------------
# The strategy
# ---------------------------------------------------------------------------------------

_ROOT_SHAPES = ("scalar", "vector", "square", "matrix")


@st.composite
def random_expressions(
    draw: st.DrawFn,
    *,
    max_depth: int = 4,
    max_size: int = 20,
    max_side: int = 3,
    outputs: Iterable[str] = _ROOT_SHAPES,
    operations: Iterable[str] | None = None,
) -> FuzzCase:
    """Random expressions (see the module docstring): a :class:`FuzzCase` with the
    expression, a symbol it depends on and values for all its symbols.

    ``max_depth`` bounds the levels of operations (the tamings and the fixed forms
    for positive and invertible operands add a level or two), ``max_size`` the
    number of operations drawn; the sizes ``n`` and ``m`` are drawn from
    ``1..max_side``.  ``outputs`` chooses the result shapes among ``"scalar"``,
    ``"vector"`` (``(n,)``), ``"square"`` (``(n, n)``) and ``"matrix"``
    (``(n, m)``); ``operations`` restricts the operations to a subset of
    :func:`known_operations` (the composites and the declared operations with
    fuzz entries, as the registry has them when the case is drawn).  Shrinks
    toward small sizes, scalar output and leaves.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(random_expressions(outputs=["scalar"], max_depth=2))
    ... def test_scalar(case):
    ...     assert case.expr.shape == () and case.wrt.name in case.values
    >>> test_scalar()
    """
    if not isinstance(max_depth, int) or max_depth < 0:
        raise InvalidArgumentError(f"max_depth must be an int >= 0; got {max_depth!r}")
    if not isinstance(max_size, int) or max_size < 0:
        raise InvalidArgumentError(f"max_size must be an int >= 0; got {max_size!r}")
    if not isinstance(max_side, int) or max_side < 1:
        raise InvalidArgumentError(f"max_side must be an int >= 1; got {max_side!r}")
    wanted = tuple(outputs)
    unknown = set(wanted) - set(_ROOT_SHAPES)
    if unknown or not wanted:
        raise InvalidArgumentError(f"outputs must be among {_ROOT_SHAPES}; got {wanted!r}")
    known = known_operations()
    chosen = known if operations is None else frozenset(operations)
    if chosen - known:
        raise InvalidArgumentError(
            f"unknown operations {sorted(chosen - known)}; known: {sorted(known)}"
        )
    n = draw(st.integers(1, max_side))
    m = draw(st.integers(1, max_side))
    x_domain = draw(st.sampled_from(("invertible", "spd")))
    g = _Generator(draw, n, m, chosen, max_size, x_domain)
    # scalar functions (gradients, Hessians) half the time
    others = [o for o in _ROOT_SHAPES[1:] if o in wanted]
    scalar = "scalar" in wanted and (not others or draw(st.booleans()))
    output = "scalar" if scalar else draw(st.sampled_from(others))
    shape = {"scalar": (), "vector": (n,), "square": (n, n), "matrix": (n, m)}[output]
    root = g.term(shape, max_depth, leaf=False)
    # the symbols the built expression really has (``A - A`` is zero, with no A in it)
    present = [name for name in SYMBOL_NAMES if g.symbols[name] in root.expr.symbols()]
    assume(present)  # constants only: nothing to differentiate
    domains = {"X": x_domain}
    values = {
        name: np.asarray(draw(value_strategy(domains.get(name, "general"),
                                             g.symbols[name].shape)), dtype=np.float64)
        for name in present
    }
    wrt = g.symbols[draw(st.sampled_from(present))]
    return FuzzCase(root.expr, wrt, values, root.source, n, m, _depth(root.expr), chosen,
                    frozenset(g.drawn))


def _depth(expr: Expr) -> int:
    """The number of operation levels: the longest path from the root to a leaf."""
    levels: dict[int, int] = {}
    for node in expr.walk():
        levels[node.uid] = 1 + max((levels[c.uid] for c in node.children), default=-1)
    return levels[expr.uid]
