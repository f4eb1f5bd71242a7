"""Eigenvalues and eigenvectors of real general matrices (layer 3):
``numpy.linalg.eig`` and ``eigvals``, ``scipy.linalg.eig`` and ``eigvals`` on
expressions, each output an operation of its own (the nodes share one
decomposition per matrix value).

**Conventions.**  matgrad's expressions are real, so these are defined only at a
matrix whose spectrum is real:

- *Complex spectrum* (a rotation, any real matrix with a conjugate pair):
  evaluation raises :class:`~matgrad.errors.ComplexSpectrumError` (a
  ``numpy.linalg.LinAlgError``), which names what stays differentiable: ``trace``
  (the sum of the eigenvalues), ``det`` (their product), ``eigh``/``eigvalsh`` for
  symmetric matrices, matrix functions (``expm``, ...) and their traces.
- *Order*: the eigenvalues ascending (as ``eigvalsh``), the eigenvectors in the same
  order — not LAPACK's order, which is not stable under perturbation.  The NumPy
  and SciPy entry points return this order too (the same values as NumPy, sorted).
- *Eigenvectors*: unit 2-norm columns as NumPy returns them, each column's sign
  fixed so that its entry of largest magnitude (the first, on ties) is positive.
  The sign is locally constant wherever that entry is unique, so the derivative
  is the one of the normalized eigenvector with ``vᵢᵀ dvᵢ = 0``.
- *Derivatives*, at a simple real spectrum, with ``V`` the eigenvectors and
  ``W = V⁻ᵀ`` (left eigenvectors scaled so ``wᵢᵀ vᵢ = 1``, ``eig_left``):
  ``dλᵢ = wᵢᵀ dA vᵢ``; ``dV = V (M − diag(diag(VᵀV M)))`` with
  ``M = F ∘ (Wᵀ dA V)``, ``F_ij = 1/(λ_j − λ_i)`` (0 on the diagonal; Magnus 1985,
  Boeddeker et al. 2017 eq. 4.77 for the normalization term); ``dW = −W Nᵀ`` with
  ``N = M − diag(diag(VᵀV M))``.  Second and higher orders differentiate these
  expressions again.
- *Repeated eigenvalues* (within ``TIE_RTOL · max |λ|``; defective matrices among
  them): the eigenvalues and eigenvectors are computed, but their derivatives raise
  :class:`~matgrad.errors.DegenerateSpectrumError` (a perturbation may split a
  repeated real eigenvalue into a complex pair: no derivative exists, not even a
  directional one within real matrices).  JAX differentiates the eigenvalues
  through ``V⁻¹`` there and returns inf/NaN or an arbitrary branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.linalg

from matgrad._types import FloatArray as Array
from matgrad.errors import ComplexSpectrumError, InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample
from matgrad.ir.expr import Expr, add, as_expr, constant, einsum_node
from matgrad.ops.registry import declare, register_numpy
from matgrad.ops.spectral import inverse_gaps
from matgrad.ops.spectral_numerics import (
    DECOMPOSITIONS,
    check_distinct,
    cubic_flops,
    entrywise_square,
    square_samples,
    square_size,
)

__all__ = ["eig", "eig_left", "eig_values", "eig_vectors", "eigvals", "real_spectrum"]


# =====================================================================================
# Numerics
# =====================================================================================


def _decompose(a: Array) -> tuple[Array, Array]:
    w, v = np.linalg.eig(a)
    if np.iscomplexobj(w) and np.any(w.imag != 0):
        pair = w[np.argmax(np.abs(w.imag))]
        raise ComplexSpectrumError(
            f"eig: the matrix has complex eigenvalues ({pair.real:.6g} ± "
            f"{abs(pair.imag):.6g}i); matgrad's expressions are real, so eig and eigvals "
            "are defined (and differentiated) only where the spectrum is real.  "
            "Differentiable instead: trace(A) (the sum of the eigenvalues), det(A) (their "
            "product), eigh/eigvalsh for a symmetric A, matrix functions such as expm "
            "and their traces"
        )
    w, v = np.real(w), np.real(v)
    order = np.argsort(w, kind="stable")
    w, v = w[order], v[:, order]
    n = w.size
    if n:
        top = v[np.argmax(np.abs(v), axis=0), np.arange(n)]
        v = v * np.where(top < 0, -1.0, 1.0)
    return np.asarray(w), np.asarray(v)


def _real_spectrum_check(w: Any) -> None:
    if np.iscomplexobj(w) and np.any(w.imag != 0):
        pair = w[np.argmax(np.abs(w.imag))]
        raise ComplexSpectrumError(
            f"eig: the matrix has complex eigenvalues ({pair.real:.6g} ± "
            f"{abs(pair.imag):.6g}i); matgrad's expressions are real, so eig and eigvals "
            "are defined (and differentiated) only where the spectrum is real")


def eig_portable(ns: Any, a: Any) -> tuple[Any, Any]:
    """:func:`_decompose` on any engine: the spectrum checked real (on the host, or in
    Dask's lazy graph), eigenvalues ascending, each vector's largest entry positive."""
    w, v = ns.linalg.eig(a)
    w = ns.real(ns.checked(_real_spectrum_check, w, 1))
    v = ns.real(v)
    n = w.shape[-1]
    positions = ns.asarray(np.arange(n), like=w)
    # gathers as products with one-hot matrices (Dask has no take_along_axis)
    order = ns.astype(ns.argsort(w, axis=-1, stable=True)[..., :, None] == positions, w.dtype)
    w = ns.sum(order * w[..., None, :], axis=-1)  # order[k, j] = 1 where j is k-th smallest
    v = ns.matmul(v, ns.matrix_transpose(order))
    biggest = ns.argmax(ns.abs(v), axis=-2)[..., None, :] == positions[:, None]
    top = ns.sum(v * ns.astype(biggest, v.dtype), axis=-2)
    return w, v * ns.where(top < 0, -1.0, 1.0)[..., None, :]


def _values_portable(ns: Any, attrs: Any) -> Callable[..., Any] | None:
    if not hasattr(ns.linalg, "eig"):
        return None  # CuPy has no general eigensolver: refused by name
    return lambda a: eig_portable(ns, a)[0]


def _vectors_portable(ns: Any, attrs: Any) -> Callable[..., Any] | None:
    if not hasattr(ns.linalg, "eig"):
        return None  # CuPy has no general eigensolver: refused by name
    return lambda a: eig_portable(ns, a)[1]


def _left_portable(ns: Any, attrs: Any) -> Callable[..., Any] | None:
    if not hasattr(ns.linalg, "eig"):
        return None  # CuPy has no general eigensolver: refused by name
    def kernel(a: Any) -> Any:
        w, v = eig_portable(ns, a)
        v = v + 0 * ns.checked(lambda x: check_distinct(
            x, "eig_left (the derivatives of eig and eigvals)"), w, 1)[..., None, :]
        return ns.matrix_transpose(ns.linalg.inv(v))

    return kernel


def _eig(a: Any) -> tuple[Array, Array]:
    """``(λ ascending, V)`` of a real matrix with a real spectrum, once per value."""
    w, v = DECOMPOSITIONS.get("eig-real", np.asarray(a, dtype=np.float64), _decompose)
    return w, v


def _values_kernel(a: Any) -> Array:
    return np.array(_eig(a)[0])


def _vectors_kernel(a: Any) -> Array:
    return np.array(_eig(a)[1])


def _left_kernel(a: Any) -> Array:
    w, v = _eig(a)
    check_distinct(w, "eig_left (the derivatives of eig and eigvals)")
    return np.asarray(np.linalg.inv(v).T)


def real_spectrum(a: Any) -> bool:
    """Whether the real matrix ``a`` has only real eigenvalues (as LAPACK computes them)."""
    w = np.linalg.eigvals(np.asarray(a, dtype=np.float64))
    return not (np.iscomplexobj(w) and bool(np.any(w.imag != 0)))


def _source(which: str) -> Callable[[str, Sequence[str], Callable[[str], str], Expr], list[str]]:
    """NumPy source: ``np.linalg.eig``, sorted ascending, signs fixed (and ``V⁻ᵀ``)."""

    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        w, v, o = fresh("w"), fresh("V"), fresh("order")
        out = [f"{w}, {v} = np.linalg.eig({args[0]})",
               f"{o} = np.argsort({w}.real, kind='stable')"]
        if which == "values":
            return [*out, f"{var} = {w}.real[{o}]"]
        out += [f"{v} = {v}.real[:, {o}]",
                f"{v} = {v} * np.where({v}[np.argmax(np.abs({v}), axis=0), "
                f"np.arange({v}.shape[1])] < 0, -1.0, 1.0)"]
        if which == "vectors":
            return [*out, f"{var} = {v}"]
        return [*out, f"{var} = np.linalg.inv({v}).T"]

    return lines


def _real_dtype(dtypes: Sequence[np.dtype[Any]], attrs: Any) -> np.dtype[Any]:
    if any(np.issubdtype(dt, np.complexfloating) for dt in dtypes):
        raise InvalidArgumentError("eig and eigvals take real matrices (expressions are real)")
    return np.result_type(*dtypes, np.float64)


# =====================================================================================
# Differentials
# =====================================================================================


def _m_and_d(a: Expr, da: Expr) -> tuple[Expr, Expr, Expr, Expr]:
    """``(V, W, M, D)``: ``M = F ∘ (Wᵀ dA V)`` and ``D = diag(VᵀV M)``."""
    v, w = eig_vectors(a), eig_left(a)
    m = einsum_node([inverse_gaps(eig_values(a)), w, da, v],
                    [("i", "j"), ("p", "i"), ("p", "q"), ("q", "j")], ("i", "j"))
    dd = einsum_node([v, v, m], [("p", "j"), ("p", "k"), ("k", "j")], ("j",))
    return v, w, m, dd


def _d_eig_values(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dλᵢ = wᵢᵀ dA vᵢ`` (simple eigenvalues; ``W = V⁻ᵀ``, so ``wᵢᵀvᵢ = 1``): the
    diagonal of ``V⁻¹ dA V``.  ``eig_left`` raises ``DegenerateSpectrumError`` at a
    repeated eigenvalue, where no derivative exists."""
    assert isinstance(node, Apply)
    a = node.x
    return einsum_node([eig_left(a), d[0], eig_vectors(a)],
                       [("p", "i"), ("p", "q"), ("q", "i")], ("i",))


def _d_eig_vectors(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dV = V (M − diag(diag(VᵀV M)))``, ``M = F ∘ (V⁻¹ dA V)``, ``F_ij = 1/(λ_j − λ_i)``
    (0 on the diagonal): the unit-norm eigenvectors' derivative (``vᵢᵀ dvᵢ = 0``;
    Boeddeker et al. 2017, eq. 4.77); raises at repeated eigenvalues."""
    assert isinstance(node, Apply)
    v, _, m, dd = _m_and_d(node.x, d[0])
    return add([einsum_node([v, m], [("a", "i"), ("i", "j")], ("a", "j")),
                einsum_node([v, dd], [("a", "j"), ("j",)], ("a", "j"))], [1, -1])


def _d_eig_left(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dW = −W Nᵀ`` for ``W = V⁻ᵀ``, ``N = M − diag(diag(VᵀV M))`` (``dV = V N``, so
    ``dV⁻¹ = −N V⁻¹``); raises at repeated eigenvalues."""
    assert isinstance(node, Apply)
    _, w, m, dd = _m_and_d(node.x, d[0])
    return add([einsum_node([w, m], [("a", "j"), ("i", "j")], ("a", "i")),
                einsum_node([w, dd], [("a", "i"), ("i",)], ("a", "i"))], [-1, 1])


# =====================================================================================
# Samples: a real, well separated spectrum for any operand in [-2, 2]
# =====================================================================================

_GAP = 40.0


def _similarity(n: int) -> tuple[Array, Array]:
    """A fixed non-orthogonal ``S`` (condition number 2) and its inverse."""
    rng = np.random.default_rng(100 + n)
    q1, _ = np.linalg.qr(rng.standard_normal((n, n)))
    q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = (q1 * np.linspace(1.0, 2.0, n)) @ q2
    return s, np.linalg.inv(s)


def separated_general(a: Expr) -> Expr:
    """``a + S diag(10, 50, 90, …) S⁻¹`` (``κ(S) = 2``): a non-normal matrix whose
    eigenvalues stay real and at least 16 apart for entries of ``a`` in [−2, 2] and
    n ≤ 3 (Bauer–Fike: each moves by at most ``κ(S) ‖a‖₂ ≤ 12``)."""
    n = a.shape[0]
    s, si = _similarity(n)
    return add([a, constant((s * (10.0 + _GAP * np.arange(n))) @ si)])


# =====================================================================================
# Declarations
# =====================================================================================

eig_values: Callable[..., Expr] = declare(Operation(
    name="eig_values",
    family="eig",
    doc="eigenvalues of a real matrix with a real spectrum, ascending",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eigvals"),),
    numpy=_values_kernel,
    array_api=_values_portable,
    stacks=True,
    dtype=_real_dtype,
    differential=_d_eig_values,
    domain=lambda attrs: ("spd",),  # random valid inputs: a real, simple spectrum
    flops=lambda shapes: 10 * shapes[0][0] ** 3,
    notation=Notation(text="eigvals({0})", latex=r"\operatorname{{eigvals}}{0:arg}",
                      numpy_lines=_source("values")),
    language=Language(("eigvals",), "eigenvalues of a real matrix with a real spectrum, "
                      "ascending", "(n,n) -> (n)"),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n: hi + 0.5),),
    samples=(Sample("eig-values", lambda a: eig_values(separated_general(a)), square_samples,
                    ("general",)),),
))
eig_vectors: Callable[..., Expr] = declare(Operation(
    name="eig_vectors",
    family="eig",
    doc="unit eigenvectors (columns, ascending eigenvalues, largest entry positive) of a "
    "real matrix with a real spectrum",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eig"),) * 2,
    numpy=_vectors_kernel,
    array_api=_vectors_portable,
    stacks=True,
    dtype=_real_dtype,
    differential=_d_eig_vectors,
    domain=lambda attrs: ("spd",),
    flops=cubic_flops,
    notation=Notation(text="eigvecs({0})", latex=r"\operatorname{{eigvecs}}{0:arg}",
                      numpy_lines=_source("vectors")),
    language=Language(("eigvecs",), "unit eigenvectors of a real matrix with a real "
                      "spectrum (columns)", "(n,n) -> (n,n)"),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n: 1.0, squared=True),),
    samples=(Sample("eig-vectors-squared",
                    lambda a: entrywise_square(eig_vectors(separated_general(a))),
                    square_samples, ("general",)),),
))
eig_left: Callable[..., Expr] = declare(Operation(
    name="eig_left",
    family="eig",
    doc="left eigenvectors W = V⁻ᵀ (wᵢᵀvᵢ = 1) of a real matrix with a real, simple "
    "spectrum; raises at repeated eigenvalues",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eig_left"),) * 2,
    numpy=_left_kernel,
    array_api=_left_portable,
    stacks=True,
    dtype=_real_dtype,
    differential=_d_eig_left,
    domain=lambda attrs: ("spd",),
    flops=cubic_flops,
    notation=Notation(latex=r"\operatorname{{eigvecs}}{0:arg}^{{-\top}}",
                      numpy_lines=_source("left")),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n: 2.0, squared=True),),
    samples=(Sample("eig-left-squared",
                    lambda a: entrywise_square(eig_left(separated_general(a))),
                    square_samples, ("general",)),),
))


# =====================================================================================
# Entry points
# =====================================================================================


def _matrix(a: Any, name: str) -> Expr:
    ae = as_expr(a)
    if ae.ndim != 2 or ae.shape[0] != ae.shape[1]:
        raise ShapeError(f"{name} takes one square matrix (no stacks), got shape {ae.shape}")
    return ae


def eigvals(a: Any) -> Expr:
    """The eigenvalues of a real matrix with a real spectrum, **ascending**
    (``np.linalg.eigvals`` returns the same values in LAPACK's order); a complex
    spectrum raises ``ComplexSpectrumError`` at evaluation."""
    return eig_values(_matrix(a, "eigvals"))


def eig(a: Any) -> Any:
    """``(eigenvalues, eigenvectors)`` as ``np.linalg.eig`` returns them (its
    ``EigResult``), eigenvalues ascending, unit eigenvectors with their entry of
    largest magnitude positive; real (a complex spectrum raises
    ``ComplexSpectrumError`` at evaluation)."""
    ae = _matrix(a, "eig")
    values, vectors = eig_values(ae), eig_vectors(ae)
    result = getattr(getattr(np.linalg, "_linalg", None), "EigResult", None)
    return result(values, vectors) if result is not None else (values, vectors)


def _scipy_defaults(name: str, b: Any, homogeneous_eigvals: bool) -> None:
    if b is not None:
        raise InvalidArgumentError(f"scipy.linalg.{name}: the generalized problem (b=) "
                                   "is not supported on expressions")
    if homogeneous_eigvals:
        raise InvalidArgumentError(f"scipy.linalg.{name}: homogeneous_eigvals=True is not "
                                   "supported on expressions")


def _scipy_eig(a: Any, b: Any = None, left: bool = False, right: bool = True,
               overwrite_a: bool = False, check_finite: bool = True,
               homogeneous_eigvals: bool = False) -> Any:
    """``scipy.linalg.eig``: ``(w, vr)`` (``w`` alone with ``right=False``), ascending
    and real (SciPy returns complex dtype); ``left=True`` is refused: the left
    eigenvectors with ``wᵢᵀvᵢ = 1`` are ``mg.eig_left``."""
    _scipy_defaults("eig", b, homogeneous_eigvals)
    if left:
        raise InvalidArgumentError("scipy.linalg.eig: left=True is not supported on "
                                   "expressions (mg.eig_left gives W = V⁻ᵀ)")
    ae = _matrix(a, "eig")
    return (eig_values(ae), eig_vectors(ae)) if right else eig_values(ae)


def _scipy_eigvals(a: Any, b: Any = None, overwrite_a: bool = False,
                   check_finite: bool = True, homogeneous_eigvals: bool = False) -> Expr:
    """``scipy.linalg.eigvals``: ascending and real."""
    _scipy_defaults("eigvals", b, homogeneous_eigvals)
    return eigvals(a)


register_numpy(np.linalg.eig, eig)
register_numpy(np.linalg.eigvals, eigvals)
register_numpy(scipy.linalg.eig, _scipy_eig)
register_numpy(scipy.linalg.eigvals, _scipy_eigvals)
