"""The hypothesis strategies of matgrad.testing.strategies keep their promises.

Every property is checked over many draws, with all health checks enabled
(``suppress_health_check=()``): the structured strategies build their matrices,
so hypothesis never has to filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from matgrad.errors import InvalidArgumentError
from matgrad.testing import strategies as mst

STRICT = settings(suppress_health_check=(), max_examples=100)
# no shrinking; enough examples to find every size
SEARCH = settings(phases=[Phase.generate], derandomize=True, database=None, max_examples=2000)


def assert_tame(a: np.ndarray[Any, Any], max_magnitude: float = 10.0, slack: float = 0.0) -> None:
    """Finite, bounded, and every nonzero entry a normal number (no subnormals)."""
    assert np.isfinite(a).all()
    magnitudes = np.abs(a)
    assert magnitudes.max(initial=0.0) <= max_magnitude * (1 + slack)
    nonzero = magnitudes[magnitudes != 0]
    assert (nonzero >= np.finfo(a.real.dtype).tiny).all()


def assert_snapped(a: np.ndarray[Any, Any], min_magnitude: float = 1e-6) -> None:
    """Each entry is exactly zero or at least ``min_magnitude`` in magnitude; no -0.0."""
    parts = [a.real, a.imag] if np.iscomplexobj(a) else [a]
    for part in parts:
        nonzero = part[part != 0]
        assert (np.abs(nonzero) >= min_magnitude).all()
        assert not np.signbit(part[part == 0]).any()


# --------------------------------------------------------------------------
# elements and general arrays


@STRICT
@given(mst.scalars())
def test_scalars_are_tame_floats(v: float) -> None:
    assert isinstance(v, float)
    assert_tame(np.array(v))
    assert_snapped(np.array(v))


@STRICT
@given(mst.scalars(min_magnitude=0.5, max_magnitude=2.0, dtype=np.float32))
def test_scalars_respect_bounds_and_dtype(v: float) -> None:
    assert v == 0.0 or 0.5 <= abs(v) <= 2.0
    assert float(np.float32(v)) == v


def test_values_below_the_snapping_threshold_never_occur() -> None:
    unsnapped = st.floats(-10, 10, allow_subnormal=False)
    assert find(unsnapped, lambda v: 0 < abs(v) < 1e-6) != 0  # the search is able
    with pytest.raises(NoSuchExample):
        find(mst.scalars(), lambda v: 0 < abs(v) < 1e-6, settings=settings(max_examples=300))


@STRICT
@given(mst.shapes(min_dims=1, max_dims=4, min_side=2, max_side=3))
def test_shapes_respect_bounds(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 4
    assert all(2 <= side <= 3 for side in shape)


@STRICT
@given(mst.arrays())
def test_arrays_default(a: np.ndarray[Any, Any]) -> None:
    assert a.dtype == np.float64
    assert a.ndim <= 3 and all(1 <= side <= 5 for side in a.shape)
    assert_tame(a)
    assert_snapped(a)


@STRICT
@given(mst.arrays((2, 3), max_magnitude=0.5, min_magnitude=1e-3))
def test_arrays_fixed_shape_and_bounds(a: np.ndarray[Any, Any]) -> None:
    assert a.shape == (2, 3)
    assert_tame(a, 0.5)
    assert_snapped(a, 1e-3)


@STRICT
@given(mst.arrays(st.sampled_from([(1,), (4, 2)]), dtype=np.complex128))
def test_complex_arrays(a: np.ndarray[Any, Any]) -> None:
    assert a.shape in ((1,), (4, 2)) and a.dtype == np.complex128
    assert_tame(a)
    assert_snapped(a)


@STRICT
@given(mst.arrays((3,), elements=st.sampled_from([1.0, 2.0])))
def test_custom_elements(a: np.ndarray[Any, Any]) -> None:
    assert set(a.tolist()) <= {1.0, 2.0}


@STRICT
@given(mst.vectors(), mst.vectors(4), mst.vectors(st.integers(2, 3), max_magnitude=1.0))
def test_vectors(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], c: np.ndarray[Any, Any]) -> None:
    assert a.ndim == 1 and 1 <= a.size <= 5
    assert b.shape == (4,)
    assert c.shape in ((2,), (3,))
    assert_tame(c, 1.0)
    for v in (a, b):
        assert_tame(v)
        assert_snapped(v)


@STRICT
@given(mst.matrices(), mst.matrices((2, 4)), mst.matrices(max_side=2, dtype=np.float32))
def test_matrices(
    a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], c: np.ndarray[Any, Any]
) -> None:
    assert a.ndim == 2 and all(1 <= side <= 5 for side in a.shape)
    assert b.shape == (2, 4)
    assert c.dtype == np.float32 and all(side <= 2 for side in c.shape)
    for m in (a, b, c):
        assert_tame(m)
        assert_snapped(m)


def test_sizes_vary() -> None:
    assert find(mst.matrices(), lambda a: a.shape == (5, 3), settings=SEARCH).shape == (5, 3)
    assert find(mst.vectors(), lambda v: v.size == 5, settings=SEARCH).size == 5


# --------------------------------------------------------------------------
# structured matrices


@STRICT
@given(mst.symmetric_matrices())
def test_symmetric_matrices_are_exactly_symmetric(s: np.ndarray[Any, Any]) -> None:
    assert s.ndim == 2 and s.shape[0] == s.shape[1] and 1 <= s.shape[0] <= 5
    assert (s == s.T).all()
    assert_tame(s)
    assert_snapped(s)


@STRICT
@given(mst.spd_matrices())
def test_spd_matrices(a: np.ndarray[Any, Any]) -> None:
    assert (a == a.T).all()
    eigenvalues = np.linalg.eigvalsh(a)
    assert eigenvalues.min() > 0
    assert eigenvalues.max() / eigenvalues.min() <= 1e3 * (1 + 1e-8)
    assert np.linalg.cond(a) <= 1e3 * (1 + 1e-8)
    np.linalg.cholesky(a)
    assert_tame(a, slack=1e-12)


@STRICT
@given(mst.spd_matrices(3, max_condition=1e6, max_magnitude=1e-3))
def test_spd_matrices_other_parameters(a: np.ndarray[Any, Any]) -> None:
    assert a.shape == (3, 3)
    eigenvalues = np.linalg.eigvalsh(a)
    assert eigenvalues.min() > 0
    assert eigenvalues.max() <= 1e-3 * (1 + 1e-12)
    assert eigenvalues.max() / eigenvalues.min() <= 1e6 * (1 + 1e-8)


@STRICT
@given(mst.invertible_matrices())
def test_invertible_matrices(a: np.ndarray[Any, Any]) -> None:
    assert a.ndim == 2 and a.shape[0] == a.shape[1] and 1 <= a.shape[0] <= 5
    assert np.linalg.cond(a) <= 1e2 * (1 + 1e-8)
    assert_tame(a, slack=1e-12)


@STRICT
@given(mst.invertible_matrices(st.integers(2, 4), max_condition=5.0, max_magnitude=1.0))
def test_invertible_matrices_other_parameters(a: np.ndarray[Any, Any]) -> None:
    assert 2 <= a.shape[0] <= 4
    singular_values = np.linalg.svd(a, compute_uv=False)
    assert singular_values.max() <= 1.0 * (1 + 1e-12)
    assert singular_values.max() / singular_values.min() <= 5.0 * (1 + 1e-8)


@STRICT
@given(mst.orthogonal_matrices())
def test_orthogonal_matrices(q: np.ndarray[Any, Any]) -> None:
    n = q.shape[0]
    assert q.shape == (n, n) and 1 <= n <= 5
    np.testing.assert_allclose(q.T @ q, np.eye(n), rtol=0, atol=1e-12)
    np.testing.assert_allclose(q @ q.T, np.eye(n), rtol=0, atol=1e-12)
    assert_tame(q, 1.0, slack=1e-12)


@STRICT
@given(mst.orthogonal_matrices(3, dtype=np.float32), mst.spd_matrices(3, dtype=np.float32))
def test_structured_float32(q: np.ndarray[Any, Any], a: np.ndarray[Any, Any]) -> None:
    assert q.dtype == a.dtype == np.float32
    np.testing.assert_allclose(q.T @ q, np.eye(3), rtol=0, atol=1e-6)
    assert (a == a.T).all()


def test_orthogonal_factor_of_a_rank_deficient_draw_is_orthogonal() -> None:
    for g in (np.zeros((3, 3)), np.ones((3, 3)), np.diag([1.0, 0.0, -2.0])):
        q = mst._orthogonal_factor(g)
        np.testing.assert_allclose(q.T @ q, np.eye(3), rtol=0, atol=1e-12)


def test_structured_strategies_reach_both_determinant_signs() -> None:
    for strategy in (mst.orthogonal_matrices(), mst.invertible_matrices()):
        assert np.linalg.det(find(strategy, lambda a: np.linalg.det(a) < 0, settings=SEARCH)) < 0
        assert np.linalg.det(find(strategy, lambda a: np.linalg.det(a) > 0, settings=SEARCH)) > 0


def test_spd_matrices_reach_the_condition_bound() -> None:
    strategy = mst.spd_matrices(2, max_condition=100.0)
    a = find(strategy, lambda a: np.linalg.cond(a) > 99.0, settings=SEARCH)
    assert 99.0 < np.linalg.cond(a) <= 100.0 * (1 + 1e-8)


# --------------------------------------------------------------------------
# bad parameters fail when the strategy is made, not when it is drawn from


@pytest.mark.parametrize(
    "make",
    [
        lambda: mst.scalars(max_magnitude=-1.0),
        lambda: mst.scalars(max_magnitude=float("inf")),
        lambda: mst.scalars(min_magnitude=1e-310),
        lambda: mst.scalars(min_magnitude=2.0, max_magnitude=1.0),
        lambda: mst.scalars(dtype=np.complex128),
        lambda: mst.arrays((2,), dtype=np.int64),
        lambda: mst.arrays((2,), dtype="not a dtype"),
        lambda: mst.arrays((-1, 2)),
        lambda: mst.arrays((2,), elements=[1.0]),
        lambda: mst.vectors(-1),
        lambda: mst.vectors(2.5),
        lambda: mst.matrices((2, 2, 2)),
        lambda: mst.shapes(min_dims=3, max_dims=2),
        lambda: mst.symmetric_matrices(0),
        lambda: mst.spd_matrices(2, max_condition=0.5),
        lambda: mst.invertible_matrices(2, max_condition=float("nan")),
        lambda: mst.orthogonal_matrices(max_side=0),
        lambda: mst.orthogonal_matrices(2, dtype=np.complex128),
    ],
)
def test_bad_parameters_raise_invalid_argument(make: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        make()
