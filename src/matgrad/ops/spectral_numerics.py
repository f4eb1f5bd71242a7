"""Numerics and helpers shared by the spectral families (layer 3): the scalar
functions ``f`` of ``f(S)`` and ``Σ f(λ)``, their divided differences (finite where
nodes coincide), the decomposition cache, the tie check, and expression helpers
(symmetric parts, batch axes, sample inputs with separated spectra).

Used by :mod:`matgrad.ops.spectral` (``eigh``), :mod:`matgrad.ops.symmetric_functions`
(``eigh_function`` and its Fréchet derivatives) and :mod:`matgrad.ops.singular` (the SVD).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import (
    DegenerateSpectrumError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
)
from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    Add,
    Constant,
    Einsum,
    Expr,
    Ones,
    add,
    constant,
    einsum_node,
    is_symmetric,
)
from matgrad.ops.core import transpose

__all__ = [
    "DECOMPOSITIONS",
    "DELTA",
    "TIE_RTOL",
    "DecompositionCache",
    "ScalarFunction",
    "batch_labels",
    "batch_ndim",
    "batch_shape",
    "check_distinct",
    "cubic_flops",
    "dd_tensor",
    "dd_tensor_source",
    "divided_differences",
    "eigh_cached",
    "gram_power",
    "spd_inverse",
    "entrywise_square",
    "move_axes",
    "real_dtype",
    "scalar_function",
    "second_live",
    "separated",
    "spectral_terms",
    "square_samples",
    "square_size",
    "sym",
]

TIE_RTOL = 1.5e-8
"""Two eigenvalues (singular values) closer than ``TIE_RTOL · max |λ|`` count as
repeated (``√eps``: there the computed eigenvectors are accurate to ``√eps`` only)."""

DELTA = 0.2
"""Divided differences over nodes spread less than ``DELTA`` times their scale are
summed from a Taylor series about the nodes' mean (never a quotient of close values)."""

TAYLOR_TERMS = 30


# =====================================================================================
# The scalar functions f of f(S) and Σ f(λ)
# =====================================================================================


@dataclass(frozen=True)
class ScalarFunction:
    """A scalar function ``f`` applied to eigenvalues: ``exp``, ``log``, ``sin``,
    ``cos`` or a real power ``x**p`` (``kind == "power"``; ``sqrt`` is ``p = 0.5``).

    >>> scalar_function("sqrt"), str(scalar_function(-1))
    (ScalarFunction(kind='power', p=0.5), 'x**-1')
    """

    kind: str
    p: float = 1.0

    def __str__(self) -> str:
        if self.kind != "power":
            return self.kind
        return f"x**{int(self.p) if self.p.is_integer() else self.p}"

    @property
    def integer_power(self) -> bool:
        return self.kind == "power" and self.p.is_integer()

    def __call__(self, x: Array) -> Array:
        with np.errstate(all="ignore"):
            if self.kind == "power":
                return np.asarray(np.power(x, self.p) if self.p != 0 else np.ones_like(x))
            return np.asarray(getattr(np, self.kind)(x))

    def source(self, x: str) -> str:
        """NumPy source of ``f(x)``."""
        if self.kind != "power":
            return f"np.{self.kind}({x})"
        return f"np.ones_like({x})" if self.p == 0 else f"{x} ** {self.p!r}"

    def check(self, x: Array, what: str) -> None:
        """Raise ``NonFiniteError`` if ``f`` (or its derivatives) is not defined at
        every one of the eigenvalues ``x``, or is numerically singular there."""
        if self.kind == "log" or (self.kind == "power" and not self.p.is_integer()):
            bad = x <= 0
            need = "positive"
        elif self.kind == "power" and self.p < 0:
            bad = x == 0
            need = "nonzero"
        else:
            bad = ~np.isfinite(x)
            need = "finite"
        if x.size and not bad.any() and need != "finite":
            scale = float(np.max(np.abs(x)))
            bad = np.abs(x) <= 8 * x.size * np.finfo(x.dtype).eps * scale
        if bad.any():
            raise NonFiniteError(
                f"{what}: {self} needs {need} eigenvalues that are not numerically zero, "
                f"got {x[bad][:3].tolist()} (largest magnitude {np.max(np.abs(x)):.3g})"
            )

    def scale(self, x: Array) -> Array:
        """The scale against which the spread of nodes is measured."""
        if self.kind in ("power", "log"):
            return np.asarray(np.max(np.abs(x), axis=0))
        return np.ones(x.shape[1:], dtype=x.dtype)

    def taylor_coefficients(self, m: Array, r: int) -> tuple[Array, Array]:
        """``(c, s)``: ``c[q] = f⁽ʳ⁺q⁾(m)/(r+q)! · s^q`` for ``q = 0..TAYLOR_TERMS``,
        so ``f[x₀, …, x_r] = Σ_q c[q] h_q((x − m)/s)`` (``h_q`` the complete
        homogeneous symmetric polynomial)."""
        q = np.arange(TAYLOR_TERMS + 1)[:, None]
        k = q + r
        if self.kind in ("exp", "sin", "cos"):
            fact = np.array([math.factorial(int(j)) for j in k.ravel()], dtype=float)[:, None]
            if self.kind == "exp":
                top = np.broadcast_to(np.exp(m), (len(k), m.size))
            else:
                shift = 0.0 if self.kind == "sin" else np.pi / 2
                top = np.sin(m[None, :] + shift + k * np.pi / 2)
            return top / fact, np.ones_like(m)
        nonzero = m != 0
        s = np.where(nonzero, m, 1.0)
        if self.kind == "log":
            sign = np.where(k % 2 == 1, 1.0, -1.0)  # (−1)^(k−1)
            return sign / (k * s[None, :] ** r), s
        coeff = np.empty((len(k), 1))
        for row, kk in enumerate(k.ravel()):
            coeff[row] = math.prod((self.p - j) / (j + 1) for j in range(int(kk)))
        with np.errstate(all="ignore"):
            scaled = coeff * np.power(s, self.p - r)[None, :]
        # all nodes at 0 (only for integer p >= 0): only the q = 0 term, f⁽ʳ⁾(0)/r!
        at_zero = np.where(k == self.p, 1.0, 0.0) * np.ones_like(m)[None, :]
        return np.where(nonzero[None, :], scaled, at_zero), s

    def confluent_source(self, x: str, r: str) -> str:
        """NumPy source of ``f⁽ʳ⁾(x)/r!`` for a runtime integer ``r``."""
        fact = f"np.prod(np.arange(1.0, {r} + 1))"
        if self.kind == "exp":
            return f"np.exp({x}) / {fact}"
        if self.kind in ("sin", "cos"):
            return f"np.{self.kind}({x} + {r} * np.pi / 2) / {fact}"
        if self.kind == "log":
            return f"(-1.0) ** ({r} - 1) / ({r} * {x} ** {r})"
        p = repr(self.p)
        return f"np.prod([({p} - j) / (j + 1) for j in range({r})]) * {x} ** ({p} - {r})"


_NAMED = ("exp", "log", "sin", "cos")
_POWERS = {"sqrt": 0.5, "square": 2.0, "identity": 1.0, "reciprocal": -1.0}


def scalar_function(f: Any) -> ScalarFunction:
    """``f`` as a :class:`ScalarFunction`: one, a name (``"log"``, ``"exp"``,
    ``"sin"``, ``"cos"``, ``"sqrt"``, ``"square"``, ``"identity"``,
    ``"reciprocal"``) or a real exponent ``p`` (``x**p``)."""
    if isinstance(f, ScalarFunction):
        return f
    if isinstance(f, str):
        if f in _NAMED:
            return ScalarFunction(f)
        if f in _POWERS:
            return ScalarFunction("power", _POWERS[f])
        if f.startswith("x**"):
            return scalar_function(float(f[3:]))
    elif isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, bool):
        if math.isfinite(float(f)):
            return ScalarFunction("power", float(f))
    raise InvalidArgumentError(
        f"unknown scalar function {f!r}: use one of {', '.join(_NAMED + tuple(_POWERS))} "
        "or a real exponent"
    )


# =====================================================================================
# Divided differences (numerics)
# =====================================================================================


def _complete_homogeneous(t: Array, terms: int) -> Array:
    """``h_q(t[:, j])`` for ``q = 0..terms``, shape ``(terms + 1, M)``."""
    h = np.zeros((terms + 1, t.shape[1]))
    h[0] = 1.0
    for tj in t:
        for q in range(1, terms + 1):
            h[q] += tj * h[q - 1]
    return h


def _taylor(f: ScalarFunction, x: Array) -> Array:
    m = x.mean(axis=0)
    coeff, s = f.taylor_coefficients(m, x.shape[0] - 1)
    t = (x - m) / s
    top = float(np.max(np.abs(t)))
    if top == 0:  # coinciding nodes: f⁽ʳ⁾(m)/r!
        return np.asarray(coeff[0] * np.ones_like(m))
    # terms until C(q + r, r) top^q is below 1e-17 (top <= DELTA / (1 - DELTA / 2))
    terms = min(TAYLOR_TERMS, math.ceil(math.log(1e-17) / math.log(top)) + x.shape[0])
    h = _complete_homogeneous(t, terms)
    return np.asarray(np.einsum("qj,qj->j", coeff[: terms + 1], h))


def divided_differences(f: ScalarFunction, x: Array) -> Array:
    """``f[x₀, …, x_r]`` for each column of ``x`` (shape ``(r + 1, M)``), nodes in
    any order and possibly equal (then ``f⁽ʳ⁾/r!``).  Widely spread nodes use the
    recurrence ``(f[x₁…x_r] − f[x₀…x_{r−1}]) / (x_r − x₀)`` on sorted nodes; close
    ones a Taylor series about their mean, so no close values are subtracted."""
    return _dd_sorted(f, np.sort(np.asarray(x, dtype=np.float64), axis=0))


def _dd_sorted(f: ScalarFunction, x: Array) -> Array:
    if x.shape[0] == 1:
        return f(x[0])
    out = np.empty(x.shape[1])
    spread = x[-1] - x[0]
    tie = spread == 0
    if tie.any():
        out[tie] = _taylor(f, x[:, tie])
    near = ~tie & (spread <= DELTA * f.scale(x))
    if near.any():
        out[near] = _taylor(f, x[:, near])
    far = ~(tie | near)
    if far.any():
        y = x[:, far]
        out[far] = (_dd_sorted(f, y[1:]) - _dd_sorted(f, y[:-1])) / (y[-1] - y[0])
    return out


def dd_tensor(f: ScalarFunction, w: Array, r: int) -> Array:
    """The tensor ``T[i₀, …, i_r] = f[w_{i₀}, …, w_{i_r}]``, shape ``(n,) * (r + 1)``.

    >>> t = dd_tensor(scalar_function("exp"), np.array([0.0, 0.0, 1.0]), 1)
    >>> np.allclose(t, [[1, 1, np.e - 1], [1, 1, np.e - 1], [np.e - 1, np.e - 1, np.e]])
    True
    """
    w = np.asarray(w, dtype=np.float64)
    f.check(w, f"divided differences of {f}")
    n = w.size
    # symmetric in the nodes: compute each multiset of indices once, then scatter
    if r == 1:
        idx = np.stack(np.triu_indices(n))
    else:
        idx = np.array(list(itertools.combinations_with_replacement(range(n), r + 1))).T
    with np.errstate(all="ignore"):
        values = divided_differences(f, w[idx])
    out = np.empty((n,) * (r + 1))
    for perm in itertools.permutations(range(r + 1)):
        out[tuple(idx[list(perm)])] = values
    if not np.all(np.isfinite(out)):
        raise NonFiniteError(f"divided differences of {f} overflow at eigenvalues {w.tolist()}")
    return out


def _dd_source(f: ScalarFunction, name: str) -> list[str]:
    """NumPy source of a recursive helper ``name(X)``: divided differences of ``f``
    over the sorted columns of ``X`` (the quotient recurrence; ``f⁽ʳ⁾/r!`` where all
    nodes of a column are equal)."""
    return [
        f"def {name}(X):",
        "    if X.shape[0] == 1:",
        f"        return {f.source('X[0]')}",
        "    r = X.shape[0] - 1",
        "    out = np.empty(X.shape[1])",
        "    tie = X[-1] == X[0]",
        f"    out[tie] = {f.confluent_source('X[0][tie]', 'r')}",
        "    Y = X[:, ~tie]",
        f"    out[~tie] = ({name}(Y[1:]) - {name}(Y[:-1])) / (Y[-1] - Y[0])",
        "    return out",
    ]


def dd_tensor_source(f: ScalarFunction, w: str, r: int, var: str,
                      fresh: Callable[[str], str]) -> list[str]:
    name = fresh("dd")
    grid = f"np.stack(np.meshgrid(*([{w}] * {r + 1}), indexing='ij')).reshape({r + 1}, -1)"
    return [*_dd_source(f, name),
            f"{var} = {name}(np.sort({grid}, axis=0)).reshape(({w}.size,) * {r + 1})"]


# =====================================================================================
# The decompositions, computed once per matrix
# =====================================================================================


class DecompositionCache:
    """The last few decompositions, keyed by kind and the operand's bytes: the nodes
    ``eigh_values(A)``, ``eigh_vectors(A)``, ``eigh_function(A, f)``, ... evaluated
    at one point decompose ``A`` once."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: list[tuple[tuple[Any, ...], Array, Any]] = []

    def _key(self, kind: str, a: Array) -> tuple[Any, ...]:
        return (kind, a.shape, a.dtype.str, hash(a.tobytes()))

    def peek(self, kind: str, a: Array) -> Any:
        shape = np.shape(a)
        if not any(k[0] == kind and k[1] == shape for k, _, _ in list(self._items)):
            return None  # nothing of this kind and shape stored: no need to hash
        a = np.ascontiguousarray(a)
        key = self._key(kind, a)
        with self._lock:
            for k, stored, value in self._items:
                if k == key and np.array_equal(stored, a):
                    return value
        return None

    def clear(self) -> None:
        """Forget every stored decomposition (benchmarks time a fresh one per call)."""
        with self._lock:
            self._items.clear()

    def get(self, kind: str, a: Array, compute: Callable[[Array], Any]) -> Any:
        a = np.ascontiguousarray(a)
        found = self.peek(kind, a)
        if found is not None:
            return found
        value = compute(a)
        with self._lock:
            self._items.insert(0, (self._key(kind, a), a.copy(), value))
            del self._items[self._size :]
        return value


DECOMPOSITIONS = DecompositionCache()


def eigh_cached(a: Array) -> tuple[Array, Array]:
    w, v = DECOMPOSITIONS.get("eigh", a, lambda x: tuple(np.linalg.eigh(x)))
    return w, v


def gram_power(a: Array, p: float, rcond: float = 1e-6) -> Array | None:
    """``U diag(sᵖ) Vᵀ`` of a real matrix as ``A (AᵀA)^q`` (``(AAᵀ)^q A`` when it
    is wide), ``q = (p − 1)/2``, from the eigendecomposition of the small Gram
    matrix — for the nuclear norm's gradient ``U Vᵀ`` about twice as fast as the
    SVD — or ``None`` when ``λ_min(AᵀA) ≤ rcond · λ_max`` (then squaring the
    condition number would cost accuracy: the SVD is used)."""
    if a.ndim != 2 or a.dtype not in (np.float64, np.float32) or 0 in a.shape:
        return None
    tall = a.shape[0] >= a.shape[1]
    w, v = np.linalg.eigh(a.T @ a if tall else a @ a.T)
    if not (w[0] > rcond * w[-1] and np.isfinite(w[-1])):
        return None
    middle = (v * w ** ((p - 1) / 2)) @ v.T
    return np.asarray(a @ middle if tall else middle @ a)


def spd_inverse(a: Array, margin: float = 16.0) -> Array | None:
    """``S⁻¹`` of the symmetric ``S`` whose lower triangle is ``a``'s, from its
    Cholesky factor (LAPACK ``potrf`` + ``potri``, ``n³`` flops: a sixth of ``eigh``),
    or ``None`` when ``S`` is not positive definite or not certainly far enough from
    singular for the eigenvalue check of ``x**-1`` to pass: the inverse is returned
    only if ``κ₁(S) = ‖S‖₁‖S⁻¹‖₁`` — a bound on ``κ₂ = λ_max/λ_min`` for a symmetric
    matrix — is below ``1 / (8 n eps · margin)``.  Then ``V diag(1/λ) Vᵀ`` would be
    accepted, and this is the same matrix."""
    import scipy.linalg

    if a.ndim != 2 or a.shape[0] == 0 or a.dtype not in (np.float64, np.float32):
        return None
    potrf, potri = scipy.linalg.get_lapack_funcs(("potrf", "potri"), (a,))
    c, info = potrf(a, lower=1, clean=1)
    if info != 0:
        return None
    inverse, info = potri(c, lower=1, overwrite_c=1)
    if info != 0:
        return None
    inverse += np.tril(inverse, -1).T  # potri writes the lower triangle (upper is 0)
    s = np.tril(a)
    s += np.tril(a, -1).T
    n = a.shape[0]
    kappa = float(np.abs(s).sum(axis=0).max()) * float(np.abs(inverse).sum(axis=0).max())
    if not kappa * 8 * n * np.finfo(a.dtype).eps * margin < 1:
        return None
    return np.asarray(inverse)


def check_distinct(values: Array, what: str, *, nonzero: bool = False) -> None:
    """Raise ``DegenerateSpectrumError`` if two of ``values`` are within
    ``TIE_RTOL · max |value|`` of each other (or, with ``nonzero``, one is of 0)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return
    scale = float(np.max(np.abs(v)))
    tol = TIE_RTOL * scale
    ordered = np.sort(v)
    gaps = np.diff(ordered)
    if (gaps <= tol).any():
        k = int(np.argmin(gaps))
        pair = ordered[k : k + 2].tolist()
        raise DegenerateSpectrumError(
            f"{what}: the values {pair} repeat (gap <= {TIE_RTOL:g} x {scale:.3g}); the "
            "eigen/singular vectors have no derivative there (functions of the whole "
            "spectrum, such as sums of f(λ), eigh_function or the nuclear norm, do)"
        )
    if nonzero and (scale == 0 or (np.abs(v) <= tol).any()):
        raise DegenerateSpectrumError(
            f"{what}: a singular value is zero (<= {TIE_RTOL:g} x {scale:.3g}); the singular "
            "vectors (and the singular values' second derivatives) have no derivative there"
        )


# =====================================================================================
# Expression helpers: symmetric parts, batch axes, the explicit Daleckii–Krein form
# =====================================================================================


def sym(e: Expr) -> Expr:
    """The symmetric part ``(E + Eᵀ)/2`` over the last two axes."""
    if e.ndim == 2 and is_symmetric(e):
        return e
    r = e.ndim
    return add([e, transpose(e, (*range(r - 2), r - 1, r - 2))], [0.5, 0.5])


def move_axes(x: Expr, start: int, count: int, to: int) -> Expr:
    """``x`` with the ``count`` axes from ``start`` moved to position ``to`` (of the
    remaining axes)."""
    moved = list(range(start, start + count))
    rest = [k for k in range(x.ndim) if k not in moved]
    return transpose(x, (*rest[:to], *moved, *rest[to:]))


def batch_ndim(e: Expr, core: int) -> int:
    return e.ndim - core


def second_live(
    build: Callable[[Apply, Expr], Expr], core_in: int
) -> Callable[[Expr, Sequence[Expr], Shape], Expr]:
    """The forward map of an operation linear in its second operand (batched in
    front): move the tangent's trailing axes to the front, apply, move them back."""

    def push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
        assert isinstance(node, Apply)
        t, k = tangents[1], len(extra)
        moved = move_axes(t, t.ndim - k, k, 0)
        out = build(node, moved)
        return move_axes(out, 0, k, out.ndim - k)

    return push


def batch_labels(tag: Any, count: int) -> tuple[Any, ...]:
    return tuple((tag, k) for k in range(count))


# =====================================================================================
# Shape rules, samples, notation helpers
# =====================================================================================


def square_size(s: Shape, name: str) -> int:
    if len(s) != 2 or s[0] != s[1]:
        raise ShapeError(f"{name} needs a square matrix, got shape {s}")
    return s[0]


def batch_shape(s: Shape, n: int, core: int, name: str) -> Shape:
    if len(s) < core or any(d != n for d in s[len(s) - core :]):
        want = "(..., n, n)" if core == 2 else "(..., n)"
        raise ShapeError(f"{name}: operand of shape {s} is not {want} with n = {n}")
    return s[: len(s) - core]


def real_dtype(dtypes: Sequence[np.dtype[Any]], attrs: Mapping[str, Any]) -> np.dtype[Any]:
    for dt in dtypes:
        if np.issubdtype(dt, np.complexfloating):
            raise InvalidArgumentError("the symmetric eigendecomposition takes real matrices")
    return np.result_type(*dtypes, np.float64)


def cubic_flops(shapes: Sequence[Shape]) -> int:
    return 10 * shapes[0][0] ** 3


_SPACING = 15.0
"""Samples add a constant symmetric matrix with eigenvalues 10, 25, 40, ... to a
general one (entries in [−2, 2]: spectral norm at most 6), so the eigenvalues stay
at least 3 apart and above 4."""


def _rotation(n: int) -> Array:
    q, _ = np.linalg.qr(np.random.default_rng(n).standard_normal((n, n)))
    return np.asarray(q)


def separated(a: Expr) -> Expr:
    """``sym(a) + Q diag(10, 25, 40, …) Qᵀ`` for a fixed orthogonal ``Q``: distinct,
    positive eigenvalues for any general ``a`` (for samples)."""
    n = a.shape[0]
    q = _rotation(n)
    c = (q * (10.0 + _SPACING * np.arange(n))) @ q.T
    return add([sym(a), constant((c + c.T) / 2)])


def square_samples(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


def entrywise_square(x: Expr) -> Expr:
    labels = tuple(range(x.ndim))
    return einsum_node([x, x], [labels, labels], labels)


def spectral_terms(c: Expr, w: Expr) -> list[tuple[complex, ScalarFunction]] | None:
    """``c`` as ``Σ αₖ fₖ(w)`` with each ``fₖ`` a :class:`ScalarFunction` of the vector
    ``w``, or ``None``."""
    if c is w:
        return [(1, ScalarFunction("power", 1.0))]
    if isinstance(c, Ones):
        return [(1, ScalarFunction("power", 0.0))]
    if isinstance(c, Constant):
        flat = np.ravel(c.value)
        if c.ndim <= 1 and flat.size and np.all(flat == flat[0]):
            return [(complex(flat[0]).real, ScalarFunction("power", 0.0))]
        return None
    if isinstance(c, Apply) and len(c.args) == 1 and c.x is w:
        name = c.op.name
        if name == "power":
            return [(1, ScalarFunction("power", float(c.attrs["p"])))]
        if name in _NAMED:
            return [(1, ScalarFunction(name))]
        if name in _POWERS:
            return [(1, ScalarFunction("power", _POWERS[name]))]
        return None
    if isinstance(c, Add):
        out: list[tuple[complex, ScalarFunction]] = []
        for term, coeff in zip(c.terms, c.coeffs):
            parts = spectral_terms(term, w)
            if parts is None:
                return None
            out += [(coeff * k, fn) for k, fn in parts]
        return out
    if isinstance(c, Einsum) and all(ix in (c.out, ()) for ix in c.indices):
        scale: complex = 1
        power = 0.0
        other: ScalarFunction | None = None
        for operand in c.operands:
            parts = spectral_terms(operand, w) if operand.ndim else None
            if operand.ndim == 0:
                if not isinstance(operand, Constant):
                    return None
                scale *= complex(operand.value).real
                continue
            if parts is None or len(parts) != 1:
                return None
            k, fn = parts[0]
            scale *= k
            if fn.kind == "power":
                power += fn.p
            elif other is None:
                other = fn
            else:
                return None
        if other is not None and power != 0:
            return None
        return [(scale, other or ScalarFunction("power", power))]
    return None
