"""The per-operation spec table that generated tests run over (layer 4).

One :class:`OpSpec` per supported operation: how to build it from symbols, the
shapes of its operands as functions of two free sizes, the domain each
operand's values come from (so that ``log`` gets positive inputs, ``inv``
invertible ones, ...), and the derivative orders to check.  Together the specs
exercise every node kind of :mod:`matgrad.ir.expr`; a test asserts that.

Domains name the hypothesis strategies of :mod:`matgrad.testing.strategies`
that draw values (see :func:`value_strategy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matgrad import ops
from matgrad._types import Shape
from matgrad.ir.expr import Expr, reshape

__all__ = ["OpSpec", "SPECS", "DOMAINS", "spec_by_name"]

DOMAINS = ("general", "nonzero", "positive", "invertible", "spd", "symmetric")
"""Where operand values are drawn from."""


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


def _sq(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


def _spec(
    name: str,
    build: Callable[..., Expr],
    shapes: Callable[[int, int], tuple[Shape, ...]],
    domains: tuple[str, ...],
    kinds: set[str],
    orders: tuple[int, ...] = (1, 2),
) -> OpSpec:
    return OpSpec(name, build, shapes, domains, frozenset(kinds), orders)


_E = {"einsum"}
SPECS: tuple[OpSpec, ...] = (
    # multilinear: every one an einsum
    _spec("matmul", lambda a, b: a @ b, lambda n, m: ((n, m), (m, 2)), ("general",) * 2, _E),
    _spec("matvec", lambda a, x: a @ x, lambda n, m: ((n, m), (m,)), ("general",) * 2, _E),
    _spec("vecmat", lambda x, a: x @ a, lambda n, m: ((n,), (n, m)), ("general",) * 2, _E),
    _spec("transpose", lambda a: a.T, lambda n, m: ((n, m),), ("general",), _E),
    _spec("trace", ops.trace, _sq, ("general",), _E),
    _spec("diag-of-matrix", ops.diag, _sq, ("general",), _E),
    _spec("diag-of-vector", ops.diag, lambda n, m: ((n,),), ("general",), _E | {"delta"}),
    _spec("outer", ops.outer, lambda n, m: ((n,), (m,)), ("general",) * 2, _E),
    _spec("hadamard", lambda a, b: a * b, lambda n, m: ((n, m),) * 2, ("general",) * 2, _E),
    _spec("sum", ops.sum, lambda n, m: ((n, m),), ("general",), _E),
    _spec("sum-axis", lambda a: ops.sum(a, axis=0), lambda n, m: ((n, m),), ("general",), _E),
    _spec(
        "quadratic-form", lambda x, a: x @ a @ x, lambda n, m: ((n,), (n, n)), ("general",) * 2, _E
    ),
    _spec("gram", lambda a: a.T @ a, lambda n, m: ((n, m),), ("general",), _E),
    _spec(
        "trace-XtAX",
        lambda x, a: ops.trace(x.T @ a @ x),
        lambda n, m: ((n, m), (n, n)),
        ("general",) * 2,
        _E,
    ),
    _spec("scalar-times", lambda s, a: s * a, lambda n, m: ((), (n, m)), ("general",) * 2, _E),
    _spec("kron", ops.kron, lambda n, m: ((n, m), (m, 2)), ("general",) * 2, _E | {"reshape"}),
    _spec(
        "reshape",
        lambda a: reshape(a, (a.size,)),
        lambda n, m: ((n, m),),
        ("general",),
        {"reshape"},
    ),
    _spec(
        "einsum-3",
        lambda a, b, c: ops.einsum("ij,jk,ik->k", a, b, c),
        lambda n, m: ((n, m), (m, 2), (n, 2)),
        ("general",) * 3,
        _E,
    ),
    # linear combinations
    _spec("add", lambda a, b: a + b, lambda n, m: ((n, m),) * 2, ("general",) * 2, {"add"}),
    _spec(
        "sub-scaled",
        lambda a, b: a - 2.5 * b,
        lambda n, m: ((n, m),) * 2,
        ("general",) * 2,
        {"add"},
    ),
    _spec(
        "add-broadcast",
        lambda a, b: a + b,
        lambda n, m: ((n, m), (m,)),
        ("general",) * 2,
        {"add", "ones", "einsum"},
    ),
    _spec("add-constant", lambda a: a + 1.5, lambda n, m: ((n, m),), ("general",), {"add", "ones"}),
    # elementwise
    _spec("exp", ops.exp, lambda n, m: ((n, m),), ("general",), {"elementwise"}),
    _spec("log", ops.log, lambda n, m: ((n, m),), ("positive",), {"elementwise"}),
    _spec("sin", ops.sin, lambda n, m: ((n,),), ("general",), {"elementwise"}),
    _spec("cos", ops.cos, lambda n, m: ((n,),), ("general",), {"elementwise"}),
    _spec("tanh", ops.tanh, lambda n, m: ((n, m),), ("general",), {"elementwise"}),
    _spec("sigmoid", ops.sigmoid, lambda n, m: ((n,),), ("general",), {"elementwise"}),
    _spec("sqrt", ops.sqrt, lambda n, m: ((n,),), ("positive",), {"elementwise"}),
    _spec("abs", ops.abs, lambda n, m: ((n,),), ("nonzero",), {"elementwise"}),
    _spec(
        "sign",
        lambda a: ops.sign(a) * a,
        lambda n, m: ((n,),),
        ("nonzero",),
        {"elementwise", "einsum"},
    ),
    _spec("power-3", lambda a: a**3, lambda n, m: ((n, m),), ("general",), {"elementwise"}),
    _spec("power-neg", lambda a: a**-2, lambda n, m: ((n,),), ("nonzero",), {"elementwise"}),
    _spec("power-real", lambda a: a**2.5, lambda n, m: ((n,),), ("positive",), {"elementwise"}),
    _spec(
        "divide",
        lambda a, b: a / b,
        lambda n, m: ((n,), (n,)),
        ("general", "nonzero"),
        {"elementwise", "einsum"},
    ),
    # matrix functions
    _spec("inv", ops.inv, _sq, ("invertible",), {"inv"}),
    # at a singular X the gradient adj(X)ᵀ exists and is computed; the second
    # derivative goes through X⁻¹ (rules.d_adj), so it is checked at invertible X only
    _spec("det", ops.det, _sq, ("general",), {"det", "adj"}, orders=(1,)),
    _spec("det-invertible", ops.det, _sq, ("invertible",), {"det", "adj"}),
    _spec("logdet", ops.logdet, _sq, ("invertible",), {"logdet"}),
    _spec("logdet-spd", ops.logdet, _sq, ("spd",), {"logdet"}),
    _spec("adj", ops.adj, _sq, ("invertible",), {"adj"}),
    _spec(
        "solve",
        ops.solve,
        lambda n, m: ((n, n), (n, m)),
        ("invertible", "general"),
        {"inv", "einsum"},
    ),
    _spec("matrix-power-3", lambda a: ops.matrix_power(a, 3), _sq, ("general",), {"einsum"}),
    _spec(
        "matrix-power-neg",
        lambda a: ops.matrix_power(a, -2),
        _sq,
        ("invertible",),
        {"inv", "einsum"},
    ),
    _spec("norm-fro", ops.norm, lambda n, m: ((n, m),), ("nonzero",), {"elementwise"}),
    _spec("norm-vec", ops.norm, lambda n, m: ((n,),), ("nonzero",), {"elementwise"}),
    _spec(
        "a-inv-b",
        lambda a, x, b: a @ ops.inv(x) @ b,
        lambda n, m: ((n,), (n, n), (n,)),
        ("general", "invertible", "general"),
        {"inv", "einsum"},
    ),
    _spec(
        "tanh-layer",
        lambda w, x, b: ops.tanh(w @ x + b),
        lambda n, m: ((n, m), (m,), (n,)),
        ("general",) * 3,
        {"elementwise", "add", "einsum"},
    ),
)


def spec_by_name(name: str) -> OpSpec:
    for spec in SPECS:
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
