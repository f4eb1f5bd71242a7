"""Matrix functions (layer 3): ``scipy.linalg``'s ``expm``, ``logm``, ``sqrtm``,
``sinm``, ``cosm`` and ``fractional_matrix_power``, and their Fréchet derivatives.

Each ``f`` is declared with its Fréchet derivative ``frechet_f(X, E₁, …, E_k)``, the
symmetric k-linear map ``L_f^{(k)}(X; E₁, …, E_k)`` (Higham & Relton 2014; for k = 1
``L_f(X, E)``, as ``scipy.linalg.expm_frechet`` for ``expm``).  ``d f(X) = L_f(X, dX)``,
and the Fréchet operation differentiates into itself:
``d L^{(k)}(X; E…) = L^{(k+1)}(X; E…, dX) + Σᵢ L^{(k)}(X; …, dEᵢ, …)``, so derivatives
of every order, forward and reverse, come from one rule.  It is linear in each
``Eᵢ``, with transpose (for ``⟨G, M⟩ = Σ G_rc M_rc``) ``L^{(k)}(Xᵀ; G, E_jᵀ (j ≠ i))``;
for k = 1, ``L_f(X, ·)ᵀ = L_f(Xᵀ, ·)``.  An ``Eᵢ`` may carry trailing (batch) axes:
the result has the axes ``(n, n)`` and then the ``Eᵢ``'s batch axes in order (how
derivatives with extra axes flow through it).  Values come from
:mod:`matgrad.ops.blocktrick` (the block trick, exact at repeated eigenvalues:
``X = I``, ``diag(1, 1, 2)``).  ``L_log(X, ·)`` is the inverse of ``L_exp(log X, ·)``
(an identity the tests check).

**Domains.**  ``logm``, ``sqrtm`` and ``fractional_matrix_power`` take the principal
branch: a real ``X`` with an eigenvalue on the closed negative real axis (no real
principal value) raises ``InvalidArgumentError``, as does ``logm`` of a singular
matrix; their Fréchet derivatives at a (numerically) singular ``X``, unbounded,
raise ``NonFiniteError``.  ``sqrtm`` of a singular positive semi-definite matrix is
its value (as ``√0 = 0``).  No NaN or infinity is returned silently.

SciPy's functions convert their arguments with ``np.asarray``, so
``scipy.linalg.expm(X)`` cannot build an expression: call ``mg.expm(X)`` (the same
name under ``matgrad``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample, square
from matgrad.ir.expr import Add, Delta, Expr, Zero, add, as_expr, delta, einsum_node, zeros
from matgrad.ir.node import _intern, _result_dtype
from matgrad.ops.blocktrick import (
    frechet_portable,
    frechet_value,
    portable_on,
    value,
    value_portable,
)
from matgrad.ops.indexing import permute
from matgrad.ops.linalg import inv
from matgrad.ops.registry import declare

__all__ = [
    "cosm",
    "expm",
    "fractional_matrix_power",
    "frechet_cosm",
    "frechet_expm",
    "frechet_fractional_matrix_power",
    "frechet_logm",
    "frechet_sinm",
    "frechet_sqrtm",
    "logm",
    "sinm",
    "sqrtm",
]

Attrs = Mapping[str, Any]
Lines = Callable[[str, Sequence[str], Callable[[str], str], Expr], list[str]]

# =====================================================================================
# The Fréchet derivatives: operations of any number (≥ 1) of directions
# =====================================================================================


@dataclass(frozen=True, eq=False)
class _Multilinear(Operation):
    """An operation ``op(X, E₁, …, E_k)`` of any number k ≥ 1 of directions; its
    attributes are keyword arguments."""

    def __call__(self, *args: Any, **attrs: Any) -> Expr:
        if len(args) < 2:
            raise InvalidArgumentError(f"{self.name} takes X and at least one direction E")
        unknown = sorted(set(attrs) - set(self.attrs))
        missing = [a for a in self.attrs if a not in attrs]
        if unknown or missing:
            raise InvalidArgumentError(f"{self.name}: unknown {unknown}, missing {missing}")
        if self.check is not None:
            attrs = self.check(attrs)
        exprs = tuple(as_expr(a) for a in args)
        simpler = self.canonical(*exprs, **attrs) if self.canonical is not None else None
        if simpler is not None:
            return simpler
        shape = self.shape(tuple(e.shape for e in exprs), attrs)
        dtype = self.dtype(tuple(e.dtype for e in exprs), attrs)
        values = tuple(attrs[a] for a in self.attrs)
        node: Apply = _intern(
            Apply,
            (self.name, tuple(e.uid for e in exprs), values),
            {"op": self, "args": exprs, "values": values, "shape": shape, "dtype": dtype},
        )
        return node


def _frechet_shape(name: str) -> Callable[[tuple[Shape, ...], Attrs], Shape]:
    def rule(shapes: tuple[Shape, ...], attrs: Attrs) -> Shape:
        x, *es = shapes
        if len(x) != 2 or x[0] != x[1]:
            raise ShapeError(f"frechet_{name} needs a square matrix X, got shape {x}")
        for e in es:
            if tuple(e[:2]) != x:
                raise ShapeError(f"frechet_{name}: a direction of shape {e} does not fit X {x}")
        return (*x, *itertools.chain(*(e[2:] for e in es)))

    return rule


def _frechet_canonical(
    own: Callable[[], Callable[..., Expr]],
) -> Callable[..., Expr | None]:
    def canonical(*xs: Expr, **attrs: Any) -> Expr | None:
        """A zero direction gives zero; matrix directions are sorted (L is symmetric
        in them), so that equal derivatives are one node."""
        x, *es = xs
        if any(isinstance(e, Zero) for e in es):
            shape = (*x.shape, *itertools.chain(*(e.shape[2:] for e in es)))
            return zeros(shape, _result_dtype(*(a.dtype for a in xs), floating=True))
        if len(es) > 1 and all(e.ndim == 2 for e in es):
            ordered = sorted(es, key=lambda e: e.uid)
            if ordered != es:
                return own()(x, *ordered, **attrs)
        return None

    return canonical


def _swap(e: Expr) -> Expr:
    """``Eᵀ`` on the first two axes (batch axes stay)."""
    return permute(e, (1, 0, *range(2, e.ndim)))


def _d_frechet(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d L^{(k)}(X; E₁, …, E_k) = L^{(k+1)}(X; E₁, …, E_k, dX) + Σᵢ L^{(k)}(X; …, dEᵢ, …)``:
    the next Fréchet derivative in X (Higham & Relton 2014), linear in each Eᵢ."""
    assert isinstance(node, Apply)
    x, *es = node.args
    terms = []
    if not isinstance(d[0], Zero):
        terms.append(node.op(x, *es, d[0], **node.attrs))
    for i, di in enumerate(d[1:]):
        if not isinstance(di, Zero):
            terms.append(node.op(x, *es[:i], di, *es[i + 1 :], **node.attrs))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _labelled(
    build: Callable[..., Expr], x: Expr, dirs: Sequence[Expr], labels: Sequence[Sequence[Any]],
    out: Sequence[Any],
) -> Expr:
    """``Σ L^{(k)}(X; D₁, …, D_k)`` over the batch labels of the directions that are not
    in ``out`` (einsum-style labels; ``"r"``, ``"c"`` are the matrix axes): the operation
    itself when no label repeats and the combinations are no more than the ``n^{2k}``
    unit directions, else the tensor ``L^{(k)}(X; Δ, …, Δ)`` over unit directions
    ``Δ`` contracted with the directions."""
    n, k = x.shape[0], len(dirs)
    flat = list(itertools.chain(*labels))
    combos = math.prod(math.prod(d.shape[2:]) for d in dirs)
    if len(set(flat)) == len(flat) and set(flat) <= set(out) and combos <= n ** (2 * k):
        return einsum_node([build(x, *dirs)], [("r", "c", *flat)], out)
    dt = x.dtype
    unit = einsum_node([delta(n, dt), delta(n, dt)], [(0, 2), (1, 3)], (0, 1, 2, 3))
    axes = [(("p", i), ("q", i)) for i in range(k)]
    tensor = build(x, *([unit] * k))
    indices = [("r", "c", *itertools.chain(*axes))]
    indices += [(*axes[i], *labels[i]) for i in range(k)]
    return einsum_node([tensor, *dirs], indices, out)


def _batch_labels(es: Sequence[Expr]) -> list[list[Any]]:
    return [[("b", j, a) for a in range(e.ndim - 2)] for j, e in enumerate(es)]


def _frechet_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    """``L`` with direction i replaced by its tangent (axes ``Eᵢ.shape + extra``),
    the extra axes last."""
    assert isinstance(node, Apply)
    if not isinstance(tangents[0], Zero):
        raise AssertionError(f"internal error: {node.op.name} is not linear in X")
    live = [i for i, t in enumerate(tangents[1:]) if not isinstance(t, Zero)]
    if len(live) != 1:
        if live:
            raise AssertionError(f"internal error: {node.op.name} pushed in two directions")
        return zeros(node.shape + extra, node.dtype)
    (i,) = live
    x, *es = node.args
    labels = _batch_labels(es)
    ex = [("x", a) for a in range(len(extra))]
    out = ("r", "c", *itertools.chain(*labels), *ex)
    labels[i] = [*labels[i], *ex]
    dirs = [*es[:i], tangents[1 + i], *es[i + 1 :]]
    return _labelled(_builder(node), x, dirs, labels, out)


def _frechet_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    """Transpose in direction ``i = k − 1``: ``L^{(k)}(Xᵀ; G, E_jᵀ (j ≠ i))``, the
    cotangent's leading axes (and the result's batch axes) carried as batch axes of G
    and summed against the other directions' batch axes."""
    assert isinstance(node, Apply)
    if k == 0:
        raise AssertionError(f"internal error: {node.op.name} is not linear in X")
    x, *es = node.args
    i, e = k - 1, len(extra)
    g = permute(cotangent, (e, e + 1, *range(e), *range(e + 2, cotangent.ndim)))
    others = [j for j in range(len(es)) if j != i]
    batch = _batch_labels(es)
    ex = [("e", a) for a in range(e)]
    labels = [[*ex, *itertools.chain(*batch)], *(batch[j] for j in others)]
    dirs = [g, *(_swap(es[j]) for j in others)]
    return _labelled(_builder(node), _swap(x), dirs, labels, (*ex, "r", "c", *batch[i]))


def _builder(node: Apply) -> Callable[..., Expr]:
    attrs = node.attrs
    return lambda *args: node.op(*args, **attrs)


def _frechet_simplify(derivative: Callable[[Expr, Attrs], Expr]) -> Callable[[Expr], Expr | None]:
    def rewrite(node: Expr) -> Expr | None:
        """``L_f(X, c I) = c f′(X)`` (I commutes with X)."""
        assert isinstance(node, Apply)
        if len(node.args) != 2:
            return None
        e = node.args[1]
        coeff: complex = 1
        if isinstance(e, Add) and len(e.terms) == 1:
            coeff = e.coeffs[0]
            e = e.terms[0]
        if isinstance(e, Delta):
            return add([derivative(node.x, node.attrs)], [coeff])
        return None

    return rewrite


def _frechet_lines(name: str) -> Lines:
    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        """The block trick, summed over the orderings of the directions, per batch entry."""
        assert isinstance(node, Apply)
        x, es = args[0], args[1:]
        n, k = node.shape[0], len(es)
        sl, it, ix, p, q, j, m, ee = (fresh(s) for s in ("sl", "it", "ix", "p", "q", "j", "m", "e"))
        t = node.attrs.get("t")
        call = f"{sl}.{name}({m}" + ("" if t is None else f", {t!r}") + ")"
        loops = ", ".join(f"np.ndindex({a.shape[2:]})" for a in node.args[1:])
        picks = ", ".join(f"{a}[(slice(None), slice(None)) + {ix}[{i}]]" for i, a in enumerate(es))
        block = f"{call}[:{n}, {k * n}:]"
        if not np.issubdtype(node.dtype, np.complexfloating):
            block = f"np.real_if_close({block}, tol=1e8)"
        return [
            f"import itertools as {it}",
            f"import scipy.linalg as {sl}",
            f"{var} = np.zeros({node.shape}, dtype=np.{node.dtype.name})",
            f"for {ix} in {it}.product({loops}):",
            f"    {ee} = [{picks}]",
            f"    for {p} in {it}.permutations(range({k})):",
            f"        {m} = np.zeros(({(k + 1) * n}, {(k + 1) * n}), "
            f"dtype=np.result_type({x}, *{ee}))",
            f"        for {j} in range({k + 1}):",
            f"            {m}[{j} * {n}:({j} + 1) * {n}, {j} * {n}:({j} + 1) * {n}] = {x}",
            f"        for {j}, {q} in enumerate({p}):",
            f"            {m}[{j} * {n}:({j} + 1) * {n}, ({j} + 1) * {n}:({j} + 2) * {n}] = "
            f"{ee}[{q}]",
            f"        {var}[(slice(None), slice(None)) + sum({ix}, ())] += {block}",
        ]

    return lines


# =====================================================================================
# The matrix functions, each with its Fréchet derivative
# =====================================================================================


def _square_samples(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


def _pair_samples(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n), (n, n))


def _cubic(factor: float) -> Callable[[Sequence[Shape]], int]:
    return lambda shapes: int(factor * shapes[0][0] ** 3)


def _frechet_flops(factor: float) -> Callable[[Sequence[Shape]], int]:
    """``k!`` evaluations of f at size ``(k + 1) n`` per batch entry."""

    def flops(shapes: Sequence[Shape]) -> int:
        n, k = shapes[0][0], len(shapes) - 1
        batch = math.prod(math.prod(s[2:]) for s in shapes[1:])
        return int(factor * math.factorial(k) * ((k + 1) * n) ** 3 * batch)

    return flops


def _check_power(attrs: Attrs) -> dict[str, Any]:
    t = attrs["t"]
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"fractional_matrix_power: t must be a real number, got {t!r}")
    if not math.isfinite(float(t)):
        raise InvalidArgumentError(f"fractional_matrix_power: t must be finite, got {t!r}")
    return {"t": float(t)}


def _power_canonical(x: Expr, *, t: float) -> Expr | None:
    """``X¹ = X``; ``X⁰ = I``."""
    if t == 1:
        return x
    if t == 0 and x.ndim == 2 and x.shape[0] == x.shape[1]:
        return delta(x.shape[0], _result_dtype(x.dtype, floating=True))
    return None


def _value_lines(name: str) -> Lines:
    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        assert isinstance(node, Apply)
        sl = fresh("sl")
        t = node.attrs.get("t")
        call = f"{sl}.{name}({args[0]}" + ("" if t is None else f", {t!r}") + ")"
        if not np.issubdtype(node.dtype, np.complexfloating):
            call = f"np.real_if_close({call}, tol=1e8)"
        return [f"import scipy.linalg as {sl}", f"{var} = {call}"]

    return lines


@dataclass(frozen=True)
class _Function:
    """One matrix function: what differs between the six."""

    name: str
    doc: str
    derivative: Callable[[Expr, Attrs], Expr]
    """``f′(X)``, which is ``L_f(X, I)``."""
    domain: str = "general"
    """``general``, or ``spd`` for the principal branches (positive real spectrum)."""
    latex: str | None = None
    superscript: bool = False
    at: tuple[type[Expr], Callable[[int, Any], Expr]] | None = None
    """``f`` of a zero or identity leaf: ``(Zero or Delta, value(n, dtype))``."""
    cost: float = 30.0
    """Flops per n³ (for the planner)."""
    fuzz: tuple[Fuzz, ...] = ()
    power: bool = False
    """Has the attribute ``t`` (``fractional_matrix_power``)."""


def _declare(spec: _Function) -> tuple[Callable[..., Expr], Callable[..., Expr]]:
    """Declare ``f`` and ``frechet_f``; returns their constructors."""
    name, attrs = spec.name, (("t",) if spec.power else ())
    check = _check_power if spec.power else None
    fname = f"frechet_{name}"

    def kernel(a: Attrs) -> Callable[..., Any]:
        t = a.get("t")
        return lambda x: value(name, x, t)

    def frechet_kernel(a: Attrs) -> Callable[..., Any]:
        t = a.get("t")
        return lambda x, *es: frechet_value(name, t, x, *es)

    def portable(ns: Any, a: Attrs) -> Callable[..., Any] | None:
        if not portable_on(ns, name):
            return None  # NumPy's kernel (on Dask as a lazy task); elsewhere refused
        return lambda x: value_portable(ns, name, x)

    def frechet_portable_kernel(ns: Any, a: Attrs) -> Callable[..., Any] | None:
        if not portable_on(ns, name):
            return None
        return lambda x, *es: frechet_portable(ns, name, x, *es)

    def d_f(node: Expr, d: tuple[Expr, ...]) -> Expr:
        assert isinstance(node, Apply)
        (dx,) = d
        return built(node.x, dx, **node.attrs)

    d_f.__doc__ = (
        f"``d {name}(X) = L(X, dX)``, the Fréchet derivative ``{fname}(X, dX)`` "
        "(Higham 2008, §3.1); at repeated eigenvalues too."
    )

    def simplify(node: Expr) -> Expr | None:
        assert isinstance(node, Apply)
        if spec.at is not None and isinstance(node.x, spec.at[0]):
            return spec.at[1](node.shape[0], node.dtype)
        return None

    frechet_op = _Multilinear(
        name=fname,
        family="matfuncs",
        doc=f"Fréchet derivative of {name}: L(X, E), or the k-th one L(X; E₁, …, E_k)",
        arity=2,
        attrs=attrs,
        check=check,
        shape=_frechet_shape(name),
        numpy=lambda x, *es, **a: frechet_value(name, a.get("t"), x, *es),
        kernel=frechet_kernel,
        array_api=frechet_portable_kernel,
        stacks=True,
        differential=_d_frechet,
        canonical=_frechet_canonical(lambda: built),
        simplify=_frechet_simplify(spec.derivative),
        linear=Linear(_frechet_push, _frechet_pull),
        preserves_symmetry=True,
        flops=_frechet_flops(spec.cost),
        domain=lambda a: (spec.domain, "general"),
        notation=Notation(numpy_lines=_frechet_lines(name)),
        language=Language(
            (fname,),
            f"the Fréchet derivative L(X, E) of {name}",
            "(n,n), (n,n)" + (", t:number" if spec.power else "") + " -> (n,n)",
        ),
        samples=(
            Sample(
                f"frechet-{name.replace('_', '-')}",
                (lambda a, e: built(a, e, t=0.3)) if spec.power else None,
                _pair_samples,
                (spec.domain, "general"),
            ),
        ),
    )
    built = declare(frechet_op)

    op = Operation(
        name=name,
        family="matfuncs",
        doc=spec.doc,
        attrs=attrs,
        check=check,
        shape=square(name, lambda n: (n, n)),
        numpy=lambda x, **a: value(name, x, a.get("t")),
        kernel=kernel,
        array_api=portable,
        stacks=True,
        differential=d_f,
        simplify=simplify,
        canonical=_power_canonical if spec.power else None,
        preserves_symmetry=True,
        flops=_cubic(spec.cost),
        domain=lambda a: (spec.domain,),
        notation=Notation(
            latex=spec.latex, superscript=spec.superscript, numpy_lines=_value_lines(name)
        ),
        language=Language(
            (name,), spec.doc, "(n,n), t:number -> (n,n)" if spec.power else "(n,n) -> (n,n)"
        ),
        samples=(
            (
                Sample(name.replace("_", "-"), lambda a: function(a, 0.3), _square_samples,
                       ("spd",)),
                Sample("fractional-matrix-power-negative", lambda a: function(a, -1.5),
                       _square_samples, ("spd",)),
            )
            if spec.power
            else (Sample(name, None, _square_samples, (spec.domain,)),)
        ),
        fuzz=spec.fuzz,
    )
    function = declare(op)
    _BUILT[name] = function
    return function, built


_BUILT: dict[str, Callable[..., Expr]] = {}
"""The constructors of the matrix functions, for the derivatives ``f′`` above."""


def _identity(n: int, dtype: Any) -> Expr:
    return delta(n, dtype)


def _zero(n: int, dtype: Any) -> Expr:
    return zeros((n, n), dtype)


def _power_derivative(x: Expr, a: Attrs) -> Expr:
    """``(Xᵗ)′ = t X^{t−1}``."""
    t = a["t"]
    if t == 1:
        return delta(x.shape[0], x.dtype)
    return add([_BUILT["fractional_matrix_power"](x, t - 1)], [t])


expm, frechet_expm = _declare(
    _Function(
        "expm", "matrix exponential", lambda x, a: _BUILT["expm"](x),
        latex="e^{{{0}}}", superscript=True, at=(Zero, _identity), cost=30.0,
        fuzz=(Fuzz("general", limit=1.0, bound=lambda lo, hi, n: math.exp(n * hi)),),
    )
)
logm, frechet_logm = _declare(
    _Function(
        "logm", "principal matrix logarithm", lambda x, a: inv(x),
        domain="spd", at=(Delta, _zero), cost=60.0,
        fuzz=(Fuzz("spd", bound=lambda lo, hi, n: max(abs(math.log(lo)), abs(math.log(hi)))),),
    )
)
sqrtm, frechet_sqrtm = _declare(
    _Function(
        "sqrtm", "principal matrix square root", lambda x, a: add([inv(_BUILT["sqrtm"](x))], [0.5]),
        domain="spd", latex="{0:base}^{{1/2}}", superscript=True, at=(Delta, _identity),
        cost=30.0, fuzz=(Fuzz("spd", bound=lambda lo, hi, n: math.sqrt(hi)),),
    )
)
sinm, frechet_sinm = _declare(
    _Function(
        "sinm", "matrix sine", lambda x, a: _BUILT["cosm"](x), at=(Zero, _zero), cost=120.0,
        fuzz=(Fuzz("general", limit=1.0, bound=lambda lo, hi, n: math.cosh(n * hi)),),
    )
)
cosm, frechet_cosm = _declare(
    _Function(
        "cosm", "matrix cosine", lambda x, a: add([_BUILT["sinm"](x)], [-1]), at=(Zero, _identity),
        cost=120.0,
        fuzz=(Fuzz("general", limit=1.0, bound=lambda lo, hi, n: math.cosh(n * hi)),),
    )
)
fractional_matrix_power, frechet_fractional_matrix_power = _declare(
    _Function(
        "fractional_matrix_power", "principal matrix power X^t for a real t",
        _power_derivative, domain="spd", latex="{0:base}^{{{t}}}", superscript=True,
        at=(Delta, _identity), cost=60.0, power=True,
        fuzz=(Fuzz("spd", bound=lambda lo, hi, n, t: max(lo**t, hi**t),
                   attrs=({"t": 0.5}, {"t": -0.5}, {"t": 1.5})),),
    )
)
