"""Elementwise functions of one operand (layer 3): ``f(x)`` entry by entry, as
NumPy's ufuncs.

Each function is one :func:`_unary` declaration: its NumPy implementation, its
derivative ``f′`` as an expression (the differential is ``f′(x) ⊙ dx``), how it
prints, the ufunc that builds it, and its test domain.  Powers with a constant
exponent are the declared ``power`` (``square`` and ``reciprocal`` are powers).

At the points where a function is not differentiable: ``abs′(0) = 0`` and
``sign′ = 0`` everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Expr, add, constant, einsum_node, ones, zeros
from matgrad.ir.node import _result_dtype
from matgrad.ops.registry import declare, language_function, register_numpy

__all__ = [
    "abs",
    "arccos",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctanh",
    "cos",
    "cosh",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "power",
    "reciprocal",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "tan",
    "tanh",
]

STEEP = 3.0
"""The fuzzer's magnitude limit for arguments of steep functions (``exp``, powers)."""


def _hadamard(a: Expr, b: Expr) -> Expr:
    """``a ⊙ b`` of two same-shaped expressions."""
    labels = tuple(range(a.ndim))
    return einsum_node([a, b], [labels, labels], labels)


def _vectors(n: int, m: int) -> tuple[Shape, ...]:
    return ((n,),)


def _matrices(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _unary(
    name: str,
    doc: str,
    numpy: Callable[..., Any],
    derivative: Callable[[Apply], Expr],
    *,
    ufunc: Any = None,
    latex: str | None = None,
    numpy_source: str | None = None,
    numpy_complex: str | None = None,
    reference: Callable[..., Any] | None = None,
    domain: str = "general",
    shapes: Callable[[int, int], tuple[Shape, ...]] = _matrices,
    fuzz: tuple[Fuzz, ...] = (),
    dtype: Any = None,
    build: Callable[..., Expr] | None = None,
    array_api: Callable[[Any, Any], Callable[..., Any]] | None = None,
) -> Operation:
    """The declaration of an elementwise function of one operand, without attributes.
    ``derivative(node)`` is ``f′`` at the node's operand, of the operand's shape."""

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        assert isinstance(node, Apply)
        (dx,) = d
        return _hadamard(derivative(node), dx)

    differential.__doc__ = f"``d {name}(x) = {name}′(x) ⊙ dx``; " + (derivative.__doc__ or "")
    extra: dict[str, Any] = {} if dtype is None else {"dtype": dtype}
    if domain != "general":
        extra["domain"] = lambda attrs: (domain,)
    return Operation(
        name=name,
        family="elementwise",
        doc=doc,
        shape=same_shape,
        numpy=numpy,
        differential=differential,
        array_api=array_api,
        elementwise=True,
        preserves_symmetry=True,
        reference=reference,
        notation=Notation(
            text=f"{name}({{0}})",
            latex=latex,
            numpy=numpy_source or f"np.{name}({{0}})",
            numpy_complex=numpy_complex,
        ),
        numpy_functions=((ufunc, None),) if ufunc is not None else (),
        language=Language((name,), doc, "x -> x"),
        samples=(Sample(name, build, shapes, (domain,)),),
        fuzz=fuzz,
        **extra,
    )


def _one(node: Expr) -> Expr:
    return ones(node.shape, node.dtype)


def _d_exp(node: Apply) -> Expr:
    """exp′ = exp."""
    return node


def _d_log(node: Apply) -> Expr:
    """log′(x) = x⁻¹."""
    return power(node.x, -1.0)


def _d_sin(node: Apply) -> Expr:
    """sin′ = cos."""
    return cos(node.x)


def _d_cos(node: Apply) -> Expr:
    """cos′ = −sin."""
    return add([sin(node.x)], [-1])


def _d_tanh(node: Apply) -> Expr:
    """tanh′ = 1 − tanh²."""
    return add([_one(node), power(node, 2.0)], [1, -1])


def _d_sigmoid(node: Apply) -> Expr:
    """σ′ = σ (1 − σ)."""
    return _hadamard(node, add([_one(node), node], [1, -1]))


def _d_sqrt(node: Apply) -> Expr:
    """sqrt′(x) = ½ x^(−½)."""
    return add([power(node.x, -0.5)], [0.5])


def _d_abs(node: Apply) -> Expr:
    """abs′ = sign.  At 0 this is 0, the subgradient of least magnitude (the
    design's convention, as PyTorch's; JAX's rule ``select(x >= 0, g, -g)``
    gives 1 there)."""
    return sign(node.x)


def _d_sign(node: Apply) -> Expr:
    """sign′ = 0: zero where it exists, and taken as zero at 0 (JAX's convention)."""
    return zeros(node.shape, node.dtype)


_EXPM1_TANH = frozenset({np.dtype(np.float64), np.dtype(np.float32)})


def _tanh(x: Any) -> Any:
    """``tanh(x) = sign(x)·(−e)/(e + 2)`` with ``e = expm1(−2|x|)``: NumPy's ``expm1``
    and four cheap passes beat ``np.tanh`` on real arrays of 256 to 2¹⁵ entries
    (−9 to −14% on 128×64 and 128×256), within 2 ulp of it, exact at ±0, ±inf and
    nan.  Larger arrays (the extra passes and temporaries leave the cache: +50% at
    128×1024), small, complex and other arrays go to ``np.tanh``."""
    x = np.asarray(x)
    if x.dtype not in _EXPM1_TANH or not 256 <= x.size <= 2**15:
        return np.tanh(x)
    e = np.abs(x)
    with np.errstate(over="ignore", under="ignore"):  # −2|x| beyond the range: −inf, tanh ±1
        e *= -2.0
        np.expm1(e, out=e)
    np.divide(e, e + 2.0, out=e)
    return np.copysign(e, x, out=e)


def _sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow: ``exp`` only ever sees ``-|x|``."""
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return 0.5 * (1 + np.tanh(0.5 * x))
    e = np.exp(-np.abs(x))
    pos = 1 / (1 + e)
    return np.where(x >= 0, pos, e * pos)


def _sigmoid_portable(ns: Any, attrs: Any) -> Callable[..., Any]:
    """The logistic function on any array engine.  Where ``exp`` overflows to
    ``inf`` without a warning (torch, JAX, CuPy), ``1 / (1 + e⁻ˣ)`` is exact at
    both ends (``1/inf = 0``) and the cheapest; NumPy's chunks (NumPy, Dask) would
    warn, so there ``exp`` only sees ``−|x|``, as in ``_sigmoid``."""
    if ns.name not in ("numpy", "dask"):
        return lambda x: 1 / (1 + ns.exp(-x))

    def kernel(x: Any) -> Any:
        e = ns.exp(-ns.abs(x))
        pos = 1 / (1 + e)
        return ns.where(x >= 0, pos, e * pos)

    return kernel


def _real_dtype(dtypes: Any, attrs: Mapping[str, Any]) -> np.dtype[Any]:
    dt = _result_dtype(*dtypes, floating=True)
    return np.dtype(np.finfo(dt).dtype) if np.issubdtype(dt, np.complexfloating) else dt


def _log_bound(lo: float, hi: float, n: int) -> float:
    return max(math.fabs(math.log(lo)), math.fabs(math.log(hi)))


exp: Callable[..., Expr] = declare(
    _unary(
        "exp", "entrywise exponential", np.exp, _d_exp, ufunc=np.exp, latex=r"\exp{0:arg}",
        fuzz=(Fuzz("general", STEEP, lambda lo, hi, n: math.exp(hi), positive=True,
                   low=lambda lo, hi: math.exp(-hi)),),
    )
)
log: Callable[..., Expr] = declare(
    _unary(
        "log", "entrywise natural logarithm", np.log, _d_log, ufunc=np.log,
        latex=r"\log{0:arg}", domain="positive", fuzz=(Fuzz("positive", bound=_log_bound),),
    )
)
sin: Callable[..., Expr] = declare(
    _unary(
        "sin", "entrywise sine", np.sin, _d_sin, ufunc=np.sin, latex=r"\sin{0:arg}",
        shapes=_vectors, fuzz=(Fuzz(bound=lambda lo, hi, n: min(1.0, hi)),),
    )
)
cos: Callable[..., Expr] = declare(
    _unary(
        "cos", "entrywise cosine", np.cos, _d_cos, ufunc=np.cos, latex=r"\cos{0:arg}",
        shapes=_vectors, fuzz=(Fuzz(bound=lambda lo, hi, n: 1.0),),
    )
)
tanh: Callable[..., Expr] = declare(
    _unary(
        "tanh", "entrywise hyperbolic tangent", _tanh, _d_tanh, ufunc=np.tanh,
        latex=r"\tanh{0:arg}", fuzz=(Fuzz(bound=lambda lo, hi, n: min(1.0, hi)),),
    )
)
sigmoid: Callable[..., Expr] = declare(
    _unary(
        "sigmoid", "entrywise logistic function 1/(1+exp(-x))", _sigmoid, _d_sigmoid,
        latex=r"\sigma{0:arg}", numpy_source="np.exp(-np.logaddexp(0, -{0}))",
        numpy_complex="1 / (1 + np.exp(-{0}))",
        reference=lambda v: 1.0 / (1.0 + np.exp(-v)), shapes=_vectors,
        array_api=_sigmoid_portable,
        fuzz=(Fuzz("general", 3.0, lambda lo, hi, n: 1.0, positive=True,
                   low=lambda lo, hi: 1.0 / (1.0 + math.exp(hi))),),
    )
)
sqrt: Callable[..., Expr] = declare(
    _unary(
        "sqrt", "entrywise square root", np.sqrt, _d_sqrt, ufunc=np.sqrt, latex=r"\sqrt{{{0}}}",
        domain="positive", shapes=_vectors,
        fuzz=(Fuzz("positive", bound=lambda lo, hi, n: math.sqrt(hi), positive=True,
                   low=lambda lo, hi: math.sqrt(lo)),),
    )
)
abs: Callable[..., Expr] = declare(
    _unary(
        "abs", "entrywise absolute value", np.abs, _d_abs, ufunc=np.absolute,
        latex=r"\lvert {0} \rvert", domain="nonzero", shapes=_vectors, dtype=_real_dtype,
        fuzz=(Fuzz("nonzero", bound=lambda lo, hi, n: hi),),
    )
)
register_numpy(np.fabs, abs)
sign: Callable[..., Expr] = declare(
    _unary(
        "sign", "entrywise sign", np.sign, _d_sign, ufunc=np.sign,
        domain="nonzero", shapes=_vectors, build=lambda a: _hadamard(sign(a), a),
        fuzz=(Fuzz("nonzero", bound=lambda lo, hi, n: 1.0),),
    )
)


# ---------------------------------------------------------------------------------------
# Logarithms and exponentials in other bases, and near zero
# ---------------------------------------------------------------------------------------

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def _plus_one(x: Expr) -> Expr:
    """``1 + x`` entry by entry."""
    return add([_one(x), x], [1, 1])


def _one_minus_square(x: Expr) -> Expr:
    """``1 − x²`` entry by entry."""
    return add([_one(x), power(x, 2.0)], [1, -1])


def _d_log1p(node: Apply) -> Expr:
    """log1p′(x) = (1 + x)⁻¹."""
    return power(_plus_one(node.x), -1.0)


def _d_expm1(node: Apply) -> Expr:
    """expm1′(x) = exp(x)."""
    return exp(node.x)


def _d_log2(node: Apply) -> Expr:
    """log2′(x) = (x ln 2)⁻¹."""
    return add([power(node.x, -1.0)], [1 / LN2])


def _d_log10(node: Apply) -> Expr:
    """log10′(x) = (x ln 10)⁻¹."""
    return add([power(node.x, -1.0)], [1 / LN10])


def _d_exp2(node: Apply) -> Expr:
    """exp2′(x) = ln 2 · 2ˣ."""
    return add([node], [LN2])


def _log_bound_in(base: float) -> Callable[[float, float, int], float]:
    return lambda lo, hi, n: _log_bound(lo, hi, n) / math.log(base)


log1p: Callable[..., Expr] = declare(
    _unary(
        "log1p", "entrywise log(1 + x), accurate near 0", np.log1p, _d_log1p, ufunc=np.log1p,
        latex=r"\log\left(1 + {0}\right)", domain="positive", shapes=_vectors,
        fuzz=(Fuzz("positive", bound=lambda lo, hi, n: math.log1p(hi), positive=True,
                   low=lambda lo, hi: math.log1p(lo)),),
    )
)
expm1: Callable[..., Expr] = declare(
    _unary(
        "expm1", "entrywise exp(x) − 1, accurate near 0", np.expm1, _d_expm1, ufunc=np.expm1,
        latex=r"\left(\exp{0:arg} - 1\right)",
        fuzz=(Fuzz("general", STEEP, lambda lo, hi, n: math.expm1(hi)),),
    )
)
log2: Callable[..., Expr] = declare(
    _unary(
        "log2", "entrywise base-2 logarithm", np.log2, _d_log2, ufunc=np.log2,
        latex=r"\log_2{0:arg}", domain="positive", shapes=_vectors,
        fuzz=(Fuzz("positive", bound=_log_bound_in(2.0)),),
    )
)
log10: Callable[..., Expr] = declare(
    _unary(
        "log10", "entrywise base-10 logarithm", np.log10, _d_log10, ufunc=np.log10,
        latex=r"\log_{{10}}{0:arg}", domain="positive", shapes=_vectors,
        fuzz=(Fuzz("positive", bound=_log_bound_in(10.0)),),
    )
)
exp2: Callable[..., Expr] = declare(
    _unary(
        "exp2", "entrywise power of two, 2 ** x", np.exp2, _d_exp2, ufunc=np.exp2,
        latex="2^{{{0}}}", shapes=_vectors,
        fuzz=(Fuzz("general", STEEP, lambda lo, hi, n: 2.0**hi, positive=True,
                   low=lambda lo, hi: 2.0**-hi),),
    )
)


# ---------------------------------------------------------------------------------------
# Trigonometric and hyperbolic functions and their inverses
# ---------------------------------------------------------------------------------------


def _d_tan(node: Apply) -> Expr:
    """tan′ = 1 + tan²."""
    return add([_one(node), power(node, 2.0)], [1, 1])


def _d_arcsin(node: Apply) -> Expr:
    """arcsin′(x) = (1 − x²)^(−½)."""
    return power(_one_minus_square(node.x), -0.5)


def _d_arccos(node: Apply) -> Expr:
    """arccos′(x) = −(1 − x²)^(−½)."""
    return add([power(_one_minus_square(node.x), -0.5)], [-1])


def _d_arctan(node: Apply) -> Expr:
    """arctan′(x) = (1 + x²)⁻¹."""
    return power(_plus_one(power(node.x, 2.0)), -1.0)


def _d_sinh(node: Apply) -> Expr:
    """sinh′ = cosh."""
    return cosh(node.x)


def _d_cosh(node: Apply) -> Expr:
    """cosh′ = sinh."""
    return sinh(node.x)


def _d_arcsinh(node: Apply) -> Expr:
    """arcsinh′(x) = (1 + x²)^(−½)."""
    return power(_plus_one(power(node.x, 2.0)), -0.5)


def _d_arctanh(node: Apply) -> Expr:
    """arctanh′(x) = (1 − x²)⁻¹."""
    return power(_one_minus_square(node.x), -1.0)


def _inside_unit(f: Callable[..., Expr]) -> Callable[[Expr], Expr]:
    """A sample of a function defined on (−1, 1): its argument is 0.4 times a
    general operand (|·| ≤ 0.8)."""
    return lambda a: f(add([a], [0.4]))


tan: Callable[..., Expr] = declare(
    _unary(
        "tan", "entrywise tangent", np.tan, _d_tan, ufunc=np.tan, latex=r"\tan{0:arg}",
        shapes=_vectors, build=lambda a: tan(add([a], [0.5])),
        fuzz=(Fuzz("general", 1.0, lambda lo, hi, n: math.tan(min(hi, 1.0))),),
    )
)
arcsin: Callable[..., Expr] = declare(
    _unary(
        "arcsin", "entrywise inverse sine, on (−1, 1)", np.arcsin, _d_arcsin, ufunc=np.arcsin,
        latex=r"\arcsin{0:arg}", shapes=_vectors, build=_inside_unit(lambda a: arcsin(a)),
        fuzz=(Fuzz("general", 0.6, lambda lo, hi, n: math.asin(min(hi, 1.0))),),
    )
)
arccos: Callable[..., Expr] = declare(
    _unary(
        "arccos", "entrywise inverse cosine, on (−1, 1)", np.arccos, _d_arccos, ufunc=np.arccos,
        latex=r"\arccos{0:arg}", shapes=_vectors, build=_inside_unit(lambda a: arccos(a)),
        fuzz=(Fuzz("general", 0.6, lambda lo, hi, n: math.pi, positive=True,
                   low=lambda lo, hi: math.acos(min(hi, 1.0))),),
    )
)
arctan: Callable[..., Expr] = declare(
    _unary(
        "arctan", "entrywise inverse tangent", np.arctan, _d_arctan, ufunc=np.arctan,
        latex=r"\arctan{0:arg}", shapes=_vectors,
        fuzz=(Fuzz(bound=lambda lo, hi, n: min(hi, math.pi / 2)),),
    )
)
sinh: Callable[..., Expr] = declare(
    _unary(
        "sinh", "entrywise hyperbolic sine", np.sinh, _d_sinh, ufunc=np.sinh,
        latex=r"\sinh{0:arg}", shapes=_vectors,
        fuzz=(Fuzz("general", STEEP, lambda lo, hi, n: math.sinh(hi)),),
    )
)
cosh: Callable[..., Expr] = declare(
    _unary(
        "cosh", "entrywise hyperbolic cosine", np.cosh, _d_cosh, ufunc=np.cosh,
        latex=r"\cosh{0:arg}", shapes=_vectors,
        fuzz=(Fuzz("general", STEEP, lambda lo, hi, n: math.cosh(hi), positive=True,
                   low=lambda lo, hi: 1.0),),
    )
)
arcsinh: Callable[..., Expr] = declare(
    _unary(
        "arcsinh", "entrywise inverse hyperbolic sine", np.arcsinh, _d_arcsinh,
        ufunc=np.arcsinh, latex=r"\operatorname{{arsinh}}{0:arg}", shapes=_vectors,
        fuzz=(Fuzz(bound=lambda lo, hi, n: math.asinh(hi)),),
    )
)
arctanh: Callable[..., Expr] = declare(
    _unary(
        "arctanh", "entrywise inverse hyperbolic tangent, on (−1, 1)", np.arctanh, _d_arctanh,
        ufunc=np.arctanh, latex=r"\operatorname{{artanh}}{0:arg}", shapes=_vectors,
        build=_inside_unit(lambda a: arctanh(a)),
        fuzz=(Fuzz("general", 0.6, lambda lo, hi, n: math.atanh(min(hi, 0.9))),),
    )
)


# ---------------------------------------------------------------------------------------
# Powers with a constant exponent
# ---------------------------------------------------------------------------------------


def _power_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    p = attrs["p"]
    if isinstance(p, Expr) or np.ndim(p) != 0 or np.iscomplexobj(p):
        raise UnsupportedOperationError(
            f"power(x, p) takes a constant real scalar exponent, got {type(p).__name__}; "
            "for an expression or array exponent use mg.pow(x, y) (x ** y builds it)"
        )
    return {"p": float(p)}


def _power_domain(attrs: Mapping[str, Any]) -> tuple[str, ...]:
    """Integer powers are defined everywhere (negative ones away from 0); other
    real powers for positive bases."""
    p = attrs["p"]
    if not float(p).is_integer():
        return ("positive",)
    return ("nonzero",) if p < 0 else ("general",)


def _power_canonical(x: Expr, *, p: float) -> Expr | None:
    if p == 1.0:
        return x
    if p == 0.0:
        dt = _result_dtype(x.dtype, floating=True)
        return constant(np.ones((), dt)) if x.shape == () else ones(x.shape, dt)
    return None


def _power_simplify(node: Expr) -> Expr | None:
    """``(xᵃ)ᵇ = x^(a b)`` for an integer ``b``."""
    assert isinstance(node, Apply)
    inner = node.x
    q = node.attrs["p"]
    if isinstance(inner, Apply) and inner.op is node.op and float(q).is_integer():
        return power(inner.x, inner.attrs["p"] * q)
    return None


def _d_power(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d xᵖ = p x^(p−1) ⊙ dx``."""
    assert isinstance(node, Apply)
    (dx,) = d
    p = node.attrs["p"]
    return _hadamard(add([power(node.x, p - 1.0)], [p]), dx)


def _power_kernel(attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """``x ** p`` entry by entry; ``0 ** p`` for ``p < 0`` is ``inf`` (NumPy warns),
    a negative base with a non-integer ``p`` gives ``nan``.  Small integer powers
    are products (``x⁻²`` is ``1 / (x·x)``), several times faster than ``pow``
    and within two roundings of it."""
    p = attrs["p"]
    if p == 2.0:
        return np.square
    if p == 0.5:
        return np.sqrt
    if p == -1.0:
        return lambda x: 1 / x
    if p == 3.0:
        return lambda x: x * x * x
    if p == -2.0:
        return lambda x: 1 / (x * x)
    if p == -0.5:
        return lambda x: 1 / np.sqrt(x)
    return lambda x: np.power(x, p)


def _power_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """``x ** p`` on any array engine (small integer powers as products)."""
    p = attrs["p"]
    if p == 2.0:
        return lambda x: x * x
    if p == 0.5:
        return ns.sqrt  # type: ignore[no-any-return]
    if p == -1.0:
        return lambda x: 1 / x
    return lambda x: x**p


def square(x: Any) -> Expr:
    """``x ** 2`` entry by entry (``np.square``): the power with exponent 2."""
    return power(x, 2.0)


def reciprocal(x: Any) -> Expr:
    """``1 / x`` entry by entry (``np.reciprocal``): the power with exponent −1."""
    return power(x, -1.0)


power: Callable[..., Expr] = declare(
    Operation(
        name="power",
        family="elementwise",
        doc="entrywise power with a constant real exponent",
        shape=same_shape,
        numpy=lambda x, p: np.power(x, p),
        differential=_d_power,
        attrs=("p",),
        check=_power_attrs,
        domain=_power_domain,
        canonical=_power_canonical,
        simplify=_power_simplify,
        elementwise=True,
        preserves_symmetry=True,
        kernel=_power_kernel,
        array_api=_power_portable,
        notation=Notation(
            text="{0:atom} ** {p}",
            latex="{0:base}^{{{p:circ}}}",
            index="{0:atom}**{p}",
            numpy="np.power({0}, {p})",
            power=True,
            superscript=True,
            reciprocal=lambda attrs: attrs["p"] == -1.0,
        ),
        numpy_functions=(
            (np.square, square),
            (np.reciprocal, reciprocal),
        ),
        language=Language(
            ("power",), "power(x, p): entrywise power with a constant exponent",
            "x, p:number -> x",
        ),
        samples=(
            Sample("power-3", lambda a: a**3, _matrices, ("general",)),
            Sample("power-neg", lambda a: a**-2, _vectors, ("nonzero",)),
            Sample("power-real", lambda a: a**2.5, _vectors, ("positive",)),
        ),
        fuzz=(
            Fuzz("general", STEEP, lambda lo, hi, n, p: hi**p, attrs=({"p": 2.0}, {"p": 3.0})),
            Fuzz(
                "positive",
                bound=lambda lo, hi, n, p: max(lo**p, hi**p),
                attrs=tuple({"p": p} for p in (-1.0, 0.5, -2.0, 2.5, -0.5)),
            ),
        ),
    )
)
language_function(Language(("square",), "entrywise square, x ** 2", "x -> x"), square)
language_function(Language(("reciprocal",), "entrywise reciprocal, 1 / x", "x -> x"), reciprocal)
