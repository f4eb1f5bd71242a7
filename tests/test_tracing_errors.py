"""What cannot be traced fails clearly: Python control flow on a traced value
raises an error that names the problem and suggests ``np.where``; converting a
traced value to a Python number says why it cannot be; an unsupported NumPy
function names itself and the closest supported alternative; and the function
API reports the same errors, naming the traced function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad.errors import UnsupportedOperationError
from matgrad.ir.node import FUNCTION_HANDLERS, HOOKS, UFUNC_HANDLERS

CONTROL_FLOW = r"truth value.*control flow on a traced value.*np\.where\(condition, a, b\)"

needs_comparisons = pytest.mark.skipif(
    np.greater not in UFUNC_HANDLERS or np.less not in UFUNC_HANDLERS,
    reason="comparisons of expressions are not served yet",
)
needs_indexing = pytest.mark.skipif(
    "subscript" not in HOOKS, reason="indexing of expressions is not served yet"
)


def if_positive(x: Any) -> Any:
    if x > 0:
        return x
    return -x


def if_first_positive(x: Any) -> Any:
    if x[0] > 0:
        return np.sum(x)
    return -np.sum(x)


def while_loop(x: Any) -> Any:
    while np.sum(x) > 1:
        x = x / 2
    return np.sum(x)


def short_circuit(x: Any) -> Any:
    return np.sum(x) and np.sum(x * x)


def negated(x: Any) -> Any:
    return np.sum(x) if not np.sum(x) else np.sum(x * x)


def builtin_max(x: Any) -> Any:
    return max(np.sum(x), 0.0)


def test_truth_value_names_the_problem_and_suggests_where() -> None:
    x = mg.Vector("x", 3)
    with pytest.raises(UnsupportedOperationError, match=CONTROL_FLOW) as info:
        bool(x)
    assert isinstance(info.value, TypeError)
    with pytest.raises(TypeError, match=CONTROL_FLOW):
        short_circuit(x)
    with pytest.raises(TypeError, match=CONTROL_FLOW):
        negated(x)


@needs_comparisons
@pytest.mark.parametrize("fun", [if_positive, while_loop, builtin_max])
def test_if_on_a_comparison_names_the_problem(fun: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match=CONTROL_FLOW):
        fun(mg.Scalar("s") if fun is if_positive else mg.Vector("x", 3))


@needs_comparisons
@needs_indexing
def test_if_on_an_entry_names_the_problem() -> None:
    with pytest.raises(TypeError, match=CONTROL_FLOW):
        if_first_positive(mg.Vector("x", 3))


@pytest.mark.parametrize(
    ("convert", "what"),
    [(float, r"float\(\)"), (int, r"int\(\)"), (complex, r"complex\(\)")],
)
def test_conversion_to_a_python_number_names_the_problem(convert: Any, what: str) -> None:
    s = mg.Scalar("s")
    with pytest.raises(UnsupportedOperationError, match=rf"{what}.*not a number.*evaluate"):
        convert(s)
    with pytest.raises(TypeError, match=r"np\.where"):
        convert(s * 2.0)


def test_a_traced_value_as_an_integer_names_the_problem() -> None:
    n = mg.Scalar("n")
    with pytest.raises(UnsupportedOperationError, match="as an integer.*must be constants"):
        range(n)  # type: ignore[call-overload]
    with pytest.raises(UnsupportedOperationError, match="as an integer"):
        [1, 2, 3][n]  # type: ignore[index]


@pytest.mark.parametrize(
    "transform",
    [
        lambda f, x: mg.grad(f)(x),
        lambda f, x: mg.jacobian(f)(x),
        lambda f, x: mg.hessian(f)(x),
        lambda f, x: mg.value_and_grad(f)(x),
        lambda f, x: mg.jvp(f, (x,), (x,)),
        lambda f, x: mg.vjp(f, x),
    ],
    ids=["grad", "jacobian", "hessian", "value_and_grad", "jvp", "vjp"],
)
def test_function_api_reports_control_flow_naming_the_function(transform: Any) -> None:
    x0 = np.array([1.0, -2.0, 0.5])
    with pytest.raises(UnsupportedOperationError, match=rf"short_circuit.*{CONTROL_FLOW}"):
        transform(short_circuit, x0)


@needs_comparisons
@needs_indexing
def test_grad_of_if_on_an_entry_gives_the_same_error() -> None:
    with pytest.raises(UnsupportedOperationError, match=rf"grad traced if_first_positive.*"
                       rf"{CONTROL_FLOW}"):
        mg.grad(if_first_positive)(np.array([1.0, 2.0]))


def test_grad_of_a_function_that_uses_float_names_the_problem() -> None:
    def scaled(x: Any) -> Any:
        return np.sum(x) * float(np.sum(x))

    with pytest.raises(UnsupportedOperationError, match=r"scaled.*float\(\).*not a number"):
        mg.grad(scaled)(np.ones(3))


# ---- unsupported NumPy functions --------------------------------------------------


def _served(name: str) -> bool:
    """Whether the NumPy function or ufunc called ``numpy.<name>`` is served."""
    obj: Any = np
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj in FUNCTION_HANDLERS or obj in UFUNC_HANDLERS


@pytest.mark.parametrize(
    ("call", "name", "alternative"),
    [
        (np.nanmax, "nanmax", "max"),
        (np.nansum, "nansum", "sum"),
        (np.nanmean, "nanmean", "mean"),
        (np.nanmedian, "nanmedian", "median"),
        (np.nanstd, "nanstd", "std"),
        (lambda X: np.add.reduce(X), "add.reduce", "sum"),
        (lambda X: np.add.accumulate(X), "add.accumulate", "cumsum"),
        (lambda X: np.multiply.outer(X, X), "multiply.outer", "outer"),
        (lambda X: np.maximum.reduce(X), "maximum.reduce", "max"),
    ],
)
def test_unsupported_function_names_itself_and_the_closest_alternative(
    call: Any, name: str, alternative: str
) -> None:
    X = mg.Matrix("X", (3, 3))
    if _served(name):
        pytest.skip(f"numpy.{name} is served")
    with pytest.raises(UnsupportedOperationError, match=rf"numpy\.{name}\b") as info:
        call(X)
    assert isinstance(info.value, TypeError)
    message = str(info.value)
    if _served(alternative):
        assert f"closest supported: numpy.{alternative}" in message, message
    else:
        assert f"numpy.{alternative}" not in message  # never suggests what is not served


@pytest.mark.parametrize("call", [np.fft.fft, np.unique, np.fft.ifft])
def test_unsupported_function_without_a_close_alternative_says_so(call: Any) -> None:
    X = mg.Matrix("X", (3, 3))
    with pytest.raises(UnsupportedOperationError, match="not supported on matgrad expressions"):
        call(X)


def test_unsupported_function_names_itself_through_the_function_api() -> None:
    def spectrum(x: Any) -> Any:
        return np.sum(np.fft.fft(x))

    with pytest.raises(UnsupportedOperationError, match=r"grad traced spectrum.*numpy\.fft\.fft"):
        mg.grad(spectrum)(np.ones(4))


def test_suggestions_come_from_the_handlers_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """The closest alternative is looked up when the error is raised: serve a
    function and it becomes the suggestion."""
    X = mg.Matrix("X", (3, 3))
    monkeypatch.delitem(FUNCTION_HANDLERS, np.nanmax, raising=False)
    monkeypatch.setitem(FUNCTION_HANDLERS, np.max, lambda a, **kw: a)
    with pytest.raises(UnsupportedOperationError, match=r"closest supported: numpy\.max\b"):
        np.nanmax(X)
    monkeypatch.delitem(FUNCTION_HANDLERS, np.max)
    monkeypatch.delitem(FUNCTION_HANDLERS, np.amax, raising=False)
    with pytest.raises(UnsupportedOperationError) as info:
        np.nanmax(X)
    assert "numpy.max" not in str(info.value)


def test_names_not_in_the_table_are_matched_by_spelling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X = mg.Matrix("X", (3, 3))
    monkeypatch.delitem(FUNCTION_HANDLERS, np.atleast_3d, raising=False)
    monkeypatch.setitem(FUNCTION_HANDLERS, np.atleast_2d, lambda a: a)
    with pytest.raises(
        UnsupportedOperationError, match=r"numpy\.atleast_3d .*closest supported: numpy\.atleast_2d"
    ):
        np.atleast_3d(X)


def test_ufunc_keywords_are_named() -> None:
    X = mg.Matrix("X", (3, 3))
    with pytest.raises(UnsupportedOperationError, match=r"numpy\.exp with keyword arguments"):
        np.exp(X, out=np.empty((3, 3)))


# ---- conversions to arrays and numbers, and Python's abs ---------------------------------


@pytest.mark.parametrize("method", ["item", "tolist"])
def test_item_and_tolist_name_the_problem(method: str) -> None:
    x = mg.Vector("x", 3)
    with pytest.raises(UnsupportedOperationError, match=rf"{method}\(\) of a matgrad expression"):
        getattr(x, method)()


def test_a_scipy_function_that_converts_names_itself_and_matgrads_spelling() -> None:
    sl = pytest.importorskip("scipy.linalg")
    X = mg.Matrix("X", (3, 3))
    expm_message = r"scipy\.linalg\.expm .*mg\.expm\(\.\.\.\)"
    with pytest.raises(UnsupportedOperationError, match=expm_message):
        sl.expm(X)
    # through a decorator's wrapper, the wrapped function is named
    with pytest.raises(UnsupportedOperationError, match=r"scipy\.linalg\.eigh .*mg\.eigh"):
        sl.eigh(X)
    with pytest.raises(UnsupportedOperationError, match=r"upper=True"):
        sl.cholesky(X)  # SciPy's default triangle differs from mg.cholesky's
    with pytest.raises(UnsupportedOperationError, match=r"scipy\.linalg\.schur .*no counterpart"):
        sl.schur(X)
    with pytest.raises(UnsupportedOperationError, match=r"grad traced .*mg\.expm"):
        mg.grad(lambda A: np.trace(sl.expm(A)))(np.eye(3))


def test_the_users_own_conversion_is_named_as_such() -> None:
    def f(x: Any) -> Any:
        x = np.asarray(x)
        return np.sum(x**2)

    with pytest.raises(UnsupportedOperationError, match=r"drop the conversion"):
        mg.grad(f)(np.ones(3))


def test_python_abs_is_the_absolute_value() -> None:
    x = mg.Vector("x", 3)
    v = np.array([-2.0, 0.5, 3.0])
    assert np.array_equal(abs(x).evaluate(x=v), np.abs(v))
    g = mg.grad(lambda x: np.sum(abs(x) * x))(v)
    np.testing.assert_allclose(g, 2 * np.abs(v))  # d/dx |x| x = sign(x) x + |x| = 2|x|


def test_assignment_to_entries_is_refused_with_the_alternatives() -> None:
    def f(x: Any) -> Any:
        y = x * 2.0
        y[0] = 1.0
        return np.sum(y)

    with pytest.raises(UnsupportedOperationError, match=r"immutable.*np\.where"):
        mg.grad(f)(np.ones(3))


def test_copy_is_the_expression_itself() -> None:
    v = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(mg.grad(lambda x: np.sum(x.copy() ** 2))(v), 2 * v)
