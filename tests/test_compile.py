"""Evaluation (matgrad.compiler): every node kind against plain NumPy written here,
the structural shortcuts (deltas, ones, inv -> solve, adjugate) against their
unoptimized definitions, binding errors, dtypes, constants and the size guard."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matgrad import ops
from matgrad.compiler import (
    Compiled,
    compile,
    evaluate,
    get_max_elements,
    set_max_elements,
)
from matgrad.errors import BindingError, InvalidArgumentError, ShapeError
from matgrad.ir.expr import (
    Matrix,
    Scalar,
    Tensor,
    Vector,
    add,
    constant,
    delta,
    einsum_node,
    ones,
    zeros,
)
from matgrad.ops.structure import reshape

seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def well_conditioned(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal((n, n)) + 3 * n * np.eye(n)


def close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-10) -> None:
    assert isinstance(actual, np.ndarray)
    assert actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)


# =====================================================================================
# Every node kind against NumPy
# =====================================================================================


@given(seeds, sides, sides)
def test_quadratic_trace_and_matmul_chain(seed: int, n: int, m: int) -> None:
    rng = rng_of(seed)
    X, A = Matrix("X", (n, m)), Matrix("A", (n, n))
    X0, A0 = rng.standard_normal((n, m)), rng.standard_normal((n, n))
    g = compile(ops.trace(X.T @ A @ X), [X, A])
    close(g(X0, A0), np.trace(X0.T @ A0 @ X0))
    close(compile(X.T @ A @ X @ X.T)(A=A0, X=X0), X0.T @ A0 @ X0 @ X0.T)


@given(seeds, sides, sides)
def test_einsum_family(seed: int, n: int, m: int) -> None:
    rng = rng_of(seed)
    X, Y, x, y = Matrix("X", (n, m)), Matrix("Y", (n, m)), Vector("x", n), Vector("y", m)
    X0, Y0 = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    x0, y0 = rng.standard_normal(n), rng.standard_normal(m)
    b = {"X": X0, "Y": Y0, "x": x0, "y": y0}
    cases = [
        (ops.hadamard(X, Y), X0 * Y0),
        (ops.outer(x, y), np.outer(x0, y0)),
        (ops.sum(X, 0), X0.sum(0)),
        (ops.sum(X), X0.sum()),
        (x @ X @ y, x0 @ X0 @ y0),
        (ops.diag(x), np.diag(x0)),
        (ops.diag(X @ X.T), np.diag(X0 @ X0.T)),
        (ops.kron(X, Y.T), np.kron(X0, Y0.T)),
        (ops.einsum("ij,ij->i", X, Y), np.einsum("ij,ij->i", X0, Y0)),
        (ops.einsum("ij,kj,k->ik", X, Y, x), np.einsum("ij,kj,k->ik", X0, Y0, x0)),
        (X + x @ X, X0 + x0 @ X0),  # broadcasting through an all-ones operand
        (ops.mean(X, 1), X0.mean(1)),
    ]
    for expr, expected in cases:
        values = {s.name: b[s.name] for s in expr.symbols()}
        close(evaluate(expr, values), expected)


@given(seeds, sides)
def test_add_coefficients(seed: int, n: int) -> None:
    rng = rng_of(seed)
    X, Y = Matrix("X", (n, n)), Matrix("Y", (n, n))
    X0, Y0 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    close(compile(2.5 * X - Y.T + 3 * X @ Y)(X0, Y0), 2.5 * X0 - Y0.T + 3 * X0 @ Y0)
    close(compile(-X)(X0), -X0)
    close(compile(X - Y)(X0, Y0), X0 - Y0)
    close(compile(add([X, Y, X @ Y], [1, 1j, -1]))(X0, Y0), X0 + 1j * Y0 - X0 @ Y0)
    close(compile(add([X, Y], [-1, 1]))(X0, Y0), Y0 - X0)
    close(compile(add([X, Y.T], [-1, 1]))(X0, Y0), Y0.T - X0)


@given(seeds, sides, st.sampled_from(["exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign"]))
def test_elementwise(seed: int, n: int, fn: str) -> None:
    rng = rng_of(seed)
    x = Vector("x", n)
    x0 = rng.standard_normal(n)
    if fn in ("log", "sqrt"):
        x0 = np.abs(x0) + 0.1
    close(compile(getattr(ops, fn)(x))(x0), getattr(np, fn)(x0))


@given(seeds, sides, st.sampled_from([2.0, 3.0, -1.0, -2.0, 0.5, 1.5, -0.5]))
def test_power(seed: int, n: int, p: float) -> None:
    x = Vector("x", n)
    x0 = np.abs(rng_of(seed).standard_normal(n)) + 0.1
    close(compile(x**p)(x0), x0**p)


def test_sigmoid_is_stable_and_correct() -> None:
    x = Vector("x", 7)
    x0 = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compile(ops.sigmoid(x))(x0)
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x0))
    close(got, expected, rtol=1e-15)
    assert got[1] > 0  # relative accuracy in the tail, not 1 - 1
    z0 = np.array([0.3 + 0.2j, -1.0 + 2.0j, 0.5j, 2.0, -2.0, 0.1 - 0.1j, 1j])
    close(compile(ops.sigmoid(Vector("z", 7, dtype=complex)))(z0), 1 / (1 + np.exp(-z0)))


def test_documented_non_finite_values() -> None:
    x = Vector("x", 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isinf(compile(x**-1.0)(np.array([0.0, 1.0]))[0])
        assert np.isinf(compile(x**-2.0)(np.array([0.0, 1.0]))[0])
        assert np.isnan(compile(ops.log(x))(np.array([-1.0, 1.0]))[0])
    X = Matrix("X", (2, 2))
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert compile(ops.logdet(X))(singular) == -np.inf
    assert compile(ops.det(X))(singular) == 0.0


@given(seeds, sides)
def test_matrix_functions(seed: int, n: int) -> None:
    rng = rng_of(seed)
    X = Matrix("X", (n, n))
    X0 = rng.standard_normal((n, n)) + n * np.eye(n)
    close(compile(ops.inv(X))(X0), np.linalg.inv(X0))
    close(compile(ops.det(X))(X0), np.linalg.det(X0))
    close(compile(ops.logdet(X))(X0), np.log(abs(np.linalg.det(X0))))
    close(compile(ops.adj(X))(X0), np.linalg.det(X0) * np.linalg.inv(X0), rtol=1e-9)
    close(compile(ops.matrix_power(X, 3))(X0), np.linalg.matrix_power(X0, 3))


@given(seeds, sides, sides)
def test_reshape_constant_zero_ones(seed: int, n: int, m: int) -> None:
    rng = rng_of(seed)
    X = Matrix("X", (n, m))
    X0, C0 = rng.standard_normal((n, m)), rng.standard_normal((m, n))
    close(compile(reshape(X, (m, n)))(X0), X0.reshape(m, n))
    close(compile(X @ constant(C0))(X0), X0 @ C0)
    close(compile(X + zeros((n, m)))(X0), X0)
    close(compile(ones((n, m)))(), np.ones((n, m)))
    close(compile(2 * ones((n, m)) + X)(X0), 2 + X0)
    close(compile(delta(n) + X @ X.T)(X0), np.eye(n) + X0 @ X0.T)


# =====================================================================================
# Deltas and all-ones operands (never materialized) against np.einsum
# =====================================================================================


@given(seeds, sides, sides)
def test_surviving_delta_is_a_strided_write(seed: int, n: int, m: int) -> None:
    R = Matrix("R", (m, n))
    R0 = rng_of(seed).standard_normal((m, n))
    node = einsum_node([delta(n), R], [(0, 2), (3, 1)], (0, 1, 2, 3))
    g = compile(node)
    close(g(R0), np.einsum("ik,lj->ijkl", np.eye(n), R0))
    assert "diagonal-write" in [s.op for s in g.steps]
    assert g.constant_steps == 0  # no identity matrix is built
    # Two deltas: the Jacobian of X -> X, a constant.
    close(
        compile(einsum_node([delta(n), delta(m)], [(0, 2), (1, 3)], (0, 1, 2, 3)))(),
        np.einsum("ik,jl->ijkl", np.eye(n), np.eye(m)),
    )


_KINDS = st.sampled_from(["symbol", "symbol", "delta", "ones", "constant"])


@st.composite
def einsum_cases(draw: st.DrawFn) -> tuple[list[object], list[tuple[int, ...]], tuple[int, ...]]:
    """Random einsums mixing symbols, deltas, all-ones tensors and constants."""
    n_labels = draw(st.integers(1, 4))
    sizes = [draw(st.integers(1, 3)) for _ in range(n_labels)]
    n_ops = draw(st.integers(1, 4))
    operands: list[object] = []
    indices: list[tuple[int, ...]] = []
    for k in range(n_ops):
        kind = draw(_KINDS)
        if kind == "delta":
            i = draw(st.integers(0, n_labels - 1))
            j = draw(st.sampled_from([j for j in range(n_labels) if sizes[j] == sizes[i]]))
            operands.append(("delta", sizes[i]))
            indices.append((i, j))
            continue
        ix = tuple(draw(st.lists(st.integers(0, n_labels - 1), min_size=0, max_size=3)))
        operands.append((kind, tuple(sizes[i] for i in ix), k))
        indices.append(ix)
    used = sorted({i for ix in indices for i in ix})
    out = tuple(draw(st.permutations(used)))[: draw(st.integers(0, len(used)))]
    return operands, indices, out


@given(einsum_cases(), seeds)
def test_structural_einsums_match_numpy(case: tuple, seed: int) -> None:  # type: ignore[type-arg]
    operands, indices, out = case
    rng = rng_of(seed)
    exprs, arrays, bindings = [], [], {}
    for spec in operands:
        if spec[0] == "delta":
            exprs.append(delta(spec[1]))
            arrays.append(np.eye(spec[1]))
            continue
        kind, shape, k = spec
        value = rng.standard_normal(shape)
        if kind == "symbol":
            exprs.append(Tensor(f"T{k}", shape))
            bindings[f"T{k}"] = value
        elif kind == "ones":
            exprs.append(ones(shape))
            value = np.ones(shape)
        else:
            exprs.append(constant(value))
        arrays.append(value)
    letters = "abcd"
    subscripts = ",".join("".join(letters[i] for i in ix) for ix in indices)
    subscripts += "->" + "".join(letters[i] for i in out)
    expected = np.einsum(subscripts, *arrays)
    close(evaluate(einsum_node(exprs, indices, out), bindings), expected, rtol=1e-9)


def test_delta_and_ones_reductions() -> None:
    n, m = 3, 4
    x, X = Vector("x", m), Matrix("X", (n, m))
    x0, X0 = np.arange(1.0, m + 1), np.arange(1.0, n * m + 1).reshape(n, m)
    cases = [
        (einsum_node([delta(n), X], [(0, 1), (1, 2)], (0, 2)), X0),  # δ merged away
        (einsum_node([delta(n), x], [(1, 2), (0,)], (0,)), n * x0),  # Σ_ij δ_ij = n
        (einsum_node([delta(n), x], [(0, 1), (2,)], (0, 2)), np.ones((n, 1)) * x0),
        (einsum_node([X, ones((m,))], [(0, 1), (1,)], (0,)), X0.sum(1)),
        (einsum_node([x, ones((n,))], [(0,), (1,)], (0,)), n * x0),
        (einsum_node([x, ones((n,))], [(0,), (1,)], (1, 0)), np.ones((n, 1)) * x0),
    ]
    for expr, expected in cases:
        g = compile(expr)
        close(g(*[{"x": x0, "X": X0}[s.name] for s in g.symbols]), expected)


# =====================================================================================
# inv -> solve, adjugate, singular matrices
# =====================================================================================


@given(seeds, sides, sides)
def test_inverse_times_matrix_is_a_solve(seed: int, n: int, m: int) -> None:
    rng = rng_of(seed)
    X, B, a = Matrix("X", (n, n)), Matrix("B", (n, m)), Vector("a", n)
    X0, B0, a0 = well_conditioned(rng, n), rng.standard_normal((n, m)), rng.standard_normal(n)
    Xi = np.linalg.inv(X0)
    for expr, expected in [
        (ops.inv(X) @ B, Xi @ B0),
        (ops.solve(X, B), Xi @ B0),
        (a @ ops.inv(X), a0 @ Xi),  # contracted on the first index: solve(X.T, a)
        (a @ ops.inv(X) @ B, a0 @ Xi @ B0),
        (ops.trace(ops.inv(X) @ B @ B.T), np.trace(Xi @ B0 @ B0.T)),
    ]:
        g = compile(expr, [X, B, a])
        close(g(X0, B0, a0), expected, rtol=1e-10)
        ops_used = [s.op for s in g.steps]
        assert "solve" in ops_used and "inv" not in ops_used, g.explain()
        assert "solve" in g.explain()


def test_inverse_used_twice_is_computed_once() -> None:
    X, B = Matrix("X", (3, 3)), Matrix("B", (3, 3))
    X0, B0 = well_conditioned(rng_of(1), 3), rng_of(2).standard_normal((3, 3))
    g = compile(ops.inv(X) @ B + ops.inv(X), [X, B])
    close(g(X0, B0), np.linalg.inv(X0) @ B0 + np.linalg.inv(X0))
    assert [s.op for s in g.steps].count("inv") == 1
    g2 = compile(ops.trace(ops.inv(X)))  # a trace needs the diagonal, not a solve
    close(g2(X0), np.trace(np.linalg.inv(X0)))


def test_two_inverses_are_two_solves() -> None:
    X, Y, B = Matrix("X", (3, 3)), Matrix("Y", (3, 3)), Matrix("B", (3, 2))
    rng = rng_of(3)
    X0, Y0, B0 = well_conditioned(rng, 3), well_conditioned(rng, 3), rng.standard_normal((3, 2))
    expected = np.linalg.inv(X0) @ np.linalg.inv(Y0) @ B0
    for expr in (
        ops.inv(X) @ (ops.inv(Y) @ B),
        ops.einsum("ij,jk,kl->il", ops.inv(X), ops.inv(Y), B),
    ):
        g = compile(expr, [X, Y, B])
        close(g(X0, Y0, B0), expected)
        assert [s.op for s in g.steps] == ["solve", "solve"], g.explain()


def test_singular_inverse_raises() -> None:
    X, b = Matrix("X", (2, 2)), Vector("b", 2)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError):
        compile(ops.inv(X))(singular)
    with pytest.raises(np.linalg.LinAlgError):
        compile(ops.inv(X) @ b)(b=np.ones(2), X=singular)


def cofactor_adjugate(a: np.ndarray) -> np.ndarray:
    """adj(A)[j, i] = (-1)^(i+j) det(A without row i and column j)."""
    n = a.shape[0]
    out = np.empty_like(a)
    for i, j in itertools.product(range(n), range(n)):
        minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
        out[j, i] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


@given(seeds, st.integers(1, 5), st.integers(0, 2))
def test_adjugate_at_singular_matrices(seed: int, n: int, deficiency: int) -> None:
    rng = rng_of(seed)
    rank = max(n - deficiency, 0)
    X0 = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, n))
    X = Matrix("X", (n, n))
    got = compile(ops.adj(X))(X0)
    assert np.all(np.isfinite(got))
    close(got, cofactor_adjugate(X0), rtol=1e-9)


def test_adjugate_of_1x1_and_complex() -> None:
    close(compile(ops.adj(Matrix("X", (1, 1))))(np.array([[0.0]])), np.array([[1.0]]))
    Z = Matrix("Z", (3, 3), dtype=complex)
    Z0 = rng_of(4).standard_normal((3, 3)) + 1j * rng_of(5).standard_normal((3, 3))
    close(compile(ops.adj(Z))(Z0), cofactor_adjugate(Z0), rtol=1e-9)


# =====================================================================================
# Calling: bindings, positional and keyword, results
# =====================================================================================


def test_positional_and_keyword_calls() -> None:
    X, A, unused = Matrix("X", (2, 3)), Matrix("A", (2, 2)), Scalar("s")
    X0, A0 = np.arange(6.0).reshape(2, 3), np.array([[1.0, 2.0], [0.0, 1.0]])
    g = compile(X.T @ A @ X, [X, A, unused])
    expected = X0.T @ A0 @ X0
    close(g(X0, A0, 1.0), expected)
    close(g(X=X0, A=A0, s=2.0), expected)
    close(g(X0, s=0.0, A=A0), expected)
    close(compile(X.T @ A @ X)(A0, X0), expected)  # default order: sorted by name
    assert X.T.evaluate(X=X0).shape == (3, 2)
    assert isinstance(g, Compiled) and g.symbols == (X, A, unused)


def test_calls_past_the_generated_fast_path() -> None:
    """A plan's own ``__call__`` runs float64 arrays of the right shapes straight
    away and hands every other call to the general path: symbols named like the
    generated parameters bind by name, positional and keyword values mix, and
    what converts is converted (the expected values are NumPy's own)."""
    first, second = Matrix("v1", (2, 3)), Matrix("v0", (2, 2))  # names of its parameters
    g = compile(first.T @ second @ first, [first, second])
    F0, S0 = np.arange(6.0).reshape(2, 3), np.array([[1.0, 2.0], [0.0, 1.0]])
    expected = F0.T @ S0 @ F0
    close(g(F0, S0), expected)
    close(g(v1=F0, v0=S0), expected)
    close(g(v0=S0, v1=F0), expected)
    close(g(F0, v0=S0), expected)
    close(g(F0.tolist(), S0.astype(int)), expected)
    close(g(np.asfortranarray(F0), S0), expected)
    f32 = g(F0.astype(np.float32), S0.astype(np.float32))
    close(f32, expected, rtol=1e-6)
    with pytest.raises(BindingError, match="two values for 'v1'"):
        g(F0, v1=F0, v0=S0)
    with pytest.raises(BindingError, match="takes 2 values"):
        g(F0, S0, S0)
    with pytest.raises(BindingError, match=r"'v0' has shape \(3, 3\), expected \(2, 2\)"):
        g(F0, np.eye(3))
    assert isinstance(g, Compiled) and type(g).__name__ == "Compiled"
    assert type(g) is not type(compile(first.T @ first, [first]))  # one class per plan
    assert compile(constant(np.arange(3.0)))().tolist() == [0.0, 1.0, 2.0]  # no inputs
    with pytest.raises(BindingError):
        compile(constant(np.arange(3.0)))(np.ones(3))


def test_binding_errors() -> None:
    X, A = Matrix("X", (2, 2)), Matrix("A", (2, 2))
    S = Matrix("S", (2, 2), symmetric=True)
    g = compile(X @ A, [X, A])
    X0 = np.eye(2)
    with pytest.raises(BindingError, match=r"missing values for 'A' \(shape \(2, 2\)\)"):
        g(X0)
    with pytest.raises(BindingError, match="missing values for 'X'"):
        g(A=X0)
    with pytest.raises(BindingError, match="unknown symbol 'B'"):
        g(X0, X0, B=X0)
    with pytest.raises(BindingError, match="takes 2 values"):
        g(X0, X0, X0)
    with pytest.raises(BindingError, match="two values for 'X'"):
        g(X0, X0, X=X0)
    with pytest.raises(BindingError, match=r"'A' has shape \(3, 3\), expected \(2, 2\)"):
        g(X0, np.eye(3))
    with pytest.raises(BindingError, match="'S' is declared symmetric"):
        compile(S @ X)(S=np.array([[1.0, 2.0], [3.0, 4.0]]), X=X0)
    with pytest.raises(BindingError, match="not in `symbols`: 'A'"):
        compile(X @ A, [X])
    with pytest.raises(BindingError, match="unknown symbol 'B'"):
        (X @ A).evaluate(X=X0, A=X0, B=X0)
    with pytest.raises(BindingError, match="two different symbols are named 'X'"):
        compile(X @ A, [X, A, Vector("X", 2)])
    close(compile(S @ X)(S=np.array([[1.0, 2.0], [2.0, 4.0]]), X=X0), [[1, 2], [2, 4]])
    close(g(X0.tolist(), np.eye(2, dtype=int)), np.eye(2))  # converted like check_value


def test_result_never_aliases_inputs_or_constants() -> None:
    X = Matrix("X", (2, 2))
    X0 = np.eye(2)
    for expr in (X, X.T, reshape(X, (4,)), constant(np.ones(2))):
        g = compile(expr, [X])
        r = g(X0)
        r[...] = 7.0
        assert np.array_equal(X0, np.eye(2))
        assert not np.any(g(X0) == 7.0)


def test_shared_subexpressions_are_computed_once() -> None:
    X = Matrix("X", (3, 3))
    Y = X @ X
    g = compile(Y + Y.T)
    assert len(g.steps) == 3  # X @ X, its transpose, the sum
    X0 = rng_of(6).standard_normal((3, 3))
    close(g(X0), X0 @ X0 + (X0 @ X0).T)


def test_scalar_results_are_arrays() -> None:
    x = Vector("x", 3)
    r = compile(x @ x)(np.ones(3))
    assert isinstance(r, np.ndarray) and r.shape == () and r == 3.0
    assert isinstance(compile(ops.det(Matrix("X", (2, 2))))(np.eye(2)), np.ndarray)


# =====================================================================================
# dtypes
# =====================================================================================


def test_float32_is_preserved() -> None:
    X, A = Matrix("X", (3, 3), dtype=np.float32), Matrix("A", (3, 3), dtype=np.float32)
    X0 = well_conditioned(rng_of(7), 3).astype(np.float32)
    A0 = rng_of(8).standard_normal((3, 3)).astype(np.float32)
    b = Vector("b", 3, dtype=np.float32)
    for expr in [
        ops.trace(X.T @ A @ X),
        2.5 * X - A,
        ops.tanh(X) + ops.sigmoid(A),
        X**2.0,
        ops.abs(X) ** -1.5,
        ops.inv(X),
        ops.inv(X) @ b,
        ops.logdet(X),
        ops.det(X),
        ops.adj(X),
        einsum_node([delta(3, np.float32), X], [(0, 2), (3, 1)], (0, 1, 2, 3)),
    ]:
        g = compile(expr, [X, A, b])
        assert g(X0, A0, np.ones(3, np.float32)).dtype == np.float32, g.explain()


def test_complex_values() -> None:
    X = Matrix("X", (2, 2))
    X0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    r = compile(add([X], [1j]))(X0)
    assert r.dtype == np.complex128
    close(r, 1j * X0)
    Z = Matrix("Z", (2, 2), dtype=complex)
    Z0 = X0 + 1j * X0.T
    close(compile(ops.inv(Z) @ Z.T)(Z0), np.linalg.inv(Z0) @ Z0.T)
    close(compile(ops.logdet(Z))(Z0), np.log(abs(np.linalg.det(Z0))))


# =====================================================================================
# Planning: constants, size guard, explain
# =====================================================================================


def test_constants_are_precomputed() -> None:
    C1, C2 = constant(np.arange(9.0).reshape(3, 3)), constant(np.eye(3) * 2)
    X = Matrix("X", (3, 3))
    g = compile(ops.inv(C1 @ C1.T + C2) @ X)
    assert len(g.steps) == 1 and g.constant_steps >= 3
    M = np.arange(9.0).reshape(3, 3)
    X0 = rng_of(9).standard_normal((3, 3))
    close(g(X0), np.linalg.inv(M @ M.T + 2 * np.eye(3)) @ X0)
    only_constants = compile(ops.det(C1 @ C1.T + C2))
    assert only_constants.steps == () and only_constants.flops == 0
    close(only_constants(), np.linalg.det(M @ M.T + 2 * np.eye(3)))


def test_size_guard_refuses_before_allocating() -> None:
    x = Vector("x", 20_000)
    with pytest.raises(ShapeError, match=r"400000000 elements.*max_elements=100000000"):
        compile(ops.outer(x, x))
    y = Vector("y", 100)
    with pytest.raises(ShapeError, match="einsum node of shape"):
        compile(ops.outer(y, y), max_elements=1000)
    old = get_max_elements()
    try:
        set_max_elements(50)
        with pytest.raises(ShapeError):
            compile(Vector("z", 51) * 2.0)
        with pytest.raises(ShapeError):  # an all-ones tensor would be materialized
            compile(ones((10, 10)))
    finally:
        set_max_elements(old)
    with pytest.raises(InvalidArgumentError):
        set_max_elements(0)
    # Structural operands are never allocated: a big delta merged away is fine.
    z = Vector("z", 5000)
    close(
        compile(einsum_node([delta(5000), z], [(0, 1), (1,)], (0,)), max_elements=10**4)(
            np.ones(5000)
        ),
        np.ones(5000),
    )


def test_explain_and_flops() -> None:
    X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
    g = compile(ops.trace(X.T @ A @ X), [X, A])
    text = g.explain()
    assert "flops" in text and "path" in text and "einsum" in text
    assert f"total: {len(g.steps)} steps, {g.flops} flops" in text
    assert isinstance(g.flops, int) and g.flops > 0
    assert "Compiled" in repr(g)


def test_evaluate_hook_caches_the_plan() -> None:
    X = Matrix("X", (2, 2))
    f = X @ X
    assert np.array_equal(f.evaluate(X=np.eye(2)), np.eye(2))
    cached = [v for k, v in f._memo.items() if k.startswith("compiled")]
    assert len(cached) == 1
    f.evaluate(X=2 * np.eye(2))
    assert [v for k, v in f._memo.items() if k.startswith("compiled")] == cached


def test_sums_of_large_terms_accumulate_in_place_safely() -> None:
    n = 80
    x, y = Vector("x", n), Vector("y", n)
    Y, Z = ops.outer(x, x), ops.outer(y, y)
    S = Y + 2.0 * Z
    g = compile((S @ Y) - Y.T, [x, y])
    x0, y0 = rng_of(10).standard_normal(n), rng_of(11).standard_normal(n)
    Y0, Z0 = np.outer(x0, x0), np.outer(y0, y0)
    close(g(x0, y0), (Y0 + 2 * Z0) @ Y0 - Y0.T)
    assert "(into s" in g.explain()
    close(g(x0, y0), (Y0 + 2 * Z0) @ Y0 - Y0.T)  # nothing cached was overwritten
    # A delta Jacobian, d(RᵀR)/dR: two strided writes summed into one buffer.
    m, k = 6, 5
    R = Matrix("R", (m, k))
    J = einsum_node([delta(k), R], [(1, 3), (2, 0)], (0, 1, 2, 3)) + einsum_node(
        [delta(k), R], [(0, 3), (2, 1)], (0, 1, 2, 3)
    )
    R0 = rng_of(12).standard_normal((m, k))
    eye = np.eye(k)
    expected = np.einsum("bd,ca->abcd", eye, R0) + np.einsum("ad,cb->abcd", eye, R0)
    close(compile(J)(R0), expected)


def test_several_expressions_compile_into_one_plan() -> None:
    X, A = Matrix("X", (3, 3)), Matrix("A", (3, 3))
    g = compile([ops.trace(X.T @ A @ X), X.T @ A @ X, A], [X, A])
    X0, A0 = rng_of(13).standard_normal((3, 3)), rng_of(14).standard_normal((3, 3))
    value, product, same = g(X0, A0)
    close(value, np.trace(X0.T @ A0 @ X0))
    close(product, X0.T @ A0 @ X0)
    close(same, A0)
    assert same is not A0  # results never alias inputs
    assert g.largest == 9 and "results:" in g.explain()
    assert compile(X @ A, [X, A], max_elements=9).largest == 9
    with pytest.raises(InvalidArgumentError, match="sequence"):
        compile([])


@pytest.mark.parametrize("arity", [1, 2, 3, 5])
def test_fast_path_takes_only_exact_float64_arrays_and_checks_the_rest(arity: int) -> None:
    """A call whose arguments are float64 ndarrays of the right shapes skips the
    checks; anything else (another shape, integers, lists, float32, a subclass,
    big-endian, object arrays, the wrong number) goes through them as before."""
    syms = [Matrix(f"M{k}", (2, 3)) for k in range(arity)]
    total = add(syms, [float(k + 1) for k in range(arity)])
    single, pair = compile(total, syms), compile([total, syms[0]], syms)
    rng = rng_of(arity)
    vals = [rng.standard_normal((2, 3)) for _ in range(arity)]
    want = sum((k + 1) * v for k, v in enumerate(vals))
    for call in (single, lambda *a: pair(*a)[0]):
        close(call(*vals), want)
        close(call(*[v.T.copy().T for v in vals]), want)  # non-contiguous: still fine
        close(call(*[v.tolist() for v in vals]), want)
        ints = [np.arange(6).reshape(2, 3) + k for k in range(arity)]
        close(call(*ints), sum((k + 1) * v for k, v in enumerate(ints)))
        assert call(*[v.astype(np.float32) for v in vals]).dtype == np.float32
        close(call(*[v.astype(">f8") for v in vals]), want)
        close(call(*[v.view(np.ma.MaskedArray) for v in vals]), want)
        with pytest.raises(BindingError, match=rf"'M{arity - 1}' has shape \(3, 2\), expected"):
            call(*vals[:-1], vals[-1].T)
        with pytest.raises(BindingError, match=r"'M0' has shape \(6,\), expected \(2, 3\)"):
            call(vals[0].ravel(), *vals[1:])
        with pytest.raises(BindingError, match="must be numeric"):
            call(*vals[:-1], vals[-1].astype(object))
        with pytest.raises(BindingError, match=f"takes {arity} values"):
            call(*vals, vals[0])
        with pytest.raises(BindingError, match="missing values"):
            call(*vals[:-1])
    out = pair(*vals)
    assert out[1] is not vals[0] and np.array_equal(out[1], vals[0])


def test_fast_path_still_checks_symmetric_inputs() -> None:
    S, X = Matrix("S", (2, 2), symmetric=True), Matrix("X", (2, 2))
    g = compile(S @ X, [S, X])
    with pytest.raises(BindingError, match="'S' is declared symmetric"):
        g(np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2))
    close(g(np.array([[1.0, 2.0], [2.0, 4.0]]), np.eye(2)), [[1, 2], [2, 4]])


def test_generated_call_agrees_with_the_checked_path() -> None:
    """The plan runs as generated straight-line code: its own ``__call__`` and its
    unchecked entry ``done()`` return what the checked path returns — copies
    where a result is an input, a constant or another result's array, a 0-d
    array for a scalar, a transposed view read in place, large intermediates
    released — and anything but float64 arrays of the right shapes takes the
    checked path, which converts or raises."""
    X, A = Matrix("X", (40, 40)), Matrix("A", (40, 40))
    rng = rng_of(7)
    X0, A0 = rng.standard_normal((40, 40)), rng.standard_normal((40, 40))
    C0 = rng.standard_normal((40, 40))
    exprs = [ops.trace(X.T @ A @ X), X, X.T @ A + constant(C0), constant(C0), X]
    plan = compile(exprs, [X, A])
    by_numpy = [np.trace(X0.T @ A0 @ X0), X0, X0.T @ A0 + C0, C0, X0]
    done = plan.done()
    assert done is not None and plan.done() is done  # compiled once, when asked for
    checked = plan(X0, A0.tolist())  # a list: the checked path
    for results in (done(X0, A0), checked, plan(X0, A0)):
        assert isinstance(results, tuple) and len(results) == 5
        for got, want in zip(results, by_numpy):
            assert type(got) is np.ndarray
            close(got, want)
        assert results[1] is not X0 and results[4] is not X0 and results[1] is not results[4]
        assert not np.shares_memory(results[3], C0)
    single = compile(ops.trace(X.T @ A @ X), [X, A])
    value = single(X0, A0)
    assert type(value) is np.ndarray and value.shape == ()
    close(value, np.trace(X0.T @ A0 @ X0))
    with pytest.raises(BindingError, match="has shape"):  # another shape: the checked path
        single(X0, A0[:, :3])
    close(single(X0.astype(np.float32), A0), np.trace(X0.T @ A0 @ X0), rtol=1e-5)
    with pytest.raises(BindingError, match="missing values"):
        single(X0)
    identity = compile(X, [X])
    for copied in (identity(X0), identity.done()(X0)):  # type: ignore[misc]
        assert copied is not X0 and np.array_equal(copied, X0)
    empty = compile([constant(C0)], [])  # no inputs: constants only
    (only,) = empty()
    assert only is not C0 and np.array_equal(only, C0)


def test_two_transpositions_of_one_intermediate_in_one_step() -> None:
    """Both operands of a sum read the same intermediate through different axis
    permutations (views): each keeps its own permutation."""
    X = Matrix("X", (3, 3))
    outer = ops.einsum("ab,cd->abcd", X, X)
    expr = ops.einsum("abcd->cabd", outer) + ops.einsum("abcd->dabc", outer)
    X0 = rng_of(11).standard_normal((3, 3))
    T = np.einsum("ab,cd->abcd", X0, X0)
    want = np.transpose(T, (2, 0, 1, 3)) + np.transpose(T, (3, 0, 1, 2))
    plan = compile(expr, [X])
    close(plan(X0), want)
    close(plan(X0.tolist()), want)


def test_symbol_names_never_reach_the_generated_code() -> None:
    """The plan runs as generated Python: its source holds generated identifiers
    only, user text (a symbol's name) stays data in its namespace."""
    X = Matrix('X"); raise SystemExit("', (2, 2))
    Y = Matrix("__import__('os').getcwd()", (2, 2))
    f = compile(ops.trace(X @ Y), [X, Y])
    assert float(f(np.eye(2), 2 * np.eye(2))) == 4.0
    assert float(f(np.eye(2).tolist(), 2 * np.eye(2))) == 4.0  # the checked path too
