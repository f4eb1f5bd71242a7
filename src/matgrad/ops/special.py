"""Special functions (layer 3): the elementwise ``scipy.special`` functions of
everyday statistics and machine learning, with SciPy's ufuncs as their NumPy
implementation.  (``logsumexp``, ``softmax`` and ``log_softmax`` are the family
:mod:`matgrad.ops.softmax`.)

Declared: ``logit``, ``erf``, ``erfc``, ``gammaln``, ``digamma`` and
``polygamma(n, x)`` (the derivatives of ``digamma``: each one's derivative is
the next), and ``xlogy`` and ``xlog1py`` of two operands (NumPy broadcasting).
Built from them: ``log_expit`` (``−logaddexp(0, −x)``), and ``expit``, which is
:func:`~matgrad.ops.elementwise.sigmoid`.

SciPy's spelling: the ufuncs ``scipy.special.expit``, ``log_expit``, ``logit``,
``erf``, ``erfc``, ``gammaln``, ``digamma`` (``psi``), ``xlogy`` and
``xlog1py`` build these nodes when applied to expressions.
``scipy.special.polygamma`` is a plain Python function that converts its
input with ``np.asarray``, which an expression cannot intercept: on an
expression it raises :class:`~matgrad.errors.UnsupportedOperationError`; write
``mg.polygamma(n, x)`` (SciPy's argument order).

Conventions:

* ``xlogy(0, y) = 0`` and ``xlog1py(0, y) = 0`` for every ``y``, also at
  ``y = 0`` (``y = −1``), as in SciPy; their partial derivatives are JAX's
  custom JVP, ``∂ₓ = log y`` and ``∂ᵧ = x / y`` (``log1p y`` and
  ``x / (1 + y)``): at ``x = 0 < y`` they are ``log y`` and 0; at ``(0, 0)``
  (``(0, −1)``), where the function is not continuous, they are ``−inf`` and
  NaN (``0/0``), as JAX returns.
* ``expit`` and ``log_expit`` never overflow: values and derivatives of every
  order are finite at ±1000.
* ``logit`` is defined on (0, 1); ``gammaln``, ``digamma`` and ``polygamma``
  away from their poles at 0, −1, −2, … (their samples draw positive
  arguments).  Arguments are real (complex ones are refused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.special as sp

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Expr, Zero, add, as_expr, einsum_node, ones, zeros
from matgrad.ir.node import _result_dtype
from matgrad.ops.binary import logaddexp
from matgrad.ops.core import _broadcast_shape, _broadcast_to
from matgrad.ops.elementwise import exp, log, log1p, power, sigmoid
from matgrad.ops.registry import declare, language_function, operation, register_numpy

__all__ = [
    "digamma",
    "erf",
    "erfc",
    "expit",
    "gammaln",
    "log_expit",
    "logit",
    "polygamma",
    "xlog1py",
    "xlogy",
]

Attrs = Mapping[str, Any]
Lines = Callable[[str, Sequence[str], Callable[[str], str], Expr], list[str]]

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _hadamard(*factors: Expr) -> Expr:
    labels = tuple(range(factors[0].ndim))
    return einsum_node(list(factors), [labels] * len(factors), labels)


def _minus(a: Expr, b: Expr) -> Expr:
    return add([a, b], [1, -1])


def _one(x: Expr) -> Expr:
    return ones(x.shape, x.dtype)


def real_dtype(dtypes: Sequence[np.dtype[Any]], attrs: Attrs) -> np.dtype[Any]:
    """Floating, and real: SciPy's special functions of complex arguments
    (``loggamma``, ``wofz``) are other functions."""
    dt = _result_dtype(*dtypes, floating=True)
    if np.issubdtype(dt, np.complexfloating):
        raise UnsupportedOperationError(
            "the special functions (logit, erf, gammaln, xlogy, logsumexp, ...) take real "
            f"arguments, got {dt}"
        )
    return dt


def scipy_source(func: str, before: Sequence[str] = (), keywords: Sequence[str] = ()) -> Lines:
    """NumPy source calling ``scipy.special.<func>`` (the attributes ``before``
    first, then the operands, then ``keywords`` by name)."""

    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        assert isinstance(node, Apply)
        given = node.attrs
        special = fresh("special")
        call = [*(repr(given[a]) for a in before), *args,
                *(f"{k}={given[k]!r}" for k in keywords)]
        return [
            f"from scipy import special as {special}",
            f"{var} = {special}.{func}({', '.join(call)})",
        ]

    return lines


def _vectors(n: int, m: int) -> tuple[Shape, ...]:
    return ((n,),)


def _matrices(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _vector_pair(n: int, m: int) -> tuple[Shape, ...]:
    return ((n,), (n,))


def _matrix_pair(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m), (n, m))


# ---------------------------------------------------------------------------------------
# Elementwise functions of one operand
# ---------------------------------------------------------------------------------------


def _on_engine(name: str) -> Callable[[Any, Any], Callable[..., Any]]:
    """The portable kernel of a special function: the engine's own
    (``torch.special``, ``jax.scipy.special``, SciPy's ufunc on Dask chunks)."""
    return lambda ns, attrs: ns.special(name)


def _unary(
    name: str,
    doc: str,
    ufunc: np.ufunc,
    derivative: Callable[[Apply], Expr],
    *,
    latex: str,
    domain: str = "general",
    build: Callable[..., Expr] | None = None,
    shapes: Callable[[int, int], tuple[Shape, ...]] = _vectors,
    fuzz: tuple[Fuzz, ...] = (),
) -> Operation:
    """An elementwise special function: ``d f(x) = f′(x) ⊙ dx`` with ``f′`` from
    ``derivative(node)``, computed by the SciPy ufunc of the same name."""

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        assert isinstance(node, Apply)
        (dx,) = d
        return _hadamard(derivative(node), dx)

    differential.__doc__ = f"``d {name}(x) = {name}′(x) ⊙ dx``; " + (derivative.__doc__ or "")
    return Operation(
        name=name,
        family="special",
        doc=doc,
        shape=same_shape,
        numpy=ufunc,
        array_api=_on_engine(name),
        differential=differential,
        dtype=real_dtype,
        domain=None if domain == "general" else (lambda attrs: (domain,)),
        elementwise=True,
        preserves_symmetry=True,
        notation=Notation(latex=latex, numpy_lines=scipy_source(name)),
        numpy_functions=((ufunc, None),),
        language=Language((name,), doc, "x -> x"),
        samples=(Sample(name, build, shapes, (domain,)),),
        fuzz=fuzz,
    )


def _d_logit(node: Apply) -> Expr:
    """logit′(p) = (p (1 − p))⁻¹."""
    p = node.x
    return power(_hadamard(p, _minus(_one(p), p)), -1.0)


def _gauss(x: Expr) -> Expr:
    """``exp(−x²)`` entry by entry."""
    return exp(add([power(x, 2.0)], [-1]))


def _d_erf(node: Apply) -> Expr:
    """erf′(x) = 2/√π exp(−x²)."""
    return add([_gauss(node.x)], [TWO_OVER_SQRT_PI])


def _d_erfc(node: Apply) -> Expr:
    """erfc′(x) = −2/√π exp(−x²)."""
    return add([_gauss(node.x)], [-TWO_OVER_SQRT_PI])


def _d_gammaln(node: Apply) -> Expr:
    """gammaln′ = digamma: (log |Γ|)′ = Γ′/Γ = ψ."""
    return digamma(node.x)


def _d_digamma(node: Apply) -> Expr:
    """digamma′ = polygamma(1, ·), the trigamma function ψ′."""
    return polygamma(1, node.x)


def _logit_bound(lo: float, hi: float, n: int) -> float:
    lo = max(lo, 1e-300)
    return max(abs(math.log(lo / (1 - lo))), abs(math.log(hi / (1 - hi))))


def _unit(a: Expr) -> Expr:
    """A logit sample's argument: ``0.4 a`` for positive ``a`` (in [0.2, 0.8])."""
    return add([a], [0.4])


logit: Callable[..., Expr] = declare(
    _unary(
        "logit", "entrywise log(p / (1 − p)), the inverse of expit, on (0, 1)", sp.logit,
        _d_logit, latex=r"\operatorname{{logit}}{0:arg}", domain="positive",
        build=lambda a: logit(_unit(a)),
        fuzz=(Fuzz("positive", 0.9, _logit_bound),),
    )
)
erf: Callable[..., Expr] = declare(
    _unary(
        "erf", "entrywise error function 2/√π ∫₀ˣ exp(−t²) dt", sp.erf, _d_erf,
        latex=r"\operatorname{{erf}}{0:arg}", shapes=_matrices,
        fuzz=(Fuzz(bound=lambda lo, hi, n: math.erf(hi)),),
    )
)
erfc: Callable[..., Expr] = declare(
    _unary(
        "erfc", "entrywise complementary error function 1 − erf(x)", sp.erfc, _d_erfc,
        latex=r"\operatorname{{erfc}}{0:arg}",
        fuzz=(Fuzz("general", 3.0, lambda lo, hi, n: math.erfc(-hi), positive=True,
                   low=lambda lo, hi: math.erfc(hi)),),
    )
)
gammaln: Callable[..., Expr] = declare(
    _unary(
        "gammaln", "entrywise log |Γ(x)|, the log-gamma function", sp.gammaln, _d_gammaln,
        latex=r"\log\Gamma{0:arg}", domain="positive", shapes=_matrices,
        fuzz=(Fuzz("positive", bound=lambda lo, hi, n: max(
            abs(math.lgamma(max(lo, 1e-300))), abs(math.lgamma(hi)), 0.125)),),
    )
)
digamma: Callable[..., Expr] = declare(
    _unary(
        "digamma", "entrywise digamma function ψ = Γ′/Γ", sp.digamma, _d_digamma,
        latex=r"\psi{0:arg}", domain="positive",
        fuzz=(Fuzz("positive", bound=lambda lo, hi, n: max(
            abs(float(sp.digamma(max(lo, 1e-300)))), abs(float(sp.digamma(hi))))),),
    )
)


# ---------------------------------------------------------------------------------------
# polygamma: the derivatives of digamma
# ---------------------------------------------------------------------------------------


def _polygamma_check(attrs: Attrs) -> dict[str, Any]:
    n = attrs["n"]
    ok = not isinstance(n, (bool, np.bool_, Expr)) and np.ndim(n) == 0
    try:
        ok = ok and float(n).is_integer() and float(n) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidArgumentError(
            f"polygamma(n, x): the order n must be a constant non-negative integer, got {n!r}"
        )
    return {"n": int(n)}


def _polygamma_canonical(x: Expr, *, n: int) -> Expr | None:
    """``polygamma(0, x)`` is ``digamma(x)``."""
    return digamma(x) if n == 0 else None


def _d_polygamma(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁺¹⁾(x) ⊙ dx``: the derivative of each polygamma function is
    the next one (ψ⁽ⁿ⁾ is the n-th derivative of the digamma function ψ)."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _hadamard(polygamma(node.attrs["n"] + 1, node.x), dx)


def _polygamma_portable(fn: Callable[..., Any], n: int) -> Callable[..., Any]:
    return lambda x: fn(n, x)


_POLYGAMMA = Operation(
    name="polygamma",
    family="special",
    doc="entrywise polygamma function ψ⁽ⁿ⁾, the n-th derivative of digamma",
    shape=same_shape,
    numpy=lambda x, n: sp.polygamma(n, x),
    array_api=lambda ns, attrs: _polygamma_portable(ns.special("polygamma"), int(attrs["n"])),
    differential=_d_polygamma,
    attrs=("n",),
    check=_polygamma_check,
    canonical=_polygamma_canonical,
    dtype=real_dtype,
    domain=lambda attrs: ("positive",),
    elementwise=True,
    preserves_symmetry=True,
    notation=Notation(
        text="polygamma({n}, {0})",
        latex=r"\psi^{{({n})}}{0:arg}",
        numpy_lines=scipy_source("polygamma", before=("n",)),
    ),
    language=Language(
        ("polygamma",), "polygamma(n, x): the n-th derivative of the digamma function",
        "n:number, x -> x",
    ),
    samples=(
        Sample("polygamma-1", lambda a: polygamma(1, a), _vectors, ("positive",)),
        Sample("polygamma-2", lambda a: polygamma(2, a), _matrices, ("positive",)),
    ),
    fuzz=(Fuzz("positive", bound=lambda lo, hi, size, n: math.factorial(n + 1) * (
        1.0 + max(lo, 1e-3) ** -(n + 1)), attrs=({"n": 1}, {"n": 2})),),
)
declare(_POLYGAMMA)


def polygamma(n: Any, x: Any) -> Expr:
    """The polygamma function ``ψ⁽ⁿ⁾(x)`` entry by entry (``scipy.special.polygamma``,
    whose argument order it keeps), for a constant integer order ``n ≥ 0``;
    ``polygamma(0, x)`` is ``digamma(x)``.

    >>> import matgrad as mg
    >>> print(mg.derivative(mg.digamma(mg.Scalar("s")), mg.Scalar("s")))
    polygamma(1, s)
    """
    return _POLYGAMMA(x, n=n)


polygamma.op = _POLYGAMMA  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# xlogy and xlog1py
# ---------------------------------------------------------------------------------------


def _broadcasting(name: str) -> Callable[..., Expr | None]:
    """Operands of different shapes are broadcast to their common shape first."""

    def canonical(x: Expr, y: Expr) -> Expr | None:
        if x.shape == y.shape:
            return None
        target = _broadcast_shape(name, x.shape, y.shape)
        return operation(name)(_broadcast_to(x, target, name), _broadcast_to(y, target, name))

    return canonical


def _two_terms(node: Expr, d: tuple[Expr, ...], *weights: Callable[[], Expr]) -> Expr:
    """``Σₖ wₖ ⊙ dₖ`` over the operands that vary."""
    terms = [_hadamard(w(), dk) for w, dk in zip(weights, d) if not isinstance(dk, Zero)]
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _d_xlogy(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d xlogy(x, y) = log(y) ⊙ dx + x ⊙ y⁻¹ ⊙ dy`` (JAX's custom JVP of
    ``xlogy``): at ``x = 0 < y`` the partials are ``log y`` and 0; at ``(0, 0)``
    they are ``−inf`` and NaN (``0/0``), as in JAX."""
    assert isinstance(node, Apply)
    x, y = node.args
    return _two_terms(node, d, lambda: log(y), lambda: _hadamard(x, power(y, -1.0)))


def _d_xlog1py(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d xlog1py(x, y) = log1p(y) ⊙ dx + x ⊙ (1 + y)⁻¹ ⊙ dy`` (JAX's custom JVP
    of ``xlog1py``): at ``x = 0 > −1 < y`` the partials are ``log1p y`` and 0;
    at ``(0, −1)`` they are ``−inf`` and NaN (``0/0``), as in JAX."""
    assert isinstance(node, Apply)
    x, y = node.args
    return _two_terms(
        node, d, lambda: log1p(y),
        lambda: _hadamard(x, power(add([_one(y), y]), -1.0)),
    )


def _binary(name: str, doc: str, ufunc: np.ufunc, differential: Any, latex: str,
            samples: tuple[Sample, ...]) -> Operation:
    return Operation(
        name=name,
        family="special",
        doc=doc,
        arity=2,
        shape=same_shape,
        numpy=ufunc,
        array_api=_on_engine(name),
        differential=differential,
        dtype=real_dtype,
        domain=lambda attrs: ("general", "positive"),
        canonical=_broadcasting(name),
        elementwise=True,
        preserves_symmetry=True,
        notation=Notation(latex=latex, numpy_lines=scipy_source(name)),
        numpy_functions=((ufunc, None),),
        language=Language((name,), f"{name}(x, y): {doc}", "x, x -> x"),
        samples=samples,
        fuzz=(Fuzz(operands=("positive",), bound=lambda lo, hi, n: hi[0] * max(
            abs(math.log(lo[1])), math.log1p(hi[1]))),),
    )


xlogy: Callable[..., Expr] = declare(
    _binary(
        "xlogy", "entrywise x log(y), 0 where x = 0", sp.xlogy, _d_xlogy,
        r"{0:atom} \log{1:arg}",
        (
            Sample("xlogy", None, _matrix_pair, ("general", "positive")),
            Sample("xlogy-entropy", lambda p: xlogy(p, p), _vectors, ("positive",)),
        ),
    )
)
xlog1py: Callable[..., Expr] = declare(
    _binary(
        "xlog1py", "entrywise x log(1 + y), 0 where x = 0", sp.xlog1py, _d_xlog1py,
        r"{0:atom} \log\left(1 + {1}\right)",
        (Sample("xlog1py", None, _vector_pair, ("general", "positive")),),
    )
)


# ---------------------------------------------------------------------------------------
# Built from the operations above
# ---------------------------------------------------------------------------------------


expit = sigmoid
"""``scipy.special.expit`` is the logistic function :func:`~matgrad.ops.elementwise.sigmoid`."""


def log_expit(x: Any) -> Expr:
    """``log σ(x) = −log(1 + e⁻ˣ) = −logaddexp(0, −x)`` entry by entry
    (``scipy.special.log_expit``), without overflow."""
    xe = as_expr(x)
    return -logaddexp(0.0, -xe)


register_numpy(sp.expit, sigmoid)
register_numpy(sp.log_expit, log_expit)
language_function(Language(("expit",), "entrywise logistic function, sigmoid", "x -> x"),
                  sigmoid)
language_function(Language(("log_expit",), "entrywise log of the logistic function",
                           "x -> x"), log_expit)
