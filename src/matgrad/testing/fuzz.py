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
its singular values; ``spd``, ``symmetric``, ``full_rank``: a diagonal matrix
plus a small ``tanh`` form, with eigenvalues (singular values) at least 1/2
apart; ``distinct``, ``mask``, ``apart``: forms that keep the kinks of piecewise
operations away (see :class:`~matgrad.ir.apply.Fuzz`).  An elementwise
operation produces any shape; any other one the shapes its shape rule gives for
the operands the domains allow; an operation of several operands (a variadic
one with each count its record allows) gets one operand per domain.

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

>>> from hypothesis import Phase, find, settings
>>> quick = settings(database=None, max_examples=1000, phases=[Phase.generate])  # no shrinking
>>> case = find(random_expressions(outputs=["scalar"]), lambda c: c.wrt.name == "X", settings=quick)
>>> case.expr.shape, sorted(case.values) == [s.name for s in case.expr.symbols()]
((), True)
>>> case.code().splitlines()[3].startswith('X = mg.Matrix("X", (')
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from matgrad._types import Array
from matgrad.errors import InvalidArgumentError
from matgrad.ir.expr import Expr, Symbol
from matgrad.testing.fuzz_composites import _BUILDERS, _SAME_SHAPE, COMPOSITES, _candidates
from matgrad.testing.fuzz_terms import LIMIT as LIMIT
from matgrad.testing.fuzz_terms import NONZERO as NONZERO
from matgrad.testing.fuzz_terms import ONE_PLUS_SQUARE as ONE_PLUS_SQUARE
from matgrad.testing.fuzz_terms import POSITIVE_LIMIT as POSITIVE_LIMIT
from matgrad.testing.fuzz_terms import STEEP_LIMIT as STEEP_LIMIT
from matgrad.testing.fuzz_terms import (
    SYMBOL_NAMES,
    _array_source,
    _Generator,
    form_label,
    fuzzed_operations,
    source_name,
)
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


def known_operations() -> frozenset[str]:
    """The names :func:`random_expressions` accepts in ``operations=`` now: the
    composites and every operation :func:`fuzzed_operations` lists."""
    return COMPOSITES | {op.name for op in fuzzed_operations()}


OPERATIONS: frozenset[str] = known_operations()
"""Names of the operations :func:`random_expressions` composes (its ``operations=``),
as declared when this module was imported (:func:`known_operations` is the
current set)."""


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
    g = _Generator(draw, n, m, chosen, max_size, x_domain,
                   builders=_BUILDERS, candidates=_candidates, same_shape=_SAME_SHAPE)
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
