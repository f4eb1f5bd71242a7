"""The composite builders of the fuzzer (:mod:`matgrad.testing.fuzz`, layer 6).

Each composite (:data:`COMPOSITES`) builds a term of a requested shape from the
multilinear core and the public constructors; :data:`_BUILDERS` maps the names
to the builders and :func:`_candidates` lists the operations that can produce a
shape.  Both are handed to :class:`~matgrad.testing.fuzz_terms._Generator`.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from matgrad import ops
from matgrad._types import Shape
from matgrad.testing.fuzz_terms import (
    STEEP_LIMIT,
    Builder,
    _call_source,
    _Generator,
    _op_of,
    _shapes,
    _Term,
)

COMPOSITES: frozenset[str] = frozenset(
    {
        # linear combinations and broadcasting
        "add", "sub", "scale", "scalar_times", "shift", "broadcast_add",
        # multilinear (einsums)
        "hadamard", "matmul", "matvec", "vecmat", "dot", "quadratic", "transpose",
        "trace", "diag", "sum", "mean", "outer", "kron", "matrix_power",
        # built from declared operations
        "divide", "norm", "solve",
    }
)
"""The operations built here from the core and the public constructors (not
declared operations of their own)."""

# ---------------------------------------------------------------------------------------


_SAME_SHAPE = frozenset({"add", "sub", "scale", "hadamard", "shift", "divide", "scalar_times"})
"""Composites whose operands have the result's shape (and the declared elementwise
operations)."""


def _candidates(shape: Shape, g: _Generator) -> list[str]:
    """The operations that can produce ``shape`` (simplest first, for shrinking)."""
    names = ["add", "sub", "scale", "hadamard", "shift"]
    names += [op.name for op in g.declared.values() if op.elementwise and g.forms(op, shape)]
    names.append("divide")
    if shape != ():
        names.append("scalar_times")
    if len(shape) == 2:
        names += ["transpose", "matmul", "outer", "broadcast_add", "kron"]
        if shape[0] == shape[1]:
            names += ["diag", "matrix_power"]
        if shape[0] == g.n:
            names.append("solve")
    if len(shape) == 1:
        names += ["matvec", "vecmat", "diag", "sum", "mean"]
        if shape[0] == g.n:
            names.append("solve")
    if shape == ():
        names += ["trace", "sum", "mean", "dot", "quadratic", "kron", "norm"]
    names += [op.name for op in g.declared.values()
              if not op.elementwise and g.forms(op, shape)]
    return list(dict.fromkeys(names))


def _add(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    return _Term(a.expr + b.expr, f"({a.source} + {b.source})", a.bound + b.bound)


def _sub(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    return _Term(a.expr - b.expr, f"({a.source} - {b.source})", a.bound + b.bound)


def _scale(g: _Generator, shape: Shape, depth: int) -> _Term:
    c = g.draw(st.sampled_from((2.0, -1.0, 0.5, -1.5, 3.0)))
    return g.scaled(c, g.child(shape, depth))


def _scalar_times(g: _Generator, shape: Shape, depth: int) -> _Term:
    s, a = g.child((), depth), g.child(shape, depth)
    return _Term(s.expr * a.expr, f"({s.source} * {a.source})", s.bound * a.bound)


def _hadamard(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.child(shape, depth)
    expr = ops.hadamard(a.expr, b.expr)
    return _Term(expr, f"mg.hadamard({a.source}, {b.source})", a.bound * b.bound)


def _shift(g: _Generator, shape: Shape, depth: int) -> _Term:
    c = g.draw(st.sampled_from((1.0, -0.5, 2.0)))
    a = g.child(shape, depth)
    return _Term(a.expr + c, f"({a.source} + {c!r})", a.bound + abs(c))


def _broadcast_add(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, v = g.child(shape, depth), g.child(shape[1:], depth)
    return _Term(a.expr + v.expr, f"({a.source} + {v.source})", a.bound + v.bound)


def _divide(g: _Generator, shape: Shape, depth: int) -> _Term:
    a, b = g.child(shape, depth), g.positive(shape, depth)
    return _Term(a.expr / b.expr, f"({a.source} / {b.source})", a.bound / b.low)


def _transpose(g: _Generator, shape: Shape, depth: int) -> _Term:
    return g.transposed(g.child(shape[::-1], depth))


def _matmul(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    a, b = g.child((shape[0], k), depth), g.child((k, shape[1]), depth)
    return _Term(a.expr @ b.expr, f"({a.source} @ {b.source})", k * a.bound * b.bound)


def _matvec(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    return g.matvec_term(g.child((shape[0], k), depth), g.child((k,), depth))


def _vecmat(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    v, a = g.child((k,), depth), g.child((k, shape[0]), depth)
    return _Term(v.expr @ a.expr, f"({v.source} @ {a.source})", k * a.bound * v.bound)


def _dot(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    u, v = g.child((k,), depth), g.child((k,), depth)
    return _Term(u.expr @ v.expr, f"({u.source} @ {v.source})", k * u.bound * v.bound)


def _quadratic(g: _Generator, shape: Shape, depth: int) -> _Term:
    k, l = g.inner_size(), g.inner_size()
    u, a, v = g.child((k,), depth), g.child((k, l), depth), g.child((l,), depth)
    expr = u.expr @ a.expr @ v.expr
    return _Term(expr, f"({u.source} @ {a.source} @ {v.source})",
                 k * l * u.bound * a.bound * v.bound)


def _outer(g: _Generator, shape: Shape, depth: int) -> _Term:
    u, v = g.child(shape[:1], depth), g.child(shape[1:], depth)
    return _Term(ops.outer(u.expr, v.expr), f"mg.outer({u.source}, {v.source})",
                 u.bound * v.bound)


def _trace(g: _Generator, shape: Shape, depth: int) -> _Term:
    k = g.inner_size()
    a = g.child((k, k), depth)
    return _Term(ops.trace(a.expr), f"mg.trace({a.source})", k * a.bound)


def _diag(g: _Generator, shape: Shape, depth: int) -> _Term:
    if len(shape) == 2:  # the diagonal matrix of a vector
        v = g.child(shape[:1], depth)
        return _Term(ops.diag(v.expr), f"mg.diag({v.source})", v.bound)
    a = g.child((shape[0], shape[0]), depth)
    return _Term(ops.diag(a.expr), f"mg.diag({a.source})", a.bound)


def _reduce(fn: str) -> Builder:
    """``sum`` or ``mean``: over everything for a scalar, over one axis for a vector."""

    def build(g: _Generator, shape: Shape, depth: int) -> _Term:
        scale = 1.0 if fn == "sum" else 0.0
        if shape == ():
            source_shape = g.draw(st.sampled_from(_shapes(g)))
            a = g.child(source_shape, depth)
            size = math.prod(source_shape)
            return _Term(getattr(ops, fn)(a.expr), f"mg.{fn}({a.source})",
                         (size if scale else 1.0) * a.bound)
        k = g.inner_size()
        axis = g.draw(st.integers(0, 1))
        source_shape = (k, shape[0]) if axis == 0 else (shape[0], k)
        a = g.child(source_shape, depth)
        return _Term(getattr(ops, fn)(a.expr, axis=axis),
                     f"mg.{fn}({a.source}, axis={axis})", (k if scale else 1.0) * a.bound)

    return build




def _norm(g: _Generator, shape: Shape, depth: int) -> _Term:
    source_shape = g.draw(st.sampled_from(_shapes(g)))
    a = g.positive(source_shape, depth)  # positive entries: the norm is far from 0
    size = math.prod(source_shape)
    return _Term(ops.norm(a.expr), f"mg.norm({a.source})", math.sqrt(size) * a.bound,
                 math.sqrt(size) * a.low)


def _kron(g: _Generator, shape: Shape, depth: int) -> _Term:
    if shape == ():  # tr(P ⊗ Q) = tr P tr Q
        p, q = g.inner_size(), g.inner_size()
        a, b = g.child((p, p), depth), g.child((q, q), depth)
        expr = ops.trace(ops.kron(a.expr, b.expr))
        return _Term(expr, f"mg.trace(mg.kron({a.source}, {b.source}))",
                     p * q * a.bound * b.bound)
    # (P ⊗ Q) vec(R) = vec(P R Qᵀ) with row-major vec
    p, q = shape
    a, b, r = g.child((p, p), depth), g.child((q, q), depth), g.child(shape, depth)
    flat = ops.reshape(r.expr, (p * q,))
    expr = ops.reshape(ops.kron(a.expr, b.expr) @ flat, shape)
    vec_r = _call_source(_op_of(ops.reshape), [r.source], {"shape": (p * q,)})
    src = _call_source(_op_of(ops.reshape), [f"mg.kron({a.source}, {b.source}) @ {vec_r}"],
                       {"shape": shape})
    return _Term(expr, src, p * q * a.bound * b.bound * r.bound)


def _matrix_power(g: _Generator, shape: Shape, depth: int) -> _Term:
    size = shape[0]
    if shape == (g.n, g.n) and g.draw(st.booleans()):
        w = g.invertible(depth)
        k = g.draw(st.sampled_from((-1, -2)))
        bound = (1.0 / w.sigma_min) ** -k
        return _Term(ops.matrix_power(w.term.expr, k),
                     f"mg.matrix_power({w.term.source}, {k})", bound)
    k = g.draw(st.sampled_from((2, 3)))
    a = g.child(shape, depth, STEEP_LIMIT)
    bound = size ** (k - 1) * a.bound**k
    return _Term(ops.matrix_power(a.expr, k), f"mg.matrix_power({a.source}, {k})", bound)


def _solve(g: _Generator, shape: Shape, depth: int) -> _Term:
    w = g.invertible(depth)
    b = g.child(shape, depth)
    bound = math.sqrt(g.n) * b.bound / w.sigma_min
    return _Term(ops.solve(w.term.expr, b.expr), f"mg.solve({w.term.source}, {b.source})",
                 bound)


_BUILDERS: dict[str, Builder] = {
    "add": _add,
    "sub": _sub,
    "scale": _scale,
    "scalar_times": _scalar_times,
    "hadamard": _hadamard,
    "shift": _shift,
    "broadcast_add": _broadcast_add,
    "divide": _divide,
    "transpose": _transpose,
    "matmul": _matmul,
    "matvec": _matvec,
    "vecmat": _vecmat,
    "dot": _dot,
    "quadratic": _quadratic,
    "outer": _outer,
    "trace": _trace,
    "diag": _diag,
    "sum": _reduce("sum"),
    "mean": _reduce("mean"),
    "norm": _norm,
    "kron": _kron,
    "matrix_power": _matrix_power,
    "solve": _solve,
}
assert set(_BUILDERS) == COMPOSITES

