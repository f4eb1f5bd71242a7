"""Hypothesis strategies for property-based tests of matrix calculus (layer 4).

This is the only matgrad module that imports hypothesis, which is a test extra
(``pip install 'matgrad[test]'``); ``import matgrad`` works without it.

Every strategy returns NumPy arrays, ``float64`` unless ``dtype`` says otherwise,
whose entries are safe for numerical differentiation:

* **Bounded.**  ``|v| <= max_magnitude`` (10 by default).
* **Finite, normal or zero.**  No NaN, no infinity, no subnormal numbers.
* **No "almost zero" values.**  Element values are drawn as floats and then
  *snapped*: anything with ``|v| < min_magnitude`` (``1e-6`` by default) becomes
  exactly ``0.0``.  So a value is either exactly zero or at least
  ``min_magnitude`` in magnitude, never ``1e-300``; negative zero never occurs.
* **Small.**  A size left as ``None`` is drawn from ``1..max_side`` (5 by default).

The structured strategies (:func:`symmetric_matrices`, :func:`spd_matrices`,
:func:`invertible_matrices`, :func:`orthogonal_matrices`) *build* their matrices
from drawn ingredients instead of filtering random ones, so hypothesis never
rejects a draw: orthogonal factors are the ``Q`` of a QR factorization of a drawn
matrix (signs fixed so that ``diag(R) >= 0``; a rank-deficient draw still gives an
orthogonal ``Q``), and spectra are drawn inside the allowed condition number.
Entries of those matrices come out of floating-point arithmetic, so they are not
snapped (that would break orthogonality); only subnormal results are flushed to
zero.

>>> from hypothesis import given, settings
>>> @settings(max_examples=10, derandomize=True, database=None)
... @given(spd_matrices(3))
... def test_cholesky_exists(A):
...     np.linalg.cholesky(A)
>>> test_cholesky_exists()
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from matgrad.errors import InvalidArgumentError

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "matgrad.testing.strategies needs hypothesis, a test extra: "
        "pip install 'matgrad[test]' (or pip install hypothesis)"
    ) from exc

__all__ = [
    "DEFAULT_MAX_MAGNITUDE",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_MIN_MAGNITUDE",
    "arrays",
    "invertible_matrices",
    "matrices",
    "orthogonal_matrices",
    "scalars",
    "shapes",
    "spd_matrices",
    "symmetric_matrices",
    "vectors",
]

DEFAULT_MAX_MAGNITUDE = 10.0
"""Default bound on the magnitude of drawn values."""

DEFAULT_MIN_MAGNITUDE = 1e-6
"""Default snapping threshold: drawn values smaller than this become ``0.0``."""

DEFAULT_MAX_SIDE = 5
"""Default largest size of an axis when the size is drawn."""

NDArray = npt.NDArray[Any]
Size = int | st.SearchStrategy[int] | None
ShapeSpec = tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None
DTypeLike = npt.DTypeLike

_REAL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_ALL_DTYPES = (*_REAL_DTYPES, np.dtype(np.complex64), np.dtype(np.complex128))


# --------------------------------------------------------------------------
# argument checking


def _check_dtype(dtype: DTypeLike, allowed: tuple[np.dtype[Any], ...]) -> np.dtype[Any]:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise InvalidArgumentError(f"not a NumPy dtype: {dtype!r}") from exc
    if resolved not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise InvalidArgumentError(f"dtype must be one of {names}; got {resolved}")
    return resolved


def _check_magnitudes(min_magnitude: float, max_magnitude: float, dtype: np.dtype[Any]) -> None:
    real = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype
    info = np.finfo(real)
    if not (np.isfinite(max_magnitude) and 0 < max_magnitude <= float(info.max)):
        raise InvalidArgumentError(
            f"max_magnitude must be positive and finite in {real}; got {max_magnitude!r}"
        )
    if not (min_magnitude == 0 or float(info.tiny) <= min_magnitude < max_magnitude):
        raise InvalidArgumentError(
            "min_magnitude must be 0 or a normal number below max_magnitude "
            f"({max_magnitude!r}); got {min_magnitude!r}"
        )


def _check_side(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def _sizes(n: Size, max_side: int, minimum: int) -> st.SearchStrategy[int]:
    """The strategy of axis sizes that ``n`` stands for."""
    max_side = _check_side("max_side", max_side, max(minimum, 1))
    if n is None:
        return st.integers(minimum, max_side)
    if isinstance(n, st.SearchStrategy):
        return n.map(lambda size: _check_side("drawn size", size, minimum))
    return st.just(_check_side("n", n, minimum))


def _check_condition(max_condition: float) -> float:
    if not (np.isfinite(max_condition) and max_condition >= 1):
        raise InvalidArgumentError(f"max_condition must be finite and >= 1; got {max_condition!r}")
    return float(max_condition)


def _flush_subnormals(a: NDArray) -> NDArray:
    """``a`` with entries below the smallest normal number of its dtype set to zero."""
    tiny = np.finfo(a.dtype).tiny
    return np.where(np.abs(a) < tiny, np.zeros((), a.dtype), a)


# --------------------------------------------------------------------------
# elements and shapes


def scalars(
    *,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    dtype: DTypeLike = np.float64,
) -> st.SearchStrategy[float]:
    """Finite real numbers that are either ``0.0`` or in ``[min_magnitude, max_magnitude]``
    in magnitude, exactly representable in the real floating ``dtype``.

    Floats are drawn from ``[-max_magnitude, max_magnitude]`` without NaN, infinity
    or subnormals; values with ``|v| < min_magnitude`` are snapped to ``0.0``
    (``min_magnitude=0`` turns snapping off).  These are the default elements of
    every array strategy here.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(scalars(max_magnitude=2.0))
    ... def test_bounded(v):
    ...     assert v == 0.0 or 1e-6 <= abs(v) <= 2.0
    >>> test_bounded()
    """
    resolved = _check_dtype(dtype, _REAL_DTYPES)
    _check_magnitudes(min_magnitude, max_magnitude, resolved)
    width: Literal[32, 64] = 32 if resolved == np.float32 else 64
    bound = float(np.array(max_magnitude, resolved))  # representable in dtype
    if bound > max_magnitude:
        bound = float(np.nextafter(np.array(bound, resolved), np.array(0, resolved)))
    floats = st.floats(
        -bound,
        bound,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=width,
    )
    if min_magnitude == 0:
        return floats.map(lambda v: v + 0.0)  # -0.0 + 0.0 == +0.0
    return floats.map(lambda v: 0.0 if abs(v) < min_magnitude else v)


def _elements(
    elements: st.SearchStrategy[Any] | None,
    dtype: np.dtype[Any],
    min_magnitude: float,
    max_magnitude: float,
) -> st.SearchStrategy[Any]:
    if elements is not None:
        if not isinstance(elements, st.SearchStrategy):
            raise InvalidArgumentError(f"elements must be a hypothesis strategy; got {elements!r}")
        return elements
    if dtype.kind == "c":
        part = scalars(
            min_magnitude=min_magnitude,
            max_magnitude=max_magnitude / np.sqrt(2.0),
            dtype=np.dtype(dtype.char.lower()),
        )
        return st.builds(complex, part, part)
    return scalars(min_magnitude=min_magnitude, max_magnitude=max_magnitude, dtype=dtype)


def shapes(
    *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = DEFAULT_MAX_SIDE
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes with ``min_dims..max_dims`` axes of sizes ``min_side..max_side``.

    ``()`` (a scalar) is included by default.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(shapes(min_dims=2, max_dims=2, max_side=3))
    ... def test_matrix_shapes(shape):
    ...     assert len(shape) == 2 and max(shape) <= 3
    >>> test_matrix_shapes()
    """
    min_dims = _check_side("min_dims", min_dims, 0)
    max_dims = _check_side("max_dims", max_dims, min_dims)
    min_side = _check_side("min_side", min_side, 0)
    max_side = _check_side("max_side", max_side, min_side)
    sides = st.integers(min_side, max_side)
    return st.lists(sides, min_size=min_dims, max_size=max_dims).map(tuple)


# --------------------------------------------------------------------------
# general arrays


def arrays(
    shape: ShapeSpec = None,
    *,
    elements: st.SearchStrategy[Any] | None = None,
    dtype: DTypeLike = np.float64,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """Arrays of a fixed ``shape``, of shapes drawn from a strategy, or (``None``) of
    shapes drawn by :func:`shapes` with sides up to ``max_side``.

    The entries come from ``elements`` if given (it must produce values exactly
    representable in ``dtype``), otherwise from :func:`scalars` with the magnitude
    bounds; complex dtypes draw real and imaginary parts separately, keeping
    ``|v| <= max_magnitude``.  The primitive under :func:`vectors` and
    :func:`matrices`.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(arrays((2, 3)), arrays(dtype=np.float32, max_magnitude=1.0))
    ... def test_arrays(a, b):
    ...     assert a.shape == (2, 3) and a.dtype == np.float64
    ...     assert b.ndim <= 3 and b.dtype == np.float32 and (abs(b) <= 1).all()
    >>> test_arrays()
    """
    resolved = _check_dtype(dtype, _ALL_DTYPES)
    _check_magnitudes(min_magnitude, max_magnitude, resolved)
    strategy_of_shapes: Any
    if shape is None:
        strategy_of_shapes = shapes(max_side=max_side)
    elif isinstance(shape, st.SearchStrategy):
        strategy_of_shapes = shape
    else:
        strategy_of_shapes = tuple(_check_side("shape entry", side, 0) for side in shape)
    values = _elements(elements, resolved, min_magnitude, max_magnitude)
    return hnp.arrays(resolved, strategy_of_shapes, elements=values)


def vectors(
    n: Size = None,
    *,
    elements: st.SearchStrategy[Any] | None = None,
    dtype: DTypeLike = np.float64,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """Vectors (shape ``(n,)``): ``n`` an int, a strategy of ints, or ``None`` for
    ``1..max_side``.  Entries as in :func:`arrays`.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(vectors(3), vectors())
    ... def test_vectors(a, b):
    ...     assert a.shape == (3,) and 1 <= b.size <= 5
    >>> test_vectors()
    """
    sizes = _sizes(n, max_side, 0 if n is not None else 1)
    return arrays(
        sizes.map(lambda size: (size,)),
        elements=elements,
        dtype=dtype,
        min_magnitude=min_magnitude,
        max_magnitude=max_magnitude,
    )


def matrices(
    shape: ShapeSpec = None,
    *,
    elements: st.SearchStrategy[Any] | None = None,
    dtype: DTypeLike = np.float64,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """General matrices: ``shape`` a pair ``(m, n)``, a strategy of pairs, or ``None``
    for both sides drawn from ``1..max_side``.  Entries as in :func:`arrays`.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(matrices((2, 4)), matrices(max_side=3))
    ... def test_matrices(a, b):
    ...     assert a.shape == (2, 4) and b.ndim == 2 and max(b.shape) <= 3
    >>> test_matrices()
    """
    if shape is None:
        sides = _sizes(None, max_side, 1)
        shape = st.tuples(sides, sides)
    elif not isinstance(shape, st.SearchStrategy) and len(shape) != 2:
        raise InvalidArgumentError(f"a matrix shape has two entries; got {shape!r}")
    return arrays(
        shape,
        elements=elements,
        dtype=dtype,
        min_magnitude=min_magnitude,
        max_magnitude=max_magnitude,
    )


# --------------------------------------------------------------------------
# structured matrices, built rather than filtered


def _orthogonal_factor(g: NDArray) -> NDArray:
    """The orthogonal ``Q`` of ``g = QR``, with column signs making ``diag(R) >= 0``."""
    q, r = np.linalg.qr(g)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    result: NDArray = q * signs
    return result


def _ingredients(n: int) -> st.SearchStrategy[NDArray]:
    """A square float64 matrix to take an orthogonal factor of (any draw works)."""
    return arrays((n, n), max_magnitude=1.0)


def _finish(a: NDArray, dtype: np.dtype[Any]) -> NDArray:
    return _flush_subnormals(np.asarray(a, dtype=dtype))


def _spectrum(n: int, max_condition: float, max_magnitude: float) -> st.SearchStrategy[NDArray]:
    """``n`` positive values in ``[max_magnitude / max_condition, max_magnitude]``,
    spread on a log scale and often exactly at one of the two ends, so that the
    largest allowed condition number is reached often."""
    exponent = st.floats(0.0, 1.0) | st.sampled_from((0.0, 1.0))
    exponents = st.lists(exponent, min_size=n, max_size=n)
    return exponents.map(lambda u: max_magnitude * max_condition ** -np.array(u))


def symmetric_matrices(
    n: Size = None,
    *,
    dtype: DTypeLike = np.float64,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """Exactly symmetric ``n x n`` matrices ``(B + Bᵀ)/2`` of a drawn ``B``.

    Entries are bounded by ``max_magnitude`` and snapped like :func:`scalars`
    (snapping keeps the symmetry exact).  Indefinite and singular matrices occur.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(symmetric_matrices())
    ... def test_symmetric(S):
    ...     assert (S == S.T).all()
    >>> test_symmetric()
    """
    resolved = _check_dtype(dtype, _REAL_DTYPES)
    _check_magnitudes(min_magnitude, max_magnitude, resolved)

    def build(b: NDArray) -> NDArray:
        s = (b + b.T) / 2
        s = np.where(np.abs(s) < min_magnitude, 0.0, s)
        return _finish(s, resolved)

    square = _sizes(n, max_side, 1).flatmap(
        lambda size: arrays((size, size), min_magnitude=min_magnitude, max_magnitude=max_magnitude)
    )
    return square.map(build)


def orthogonal_matrices(
    n: Size = None, *, dtype: DTypeLike = np.float64, max_side: int = DEFAULT_MAX_SIDE
) -> st.SearchStrategy[NDArray]:
    """Orthogonal ``n x n`` matrices (``QᵀQ = I`` to rounding), rotations and
    reflections alike: the sign-fixed ``Q`` of a QR factorization of a drawn matrix.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(orthogonal_matrices(3))
    ... def test_orthogonal(Q):
    ...     assert np.allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    >>> test_orthogonal()
    """
    resolved = _check_dtype(dtype, _REAL_DTYPES)
    return (
        _sizes(n, max_side, 1)
        .flatmap(_ingredients)
        .map(lambda g: _finish(_orthogonal_factor(g), resolved))
    )


def spd_matrices(
    n: Size = None,
    *,
    max_condition: float = 1e3,
    dtype: DTypeLike = np.float64,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """Symmetric positive definite ``n x n`` matrices ``Q diag(λ) Qᵀ`` with ``Q``
    orthogonal and eigenvalues ``λ`` drawn on a log scale from
    ``[max_magnitude / max_condition, max_magnitude]``.

    So the 2-norm condition number is at most ``max_condition`` and the largest
    eigenvalue (hence every entry) at most ``max_magnitude``, both up to rounding of
    relative size ``~ n * eps * max_condition``.  The result is made exactly
    symmetric.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(spd_matrices(max_condition=10.0))
    ... def test_spd(A):
    ...     assert np.linalg.eigvalsh(A).min() > 0
    ...     assert np.linalg.cond(A) <= 10.0 * (1 + 1e-8)
    >>> test_spd()
    """
    resolved = _check_dtype(dtype, _REAL_DTYPES)
    _check_magnitudes(0.0, max_magnitude, resolved)
    kappa = _check_condition(max_condition)

    def build(parts: tuple[NDArray, NDArray]) -> NDArray:
        g, eigenvalues = parts
        q = _orthogonal_factor(g)
        a = (q * eigenvalues) @ q.T
        return _finish((a + a.T) / 2, resolved)

    return (
        _sizes(n, max_side, 1)
        .flatmap(lambda size: st.tuples(_ingredients(size), _spectrum(size, kappa, max_magnitude)))
        .map(build)
    )


def invertible_matrices(
    n: Size = None,
    *,
    max_condition: float = 1e2,
    dtype: DTypeLike = np.float64,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    max_side: int = DEFAULT_MAX_SIDE,
) -> st.SearchStrategy[NDArray]:
    """Invertible ``n x n`` matrices ``U diag(s) Vᵀ`` with ``U, V`` orthogonal and
    singular values ``s`` drawn on a log scale from
    ``[max_magnitude / max_condition, max_magnitude]``.

    So the 2-norm condition number is at most ``max_condition`` (up to rounding, as
    for :func:`spd_matrices`), every entry is at most ``max_magnitude``, and the
    determinant takes both signs.  Generally not symmetric.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(invertible_matrices(4))
    ... def test_inverse(A):
    ...     assert np.allclose(A @ np.linalg.inv(A), np.eye(4))
    >>> test_inverse()
    """
    resolved = _check_dtype(dtype, _REAL_DTYPES)
    _check_magnitudes(0.0, max_magnitude, resolved)
    kappa = _check_condition(max_condition)

    def build(parts: tuple[NDArray, NDArray, NDArray]) -> NDArray:
        g, h, singular_values = parts
        u = _orthogonal_factor(g)
        v = _orthogonal_factor(h)
        return _finish((u * singular_values) @ v.T, resolved)

    def ingredients(size: int) -> st.SearchStrategy[tuple[NDArray, NDArray, NDArray]]:
        return st.tuples(
            _ingredients(size), _ingredients(size), _spectrum(size, kappa, max_magnitude)
        )

    return _sizes(n, max_side, 1).flatmap(ingredients).map(build)
