"""eig and eigvals of real general matrices (matgrad.ops.eig): values against NumPy,
derivatives against numerical differentiation (first and second order, both
accumulation modes), the conventions (ascending order, the sign rule), a complex
spectrum (ComplexSpectrumError), repeated and defective spectra
(DegenerateSpectrumError), scales 1e±20, the adjoint identity and JAX."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg

import matgrad as mg
from matgrad import numeric
from matgrad.errors import ComplexSpectrumError, DegenerateSpectrumError, MatgradError

RNG = np.random.default_rng(12)


def real_spectrum_matrix(n: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """A non-normal matrix with eigenvalues 1, 2, ..., n (times ``scale``)."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, n)) + 2 * np.eye(n)
    return np.asarray(scale * (s * np.arange(1.0, n + 1)) @ np.linalg.inv(s))


def eigvals_fn(x: Any) -> Any:
    return np.linalg.eigvals(x)


def eigvecs_fn(x: Any) -> Any:
    return np.linalg.eig(x).eigenvectors


def close(a: Any, b: Any, tol: float) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    err = float(np.max(np.abs(a - b), initial=0.0)) / scale
    assert err < tol, f"error {err:.3e}"


# ------------------------------------------------------------------------------ values


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_values_and_vectors_match_numpy(n: int) -> None:
    a0 = real_spectrum_matrix(n, seed=n)
    X = mg.Matrix("X", (n, n))
    result = np.linalg.eig(X)
    assert type(result).__name__ == "EigResult"
    w = result.eigenvalues.evaluate(X=a0)
    v = result.eigenvectors.evaluate(X=a0)
    assert w.dtype == np.float64 and v.dtype == np.float64
    np.testing.assert_allclose(w, np.sort(np.linalg.eigvals(a0).real), rtol=1e-12)
    assert np.all(np.diff(w) > 0)  # ascending
    np.testing.assert_allclose(a0 @ v, v * w, atol=1e-11)  # A V = V Λ
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1.0, rtol=1e-12)
    top = v[np.argmax(np.abs(v), axis=0), np.arange(n)]
    assert np.all(top > 0)  # the sign rule: the largest entry of each column is positive
    # NumPy's own vectors, reordered and signed by the rule, are the same
    w_np, v_np = np.linalg.eig(a0)
    order = np.argsort(w_np.real)
    v_np = v_np.real[:, order]
    v_np *= np.sign(v_np[np.argmax(np.abs(v_np), axis=0), np.arange(n)])
    np.testing.assert_allclose(v, v_np, atol=1e-10)
    np.testing.assert_allclose(np.linalg.eigvals(X).evaluate(X=a0), w)
    np.testing.assert_allclose(mg.eig_left(X).evaluate(X=a0).T @ v, np.eye(n), atol=1e-10)


def test_scipy_entry_points() -> None:
    from matgrad.ops.eig import _scipy_eig, _scipy_eigvals

    a0 = real_spectrum_matrix(3)
    X = mg.Matrix("X", (3, 3))
    w, v = _scipy_eig(X)
    ref = np.sort(scipy.linalg.eigvals(a0).real)
    np.testing.assert_allclose(w.evaluate(X=a0), ref, rtol=1e-12)
    assert v is np.linalg.eig(X).eigenvectors  # one node per output, shared
    np.testing.assert_allclose(_scipy_eigvals(X).evaluate(X=a0), ref, rtol=1e-12)
    assert _scipy_eig(X, right=False) is w
    with pytest.raises(mg.errors.InvalidArgumentError, match="left"):
        _scipy_eig(X, left=True)
    with pytest.raises(mg.errors.InvalidArgumentError, match="generalized"):
        _scipy_eigvals(X, b=np.eye(3))
    # SciPy converts its argument, so the message points to mg.eig
    with pytest.raises(mg.errors.UnsupportedOperationError, match=r"mg\.eig\("):
        scipy.linalg.eig(X)


def test_no_stacks_and_no_complex_input() -> None:
    with pytest.raises(mg.errors.ShapeError):
        mg.eigvals(mg.Tensor("T", (2, 3, 3)))
    with pytest.raises(mg.errors.InvalidArgumentError, match="real"):
        mg.eig_values(mg.constant(np.eye(2) * 1j))


def test_the_hint_table_no_longer_suggests_eigh_for_eig() -> None:
    from matgrad.ir import node

    assert "numpy.linalg.eig" not in node._ALTERNATIVES
    assert "numpy.linalg.eigvals" not in node._ALTERNATIVES


# ------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("fn", [eigvals_fn, eigvecs_fn, lambda x: mg.eig_left(x)],
                         ids=["eigvals", "eigvecs", "left"])
def test_derivatives_match_numerical_differentiation(fn: Any, mode: str) -> None:
    n = 3
    a0 = real_spectrum_matrix(n, seed=7)
    X = mg.Matrix("X", (n, n))
    f = fn(X)
    d1 = mg.derivative(f, X, mode=mode)
    num1 = numeric.jacobian(lambda a: f.evaluate(X=a), a0, method="richardson")
    close(d1.evaluate(X=a0), num1, 1e-7)
    d2 = mg.derivative(f, X, order=2, mode=mode)
    num2 = numeric.jacobian(lambda a: d1.evaluate(X=a), a0, method="richardson")
    close(d2.evaluate(X=a0), num2, 1e-6)


def test_eigenvalue_derivative_is_the_left_right_formula() -> None:
    """dλᵢ = wᵢᵀ dA vᵢ / (wᵢᵀ vᵢ) with left and right eigenvectors from SciPy."""
    a0 = real_spectrum_matrix(4, seed=3)
    w, vl, vr = scipy.linalg.eig(a0, left=True)
    order = np.argsort(w.real)
    vl, vr = vl.real[:, order], vr.real[:, order]
    expected = np.einsum("pi,qi->ipq", vl, vr) / np.einsum("pi,pi->i", vl, vr)[:, None, None]
    got = mg.jacobian(eigvals_fn)(a0)
    np.testing.assert_allclose(got, expected, atol=1e-11)


def test_function_api_second_order() -> None:
    a0 = real_spectrum_matrix(3, seed=5)
    h = mg.hessian(lambda x: np.sum(np.linalg.eigvals(x) ** 3))(a0)
    # Σ λ³ = tr(A³): the Hessian is 3(δ_jk A_li + A_jk δ_il) (hessian-trace-X3)
    eye = np.eye(3)
    expected = 3 * (np.einsum("jk,li->ijkl", eye, a0) + np.einsum("jk,il->ijkl", a0, eye))
    np.testing.assert_allclose(h, expected, atol=1e-9)


@pytest.mark.parametrize("fn", [eigvals_fn, eigvecs_fn], ids=["eigvals", "eigvecs"])
def test_adjoint_identity(fn: Any) -> None:
    """⟨Ḡ, J[E]⟩ = ⟨Jᵀ[Ḡ], E⟩ for the forward and reverse derivatives."""
    a0 = real_spectrum_matrix(4, seed=9)
    e = RNG.standard_normal(a0.shape)
    _, tangent = mg.jvp(fn, (a0,), (e,))
    out, pullback = mg.vjp(fn, a0)
    g = RNG.standard_normal(np.shape(out))
    (cotangent,) = pullback(g)
    assert np.isclose(np.sum(g * tangent), np.sum(cotangent * e), rtol=1e-10)


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_scales(scale: float) -> None:
    """Eigenvalues scale with A; their derivative does not; eigenvector derivatives
    scale with 1/scale — finite and right at 1e±20."""
    a1 = real_spectrum_matrix(3, seed=2)
    values = np.linalg.eigvals(mg.Matrix("X", (3, 3))).evaluate(X=a1 * scale)
    np.testing.assert_allclose(values, scale * np.sort(np.linalg.eigvals(a1).real), rtol=1e-12)
    j1 = mg.jacobian(eigvals_fn)(a1)
    js = mg.jacobian(eigvals_fn)(a1 * scale)
    np.testing.assert_allclose(js, j1, rtol=1e-9, atol=1e-12)
    v1 = mg.jacobian(eigvecs_fn)(a1)
    vs = mg.jacobian(eigvecs_fn)(a1 * scale)
    assert np.all(np.isfinite(vs))
    np.testing.assert_allclose(vs * scale, v1, rtol=1e-9, atol=1e-11)
    h1 = mg.hessian(lambda x: np.linalg.eigvals(x)[0])(a1)
    hs = mg.hessian(lambda x: np.linalg.eigvals(x)[0])(a1 * scale)
    np.testing.assert_allclose(hs * scale, h1, rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------- degenerate points


def rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("which", ["values", "vectors", "gradient"])
def test_rotation_matrix_raises_complex_spectrum_error(which: str) -> None:
    X = mg.Matrix("X", (3, 3))
    r = rotation(0.3)
    if which == "values":
        expr = mg.eigvals(X)
    elif which == "vectors":
        expr = mg.eig(X)[1]
    else:
        expr = mg.derivative(mg.sum(mg.eigvals(X)), X)
    with pytest.raises(ComplexSpectrumError) as info:
        expr.evaluate(X=r)
    assert isinstance(info.value, np.linalg.LinAlgError)
    assert isinstance(info.value, MatgradError)
    message = str(info.value)
    assert "complex eigenvalues" in message and "±" in message
    assert "trace" in message and "det" in message and "eigh" in message
    # what the message suggests is differentiable there
    np.testing.assert_allclose(mg.grad(lambda x: np.trace(x))(r), np.eye(3))
    np.testing.assert_allclose(mg.grad(np.linalg.det)(r), np.linalg.inv(r).T * np.linalg.det(r),
                               atol=1e-12)


@pytest.mark.parametrize(
    "a0",
    [np.eye(3), np.diag([1.0, 1.0, 2.0]), np.array([[1.0, 1.0], [0.0, 1.0]]),
     np.array([[2.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 2.0]])],
    ids=["identity", "diag-1-1-2", "jordan-2", "jordan-3"],
)
def test_repeated_and_defective_spectra(a0: np.ndarray) -> None:
    """Values are computed; the derivatives of eigenvalues and eigenvectors raise
    DegenerateSpectrumError (a repeated real eigenvalue may split into a complex
    pair: no derivative exists)."""
    n = a0.shape[0]
    X = mg.Matrix("X", (n, n))
    np.testing.assert_allclose(mg.eigvals(X).evaluate(X=a0), np.sort(np.diag(a0)), atol=1e-6)
    for fn in (eigvals_fn, eigvecs_fn):
        for mode in ("forward", "reverse"):
            d = mg.derivative(fn(X), X, mode=mode)
            with pytest.raises(DegenerateSpectrumError, match="repeat"):
                d.evaluate(X=a0)
    # functions of the whole spectrum stay differentiable as trace and det
    np.testing.assert_allclose(mg.grad(np.trace)(a0), np.eye(n))


def test_near_tie_is_still_differentiable() -> None:
    """Distinct but close eigenvalues (gap 1e-2, above the tie tolerance): derivatives
    exist and are right (a non-normal matrix whose close pair does not couple, so the
    spectrum stays real over the difference steps)."""
    a0 = np.array([[1.0, 0.0, 0.5], [0.0, 1.01, 0.5], [0.0, 0.0, 3.0]])
    j = mg.jacobian(eigvals_fn)(a0)
    num = numeric.jacobian(lambda a: np.sort(np.linalg.eigvals(a).real), a0, method="central")
    close(j, num, 1e-6)


# ---------------------------------------------------------------------------------- JAX


def _jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_jax(seed: int) -> None:
    """JAX's eig is complex and CPU-only: compare the derivatives of the sorted real
    eigenvalues (first order; second order with its eigenvector derivatives enabled)."""
    jax = _jax()
    jnp = jax.numpy
    a0 = real_spectrum_matrix(4, seed=seed)

    def values(a: Any) -> Any:
        return jnp.sort(jnp.real(jnp.linalg.eigvals(a)))

    theirs = np.asarray(jax.jacobian(values)(jnp.asarray(a0)))
    np.testing.assert_allclose(mg.jacobian(eigvals_fn)(a0), theirs, atol=1e-10)

    def cubic(a: Any) -> Any:
        w = jax.lax.linalg.eig(a.astype(complex), compute_left_eigenvectors=False,
                               compute_right_eigenvectors=False, enable_eigvec_derivs=True)[0]
        return jnp.sum(jnp.sort(jnp.real(w)) ** 3 * jnp.arange(1.0, 5.0))

    theirs_h = np.asarray(jax.hessian(cubic)(jnp.asarray(a0)))
    ours_h = mg.hessian(lambda x: np.sum(np.linalg.eigvals(x) ** 3 * np.arange(1.0, 5.0)))(a0)
    np.testing.assert_allclose(ours_h, theirs_h, atol=1e-8 * np.abs(theirs_h).max())
