"""The per-operation spec table that generated tests run over (layer 4).

One :class:`OpSpec` per case: how to build it from symbols, the shapes of its
operands as functions of two free sizes, the domain each operand's values come
from (so that ``log`` gets positive inputs, ``inv`` invertible ones, ...), the
derivative orders to check, and the node kinds it exercises.

The table has two parts: hand-written specs of the algebraic core and of
composites built from the public constructors (products, sums, ``solve``,
``norm``, ...), and one spec per :class:`~matgrad.ir.apply.Sample` of every
declared operation, read from the registry (:mod:`matgrad.ops.registry`) when
:func:`specs` is called, so an operation declared at run time is in the table
too.  The kinds of a spec are computed by building it on placeholder symbols.
Together the specs exercise every node kind; a test asserts that.

Domains name the hypothesis strategies of :mod:`matgrad.testing.strategies`
that draw values (see :func:`value_strategy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matgrad import ops
from matgrad._types import Shape
from matgrad.ir.apply import Operation, Sample
from matgrad.ir.expr import Expr, symbol
from matgrad.ops import registry

__all__ = ["DOMAINS", "SPECS", "OpSpec", "kinds_of", "spec_by_name", "specs"]

DOMAINS = ("general", "nonzero", "positive", "invertible", "spd", "symmetric")
"""Where operand values are drawn from."""

PLACEHOLDER_SIZES = (2, 3)
"""The sizes ``(n, m)`` of the placeholder symbols a spec is built on to find
the node kinds it exercises."""


@dataclass(frozen=True)
class OpSpec:
    """One operation to test: ``build(*symbols)`` with symbols of ``shapes(n, m)``."""

    name: str
    build: Callable[..., Expr]
    shapes: Callable[[int, int], tuple[Shape, ...]]
    domains: tuple[str, ...]
    kinds: frozenset[str]
    orders: tuple[int, ...] = (1, 2)
    symmetric: tuple[bool, ...] = field(default=())

    def operand_names(self) -> tuple[str, ...]:
        return tuple(f"a{k}" for k in range(len(self.domains)))


def kinds_of(
    build: Callable[..., Expr],
    shapes: Callable[[int, int], tuple[Shape, ...]],
    sizes: tuple[int, int] = PLACEHOLDER_SIZES,
) -> frozenset[str]:
    """The node kinds of ``build`` applied to placeholder symbols of ``shapes(*sizes)``."""
    placeholders = [symbol(f"a{k}", s) for k, s in enumerate(shapes(*sizes))]
    return frozenset(node.kind for node in build(*placeholders).walk())


def _spec(
    name: str,
    build: Callable[..., Expr],
    shapes: Callable[[int, int], tuple[Shape, ...]],
    domains: tuple[str, ...],
    orders: tuple[int, ...] = (1, 2),
) -> OpSpec:
    return OpSpec(name, build, shapes, domains, kinds_of(build, shapes), orders)


def _sq(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


_G1 = ("general",)
_G2 = ("general",) * 2
_G3 = ("general",) * 3

_Entry = tuple[str, Callable[..., Expr], Callable[[int, int], tuple[Shape, ...]], tuple[str, ...]]

# The hand-written specs: the algebraic core (einsums, sums) and composites, as
# ``(name, build, shapes, domains)``; their kinds are computed when the table is made.
_CORE: tuple[_Entry, ...] = (
    # multilinear: every one an einsum
    ("matmul", lambda a, b: a @ b, lambda n, m: ((n, m), (m, 2)), _G2),
    ("matvec", lambda a, x: a @ x, lambda n, m: ((n, m), (m,)), _G2),
    ("vecmat", lambda x, a: x @ a, lambda n, m: ((n,), (n, m)), _G2),
    ("transpose", lambda a: a.T, lambda n, m: ((n, m),), _G1),
    ("trace", ops.trace, _sq, _G1),
    ("diag-of-matrix", ops.diag, _sq, _G1),
    ("diag-of-vector", ops.diag, lambda n, m: ((n,),), _G1),
    ("outer", ops.outer, lambda n, m: ((n,), (m,)), _G2),
    ("hadamard", lambda a, b: a * b, lambda n, m: ((n, m),) * 2, _G2),
    ("sum", ops.sum, lambda n, m: ((n, m),), _G1),
    ("sum-axis", lambda a: ops.sum(a, axis=0), lambda n, m: ((n, m),), _G1),
    ("quadratic-form", lambda x, a: x @ a @ x, lambda n, m: ((n,), (n, n)), _G2),
    ("gram", lambda a: a.T @ a, lambda n, m: ((n, m),), _G1),
    ("trace-XtAX", lambda x, a: ops.trace(x.T @ a @ x), lambda n, m: ((n, m), (n, n)), _G2),
    ("scalar-times", lambda s, a: s * a, lambda n, m: ((), (n, m)), _G2),
    ("kron", ops.kron, lambda n, m: ((n, m), (m, 2)), _G2),
    (
        "einsum-3",
        lambda a, b, c: ops.einsum("ij,jk,ik->k", a, b, c),
        lambda n, m: ((n, m), (m, 2), (n, 2)),
        _G3,
    ),
    # linear combinations
    ("add", lambda a, b: a + b, lambda n, m: ((n, m),) * 2, _G2),
    ("sub-scaled", lambda a, b: a - 2.5 * b, lambda n, m: ((n, m),) * 2, _G2),
    ("add-broadcast", lambda a, b: a + b, lambda n, m: ((n, m), (m,)), _G2),
    ("add-constant", lambda a: a + 1.5, lambda n, m: ((n, m),), _G1),
    # composites of the declared operations
    ("divide", lambda a, b: a / b, lambda n, m: ((n,), (n,)), ("general", "nonzero")),
    ("solve", ops.solve, lambda n, m: ((n, n), (n, m)), ("invertible", "general")),
    ("matrix-power-3", lambda a: ops.matrix_power(a, 3), _sq, _G1),
    ("matrix-power-neg", lambda a: ops.matrix_power(a, -2), _sq, ("invertible",)),
    ("norm-fro", ops.norm, lambda n, m: ((n, m),), ("nonzero",)),
    ("norm-vec", ops.norm, lambda n, m: ((n,),), ("nonzero",)),
    (
        "a-inv-b",
        lambda a, x, b: a @ ops.inv(x) @ b,
        lambda n, m: ((n,), (n, n), (n,)),
        ("general", "invertible", "general"),
    ),
    (
        "tanh-layer",
        lambda w, x, b: ops.tanh(w @ x + b),
        lambda n, m: ((n, m), (m,), (n,)),
        _G3,
    ),
)


def core_specs() -> tuple[OpSpec, ...]:
    """The hand-written specs (the algebraic core and composites)."""
    return tuple(_spec(*entry) for entry in _CORE)


def _applied(op: Operation) -> Callable[..., Expr]:
    """The operation applied to the symbols (a sample without a ``build``)."""

    def build(*symbols: Expr) -> Expr:
        return op(*symbols)

    return build


def sample_spec(op: Operation, sample: Sample) -> OpSpec:
    """The spec of one sample of a declared operation."""
    build = sample.build if sample.build is not None else _applied(op)
    return _spec(sample.name, build, sample.shapes, sample.domains, sample.orders)


def operation_specs() -> tuple[OpSpec, ...]:
    """One spec per sample of every operation declared now."""
    return tuple(
        sample_spec(op, sample) for op in registry.operations() for sample in op.samples
    )


def specs() -> tuple[OpSpec, ...]:
    """The spec table as it is now: :func:`core_specs`, then :func:`operation_specs`."""
    return core_specs() + operation_specs()


SPECS: tuple[OpSpec, ...] = specs()
"""The table when this module was imported (operations declared later are in
:func:`specs`, not here)."""


def spec_by_name(name: str) -> OpSpec:
    """The spec named ``name`` in the current table (:func:`specs`)."""
    for spec in specs():
        if spec.name == name:
            return spec
    raise KeyError(name)


def value_strategy(domain: str, shape: Shape) -> Any:
    """The hypothesis strategy that draws an operand of ``shape`` from ``domain``."""
    from hypothesis import strategies as st

    from matgrad.testing import strategies as mgst

    if domain == "general":
        return mgst.arrays(shape, max_magnitude=2.0)
    if domain == "nonzero":
        values = st.floats(0.5, 2.0) | st.floats(-2.0, -0.5)
        return mgst.arrays(shape, elements=values)
    if domain == "positive":
        return mgst.arrays(shape, elements=st.floats(0.5, 2.0))
    if domain == "invertible":
        return mgst.invertible_matrices(shape[0], max_condition=10.0, max_magnitude=2.0)
    if domain == "spd":
        return mgst.spd_matrices(shape[0], max_condition=10.0, max_magnitude=2.0)
    if domain == "symmetric":
        return mgst.symmetric_matrices(shape[0], max_magnitude=2.0)
    raise KeyError(f"unknown domain {domain!r}; known: {DOMAINS}")
