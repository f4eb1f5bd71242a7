"""Everyday NumPy on expressions (ops/ordering.py, ops/rounding.py, ops/arrays.py):
``sort`` and its statistics, rounding and masks, and the array functions built
from existing operations — values against NumPy, first and second derivatives
in both modes against Richardson differences (numpy_checks), the conventions at
ties and jumps against JAX where it is installed (and by hand), and the
refusals with their messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy_checks import check_derivatives, close

import matgrad as mg
from matgrad.errors import UnsupportedOperationError

pytestmark = pytest.mark.filterwarnings(
    "ignore:Arrays of 2-dimensional vectors are deprecated:DeprecationWarning"  # NumPy's side
)

RNG = np.random.default_rng(11)


def distinct(*shape: int) -> np.ndarray:
    """Entries at least 0.3 apart (no tie within a numerical step), shuffled."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.4 - 0.2 * n + 0.05 * RNG.random(n)).reshape(shape)


def smooth(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


Case = tuple[str, Callable[[Any], Any], np.ndarray]

# ---------------------------------------------------------------------------------------
# sort, median, quantile, percentile, ptp
# ---------------------------------------------------------------------------------------

W34 = np.arange(1.0, 13.0).reshape(3, 4)

ORDERING: list[Case] = [
    ("sort-vector", lambda x: np.sort(x) * np.arange(1.0, 7.0) * x, distinct(6)),
    ("sort-axis-last", lambda x: np.sort(x) * W34, distinct(3, 4)),
    ("sort-axis0", lambda x: np.sort(x, axis=0) ** 2 * W34, distinct(3, 4)),
    ("sort-axis-none", lambda x: np.sort(x, axis=None) ** 3, distinct(3, 4)),
    ("sort-3d", lambda x: np.sum(np.sort(x, axis=1) ** 2 * np.arange(3.0)[:, None]),
     distinct(2, 3, 2)),
    ("sort-slice", lambda x: np.sum(np.sort(x)[:3] ** 2), distinct(7)),
    ("median-odd", lambda x: np.median(x) ** 2, distinct(5)),
    ("median-even", lambda x: np.median(x) ** 2, distinct(6)),
    ("median-axis0", lambda x: np.median(x, axis=0) ** 2, distinct(4, 3)),
    ("median-axis1-keepdims", lambda x: np.median(x, axis=1, keepdims=True) * x, distinct(3, 5)),
    ("median-axis-tuple", lambda x: np.median(x, axis=(0, 2)) ** 2, distinct(2, 3, 2)),
    ("quantile-scalar", lambda x: np.quantile(x, 0.3) ** 2, distinct(6)),
    ("quantile-array", lambda x: np.quantile(x, [0.0, 0.25, 0.6, 1.0]) ** 2, distinct(7)),
    ("quantile-axis", lambda x: np.quantile(x, np.array([0.1, 0.9]), axis=1) ** 2,
     distinct(3, 5)),
    ("quantile-keepdims", lambda x: np.quantile(x, 0.75, axis=0, keepdims=True) * x,
     distinct(4, 3)),
    ("percentile", lambda x: np.percentile(x, 37.5) ** 2, distinct(9)),
    ("percentile-array-axis", lambda x: np.percentile(x, [10, 50], axis=-1) ** 2,
     distinct(2, 6)),
    ("ptp", lambda x: np.ptp(x) ** 2, distinct(6)),
    ("ptp-axis", lambda x: np.ptp(x, axis=0) ** 2, distinct(3, 4)),
    ("sort-reversed", lambda x: np.sort(x ** 3)[::-1] * np.arange(5.0), distinct(5)),
]


@pytest.mark.parametrize("case", ORDERING, ids=[c[0] for c in ORDERING])
def test_ordering_values_and_derivatives(case: Case) -> None:
    _, f, x0 = case
    check_derivatives(f, x0)


def test_sort_is_a_declared_operation_whose_derivative_gathers() -> None:
    x = mg.Vector("x", 4)
    s = mg.sort(x)
    assert s.kind == "sort" and np.sort(x).kind == "sort"
    d = mg.derivative(s, x)
    assert "sort_gather" in {n.kind for n in d.walk()}
    v = np.array([0.5, -1.0, 2.0, 0.0])
    close(d.evaluate(x=v), np.eye(4)[np.argsort(v)])
    close(mg.derivative(s, x, order=2).evaluate(x=v), np.zeros((4, 4, 4)))


def test_sort_compiles_to_numpy_source() -> None:
    x = mg.Matrix("x", (3, 4))
    f = mg.sum(np.sort(x, axis=0) ** 2 * W34)
    g = mg.derivative(f, x, mode="reverse")
    source = g.to_numpy("gradient")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # matgrad's generated code
    v = distinct(3, 4)
    close(namespace["gradient"](v), g.evaluate(x=v))
    expected = np.zeros((3, 4))  # the sorted entries' weights, scattered back by hand
    order = np.argsort(v, axis=0, kind="stable")
    for j in range(4):
        expected[order[:, j], j] = 2 * np.sort(v[:, j]) * W34[:, j]
    close(g.evaluate(x=v), expected, 1e-12)


# ---------------------------------------------------------------------------------------
# Conventions at ties: by hand, and against JAX
# ---------------------------------------------------------------------------------------

TIES = np.array([2.0, 1.0, 2.0, 1.0, 3.0])
WEIGHTS = np.arange(1.0, 6.0)

CONVENTIONS: list[tuple[str, Callable[[Any], Callable[[Any], Any]], list[float]]] = [
    # the stable sort: the first 1 (index 1) goes to position 0, the second (3) to 1, ...
    ("sort-ties", lambda np_: lambda x: np_.sum(np_.sort(x) * WEIGHTS), [3, 1, 4, 2, 5]),
    ("median-odd-ties", lambda np_: lambda x: np_.median(x), [1, 0, 0, 0, 0]),
    ("median-even", lambda np_: lambda x: np_.median(x[:4]), [0.5, 0, 0, 0.5, 0]),
    ("quantile-interpolation", lambda np_: lambda x: np_.quantile(x, 0.3), [0.2, 0, 0, 0.8, 0]),
    ("percentile-exact-index", lambda np_: lambda x: np_.percentile(x, 25), [0, 0, 0, 1, 0]),
    ("ptp-ties", lambda np_: lambda x: np_.ptp(x), [0, -0.5, 0, -0.5, 1]),
    ("round-half-even", lambda np_: lambda x: np_.sum(np_.round(x * 0.5) * x), [1, 0, 1, 0, 2]),
    ("floor-at-integers", lambda np_: lambda x: np_.sum(np_.floor(x) * x), [2, 1, 2, 1, 3]),
    ("ceil-at-integers", lambda np_: lambda x: np_.sum(np_.ceil(x) * x), [2, 1, 2, 1, 3]),
    ("rint-at-half", lambda np_: lambda x: np_.sum(np_.rint(x + 0.5) * x), [2, 2, 2, 2, 4]),
    ("heaviside-at-zero", lambda np_: lambda x: np_.sum(np_.heaviside(x - 2.0, 0.5) * x),
     [0.5, 0, 0.5, 0, 1]),
    ("cumprod-at-zero", lambda np_: lambda x: np_.sum(np_.cumprod(x - 1.0)), [1, 2, 0, 0, 0]),
]


@pytest.mark.parametrize("case", CONVENTIONS, ids=[c[0] for c in CONVENTIONS])
def test_conventions_at_ties_by_hand(case: Any) -> None:
    _, make, expected = case
    f = make(np)
    for mode in ("forward", "reverse"):
        x = mg.Vector("x", 5)
        close(mg.derivative(f(x), x, mode=mode).evaluate(x=TIES), expected, 1e-12)
    close(mg.grad(f)(TIES), expected, 1e-12)


@pytest.mark.parametrize("case", CONVENTIONS, ids=[c[0] for c in CONVENTIONS])
def test_conventions_at_ties_agree_with_jax(case: Any) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    _, make, _ = case
    theirs = np.asarray(jax.grad(make(jnp))(TIES))
    close(mg.grad(make(np))(TIES), theirs, 1e-12)


def test_sort_ties_along_an_axis_agree_with_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    v = np.array([[1.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 0.0]])

    def make(np_: Any) -> Callable[[Any], Any]:
        return lambda x: np_.sum(np_.sort(x, axis=0) * W34[:, :3]) + np_.median(x, axis=1)[0]

    close(mg.grad(make(np))(v), np.asarray(jax.grad(make(jnp))(v)), 1e-12)


# ---------------------------------------------------------------------------------------
# Rounding and masks
# ---------------------------------------------------------------------------------------

AWAY = 0.2 + RNG.permutation(8).reshape(2, 4) + 0.1 * RNG.random((2, 4)) - 4.0
"""Entries more than 0.1 from any integer and half-integer jump."""

NEAR = AWAY + np.where(np.arange(8).reshape(2, 4) % 2, 0.01, 2.0)
"""Half the entries of AWAY within 0.01, half 2 away (numerical steps reach 0.1)."""

ROUNDING: list[Case] = [
    ("round", lambda x: np.round(x) * x, AWAY),
    ("around-decimals", lambda x: np.around(x / 10, 1) * x, AWAY),
    ("round-negative-decimals", lambda x: np.round(x * 10, -1) * x, AWAY),
    ("rint", lambda x: np.rint(x) * x, AWAY),
    ("floor", lambda x: np.floor(x) * x ** 2, AWAY),
    ("ceil", lambda x: np.ceil(x) * x, AWAY),
    ("trunc", lambda x: np.trunc(x) * x, AWAY),
    ("fix", lambda x: np.fix(x) * x, AWAY),
    ("sign", lambda x: np.sign(x) * x, AWAY),
    ("heaviside", lambda x: np.heaviside(x, 0.5) * x, AWAY),
    ("logical_and", lambda x: np.where(np.logical_and(x > -1, x < 2), x ** 2, x), AWAY),
    ("logical_or", lambda x: np.where(np.logical_or(x > 2, x < -1), x ** 2, x), AWAY),
    ("logical_xor", lambda x: np.where(np.logical_xor(x > 0, x < 2), x ** 2, x), AWAY),
    ("logical_not", lambda x: np.where(np.logical_not(x > 0), x ** 2, x), AWAY),
    ("logical-constant", lambda x: np.where(np.logical_and(x > 0, AWAY < 1), x ** 2, x), AWAY),
    ("isclose", lambda x: np.where(np.isclose(x, NEAR, atol=0.5), 0.0, x ** 2), AWAY),
    ("isclose-expressions", lambda x: np.where(np.isclose(x, x * 1.000001), x, x ** 2), AWAY),
    ("isnan", lambda x: np.where(np.isnan(x), 0.0, x ** 2), AWAY),
    ("isfinite", lambda x: np.where(np.isfinite(x), x ** 2, 0.0), AWAY),
    ("isinf", lambda x: np.where(np.isinf(x), 0.0, x ** 3), AWAY),
]


@pytest.mark.parametrize("case", ROUNDING, ids=[c[0] for c in ROUNDING])
def test_rounding_and_masks(case: Case) -> None:
    _, f, x0 = case
    check_derivatives(f, x0)


SPECIAL = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1e-9, 0.0, -0.0, np.nan, np.inf, -np.inf, 3.0])


@pytest.mark.parametrize("func", [np.round, np.rint, np.floor, np.ceil, np.trunc, np.fix,
                                  np.isnan, np.isfinite, np.isinf, np.logical_not],
                         ids=lambda f: f.__name__)
def test_rounding_values_at_special_points_match_numpy(func: Any) -> None:
    x = mg.Vector("x", SPECIAL.size)
    np.testing.assert_array_equal(func(x).evaluate(x=SPECIAL), func(SPECIAL).astype(float))


def test_two_operand_masks_match_numpy_at_special_points() -> None:
    x = mg.Vector("x", SPECIAL.size)
    other = SPECIAL[::-1].copy()
    for func in (np.logical_and, np.logical_or, np.logical_xor):
        np.testing.assert_array_equal(func(x, other).evaluate(x=SPECIAL),
                                      func(SPECIAL, other).astype(float))
    np.testing.assert_array_equal(np.isclose(x, other).evaluate(x=SPECIAL),
                                  np.isclose(SPECIAL, other))
    np.testing.assert_array_equal(np.isclose(x, SPECIAL, equal_nan=True).evaluate(x=SPECIAL),
                                  np.isclose(SPECIAL, SPECIAL, equal_nan=True))
    np.testing.assert_array_equal(np.heaviside(x, 0.25).evaluate(x=SPECIAL),
                                  np.heaviside(SPECIAL, 0.25))


def test_rounding_derivative_is_zero_at_the_jumps() -> None:
    x = mg.Vector("x", 4)
    at = np.array([0.5, 1.0, 2.5, -1.0])
    for func in (np.round, np.rint, np.floor, np.ceil, np.trunc, np.fix):
        for mode in ("forward", "reverse"):
            close(mg.derivative(func(x), x, mode=mode).evaluate(x=at), np.zeros((4, 4)), 0)


def test_heaviside_passes_the_derivative_of_h0_at_zero() -> None:
    x, h = mg.Vector("x", 3), mg.Vector("h", 3)
    at = np.array([-1.0, 0.0, 2.0])
    d = mg.derivative(mg.sum(np.heaviside(x, h)), h).evaluate(x=at, h=np.ones(3))
    close(d, [0.0, 1.0, 0.0])


# ---------------------------------------------------------------------------------------
# Array functions
# ---------------------------------------------------------------------------------------

C3 = np.array([0.5, -1.0, 2.0])
X34 = smooth(3, 4)

ARRAYS: list[Case] = [
    ("flip", lambda x: np.flip(x) * W34, smooth(3, 4)),
    ("flip-axis", lambda x: np.flip(x, axis=1) * x, smooth(3, 4)),
    ("flip-axes", lambda x: np.flip(x, axis=(0, 2)) * x, smooth(2, 3, 2)),
    ("fliplr", lambda x: np.fliplr(x) * x, smooth(3, 4)),
    ("flipud", lambda x: np.flipud(x) * x, smooth(3, 4)),
    ("roll", lambda x: x * np.roll(x, 1), smooth(6)),
    ("roll-negative-axis", lambda x: x * np.roll(x, -2, axis=1), smooth(3, 4)),
    ("roll-flat", lambda x: x * np.roll(x, 5), smooth(3, 4)),
    ("roll-tuple", lambda x: x * np.roll(x, (1, -1), axis=(0, 1)), smooth(3, 4)),
    ("pad-constant", lambda x: np.pad(x, 1) ** 2, smooth(4)),
    ("pad-constant-values",
     lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=((1, 2), (3, 4))) ** 2, smooth(2, 3)),
    ("pad-edge", lambda x: np.pad(x, (2, 3), mode="edge") ** 2, smooth(3, 2)),
    ("pad-reflect", lambda x: np.pad(x, ((3, 1), (1, 2)), mode="reflect") ** 2, smooth(3, 3)),
    ("pad-symmetric", lambda x: np.pad(x, 2, mode="symmetric") ** 2, smooth(3, 2)),
    ("pad-wrap", lambda x: np.pad(x, ((1, 2), (0, 1)), mode="wrap") ** 2, smooth(2, 3)),
    ("repeat", lambda x: np.repeat(x, 2) ** 3, smooth(4)),
    ("repeat-axis-counts", lambda x: np.repeat(x, [1, 0, 3], axis=0) ** 3, smooth(3, 2)),
    ("tile", lambda x: np.tile(x, 2) ** 3, smooth(4)),
    ("tile-2d", lambda x: np.tile(x, (2, 1, 3)) ** 3, smooth(2, 2)),
    ("append", lambda x: np.append(x, 1.0) ** 2, smooth(4)),
    ("append-axis", lambda x: np.append(x, x[:1] * 2, axis=0) ** 2, smooth(2, 3)),
    ("copy", lambda x: np.copy(x) ** 2, smooth(4)),
    ("zeros_like", lambda x: np.zeros_like(x) + x ** 2, smooth(4)),
    ("ones_like", lambda x: np.ones_like(x) * x ** 2, smooth(4)),
    ("full_like", lambda x: np.full_like(x, 2.0) * x ** 2, smooth(4)),
    ("empty_like", lambda x: np.empty_like(x) * 0 + x ** 2, smooth(4)),
    ("real-imag-conj", lambda x: np.real(x) * np.conj(x) + np.imag(x) + np.conjugate(x), smooth(4)),
    ("deg2rad", lambda x: np.sin(np.deg2rad(x * 50)) + np.radians(x) ** 2, smooth(4)),
    ("rad2deg", lambda x: np.rad2deg(x) ** 2 + np.degrees(x), smooth(4)),
    ("multi_dot", lambda x: np.linalg.multi_dot([x, x.T, x]), smooth(3, 3)),
    ("multi_dot-vectors", lambda x: np.linalg.multi_dot([C3, x, x, C3]), smooth(3, 3)),
    ("cross", lambda x: np.cross(x[:3], x[3:]) ** 2, smooth(6)),
    ("cross-batched", lambda x: np.cross(x, C3) * x, smooth(4, 3)),
    ("cross-broadcast", lambda x: np.cross(x[:, None, :], x[None, :, :]) ** 2, smooth(2, 3)),
    ("cross-2d", lambda x: np.cross(x[:, :2], x[:, 2:]) ** 2, smooth(3, 4)),
    ("cross-mixed", lambda x: np.cross(x[:2], x[2:]) ** 2, smooth(5)),
    ("cross-axis0", lambda x: np.cross(x, x[::-1] * 2, axis=0) * x, smooth(3, 2)),
    ("polyval", lambda x: np.polyval([1.0, 2.0, 3.0], x) ** 2, smooth(4)),
    ("polyval-coefficients", lambda x: np.polyval(x[:3], x[3:]) ** 2, smooth(6)),
    ("polyval-array-coefficients", lambda x: np.polyval(np.array([2.0, -1.0, 0.5, 1.0]), x),
     smooth(2, 2)),
    ("trapezoid", lambda x: np.trapezoid(x ** 2), smooth(5)),
    ("trapezoid-x", lambda x: np.trapezoid(x ** 2, x=np.array([0.0, 0.5, 1.5, 2.0])),
     smooth(3, 4)),
    ("trapezoid-dx-axis", lambda x: np.trapezoid(np.sin(x), dx=0.1, axis=0), smooth(4, 3)),
    ("trapezoid-expression-x", lambda x: np.trapezoid(x[3:] ** 2, x=x[:3]), smooth(6)),
    ("vecdot", lambda x: np.vecdot(x, x), smooth(5)),
    ("vecdot-batched", lambda x: np.vecdot(x, C3[None, :] * x), smooth(4, 3)),
    ("cumprod", lambda x: np.cumprod(x), smooth(5)),
    ("cumprod-axis", lambda x: np.cumprod(x, axis=1) ** 2, smooth(3, 4)),
    ("cumprod-flat", lambda x: np.cumprod(x), smooth(2, 3)),
    ("cumprod-zeros", lambda x: np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0])), smooth(4)),
    ("outer-nd", lambda x: np.outer(x, x[0]) ** 2, smooth(2, 3)),
    ("shape-code", lambda x: np.sum(x * np.arange(np.size(x)).reshape(np.shape(x)))
     + np.ndim(x) * np.sum(x ** 2) + np.size(x, 1), smooth(2, 3)),
]


@pytest.mark.parametrize("case", ARRAYS, ids=[c[0] for c in ARRAYS])
def test_array_functions(case: Case) -> None:
    _, f, x0 = case
    check_derivatives(f, x0)


def test_cumprod_is_exact_at_zeros() -> None:
    x = mg.Vector("x", 4)
    v = np.array([2.0, 0.0, 3.0, 0.0])
    # d/dx_j Σ_k Π_{i≤k} x_i, by hand: x_1 = 0 and x_3 = 0 kill most products
    expected = np.array([1.0, 2.0 + 2.0 * 3.0, 0.0, 0.0])
    for mode in ("forward", "reverse"):
        close(mg.derivative(mg.sum(np.cumprod(x)), x, mode=mode).evaluate(x=v), expected, 0)


def test_shape_functions_return_python_values() -> None:
    x = mg.Matrix("x", (2, 3))
    assert np.ndim(x) == 2 and np.shape(x) == (2, 3) and np.size(x) == 6
    assert np.size(x, 0) == 2 and isinstance(np.size(x), int)


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------

REFUSALS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("argmax", lambda x: x[np.argmax(x)], r"integer index.*np\.max\(x\)"),
    ("argmin", lambda x: np.argmin(x), r"cannot index while traced.*np\.min\(x\)"),
    ("argsort", lambda x: x[np.argsort(x)], r"numpy\.argsort.*np\.sort\(x\)"),
    ("quantile-method", lambda x: np.quantile(x, 0.5, method="nearest"), "method='nearest'"),
    ("percentile-weights", lambda x: np.percentile(x, 5, weights=np.ones(4),
                                                   method="inverted_cdf"), "weights"),
    ("quantile-expression-q", lambda x: np.quantile(x, x[0]), "q must be a constant"),
    ("median-out", lambda x: np.median(x, out=np.zeros(())), "out"),
    ("sort-order", lambda x: np.sort(x, order="f"), "order"),
    ("pad-mode", lambda x: np.pad(x, 1, mode="mean"), "mode='mean'"),
    ("pad-ramp", lambda x: np.pad(x, 1, mode="linear_ramp"), "mode='linear_ramp'"),
    ("pad-reflect-odd", lambda x: np.pad(x, 1, mode="reflect", reflect_type="odd"), "even"),
    ("pad-stat-length", lambda x: np.pad(x, 1, mode="edge", stat_length=2), "stat_length"),
    ("repeat-expression", lambda x: np.repeat(x, x), "constant"),
    ("round-out", lambda x: np.round(x, 1, out=np.zeros(4)), "out"),
    ("cumprod-out", lambda x: np.cumprod(x, out=np.zeros(4)), "out"),
    ("vecdot-axis", lambda x: np.vecdot(x, x, axis=0), "keyword"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals_say_why(case: Any) -> None:
    _, f, message = case
    x = mg.Vector("x", 4)
    with pytest.raises(UnsupportedOperationError, match=message):
        f(x)


def test_argmax_refusal_through_grad() -> None:
    with pytest.raises(UnsupportedOperationError, match="np.max"):
        mg.grad(lambda x: x[np.argmax(x)])(np.arange(3.0))


def test_complex_real_parts_are_refused() -> None:
    z = mg.Vector("z", 2, dtype=np.complex128)
    for func in (np.real, np.imag, np.conj):
        with pytest.raises(UnsupportedOperationError, match="complex"):
            func(z)


def test_out_of_range_quantiles_are_refused() -> None:
    x = mg.Vector("x", 4)
    with pytest.raises(mg.errors.InvalidArgumentError, match=r"\[0, 100\]"):
        np.percentile(x, 120)
    with pytest.raises(mg.errors.InvalidArgumentError, match=r"\[0, 1\]"):
        np.quantile(x, [0.5, -0.1])
