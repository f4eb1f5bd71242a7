"""Every operation's derivative, first and second order, against numerical
differentiation over hypothesis-drawn sizes and values (the spec table in
matgrad.testing.opspec), in both accumulation modes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.calculus import rules
from matgrad.calculus.rules import LEAF_KINDS, RULES
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Expr, symbol
from matgrad.ops import registry
from matgrad.testing.opspec import DOMAINS, SPECS, OpSpec, specs, value_strategy


def all_kinds() -> set[str]:
    """Every node kind: the leaves, the core's rules and the declared operations."""
    return set(RULES) | set(LEAF_KINDS) | {op.name for op in registry.operations()}


def evaluate(expr: Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in values.items() if k in names}))


@st.composite
def spec_inputs(draw: Any, spec: OpSpec) -> tuple[list[Any], dict[str, np.ndarray]]:
    n = draw(st.integers(1, 3))
    m = draw(st.integers(1, 3))
    shapes = spec.shapes(n, m)
    syms = [symbol(name, shape) for name, shape in zip(spec.operand_names(), shapes)]
    values = {
        s.name: np.asarray(draw(value_strategy(dom, s.shape)), dtype=np.float64)
        for s, dom in zip(syms, spec.domains)
    }
    return syms, values


def check_close(symbolic: np.ndarray, estimate: np.ndarray, what: str) -> None:
    assert symbolic.shape == estimate.shape, what
    scale = max(1.0, float(np.max(np.abs(estimate), initial=0.0)))
    err = float(np.max(np.abs(symbolic - estimate), initial=0.0)) / scale
    assert err < 1e-6, f"{what}: max error {err:.3e} relative to scale {scale:.3g}"


def as_function(expr: Expr, values: dict[str, np.ndarray], name: str) -> Any:
    def f(v: np.ndarray) -> np.ndarray:
        return evaluate(expr, {**values, name: v})

    return f


def check_spec(spec: OpSpec, syms: list[Any], values: dict[str, np.ndarray], mode: str) -> None:
    f = spec.build(*syms)
    for s in syms:
        d1 = mg.derivative(f, s, mode=mode)  # type: ignore[arg-type]
        assert d1.shape == f.shape + s.shape
        numeric_d1 = numeric.jacobian(as_function(f, values, s.name), values[s.name],
                                      method="richardson")
        check_close(evaluate(d1, values), numeric_d1, f"{spec.name}: d/d{s.name}")
        if 2 in spec.orders:
            d2 = mg.derivative(f, s, order=2, mode=mode)  # type: ignore[arg-type]
            assert d2.shape == f.shape + s.shape + s.shape
            numeric_d2 = numeric.jacobian(as_function(d1, values, s.name), values[s.name],
                                          method="richardson")
            check_close(evaluate(d2, values), numeric_d2, f"{spec.name}: d2/d{s.name}2")


HEAVY_FAMILIES = frozenset(
    {"decompositions", "eig", "matfuncs", "singular", "spectral", "symmetric_functions",
     "triangular"}
)
"""Families whose every evaluation is a decomposition or a matrix function (a
Richardson Hessian of one costs seconds): their spec-table cases draw a quarter
of the examples of the profile (10 by default; 500 with --hypothesis-profile=fuzz)."""


def _heavy(spec: OpSpec) -> bool:
    declared = {op.name: op.family for op in registry.operations()}
    return any(declared.get(kind) in HEAVY_FAMILIES for kind in spec.kinds)


FEWER = settings(max_examples=max(5, settings.default.max_examples // 4))
LIGHT_SPECS = [s for s in SPECS if not _heavy(s)]
HEAVY_SPECS = [s for s in SPECS if _heavy(s)]


# the mode matgrad picks: forward or reverse, both of which run below in full
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@FEWER
@given(data=st.data())
def test_rule_matches_numerical_derivative(spec: OpSpec, data: Any) -> None:
    syms, values = data.draw(spec_inputs(spec))
    check_spec(spec, syms, values, "auto")


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("spec", LIGHT_SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_both_accumulation_modes_agree_with_numerics(spec: OpSpec, mode: str, data: Any) -> None:
    syms, values = data.draw(spec_inputs(spec))
    check_spec(spec, syms, values, mode)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("spec", HEAVY_SPECS, ids=lambda s: s.name)
@FEWER
@given(data=st.data())
def test_both_modes_of_decompositions_agree_with_numerics(
    spec: OpSpec, mode: str, data: Any
) -> None:
    syms, values = data.draw(spec_inputs(spec))
    check_spec(spec, syms, values, mode)


def test_spec_table_covers_every_node_kind() -> None:
    covered = set().union(*(s.kinds for s in specs())) | {"symbol", "constant", "zero"}
    missing = all_kinds() - covered
    assert not missing, f"no spec exercises the node kinds {sorted(missing)}"


def test_spec_table_covers_every_declared_operation() -> None:
    """Each sample of each declared operation is a spec, and it builds the operation."""
    table = {s.name: s for s in specs()}
    assert registry.operations()
    for op in registry.operations():
        assert op.samples, f"{op.name} has no sample"
        for sample in op.samples:
            spec = table.get(sample.name)
            assert spec is not None, f"no spec for {op.name}'s sample {sample.name!r}"
            assert op.name in spec.kinds, f"spec {spec.name!r} does not build {op.name}"
            assert spec.domains == sample.domains and spec.orders == sample.orders, spec.name


def test_spec_table_is_well_formed() -> None:
    table = specs()
    names = [s.name for s in table]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert [s.name for s in SPECS] == names  # nothing declared since import
    for spec in table:
        assert set(spec.domains) <= set(DOMAINS), spec.name
        assert len(spec.shapes(2, 3)) == len(spec.domains), spec.name
        assert spec.kinds <= all_kinds(), spec.name
        assert set(spec.orders) <= {1, 2} and 1 in spec.orders, spec.name


def test_every_non_leaf_kind_has_a_rule() -> None:
    from matgrad.ir import expr as E

    kinds = {cls.kind for cls in vars(E).values()
             if isinstance(cls, type) and issubclass(cls, E.Expr)
             and isinstance(vars(cls).get("kind"), str) and cls is not E.Expr}
    assert kinds <= set(RULES) | set(LEAF_KINDS), kinds - set(RULES) - set(LEAF_KINDS)
    assert set(RULES) <= kinds
    # every other kind is a declared operation, with its differential
    for op in registry.operations():
        assert callable(op.differential), op.name
        assert op.name not in RULES and op.name not in LEAF_KINDS, op.name
        sample = op.samples[0]
        placeholders = [symbol(f"a{k}", s) for k, s in enumerate(sample.shapes(2, 2))]
        built = sample.build(*placeholders) if sample.build else op(*placeholders)
        node = next(n for n in built.walk() if n.kind == op.name)
        assert isinstance(node, Apply) and node.op is op
        d = tuple(symbol(f"d{k}", a.shape) for k, a in enumerate(node.args))
        assert rules.differential(node, d) is op.differential(node, d), op.name
