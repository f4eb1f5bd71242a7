"""The worked examples of MML sections 5.2-5.4 (chapter 5, "Vector Calculus"), as tests.

Every expected value below is the book's closed form (see /work/shared/CHAPTER5.md),
written out by hand in NumPy; nothing is copied from matgrad's own output.  Inputs
and sizes are drawn by hypothesis.  Layout: numerator layout, ``out + in``
(DESIGN.md section 1): the book's 1xn row-vector gradient is our shape ``(n,)``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad.testing import strategies as mst
from matgrad.testing.reference import cofactor_adjugate

ORDERS = ("F", "C")


def assert_close(actual, expected, rtol=1e-9, atol=1e-9):
    """Entry-wise closeness with the absolute tolerance scaled to the data."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


reals = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
sides = st.integers(1, 4)

E1 = np.array([1.0, 0.0])
E2 = np.array([0.0, 1.0])


# =====================================================================================
# 5.2 Partial derivatives and gradients
# =====================================================================================


@functools.cache
def _ex56():
    x = mg.Vector("x", 2)
    x1, x2 = E1 @ x, E2 @ x  # constant selection vectors pick the components
    f_vec = (x1 + 2 * x2**3) ** 2
    xs, ys = mg.Scalar("xs"), mg.Scalar("ys")
    f_sc = (xs + 2 * ys**3) ** 2
    return (
        mg.derivative(f_vec, x),
        mg.derivative(f_sc, xs),
        mg.derivative(f_sc, ys),
    )


@given(reals, reals)
def test_example_5_6_gradient_of_x_plus_2y_cubed_squared(x0, y0):
    """Ex 5.6: f(x, y) = (x + 2y^3)^2, df/dx = 2(x + 2y^3), df/dy = 12(x + 2y^3) y^2."""
    g_vec, dfdx, dfdy = _ex56()
    inner = x0 + 2 * y0**3
    expected = np.array([2 * inner, 12 * inner * y0**2])
    assert g_vec.shape == (2,)
    assert_close(g_vec.evaluate(x=np.array([x0, y0])), expected)
    assert_close(dfdx.evaluate(xs=x0, ys=y0), expected[0])
    assert_close(dfdy.evaluate(xs=x0, ys=y0), expected[1])


@functools.cache
def _ex57():
    x = mg.Vector("x", 2)
    x1 = mg.einsum("i,i->", E1, x)  # the same selection, spelled as an einsum
    x2 = mg.einsum("i,i->", E2, x)
    return mg.derivative(x1**2 * x2 + x1 * x2**3, x)


@given(reals, reals)
def test_example_5_7_gradient(x1, x2):
    """Ex 5.7: f = x1^2 x2 + x1 x2^3, grad = [2 x1 x2 + x2^3, x1^2 + 3 x1 x2^2]."""
    g = _ex57()
    expected = np.array([2 * x1 * x2 + x2**3, x1**2 + 3 * x1 * x2**2])
    assert_close(g.evaluate(x=np.array([x1, x2])), expected)


@functools.cache
def _ex58():
    t = mg.Scalar("t")
    direct = mg.derivative(mg.sin(t) ** 2 + 2 * mg.cos(t), t)
    # the same through the intermediate variable x = (x1, x2) = (sin t, cos t):
    x = mg.Vector("x", 2)
    f = (E1 @ x) ** 2 + 2 * (E2 @ x)
    g = mg.sin(t) * E1 + mg.cos(t) * E2
    return direct, mg.derivative(f, x), mg.derivative(g, t), g


@given(st.floats(-6.0, 6.0))
def test_example_5_8_chain_rule_through_a_parameter(t0):
    """Ex 5.8: f = x1^2 + 2 x2, x1 = sin t, x2 = cos t: df/dt = 2 sin t (cos t - 1)."""
    direct, dfdx, dxdt, g = _ex58()
    expected = 2 * np.sin(t0) * (np.cos(t0) - 1)
    assert direct.shape == ()
    assert_close(direct.evaluate(t=t0), expected)
    # (5.49): df/dt = df/dx . dx/dt, a contraction over x's axis
    x0 = g.evaluate(t=t0)
    assert_close(dfdx.evaluate(x=x0), np.array([2 * np.sin(t0), 2.0]))
    assert_close(dxdt.evaluate(t=t0), np.array([np.cos(t0), -np.sin(t0)]))
    assert_close(mg.chain(dfdx.evaluate(x=x0), dxdt.evaluate(t=t0), 1), expected)


@functools.cache
def _two_parameters():
    u = mg.Vector("u", 2)  # u = (s, t)
    s, t = E1 @ u, E2 @ u
    x = mg.Vector("x", 2)
    f = (E1 @ x) ** 2 + 2 * (E2 @ x)
    g = (s * mg.sin(t)) * E1 + (s * mg.cos(t)) * E2
    h = (s * mg.sin(t)) ** 2 + 2 * s * mg.cos(t)
    return mg.derivative(h, u), mg.derivative(f, x), mg.derivative(g, u), g


@given(reals, reals)
def test_two_parameters_chain_rule_is_a_matrix_product(s0, t0):
    """(5.51)-(5.53): df/d(s,t) = df/dx . dx/d(s,t), with x1 = s sin t, x2 = s cos t and
    f = x1^2 + 2 x2; by hand: [2 s sin^2 t + 2 cos t, 2 s^2 sin t cos t - 2 s sin t]."""
    dh, dfdx, dxdu, g = _two_parameters()
    u0 = np.array([s0, t0])
    sn, cs = np.sin(t0), np.cos(t0)
    expected = np.array([2 * s0 * sn**2 + 2 * cs, 2 * s0**2 * sn * cs - 2 * s0 * sn])
    assert dh.shape == (2,)
    assert_close(dh.evaluate(u=u0), expected)
    jac_x = np.array([[sn, s0 * cs], [cs, -s0 * sn]])  # dx/d(s, t), 2x2
    assert_close(dxdu.evaluate(u=u0), jac_x)
    row = dfdx.evaluate(x=g.evaluate(u=u0))
    assert_close(row @ jac_x, expected)


@functools.cache
def _ex510():
    t = mg.Scalar("t")
    x1 = t * mg.cos(t)
    x2 = t * mg.sin(t)
    return mg.derivative(mg.exp(x1 * x2**2), t)


@given(st.floats(-2.0, 2.0))
def test_example_5_10(t0):
    """Ex 5.10: h(t) = exp(x1 x2^2), x = (t cos t, t sin t):
    dh/dt = exp(x1 x2^2) (x2^2 (cos t - t sin t) + 2 x1 x2 (sin t + t cos t))."""
    dh = _ex510()
    x1, x2 = t0 * np.cos(t0), t0 * np.sin(t0)
    expected = np.exp(x1 * x2**2) * (
        x2**2 * (np.cos(t0) - t0 * np.sin(t0)) + 2 * x1 * x2 * (np.sin(t0) + t0 * np.cos(t0))
    )
    assert_close(dh.evaluate(t=t0), expected)


# =====================================================================================
# 5.3 Gradients of vector-valued functions
# =====================================================================================


def _non_square(draw_sides):
    m, n = draw_sides
    return (m, n if n != m else n + 1)


@functools.cache
def _ex59(m, n):
    A = mg.Matrix("A", (m, n))
    x = mg.Vector("x", n)
    return A, x, mg.derivative(A @ x, x)


@given(st.data())
def test_example_5_9_d_Ax_dx_is_A(data):
    """Ex 5.9: f(x) = A x with non-square A in R^{M x N}: df/dx = A (M x N)."""
    m, n = _non_square(data.draw(st.tuples(sides, sides)))
    A0 = data.draw(mst.matrices((m, n)))
    _, x, J = _ex59(m, n)
    assert J.shape == (m, n)
    assert not J.depends_on(x)
    assert_close(J.evaluate(A=A0), A0)
    # with A a constant array (ndarray @ Expr builds the constant node)
    Jc = mg.derivative(A0 @ x, x)
    assert Jc.shape == (m, n)
    assert not Jc.symbols()
    assert_close(Jc.evaluate(), A0)


@functools.cache
def _ex511(n, d):
    phi = mg.Matrix("Phi", (n, d))
    y = mg.Vector("y", n)
    theta = mg.Vector("theta", d)
    e = y - phi @ theta
    loss = e @ e
    ev = mg.Vector("e", n)
    return (
        mg.derivative(loss, theta),
        mg.derivative(ev @ ev, ev),  # dL/de
        mg.derivative(e, theta),  # de/dtheta
    )


@given(st.data())
def test_example_5_11_least_squares(data):
    """Ex 5.11: L = ||y - Phi theta||^2: dL/dtheta = -2 (y - Phi theta)^T Phi, shape (D,);
    dL/de = 2 e^T, de/dtheta = -Phi, and dL/dtheta is their 'n,nd' contraction."""
    n, d = data.draw(sides), data.draw(sides)
    phi0 = data.draw(mst.matrices((n, d)))
    y0 = data.draw(mst.vectors(n))
    th0 = data.draw(mst.vectors(d))
    grad, dlde, dedth = _ex511(n, d)
    e0 = y0 - phi0 @ th0
    expected = -2 * e0 @ phi0
    assert grad.shape == (d,)
    assert_close(grad.evaluate(Phi=phi0, y=y0, theta=th0), expected)
    assert_close(dlde.evaluate(e=e0), 2 * e0)
    assert dedth.shape == (n, d)
    assert_close(dedth.evaluate(Phi=phi0), -phi0)
    assert_close(np.einsum("n,nd", 2 * e0, -phi0), expected)


# =====================================================================================
# 5.4 Gradients of matrices
# =====================================================================================


@functools.cache
def _ex512(m, n):
    A = mg.Matrix("A", (m, n))
    x = mg.Vector("x", n)
    return mg.derivative(A @ x, A)


@given(st.data())
def test_example_5_12_d_Ax_dA(data):
    """Ex 5.12: f = A x, df/dA in R^{M x (M x N)}: df_i/dA_kl = delta_ik x_l."""
    m, n = data.draw(sides), data.draw(sides)
    x0 = data.draw(mst.vectors(n))
    J = _ex512(m, n)
    assert J.shape == (m, m, n)
    expected = np.zeros((m, m, n))
    for i in range(m):
        for k in range(m):
            for l in range(n):
                expected[i, k, l] = x0[l] if i == k else 0.0
    got = J.evaluate(x=x0)
    assert_close(got, expected)


@functools.cache
def _ex513(m, n):
    R = mg.Matrix("R", (m, n))
    return mg.derivative(R.T @ R, R)


def _book_5_97(R0):
    """(5.97) written out: dK_pq/dR_ij = R_iq if j = p != q; R_ip if j = q != p;
    2 R_iq if j = p = q; 0 otherwise."""
    m, n = R0.shape
    out = np.zeros((n, n, m, n))
    for p in range(n):
        for q in range(n):
            for i in range(m):
                for j in range(n):
                    if j == p and p != q:
                        out[p, q, i, j] = R0[i, q]
                    elif j == q and q != p:
                        out[p, q, i, j] = R0[i, p]
                    elif j == p == q:
                        out[p, q, i, j] = 2 * R0[i, q]
    return out


@given(st.data())
def test_example_5_13_gram_matrix(data):
    """Ex 5.13: K = R^T R, R in R^{M x N}: dK/dR in R^{(N x N) x (M x N)}, entry by
    entry the book's case formula (5.97); and Fig 5.7's second route (flatten,
    take the Jacobian matrix, reshape back) gives the same tensor."""
    m, n = data.draw(sides), data.draw(sides)
    R0 = data.draw(mst.matrices((m, n), max_magnitude=3.0))
    J = _ex513(m, n)
    assert J.shape == (n, n, m, n)
    got = J.evaluate(R=R0)
    assert_close(got, _book_5_97(R0))
    for order in ORDERS:

        def vec_k(r, order=order):
            R = mg.unvec(r, (m, n), order=order)
            return mg.vec(R.T @ R, order=order)

        jm = mg.numeric.jacobian(vec_k, mg.vec(R0, order=order), method="richardson")
        assert_close(mg.jacobian_tensor(jm, (n, n), (m, n), order=order), got, atol=1e-8)
        assert_close(mg.jacobian_matrix(got, 2, order=order), jm, atol=1e-8)


# ---- the flatten / reshape equivalence for a composition h = f(g(X)) -----------------

OUTER = {
    "tanh": mg.tanh,
    "square": lambda Y: Y * Y,  # Y (.) Y
    "inv": mg.inv,
}


@functools.cache
def _composition(fname, p, m, n, q):
    A = mg.Matrix("A", (p, m))
    X = mg.Matrix("X", (m, n))
    B = mg.Matrix("B", (n, q))
    Y = mg.Matrix("Y", (p, q))
    f = OUTER[fname]
    g = A @ X @ B
    return mg.derivative(f(g), X), mg.derivative(f(Y), Y), mg.derivative(g, X), g


@pytest.mark.parametrize("fname", sorted(OUTER))
@given(data=st.data())
def test_flatten_reshape_equivalence_of_the_chain_rule(fname, data):
    """Fig 5.7 / DESIGN.md section 1: J_h = J_f(g(X)) . J_g by tensor contraction, and
    flattened: jacobian_matrix(J_h) = jacobian_matrix(J_f) @ jacobian_matrix(J_g),
    in either vec order; J_g of AXB is the Kronecker product B^T (x) A (order F)."""
    if fname == "inv":
        k = data.draw(st.integers(1, 3))
        p = m = n = q = k
        A0, X0, B0 = (data.draw(mst.invertible_matrices(k, max_condition=10.0)) for _ in "AXB")
    else:
        p, m, n, q = (data.draw(st.integers(1, 3)) for _ in range(4))
        A0 = data.draw(mst.matrices((p, m), max_magnitude=2.0))
        X0 = data.draw(mst.matrices((m, n), max_magnitude=2.0))
        B0 = data.draw(mst.matrices((n, q), max_magnitude=2.0))
    Jh_e, Jf_e, Jg_e, g = _composition(fname, p, m, n, q)
    Jh = Jh_e.evaluate(A=A0, X=X0, B=B0)
    Jf = Jf_e.evaluate(Y=g.evaluate(A=A0, X=X0, B=B0))
    Jg = Jg_e.evaluate(A=A0, B=B0)
    assert Jh.shape == (p, q, m, n)
    assert Jf.shape == (p, q, p, q)
    assert Jg.shape == (p, q, m, n)
    assert_close(mg.chain(Jf, Jg, 2), Jh, rtol=1e-8, atol=1e-8)
    for order in ORDERS:
        lhs = mg.jacobian_matrix(Jh, 2, order=order)
        rhs = mg.jacobian_matrix(Jf, 2, order=order) @ mg.jacobian_matrix(Jg, 2, order=order)
        assert lhs.shape == (p * q, m * n)
        assert_close(lhs, rhs, rtol=1e-8, atol=1e-8)
    # vec(A X B) = (B^T (x) A) vec(X) column-major; (A (x) B^T) row-major
    assert_close(mg.jacobian_matrix(Jg, 2, order="F"), np.kron(B0.T, A0))
    assert_close(mg.jacobian_matrix(Jg, 2, order="C"), np.kron(A0, B0.T))


# ---- Hessian of a quadratic form -------------------------------------------------------


@functools.cache
def _quadratic_hessian(n):
    x = mg.Vector("x", n)
    A = mg.Matrix("A", (n, n))
    f = x @ A @ x
    return (
        mg.simplify(mg.derivative(f, x, order=2)),
        mg.simplify(mg.derivative(mg.derivative(f, x), x)),
        mg.derivative(f, x),
    )


@given(st.data())
def test_hessian_of_quadratic_form_simplifies_to_A_plus_AT(data):
    """(5.106) differentiated once more: d^2(x^T A x)/dx^2 = A + A^T, structurally
    (two axes, no Kronecker delta left) and numerically."""
    n = data.draw(st.integers(1, 5))
    A0 = data.draw(mst.matrices((n, n)))
    x0 = data.draw(mst.vectors(n))
    H, H_twice, grad = _quadratic_hessian(n)
    for h in (H, H_twice):
        assert h.shape == (n, n)
        assert h.ndim == 2
        kinds = {node.kind for node in h.walk()}
        assert "delta" not in kinds, kinds
        assert_close(h.evaluate(A=A0), A0 + A0.T)
    # (5.106): the gradient is x^T (A + A^T)
    assert_close(grad.evaluate(A=A0, x=x0), x0 @ (A0 + A0.T))


# ---- determinant and log-determinant ---------------------------------------------------


@functools.cache
def _det_grads(n):
    X = mg.Matrix("X", (n, n))
    return mg.derivative(mg.det(X), X), mg.derivative(mg.logdet(X), X)


@given(st.data())
def test_gradient_of_det_is_adjugate_transpose_even_when_singular(data):
    """d det X / dX = adj(X)^T (Jacobi; (5.100) with f = id), finite at singular X:
    X = U V with U n x (n-1), V (n-1) x n has rank < n."""
    n = data.draw(st.integers(1, 4))
    U = data.draw(mst.matrices((n, n - 1), max_magnitude=2.0))
    V = data.draw(mst.matrices((n - 1, n), max_magnitude=2.0))
    X0 = U @ V
    G_e, _ = _det_grads(n)
    G = G_e.evaluate(X=X0)
    assert G.shape == (n, n)
    assert np.all(np.isfinite(G))
    assert_close(G, cofactor_adjugate(X0).T, rtol=1e-7, atol=1e-9)
    numeric = mg.numeric.gradient(np.linalg.det, X0, method="richardson")
    assert_close(G, numeric, rtol=1e-6, atol=1e-7)


@given(st.data())
def test_gradient_of_det_at_invertible_X(data):
    """Where X is invertible, adj(X)^T = det(X) X^{-T}."""
    n = data.draw(st.integers(1, 4))
    X0 = data.draw(mst.invertible_matrices(n, max_condition=20.0))
    G_e, _ = _det_grads(n)
    assert_close(G_e.evaluate(X=X0), np.linalg.det(X0) * np.linalg.inv(X0).T, rtol=1e-8)


@given(st.data())
def test_gradient_of_logdet_is_inverse_transpose(data):
    """d log|det X| / dX = X^{-T} (either sign of det X)."""
    n = data.draw(st.integers(1, 4))
    X0 = data.draw(mst.invertible_matrices(n, max_condition=20.0))
    _, L_e = _det_grads(n)
    G = L_e.evaluate(X=X0)
    assert_close(G, np.linalg.inv(X0).T, rtol=1e-8)
    numeric = mg.numeric.gradient(lambda X: np.linalg.slogdet(X)[1], X0, method="richardson")
    assert_close(G, numeric, rtol=1e-6, atol=1e-7)


# ---- symmetric matrix symbols -----------------------------------------------------------


@functools.cache
def _symmetric(n):
    S = mg.Matrix("S", (n, n), symmetric=True)
    A = mg.Matrix("A", (n, n))
    linear = mg.trace(A @ S)
    quadratic = mg.trace(A @ S @ S)
    return (
        linear,
        mg.derivative(linear, S),
        quadratic,
        mg.derivative(quadratic, S),
        mg.logdet(S),
        mg.derivative(mg.logdet(S), S),
    )


def _directional(f_expr, S0, V0, **others):
    """d/dt f(S + tV) at t = 0, by Richardson differences of the evaluated expression."""

    def along(t):
        return f_expr.evaluate(S=S0 + float(t) * V0, **others)

    return float(mg.numeric.gradient(along, 0.0, method="richardson"))


@given(st.data())
def test_symmetric_symbol_gradient_of_trace_AS(data):
    """DESIGN.md section 1: for symmetric S the gradient of tr(AS) is (A + A^T)/2 (not A^T,
    and not the 'independent entries' 2G - diag(G)); and <G, V>_F = d/dt f(S + tV)
    for every symmetric direction V."""
    n = data.draw(st.integers(1, 4))
    A0 = data.draw(mst.matrices((n, n), max_magnitude=3.0))
    S0 = data.draw(mst.symmetric_matrices(n, max_magnitude=3.0))
    V0 = data.draw(mst.symmetric_matrices(n, max_magnitude=3.0))
    f, G_e, f2, G2_e, _, _ = _symmetric(n)
    G = G_e.evaluate(A=A0)
    assert G.shape == (n, n)
    assert_close(G, (A0 + A0.T) / 2)
    assert_close(G, G.T, rtol=0, atol=1e-12)
    # the directional derivative along V (f is linear: exactly tr(A V))
    assert_close(np.sum(G * V0), np.trace(A0 @ V0))
    assert_close(np.sum(G * V0), _directional(f, S0, V0, A=A0), rtol=1e-7, atol=1e-8)
    # a non-linear f: tr(A S S), unconstrained gradient (A^T S^T + S^T A^T) = A^T S + S A^T
    G2 = G2_e.evaluate(A=A0, S=S0)
    unconstrained = A0.T @ S0 + S0 @ A0.T
    assert_close(G2, (unconstrained + unconstrained.T) / 2)
    assert_close(np.sum(G2 * V0), _directional(f2, S0, V0, A=A0), rtol=1e-7, atol=1e-7)


@given(st.data())
def test_symmetric_symbol_gradient_of_logdet(data):
    """log det S for SPD S: the gradient S^{-1} is already symmetric, and it is the
    directional derivative's Riesz representer: <S^{-1}, V> = tr(S^{-1} V)."""
    n = data.draw(st.integers(1, 4))
    S0 = data.draw(mst.spd_matrices(n, max_condition=20.0))
    V0 = data.draw(mst.symmetric_matrices(n, max_magnitude=1.0))
    *_, f, G_e = _symmetric(n)
    G = G_e.evaluate(S=S0)
    assert_close(G, np.linalg.inv(S0), rtol=1e-8)
    scale = float(np.linalg.eigvalsh(S0).min()) / (4 * max(1.0, np.abs(V0).max()) * n)
    Vs = V0 * scale  # keeps S + tV positive definite over the difference stencil
    assert_close(np.sum(G * Vs), _directional(f, S0, Vs), rtol=1e-6, atol=1e-8)
