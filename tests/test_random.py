"""matgrad._random keeps its promises, for any seed (drawn by hypothesis)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matgrad import _random
from matgrad.errors import InvalidArgumentError

seeds = st.integers(min_value=0, max_value=2**32 - 1)
sizes = st.integers(min_value=1, max_value=6)
bounds = st.tuples(
    st.floats(min_value=0.1, max_value=5.0), st.floats(min_value=1.0, max_value=4.0)
).map(lambda lr: (lr[0], lr[0] * lr[1]))


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@given(seeds, sizes)
def test_orthogonal_is_orthogonal(seed: int, n: int) -> None:
    q = _random.orthogonal(n, rng_of(seed))
    assert q.shape == (n, n)
    assert np.abs(q.T @ q - np.eye(n)).max() <= 1e-12
    assert np.abs(q @ q.T - np.eye(n)).max() <= 1e-12


@given(seeds, sizes, sizes, st.data())
def test_with_singular_values_has_them(seed: int, m: int, n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=min(m, n)))
    values = np.sort(
        np.asarray(data.draw(st.lists(st.floats(0.1, 10.0), min_size=k, max_size=k)))
    )[::-1]
    a = _random.with_singular_values((m, n), values, rng_of(seed))
    assert a.shape == (m, n)
    expected = np.concatenate([values, np.zeros(min(m, n) - k)])
    got = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@given(seeds, st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=6))
def test_with_eigenvalues_is_symmetric_with_them(seed: int, values: list[float]) -> None:
    s = _random.with_eigenvalues(np.asarray(values), rng_of(seed))
    assert (s == s.T).all()
    np.testing.assert_allclose(np.linalg.eigvalsh(s), np.sort(values), rtol=1e-10, atol=1e-10)


@given(seeds, sizes, bounds)
def test_spd_eigenvalues_in_bounds(seed: int, n: int, low_high: tuple[float, float]) -> None:
    low, high = low_high
    s = _random.spd(n, rng_of(seed), low, high)
    assert (s == s.T).all()
    eig = np.linalg.eigvalsh(s)
    slack = 1e-12 * high * n
    assert eig.min() >= low - slack and eig.max() <= high + slack


@given(seeds, sizes, bounds)
def test_invertible_singular_values_in_bounds(
    seed: int, n: int, low_high: tuple[float, float]
) -> None:
    low, high = low_high
    sv = np.linalg.svd(_random.invertible(n, rng_of(seed), low, high), compute_uv=False)
    slack = 1e-12 * high * n
    assert sv.min() >= low - slack and sv.max() <= high + slack


@given(seeds, sizes)
def test_symmetric_is_exactly_symmetric(seed: int, n: int) -> None:
    s = _random.symmetric(n, rng_of(seed))
    assert s.shape == (n, n)
    assert (s == s.T).all()


@given(seeds, sizes)
def test_dominant_diagonal_with_small_noise_is_invertible(seed: int, n: int) -> None:
    x = _random.dominant_diagonal(rng_of(seed).uniform(-0.5, 0.5, (n, n)))
    assert np.linalg.det(x) > 0
    assert np.linalg.cond(x) < 3


@given(seeds, sizes)
def test_same_seed_same_draw(seed: int, n: int) -> None:
    assert (_random.spd(n, rng_of(seed)) == _random.spd(n, rng_of(seed))).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda rng: _random.orthogonal(0, rng),
        lambda rng: _random.spd(2, rng, low=2.0, high=1.0),
        lambda rng: _random.invertible(2, rng, low=0.0),
        lambda rng: _random.with_singular_values((2, 3), np.ones(3), rng),
        lambda rng: _random.with_eigenvalues(np.ones((2, 2)), rng),
        lambda rng: _random.dominant_diagonal(np.ones((2, 3))),
    ],
)
def test_bad_arguments_raise(call: Callable[[np.random.Generator], object]) -> None:
    with pytest.raises(InvalidArgumentError):
        call(rng_of(0))
