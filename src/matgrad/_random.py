"""Random structured matrices drawn with a NumPy Generator (layer 1).

The identity catalogue, :func:`matgrad.language.claims.random_values` and ``matgrad demo``
draw their values here.  Each function names the structure it guarantees; the
randomness comes only from the ``rng`` passed in, so a seeded Generator gives a
reproducible draw.  (:mod:`matgrad.testing.strategies` builds the same structures
with hypothesis.)
"""

from __future__ import annotations

import numpy as np

from matgrad._types import FloatArray
from matgrad.errors import InvalidArgumentError

__all__ = [
    "dominant_diagonal",
    "invertible",
    "orthogonal",
    "spd",
    "symmetric",
    "symmetrize",
    "with_eigenvalues",
    "with_singular_values",
]


def _check_size(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidArgumentError(f"a matrix size must be a positive int, got {n!r}")


def _check_bounds(low: float, high: float) -> None:
    if not 0 < low <= high:
        raise InvalidArgumentError(f"need 0 < low <= high, got low={low!r}, high={high!r}")


def orthogonal(n: int, rng: np.random.Generator) -> FloatArray:
    """A Haar-distributed ``n × n`` orthogonal matrix: the Q of the QR decomposition
    of a standard normal matrix, its columns' signs fixed by ``diag(R) > 0``
    (Mezzadri 2007, "How to generate random matrices from the classical compact
    groups").

    >>> import numpy as np
    >>> Q = orthogonal(3, np.random.default_rng(0))
    >>> bool(np.allclose(Q.T @ Q, np.eye(3)))
    True
    """
    _check_size(n)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    out: FloatArray = q * np.sign(np.diag(r))
    return out


def with_singular_values(
    shape: tuple[int, int], values: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """A matrix of ``shape`` with the given singular values (at most ``min(shape)``
    of them; the rest are zero) and Haar-distributed singular vectors:
    ``U diag(values) Vᵀ``.

    >>> import numpy as np
    >>> A = with_singular_values((3, 2), np.array([2.0, 0.5]), np.random.default_rng(0))
    >>> np.linalg.svd(A, compute_uv=False).round(12).tolist()
    [2.0, 0.5]
    """
    m, n = shape
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) > min(m, n):
        raise InvalidArgumentError(
            f"a {m}×{n} matrix has at most {min(m, n)} singular values, got {values.shape}"
        )
    u = orthogonal(m, rng)[:, : len(values)]
    v = orthogonal(n, rng)[:, : len(values)]
    out: FloatArray = (u * values) @ v.T
    return out


def with_eigenvalues(values: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A symmetric matrix with the given eigenvalues and Haar-distributed
    eigenvectors: ``Q diag(values) Qᵀ``, symmetrized so it is exactly symmetric.

    >>> import numpy as np
    >>> S = with_eigenvalues(np.array([-1.0, 3.0]), np.random.default_rng(0))
    >>> bool((S == S.T).all()), np.linalg.eigvalsh(S).round(12).tolist()
    (True, [-1.0, 3.0])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise InvalidArgumentError(f"eigenvalues must be a vector, got shape {values.shape}")
    q = orthogonal(len(values), rng)
    return symmetrize((q * values) @ q.T)


def spd(n: int, rng: np.random.Generator, low: float = 0.5, high: float = 2.0) -> FloatArray:
    """A symmetric positive definite ``n × n`` matrix with eigenvalues uniform in
    ``[low, high]`` (so condition number at most ``high / low``).

    >>> import numpy as np
    >>> S = spd(3, np.random.default_rng(0))
    >>> bool((S == S.T).all() and np.linalg.eigvalsh(S).min() >= 0.5 - 1e-12)
    True
    """
    _check_size(n)
    _check_bounds(low, high)
    return with_eigenvalues(rng.uniform(low, high, n), rng)


def invertible(
    n: int, rng: np.random.Generator, low: float = 0.5, high: float = 2.0
) -> FloatArray:
    """An invertible ``n × n`` matrix with singular values uniform in ``[low, high]``
    (so condition number at most ``high / low``).

    >>> import numpy as np
    >>> s = np.linalg.svd(invertible(3, np.random.default_rng(0)), compute_uv=False)
    >>> bool(s.min() >= 0.5 - 1e-12 and s.max() <= 2.0 + 1e-12)
    True
    """
    _check_size(n)
    _check_bounds(low, high)
    return with_singular_values((n, n), rng.uniform(low, high, n), rng)


def symmetrize(a: FloatArray) -> FloatArray:
    """The symmetric part ``(A + Aᵀ)/2`` of a square matrix; exactly symmetric.

    >>> import numpy as np
    >>> symmetrize(np.array([[1.0, 2.0], [0.0, 1.0]])).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    out: FloatArray = np.asarray((a + a.T) / 2, dtype=np.float64)
    return out


def symmetric(n: int, rng: np.random.Generator) -> FloatArray:
    """A symmetric ``n × n`` matrix: the symmetric part of a standard normal one
    (off-diagonal entries have variance ½, diagonal entries variance 1).

    >>> import numpy as np
    >>> S = symmetric(3, np.random.default_rng(0))
    >>> bool((S == S.T).all())
    True
    """
    _check_size(n)
    return symmetrize(rng.standard_normal((n, n)))


def dominant_diagonal(noise: FloatArray) -> FloatArray:
    """``n·I + E`` for a square ``E`` (``noise``): strictly diagonally dominant, hence
    invertible with positive determinant, when every row of ``E`` has absolute sum
    below ``n`` (Gershgorin), as for ``E`` uniform in ``(-½, ½)``.

    >>> import numpy as np
    >>> X = dominant_diagonal(np.random.default_rng(0).uniform(-0.5, 0.5, (3, 3)))
    >>> bool(np.linalg.det(X) > 0)
    True
    """
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim != 2 or noise.shape[0] != noise.shape[1]:
        raise InvalidArgumentError(f"the noise must be a square matrix, got shape {noise.shape}")
    n = noise.shape[0]
    out: FloatArray = n * np.eye(n) + noise
    return out

