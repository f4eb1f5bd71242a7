"""Every operation's derivative, first and second order, against numerical
differentiation over hypothesis-drawn sizes and values (the spec table in
matgrad.testing.opspec), in both accumulation modes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.calculus.rules import LEAF_KINDS, RULES
from matgrad.ir.expr import ELEMENTWISE_FUNCTIONS, Expr, symbol
from matgrad.testing.opspec import SPECS, OpSpec, value_strategy

ALL_KINDS = set(RULES) | set(LEAF_KINDS)


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


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_rule_matches_numerical_derivative(spec: OpSpec, data: Any) -> None:
    syms, values = data.draw(spec_inputs(spec))
    check_spec(spec, syms, values, "auto")


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_both_accumulation_modes_agree_with_numerics(spec: OpSpec, mode: str, data: Any) -> None:
    syms, values = data.draw(spec_inputs(spec))
    check_spec(spec, syms, values, mode)


def test_spec_table_covers_every_node_kind() -> None:
    covered = set().union(*(s.kinds for s in SPECS)) | {"symbol", "constant", "zero"}
    missing = ALL_KINDS - covered
    assert not missing, f"no spec exercises the node kinds {sorted(missing)}"


def test_spec_table_covers_every_elementwise_function() -> None:
    names = {s.name.split("-")[0] for s in SPECS}
    missing = set(ELEMENTWISE_FUNCTIONS) - names
    assert not missing, f"no spec for elementwise {sorted(missing)}"


def test_every_non_leaf_kind_has_a_rule() -> None:
    from matgrad.ir import expr as E

    kinds = {cls.kind for cls in vars(E).values()
             if isinstance(cls, type) and issubclass(cls, E.Expr) and cls.kind not in
             ("expr",)}
    kinds.discard("matrixfunction")
    assert kinds - {"expr"} <= ALL_KINDS | {"expr"}, kinds - ALL_KINDS
