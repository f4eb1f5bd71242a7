"""Generated terms for the fuzzer (:mod:`matgrad.testing.fuzz`, layer 6).

The records of a draw in progress (:class:`_Term`, :class:`_Invertible`,
:class:`_Form`), the limits that keep values moderate, and :class:`_Generator`,
the state of one draw: leaves, tamings, positive, nonzero and invertible forms
and the declared operations.  The composite builders live in
:mod:`matgrad.testing.fuzz_composites`; the generator is given their table and
candidate function when it is constructed (no import cycle).
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from matgrad import ops
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Fuzz, Operation
from matgrad.ir.expr import Expr, Matrix, Scalar, Symbol, Vector, add, constant, delta
from matgrad.ops import registry
from matgrad.testing import strategies as mgst

ONE_PLUS_SQUARE = "one_plus_square"
"""The label (in :attr:`FuzzCase.drawn`) of the positive form ``1 + a**2``."""


def fuzzed_operations() -> tuple[Operation, ...]:
    """The declared operations the fuzzer draws now: those with fuzz entries, in
    declaration order."""
    return tuple(op for op in registry.operations() if op.fuzz)


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
    """Source applying ``op`` to operand sources.  With attributes, the call goes to
    the declaration itself, attributes by keyword: a public constructor may take
    NumPy's arguments rather than the declaration's (``mg.cumsum(x, axis)``)."""
    if not op.attrs:
        return f"{source_name(op)}({', '.join(operands)})"
    args = [*operands, *(f"{name}={attrs[name]!r}" for name in op.attrs)]
    return f"mg.ops.registry.operation({op.name!r})({', '.join(args)})"


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

DOMAINS = ("general", "positive", "nonzero", "invertible", "spd", "symmetric", "full_rank",
           "distinct", "mask", "apart")
"""The operand domains of :class:`~matgrad.ir.apply.Fuzz` records the generator draws."""
"""The leaf symbols, in the order their declarations are printed."""


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
    record, attribute values from it and the operands' shapes."""

    op: Operation
    k: int
    fuzz: Fuzz
    attrs: Mapping[str, Any]
    operands: tuple[Shape, ...]

    @property
    def operand(self) -> Shape:
        """The first operand's shape."""
        return self.operands[0]

    def domain(self, i: int) -> str:
        """The domain of operand ``i`` (see :class:`~matgrad.ir.apply.Fuzz`)."""
        if i == 0:
            return self.fuzz.domain
        others = self.fuzz.operands
        if not others:
            return self.fuzz.domain
        return others[min(i - 1, len(others) - 1)]


Builder = Callable[["_Generator", Shape, int], _Term]

Candidates = Callable[[Shape, "_Generator"], list[str]]
"""The operations that can produce a shape, simplest first (for shrinking)."""



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
        *,
        builders: Mapping[str, Builder],
        candidates: Candidates,
        same_shape: frozenset[str],
    ) -> None:
        """``builders`` maps the composites to their builders, ``candidates`` lists
        the operations that can produce a shape and ``same_shape`` names the
        composites whose operands have the result's shape (all from
        :mod:`matgrad.testing.fuzz_composites`)."""
        self.draw = draw
        self.n = n
        self.m = m
        self.operations = operations
        self.max_size = max_size
        self.size = 0
        self.used: set[str] = set()
        self.drawn: set[str] = set()
        self.x_domain = x_domain
        self.builders = builders
        self.candidates = candidates
        self.same_shape_names = same_shape
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
        t = self.tanh(a)
        return t if limit >= 1.0 else self.scaled(limit, t)

    # ---- recursion --------------------------------------------------------------------

    def term(self, shape: Shape, depth: int, *, leaf: bool = True) -> _Term:
        """Any expression of ``shape`` with at most ``depth`` levels of operations
        (``leaf=False``: not a leaf, unless no operation is allowed)."""
        if depth <= 0 or self.size >= self.max_size:
            return self.leaf(shape)
        if leaf and self.draw(st.integers(0, 4)) == 0:
            return self.leaf(shape)
        names = [name for name in self.candidates(shape, self) if name in self.operations]
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
        return self.builders[name](self, shape, depth - 1)

    def same_shape(self, name: str) -> bool:
        """Whether the operands of operation ``name`` have the result's shape."""
        if name in self.declared:
            return self.declared[name].elementwise
        return name in self.same_shape_names

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
        """``±1 + tanh(a)/2``: entries of magnitude in :data:`NONZERO`, the signs
        one for all entries or (half the time) a constant array of them."""
        t = self.tanh(self.child(shape, depth))
        lo, hi = NONZERO
        if len(shape) > 0 and self.draw(st.booleans()):
            signs = np.asarray(self.draw(mgst.arrays(shape, elements=st.sampled_from(
                (1.0, -1.0)))), dtype=np.float64)
            return _Term(t.expr * 0.5 + constant(signs),
                         f"(0.5 * {t.source} + mg.constant({_array_source(signs)}))", hi, lo)
        sign = self.draw(st.sampled_from((1.0, -1.0)))
        return _Term(t.expr * 0.5 + sign, f"(0.5 * {t.source} + {sign!r})", hi, lo)

    def spectral(self, shape: Shape, depth: int, kind: str) -> _Invertible:
        """A matrix ``D + E`` with ``D`` diagonal (``1, 2, …`` on its diagonal, or
        centred on 0 for ``symmetric``) and ``E`` an expression with ``‖E‖_F ≤
        1/4`` (``tanh`` of a term, scaled; symmetrized for ``spd`` and
        ``symmetric``): by Weyl's inequalities its eigenvalues (singular values for
        ``full_rank``) are at least 1/2 apart, within ``1/4`` of ``D``'s.  The
        bounds returned are those of the eigenvalues (singular values)."""
        rows, cols = shape
        k = min(rows, cols)
        shift = (k + 1) / 2 if kind == "symmetric" else 0.0
        diagonal = np.zeros(shape)
        diagonal[range(k), range(k)] = np.arange(1, k + 1) - shift
        d = _Term(constant(diagonal), f"mg.constant({_array_source(diagonal)})",
                  float(np.max(np.abs(diagonal))))
        t = self.tanh(self.child(shape, depth))
        c = float(f"{0.25 / max(rows, cols):.3g}")
        c = c if c * max(rows, cols) <= 0.25 else 0.25 / max(rows, cols)
        if kind == "full_rank":
            expr = add([d.expr, t.expr], [1.0, c])
            src = f"({d.source} + {c!r} * {t.source})"
        else:  # ‖(T + Tᵀ)/2‖₂ ≤ ‖T‖_F ≤ n
            expr = add([d.expr, t.expr, t.expr.T], [1.0, c / 2, c / 2])
            src = f"({d.source} + {c / 2!r} * ({t.source} + {t.source}.T))"
        lo, hi = 1.0 - shift - 0.25, k - shift + 0.25
        bound = max(abs(lo), abs(hi))
        return _Invertible(_Term(expr, src, bound, lo if lo > 0 else 0.0), lo, hi)

    def distinct(self, shape: Shape, depth: int) -> _Term:
        """``C + tanh(a)/4`` with ``C`` a shuffled constant array of distinct
        integers: entries pairwise at least 1/2 apart."""
        size = int(np.prod(shape, dtype=np.int64))
        order = self.draw(st.permutations(range(size)))
        c = np.asarray(order, dtype=np.float64).reshape(shape) - (size - 1) / 2
        t = self.tanh(self.child(shape, depth))
        expr = add([constant(c), t.expr], [1.0, 0.25])
        src = f"(mg.constant({_array_source(c)}) + 0.25 * {t.source})"
        return _Term(expr, src, float(np.max(np.abs(c), initial=0.0)) + 0.25)

    def mask(self, shape: Shape, depth: int) -> _Term:
        """``a > 0`` of a nonzero form ``a``: no small perturbation flips it."""
        a = self.nonzero(shape, depth)
        return _Term(a.expr > 0, f"({a.source} > 0)", 1.0)

    def operand(self, form: _Form, i: int, first: _Term | None, depth: int,
                limit: float | None) -> tuple[_Term, float, float]:
        """Operand ``i`` of ``form`` from its domain, with lower and upper bounds
        (the singular values' or eigenvalues' for the matrix domains)."""
        fz, shape, domain = form.fuzz, form.operands[i], form.domain(i)
        if domain == "invertible":
            w = self.invertible(depth)
            return w.term, w.sigma_min, w.sigma_max
        if domain in ("spd", "symmetric", "full_rank"):
            w = self.spectral(shape, depth, domain)
            return w.term, w.sigma_min, w.sigma_max
        if domain == "positive":
            a = self.positive(shape, depth)
            if a.bound > fz.limit:  # scaling keeps it positive, tanh might not
                a = self.scaled(fz.limit / a.bound, a)
            return a, a.low, a.bound
        if domain == "nonzero":
            a = self.nonzero(shape, depth)
            return a, a.low, a.bound
        if domain == "general":
            a = self.child(shape, depth, fz.limit if limit is None else limit)
            return a, 0.0, a.bound
        if domain == "distinct":
            a = self.distinct(shape, depth)
            return a, 0.0, a.bound
        if domain == "mask":
            return self.mask(shape, depth), 0.0, 1.0
        if domain == "apart" and first is not None and first.expr.shape == shape:
            z = self.nonzero(shape, depth)
            return (_Term(first.expr + z.expr, f"({first.source} + {z.source})",
                          first.bound + z.bound), 0.0, first.bound + z.bound)
        raise InvalidArgumentError(
            f"operation {form.op.name!r}: unknown fuzz domain {domain!r} for operand {i}; "
            f"known: {', '.join(DOMAINS)} (apart: not the first operand)"
        )

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
        """The ways ``op`` can produce ``shape``: per fuzz record, attribute choice
        and operand count, the operand shapes the record's ``shapes`` gives, or
        else each operand's shape its domain allows (the result's shape for an
        elementwise operation, ``n×n`` for an invertible operand, square for
        ``spd`` and ``symmetric``, any shape of :func:`_shapes` or a scalar
        otherwise) for which the shape rule gives ``shape``."""
        key = (op.name, shape)
        if key not in self._forms:
            found: list[_Form] = []
            for k, fz in enumerate(op.fuzz):
                counts = fz.count if op.arity is None else (op.arity,)
                for attrs in fz.attrs:
                    checked = dict(attrs) if op.check is None else op.check(dict(attrs))
                    for count in counts:
                        for operands in self._operand_shapes(op, fz, shape, count, checked):
                            try:
                                result = op.shape(operands, checked)
                            except (ShapeError, InvalidArgumentError):
                                continue
                            if result == shape:
                                found.append(_Form(op, k, fz, attrs, operands))
            self._forms[key] = found
        return self._forms[key]

    def _operand_shapes(self, op: Operation, fz: Fuzz, shape: Shape, count: int,
                        attrs: Mapping[str, Any]) -> list[tuple[Shape, ...]]:
        if fz.shapes is not None:
            return [tuple(s) for s in fz.shapes(shape, count, attrs)]
        if op.elementwise:
            return [(shape,) * count]
        anything = tuple(dict.fromkeys((*_shapes(self), ())))
        per: list[tuple[Shape, ...]] = []
        for i in range(count):
            domain = fz.domain if i == 0 else (fz.operands or (fz.domain,))[
                min(i - 1, max(len(fz.operands) - 1, 0))]
            if domain == "invertible":
                per.append(((self.n, self.n),))
            elif domain in ("spd", "symmetric"):
                per.append(tuple(s for s in anything if len(s) == 2 and s[0] == s[1]))
            elif domain == "full_rank":
                per.append(tuple(s for s in anything if len(s) == 2))
            else:
                per.append(anything)
        return list(itertools.product(*per))

    def declared_term(self, op: Operation, shape: Shape, depth: int) -> _Term:
        """``op`` applied to operands drawn from one of its fuzz records: a record
        and an operand count first, then one of their forms (so that a count with
        few forms, such as four operands of ``concatenate``, is drawn as often)."""
        forms = self.forms(op, shape)
        group = self.draw(st.sampled_from(sorted({(f.k, len(f.operands)) for f in forms})))
        form = self.draw(st.sampled_from([f for f in forms
                                          if (f.k, len(f.operands)) == group]))
        return self.apply(form, depth)

    def apply(self, form: _Form, depth: int, limit: float | None = None) -> _Term:
        """The operation of ``form`` applied to operands from its record's domains
        (a general operand tamed to ``limit``, by default the record's), with the
        result's bounds from the record."""
        op, fz = form.op, form.fuzz
        self.drawn.update((op.name, form_label(op, form.k)))
        size = form.operand[0] if form.operand else 1
        terms: list[_Term] = []
        los: list[float] = []
        his: list[float] = []
        for i in range(len(form.operands)):
            a, lo, hi = self.operand(form, i, terms[0] if terms else None, depth, limit)
            terms.append(a)
            los.append(lo)
            his.append(hi)
        expr = op(*(a.expr for a in terms), **form.attrs)
        if len(terms) == 1:
            bound = float(fz.bound(los[0], his[0], size, **form.attrs))
            low = float(fz.low(los[0], his[0])) if fz.positive else 0.0
        else:
            bound = float(fz.bound(tuple(los), tuple(his), size, **form.attrs))
            low = float(fz.low(tuple(los), tuple(his))) if fz.positive else 0.0
        source = _call_source(op, [a.source for a in terms], form.attrs)
        if fz.squared:
            return _Term(expr**2, f"({source} ** 2)", bound**2, 0.0)
        return _Term(expr, source, bound, low)


# ---------------------------------------------------------------------------------------
# The composites, each building a term of a requested shape


def _shapes(g: _Generator) -> tuple[Shape, ...]:
    n, m = g.n, g.m
    return ((n,), (n, n), (n, m), (m,), (m, n))
