"""A deliberately naive evaluator of expressions, for tests (layer 4).

Every node is computed the plainest way NumPy allows — ``np.einsum`` with deltas
materialized as identity matrices, ``np.linalg.inv`` for inverses, the adjugate
from cofactors — with none of the planning, path optimization, strided writes or
``inv → solve`` rewrites of :mod:`matgrad.compiler`.  Tests compare the compiled
evaluator against this one on the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.ir.bindings import check_bindings
from matgrad.ir.expr import (
    Add,
    Constant,
    Delta,
    Einsum,
    Elementwise,
    Expr,
    MatrixFunction,
    Ones,
    Reshape,
    Symbol,
    Zero,
)

__all__ = ["cofactor_adjugate", "reference_evaluate"]


def cofactor_adjugate(x: Any) -> Array:
    """``adj(X)[j, i] = (−1)^(i+j) det(X without row i and column j)``.

    >>> cofactor_adjugate(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[ 4., -2.],
           [-3.,  1.]])
    """
    n = x.shape[0]
    if n == 1:
        return np.ones((1, 1), dtype=x.dtype)
    out = np.empty_like(x)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(x, i, axis=0), j, axis=1)
            out[j, i] = (-1) ** (i + j) * np.linalg.det(minor)
    return np.asarray(out)


def _elementwise(fn: str, v: Any, param: float | None) -> Array:
    if fn == "power":
        return np.asarray(np.power(v, float(param or 0.0)))
    if fn == "sigmoid":
        return np.asarray(1.0 / (1.0 + np.exp(-v)))
    if fn == "abs":
        return np.asarray(np.abs(v))
    return np.asarray(getattr(np, fn)(v))


def reference_evaluate(expr: Expr, bindings: Mapping[str, Any]) -> Array:
    """Evaluate ``expr`` node by node in the plainest way.

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (2, 2))
    >>> reference_evaluate(mg.trace(X @ X), {"X": np.eye(2)})
    array(2.)
    """
    values = check_bindings(expr.symbols(), dict(bindings))
    memo: dict[int, Any] = {}
    for node in expr.walk():
        v: Any
        if isinstance(node, Symbol):
            v = values[node.name]
        elif isinstance(node, Constant):
            v = node.value
        elif isinstance(node, Zero):
            v = np.zeros(node.shape, node.dtype)
        elif isinstance(node, Ones):
            v = np.ones(node.shape, node.dtype)
        elif isinstance(node, Delta):
            v = np.eye(node.shape[0], dtype=node.dtype)
        elif isinstance(node, Einsum):
            args: list[Any] = []
            for op, ix in zip(node.operands, node.indices):
                args.extend([memo[op.uid], list(ix)])
            args.append(list(node.out))
            v = np.einsum(*args)
        elif isinstance(node, Add):
            v = sum(c * memo[t.uid] for t, c in zip(node.terms, node.coeffs))
        elif isinstance(node, Elementwise):
            v = _elementwise(node.fn, memo[node.x.uid], node.param)
        elif isinstance(node, Reshape):
            v = memo[node.x.uid].reshape(node.shape)
        elif isinstance(node, MatrixFunction):
            x: Any = memo[node.x.uid]
            if node.kind == "inv":
                v = np.linalg.inv(x)
            elif node.kind == "det":
                v = np.linalg.det(x)
            elif node.kind == "logdet":
                v = np.linalg.slogdet(x)[1]
            else:
                v = cofactor_adjugate(x)
        else:  # pragma: no cover - the completeness test lists every kind
            raise TypeError(f"reference evaluator has no case for {node.kind}")
        memo[node.uid] = np.asarray(v)
    return np.asarray(memo[expr.uid])
