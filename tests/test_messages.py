"""Bounded messages (issue 13, item 5): an error message or a check report that
includes an expression (or the list of a large expression's symbols) shows at most
``MESSAGE_LIMIT`` characters of it, head and tail, and says how many it left out."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import matgrad as mg
from matgrad import cli
from matgrad.errors import MESSAGE_LIMIT, MatgradError, elide
from matgrad.language.claims import random_values

NOTE = re.compile(r" … \[(\d+) characters left out\] … ")
FIXED_TEXT = 400  # generous room for a message's own words around the elided parts


# ---------------------------------------------------------------------------------------
# elide
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, MESSAGE_LIMIT - 1, MESSAGE_LIMIT])
def test_short_text_is_kept_whole(n: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(n))
    assert elide(text) == text


@pytest.mark.parametrize("n", [MESSAGE_LIMIT + 1, 999 + 300, 1000 + 300, 10_000, 123_457])
@pytest.mark.parametrize("limit", [60, MESSAGE_LIMIT, 1000])
def test_long_text_keeps_head_and_tail_and_counts_what_it_left_out(n: int, limit: int) -> None:
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(n))
    if n <= limit:
        assert elide(text, limit) == text
        return
    out = elide(text, limit)
    assert len(out) <= limit
    match = NOTE.search(out)
    assert match is not None
    head, tail = out[: match.start()], out[match.end():]
    assert text.startswith(head) and text.endswith(tail)
    assert head and tail
    assert len(head) + int(match.group(1)) + len(tail) == n  # the count is exact
    assert abs(len(head) - len(tail)) <= 1


def test_a_limit_below_the_note_keeps_only_the_note() -> None:
    out = elide("x" * 500, limit=5)
    match = NOTE.fullmatch(out)
    assert match is not None and match.group(1) == "500"


# ---------------------------------------------------------------------------------------
# A huge expression in errors and reports
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge() -> mg.Expr:
    """A deep expression of many symbols: ``m = tanh(m @ A_k) + X``, 150 times."""
    X = mg.Matrix("X", (3, 3))
    m: mg.Expr = X
    for k in range(150):
        m = mg.tanh(m @ mg.Matrix(f"A{k}", (3, 3))) + X
    assert len(str(m)) > 5 * MESSAGE_LIMIT  # the premise: printed whole it is long
    assert len(m.symbols()) == 151
    return m


def bounded(message: str, parts: int = 1) -> None:
    """``message`` has at most ``parts`` elided pieces and the words around them."""
    assert len(message) <= parts * MESSAGE_LIMIT + FIXED_TEXT, message[:200]


def error_of(action: Callable[[], object]) -> str:
    with pytest.raises(MatgradError) as info:
        action()
    return str(info.value)


def test_the_third_derivative_of_a_triple_exp_prints_long_but_errors_stay_bounded() -> None:
    x = mg.Vector("x", 3)
    H3 = mg.derivative(mg.sum(mg.exp(mg.exp(mg.exp(x)))), x, order=3)
    assert H3.shape == (3, 3, 3)
    bounded(error_of(lambda: H3 @ mg.Matrix("B", (4, 4))))
    bounded(error_of(lambda: H3.evaluate()))
    bounded(error_of(lambda: mg.compile(H3, [H3])))  # type: ignore[list-item]
    bounded(repr(H3))


def test_shape_mismatch_in_matmul(huge: mg.Expr) -> None:
    message = error_of(lambda: huge @ mg.Matrix("B", (4, 4)))
    bounded(message)
    assert "(3, 3)" in message and "(4, 4)" in message


def test_evaluate_with_missing_and_unknown_symbols(huge: mg.Expr) -> None:
    missing = error_of(lambda: huge.evaluate(X=np.eye(3)))
    bounded(missing, parts=2)
    assert "missing" in missing and "'A0'" in missing and NOTE.search(missing)
    unknown = error_of(lambda: huge.evaluate(nobody=np.eye(3)))
    bounded(unknown, parts=3)
    assert "nobody" in unknown


def test_compiled_function_with_missing_and_extra_values(huge: mg.Expr) -> None:
    g = mg.compile(huge)
    bounded(error_of(lambda: g(X=np.eye(3))))
    bounded(error_of(lambda: g(nobody=np.eye(3))), parts=2)
    bounded(error_of(lambda: g(*[np.eye(3)] * 200)))
    bounded(error_of(lambda: mg.compile(huge, [mg.Matrix("X", (3, 3))])))


def test_repr_of_an_expression_in_a_message(huge: mg.Expr) -> None:
    text = repr(huge)
    bounded(text)
    assert text.startswith("<add (3, 3): ") and NOTE.search(text)
    message = error_of(lambda: mg.compile(huge, [huge]))  # type: ignore[list-item]
    bounded(message)
    assert "Symbol" in message


def test_no_valid_inputs_names_the_expression_bounded(huge: mg.Expr) -> None:
    x = mg.Vector("x", 3)
    never = mg.log(-(x @ x) - 1.0) + mg.sum(huge)  # log of a negative number: NaN
    with pytest.raises(MatgradError) as info:
        random_values([never, never * 2.0], seed=0)
    bounded(str(info.value), parts=2)
    assert "log" in str(info.value)


def test_a_failing_gradient_check_report(huge: mg.Expr) -> None:
    g = mg.compile(huge)
    rng = np.random.default_rng(0)
    values = {s.name: 0.3 * rng.standard_normal(s.shape) for s in huge.symbols()}

    def f(X0: np.ndarray) -> np.ndarray:
        return np.asarray(g(**{**values, "X": X0}))

    def wrong(X0: np.ndarray) -> np.ndarray:  # the identity map's Jacobian: wrong
        return np.eye(9).reshape(3, 3, 3, 3)

    with pytest.raises(AssertionError) as info:
        mg.testing.assert_derivative_close(f, wrong, values["X"])
    bounded(str(info.value))


def test_a_wrong_claim_in_check_claim_and_in_matgrad_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    n = 60
    formula = " + ".join(f"a{k}'*X*b{k}" for k in range(n))
    claim = " + ".join(f"b{k}*a{k}'" for k in range(n))  # the transpose: wrong
    report = mg.check_claim(formula, "X", claim, seed=1)
    assert not report.correct
    assert len(str(report.derivative)) > 3 * MESSAGE_LIMIT  # the premise
    bounded(str(report))  # the report names no expression; its table is short

    assert cli.main(["check", formula, "--wrt", "X", "--claim", claim]) == 1
    out = capsys.readouterr().out
    for line in out.splitlines():
        assert len(line) <= MESSAGE_LIMIT + 60, line[:120]
    assert len(NOTE.findall(out)) == 3  # f, the claim and the derivative, each elided
    assert "INCORRECT" in out and "transpose" in out


def test_check_json_keeps_the_expressions_whole(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    formula = " + ".join(f"a{k}'*X*b{k}" for k in range(60))
    assert cli.main(["check", formula, "--wrt", "X", "--claim", "X", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert not NOTE.search(out["derivative"]) and len(out["derivative"]) > 3 * MESSAGE_LIMIT
