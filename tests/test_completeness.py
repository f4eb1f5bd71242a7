"""Completeness is a test (STYLE.md §4): every node kind of the IR has a
derivative rule (or is a leaf), an evaluator, a printer, a reference evaluator
case and a spec in the generated tests."""

from __future__ import annotations

import inspect

import numpy as np

from matgrad import compiler, printing
from matgrad.calculus import rules
from matgrad.ir import expr
from matgrad.ir import node as _base
from matgrad.testing.opspec import SPECS
from matgrad.testing.reference import reference_evaluate


def node_kinds() -> set[str]:
    kinds = set()
    for _, cls in inspect.getmembers(expr, inspect.isclass):
        if issubclass(cls, _base.Expr) and "kind" in vars(cls):
            kinds.add(cls.kind)
    kinds.discard("expr")
    return kinds


def test_the_ir_has_the_documented_kinds() -> None:
    assert node_kinds() == {
        "symbol", "constant", "zero", "ones", "delta", "einsum", "add", "elementwise",
        "inv", "det", "logdet", "adj", "reshape",
    }


def test_every_kind_has_a_rule_or_is_a_leaf() -> None:
    assert node_kinds() == set(rules.RULES) | set(rules.LEAF_KINDS)
    assert not set(rules.RULES) & set(rules.LEAF_KINDS)


def test_every_rule_states_its_formula() -> None:
    for kind, rule in rules.RULES.items():
        assert rule.__name__ == f"d_{kind}", rule.__name__
        assert rule.__doc__ and len(rule.__doc__.strip()) > 20, kind


def test_every_kind_is_exercised_by_the_spec_table() -> None:
    covered = set().union(*(s.kinds for s in SPECS)) | {"symbol", "constant", "zero"}
    assert node_kinds() <= covered, node_kinds() - covered


def samples() -> list[expr.Expr]:
    """One small expression per node kind (together they contain every kind)."""
    X = expr.Matrix("X", (2, 2))
    v = expr.Vector("v", 2)
    return [
        expr.zeros((2,)), expr.ones((2,)), expr.delta(2), expr.constant(1.5),
        expr.matrix_function("inv", X), expr.matrix_function("det", X),
        expr.matrix_function("logdet", X), expr.matrix_function("adj", X),
        expr.reshape(X, (4,)), expr.elementwise("exp", v), expr.add([v, v], [1, 2]),
        expr.einsum_node([X, v], [(0, 1), (1,)], (0,)),
    ]


VALUES = {"X": np.array([[2.0, 1.0], [0.0, 3.0]]), "v": np.array([1.0, -1.0])}


def test_every_kind_is_evaluated_and_printed() -> None:
    """Each kind is evaluated by the compiler (equal to the naive reference),
    and printed in all four forms; the NumPy source is checked by
    tests/test_printing.py."""
    seen = set()
    for sample in samples():
        names = {s.name for s in sample.symbols()}
        values = {k: v for k, v in VALUES.items() if k in names}
        np.testing.assert_allclose(
            compiler.evaluate(sample, values), reference_evaluate(sample, values),
            rtol=1e-12, atol=1e-14,
        )
        for form in (printing.to_text, printing.to_latex, printing.to_index_notation):
            assert form(sample)
        assert "def f(" in printing.to_numpy(sample)
        seen |= {n.kind for n in sample.walk()}
    assert node_kinds() <= seen, node_kinds() - seen
