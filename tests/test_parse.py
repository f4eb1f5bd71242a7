"""The expression language (matgrad.language.parse) and the claim checker (matgrad.language.claims).

* semantics: each construct against NumPy at random inputs;
* shape inference: ranks from shapes, use and names; unification; defaults;
* errors: located, with a caret and a hint; limits of length and depth;
* properties: arbitrary text parses or raises ParseError/ShapeError and nothing
  else; generated formulas mean what NumPy says; printouts parse back to the same
  values (also for the core's random-expression fuzzer, whenever they parse);
* check_claim: correct claims and each recognised mistake.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matgrad as mg
from matgrad.errors import InvalidArgumentError, ParseError, ShapeError
from matgrad.language.claims import numeric_check, random_values
from matgrad.language.parse import (
    MAX_DEPTH,
    MAX_LENGTH,
    LocatedParseError,
    LocatedShapeError,
    parse_expression,
    symbol_names,
)

N = 3
SHAPES: dict[str, tuple[int, ...]] = {
    "s": (), "t": (), "x": (N,), "y": (N,), "a": (N,), "b": (N,),
    "A": (N, N), "B": (N, N), "X": (N, N), "C": (N, 2),
}
Values = dict[str, np.ndarray]


def draw_values(seed: int) -> Values:
    rng = np.random.default_rng(seed)
    values = {name: rng.standard_normal(shape) for name, shape in SHAPES.items()}
    values["X"] = N * np.eye(N) + rng.uniform(-0.5, 0.5, (N, N))  # well-conditioned
    values["P"] = rng.uniform(0.5, 1.5, (N, N))  # positive entries
    values["p"] = rng.uniform(0.5, 1.5, N)
    return values


def evaluate(expr: mg.Expr, values: Values) -> np.ndarray:
    return np.asarray(expr.evaluate(**{s.name: values[s.name] for s in expr.symbols()}))


def close(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-9 * scale))


ALL_SHAPES = {**SHAPES, "P": (N, N), "p": (N,)}

# ---------------------------------------------------------------------------------------
# semantics
# ---------------------------------------------------------------------------------------

inv = np.linalg.inv
SEMANTICS: list[tuple[str, Callable[[Values], Any]]] = [
    ("tr(X'*A*X)", lambda v: np.trace(v["X"].T @ v["A"] @ v["X"])),
    ("trace(X.T @ A @ X)", lambda v: np.trace(v["X"].T @ v["A"] @ v["X"])),
    ("x'*A*x", lambda v: v["x"] @ v["A"] @ v["x"]),
    ("x @ A @ x", lambda v: v["x"] @ v["A"] @ v["x"]),
    ("A*x", lambda v: v["A"] @ v["x"]),
    ("x'*A", lambda v: v["x"] @ v["A"]),
    ("x*y'", lambda v: np.outer(v["x"], v["y"])),
    ("x'*y", lambda v: v["x"] @ v["y"]),
    ("a'*inv(X)*b", lambda v: v["a"] @ inv(v["X"]) @ v["b"]),
    ("logdet(X) + det(X)", lambda v: np.log(abs(np.linalg.det(v["X"]))) + np.linalg.det(v["X"])),
    ("sum(exp(A*x))", lambda v: np.sum(np.exp(v["A"] @ v["x"]))),
    ("norm2(A*x - b)^2", lambda v: np.linalg.norm(v["A"] @ v["x"] - v["b"]) ** 2),
    ("(A*x-b)'*(A*x-b)", lambda v: (v["A"] @ v["x"] - v["b"]) @ (v["A"] @ v["x"] - v["b"])),
    ("x .* y + x ⊙ y", lambda v: 2 * v["x"] * v["y"]),
    ("A .* B - B ⊙ A", lambda v: 0 * v["A"]),
    ("A ./ P + x'*y / 2 * s", lambda v: v["A"] / v["P"] + v["x"] @ v["y"] / 2 * v["s"]),
    ("s*A*x", lambda v: v["s"] * v["A"] @ v["x"]),
    ("A / s", lambda v: v["A"] / v["s"]),
    ("1/p + p.^-1 + p**-1", lambda v: 3 / v["p"]),
    ("-x^2", lambda v: -(v["x"] ** 2)),
    ("2^-1 * x", lambda v: 0.5 * v["x"]),
    ("x^2^1", lambda v: v["x"] ** 2),
    ("A^2", lambda v: v["A"] ** 2),
    ("X^2 - X .^ 2", lambda v: 0 * v["X"]),
    ("inv(X)' * X'", lambda v: np.eye(N)),
    ("Xᵀ * A", lambda v: v["X"].T @ v["A"]),
    ("X'' - X", lambda v: 0 * v["X"]),
    ("diag(x)*A + diag(diag(A))", lambda v: np.diag(v["x"]) @ v["A"] + np.diag(np.diag(v["A"]))),
    ("sum(C, axis=1) + sum(A, 0)", lambda v: v["C"].sum(axis=1) + v["A"].sum(axis=0)),
    ("mean(A) + mean(C, axis=-1)'*x", lambda v: v["A"].mean() + v["C"].mean(axis=-1) @ v["x"]),
    ("A @ B - A*B", lambda v: 0 * v["A"]),
    ("kron(A, B) - A ⊗ B", lambda v: 0 * np.kron(v["A"], v["B"])),
    ('einsum("ij,jk->ik", A, B) + einsum("ij,jk", B, A)',
     lambda v: v["A"] @ v["B"] + v["B"] @ v["A"]),
    ("ones((3, 3))*x + ones(3) - zeros(3)", lambda v: np.full(N, v["x"].sum()) + 1),
    ("I + A - A*I", lambda v: np.eye(N)),
    ("2*pi*s", lambda v: 2 * np.pi * v["s"]),
    ("matrix_power(X, 2) - X*X + matrix_power(X, -1) - inv(X)", lambda v: 0 * v["X"]),
    ("solve(X, b) - inv(X)*b", lambda v: 0 * v["b"]),
    ("outer(x, y) + hadamard(A, B) + matmul(A, B) + dot(s, A) + transpose(A)",
     lambda v: np.outer(v["x"], v["y"]) + v["A"] * v["B"] + v["A"] @ v["B"] + v["s"] * v["A"]
     + v["A"].T),
    ("power(p, 0.5) - sqrt(p)", lambda v: 0 * v["p"]),
    ("sigmoid(x) + tanh(x) + sin(x) + cos(x) + abs(x) + sign(x) + log(p) + exp(x)",
     lambda v: 1 / (1 + np.exp(-v["x"])) + np.tanh(v["x"]) + np.sin(v["x"]) + np.cos(v["x"])
     + abs(v["x"]) + np.sign(v["x"]) + np.log(v["p"]) + np.exp(v["x"])),
    ("norm(A) + norm2(x)", lambda v: np.linalg.norm(v["A"]) + np.linalg.norm(v["x"])),
    ("adj(X) - det(X)*inv(X)", lambda v: 0 * v["X"]),
    ("array([[1, 2], [3, 4.5]]) * C' * x", lambda v: np.array([[1, 2], [3, 4.5]]) @ v["C"].T
     @ v["x"]),
    ("1e-3*x + .5e1*x + 2.*x + 1.5E+0*x", lambda v: (0.001 + 5 + 2 + 1.5) * v["x"]),
    ("x - x", lambda v: np.zeros(N)),
    ("1 + 2*3 - 4/2", lambda v: 5.0),
]


@pytest.mark.parametrize(("text", "reference"), SEMANTICS, ids=[t for t, _ in SEMANTICS])
def test_semantics_agree_with_numpy(text: str, reference: Callable[[Values], Any]) -> None:
    expr = mg.parse(text, ALL_SHAPES)
    for seed in (0, 1):
        values = draw_values(seed)
        assert close(evaluate(expr, values), reference(values)), (text, str(expr))


def test_precedence() -> None:
    v = draw_values(3)
    cases = {
        "-x^2 + x'*x": -(v["x"] ** 2) + v["x"] @ v["x"],
        "s*A*x - A*x*s": 0 * v["x"],
        "2 + 3*s^2": 2 + 3 * v["s"] ** 2,
        "(2 + 3)*s": 5 * v["s"],
        "s - t - s": -v["t"],
        "s / t / s": 1 / v["t"],
        "x'^2": v["x"] ** 2,
        "--s": v["s"],
        "-(-s)": v["s"],
        "+s": v["s"],
        "2^3^2 * s": 512 * v["s"],
    }
    for text, want in cases.items():
        assert close(evaluate(mg.parse(text, SHAPES), v), want), text


# ---------------------------------------------------------------------------------------
# shape inference
# ---------------------------------------------------------------------------------------


def shapes_of(text: str, shapes: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {n: s.shape for n, s in parse_expression(text, shapes, **kw).symbols.items()}


def test_ranks_from_names() -> None:
    assert shapes_of("x'*A*x") == {"x": (3,), "A": (3, 3)}
    assert shapes_of("alpha*x + lambda*y + α*z") == {
        "alpha": (), "x": (3,), "lambda": (), "y": (3,), "α": (), "z": (3,)
    }
    assert shapes_of("tr(X'*A*X)") == {"X": (3, 3), "A": (3, 3)}


def test_ranks_from_use() -> None:
    assert shapes_of("tr(x)") == {"x": (3, 3)}             # tr needs a matrix
    assert shapes_of("outer(U, V)") == {"U": (3,), "V": (3,)}
    assert shapes_of("s*A") == {"s": (), "A": (3, 3)}      # a column times a matrix fails
    assert shapes_of("w'*x + beta") == {"w": (3,), "x": (3,), "beta": ()}
    # a scalar term broadcasts, so use does not make b a scalar: its name makes it a vector
    assert shapes_of("w'*x + b") == {"w": (3,), "x": (3,), "b": (3,)}
    assert shapes_of('einsum("ijk->k", t)') == {"t": (3, 3, 3)}


def test_dimensions_unify_and_default() -> None:
    assert shapes_of("A*x", {"A": (2, 4)}) == {"A": (2, 4), "x": (4,)}
    assert shapes_of("x'*A*y", {"x": (5,)}) == {"x": (5,), "A": (5, 3), "y": (3,)}
    assert shapes_of("A*B*C", {"A": (2, 3), "C": (4, 5)}) == {
        "A": (2, 3), "B": (3, 4), "C": (4, 5)
    }
    assert shapes_of("tr(A*B)", {"A": (2, 7)}) == {"A": (2, 7), "B": (7, 2)}
    assert shapes_of("X + Y", default_size=5) == {"X": (5, 5), "Y": (5, 5)}
    assert shapes_of("kron(A, B) + C", {"A": (2, 2), "C": (6, 4)}) == {
        "A": (2, 2), "B": (3, 2), "C": (6, 4)
    }
    assert shapes_of("kron(A, B)*x", {"x": (12,), "A": (3, 4)}) == {
        "A": (3, 4), "B": (3, 3), "x": (12,)
    }
    assert shapes_of('einsum("ij,jk->ik", A, B)', {"A": (2, 5)}) == {"A": (2, 5), "B": (5, 3)}
    assert shapes_of("sum(M, axis=1) + v", {"M": (4, 2)}) == {"M": (4, 2), "v": (4,)}
    assert shapes_of("I*A", {"A": (4, 2)}) == {"A": (4, 2)}
    assert mg.parse("I*A + I", {"A": (4, 4)}).shape == (4, 4)


def test_symmetric_and_spd_are_square_symmetric_symbols() -> None:
    f = mg.parse("tr(A*S) + logdet(P)", {"A": (4, 4)}, symmetric=["S"], spd=["P"])
    syms = {s.name: s for s in f.symbols()}
    assert syms["S"].symmetric and syms["P"].symmetric and not syms["A"].symmetric
    assert syms["S"].shape == (4, 4)
    assert mg.parse("S*x", symmetric=["S", "unused"]).shape == (3,)   # unknown names ignored
    with pytest.raises(ShapeError, match="declared symmetric"):
        mg.parse("S", {"S": (2, 3)}, symmetric=["S"])


def test_reserved_names_can_be_symbols_when_given_shapes() -> None:
    assert mg.parse("I + A").symbols() == (mg.Matrix("A", (3, 3)),)
    assert [s.name for s in mg.parse("I + A", {"I": (3, 3)}).symbols()] == ["A", "I"]
    assert [s.name for s in mg.parse("pi*x", {"pi": ()}).symbols()] == ["pi", "x"]


def test_parsed_record_lists_cancelled_symbols() -> None:
    parsed = parse_expression("x - x + 0*A*y", {"A": (2, 4)})
    assert dict((n, s.shape) for n, s in parsed.symbols.items()) == {
        "x": (2,), "A": (2, 4), "y": (4,)
    }
    assert parsed.expr.symbols() == ()


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], type[Exception], str, int]] = [
    # text, shapes, error, message fragment, column (1-based) of the caret
    ("tr(X'*A", {}, ParseError, "expected ',' or ')'", 8),
    ("(x + y", {}, ParseError, "expected ')'", 7),
    ("x + y)", {}, ParseError, "no matching '('", 6),
    ("foo(x)", {}, ParseError, "unknown function 'foo'; known: abs, adj", 1),
    ("tr(X$)", {}, ParseError, "unexpected character '$'", 5),
    ("2x", {}, ParseError, "write '*' between", 2),
    ("", {}, ParseError, "empty expression", 1),
    ("x +", {}, ParseError, "unexpected the end", 4),
    ("X^-1", {}, ParseError, "write inv(X) for the inverse", 2),
    ("x^y", {}, ParseError, "exponent must be a constant", 3),
    ("x/0", {}, ParseError, "division by zero", 2),
    ("1/(2-2)", {}, ParseError, "division by zero", 2),
    ("1e999", {}, ParseError, "too large", 1),
    ("10^400", {}, ParseError, "not a finite real number", 1),
    ("tr", {}, ParseError, "'tr' is a function", 1),
    ("tr(A, B)", {}, ParseError, "tr takes 1 argument, got 2", 1),
    ("sum(A, foo=1)", {}, ParseError, "sum takes no argument 'foo'", 8),
    ("sum(A, axis=s)", {}, ParseError, "axis must be an integer", 13),
    ('"ij" + x', {}, ParseError, "a string is only allowed", 1),
    ("(1, 2)", {}, ParseError, "a tuple is only allowed", 1),
    ('einsum("i$j", A)', {}, ParseError, "invalid einsum subscripts", 8),
    ('einsum("ij,jk", A)', {}, ParseError, "name 2 operand(s) but 1", 8),
    ('"abc', {}, ParseError, "unterminated string", 1),
    ("array([[1, 2], [3]])", {}, ParseError, "rows of the array", 7),
    ("tr(X)", {"X": (2, 3)}, ShapeError, "tr needs a square matrix; X has shape (2, 3)", 1),
    ("X'*A", {"X": (3, 4), "A": (2, 2)}, ShapeError,
     "cannot multiply X' (shape (4, 3)) by A (shape (2, 2)): inner dimensions 3 and 2", 3),
    ("X + Y", {"X": (3, 4), "Y": (4, 3)}, ShapeError, "cannot add X (shape (3, 4))", 3),
    ("x*y", SHAPES, ShapeError, "x'*y is the inner product", 2),
    ("x*A", SHAPES, ShapeError, "transpose the vector", 2),
    ("A*x'", SHAPES, ShapeError, "by the row vector", 2),
    ("s @ A", SHAPES, ShapeError, "@ needs vectors or matrices", 3),
    ("sum(A, axis=2)", SHAPES, ShapeError, "axis 2 is out of range", 13),
    ("outer(A, x)", SHAPES, ShapeError, "outer needs two vectors", 1),
    ("A ⊗ x", SHAPES, ShapeError, "needs two matrices", 3),
    ("kron(A, B) + C", {"A": (2, 2), "B": (3, 3), "C": (5, 5)}, ShapeError,
     "Kronecker product A, B has a dimension 2 × 3", 6),
    ('einsum("ij,jk", A, x)', SHAPES, ShapeError, "has 1 axes but its subscripts 'jk'", 20),
    ("solve(A, C')", SHAPES, ShapeError, "as many rows as A", 1),
    ("diag(s)", SHAPES, ShapeError, "diag needs a vector or a square matrix", 1),
]


@pytest.mark.parametrize(
    ("text", "shapes", "error", "fragment", "column"), ERRORS, ids=[e[0] or "empty" for e in ERRORS]
)
def test_errors_are_located(
    text: str, shapes: dict[str, Any], error: type[Exception], fragment: str, column: int
) -> None:
    with pytest.raises(error) as info:
        mg.parse(text, shapes)
    err = info.value
    assert isinstance(err, (LocatedParseError, LocatedShapeError))
    message = str(err)
    assert fragment in message, message
    assert err.position == column - 1, message
    first, shown, carets = message.splitlines()[:3]
    assert first.endswith(f"(column {column})")
    assert shown == "    " + text
    assert carets.index("^") == 4 + column - 1, message
    if isinstance(err, LocatedShapeError) and any(n in text for n in shapes):
        assert "symbols: " in message


def test_shape_errors_name_symbols_and_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        mg.parse("A*B + C", {"A": (2, 3), "B": (3, 4), "C": (4, 4)})
    message = str(info.value)
    assert "cannot add A*B (shape (2, 4)) and C (shape (4, 4))" in message
    assert "symbols: A (2, 3), B (3, 4), C (4, 4)" in message


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        mg.parse(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        mg.parse("x", {"x": (0,)})
    with pytest.raises(InvalidArgumentError):
        mg.parse("x", {"x": "3"})
    with pytest.raises(InvalidArgumentError):
        mg.parse("x", default_size=0)


def test_long_text_is_refused_and_windowed() -> None:
    long_sum = "+".join(["x"] * (MAX_LENGTH // 2))
    assert mg.parse(long_sum).shape == (3,)
    with pytest.raises(ParseError, match="too long"):
        mg.parse("x+" * MAX_LENGTH + "x")
    with pytest.raises(ParseError) as info:
        mg.parse("x + " * 100 + "$" + " + x" * 100)
    shown, carets = str(info.value).splitlines()[1:3]
    assert len(shown) < 90 and shown[carets.index("^")] == "$"


def test_deep_nesting_is_bounded() -> None:
    assert mg.parse("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH).shape == (3,)
    assert mg.parse("exp(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH).shape == (3,)
    assert mg.parse("-" * 5000 + "x").shape == (3,)  # signs are read in a loop
    for text in ["(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), "(" * 100_000,
                 "x^" * (MAX_DEPTH + 1) + "2", "-(" * (MAX_DEPTH // 2 + 1) + "x"]:
        with pytest.raises(ParseError, match="nested too deeply"):
            mg.parse(text[:MAX_LENGTH])


def test_deep_nesting_from_a_deep_caller_is_a_parse_error() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        with pytest.raises(ParseError, match="nested too deeply"):
            mg.parse("exp(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)
    finally:
        sys.setrecursionlimit(limit)


def test_rank_search_is_bounded() -> None:
    """Many undecided symbols that cannot fit: the preferred ranks' error, quickly."""
    text = "*".join(f"v{k}" for k in range(40)) + "*x*y'"
    with pytest.raises(ShapeError, match="two column vectors"):
        mg.parse(text)


# ---------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------

EXAMPLES = settings.default.max_examples  # of the loaded profile ("default" or "fuzz")
TOKENS = [
    "x", "y", "A", "X", "s", "alpha", "I", "pi", "2", "0.5", "1e-3", "+", "-", "*", "/", "@",
    "^", "**", ".*", "./", ".^", "⊙", "⊗", "'", ".T", "ᵀ", "(", ")", "[", "]", ",", "=", " ",
    "tr(", "inv(", "det(", "logdet(", "exp(", "sum(", "diag(", "norm2(", "outer(", "kron(",
    "einsum(", '"ij,jk->ik"', "axis=", "ones(", "array(", "foo(", "$", '"', ";",
]


def parses_or_fails_cleanly(text: str) -> None:
    try:
        expr = mg.parse(text)
    except (ParseError, ShapeError) as err:
        assert str(err)
        return
    assert isinstance(expr, mg.Expr)


@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_parse_or_shape_error(text: str) -> None:
    parses_or_fails_cleanly(text)


@settings(max_examples=4 * EXAMPLES)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_token_soup_parses_or_raises_parse_or_shape_error(text: str) -> None:
    parses_or_fails_cleanly(text)


Gen = tuple[str, Callable[[Values], Any]]


@st.composite
def formulas(draw: st.DrawFn, kind: str = "s", depth: int = 3) -> Gen:
    """A formula of ``kind`` (s scalar, v vector, m matrix) and its NumPy meaning."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if kind == "s":
            name = draw(st.sampled_from(["s", "t", "2", "0.5", "3"]))
            if name[0].isdigit():
                return name, lambda v, c=float(name): c
            return name, lambda v, n=name: v[n]
        name = draw(st.sampled_from(["x", "y"] if kind == "v" else ["A", "B", "X"]))
        return name, lambda v, n=name: v[n]
    sub = lambda k: draw(formulas(k, depth - 1))
    if kind == "s":
        rule = draw(st.integers(0, 9))
        if rule == 0:
            (a, fa), (b, fb) = sub("v"), sub("v")
            return f"({a})'*({b})", lambda v: fa(v) @ fb(v)
        if rule == 1:
            (a, fa), (m, fm), (b, fb) = sub("v"), sub("m"), sub("v")
            return f"({a})'*({m})*({b})", lambda v: fa(v) @ fm(v) @ fb(v)
        if rule == 2:
            m, fm = sub("m")
            return f"tr({m})", lambda v: np.trace(fm(v))
        if rule == 3:
            a, fa = sub(draw(st.sampled_from("vm")))
            return f"sum({a})", lambda v: np.sum(fa(v))
        if rule == 4:
            a, fa = sub("v")
            return f"norm2({a})", lambda v: np.linalg.norm(fa(v))
        if rule == 5:
            return "logdet(X) - det(X')", lambda v: (
                np.linalg.slogdet(v["X"])[1] - np.linalg.det(v["X"]))
        if rule == 6:
            (a, fa), (b, fb) = sub("s"), sub("s")
            op = draw(st.sampled_from(["+", "-", "*"]))
            f = {"+": np.add, "-": np.subtract, "*": np.multiply}[op]
            text = f"{a} {op} ({b})" if op != "*" else f"({a}) * ({b})"  # a sum needs no ()
            return text, lambda v: f(fa(v), fb(v))
        if rule == 7:
            (a, fa), (b, fb) = sub("s"), sub("s")
            return f"({a}) / (1 + ({b})^2)", lambda v: fa(v) / (1 + fb(v) ** 2)
        if rule == 8:
            a, fa = sub("s")
            fn = draw(st.sampled_from(["sin", "tanh", "sigmoid", "exp"]))
            g = {"sin": np.sin, "tanh": np.tanh, "exp": lambda z: np.exp(z / 10),
                 "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[fn]
            arg = f"({a})/10" if fn == "exp" else a
            return f"{fn}({arg})", lambda v: g(fa(v))
        a, fa = sub("s")
        return f"-({a})^2", lambda v: -(fa(v) ** 2)
    if kind == "v":
        rule = draw(st.integers(0, 9))
        if rule == 0:
            (m, fm), (a, fa) = sub("m"), sub("v")
            op = draw(st.sampled_from(["*", "@"]))
            return f"({m}){op}({a})", lambda v: fm(v) @ fa(v)
        if rule == 1:
            (a, fa), (m, fm) = sub("v"), sub("m")
            return f"(({a})'*({m}))'", lambda v: fa(v) @ fm(v)
        if rule == 2:
            (c, fc), (a, fa) = sub("s"), sub("v")
            return f"({c})*({a})", lambda v: fc(v) * fa(v)
        if rule == 3:
            (a, fa), (b, fb) = sub("v"), sub("v")
            op = draw(st.sampled_from([".*", "⊙", "+", "-"]))
            f = np.multiply if op in (".*", "⊙") else np.add if op == "+" else np.subtract
            return f"({a}) {op} ({b})", lambda v: f(fa(v), fb(v))
        if rule == 4:
            a, fa = sub("v")
            fn = draw(st.sampled_from(["exp", "tanh", "cos"]))
            g = {"exp": np.exp, "tanh": np.tanh, "cos": np.cos}[fn]
            return f"{fn}(({a})/4)", lambda v: g(fa(v) / 4)
        if rule == 5:
            m, fm = sub("m")
            return f"diag({m})", lambda v: np.diag(fm(v))
        if rule == 6:
            (a, fa), (b, fb) = sub("v"), sub("v")
            return f"({a}) ./ (1 + ({b}).^2)", lambda v: fa(v) / (1 + fb(v) ** 2)
        if rule == 7:
            return "sum(C, axis=1)", lambda v: v["C"].sum(axis=1)
        if rule == 8:
            a, fa = sub("v")
            return f"solve(X, {a})", lambda v: np.linalg.solve(v["X"], fa(v))
        a, fa = sub("v")
        return f"-({a})", lambda v: -fa(v)
    rule = draw(st.integers(0, 10))
    if rule in (0, 1):
        (a, fa), (b, fb) = sub("m"), sub("m")
        op = draw(st.sampled_from(["*", "@", "+", "-", ".*", "⊙"]))
        f = {"*": np.matmul, "@": np.matmul, "+": np.add, "-": np.subtract,
             ".*": np.multiply, "⊙": np.multiply}[op]
        return f"({a}) {op} ({b})", lambda v: f(fa(v), fb(v))
    if rule == 2:
        a, fa = sub("m")
        op = draw(st.sampled_from(["'", ".T", "ᵀ"]))
        return f"({a}){op}", lambda v: fa(v).T
    if rule == 3:
        (c, fc), (a, fa) = sub("s"), sub("m")
        return f"({c})*({a})", lambda v: fc(v) * fa(v)
    if rule == 4:
        (a, fa), (b, fb) = sub("v"), sub("v")
        return f"({a})*({b})'", lambda v: np.outer(fa(v), fb(v))
    if rule == 5:
        a, fa = sub("v")
        return f"diag({a})", lambda v: np.diag(fa(v))
    if rule == 6:
        return draw(st.sampled_from([("inv(X)", lambda v: inv(v["X"])),
                                     ("inv(X')", lambda v: inv(v["X"]).T),
                                     ("C*C'", lambda v: v["C"] @ v["C"].T)]))
    if rule == 7:
        a, fa = sub("m")
        return f"I + ({a})", lambda v: np.eye(N) + fa(v)
    if rule == 8:
        a, fa = sub("m")
        return f"({a})^2", lambda v: fa(v) ** 2
    if rule == 9:
        a, fa = sub("m")
        return f"tanh(({a})/4)", lambda v: np.tanh(fa(v) / 4)
    (a, fa), (b, fb) = sub("v"), sub("v")
    return f"outer({a}, {b})", lambda v: np.outer(fa(v), fb(v))


@settings(max_examples=2 * EXAMPLES)
@given(st.sampled_from("svm").flatmap(lambda k: formulas(k)), st.integers(0, 2**16))
def test_generated_formulas_mean_what_numpy_says_and_printouts_parse_back(
    case: Gen, seed: int
) -> None:
    text, reference = case
    expr = mg.parse(text, SHAPES)
    values = draw_values(seed)
    with np.errstate(all="ignore"):
        want = reference(values)
        got = evaluate(expr, values)
    if not np.all(np.isfinite(want)):
        return
    assert close(got, want), (text, str(expr))
    printed = str(expr)
    try:
        again = mg.parse(
            printed, {s.name: s.shape for s in expr.symbols()},
            symmetric=[s.name for s in expr.symbols() if s.symmetric],
        )
    except ShapeError as err:  # trace(-I): the printout does not say how large I is
        assert "size of the identity I is not determined" in str(err), (text, printed)
        return
    assert again.shape == expr.shape
    assert close(evaluate(again, values), got), (text, printed, str(again))


@given(st.data())
def test_fuzzer_printouts_parse_back_to_the_same_values(data: st.DataObject) -> None:
    """For the core's random expressions: a printout either does not parse (a
    ParseError or ShapeError: broadcasting, reshapes, ...) or means the same."""
    from matgrad.testing.fuzz import random_expressions

    case = data.draw(random_expressions())
    printed = str(case.expr)
    symbols = case.expr.symbols()
    try:
        again = mg.parse(
            printed, {s.name: s.shape for s in symbols},
            symmetric=[s.name for s in symbols if s.symmetric],
        )
    except (ParseError, ShapeError):
        return
    names = {s.name for s in symbols}
    if not {s.name for s in again.symbols()} <= names:
        return  # e.g. a printed 'inf' read as a symbol
    values = {k: np.asarray(v) for k, v in case.values.items()}
    with np.errstate(all="ignore"):
        want = evaluate(case.expr, values)
        got = evaluate(again, values)
    assert got.shape == want.shape, printed
    ok = np.isfinite(want)
    scale = max(1.0, float(np.max(np.abs(want[ok]), initial=0.0)))
    assert np.allclose(got[ok], want[ok], rtol=1e-8, atol=1e-8 * scale), (printed, str(again))


# ---------------------------------------------------------------------------------------
# check_claim and the helpers of the command
# ---------------------------------------------------------------------------------------

CLAIMS: list[tuple[str, str, str, dict[str, Any], bool, str | None]] = [
    # expression, wrt, claim, options, correct, mistake
    ("x'*A*x", "x", "(A + A')*x", {}, True, None),
    ("x'*A*x", "x", "A*x + A'*x", {}, True, None),
    ("x'*A*x", "x", "2*A*x", {}, False, "symmetric"),
    ("x'*A*x", "x", "2*A*x", {"symmetric": ["A"]}, True, None),
    ("x'*A*x", "x", "A + A'", {"order": 2}, True, None),
    ("x'*A*x", "x", "2*A", {"order": 2}, False, "symmetric"),
    ("tr(A*X)", "X", "A'", {}, True, None),
    ("tr(A*X)", "X", "A", {}, False, "transpose"),
    ("tr(A*X)", "X", "-A'", {}, False, "sign"),
    ("tr(A*X)", "X", "-A", {}, False, "sign-transpose"),
    ("tr(A*X)", "X", "3*A'", {}, False, "factor"),
    ("tr(A*X)", "X", "0.5*A", {}, False, "factor-transpose"),
    ("x'*x", "x", "x", {}, False, "factor"),
    ("a'*X*b", "X", "a*b'", {}, True, None),
    ("logdet(X)", "X", "inv(X)'", {}, True, None),
    ("logdet(X)", "X", "inv(X)", {}, False, "transpose"),
    ("det(X)", "X", "det(X)*inv(X)'", {}, True, None),
    ("tr(A*S)", "S", "(A + A')/2", {"symmetric": ["S"]}, True, None),
    ("tr(A*S)", "S", "A + A' - diag(diag(A))", {"symmetric": ["S"]}, False,
     "independent-entries"),
    ("tr(A*S)", "S", "A'", {"symmetric": ["S"]}, False, "unconstrained"),
    ("tr(A*S)", "S", "A + A'", {"symmetric": ["S"]}, False, "factor"),
    ("logdet(S)", "S", "inv(S)", {"spd": ["S"]}, True, None),
    ("alpha*tr(A)", "A", "0*A", {}, False, "unknown"),
    ("x'*A*x", "x", "A", {"order": 2}, False, "unknown"),
    ("tr(A)", "x", "x", {}, False, None),  # wrt not in the expression: an error
    ("A*x", "x", "A'", {"shapes": {"A": (2, 3)}}, False, "shape"),
    ("sin(x)", "x", "cos(x)", {}, False, "shape"),
    ("sin(x)", "x", "diag(cos(x))", {}, True, None),
    ("x'*A*x - x'*A*x", "x", "x", {}, False, "zero"),
    ("x'*x", "x", "log(-x.^2)", {}, False, "nonfinite"),
]


@pytest.mark.parametrize(
    ("expr", "wrt", "claim", "options", "correct", "mistake"), CLAIMS,
    ids=[f"{e} d/d{w} = {c}" for e, w, c, *_ in CLAIMS],
)
def test_check_claim(
    expr: str, wrt: str, claim: str, options: dict[str, Any], correct: bool,
    mistake: str | None,
) -> None:
    if wrt not in expr:
        with pytest.raises(InvalidArgumentError, match="does not occur"):
            mg.check_claim(expr, wrt, claim, **options)
        return
    report = mg.check_claim(expr, wrt, claim, **options)
    assert report.correct is correct, report
    assert report.mistake == mistake, report
    text = str(report)
    assert text.startswith("CORRECT" if correct else "INCORRECT")
    if mistake not in (None, "shape"):
        assert report.worst and report.worst[0].abs_error > 0
        assert "worst entries" in text


def test_check_claim_diagnoses_name_the_mistake() -> None:
    assert "transpose of the derivative" in mg.check_claim("tr(A*X)", "X", "A").diagnosis
    factor = mg.check_claim("tr(A*X)", "X", "3*A'")
    assert factor.factor == pytest.approx(3) and "3 × the derivative" in factor.diagnosis
    sym = mg.check_claim("tr(A*S)", "S", "A + A'", symmetric=["S"])
    assert sym.factor == pytest.approx(2) and "symmetric one" in sym.diagnosis
    shape = mg.check_claim("A*x", "x", "A'", shapes={"A": (2, 3)})
    assert shape.diagnosis.startswith(
        "shape mismatch: claim has shape (3, 2), derivative has (2, 3)"
    )
    assert "transpose" in shape.diagnosis
    assert "diag(...)" in mg.check_claim("sin(x)", "x", "cos(x)").diagnosis
    assert "only when A is symmetric" in mg.check_claim("x'*A*x", "x", "2*A*x").diagnosis


def test_check_claim_takes_expressions() -> None:
    A, x = mg.Matrix("A", (4, 4)), mg.Vector("x", 4)
    report = mg.check_claim(x @ A @ x, x, (A + A.T) @ x, trials=2, seed=5)
    assert report.correct and report.trials == 2
    with pytest.raises(InvalidArgumentError, match="the claim uses B"):
        mg.check_claim("x'*A*x", "x", "B*x")
    with pytest.raises(InvalidArgumentError):
        mg.check_claim("x'*A*x", "x", "A*x", trials=0)


def test_claims_take_free_sizes_from_the_derivative() -> None:
    assert mg.check_claim("x", "x", "I", shapes={"x": (4,)}).correct
    assert mg.check_claim("A*x", "x", "A", shapes={"A": (2, 5)}).correct
    assert mg.check_claim("x", "x", "2*I").mistake == "factor"
    p = parse_expression("2*I", result_shape=(4, 4))
    assert p.expr.shape == (4, 4)


def test_symbol_names_is_syntax_only() -> None:
    assert symbol_names("tr(X'*A*X) + x'*I*x") == ("X", "A", "x", "I")
    assert symbol_names("x*y") == ("x", "y")  # no shapes inferred: no ShapeError
    with pytest.raises(ParseError):
        symbol_names("x +")


def test_random_values_are_valid() -> None:
    f = mg.parse("logdet(X) + log(sum(p)) + tr(inv(S))", spd=["S"])
    values = random_values([f], seed=3, spd=["S"])
    assert np.linalg.cond(values["X"]) < 10
    assert np.all(values["p"] > 0)
    assert np.allclose(values["S"], values["S"].T)
    assert np.all(np.linalg.eigvalsh(values["S"]) > 0)
    g = mg.parse("tr(A*S)", symmetric=["S"])
    assert np.allclose(random_values([g])["S"], random_values([g])["S"].T)


def test_numeric_check_passes_right_and_fails_wrong_derivatives() -> None:
    f = mg.parse("tr(X'*A*X) + logdet(X)")
    X = parse_expression("X").symbols["X"]
    values = random_values([f], seed=1)
    assert numeric_check(f, X, values).passed
    wrong = 2 * mg.derivative(f, X)
    assert not numeric_check(f, X, values, result=wrong).passed
    assert numeric_check(f, X, values, order=2).passed
    S = mg.parse("S", symmetric=["S"])
    g = mg.parse("tr(A*S*S)", symmetric=["S"])
    assert isinstance(S, mg.Symbol) and numeric_check(g, S, random_values([g])).passed
