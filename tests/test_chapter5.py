"""Chapter 5 of MML, the parts not covered by test_book_core.py and test_taylor.py:

* 5.1  difference quotients converge at the promised rate; Example 5.2 and 5.5;
       the product, quotient, sum and chain rules (5.29)-(5.32), property-tested;
* 5.3  Jacobian determinants (Figure 5.5, polar and spherical coordinates);
* 5.6  backpropagation and automatic differentiation: Example 5.14's shared
       intermediates and the cost of its derivative, the deep network
       (5.110)-(5.117), forward versus reverse accumulation (5.118)-(5.120);
* 5.7  Hessians are symmetric (5.145)-(5.146); the Hessian of a vector field;
* 5.8  linearization (5.147).

Expected values are the book's closed forms (see /work/shared/CHAPTER5.md),
written by hand in NumPy, or independent numerical differentiation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.calculus.taylor import substitute
from matgrad.errors import InvalidArgumentError, ShapeError

reals = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)


def at(expr, **values):
    """``expr`` evaluated with values by name; symbols it does not depend on are
    allowed (``expr.evaluate`` refuses them)."""
    used = {sym.name for sym in expr.symbols()}
    return expr.evaluate(**{k: v for k, v in values.items() if k in used})


def close(actual, expected, rtol=1e-10, atol=1e-12):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


# =====================================================================================
# 5.1 Univariate differentiation
# =====================================================================================


def _empirical_orders(method, hs):
    """log-log slopes of |numeric - exact| between consecutive steps, for
    f(x) = exp(x) sin(x) at x = 0.7 (f'(x) = exp(x)(sin x + cos x))."""
    x0 = 0.7
    exact = np.exp(x0) * (np.sin(x0) + np.cos(x0))
    errors = np.array([
        abs(float(numeric.gradient(lambda x: np.exp(x) * np.sin(x), x0, method=method, step=h))
            - exact)
        for h in hs
    ])
    return np.diff(np.log(errors)) / np.diff(np.log(hs)), errors


@pytest.mark.parametrize(
    ("method", "hs", "order"),
    [
        ("forward", 2.0 ** -np.arange(3, 12), 1),  # (5.3): error O(h)
        ("central", 2.0 ** -np.arange(3, 12), 2),  # error O(h^2)
        ("complex", 2.0 ** -np.arange(3, 12), 2),  # O(h^2), without cancellation
        ("richardson", 2.0 ** -np.arange(-2, 3), 8),  # h^2, h^4, h^6 removed: O(h^8)
    ],
)
def test_difference_quotients_converge_at_the_promised_rate(method, hs, order):
    slopes, errors = _empirical_orders(method, hs)
    assert np.all(np.abs(slopes - order) < 0.1), (slopes, errors)


def test_forward_difference_has_a_rounding_floor():
    """Below h ~ sqrt(eps) the forward quotient's error grows again (cancellation):
    the limit (5.4) cannot be taken in floating point; the complex step has no floor."""
    hs = 2.0 ** -np.arange(24, 36, 2)
    _, forward = _empirical_orders("forward", hs)
    _, cstep = _empirical_orders("complex", hs)
    assert forward.min() > 1e-9
    assert cstep.max() < 1e-14


@pytest.mark.parametrize("n", range(1, 9))
def test_example_5_2_derivative_of_x_to_the_n(n):
    """d/dx x^n = n x^(n-1); the difference quotient is the binomial sum
    sum_{i>=1} C(n, i) x^(n-i) h^(i-1) (5.2's derivation) and tends to it."""
    x = mg.Scalar("x")
    d = mg.derivative(x ** float(n), x)
    for x0 in (-1.3, 0.4, 2.0):
        close(at(d, x=x0), n * x0 ** (n - 1))
        h = 1e-3
        quotient = ((x0 + h) ** n - x0**n) / h
        binomial = sum(math.comb(n, i) * x0 ** (n - i) * h ** (i - 1) for i in range(1, n + 1))
        close(quotient, binomial, rtol=1e-9)


@given(reals)
def test_example_5_5_chain_rule(x0):
    """h(x) = (2x + 1)^4, h'(x) = 8 (2x + 1)^3."""
    x = mg.Scalar("x")
    close(mg.derivative((2 * x + 1) ** 4, x).evaluate(x=x0), 8 * (2 * x0 + 1) ** 3)


# ---- the rules (5.29)-(5.32), for random compositions of elementwise functions -------

_UNARY = {
    "sin": mg.sin,
    "cos": mg.cos,
    "tanh": mg.tanh,
    "sigmoid": mg.sigmoid,
    "exp": mg.exp,
    "square": lambda u: u**2,
    "cube": lambda u: u**3,
    "affine": lambda u: 0.5 * u + 0.3,
}
_NUMPY = {
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": lambda u: 1 / (1 + np.exp(-u)),
    "exp": np.exp,
    "square": lambda u: u**2,
    "cube": lambda u: u**3,
    "affine": lambda u: 0.5 * u + 0.3,
}
compositions = st.lists(st.sampled_from(sorted(_UNARY)), min_size=1, max_size=3)


def largest_argument(names, x0):
    """The largest |argument| any function of the composition is applied to."""
    u, largest = x0, abs(x0)
    with np.errstate(all="ignore"):
        for name in names:
            largest = max(largest, abs(u))
            u = _NUMPY[name](u)
    return largest


def compose(names, u):
    for name in names:
        u = _UNARY[name](u)
    return u


def value(expr, x, x0):
    return float(mg.compile(expr, [x])(x0))


@given(compositions, compositions, reals)
def test_sum_product_and_quotient_rules(fs, gs, x0):
    x = mg.Scalar("x")
    f, g = compose(fs, x), compose(gs, x)
    q = 1.5 + mg.tanh(g)  # a denominator bounded away from 0
    df, dg, dq = (value(mg.derivative(e, x), x, x0) for e in (f, g, q))
    fv, gv, qv = (value(e, x, x0) for e in (f, g, q))
    tol = {"rtol": 1e-9, "atol": 1e-12}
    close(value(mg.derivative(f + g, x), x, x0), df + dg, **tol)  # (5.31)
    close(value(mg.derivative(f * g, x), x, x0), df * gv + fv * dg, **tol)  # (5.29)
    close(value(mg.derivative(f / q, x), x, x0), (df * qv - fv * dq) / qv**2, **tol)  # (5.30)


@given(compositions, compositions, reals)
def test_chain_rule(fs, gs, x0):
    """(g o f)'(x) = g'(f(x)) f'(x)  (5.32)."""
    x, u = mg.Scalar("x"), mg.Scalar("u")
    inner = compose(fs, x)
    outer = compose(gs, u)
    composite = substitute(outer, {u: inner})
    assert composite is compose(gs, inner)
    # well-conditioned compositions only: cos(u^3) at u = 5e4 (from x^27) is
    # rounding noise, whatever the differentiation
    assume(largest_argument([*fs, *gs], x0) < 20)
    inner_value = value(inner, x, x0)
    expected = value(mg.derivative(outer, u), u, inner_value) * value(
        mg.derivative(inner, x), x, x0
    )
    close(value(mg.derivative(composite, x), x, x0), expected, rtol=1e-9)


# =====================================================================================
# 5.3 Jacobian determinants
# =====================================================================================

FIG55 = np.array([[-2.0, 1.0], [1.0, 1.0]])


def test_figure_5_5_linear_map_scales_area_by_3():
    x = mg.Vector("x", 2)
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    x1, x2 = e1 @ x, e2 @ x
    y = mg.constant(np.array([-2.0, 1.0])) * x1 + mg.constant(np.array([1.0, 1.0])) * x2
    # (5.62)-(5.65): the partial derivatives of y1 = -2x1 + x2, y2 = x1 + x2
    close(at(mg.derivative(y, x), x=np.array([0.3, 0.7])), FIG55)
    det = mg.jacobian_det(y, x)
    assert det.symbols() == ()  # a linear map: the same factor everywhere
    close(det.evaluate(), -3.0)
    close(abs(float(det.evaluate())), 3.0)
    # (5.61): the change of basis maps e1, e2 to (-2, 1), (1, 1); the parallelogram
    # they span has area |det [b1 b2]| = 3
    b1 = mg.jacobian(lambda v: FIG55 @ v)(np.zeros(2)) @ e1
    b2 = FIG55 @ e2
    area = abs(b1[0] * b2[1] - b1[1] * b2[0])
    assert area == pytest.approx(3.0)
    assert abs(mg.jacobian_det(lambda v: FIG55 @ v, np.array([5.0, -1.0]))) == pytest.approx(3.0)
    close(mg.log_abs_det_jacobian(y, x).evaluate(), math.log(3.0))


@functools.cache
def _polar():
    p = mg.Vector("p", 2)  # (r, theta)
    r, theta = np.array([1.0, 0.0]) @ p, np.array([0.0, 1.0]) @ p
    xy = mg.constant(np.array([1.0, 0.0])) * (r * mg.cos(theta)) + mg.constant(
        np.array([0.0, 1.0])
    ) * (r * mg.sin(theta))
    return p, mg.jacobian_det(xy, p), mg.log_abs_det_jacobian(xy, p)


def _polar_numpy(p):
    """(r, theta) -> (r cos theta, r sin theta), written so that it can be traced
    (matgrad expressions cannot be indexed: components by selection vectors)."""
    e = np.eye(2)
    r, theta = e[0] @ p, e[1] @ p
    return e[0] * (r * np.cos(theta)) + e[1] * (r * np.sin(theta))


@given(st.floats(0.1, 5.0), st.floats(-3.0, 3.0))
def test_polar_coordinates_det_is_r(r0, t0):
    _, det, logdet = _polar()
    p0 = np.array([r0, t0])
    close(det.evaluate(p=p0), r0)
    close(logdet.evaluate(p=p0), math.log(r0))
    close(mg.jacobian_det(_polar_numpy, p0), r0)
    close(mg.log_abs_det_jacobian(_polar_numpy, p0), math.log(r0))


def test_spherical_coordinates_det_is_r2_sin_theta():
    def spherical(q):
        r, th, ph = q[0], q[1], q[2]
        return np.array(
            [r * np.sin(th) * np.cos(ph), r * np.sin(th) * np.sin(ph), r * np.cos(th)]
        )

    # componentwise through selection vectors, traced as a NumPy function
    def traced(q):
        e = np.eye(3)
        r, th, ph = e[0] @ q, e[1] @ q, e[2] @ q
        return (e[0] * (r * np.sin(th) * np.cos(ph)) + e[1] * (r * np.sin(th) * np.sin(ph))
                + e[2] * (r * np.cos(th)))

    for q0 in ([2.0, 0.7, 1.1], [0.5, 2.5, -0.3]):
        q0 = np.array(q0)
        close(traced(q0), spherical(q0))
        close(mg.jacobian_det(traced, q0), q0[0] ** 2 * np.sin(q0[1]))


@given(st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_jacobian_det_matches_numerical_jacobians(n, seed):
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((n, n))
    B0 = rng.standard_normal((n, n))
    c0 = rng.standard_normal(n)
    x0 = rng.standard_normal(n)

    def fun(v):
        return np.tanh(A0 @ v + c0) + B0 @ np.sin(v)

    numerical = numeric.jacobian(fun, x0, method="richardson")
    expected = np.linalg.det(numerical)
    close(mg.jacobian_det(fun, x0), expected, rtol=1e-8, atol=1e-10)
    x = mg.Vector("x", n)
    symbolic = mg.jacobian_det(fun(x), x)
    close(symbolic.evaluate(x=x0), expected, rtol=1e-8, atol=1e-10)
    sign, logabs = np.linalg.slogdet(numerical)
    if sign != 0 and abs(expected) > 1e-6:
        close(mg.log_abs_det_jacobian(fun(x), x).evaluate(x=x0), logabs, rtol=1e-8, atol=1e-8)


def test_jacobian_det_of_matrix_map_and_scalar_map():
    """X -> A X on 2x2 matrices: the Jacobian is I (x) A, det = det(A)^2;
    a scalar map's 'determinant' is its derivative."""
    X = mg.Matrix("X", (2, 2))
    A0 = np.array([[2.0, 1.0], [0.5, 3.0]])
    close(mg.jacobian_det(A0 @ X, X).evaluate(), np.linalg.det(A0) ** 2)
    s = mg.Scalar("s")
    close(mg.jacobian_det(mg.exp(s), s).evaluate(s=0.3), math.exp(0.3))


def test_jacobian_det_errors():
    x = mg.Vector("x", 3)
    with pytest.raises(ShapeError, match="itself"):
        mg.jacobian_det(mg.sum(x), x)
    with pytest.raises(ShapeError, match="itself"):
        mg.jacobian_det(lambda v: np.ones((2, 3)) @ v, np.ones(3))
    with pytest.raises(InvalidArgumentError, match="symbol"):
        mg.log_abs_det_jacobian(x * 2, np.ones(3))
    with pytest.raises(InvalidArgumentError, match="expression or a function"):
        mg.jacobian_det(3.0, x)


def test_log_abs_det_jacobian_of_a_singular_map_is_minus_inf():
    x = mg.Vector("x", 2)
    collapse = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert mg.log_abs_det_jacobian(collapse @ x, x).evaluate() == -np.inf
    assert mg.log_abs_det_jacobian(lambda v: collapse @ v, np.ones(2)) == -np.inf


# =====================================================================================
# 5.6 Backpropagation and automatic differentiation
# =====================================================================================


def example_5_14(x):
    """f(x) = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)), with the book's intermediates."""
    a = x**2
    b = mg.exp(a)
    c = a + b
    d = mg.sqrt(c)
    e = mg.cos(c)
    return d + e


def tree_size(expr):
    """Nodes counted with repetition (the expression written out as a tree),
    computed over the DAG (writing the tree out would take exponential time)."""
    sizes = {}
    for node in expr.walk():
        sizes[node.uid] = 1 + sum(sizes[c.uid] for c in node.children)
    return sizes[expr.uid]


def test_example_5_14_function_dag_shares_the_intermediates():
    x = mg.Scalar("x")
    f = example_5_14(x)
    # written without naming the intermediates, it is the same DAG (hash-consing)
    inline = mg.sqrt(x**2 + mg.exp(x**2)) + mg.cos(x**2 + mg.exp(x**2))
    assert inline is f
    assert len(f.walk()) == 7  # x, a, b, c, d, e, f
    assert tree_size(f) == 15  # a and b would be built twice as a tree


@given(reals)
def test_example_5_14_derivative_and_backward_pass(x0):
    x = mg.Scalar("x")
    df = mg.derivative(example_5_14(x), x)
    # (5.109)
    s = x0**2 + np.exp(x0**2)
    closed = 2 * x0 * (1 / (2 * np.sqrt(s)) - np.sin(s)) * (1 + np.exp(x0**2))
    close(df.evaluate(x=x0), closed)
    # (5.134)-(5.141): the backward pass through the intermediates, by hand
    a = x0**2
    b = np.exp(a)
    c = a + b
    df_dd, df_de = 1.0, 1.0
    df_dc = df_dd / (2 * np.sqrt(c)) + df_de * (-np.sin(c))
    df_db = df_dc
    df_da = df_db * np.exp(a) + df_dc
    df_dx = df_da * 2 * x0
    close(df.evaluate(x=x0), df_dx)


def chain_of_blocks(x, k):
    y = x
    for _ in range(k):
        y = example_5_14(y)
    return y


def test_example_5_14_derivative_costs_the_same_order_as_the_function():
    x = mg.Scalar("x")
    f = example_5_14(x)
    df = mg.derivative(f, x)
    nodes = (len(f.walk()), len(df.walk()))
    flops = (mg.compile(f).flops, mg.compile(df).flops)
    # measured (docs/tutorial.md): nodes (7, 11), flops (8, 14)
    assert nodes[0] == 7
    assert nodes[1] <= 2 * nodes[0] and flops[1] <= 2 * flops[0]


def test_nested_blocks_derivative_grows_linearly():
    """k nested copies of Example 5.14: the function has 6k + 1 nodes, the derivative
    at most 15k + c nodes and under 3x the function's flops, for every k (a tree
    expansion of the chain rule would double with each level instead)."""
    x = mg.Scalar("x")
    counts = {}
    for k in (1, 2, 4, 8, 16, 32):
        y = chain_of_blocks(x, k)
        dy = mg.derivative(y, x)
        counts[k] = (len(y.walk()), len(dy.walk()), mg.compile(y).flops, mg.compile(dy).flops)
        assert counts[k][0] == 6 * k + 1
        assert counts[k][1] <= 15 * k + 1
        assert counts[k][3] <= 3 * counts[k][2]
        assert tree_size(y) >= 2**k  # what sharing saves
    # exactly linear: each extra block adds the same number of derivative nodes
    steps = {(counts[2 * k][1] - counts[k][1]) / k for k in (2, 4, 8, 16)}
    assert len(steps) == 1, counts
    # and the value is right: the chain rule through 3 blocks, with (5.109) at each
    y = chain_of_blocks(x, 3)
    g = float(mg.derivative(y, x).evaluate(x=0.3))
    expected, t = 1.0, 0.3
    for _ in range(3):
        expected *= _closed_form_5_109(t)
        s = t**2 + np.exp(t**2)
        t = np.sqrt(s) + np.cos(s)
    close(g, expected)


def _closed_form_5_109(x0):
    s = x0**2 + np.exp(x0**2)
    return 2 * x0 * (1 / (2 * np.sqrt(s)) - np.sin(s)) * (1 + np.exp(x0**2))


# ---- the deep network (5.110)-(5.117) -------------------------------------------------

SIZES = (4, 3, 5, 2, 3)  # f0 = x in R^4, then layers of widths 3, 5, 2, 3 (non-square)


def network(K, sigma=mg.sigmoid):
    x = mg.constant(np.linspace(-1.0, 1.0, SIZES[0]))
    y = mg.constant(np.linspace(0.2, 0.8, SIZES[K]))
    As = [mg.Matrix(f"A{i}", (SIZES[i + 1], SIZES[i])) for i in range(K)]
    bs = [mg.Vector(f"b{i}", SIZES[i + 1]) for i in range(K)]
    f = x
    for A, b in zip(As, bs):
        f = sigma(A @ f + b)
    diff = y - f
    return diff @ diff, As, bs


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def backprop_by_hand(K, values):
    """(5.114)-(5.117) in NumPy: the forward pass stores the layers, the backward
    pass reuses dL/df_{i+1} for dL/dA_i and dL/db_i."""
    fs = [np.linspace(-1.0, 1.0, SIZES[0])]
    for i in range(K):
        fs.append(_sigmoid(values[f"A{i}"] @ fs[-1] + values[f"b{i}"]))
    y = np.linspace(0.2, 0.8, SIZES[K])
    upstream = -2 * (y - fs[-1])  # dL/df_K
    grads = {}
    for i in reversed(range(K)):
        dz = upstream * fs[i + 1] * (1 - fs[i + 1])  # sigma' = sigma (1 - sigma)
        grads[f"A{i}"] = np.outer(dz, fs[i])
        grads[f"b{i}"] = dz
        upstream = values[f"A{i}"].T @ dz
    return grads


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_deep_network_gradients(K):
    loss, As, bs = network(K)
    rng = np.random.default_rng(K)
    values = {s.name: rng.standard_normal(s.shape) for s in (*As, *bs)}
    by_hand = backprop_by_hand(K, values)
    loss_fn = mg.compile(loss)
    for sym in (*As, *bs):
        grad = mg.derivative(loss, sym)
        assert grad.shape == sym.shape
        got = grad.evaluate(**values)
        close(got, by_hand[sym.name], rtol=1e-10, atol=1e-13)

        def vary(v, name=sym.name):
            return float(loss_fn(**{**values, name: v}))

        witness = numeric.gradient(vary, values[sym.name], method="richardson")
        assert mg.gradient_error(got, witness) < 1e-8


# ---- forward versus reverse accumulation (5.118)-(5.120) ------------------------------


def narrowing_chain():
    """R^1000 -> R^100 -> R^10 -> R: x -> tanh(A x) -> tanh(B .) -> c . (few outputs)."""
    A = mg.Matrix("A", (100, 1000))
    B = mg.Matrix("B", (10, 100))
    c = mg.Vector("c", 10)
    x = mg.Vector("x", 1000)
    return c @ mg.tanh(B @ mg.tanh(A @ x)), x


def widening_chain():
    """R -> R^10 -> R^100 -> R^1000, the mirror (few inputs)."""
    a = mg.Vector("a", 10)
    B = mg.Matrix("B", (100, 10))
    C = mg.Matrix("C", (1000, 100))
    s = mg.Scalar("s")
    return C @ mg.tanh(B @ mg.tanh(a * s)), s


def accumulation_flops(f, x):
    """Compiled.flops of the derivative accumulated strictly forward, strictly in
    reverse (no simplification, so no reordering), and matgrad's default."""
    forward = mg.compile(mg.derivative(f, x, mode="forward", simplify=False)).flops
    reverse = mg.compile(mg.derivative(f, x, mode="reverse", simplify=False)).flops
    auto = mg.compile(mg.derivative(f, x)).flops
    modes = {m: mg.compile(mg.derivative(f, x, mode=m)).flops for m in ("forward", "reverse")}
    return forward, reverse, auto, modes


def test_reverse_mode_wins_when_inputs_outnumber_outputs():
    f, x = narrowing_chain()
    forward, reverse, auto, modes = accumulation_flops(f, x)
    # measured (docs/tutorial.md): 2,332,440 / 404,550 / 404,550
    assert reverse * 5 < forward
    assert auto <= min(forward, reverse)
    assert modes == {"forward": auto, "reverse": auto}  # simplified: opt_einsum reorders
    assert mg.derivative(f, x, simplify=False) is mg.derivative(
        f, x, mode="reverse", simplify=False
    )


def test_forward_mode_wins_when_outputs_outnumber_inputs():
    f, s = widening_chain()
    forward, reverse, auto, modes = accumulation_flops(f, s)
    # measured (docs/tutorial.md): 204,560 / 2,132,450 / 204,560
    assert forward * 5 < reverse
    assert auto <= min(forward, reverse)
    assert modes == {"forward": auto, "reverse": auto}
    assert mg.derivative(f, s, simplify=False) is mg.derivative(
        f, s, mode="forward", simplify=False
    )


def test_forward_and_reverse_agree_numerically():
    f, x = narrowing_chain()
    rng = np.random.default_rng(120)
    vals = {"A": rng.standard_normal((100, 1000)) / 30, "B": rng.standard_normal((10, 100)) / 10,
            "c": rng.standard_normal(10), "x": rng.standard_normal(1000)}
    fwd = mg.derivative(f, x, mode="forward", simplify=False).evaluate(**vals)
    rev = mg.derivative(f, x, mode="reverse", simplify=False).evaluate(**vals)
    auto = mg.derivative(f, x).evaluate(**vals)
    close(fwd, rev)
    close(auto, rev)


# =====================================================================================
# 5.7 Higher-order derivatives
# =====================================================================================

FAMILIES = ("quadratic", "sum exp", "log(1 + x.x)", "tanh layer", "sigmoid*sin", "norm^3",
            "gaussian", "logdet(I + x x^T)")


def scalar_family(name, x, rng):
    n = x.shape[0]
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((n + 1, n)) / 2
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    return {
        "quadratic": lambda: x @ A @ x,  # A not symmetric: H = A + A^T
        "sum exp": lambda: mg.sum(mg.exp(B @ x)),
        "log(1 + x.x)": lambda: mg.log(1 + x @ x),
        "tanh layer": lambda: mg.sum(mg.tanh(B @ x + 0.5) ** 2),
        "sigmoid*sin": lambda: mg.sigmoid(a @ x) * mg.sin(b @ x),
        "norm^3": lambda: mg.norm(x) ** 3,
        "gaussian": lambda: mg.exp(-(x @ (A @ A.T + np.eye(n)) @ x) / 2),
        "logdet(I + x x^T)": lambda: mg.logdet(np.eye(n) + mg.outer(x, x)),
    }[name]()


@given(st.sampled_from(FAMILIES), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_hessian_is_symmetric(family, n, seed):
    """(5.145)-(5.146): mixed partials commute, H = H^T, for C^2 functions."""
    rng = np.random.default_rng(seed)
    x = mg.Vector("x", n)
    f = scalar_family(family, x, rng)
    H = mg.derivative(f, x, order=2)
    assert H.shape == (n, n)
    # entries of size 0.2 to 1: away from 0, where norm^3 is C^2 but not smooth (the
    # numerical witness's stencil must not straddle it)
    x0 = rng.uniform(0.2, 1.0, n) * rng.choice([-1.0, 1.0], n)
    h = at(H, x=x0)
    scale = max(1.0, float(np.abs(h).max()))
    np.testing.assert_allclose(h, h.T, rtol=0, atol=1e-12 * scale)
    witness = numeric.hessian(lambda v: float(mg.compile(f, [x])(v)), x0, method="richardson")
    np.testing.assert_allclose(h, witness, rtol=1e-6, atol=1e-6 * scale)


def test_hessian_wrt_a_matrix_is_symmetric_as_a_bilinear_form():
    """For f(X) = tr(X^T A X) + sum(sin X), H[i,j,k,l] = H[k,l,i,j]."""
    X = mg.Matrix("X", (3, 2))
    A = np.arange(9.0).reshape(3, 3) / 7
    H = mg.derivative(mg.trace(X.T @ A @ X) + mg.sum(mg.sin(X)), X, order=2)
    assert H.shape == (3, 2, 3, 2)
    h = H.evaluate(X=np.linspace(-1, 1, 6).reshape(3, 2))
    close(h, h.transpose(2, 3, 0, 1), atol=1e-14)


def test_hessian_of_a_vector_field_is_m_by_n_by_n():
    m, n = 3, 4
    rng = np.random.default_rng(57)
    A0 = rng.standard_normal((m, n))
    x = mg.Vector("x", n)
    H = mg.derivative(mg.tanh(A0 @ x), x, order=2)
    assert H.shape == (m, n, n)
    x0 = rng.standard_normal(n) / 2
    h = H.evaluate(x=x0)
    close(h, h.transpose(0, 2, 1), atol=1e-14)  # each component's Hessian is symmetric
    # d^2 tanh(z_i)/dx_j dx_k = -2 tanh(z_i)(1 - tanh(z_i)^2) A_ij A_ik
    t = np.tanh(A0 @ x0)
    close(h, np.einsum("i,ij,ik->ijk", -2 * t * (1 - t**2), A0, A0))
    close(mg.hessian(lambda v: np.tanh(A0 @ v))(x0), h)
    close(numeric.hessian(lambda v: np.tanh(A0 @ v), x0, method="richardson"), h, rtol=1e-7,
          atol=1e-9)


# =====================================================================================
# 5.8 Linearization
# =====================================================================================


def test_linearization_at_minus_2():
    """(5.147) at x0 = -2, as in Figure 5.12: exact at x0, error O((x - x0)^2)."""
    x = mg.Scalar("x")
    f = mg.sin(x) + mg.cos(x)
    L = mg.linearize(f, x, -2.0)
    slope = math.cos(-2.0) - math.sin(-2.0)
    for x1 in (-3.0, -2.0, -1.5, 0.0):
        close(L.evaluate(x=x1), math.sin(-2) + math.cos(-2) + slope * (x1 + 2))
    errors = [abs(float(L.evaluate(x=-2 + h)) - (math.sin(-2 + h) + math.cos(-2 + h)))
              for h in (0.1, 0.05)]
    assert 3.5 < errors[0] / errors[1] < 4.5
