"""Fuzzing: random expressions (matgrad.testing.fuzz) differentiated symbolically,
first and second order, checked against Richardson-extrapolated numerical
derivatives; forward and reverse accumulation checked against each other, the
unsimplified first derivative against the simplified one, and (once the compiled
evaluator is loaded) the compiled evaluator against the reference one.

The default hypothesis profile runs a small deterministic budget; the long run is

    python -m pytest tests/test_fuzz.py --hypothesis-profile=fuzz -s

which prints how many expressions were checked, skipped and in disagreement.
``MATGRAD_FUZZ_EXAMPLES=N`` overrides the profile's number of examples.
With ``MATGRAD_FUZZ_KEEP_GOING=1`` a disagreement is recorded (printed at the
end, and appended to the file named by ``MATGRAD_FUZZ_LOG`` if set) instead of
failing the test, so that one run counts them all.  See docs/fuzzing.md.

**Skip rule** (``hypothesis.assume``; counted in the summary): a draw is skipped,
never judged, when (a) ``f`` is not finite at the drawn values, (b) ``max |f| > 1e6``
or ``max |∂f| > 1e8`` (badly scaled), (c) ``f`` is not finite at a point of the
finite-difference stencil, or (d) the numerical witness is unreliable: its own error
estimate (the last two Richardson levels plus rounding) exceeds 1/100 of the
tolerance below.  Nothing else is
skipped: the tolerances are fixed and a draw that passes the rule is judged (a
non-finite symbolic derivative where the witness is finite is a disagreement).

**Tolerances.**  Symbolic vs numerical: ``max |sym − num| / max(1, max |num|)``
below ``1e-6`` (as tests/test_rules.py).  Forward vs reverse, simplified vs
unsimplified, compiled vs reference evaluation: the same measure below ``1e-9``
(both sides are exact up to rounding).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, find, given, settings

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, NonFiniteError
from matgrad.ir import expr as E
from matgrad.testing.fuzz import (
    ONE_PLUS_SQUARE,
    OPERATIONS,
    FuzzCase,
    form_label,
    fuzzed_operations,
    known_operations,
    random_expressions,
    source_name,
)
from matgrad.testing.reference import reference_evaluate

# Until the compiled evaluator is registered by ``import matgrad``, use the reference one.
E.HOOKS.setdefault("evaluate", reference_evaluate)
COMPILED = E.HOOKS["evaluate"] is not reference_evaluate

NUMERIC_TOL = 1e-6
EXACT_TOL = 1e-9
WITNESS_TOL = NUMERIC_TOL / 100
MAX_VALUE = 1e6
MAX_DERIVATIVE = 1e8
KEEP_GOING = os.environ.get("MATGRAD_FUZZ_KEEP_GOING", "") not in ("", "0")
LOG = os.environ.get("MATGRAD_FUZZ_LOG")


# ---------------------------------------------------------------------------------------
# Bookkeeping: a session-wide tally printed at the end of the module
# ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    checked: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    disagreements: list[tuple[str, str]] = field(default_factory=list)
    shapes: Counter[str] = field(default_factory=Counter)
    depth_total: int = 0
    max_depth: int = 0
    drawn: Counter[str] = field(default_factory=Counter)
    """How many checked expressions drew each operation (and fuzz record)."""


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    t = TALLY
    distinct = {code.split("\nf = ")[1].split("\n")[0] for _, code in t.disagreements}
    lines = [
        "",
        (f"fuzz summary: {t.checked} expressions checked, {len(t.disagreements)} in "
         f"disagreement ({len(distinct)} distinct expressions), "
         f"{sum(t.skipped.values())} draws skipped {dict(t.skipped)}"),
        (f"  evaluator: {'compiled' if COMPILED else 'reference'}; output shapes "
         f"{dict(t.shapes)}; mean DAG depth "
         f"{t.depth_total / max(t.checked, 1):.1f}, max {t.max_depth}"),
    ]
    if t.checked:
        lines.append("  operations drawn (checked expressions): "
                     + json.dumps(dict(sorted(t.drawn.items()))))
    shown: set[str] = set()
    for what, code in t.disagreements:
        if code in shown:
            continue
        shown.add(code)
        lines += [f"  DISAGREEMENT {what}", "    " + code.replace("\n", "\n    ")]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n".join(lines))
    else:  # pragma: no cover - pytest without its capture plugin
        print("\n".join(lines))


def skip(reason: str) -> None:
    TALLY.skipped[reason] += 1
    assume(False)


def disagree(case: FuzzCase, failures: list[str]) -> None:
    what = "; ".join(failures)
    TALLY.disagreements.append((what, case.code()))
    if LOG:
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(json.dumps({"what": failures, "code": case.code()}) + "\n")
    if not KEEP_GOING:
        pytest.fail("\n".join([*failures, "# reproducer:", case.code()]), pytrace=False)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def evaluate(expr: E.Expr, values: dict[str, np.ndarray], *, reference: bool = False) -> Any:
    names = {s.name for s in expr.symbols()}
    bound = {k: v for k, v in values.items() if k in names}
    if reference:
        return np.asarray(reference_evaluate(expr, bound))
    return np.asarray(expr.evaluate(**bound))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def as_function(expr: E.Expr, values: dict[str, np.ndarray], name: str) -> Callable[..., Any]:
    def f(v: np.ndarray) -> np.ndarray:
        return evaluate(expr, {**values, name: v})

    return f


def witness(expr: E.Expr, values: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The Richardson Jacobian of the evaluated ``expr`` in ``name``, or a skip."""
    try:
        est = numeric.jacobian(
            as_function(expr, values, name), values[name], method="richardson",
            return_error=True,
        )
    except NonFiniteError:
        skip("not finite near the point")
    assert isinstance(est, numeric.Estimate)
    scale = max(1.0, float(np.max(np.abs(est.value), initial=0.0)))
    if float(np.max(est.error, initial=0.0)) > WITNESS_TOL * scale:
        skip("numerical witness unreliable")
    return np.asarray(est.value)


def compare(what: str, got: np.ndarray, want: np.ndarray, tol: float) -> list[str]:
    """``[]`` if ``got`` agrees with ``want``, else a one-item list describing how not."""
    if got.shape != want.shape:
        return [f"{what}: shape {got.shape} != {want.shape}"]
    if not np.all(np.isfinite(got)):
        return [f"{what}: non-finite values"]
    err = relative_error(got, want)
    return [] if err < tol else [f"{what}: relative error {err:.3e} (tolerance {tol:.0e})"]


def check_case(case: FuzzCase) -> None:
    f, x = case.expr, case.wrt
    values = {k: np.asarray(v) for k, v in case.values.items()}
    with np.errstate(all="ignore"):
        f0 = evaluate(f, values)
    if not np.all(np.isfinite(f0)):
        skip("f not finite")
    if float(np.max(np.abs(f0), initial=0.0)) > MAX_VALUE:
        skip("f badly scaled")

    d1 = mg.derivative(f, x)
    assert d1.shape == f.shape + x.shape
    with np.errstate(all="ignore"):
        e1 = evaluate(d1, values)
    if np.all(np.isfinite(e1)) and float(np.max(np.abs(e1), initial=0.0)) > MAX_DERIVATIVE:
        skip("derivative badly scaled")
    n1 = witness(f, values, x.name)
    d2 = mg.derivative(f, x, order=2)
    assert d2.shape == f.shape + x.shape + x.shape
    n2 = witness(d1, values, x.name) if np.all(np.isfinite(e1)) else None

    TALLY.checked += 1
    TALLY.shapes[str(f.shape)] += 1
    TALLY.depth_total += case.depth
    TALLY.max_depth = max(TALLY.max_depth, case.depth)
    TALLY.drawn.update(case.drawn)

    name = f"d/d{x.name}"
    failures = compare(f"{name} (auto) vs numerical", e1, n1, NUMERIC_TOL)
    if n2 is not None:
        failures += compare(f"d2/d{x.name}2 (auto) vs numerical", evaluate(d2, values), n2,
                            NUMERIC_TOL)

    for order in (1, 2):
        fwd = evaluate(mg.derivative(f, x, order=order, mode="forward"), values)
        rev = evaluate(mg.derivative(f, x, order=order, mode="reverse"), values)
        failures += compare(f"order {order}: forward vs reverse", fwd, rev, EXACT_TOL)

    raw = evaluate(mg.derivative(f, x, simplify=False), values)
    failures += compare(f"{name}: simplified vs unsimplified", e1, raw, EXACT_TOL)

    if COMPILED:
        for label, expr in (("f", f), (name, d1), (f"d2/d{x.name}2", d2)):
            failures += compare(f"{label}: compiled vs reference evaluator",
                                evaluate(expr, values), evaluate(expr, values, reference=True),
                                EXACT_TOL)
    if failures:
        disagree(case, failures)


# ---------------------------------------------------------------------------------------
# The fuzz test
# ---------------------------------------------------------------------------------------


EXAMPLES = os.environ.get("MATGRAD_FUZZ_EXAMPLES")


@settings(max_examples=int(EXAMPLES) if EXAMPLES else settings().max_examples)
@given(case=random_expressions())
def test_random_expression_derivatives(case: FuzzCase) -> None:
    check_case(case)


def test_generator_covers_every_operation() -> None:
    """Each operation of the generator occurs in a modest number of draws: every
    composite, every declared operation with fuzz entries (each of its fuzz
    records), in the expression and in its source."""
    declared = fuzzed_operations()
    assert {op.name for op in declared} >= {"exp", "log", "inv", "det", "logdet", "adj", "power"}
    labels = (known_operations() | {ONE_PLUS_SQUARE}
              | {form_label(op, k) for op in declared for k in range(len(op.fuzz))})
    names = {
        "mg.trace(": "trace", "mg.solve(": "solve", "mg.kron(": "kron", "mg.outer(": "outer",
        "mg.diag(": "diag", "mg.norm(": "norm", "mg.hadamard(": "hadamard",
        "mg.matrix_power(": "matrix_power", "mg.sum(": "sum", "mg.mean(": "mean",
        " @ ": "matmul", ".T": "transpose", " ** ": "square", " / ": "divide",
        "delta(": "identity", "mg.constant(": "constant", "'reshape')(": "reshape",
    }
    names.update({  # how the source calls each operation (see fuzz_terms._call_source)
        (f"mg.ops.registry.operation({op.name!r})(" if op.attrs else f"{source_name(op)}("):
        op.name
        for op in declared
    })
    seen: set[str] = set()
    drawn: set[str] = set()
    kinds: set[str] = set()

    # more operations need more draws for each to turn up: about a dozen each
    @settings(max_examples=max(400, 12 * len(labels)), database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=random_expressions())
    def collect(case: FuzzCase) -> None:
        seen.update(op for key, op in names.items() if key in case.source)
        drawn.update(case.drawn)
        kinds.update(n.kind for n in case.expr.walk())

    collect()
    assert set(names.values()) <= seen, f"never generated: {set(names.values()) - seen}"
    assert labels <= drawn, f"never drawn: {sorted(labels - drawn)}"
    assert drawn <= labels, f"unknown labels: {sorted(drawn - labels)}"
    missing = {op.name for op in declared} - kinds
    assert not missing, f"never in an expression: {sorted(missing)}"


NOT_FUZZED: dict[str, str] = {
    # the derivative machinery's own operations: built by the differentials of the
    # operations above, so the fuzzer reaches them through every second derivative
    # it checks; their operands are tied to a point (a spectrum, its gaps) that a
    # random operand would not be
    "frechet_expm": "Fréchet derivative of expm, built by its differential",
    "frechet_sinm": "Fréchet derivative of sinm, built by its differential",
    "frechet_cosm": "Fréchet derivative of cosm, built by its differential",
    "frechet_logm": "Fréchet derivative of logm, built by its differential",
    "frechet_sqrtm": "Fréchet derivative of sqrtm, built by its differential",
    "frechet_fractional_matrix_power": "Fréchet derivative of fractional_matrix_power, "
                                       "built by its differential",
    "eigh_frechet1": "Daleckii–Krein derivative of eigh_function, built by its differential",
    "eigh_frechet2": "second Daleckii–Krein derivative, built by eigh_frechet1's differential",
    "divided_difference": "divided differences of a spectrum, built by eigh_frechet1/2",
    "eigh_project": "Vᵀ E V for the eigenvectors of its first operand: built by the "
                    "differentials of eigh_values and eigh_vectors",
    "eigh_lift": "the transpose of eigh_project, built by the same differentials",
    "inverse_gaps": "1/(λⱼ − λᵢ) of a separated spectrum, built by eigh_vectors' differential",
    "svd_project": "Uᵀ E V of the SVD of its first operand, built by the svd differentials",
    "svd_lift": "the transpose of svd_project, built by the same differentials",
    "svd_gaps": "1/(σⱼ² − σᵢ²) of separated singular values, built by the svd differentials",
    "prod_except": "products of the other entries, built by prod's differential",
    "scatter_add": "the transpose of getitem, built by its reverse-mode pull",
    "adj_frechet": "the derivative of adj in a direction, built by adj's differential",
    "det_minors": "det's k-th derivative tensor (signed minors), built by det's differentials",
}
"""Declared operations the fuzzer does not compose, each with the reason."""


def test_every_declared_operation_is_fuzzed_or_excluded() -> None:
    """A declared operation has fuzz records or a reasoned place in NOT_FUZZED, so
    that a new operation without records fails here until it gets one or the other."""
    declared = {op.name for op in mg.ops.registry.operations()}
    fuzzed = {op.name for op in fuzzed_operations()}
    missing = declared - fuzzed - set(NOT_FUZZED)
    assert not missing, f"declared operations neither fuzzed nor excluded: {sorted(missing)}"
    assert not set(NOT_FUZZED) & fuzzed, f"excluded but fuzzed: {set(NOT_FUZZED) & fuzzed}"
    assert set(NOT_FUZZED) <= declared, f"excluded but not declared: {set(NOT_FUZZED) - declared}"
    assert all(len(reason) > 20 for reason in NOT_FUZZED.values())


def test_generator_draws_only_the_operations_asked_for() -> None:
    exp = next(op for op in fuzzed_operations() if op.name == mg.exp.op.name)
    chosen = {"add", "trace", exp.name}
    allowed = chosen | {form_label(exp, k) for k in range(len(exp.fuzz))}

    @settings(max_examples=50, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=random_expressions(operations=chosen))
    def check(case: FuzzCase) -> None:
        assert case.operations == chosen
        assert case.drawn <= allowed, case.drawn - allowed

    check()
    with pytest.raises(InvalidArgumentError, match="unknown operations"):
        find(random_expressions(operations={"add", "no_such_operation"}), lambda c: True)
    assert OPERATIONS == known_operations()  # nothing declared since import


def test_reproducers_rebuild_the_case() -> None:
    """``case.code()`` runs with ``import matgrad as mg`` and builds an expression
    of the same shape and value."""

    @settings(max_examples=60, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=random_expressions())
    def check(case: FuzzCase) -> None:
        namespace: dict[str, Any] = {}
        exec(case.code(), namespace)
        f = namespace["f"]
        assert f.shape == case.expr.shape
        assert namespace["wrt"] is case.wrt
        values = {k: np.asarray(v) for k, v in namespace["values"].items()}
        with np.errstate(all="ignore"):
            got, want = evaluate(f, values), evaluate(case.expr, values)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)

    check()


# ---------------------------------------------------------------------------------------
# Regression tests for bugs the fuzzer found
#
# simplify._eliminate_deltas turned a factor δ(a, a) into the size n even when the index a
# was an output index or occurred in another factor (δ(a, a) = 1 entrywise; it is n only
# when a is summed and occurs nowhere else).  Found by this fuzzer; fixed in 75cd301.
# ---------------------------------------------------------------------------------------


def test_simplify_diag_of_diag_is_identity() -> None:
    x = mg.Vector("x", 3)
    x0 = np.array([1.0, 2.0, 3.0])
    f = mg.diag(mg.diag(x))
    np.testing.assert_allclose(evaluate(f, {"x": x0}), x0)
    np.testing.assert_allclose(evaluate(mg.simplify(f), {"x": x0}), x0)  # was 3 x


def test_simplify_sum_of_diag_of_diag() -> None:
    y = mg.Vector("y", 3)
    y0 = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(evaluate(mg.simplify(mg.sum(mg.diag(mg.diag(y)))), {"y": y0}),
                               6.0)  # was 18


def test_gradient_of_sum_of_squared_diagonal_matrix() -> None:
    y = mg.Vector("y", 3)
    y0 = np.array([1.0, 2.0, 3.0])
    grad = mg.derivative(mg.sum(mg.diag(y) ** 2), y)  # auto: reverse, through diag's adjoint
    np.testing.assert_allclose(evaluate(grad, {"y": y0}), 2 * y0)  # was 6 y


def test_reverse_jacobian_of_squared_diagonal_matrix() -> None:
    y = mg.Vector("y", 2)
    values = {"y": np.array([-1.4, 0.7])}
    forward = mg.derivative(mg.diag(y) ** 2, y, mode="forward")
    reverse = mg.derivative(mg.diag(y) ** 2, y, mode="reverse")
    np.testing.assert_allclose(evaluate(reverse, values), evaluate(forward, values))  # was 2x


def test_fuzz_found_second_derivative_through_solve() -> None:
    """As the fuzzer found it (shrunk by hand); was wrong in auto (reverse) mode only."""
    A = mg.Matrix("A", (2, 2))
    X = mg.Matrix("X", (2, 2))
    f = mg.exp(mg.diag(mg.solve(2 * mg.ir.expr.delta(2) + 0.5 * mg.tanh(A), mg.diag(X))))
    values = {"A": np.array([[-0.85, 0.0], [0.0, 0.0]]), "X": np.array([[-0.44, 0.0], [0.0, 0.25]])}
    d1 = mg.derivative(f, A)
    numerical = numeric.jacobian(as_function(d1, values, "A"), values["A"], method="richardson")
    np.testing.assert_allclose(evaluate(mg.derivative(f, A, order=2), values), numerical,
                               atol=1e-8)
