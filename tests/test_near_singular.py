"""Near-singular and singular inputs (issue 12, item 3): the derivatives of det, a
polynomial, are right at every X (exactly and numerically singular ones too) to
every order; inv, solve and the derivatives of logdet warn with
IllConditionedWarning where their estimated relative error exceeds 1e-6, stay
silent where X is well conditioned, and still raise LinAlgError where X is exactly
singular."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad import numeric
from matgrad.errors import IllConditionedWarning, MatgradWarning
from matgrad.ops.det_numerics import (
    WELL_CONDITIONED,
    adj_frechet_kernel,
    brute_force_minors,
    det_minors_kernel,
)


def with_singular_values(n: int, values: list[float], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return np.asarray((u * np.asarray(values)) @ v.T)


EXACT = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])  # LU meets a 0 pivot
NUMERICAL = with_singular_values(3, [2.0, 1.0, 1e-16], seed=1)
CORANK_2 = with_singular_values(4, [3.0, 1.0, 0.0, 0.0], seed=2)
POINTS = {"exact": EXACT, "numerical": NUMERICAL, "corank-2": CORANK_2,
          "well-conditioned": with_singular_values(3, [2.0, 1.5, 1.0], seed=3)}


def rel_err(a: Any, b: Any) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(b))))


# ------------------------------------------------------------------- det, every order


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("point", list(POINTS))
def test_hessian_of_det_is_right_at_singular_points(point: str, mode: str) -> None:
    x0 = POINTS[point]
    n = x0.shape[0]
    X = mg.Matrix("X", (n, n))
    H = mg.derivative(mg.det(X), X, order=2, mode=mode).evaluate(X=x0)
    exact = brute_force_minors(x0, 2)  # the Leibniz formula, no decomposition
    assert rel_err(H, exact) < 1e-13
    numeric_h = numeric.hessian(np.linalg.det, x0, method="richardson")
    assert rel_err(H, numeric_h) < 1e-7


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_third_and_fourth_derivatives_of_det(mode: str) -> None:
    """det is cubic for n = 3: its third derivative is the constant ε_ace ε_bdf (so
    the same at every X), its fourth is zero; for n = 4 the fourth is constant."""
    X = mg.Matrix("X", (3, 3))
    T = mg.derivative(mg.det(X), X, order=3, mode=mode)
    constant = brute_force_minors(np.eye(3), 3)
    assert np.abs(constant).max() == 1.0
    for x0 in (EXACT, NUMERICAL, POINTS["well-conditioned"]):
        assert rel_err(T.evaluate(X=x0), constant) < 1e-13
    F = mg.derivative(mg.det(X), X, order=4, mode=mode)
    assert np.all(F.evaluate(X=EXACT) == 0)
    Y = mg.Matrix("Y", (4, 4))
    T4 = mg.derivative(mg.det(Y), Y, order=3, mode=mode).evaluate(Y=CORANK_2)
    assert rel_err(T4, brute_force_minors(CORANK_2, 3)) < 1e-13
    numeric_t = numeric.jacobian(
        lambda y: mg.derivative(mg.det(Y), Y, order=2).evaluate(Y=y), CORANK_2,
        method="richardson")
    assert rel_err(T4, numeric_t) < 1e-7


@pytest.mark.parametrize("point", list(POINTS))
def test_hessian_vector_product_of_det(point: str) -> None:
    x0 = POINTS[point]
    v = np.random.default_rng(4).standard_normal(x0.shape)
    hv = np.einsum("abcd,cd->ab", brute_force_minors(x0, 2), v)
    out = mg.hvp(np.linalg.det, (x0,), (v,))
    assert rel_err(out, hv) < 1e-13


def test_adjugate_derivative_kernels_against_the_leibniz_formula() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 4):
        cases = [rng.standard_normal((n, n)),
                 rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))]
        if n >= 2:
            cases.append(with_singular_values(n, [1.0] * (n - 1) + [0.0], seed=n))
            cases.append(with_singular_values(n, [1.0] * (n - 1) + [1e-300], seed=n))
        for x0 in cases:
            e = rng.standard_normal((2, n, n))
            want = np.einsum("abcd,...cd->...ba", brute_force_minors(x0, 2), e)
            assert rel_err(adj_frechet_kernel(x0, e), want) < 1e-13
            for k in range(1, n + 2):
                assert rel_err(det_minors_kernel(x0, k), brute_force_minors(x0, k)) < 1e-13


@pytest.mark.parametrize("ratio", [1.0, 0.5 * WELL_CONDITIONED, 2 * WELL_CONDITIONED, 1e16])
def test_both_forms_of_the_hessian_of_det(ratio: float) -> None:
    """The outer-product form (well conditioned) and the product form (else) agree
    with the Leibniz formula on either side of the switch."""
    x0 = with_singular_values(4, [2.0, 1.5, 1.0, 2.0 / ratio], seed=6)
    assert rel_err(det_minors_kernel(x0, 2), brute_force_minors(x0, 2)) < 1e-11


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_det_hessian_at_extreme_scales(scale: float) -> None:
    """At scale c the Hessian of det scales as c^(n−2): finite and right."""
    X = mg.Matrix("X", (3, 3))
    H = mg.derivative(mg.det(X), X, order=2)
    for x0 in (EXACT, NUMERICAL):
        got = H.evaluate(X=x0 * scale)
        want = brute_force_minors(x0, 2) * scale
        assert np.all(np.isfinite(got))
        assert float(np.max(np.abs(got - want))) <= 1e-13 * float(np.max(np.abs(want)))


# --------------------------------------------------------------- IllConditionedWarning

NEAR = with_singular_values(4, [3.0, 2.0, 1.0, 1e-13], seed=7)  # κ ≈ 3e13: error ~ 1e-2
WELL = with_singular_values(4, [3.0, 2.0, 1.0, 0.5], seed=8)
_X = mg.Matrix("X", (4, 4))
_b = mg.Vector("b", 4)
CASES = {
    "inv": lambda x: mg.inv(_X).evaluate(X=x),
    "solve": lambda x: mg.solve(_X, _b).evaluate(X=x, b=np.ones(4)),
    "np.linalg.solve traced": lambda x: mg.grad(
        lambda m: np.sum(np.linalg.solve(m, np.ones(4))))(x),
    "logdet gradient": lambda x: mg.grad(lambda m: np.linalg.slogdet(m)[1])(x),
    "logdet hessian": lambda x: mg.derivative(mg.logdet(_X), _X, order=2).evaluate(X=x),
}


@pytest.mark.parametrize("case", list(CASES))
def test_near_singular_input_warns(case: str) -> None:
    with pytest.warns(IllConditionedWarning, match="ill-conditioned") as record:
        CASES[case](NEAR)
    warning = record[0]
    assert issubclass(warning.category, RuntimeWarning)
    assert issubclass(warning.category, MatgradWarning)
    assert "condition number" in str(warning.message) and "1e-06" in str(warning.message)
    assert warning.filename == __file__  # points at the caller, not inside matgrad


@pytest.mark.parametrize("case", list(CASES))
def test_well_conditioned_input_does_not_warn(case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CASES[case](WELL)


@pytest.mark.parametrize("case", ["inv", "solve", "np.linalg.solve traced", "logdet gradient"])
def test_exactly_singular_input_still_raises(case: str) -> None:
    exact = np.zeros((4, 4))
    exact[:3, :3] = np.eye(3)
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        CASES[case](exact)


def test_warning_is_issued_once_per_call_site() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("default")
        for _ in range(3):
            mg.inv(_X).evaluate(X=NEAR)  # one line: one call site
    assert [w.category for w in record] == [IllConditionedWarning]


def test_det_derivatives_do_not_warn_at_singular_points() -> None:
    """det's derivatives no longer go through X⁻¹: nothing to warn about."""
    X = mg.Matrix("X", (3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.derivative(mg.det(X), X, order=2).evaluate(X=NUMERICAL)
        mg.derivative(mg.det(X), X).evaluate(X=EXACT)


@pytest.mark.parametrize("point", list(POINTS))
def test_adjoint_identity_of_the_adjugate_derivative(point: str) -> None:
    """⟨Ḡ, d adj(X)[E]⟩ = ⟨d adj(X)ᵀ[Ḡ], E⟩ (forward vs reverse), and the Jacobian of
    adj (the Hessian of det, through det_minors) against both, at singular X too."""
    x0 = POINTS[point]
    rng = np.random.default_rng(9)
    e, g = rng.standard_normal(x0.shape), rng.standard_normal(x0.shape)
    _, tangent = mg.jvp(lambda x: mg.adj(x), (x0,), (e,))
    _, pullback = mg.vjp(lambda x: mg.adj(x), x0)
    (cotangent,) = pullback(g)
    assert np.isclose(np.sum(g * tangent), np.sum(cotangent * e), rtol=1e-10, atol=1e-12)
    jac = mg.jacobian(lambda x: mg.adj(x))(x0)  # J[b, a, c, d] = ∂adj(X)_ba / ∂X_cd
    assert rel_err(np.einsum("bacd,cd->ba", jac, e), tangent) < 1e-12
    assert rel_err(np.einsum("bacd,ba->cd", jac, g), cotangent) < 1e-12
