"""A deliberately naive evaluator of expressions, for tests (layer 4).

Every node is computed the plainest way NumPy allows — ``np.einsum`` with deltas
materialized as identity matrices, and every declared operation by its
declaration's ``reference`` implementation (the adjugate from cofactors, the
logistic function as ``1 / (1 + exp(-x))``, ...) or else its NumPy one — with
none of the planning, path optimization, strided writes, specialized kernels or
``inv → solve`` rewrites of :mod:`matgrad.compiler`.  Tests compare the compiled
evaluator against this one on the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.ir.apply import Apply
from matgrad.ir.bindings import expression_bindings
from matgrad.ir.expr import Add, Constant, Delta, Einsum, Expr, Ones, Symbol, Zero
from matgrad.ops.linalg import cofactor_adjugate

__all__ = ["cofactor_adjugate", "reference_evaluate"]


def reference_evaluate(expr: Expr, bindings: Mapping[str, Any]) -> Array:
    """Evaluate ``expr`` node by node in the plainest way.

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (2, 2))
    >>> reference_evaluate(mg.trace(X @ X), {"X": np.eye(2)})
    array(2.)
    """
    values = expression_bindings(expr, dict(bindings))
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
        elif isinstance(node, Apply):
            fn = node.op.reference or node.op.numpy
            v = fn(*(memo[a.uid] for a in node.args), **node.attrs)
        else:  # pragma: no cover - the completeness test lists every kind
            raise TypeError(f"reference evaluator has no case for {node.kind}")
        memo[node.uid] = np.asarray(v)
    return np.asarray(memo[expr.uid])
