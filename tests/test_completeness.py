"""Completeness is a test (STYLE.md §4): every node kind of the IR has a
derivative rule (or is a leaf), an evaluator, a printer, a reference evaluator
case and a spec in the generated tests.

The node kinds are the leaves and the algebraic core (classes of
``matgrad.ir.expr``) and the declared operations (``matgrad.ops.registry``);
everything about a declared operation is read from the registry here, so an
operation declared later is checked without editing this file."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from matgrad import compiler, printing
from matgrad.calculus import rules
from matgrad.ir import apply, expr
from matgrad.ir import node as _base
from matgrad.ops import registry
from matgrad.testing.opspec import specs
from matgrad.testing.reference import reference_evaluate

CORE_KINDS = {"symbol", "constant", "zero", "ones", "delta", "einsum", "add"}
"""The node kinds that are classes of their own (documented in matgrad.ir.expr)."""

FIRST_OPERATIONS = {
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "abs", "sign", "power",
    "inv", "det", "logdet", "adj", "reshape",
}
"""The operations the IR had as node classes before the registry; none may be lost."""


def class_kinds() -> set[str]:
    """The kinds of the node classes (``Apply``'s kind is its operation's name)."""
    kinds = set()
    for module in (expr, apply):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, _base.Expr) and isinstance(vars(cls).get("kind"), str):
                kinds.add(cls.kind)
    kinds.discard("expr")
    return kinds


def node_kinds() -> set[str]:
    return class_kinds() | {op.name for op in registry.operations()}


def test_the_ir_has_the_documented_kinds() -> None:
    assert class_kinds() == CORE_KINDS
    declared = [op.name for op in registry.operations()]
    assert len(declared) == len(set(declared))
    assert FIRST_OPERATIONS <= set(declared), FIRST_OPERATIONS - set(declared)
    assert not CORE_KINDS & set(declared)


def test_every_kind_has_a_rule_or_is_a_leaf() -> None:
    declared = {op.name for op in registry.operations()}
    assert node_kinds() == set(rules.RULES) | set(rules.LEAF_KINDS) | declared
    assert not set(rules.RULES) & set(rules.LEAF_KINDS)
    assert not (set(rules.RULES) | set(rules.LEAF_KINDS)) & declared
    assert class_kinds() == set(rules.RULES) | set(rules.LEAF_KINDS)


def test_every_rule_states_its_formula() -> None:
    for kind, rule in rules.RULES.items():
        assert rule.__name__ == f"d_{kind}", rule.__name__
        assert rule.__doc__ and len(rule.__doc__.strip()) > 20, kind
    for op in registry.operations():
        doc = op.differential.__doc__
        assert doc and len(doc.strip()) > 20, op.name


def test_every_declared_operation_has_an_implementation_and_a_spec() -> None:
    table = {s.name: s for s in specs()}
    for op in registry.operations():
        assert callable(op.numpy), op.name
        assert op.reference is None or callable(op.reference), op.name
        assert op.samples, op.name
        for sample in op.samples:
            assert sample.name in table, (op.name, sample.name)
            assert op.name in table[sample.name].kinds, (op.name, sample.name)


def test_every_kind_is_exercised_by_the_spec_table() -> None:
    covered = set().union(*(s.kinds for s in specs())) | {"symbol", "constant", "zero"}
    assert node_kinds() <= covered, node_kinds() - covered


# ---------------------------------------------------------------------------------------
# Evaluated and printed: the core by hand, every declared operation from its samples
# ---------------------------------------------------------------------------------------

N, M = 2, 3
"""The sizes the samples are built with."""


def domain_value(domain: str, shape: tuple[int, ...], rng: np.random.Generator) -> Any:
    """A value of ``shape`` from ``domain`` (as matgrad.testing.opspec names them)."""
    if domain == "general":
        return rng.uniform(-2.0, 2.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    n = shape[0]
    a = rng.uniform(-1.0, 1.0, (n, n))
    if domain == "invertible":  # diagonally dominant
        return a * 0.3 + 2.0 * np.eye(n) * rng.choice([-1.0, 1.0])
    if domain == "spd":
        return a @ a.T + n * np.eye(n)
    if domain == "symmetric":
        return (a + a.T) / 2
    raise KeyError(domain)


def core_samples() -> list[tuple[expr.Expr, dict[str, Any]]]:
    """The leaves and the algebraic core, by hand."""
    X = expr.Matrix("X", (2, 2))
    v = expr.Vector("v", 2)
    values = {"X": np.array([[2.0, 1.0], [0.0, 3.0]]), "v": np.array([1.0, -1.0])}
    exprs = [
        expr.zeros((2,)), expr.ones((2,)), expr.delta(2), expr.constant(1.5),
        expr.add([v, v], [1, 2]), expr.einsum_node([X, v], [(0, 1), (1,)], (0,)),
    ]
    return [(e, {k: x for k, x in values.items() if k in {s.name for s in e.symbols()}})
            for e in exprs]


def operation_samples() -> list[tuple[expr.Expr, dict[str, Any]]]:
    """Every sample of every declared operation, with values from its domains."""
    rng = np.random.default_rng(0)
    out = []
    for op in registry.operations():
        for sample in op.samples:
            shapes = sample.shapes(N, M)
            syms = [expr.symbol(f"a{k}", s) for k, s in enumerate(shapes)]
            built = sample.build(*syms) if sample.build is not None else op(*syms)
            values = {s.name: domain_value(d, s.shape, rng)
                      for s, d in zip(syms, sample.domains)}
            names = {s.name for s in built.symbols()}
            out.append((built, {k: x for k, x in values.items() if k in names}))
    return out


def test_every_kind_is_evaluated_and_printed() -> None:
    """Each kind is evaluated by the compiler (equal to the naive reference), and
    printed in all four forms, the NumPy source run and equal to the reference
    too (tests/test_printing.py checks the forms in detail)."""
    seen = set()
    for sample, values in core_samples() + operation_samples():
        want = reference_evaluate(sample, values)
        np.testing.assert_allclose(
            compiler.evaluate(sample, values), want, rtol=1e-12, atol=1e-14, err_msg=str(sample)
        )
        for form in (printing.to_text, printing.to_latex, printing.to_index_notation):
            assert form(sample), (form.__name__, sample)
        source = printing.to_numpy(sample)
        assert "def f(" in source
        namespace: dict[str, Any] = {}
        exec(source, namespace)
        args = [values[name] for name in sorted(values)]
        np.testing.assert_allclose(
            namespace["f"](*args), want, rtol=1e-12, atol=1e-14, err_msg=source
        )
        seen |= {n.kind for n in sample.walk()}
    assert node_kinds() <= seen, node_kinds() - seen


def test_the_reference_evaluator_uses_each_declared_implementation() -> None:
    """The reference value of an operation is its declared reference (else NumPy)
    implementation applied to the operands' values."""
    for sample, values in operation_samples():
        for node in sample.walk():
            if isinstance(node, apply.Apply):
                op = node.op
                args = [reference_evaluate(a, {k: v for k, v in values.items()
                                               if k in {s.name for s in a.symbols()}})
                        for a in node.args]
                fn = op.reference or op.numpy
                np.testing.assert_allclose(
                    reference_evaluate(node, {k: v for k, v in values.items()
                                              if k in {s.name for s in node.symbols()}}),
                    fn(*args, **node.attrs), rtol=0, atol=0,
                )
                np.testing.assert_allclose(
                    op.numpy(*args, **node.attrs), fn(*args, **node.attrs),
                    rtol=1e-12, atol=1e-14, err_msg=op.name,
                )
