"""The display normal form (matgrad.calculus.display): what the printers show.

Every rewrite must keep the value: each case is checked numerically against the
expression it came from at random points.  The expected forms are written by hand
from the textbook formulas (Matrix Cookbook, MML chapter 5), built as matgrad
expressions, and compared after both go through ``display`` (one normal form for
both) and printed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import matgrad as mg
from matgrad.calculus.display import display
from matgrad.ir.expr import ones
from matgrad.printing import to_latex, to_text
from matgrad.testing.fuzz import random_expressions

RNG_SEEDS = (0, 1)


def values_for(*exprs: mg.Expr, seed: int = 0) -> dict[str, np.ndarray]:
    """Random values for the symbols of ``exprs``; square matrices are well
    conditioned (3 I added), symmetric ones symmetric."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for e in exprs:
        for s in e.symbols():
            v = rng.standard_normal(s.shape)
            if s.ndim == 0:
                v = np.abs(v) + 0.5  # scalars are positive: powers and square roots
            if s.ndim == 2 and s.shape[0] == s.shape[1]:
                v = v + 3 * np.eye(s.shape[0])
                if s.symmetric:
                    v = v @ v.T
            out[s.name] = v
    return out


def value(e: mg.Expr, vals: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(e.evaluate(**{s.name: vals[s.name] for s in e.symbols()}))


def assert_same_value(a: mg.Expr, b: mg.Expr) -> None:
    for seed in RNG_SEEDS:
        vals = values_for(a, b, seed=seed)
        va, vb = value(a, vals), value(b, vals)
        assert va.shape == vb.shape
        np.testing.assert_allclose(va, vb, rtol=1e-9, atol=1e-11 * max(1.0, np.abs(va).max()))


A, X, B = mg.Matrix("A", (4, 3)), mg.Matrix("X", (3, 3)), mg.Matrix("B", (3, 3))
S = mg.Matrix("S", (3, 3), symmetric=True)
x, w, z = mg.Vector("x", 3), mg.Vector("w", 3), mg.Vector("z", 3)
b, y = mg.Vector("b", 4), mg.Vector("y", 4)
Xd = mg.Matrix("X", (4, 3))


def sigma(v: mg.Expr) -> mg.Expr:
    return mg.sigmoid(v)


# (name, expression as computed, the textbook's form built by hand)
CLASSICS = [
    ("least squares gradient (Cookbook 84)",
     lambda: mg.derivative(mg.norm(A @ x - b) ** 2, x), lambda: 2 * A.T @ (A @ x - b)),
    ("least squares Hessian", lambda: mg.derivative(mg.norm(A @ x - b) ** 2, x, order=2),
     lambda: 2 * A.T @ A),
    ("log det (Cookbook 57)", lambda: mg.derivative(mg.log(mg.det(X)), X), lambda: mg.inv(X).T),
    ("logistic loss gradient", lambda: mg.derivative(mg.sum(mg.log(1 + mg.exp(-z))), z),
     lambda: -sigma(-z)),
    ("logistic loss Hessian",
     lambda: mg.derivative(mg.sum(mg.log(1 + mg.exp(-z))), z, order=2),
     lambda: mg.diag(sigma(z) * (1 - sigma(z)))),
    ("softplus' = sigma", lambda: mg.derivative(mg.sum(mg.log(1 + mg.exp(z))), z),
     lambda: sigma(z)),
    ("sigma' = sigma (1 - sigma)", lambda: mg.derivative(sigma(z), z),
     lambda: mg.diag(sigma(z) * (1 - sigma(z)))),
    ("binary cross-entropy gradient",
     lambda: mg.derivative(-(y @ mg.log(sigma(Xd @ w)) + (1 - y) @ mg.log(1 - sigma(Xd @ w))), w),
     lambda: Xd.T @ (sigma(Xd @ w) - y)),
    ("binary cross-entropy Hessian",
     lambda: mg.derivative(-(y @ mg.log(sigma(Xd @ w)) + (1 - y) @ mg.log(1 - sigma(Xd @ w))), w,
                           order=2),
     lambda: Xd.T @ mg.diag(sigma(Xd @ w) * (1 - sigma(Xd @ w))) @ Xd),
    ("quadratic form (Cookbook 81)", lambda: mg.derivative(x @ X @ x, x),
     lambda: (X + X.T) @ x),
    ("trace X^T B X Hessian factored", lambda: mg.derivative(mg.trace(X.T @ B @ X), X),
     lambda: (B + B.T) @ X),
    ("trace X X B (Cookbook 104)", lambda: mg.derivative(mg.trace(X @ X @ B), X),
     lambda: (X @ B + B @ X).T),
    ("Gaussian NLL in Sigma",
     lambda: mg.derivative((x - z) @ mg.inv(S) @ (x - z) / 2 + mg.logdet(S) / 2, S),
     lambda: 0.5 * mg.inv(S) - 0.5 * mg.outer(mg.inv(S) @ (x - z), mg.inv(S) @ (x - z))),
]


@pytest.mark.parametrize("name, compute, textbook", CLASSICS, ids=[c[0] for c in CLASSICS])
def test_classic_derivatives_display_as_the_textbook(name, compute, textbook) -> None:
    derived, expected = compute(), textbook()
    assert_same_value(derived, expected)
    assert to_text(derived) == to_text(expected)
    assert to_latex(derived) == to_latex(expected)


def test_the_printout_is_the_textbook_one() -> None:
    g = mg.derivative(mg.norm(A @ x - b) ** 2, x)
    assert str(g) == "2 * A.T @ (A @ x - b)"
    assert g.latex() == r"2 A^{\top} \left(A x - b\right)"
    assert str(mg.derivative(mg.log(mg.det(X)), X)) == "inv(X).T"
    assert str(mg.derivative(mg.sum(mg.log(1 + mg.exp(-z))), z)) == "-sigmoid(-z)"
    # a common numeric factor of a sum is written once (printer)
    assert str(2 * X - 2 * X.T) == "2 * (X - X.T)"
    assert str(0.5 * X + 0.5 * B) == "0.5 * (B + X)"
    # the form as computed is still there
    assert "sqrt" in to_text(g, display=False)


U = mg.Scalar("u")
RULES = [
    ("sqrt(u) u^-1/2 = 1", lambda: mg.sqrt(U) * U ** -0.5, lambda: mg.constant(1.0)),
    ("sqrt(u)^2 = u", lambda: mg.sqrt(U) ** 2, lambda: U),
    ("u^a u^b", lambda: U ** 1.5 * U ** -0.25 * U, lambda: U ** 2.25),
    ("(u^0.5)^-2 = 1/u", lambda: (U ** 0.5) ** -2, lambda: U ** -1),
    ("(2u)^-1 = u^-1 / 2", lambda: (2 * U) ** -1, lambda: 0.5 * U ** -1),
    ("adj / det = inv", lambda: mg.adj(X) / mg.det(X), lambda: mg.inv(X)),
    ("e/(1+e) = sigma", lambda: mg.exp(z) / (1 + mg.exp(z)), lambda: sigma(z)),
    ("1/(1+exp(-z)) = sigma", lambda: 1 / (1 + mg.exp(-z)), lambda: sigma(z)),
    ("sigma(z) sigma(-z)", lambda: sigma(z) * sigma(-z), lambda: sigma(z) * (1 - sigma(z))),
    ("e sigma(-z) = sigma", lambda: mg.exp(z) * sigma(-z), lambda: sigma(z)),
    ("sigma - sigma^2", lambda: sigma(z) - sigma(z) ** 2, lambda: sigma(z) * (1 - sigma(z))),
    ("common factor of a sum", lambda: X @ B + X.T @ B, lambda: (X + X.T) @ B),
    ("sign into the sum", lambda: -(X @ (x - z)), lambda: X @ (z - x)),
    ("scale into the product", lambda: 0.5 * ((2 * x - 2 * z) * mg.tanh(x)),
     lambda: (x - z) * mg.tanh(x)),
    ("transpose of a symmetric sum", lambda: (S + mg.inv(S)).T, lambda: S + mg.inv(S)),
    ("exp(a) exp(-a) = 1", lambda: mg.exp(x - z) * mg.exp(z - x), lambda: ones((3,))),
    ("even power of a negation", lambda: (-x) ** 2, lambda: x ** 2),
    ("inverse times matrix", lambda: B @ mg.inv(X) @ X, lambda: B),
    ("transposed inverse pair", lambda: mg.inv(X).T @ X.T @ B, lambda: B),
    ("adj of an inverse", lambda: mg.adj(mg.inv(X)), lambda: mg.det(mg.inv(X)) * X),
    ("a sum factor regrouped", lambda: (U ** -0.5 - mg.sin(U)) * mg.exp(U) + U ** -0.5 - mg.sin(U),
     lambda: (U ** -0.5 - mg.sin(U)) * (mg.exp(U) + 1)),
    ("polynomial with cancellation", lambda: sigma(z) * (z - 1) + z * sigma(-z),
     lambda: z - sigma(z)),
]


@pytest.mark.parametrize("name, before, after", RULES, ids=[r[0] for r in RULES])
def test_rewrite_rules(name, before, after) -> None:
    e, expected = before(), after()
    if e.symbols():
        assert_same_value(e, expected)
    assert to_text(e) == to_text(expected)


def test_rewrites_that_would_be_wrong_are_not_made() -> None:
    # sqrt(u^2) is |u|, not u
    assert display(mg.sqrt(U ** 2)) is not display(U)
    assert display((U ** 2) ** 0.5) is not display(U)
    # (b - a)^3 keeps its sign with the sum
    cube = (x - z) ** 3
    assert_same_value(cube, display(cube))
    # adj alone stays adj (finite at singular matrices; inv is not)
    assert display(mg.adj(X)) is mg.adj(X)
    # inv(X) X is not the identity when the index they share is used elsewhere
    e = mg.einsum("ij,jk,j->ik", mg.inv(X), X, x)
    assert_same_value(e, display(e))
    assert "inv" in str(e)
    # an inner product is not a sum of squares to the reader
    assert str(x @ x) == "x @ x"


def test_a_transposed_symmetric_sum_is_the_sum() -> None:
    e = (S + mg.inv(S)).T
    assert isinstance(e, mg.ir.expr.Einsum)
    assert display(e) is S + mg.inv(S)


def reaches_a_fixpoint(e: mg.Expr) -> bool:
    """Whether one more rewriting pass leaves the display form as it is (no two
    rules undoing each other)."""
    from matgrad.calculus.display import _pass

    d = display(e)
    return _pass(d) is d


def test_display_is_idempotent_and_cached() -> None:
    for _, compute, _ in CLASSICS:
        d = display(compute())
        assert display(d) is d
        assert reaches_a_fixpoint(compute())


def test_the_textbook_table_reaches_fixpoints() -> None:
    """Rules that undo each other were found this way (a transpose of a scaled
    product, a scalar factor taken out of one term)."""
    import textbook_table as tt

    stuck = [e.name for e in tt.TABLE if not reaches_a_fixpoint(tt.build(e).derivative)]
    assert not stuck


def test_vector_results_print_as_columns() -> None:
    assert str(x @ X) == "X.T @ x"
    assert str(x @ X @ B) == "(X @ B).T @ x"
    assert str(x @ X @ x) == "x @ X @ x"
    assert str(x * (X @ x)) == "x ⊙ (X @ x)"
    assert (x @ X).latex() == r"X^{\top} x"


def test_deep_derivatives_display_in_bounded_time_and_size() -> None:
    v = mg.Vector("v", 3)
    g = mg.derivative(mg.sum(mg.exp(mg.exp(mg.exp(v)))), v, order=3)
    shown = display(g)
    assert_same_value(g, shown)
    assert len(to_text(g)) < len(to_text(g, display=False))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_expressions())
def test_display_keeps_the_value_of_random_derivatives(case) -> None:
    """First and second derivatives of random expressions: the display form never
    fails and evaluates (compiled) to the same array as the form as computed."""
    f = case.expr
    try:
        g1 = mg.derivative(f, case.wrt)
        derivatives = [g1, mg.derivative(g1, case.wrt)]
    except mg.errors.MatgradError:
        assume(False)
        return
    for g in derivatives:
        shown = display(g)
        assert shown.shape == g.shape
        vals = dict(case.values)
        with np.errstate(all="ignore"):
            expected = value(g, vals)
            if not np.all(np.isfinite(expected)):
                continue
            got = value(shown, vals) if shown.symbols() else np.asarray(shown.evaluate())
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9 * scale)
        assert reaches_a_fixpoint(g)
        to_text(g)  # printing never fails


def test_taylor_polynomials_print_powers() -> None:
    """MML Example 5.3: the Taylor polynomial of x⁴ at 1 is
    1 + 4(x − 1) + 6(x − 1)² + 4(x − 1)³ + (x − 1)⁴ — printed with powers."""
    t = mg.Scalar("t")
    poly = mg.taylor(t**4, t, at=1.0, order=4)
    text = str(poly)
    assert "(t - 1) ** 2" in text and "(t - 1) ** 3" in text and "(t - 1) ** 4" in text
    assert "(t - 1) * (t - 1)" not in text
    for value in (0.3, 1.7, -2.0):
        assert float(poly.evaluate(t=np.array(value))) == pytest.approx(value**4)
