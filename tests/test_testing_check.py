"""The derivative checker is itself checked (STYLE.md §8).

It passes on derivatives worked out by hand, over hypothesis-drawn inputs, and it
fails, showing the worst entries, on deliberately wrong ones, in full and in
directional mode.  Directional mode costs a fixed number of calls of ``f`` per
direction, and ``import matgrad.testing`` works without hypothesis.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matgrad.errors import InvalidArgumentError, NonFiniteError, NotCallableError, ShapeError
from matgrad.testing import (
    DerivativeReport,
    WorstEntry,
    assert_derivative_close,
    check_derivative,
)
from matgrad.testing import strategies as mst

Array = np.ndarray[Any, Any]

# --------------------------------------------------------------------------
# hand-derived derivatives


def linear_jacobian(A: Array) -> Callable[[Array], Array]:
    """d(Ax)/dx = A."""
    return lambda x: A


def inverse(X: Array) -> Array:
    return np.linalg.inv(X)


def inverse_jacobian(X: Array) -> Array:
    """d(X⁻¹) = −X⁻¹ dX X⁻¹, so ∂(X⁻¹)_ij / ∂X_kl = −(X⁻¹)_ik (X⁻¹)_lj."""
    Y = np.linalg.inv(X)
    return -np.einsum("ik,lj->ijkl", Y, Y)


def logabsdet(X: Array) -> float:
    return float(np.linalg.slogdet(X)[1])


def logabsdet_gradient(X: Array) -> Array:
    """∂ log|det X| / ∂X = X⁻ᵀ."""
    return np.linalg.inv(X).T


def sin_jacobian(x: Array) -> Array:
    """∂ sin(x)[o] / ∂x[i] = cos(x[i]) δ_oi, for x of any shape."""
    return np.diag(np.cos(x).ravel()).reshape(x.shape + x.shape)


both_modes = pytest.mark.parametrize("directional", [False, True], ids=["full", "directional"])


@st.composite
def linear_maps(draw: st.DrawFn) -> tuple[Array, Array]:
    A = draw(mst.matrices())
    return A, draw(mst.vectors(A.shape[1]))


# --------------------------------------------------------------------------
# correct derivatives pass


@both_modes
@given(linear_maps())
def test_linear_map_passes(directional: bool, case: tuple[Array, Array]) -> None:
    A, x = case
    assert_derivative_close(lambda x: A @ x, linear_jacobian(A), x, directional=directional)


@both_modes
@given(mst.invertible_matrices())
def test_inverse_passes(directional: bool, X: Array) -> None:
    assert_derivative_close(inverse, inverse_jacobian, X, directional=directional)


@both_modes
@given(mst.invertible_matrices())
def test_logabsdet_passes(directional: bool, X: Array) -> None:
    assert_derivative_close(logabsdet, logabsdet_gradient, X, directional=directional)


@both_modes
@given(mst.arrays())
def test_elementwise_sin_passes(directional: bool, x: Array) -> None:
    assert_derivative_close(np.sin, sin_jacobian, x, directional=directional)


@given(mst.spd_matrices())
def test_jvp_of_the_inverse_passes(X: Array) -> None:
    def jvp(X: Array, V: Array) -> Array:  # d(X⁻¹)[V] = −X⁻¹ V X⁻¹
        Y = np.linalg.inv(X)
        return -Y @ V @ Y

    assert_derivative_close(inverse, None, X, jvp=jvp, directional=True, n_directions=2)


@pytest.mark.parametrize(
    ("method", "rtol"), [("central", 1e-6), ("complex", 1e-6), ("forward", 1e-4)]
)
@both_modes
def test_other_methods_pass(method: str, rtol: float, directional: bool) -> None:
    X = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, -1.0], [0.0, 1.0, 4.0]])
    report = assert_derivative_close(
        inverse, inverse_jacobian, X, method=method, rtol=rtol, directional=directional
    )
    assert report.method == method and report.numeric_error is None


@both_modes
def test_batched_functions(directional: bool) -> None:
    A = np.arange(6.0).reshape(2, 3)

    def f(xs: Array) -> Array:  # one row of xs per point
        return np.sin(xs) @ A.T

    calls = []
    report = assert_derivative_close(
        lambda xs: calls.append(xs.shape) or f(xs),
        lambda x: A * np.cos(x),
        np.array([0.1, 0.2, 0.3]),
        batched=True,
        directional=directional,
    )
    assert report.evaluations == len(calls) == (3 if directional else 1)  # one call per stencil


def test_complex_valued_function() -> None:
    x = np.array([0.3, -1.2])
    f = lambda x: np.exp(1j * x)
    right = lambda x: np.diag(1j * np.exp(1j * x))
    wrong = lambda x: np.diag(-1j * np.exp(1j * x))
    report = assert_derivative_close(f, right, x)
    assert isinstance(report.worst[0].analytic, complex)
    assert not check_derivative(f, wrong, x).passed
    assert not check_derivative(f, wrong, x, directional=True).passed


def test_scalar_input() -> None:
    assert_derivative_close(lambda t: t**3, lambda t: 3 * t**2, 2.0)
    assert_derivative_close(lambda t: t**3, lambda t: 3 * t**2, 2.0, directional=True)


# --------------------------------------------------------------------------
# wrong derivatives fail, showing the worst entries

NON_SYMMETRIC = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, -1.0], [0.3, 1.0, 4.0]])
POINT = np.array([0.3, -0.7, 1.1, 0.2])


def perturbed_inverse_jacobian(X: Array) -> Array:
    J = inverse_jacobian(X)
    J[1, 2, 0, 1] += 1e-3
    return J


WRONG: dict[str, tuple[Callable[[Array], Any], Callable[[Array], Array], Array]] = {
    "transposed gradient": (logabsdet, lambda X: np.linalg.inv(X), NON_SYMMETRIC),
    "transposed Jacobian": (lambda x: NON_SYMMETRIC @ x, lambda x: NON_SYMMETRIC.T, POINT[:3]),
    "factor 2": (np.sin, lambda x: 2 * sin_jacobian(x), POINT),
    "sign flip": (inverse, lambda X: -inverse_jacobian(X), NON_SYMMETRIC),
    "one perturbed entry": (inverse, perturbed_inverse_jacobian, NON_SYMMETRIC),
}


@both_modes
@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_derivatives_fail(name: str, directional: bool) -> None:
    f, df, x = WRONG[name]
    with pytest.raises(AssertionError) as failure:
        assert_derivative_close(f, df, x, directional=directional)
    report = check_derivative(f, df, x, directional=directional)
    assert not report.passed
    assert report.error > report.rtol and report.max_abs_error > report.atol
    message = str(failure.value)
    assert message == str(report)
    assert message.startswith("FAILED")
    assert f"{report.out_shape} + {report.in_shape}" in message
    assert f"gradient error {report.error:.3g}" in message
    worst = report.worst[0]
    assert str(worst.index) in message and f"{worst.abs_error:.3g}" in message
    assert worst.abs_error == report.max_abs_error
    assert abs(worst.analytic - worst.numeric) == pytest.approx(worst.abs_error)


def test_the_worst_entry_is_the_perturbed_one() -> None:
    report = check_derivative(inverse, perturbed_inverse_jacobian, NON_SYMMETRIC)
    assert report.worst[0].index == (1, 2, 0, 1)
    assert report.worst[0].abs_error == pytest.approx(1e-3, rel=1e-6)
    assert report.worst[1].abs_error < 1e-9
    assert report.refinements == 0  # a wrong df fails at once


def test_wrong_jvp_fails() -> None:
    def wrong_jvp(X: Array, V: Array) -> Array:
        Y = np.linalg.inv(X)
        return -Y @ V.T @ Y

    with pytest.raises(AssertionError, match=r"index \(direction, \*output index\)"):
        assert_derivative_close(inverse, None, NON_SYMMETRIC, jvp=wrong_jvp, directional=True)


def test_nan_in_the_analytic_derivative_fails() -> None:
    report = check_derivative(np.sin, lambda x: np.full((2, 2), np.nan), np.ones(2))
    assert not report.passed and report.max_abs_error == np.inf


# --------------------------------------------------------------------------
# the criterion and the report


def test_atol_accepts_tiny_jacobians_and_atol_zero_does_not() -> None:
    f = lambda x: 1e-12 * x**2
    wrong = lambda x: np.diag(4e-12 * x)  # factor 2 off, but all below 1e-10
    x = np.array([1.0, 2.0])
    assert check_derivative(f, wrong, x).passed
    assert not check_derivative(f, wrong, x, atol=0.0).passed


def test_report_contents() -> None:
    report = check_derivative(inverse, inverse_jacobian, NON_SYMMETRIC, n_worst=3)
    assert isinstance(report, DerivativeReport) and report.passed
    assert report.shape == (3, 3, 3, 3) and report.out_shape == report.in_shape == (3, 3)
    assert report.mode == "full" and report.n_directions == 0
    assert report.evaluations == 8 * 9  # Richardson: 2 points at 4 step sizes per entry
    assert len(report.worst) == 3 and all(isinstance(e, WorstEntry) for e in report.worst)
    errors = [e.abs_error for e in report.worst]
    assert errors == sorted(errors, reverse=True) and errors[0] == report.max_abs_error
    assert report.numeric_error is not None and report.numeric_error < 1e-8
    assert report.summary() in str(report) and report.summary().startswith("PASSED")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.passed = False  # type: ignore[misc]


def test_directional_report_and_reproducible_directions() -> None:
    one = check_derivative(np.sin, sin_jacobian, POINT, directional=True, n_directions=4, seed=7)
    two = check_derivative(np.sin, sin_jacobian, POINT, directional=True, n_directions=4, seed=7)
    assert one == two
    assert one.mode == "directional" and one.n_directions == 4 and one.shape == (4, 4)
    assert all(len(e.index) == 2 and 0 <= e.index[0] < 4 for e in one.worst)


def test_refinement_rescues_steps_too_large_for_the_function() -> None:
    # 1/x near its pole: numeric's default Richardson steps (1/32) are too large
    x = np.array([0.02])
    f = lambda x: 1 / x
    report = assert_derivative_close(f, lambda x: np.diag(-1 / x**2), x)
    assert report.refinements >= 1 and "steps refined" in str(report)


# --------------------------------------------------------------------------
# directional mode costs O(n_directions) calls of f


def test_directional_cost_is_independent_of_the_input_size() -> None:
    x = np.linspace(-3.0, 3.0, 100_000).reshape(400, 250)
    calls = {"f": 0, "jvp": 0}

    def f(x: Array) -> Array:
        calls["f"] += 1
        return np.sin(x) * x

    def jvp(x: Array, v: Array) -> Array:  # d(x sin x) = (sin x + x cos x) dx
        calls["jvp"] += 1
        return (np.sin(x) + x * np.cos(x)) * v

    report = assert_derivative_close(f, None, x, jvp=jvp, directional=True, n_directions=3)
    assert report.shape == (400, 250, 400, 250)
    assert calls == {"f": 8 * 3 + 8 * 3 * report.refinements, "jvp": 3}
    assert report.evaluations == calls["f"] <= 3 * 8 * 3

    calls["f"] = 0
    report = assert_derivative_close(
        f, None, x, jvp=jvp, directional=True, n_directions=2, method="central"
    )
    assert calls["f"] == report.evaluations == 2 * 2


# --------------------------------------------------------------------------
# bad input


def test_wrong_jacobian_shape_names_both_shapes() -> None:
    A = np.ones((3, 2))
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(3,\) \+ \(2,\) = \(3, 2\)"):
        check_derivative(lambda x: A @ x, A.T, np.ones(2))
    with pytest.raises(ShapeError, match=r"df\(x\) returned shape \(3,\)"):
        check_derivative(lambda x: A @ x, lambda x: A @ x, np.ones(2), directional=True)
    with pytest.raises(ShapeError, match=r"jvp\(x, v\) returned shape \(2,\)"):
        check_derivative(lambda x: A @ x, None, np.ones(2), jvp=lambda x, v: v, directional=True)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"f": "sin"}, NotCallableError),
        ({"jvp": 3, "df": None, "directional": True}, NotCallableError),
        ({"method": "backward"}, InvalidArgumentError),
        ({"rtol": -1.0}, InvalidArgumentError),
        ({"atol": float("nan")}, InvalidArgumentError),
        ({"n_directions": 0, "directional": True}, InvalidArgumentError),
        ({"n_worst": -1}, InvalidArgumentError),
        ({"df": None}, InvalidArgumentError),
        ({"jvp": lambda x, v: v}, InvalidArgumentError),  # jvp needs directional=True
        ({"jvp": lambda x, v: v, "directional": True}, InvalidArgumentError),  # and df=None
        ({"df": "cos"}, InvalidArgumentError),
        ({"x": np.array([1j, 2.0])}, InvalidArgumentError),
        ({"step": np.ones(2), "directional": True}, InvalidArgumentError),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    arguments: dict[str, Any] = {"f": np.sin, "df": sin_jacobian, "x": np.ones(2)}
    arguments.update(kwargs)
    with pytest.raises(error):
        check_derivative(arguments.pop("f"), arguments.pop("df"), arguments.pop("x"), **arguments)


def test_non_finite_function_values_raise() -> None:
    with pytest.raises(NonFiniteError), np.errstate(invalid="ignore"):
        check_derivative(np.log, lambda x: 1 / x, np.array([1e-3, 1.0]), step=0.01)


# --------------------------------------------------------------------------
# hypothesis is optional


def test_import_without_hypothesis() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["hypothesis"] = None  # makes `import hypothesis` fail
        import numpy as np
        import matgrad
        import matgrad.testing
        from matgrad.testing import *
        report = matgrad.testing.check_derivative(np.sin, lambda x: np.diag(np.cos(x)), np.ones(3))
        assert report.passed
        try:
            matgrad.testing.strategies
        except ImportError as exc:
            assert "matgrad[test]" in str(exc), exc
        else:
            raise AssertionError("strategies imported without hypothesis")
        assert "matgrad.testing.strategies" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_strategies_are_imported_lazily() -> None:
    script = (
        "import sys, matgrad.testing; assert 'hypothesis' not in sys.modules; "
        "matgrad.testing.strategies.spd_matrices; assert 'hypothesis' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
