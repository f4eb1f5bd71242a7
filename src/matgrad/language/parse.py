"""The expression language of the ``matgrad`` command (layer 4): text to expression.

:func:`parse` reads a formula written as on paper or on matrixcalculus.org
(``tr(X'*A*X)``, ``x'*A*x``, ``logdet(S) + a'*inv(S)*b``) or in matgrad's own
matrix notation (``trace(X.T @ A @ X)``, ``x @ A @ x``, ``A ⊙ X``), infers the
shapes of the symbols it does not know, and returns an ordinary matgrad
expression built with :mod:`matgrad.ops`.  It is a hand-written recursive-descent
parser; no text is ever evaluated as Python.

Three passes:

1. **Syntax.**  A tokenizer and a recursive-descent parser build a small syntax
   tree (the grammar is in ``docs/cli.md``).  Input longer than
   :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH` levels
   is refused; every pass after this one is iterative, so nothing can overflow
   the stack or run for long.
2. **Shapes.**  Every symbol gets a rank (from ``shapes``, from how it is used,
   else from its name: ``A`` matrix, ``x`` vector, ``alpha`` scalar) and one
   dimension variable per axis; every operation unifies the variables it
   constrains (inner dimensions of products, square arguments of ``tr``, ``det``,
   ``inv``, ``logdet``, equal shapes of sums); free dimensions become
   ``default_size``.  When the name-based ranks do not fit together, the ranks
   closest to them that do are searched for (a bounded search).
3. **Building** the expression bottom-up with :mod:`matgrad.ops`.

Errors carry the position: :class:`LocatedParseError` (a
:class:`~matgrad.errors.ParseError`) for text that is not an expression,
:class:`LocatedShapeError` (a :class:`~matgrad.errors.ShapeError`) for shapes that
do not fit; both messages show the expression with a caret under the place.

>>> import matgrad as mg
>>> f = mg.parse("tr(X'*A*X)")
>>> print(f, f.shape)
trace(X.T @ A @ X) ()
>>> print(mg.parse("x'*A*x", {"A": (4, 4)}))
x @ A @ x
>>> try:
...     mg.parse("tr(X)", {"X": (2, 3)})
... except mg.errors.ShapeError as err:
...     print(err)
tr needs a square matrix; X has shape (2, 3) (column 1)
    tr(X)
    ^^
symbols: X (2, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from matgrad import ops
from matgrad.errors import InvalidArgumentError
from matgrad.ir.expr import Expr, Symbol, add, constant, delta, ones, symbol, zeros
from matgrad.language.shapes import Typer, infer
from matgrad.language.syntax import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    Call,
    Chain,
    LocatedParseError,
    LocatedShapeError,
    Name,
    Node,
    Parser,
    Power,
    Seq,
    Sign,
    Transpose,
    children,
    postorder,
)
from matgrad.language.tokens import Token

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "LocatedParseError",
    "LocatedShapeError",
    "Parsed",
    "parse",
    "parse_expression",
    "symbol_names",
]

Value = Expr | float  # a built subexpression, or a number folded so far

# =====================================================================================
# Building the expression
# =====================================================================================

_UNARY_OPS = {
    "tr": ops.trace, "trace": ops.trace, "diag": ops.diag, "transpose": ops.transpose,
}
"""The core functions of one argument; the registry's functions are built by
their entries (:func:`_call`)."""


def _apply(kind: str, a: Value, b: Value) -> Value:
    """One step of a product chain, as the typer decided it."""
    if not isinstance(a, Expr) and not isinstance(b, Expr):
        return a / b if kind == "divide" else a * b
    if kind == "scale":
        return ops.multiply(a, b)
    if kind == "divide":
        if isinstance(b, Expr):
            return ops.multiply(a, ops.power(b, -1.0))
        return ops.multiply(a, 1.0 / b)
    if kind == "matmul":
        return ops.matmul(a, b)
    if kind == "outer":
        return ops.outer(a, b)
    return ops.kron(a, b)


def _build(typer: Typer, order: Sequence[Node], symbols: Mapping[str, Symbol]) -> Value:
    val: dict[Node, Value] = {}
    for node in order:
        if node in typer.num:
            val[node] = typer.num[node]
        elif isinstance(node, Name):
            if node in typer.identity:
                size = typer.dims.get(typer.identity[node])
                assert size is not None
                val[node] = delta(size)
            else:
                val[node] = symbols[node.name]
        elif isinstance(node, Sign):
            x = val[node.operand]
            val[node] = add([x], [-1]) if node.negative else x
        elif isinstance(node, Transpose):
            x = val[node.operand]
            val[node] = ops.transpose(x) if node.count % 2 else x
        elif isinstance(node, Power) and node in typer.expression_powers:
            val[node] = typer.expression_powers[node].build(val[node.base], val[node.exponent])
        elif isinstance(node, Power):
            val[node] = ops.power(val[node.base], typer.num[node.exponent])
        elif isinstance(node, Chain) and node.additive:
            val[node] = _sum(typer, node, val)
        elif isinstance(node, Chain):
            acc = val[node.first]
            for kind, (_, term) in zip(typer.steps[node], node.rest):
                acc = _apply(kind, acc, val[term])
            val[node] = acc
        elif isinstance(node, Call):
            val[node] = _call(typer, node, val)
    return val[order[-1]]


def _sum(typer: Typer, node: Chain, val: Mapping[Node, Value]) -> Value:
    """A sum as one ``add`` node (building it term by term would take quadratic
    time); scalar terms of an array sum are broadcast with the all-ones tensor."""
    shape = tuple(typer.dims.get(v) or 1 for v in typer.ty[node].dims)
    terms: list[Expr] = []
    coeffs: list[float] = []
    number = 0.0
    signed = [(1, node.first), *((1 if op.text == "+" else -1, x) for op, x in node.rest)]
    for sign, item in signed:
        value = val[item]
        if not isinstance(value, Expr):
            number += sign * value
            continue
        if value.shape != shape:
            value = ops.multiply(value, ones(shape))
        terms.append(value)
        coeffs.append(sign)
    if number != 0.0:
        terms.append(constant(number) if not shape else ones(shape))
        coeffs.append(1.0 if not shape else number)
    return add(terms, coeffs)


def _call(typer: Typer, call: Call, val: Mapping[Node, Value]) -> Value:
    name = call.name
    if call.operation or call in typer.generic_calls:
        op, operands, _, _ = typer.operation_args(call)
        return op(*(val[a] for a in operands), **typer.attrs[call])
    entry = typer.entries.get(name)
    if entry is not None:
        # array arguments in order; constant ones by parameter name, as the typer
        # found them (numbers folded, shapes read)
        arrays = [
            val[a] for p, a in zip(entry.signature.params, call.args) if p.kind == "array"
        ]
        return entry.build(*arrays, **typer.attrs[call])
    args = [val[a] for a in call.args if a in val]
    if name in _UNARY_OPS:
        return _UNARY_OPS[name](args[0])
    if name in ("sum", "mean"):
        fn = ops.sum if name == "sum" else ops.mean
        return fn(args[0], typer.axis[call])
    if name in ("kron", "hadamard", "matmul", "dot"):
        return _apply(typer.steps[call][0], args[0], args[1])
    if name == "outer":
        return ops.outer(args[0], args[1])
    if name == "matrix_power":
        return ops.matrix_power(args[0], int(typer.num[call.args[1]]))
    if name == "solve":
        return ops.solve(args[0], args[1])
    if name == "einsum":
        return ops.einsum(typer.spec[call], *args)
    if name == "array":
        return constant(typer.arrays[call])
    shape = typer.shapes[call.args[-1]]
    if name == "eye":
        return delta(shape[0])
    return (ones if name == "ones" else zeros)(shape)


# =====================================================================================
# Named subexpressions: ``... where r = A @ x - b``
# =====================================================================================


def _substitute(text: str, root: Node, definitions: Sequence[tuple[Token, Node]]) -> Node:
    """``root`` with every name defined in the ``where`` block replaced by its
    definition: one syntax node shared by all its uses (so the text stays as small
    as the DAG it was printed from).  Definitions may come in any order; a name
    defined twice, or a definition that uses itself, is an error."""
    if not definitions:
        return root
    defined: dict[str, tuple[Token, Node]] = {}
    for name, node in definitions:
        if name.text in defined:
            raise LocatedParseError(
                text, name.start, name.end, f"{name.text!r} is defined twice"
            )
        defined[name.text] = (name, node)
    uses = {
        key: [n.name for n in postorder(node) if isinstance(n, Name) and n.name in defined]
        for key, (_, node) in defined.items()
    }
    done: dict[str, Node] = {}
    for key in defined:  # depth-first, iteratively, in dependency order
        stack, active = [key], {key}
        while stack:
            top = stack[-1]
            if top in done:
                stack.pop()
                active.discard(top)
                continue
            todo = [u for u in uses[top] if u not in done]
            cycle = next((u for u in todo if u in active), None)
            if cycle is not None:
                token = defined[top][0]
                via = "itself" if cycle == top else f"{cycle!r}, which uses {top!r}"
                raise LocatedParseError(
                    text, token.start, token.end, f"the definition of {top!r} uses {via}"
                )
            if todo:
                stack.append(todo[0])
                active.add(todo[0])
                continue
            done[top] = _replace_names(defined[top][1], done)
    return _replace_names(root, done)


def _replace_names(root: Node, values: Mapping[str, Node]) -> Node:
    """A copy of ``root`` whose names in ``values`` are those nodes (iteratively)."""
    new: dict[int, Node] = {}
    for node in postorder(root):
        if isinstance(node, Name) and node.name in values:
            new[id(node)] = values[node.name]
            continue
        kids = children(node)
        if all(new[id(k)] is k for k in kids):
            new[id(node)] = node
            continue
        new[id(node)] = _rebuilt(node, {id(k): new[id(k)] for k in kids})
    return new[id(root)]


def _rebuilt(node: Node, new: Mapping[int, Node]) -> Node:
    """``node`` with its children replaced as ``new`` (by id) says."""
    if isinstance(node, Seq):
        return replace(node, items=tuple(new[id(x)] for x in node.items))
    if isinstance(node, (Sign, Transpose)):
        return replace(node, operand=new[id(node.operand)])
    if isinstance(node, Chain):
        rest = tuple((op, new[id(x)]) for op, x in node.rest)
        return replace(node, first=new[id(node.first)], rest=rest)
    if isinstance(node, Power):
        return replace(node, base=new[id(node.base)], exponent=new[id(node.exponent)])
    assert isinstance(node, Call)
    kwargs = tuple((k, new[id(x)]) for k, x in node.kwargs)
    return replace(node, args=tuple(new[id(x)] for x in node.args), kwargs=kwargs)


# =====================================================================================
# The public functions
# =====================================================================================


@dataclass(frozen=True)
class Parsed:
    """What :func:`parse_expression` found: the ``expr``, and every symbol the text
    names (``symbols``, in order of first appearance; a symbol that cancels, as in
    ``x - x``, is still listed, with its inferred shape)."""

    text: str
    expr: Expr
    symbols: Mapping[str, Symbol]


def _shapes(shapes: Mapping[str, object] | None) -> dict[str, tuple[int, ...]]:
    result: dict[str, tuple[int, ...]] = {}
    for name, shape in (shapes or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"shapes: symbol names must be strings, got {name!r}")
        if isinstance(shape, (int, np.integer)):
            tup: tuple[object, ...] = (shape,)
        elif isinstance(shape, (tuple, list)):
            tup = tuple(shape)
        else:
            raise InvalidArgumentError(f"shapes[{name!r}] must be a tuple of ints, got {shape!r}")
        if not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in tup
        ):
            raise InvalidArgumentError(
                f"shapes[{name!r}] must be a tuple of positive ints, got {shape!r}"
            )
        result[name] = tuple(int(d) for d in tup)  # type: ignore[call-overload]
    return result


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"parse needs a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise LocatedParseError(
            text, MAX_LENGTH, len(text),
            f"the expression is too long ({len(text)} characters; at most {MAX_LENGTH})",
        )


def parse_expression(
    text: str,
    shapes: Mapping[str, object] | None = None,
    *,
    symmetric: Iterable[str] = (),
    spd: Iterable[str] = (),
    default_size: int = 3,
    result_shape: Sequence[int] | None = None,
) -> Parsed:
    """:func:`parse`, returning a :class:`Parsed` record with every symbol named.

    ``result_shape``: sizes for the dimensions of the result that nothing else
    fixes (when it has the result's rank) — a claimed derivative ``I`` or ``2*I``
    gets the derivative's size this way.  Otherwise as :func:`parse`.

    >>> p = parse_expression("tr(X'*A*X) + 0*y", {"X": (3, 2)})
    >>> {name: s.shape for name, s in p.symbols.items()}
    {'X': (3, 2), 'A': (3, 3), 'y': (3,)}
    """
    _check_text(text)
    if isinstance(default_size, bool) or not isinstance(default_size, int) or default_size < 1:
        raise InvalidArgumentError(f"default_size must be a positive int, got {default_size!r}")
    given = _shapes(shapes)
    sym_names = frozenset(symmetric) | frozenset(spd)
    parser = Parser(text)
    root = _substitute(text, parser.parse(), parser.definitions)
    order = postorder(root)
    identity = "I" not in given and "I" not in sym_names
    typer = infer(text, order, given, sym_names, identity, default_size, result_shape)
    first_seen: dict[str, int] = {}
    for node in order:
        if isinstance(node, Name) and node.name in typer.symbol_dims:
            first_seen[node.name] = min(first_seen.get(node.name, node.start), node.start)
    symbols: dict[str, Symbol] = {}
    for name in sorted(first_seen, key=first_seen.__getitem__):
        shape = tuple(typer.dims.get(v) for v in typer.symbol_dims[name])
        symbols[name] = symbol(name, shape, symmetric=name in sym_names)  # type: ignore[arg-type]
    value = _build(typer, order, symbols)
    expr = value if isinstance(value, Expr) else constant(value)
    return Parsed(text, expr, symbols)


def symbol_names(text: str) -> tuple[str, ...]:
    """The names a formula uses, in order of first appearance (syntax only: no
    shapes are inferred, so only a :class:`LocatedParseError` can be raised).

    >>> symbol_names("tr(X'*A*X) + pi*I")
    ('X', 'A', 'pi', 'I')
    >>> symbol_names("r @ r where r = A + X @ X")
    ('A', 'X')
    """
    _check_text(text)
    parser = Parser(text)
    root = _substitute(text, parser.parse(), parser.definitions)
    names: dict[str, int] = {}
    for node in postorder(root):
        if isinstance(node, Name):
            names[node.name] = min(names.get(node.name, node.start), node.start)
    return tuple(sorted(names, key=names.__getitem__))


def parse(
    text: str,
    shapes: Mapping[str, object] | None = None,
    *,
    symmetric: Iterable[str] = (),
    spd: Iterable[str] = (),
    default_size: int = 3,
) -> Expr:
    """The matgrad expression written in ``text`` (grammar and rules: ``docs/cli.md``).

    ``shapes`` maps symbol names to shapes (``{"X": (3, 4), "x": (3,), "s": ()}``);
    other symbols get their shapes inferred from use, free dimensions
    ``default_size``.  ``symmetric`` names symbols declared symmetric
    (``Matrix(..., symmetric=True)``); ``spd`` names symmetric positive definite
    ones (symmetric here; the command draws SPD values for them).  Names that do
    not occur are ignored.

    Operators, loosest first: ``+ -``; the products ``*`` (matrix product, or
    scaling when a side is a scalar; ``x'*y`` inner, ``x*y'`` outer), ``@``
    (NumPy's matmul), ``.*``/``⊙`` (entrywise), ``/``/``./`` (entrywise
    division), ``⊗`` (Kronecker); unary ``-``; powers ``^ .^ **`` (entrywise,
    constant exponent; ``X^-1`` of a matrix is refused as ambiguous: write
    ``inv(X)``); transposes ``'``, ``.T``, ``ᵀ``.  ``I`` is the identity of the size
    that fits, unless you give ``I`` a shape.

    Raises :class:`LocatedParseError` (a ``ParseError``) for text that is not an
    expression, :class:`LocatedShapeError` (a ``ShapeError``) when shapes conflict,
    ``InvalidArgumentError`` for bad ``shapes`` or ``default_size``.

    >>> import matgrad as mg
    >>> f = mg.parse("a'*inv(X)*b + logdet(X)", {"X": (4, 4)})
    >>> print(f, [s.shape for s in f.symbols()])
    a @ inv(X) @ b + logdet(X) [(4, 4), (4,), (4,)]
    >>> print(mg.parse("x*y'"), mg.parse("x'*y"), mg.parse("alpha*x"))
    outer(x, y) x @ y alpha * x
    """
    return parse_expression(
        text, shapes, symmetric=symmetric, spd=spd, default_size=default_size
    ).expr
