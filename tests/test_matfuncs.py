"""Matrix functions (expm, logm, sqrtm, sinm, cosm, fractional_matrix_power), their
Fréchet derivatives, and triangular and Cholesky solves: values against SciPy,
derivatives against numerical differentiation (symmetric perturbations for
symmetric inputs) and closed forms, forward against reverse accumulation, the
adjoint identity, the hard points (X = I, diag(1, 1, 2), a rotation, scales 1e±20),
the documented errors, and agreement with JAX when it is installed."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, MatgradError, NonFiniteError

RNG = np.random.default_rng(20260612)
N = 3
FUNCTIONS = ("expm", "logm", "sqrtm", "sinm", "cosm", "fractional_matrix_power")
T = 0.3  # the power of fractional_matrix_power in these tests


def scipy_f(name: str, x: Any) -> Any:
    if name == "fractional_matrix_power":
        return sl.fractional_matrix_power(x, T)
    return getattr(sl, name)(x)


SCALAR = {
    "expm": (np.exp, np.exp),
    "logm": (np.log, lambda a: 1 / a),
    "sqrtm": (np.sqrt, lambda a: 0.5 / np.sqrt(a)),
    "sinm": (np.sin, np.cos),
    "cosm": (np.cos, lambda a: -np.sin(a)),
    "fractional_matrix_power": (lambda a: a**T, lambda a: T * a ** (T - 1)),
}


def reference(name: str, x: Any) -> Any:
    """``f(X)`` for finite differences: SciPy's, or for ``logm`` and powers (slow in
    SciPy) ``V f(Λ) V⁻¹`` from NumPy's eigendecomposition (X is diagonalizable
    with well-conditioned eigenvectors at the points used)."""
    if name not in ("logm", "fractional_matrix_power"):
        return np.real(scipy_f(name, x))
    lam, v = np.linalg.eig(x.astype(complex))
    return np.real((v * SCALAR[name][0](lam)) @ np.linalg.inv(v))


def mg_f(name: str, x: Any) -> mg.Expr:
    return mg.fractional_matrix_power(x, T) if name == "fractional_matrix_power" else getattr(
        mg, name
    )(x)


def mg_frechet(name: str, x: Any, *es: Any) -> mg.Expr:
    op = getattr(mg, f"frechet_{name}")
    return op(x, *es, t=T) if name == "fractional_matrix_power" else op(x, *es)


def positive_spectrum(n: int = N, symmetric: bool = False) -> np.ndarray:
    """A matrix with eigenvalues of positive real part, well inside the principal domain."""
    a = RNG.normal(size=(n, n))
    x = a @ a.T / n + np.eye(n)
    return x if symmetric else x + 0.2 * RNG.normal(size=(n, n))


def point(name: str) -> np.ndarray:
    if name in ("expm", "sinm", "cosm"):
        return RNG.normal(size=(N, N))
    return positive_spectrum()


def close(a: Any, b: Any, tol: float = 1e-9) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    err = float(np.max(np.abs(a - b), initial=0.0)) / scale
    assert err < tol, f"max error {err:.3e} (scale {scale:.3g})"


def directional(f: Any, x0: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``d/ds f(x0 + s e)`` at 0, numerically (Richardson)."""
    return np.asarray(numeric.jacobian(lambda s: f(x0 + s * e), 0.0, method="richardson"))


def ordered_block(name: str, x: np.ndarray, es: list[np.ndarray]) -> np.ndarray:
    """The top-right block of SciPy's f of the block-bidiagonal matrix, summed over
    the orderings: the k-th Fréchet derivative, independently of matgrad."""
    n, k = x.shape[0], len(es)
    total = np.zeros((n, n))
    for perm in itertools.permutations(range(k)):
        m = np.zeros(((k + 1) * n, (k + 1) * n))
        for j in range(k + 1):
            m[j * n : (j + 1) * n, j * n : (j + 1) * n] = x
        for j, q in enumerate(perm):
            m[j * n : (j + 1) * n, (j + 1) * n : (j + 2) * n] = es[q]
        total += np.real(scipy_f(name, m)[:n, k * n :])
    return total


X = mg.Matrix("X", (N, N))
E = mg.Matrix("E", (N, N))
F = mg.Matrix("F", (N, N))
S = mg.Matrix("S", (N, N), symmetric=True)


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_values_match_scipy_compiled_and_as_generated_numpy(name: str) -> None:
    x0 = point(name)
    expr = mg_f(name, X)
    close(expr.evaluate(X=x0), scipy_f(name, x0), 1e-12)
    close(mg.compile(expr, [X])(x0), scipy_f(name, x0), 1e-12)
    namespace: dict[str, Any] = {}
    exec(expr.to_numpy("f"), namespace)
    close(namespace["f"](x0), scipy_f(name, x0), 1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_frechet_values_match_an_independent_reference(name: str) -> None:
    x0, e0, f0 = point(name), RNG.normal(size=(N, N)), RNG.normal(size=(N, N))
    first = mg_frechet(name, X, E)
    expected = directional(lambda v: scipy_f(name, v), x0, e0)
    close(first.evaluate(X=x0, E=e0), expected, 1e-7)
    if name == "expm":
        close(first.evaluate(X=x0, E=e0), sl.expm_frechet(x0, e0, compute_expm=False), 1e-12)
    second = mg_frechet(name, X, E, F)
    close(second.evaluate(X=x0, E=e0, F=f0), ordered_block(name, x0, [e0, f0]), 1e-10)
    # the generated NumPy source of the Fréchet operation
    namespace: dict[str, Any] = {}
    exec(second.to_numpy("g"), namespace)
    close(namespace["g"](E=e0, F=f0, X=x0), ordered_block(name, x0, [e0, f0]), 1e-10)


def test_frechet_directions_may_carry_batch_axes() -> None:
    x0 = RNG.normal(size=(N, N))
    e0 = RNG.normal(size=(N, N, 2))
    f0 = RNG.normal(size=(N, N, 4))
    Eb, Fb = mg.Tensor("Eb", (N, N, 2)), mg.Tensor("Fb", (N, N, 4))
    got = mg.frechet_expm(X, Eb, Fb).evaluate(X=x0, Eb=e0, Fb=f0)
    assert got.shape == (N, N, 2, 4)
    for i, j in itertools.product(range(2), range(4)):
        close(got[:, :, i, j], ordered_block("expm", x0, [e0[:, :, i], f0[:, :, j]]), 1e-11)


# ---------------------------------------------------------------------------------------
# Derivatives against numerical differentiation, in both accumulation modes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_first_and_second_derivative_of_a_scalar_function(name: str, mode: str) -> None:
    a0 = RNG.normal(size=(N, N))
    A = mg.constant(a0)
    x0 = point(name)
    f = mg.trace(A @ mg_f(name, X))

    def value(v: np.ndarray) -> float:
        return float(np.trace(a0 @ reference(name, v)))

    g = mg.derivative(f, X, mode=mode)  # type: ignore[arg-type]
    close(g.evaluate(X=x0), numeric.gradient(value, x0, method="richardson"), 1e-7)
    h = mg.derivative(f, X, order=2, mode=mode)  # type: ignore[arg-type]
    close(h.evaluate(X=x0), numeric.hessian(value, x0, method="richardson"), 1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_and_reverse_agree_on_a_matrix_valued_function(name: str) -> None:
    x0 = point(name)
    f = mg_f(name, X) @ X
    for order in (1, 2):
        fwd = mg.derivative(f, X, order=order, mode="forward").evaluate(X=x0)
        rev = mg.derivative(f, X, order=order, mode="reverse").evaluate(X=x0)
        close(fwd, rev, 1e-10)


@pytest.mark.parametrize("name", ["logm", "fractional_matrix_power"])
def test_second_derivative_of_the_frechet_operation(name: str) -> None:
    """The third Fréchet derivative (the spec table checks the others' at second order)."""
    x0, e0 = positive_spectrum(), RNG.normal(size=(N, N))
    L = mg.trace(mg.constant(e0.T) @ mg_frechet(name, X, E))
    for mode in ("forward", "reverse"):
        d1 = mg.derivative(L, X, mode=mode)  # type: ignore[arg-type]
        d2 = mg.derivative(L, X, order=2, mode=mode)  # type: ignore[arg-type]
        expected = numeric.jacobian(lambda v: d1.evaluate(X=v, E=e0), x0, method="richardson")
        close(d2.evaluate(X=x0, E=e0), expected, 1e-6)


def test_symmetric_input_gets_the_symmetric_gradient() -> None:
    """``∇ tr √S = ½ S^{-1/2}`` for SPD S: symmetric; checked with symmetric perturbations."""
    s0 = positive_spectrum(symmetric=True)
    g = mg.derivative(mg.trace(mg.sqrtm(S)), S).evaluate(S=s0)
    close(g, 0.5 * np.linalg.inv(sl.sqrtm(s0)), 1e-12)
    close(g, g.T, 1e-14)
    for _ in range(3):
        e = RNG.normal(size=(N, N))
        e = e + e.T
        slope = directional(lambda v: np.trace(sl.sqrtm(v)), s0, e)
        close(np.sum(g * e), slope, 1e-8)
    h = mg.derivative(mg.trace(mg.logm(S) @ mg.logm(S)), S, order=2).evaluate(S=s0)
    e, f = RNG.normal(size=(N, N)), RNG.normal(size=(N, N))
    e, f = e + e.T, f + f.T

    def slope(v: np.ndarray) -> float:
        dlog = np.real(ordered_block("logm", v, [f]))
        return float(2 * np.trace(np.real(sl.logm(v)) @ dlog))

    close(np.einsum("ijkl,ij,kl->", h, e, f), directional(slope, s0, e), 1e-6)


# ---------------------------------------------------------------------------------------
# The adjoint, identities, closed forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_adjoint_identity(name: str) -> None:
    """⟨G, L(X, E)⟩ = ⟨L(X, ·)ᵀ G, E⟩ with the transpose ``L(Xᵀ, G)``, and reverse mode
    through the operation gives that transpose (first and second Fréchet derivatives)."""
    x0, e0, f0, g0 = point(name), *RNG.normal(size=(3, N, N))
    lhs = np.sum(g0 * mg_frechet(name, X, E).evaluate(X=x0, E=e0))
    rhs = np.sum(mg_frechet(name, X, E).evaluate(X=x0.T, E=g0) * e0)
    close(lhs, rhs, 1e-11)
    (pulled,) = mg.vjp_expr(mg_frechet(name, X, E, F), mg.constant(g0), [E])
    lhs2 = np.sum(g0 * mg_frechet(name, X, E, F).evaluate(X=x0, E=e0, F=f0))
    close(np.sum(pulled.evaluate(X=x0, F=f0) * e0), lhs2, 1e-10)
    close(pulled.evaluate(X=x0, F=f0), mg_frechet(name, X, E, F).evaluate(X=x0.T, E=g0, F=f0.T))


@pytest.mark.parametrize(
    ("name", "derivative"),
    [
        ("expm", lambda x: sl.expm(x).T),
        ("logm", lambda x: np.linalg.inv(x).T),
        ("sqrtm", lambda x: 0.5 * np.linalg.inv(sl.sqrtm(x)).T),
        ("sinm", lambda x: sl.cosm(x).T),
        ("cosm", lambda x: -sl.sinm(x).T),
        ("fractional_matrix_power", lambda x: T * sl.fractional_matrix_power(x, T - 1).T),
    ],
)
def test_gradient_of_the_trace_is_the_transposed_derivative(name: str, derivative: Any) -> None:
    """``∂ tr f(X) / ∂X = f′(X)ᵀ`` (Matrix Cookbook §2.5), symbolically simplified."""
    x0 = point(name)
    g = mg.derivative(mg.trace(mg_f(name, X)), X)
    assert not any(n.kind.startswith("frechet") for n in g.walk()), str(g)
    close(g.evaluate(X=x0), np.real(derivative(x0)), 1e-11)


def test_logm_inverts_expm_and_so_do_their_frechet_derivatives() -> None:
    y0, e0 = 0.4 * RNG.normal(size=(N, N)), RNG.normal(size=(N, N))
    close(mg.logm(mg.expm(X)).evaluate(X=y0), y0, 1e-12)
    jac = mg.derivative(mg.logm(mg.expm(X)), X).evaluate(X=y0)
    close(jac, np.einsum("ik,jl->ijkl", np.eye(N), np.eye(N)), 1e-10)
    # L_log(e^Y, ·) is the inverse of L_exp(Y, ·)
    back = mg.frechet_logm(mg.expm(X), mg.frechet_expm(X, E)).evaluate(X=y0, E=e0)
    close(back, e0, 1e-11)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_direction_that_commutes_with_x(name: str) -> None:
    """``L(X, X) = X f′(X)`` (X commutes with itself), and its derivative in X, where X
    is both the point and the direction."""
    x0 = point(name)
    _, fp = SCALAR[name]
    lam, v = np.linalg.eig(x0.astype(complex))
    expected = np.real((v * (lam * fp(lam))) @ np.linalg.inv(v))
    node = mg_frechet(name, X, X)
    close(node.evaluate(X=x0), expected, 1e-10)
    jac = mg.derivative(mg.trace(node), X).evaluate(X=x0)
    close(jac, numeric.gradient(lambda u: float(np.trace(directional(
        lambda w: reference(name, w), u, u))), x0, method="richardson"), 1e-6)


FPRIME = {  # f′(1), f″(1)
    "expm": (math.e, math.e),
    "logm": (1.0, -1.0),
    "sqrtm": (0.5, -0.25),
    "sinm": (math.cos(1), -math.sin(1)),
    "cosm": (-math.sin(1), -math.cos(1)),
    "fractional_matrix_power": (T, T * (T - 1)),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_at_the_identity(name: str) -> None:
    """``L(I, E) = f′(1) E``; ``L⁽²⁾(I; E, F) = f″(1)/2 (EF + FE)``: exact at the
    most repeated eigenvalue."""
    e0, f0 = RNG.normal(size=(N, N)), RNG.normal(size=(N, N))
    d1, d2 = FPRIME[name]
    eye = np.eye(N)
    close(mg_frechet(name, X, E).evaluate(X=eye, E=e0), d1 * e0, 1e-12)
    close(mg_frechet(name, X, E, F).evaluate(X=eye, E=e0, F=f0), d2 / 2 * (e0 @ f0 + f0 @ e0),
          1e-11)
    g = mg.derivative(mg.sum(mg_f(name, X) * mg_f(name, X)), X).evaluate(X=eye)
    fval = np.real(scipy_f(name, eye))
    close(g, 2 * d1 * fval, 1e-11)


def _divided(f: Any, fp: Any, a: float, b: float) -> float:
    return fp(a) if a == b else (f(a) - f(b)) / (a - b)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_repeated_eigenvalues_diag_1_1_2(name: str) -> None:
    """At ``D = diag(1, 1, 2)``: ``L(D, E)_ij = f[λᵢ, λⱼ] E_ij`` (Daleckii–Krein, with
    ``f′`` on ties), and the Hessian matches numerical differentiation."""
    d = np.array([1.0, 1.0, 2.0])
    x0, e0 = np.diag(d), RNG.normal(size=(N, N))
    f, fp = SCALAR[name]
    kernel = np.array([[_divided(f, fp, a, b) for b in d] for a in d])
    close(mg_frechet(name, X, E).evaluate(X=x0, E=e0), kernel * e0, 1e-11)
    fx = mg.sum(mg_f(name, X) * mg_f(name, X))
    h = mg.derivative(fx, X, order=2).evaluate(X=x0)
    # SciPy's f: near diag(1, 1, 2) perturbed matrices are nearly defective
    expected = numeric.hessian(lambda v: float(np.sum(np.real(scipy_f(name, v)) ** 2)), x0,
                               method="richardson")
    close(h, expected, 1e-6)


@pytest.mark.parametrize("name", ["expm", "logm", "sqrtm", "sinm", "cosm"])
def test_rotation_matrix_with_complex_spectrum(name: str) -> None:
    """A real rotation has eigenvalues e^{±iθ}: the principal logarithm and square
    root are real; values and derivatives are real and right."""
    th = 0.7
    r0 = np.array([[math.cos(th), -math.sin(th), 0.0], [math.sin(th), math.cos(th), 0.0],
                   [0.0, 0.0, 1.5]])
    value = mg_f(name, X).evaluate(X=r0)
    assert value.dtype == np.float64
    close(value, np.real(scipy_f(name, r0)), 1e-12)
    if name == "logm":
        close(value[:2, :2], [[0.0, -th], [th, 0.0]], 1e-12)
    e0 = RNG.normal(size=(N, N))
    close(mg_frechet(name, X, E).evaluate(X=r0, E=e0),
          directional(lambda v: np.real(scipy_f(name, v)), r0, e0), 1e-7)


@pytest.mark.parametrize("scale", [1e-20, 1e20])
@pytest.mark.parametrize("name", ["logm", "sqrtm", "fractional_matrix_power"])
def test_scales_1e_pm_20(name: str, scale: float) -> None:
    """Homogeneity: ``L_log(sX, E) = L_log(X, E)/s``, ``L_sqrt(sX, E) = L_sqrt(X, E)/√s``,
    ``L_pow(sX, E) = s^{t−1} L_pow(X, E)``; finite and right at extreme scales."""
    x0, e0 = positive_spectrum(), RNG.normal(size=(N, N))
    factor = {"logm": 1 / scale, "sqrtm": scale**-0.5, "fractional_matrix_power": scale ** (T - 1)}
    got = mg_frechet(name, X, E).evaluate(X=scale * x0, E=e0)
    assert np.all(np.isfinite(got))
    close(got / factor[name], mg_frechet(name, X, E).evaluate(X=x0, E=e0), 1e-10)


# ---------------------------------------------------------------------------------------
# Degenerate inputs: the documented errors, never a silent NaN
# ---------------------------------------------------------------------------------------


def test_no_real_principal_value_raises() -> None:
    x0 = np.diag([-1.0, 2.0, 3.0])
    for name in ("logm", "sqrtm", "fractional_matrix_power"):
        with pytest.raises(InvalidArgumentError, match="negative real axis"):
            mg_f(name, X).evaluate(X=x0)
    # a complex matrix has a complex principal value
    Z = mg.Matrix("Z", (N, N), dtype=np.complex128)
    close(mg.logm(Z).evaluate(Z=x0.astype(complex)), sl.logm(x0.astype(complex)), 1e-12)


def test_singular_matrices() -> None:
    singular = np.diag([0.0, 1.0, 2.0])
    with pytest.raises(InvalidArgumentError, match="singular"):
        mg.logm(X).evaluate(X=singular)
    # √ of a singular positive semi-definite matrix is its value (as √0 = 0) ...
    close(mg.sqrtm(X).evaluate(X=singular), np.diag([0.0, 1.0, math.sqrt(2)]), 1e-12)
    # ... but the derivatives there are unbounded
    for name in ("logm", "sqrtm", "fractional_matrix_power"):
        with pytest.raises(NonFiniteError, match="singular"):
            mg_frechet(name, X, E).evaluate(X=singular, E=np.ones((N, N)))
    # a nilpotent block has no square root at all
    with pytest.raises(InvalidArgumentError, match="no square root"):
        mg.sqrtm(X).evaluate(X=np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))


def test_scipy_spelling_fails_clearly() -> None:
    """SciPy converts its argument with np.asarray: the expression refuses."""
    with pytest.raises(MatgradError):
        sl.expm(X)
    with pytest.raises(MatgradError):
        sl.solve_triangular(X, mg.Vector("b", N))


# ---------------------------------------------------------------------------------------
# Printing and the formula language
# ---------------------------------------------------------------------------------------


def test_printing_and_parsing() -> None:
    assert str(mg.expm(X)) == "expm(X)"
    assert mg.expm(X).latex() == "e^{X}"
    assert mg.sqrtm(X).latex() == "X^{1/2}"
    assert mg.fractional_matrix_power(X, 0.5).latex() == "X^{0.5}"
    shapes = {"X": (N, N), "E": (N, N)}
    assert mg.parse("expm(X)", shapes) is mg.expm(X)
    assert mg.parse("sqrtm(X) + logm(X)", shapes) is mg.sqrtm(X) + mg.logm(X)
    assert mg.parse("frechet_expm(X, E)", shapes) is mg.frechet_expm(X, E)
    assert mg.parse("fractional_matrix_power(X, 0.5)", shapes) is mg.fractional_matrix_power(
        X, 0.5
    )
    assert mg.fractional_matrix_power(X, 1) is X
    assert mg.frechet_expm(X, E, F) is mg.frechet_expm(X, F, E)  # symmetric in directions


def test_function_api_traces_the_operations() -> None:
    x0 = RNG.normal(size=(N, N))
    close(mg.grad(lambda v: mg.trace(mg.expm(v)))(x0), sl.expm(x0).T, 1e-12)


# ---------------------------------------------------------------------------------------
# Triangular and Cholesky solves
# ---------------------------------------------------------------------------------------

A = mg.Matrix("A", (N, N))
B = mg.Matrix("B", (N, 2))


@pytest.mark.parametrize(
    ("trans", "lower", "unit"), list(itertools.product([0, 1, "T", 2], [False, True],
                                                       [False, True]))
)
def test_solve_triangular_values_and_gradient_on_the_triangle_read(
    trans: Any, lower: bool, unit: bool
) -> None:
    a0 = RNG.normal(size=(N, N)) + 3 * np.eye(N)
    b0 = RNG.normal(size=(N, 2))
    expr = mg.solve_triangular(A, B, trans=trans, lower=lower, unit_diagonal=unit)
    ref = sl.solve_triangular(a0, b0, trans=trans, lower=lower, unit_diagonal=unit)
    close(expr.evaluate(A=a0, B=b0), ref, 1e-13)
    c0 = RNG.normal(size=(N, 2))
    f = mg.sum(expr * mg.constant(c0))

    def value(a: np.ndarray) -> float:
        return float(np.sum(sl.solve_triangular(a, b0, trans=trans, lower=lower,
                                                unit_diagonal=unit) * c0))

    g = mg.derivative(f, A).evaluate(A=a0, B=b0)
    close(g, numeric.gradient(value, a0, method="richardson"), 1e-8)
    read = np.tril(np.ones((N, N)), -1 if unit else 0) if lower else np.triu(
        np.ones((N, N)), 1 if unit else 0)
    assert np.all(g[read == 0] == 0), "the gradient leaves the triangle that is read"
    for mode in ("forward", "reverse"):
        h = mg.derivative(f, A, order=2, mode=mode).evaluate(A=a0, B=b0)  # type: ignore[arg-type]
        close(h, numeric.hessian(value, a0, method="richardson"), 1e-6)


def test_solve_triangular_vector_and_batched_right_hand_sides() -> None:
    a0 = np.tril(RNG.normal(size=(N, N))) + 3 * np.eye(N)
    b0 = RNG.normal(size=N)
    v = mg.Vector("v", N)
    x = mg.solve_triangular(A, v, lower=True)
    close(x.evaluate(A=a0, v=b0), np.linalg.solve(a0, b0), 1e-13)
    # the Jacobian in b: forward mode pushes batched tangents through, reverse pulls them
    for mode in ("forward", "reverse"):
        jac = mg.derivative(x, v, mode=mode).evaluate(A=a0)  # type: ignore[arg-type]
        close(jac, np.linalg.inv(a0), 1e-13)


def test_cho_solve_and_a_cholesky_log_likelihood() -> None:
    c0 = np.tril(RNG.normal(size=(N, N)), -1) + np.diag(RNG.uniform(1.0, 2.0, N))
    b0 = RNG.normal(size=N)
    C, b = mg.Matrix("C", (N, N)), mg.Vector("b", N)
    for lower in (True, False):
        factor = c0 if lower else c0.T
        x = mg.cho_solve((C, lower), b)
        close(x.evaluate(C=factor, b=b0), sl.cho_solve((factor, lower), b0), 1e-12)
    # ½ bᵀ (L Lᵀ)⁻¹ b + Σ log L_ii: gradient and Hessian in L against numerics
    nll = 0.5 * b @ mg.cho_solve((C, True), b) + mg.sum(mg.log(mg.diagonal(C)))

    def value(c: np.ndarray) -> float:
        lo = np.tril(c)
        return float(0.5 * b0 @ sl.cho_solve((lo, True), b0) + np.sum(np.log(np.diag(lo))))

    close(mg.derivative(nll, C).evaluate(C=c0, b=b0),
          numeric.gradient(value, c0, method="richardson"), 1e-8)
    close(mg.derivative(nll, C, order=2).evaluate(C=c0, b=b0),
          numeric.hessian(value, c0, method="richardson"), 1e-6)
    with pytest.raises(InvalidArgumentError):
        mg.cho_solve(C, b)  # type: ignore[arg-type]


def test_cho_factor_builds_on_cholesky() -> None:
    s0 = positive_spectrum(symmetric=True)
    b0 = RNG.normal(size=N)
    b = mg.Vector("b", N)
    for lower in (True, False):
        c, low = mg.cho_factor(S, lower=lower)
        assert low is lower
        close(c.evaluate(S=s0), np.linalg.cholesky(s0) if lower else np.linalg.cholesky(s0).T)
        x = mg.cho_solve((c, low), b)
        close(x.evaluate(S=s0, b=b0), np.linalg.solve(s0, b0), 1e-12)
        g = mg.derivative(b @ x, S).evaluate(S=s0, b=b0)
        y = np.linalg.solve(s0, b0)
        close(g, -np.outer(y, y), 1e-10)


# ---------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------


def test_agreement_with_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = pytest.importorskip("jax.numpy")
    jsl = pytest.importorskip("jax.scipy.linalg")
    a0, x0 = RNG.normal(size=(2, N, N))
    f = mg.trace(mg.expm(mg.constant(a0) @ X))

    def jf(v: Any) -> Any:
        return jnp.trace(jsl.expm(a0 @ v))

    close(mg.derivative(f, X).evaluate(X=x0), np.asarray(jax.grad(jf)(x0)), 1e-10)
    s0 = positive_spectrum()
    close(mg.sqrtm(X).evaluate(X=s0), np.real(np.asarray(jsl.sqrtm(s0))), 1e-10)
    # solve_triangular: gradients in A and b
    l0 = np.tril(RNG.normal(size=(N, N))) + 3 * np.eye(N)
    b0 = RNG.normal(size=N)
    v = mg.Vector("v", N)
    g = mg.sum(mg.sin(mg.solve_triangular(A, v, lower=True, trans=1)))

    def jg(a: Any, b: Any) -> Any:
        return jnp.sum(jnp.sin(jsl.solve_triangular(a, b, lower=True, trans=1)))

    ja, jb = jax.grad(jg, (0, 1))(l0, b0)
    close(mg.derivative(g, A).evaluate(A=l0, v=b0), np.asarray(ja), 1e-10)
    close(mg.derivative(g, v).evaluate(A=l0, v=b0), np.asarray(jb), 1e-10)
