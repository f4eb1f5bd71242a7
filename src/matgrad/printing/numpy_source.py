"""NumPy source code for an expression (layer 2): ``def f(A, X): ...``, evaluating
it with NumPy alone, each distinct node computed once into a local variable."""

from __future__ import annotations

import functools
import keyword
import math
import re
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Add, Constant, Delta, Einsum, Expr, Ones, Zero
from matgrad.printing.notation import (
    LETTERS,
    Namer,
    Operand,
    einsum_spec,
    fill,
    letter_map,
    py_number,
)

__all__ = ["function_source"]


def _identifier(name: str, taken: set[str]) -> str:
    """``name`` as a Python parameter name, unique among ``taken``."""
    ident = re.sub(r"\W", "_", name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or ident == "np":
        ident += "_"
    candidate, k = ident, 1
    while candidate in taken:
        candidate = f"{ident}_{k}"
        k += 1
    taken.add(candidate)
    return candidate


def _py_literal(value: Any) -> str:
    """Python source for a number that evaluates to exactly that number."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, complex):
        return f"complex({_py_literal(value.real)}, {_py_literal(value.imag)})"
    if isinstance(value, float):
        if math.isnan(value):
            return "np.nan"
        if math.isinf(value):
            return "np.inf" if value > 0 else "-np.inf"
        return repr(value)
    return repr(value)


def _array_literal(value: Array) -> str:
    dtype = value.dtype.name
    if value.ndim == 0:
        return f"np.array({_py_literal(value.item())}, dtype=np.{dtype})"
    flat = ", ".join(_py_literal(v) for v in value.ravel().tolist())
    return f"np.array([{flat}], dtype=np.{dtype}).reshape({value.shape})"


def _numpy_lines(node: Expr, var: str, args: list[str], fresh: Namer) -> list[str]:
    """Statements computing ``node`` into ``var`` from its operands' variables."""
    dtype = f"np.{node.dtype.name}"
    if isinstance(node, Constant):
        return [f"{var} = {_array_literal(node.value)}"]
    if isinstance(node, Zero):
        return [f"{var} = np.zeros({node.shape}, dtype={dtype})"]
    if isinstance(node, Ones):
        return [f"{var} = np.ones({node.shape}, dtype={dtype})"]
    if isinstance(node, Delta):
        return [f"{var} = np.eye({node.shape[0]}, dtype={dtype})"]
    if isinstance(node, Einsum):
        if len(letter_map(node.indices, node.out)) > len(LETTERS):
            return _pairwise_einsum_lines(node, var, args, fresh)
        spec = einsum_spec(node.indices, node.out)
        optimize = ", optimize=True" if len(args) > 2 else ""
        return [f'{var} = np.einsum("{spec}", {", ".join(args)}{optimize})']
    if isinstance(node, Add):
        text = ""
        for k, (a, c) in enumerate(zip(args, node.coeffs)):
            c = py_number(c)
            negative = not isinstance(c, complex) and c < 0
            mag = -c if negative and k > 0 else c
            term = a if mag == 1 else f"-{a}" if mag == -1 else f"{_py_literal(mag)} * {a}"
            text += term if k == 0 else (" - " if negative else " + ") + term
        return [f"{var} = {text}"]
    if isinstance(node, Apply):
        return _apply_lines(node, var, args, fresh)
    raise UnsupportedOperationError(f"to_numpy: no NumPy translation for {node.kind!r} nodes")


def _pairwise_einsum_lines(node: Einsum, var: str, args: list[str], fresh: Namer) -> list[str]:
    """An einsum with more indices than ``numpy.einsum`` has letters, contracted one
    operand at a time (each step keeps only the indices still needed)."""
    if len(args) == 1:
        raise UnsupportedOperationError(
            "to_numpy: an operand with more than 52 axes cannot be written for numpy.einsum"
        )
    lines: list[str] = []
    current, ids = args[0], node.indices[0]
    for k in range(1, len(args)):
        later = {i for ix in node.indices[k + 1 :] for i in ix} | set(node.out)
        merged = tuple(dict.fromkeys((*ids, *node.indices[k])))
        keep = node.out if k == len(args) - 1 else tuple(i for i in merged if i in later)
        if len(merged) > len(LETTERS):
            raise UnsupportedOperationError(
                "to_numpy: an einsum step with more than 52 indices cannot be written for "
                "numpy.einsum"
            )
        spec = einsum_spec((ids, node.indices[k]), keep)
        target = var if k == len(args) - 1 else fresh()
        lines.append(f'{target} = np.einsum("{spec}", {current}, {args[k]})')
        current, ids = target, keep
    return lines


def _apply_lines(node: Apply, var: str, args: list[str], fresh: Namer) -> list[str]:
    """A declared operation, as its declaration writes it in NumPy."""
    notation = node.op.notation
    if notation.numpy_lines is not None:
        return notation.numpy_lines(var, args, fresh, node)
    template = notation.numpy
    if notation.numpy_complex is not None and np.issubdtype(node.dtype, np.complexfloating):
        template = notation.numpy_complex
    if template is None:
        raise UnsupportedOperationError(
            f"to_numpy: the operation {node.op.name!r} declares no NumPy source"
        )
    operands = [Operand(functools.partial(_as_is, a)) for a in args]
    attrs = {k: Operand(functools.partial(_literal, v)) for k, v in node.attrs.items()}
    return [f"{var} = " + fill(template, operands, attrs)]


def _as_is(text: str, spec: str) -> str:
    return text


def _literal(value: Any, spec: str) -> str:
    return _py_literal(value) if isinstance(value, (int, float, complex)) else str(value)


def function_source(root: Expr, name: str) -> str:
    """Python source of ``def <name>(<symbols sorted by name>)`` computing ``root``
    (see :func:`matgrad.printing.to_numpy`)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidArgumentError(
            f"to_numpy: function name must be a Python identifier, got {name!r}"
        )
    taken: set[str] = {"np", name}
    params: dict[int, str] = {}
    for sym in root.symbols():
        params[sym.uid] = _identifier(sym.name, taken)
    fresh = Namer(taken)
    variables: dict[int, str] = dict(params)
    body: list[str] = []
    for node in root.walk():
        if node.uid in variables:
            continue
        var = fresh()
        args = [variables[c.uid] for c in node.children]
        body.extend(_numpy_lines(node, var, args, fresh))
        variables[node.uid] = var
    signature = ", ".join(params.values())
    doc = ", ".join(f"{params[s.uid]}: {s.shape}" for s in root.symbols())
    doc = f"{doc} -> {root.shape}" if doc else f"-> {root.shape}"
    lines = [
        "import numpy as np",
        "",
        "",
        f"def {name}({signature}):",
        f'    """{doc}"""',
        *(f"    {line}" for line in body),
        f"    return {variables[root.uid]}",
        "",
    ]
    return "\n".join(lines)
