"""The syntax of matgrad's expression language (layer 4; the private half of
:mod:`matgrad.language.parse`): errors that show where, tokens, the syntax tree, and the
recursive-descent parser.  The grammar, in EBNF, is in ``docs/cli.md``.

The parser is the only recursive pass: ``expression → unary → primary →
expression`` is its one cycle, three Python frames per nesting level, and the
nesting is bounded by :data:`MAX_DEPTH`.  Everything after it walks the tree in
post-order (:func:`postorder`), iteratively.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from matgrad.language.functions import (
    ARITY,
    CORE,
    FUNCTIONS,
    KEYWORDS,
    FunctionTable,
    arity,
    call_operation,
    comparisons,
    entries,
    functions,
    keywords,
    subscript_operation,
)
from matgrad.language.tokens import LocatedParseError, LocatedShapeError, Token, tokens
from matgrad.printing.notation import WHERE

__all__ = [
    "ARITY",
    "CORE",
    "FUNCTIONS",
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "FunctionTable",
    "Call",
    "Chain",
    "LocatedParseError",
    "LocatedShapeError",
    "Name",
    "Node",
    "IndexList",
    "Key",
    "Num",
    "Op",
    "Parser",
    "Power",
    "Seq",
    "Sign",
    "Str",
    "Transpose",
    "arity",
    "call_operation",
    "entries",
    "functions",
    "postorder",
]

MAX_LENGTH = 10_000
"""The longest text :func:`parse` accepts, in characters."""

MAX_DEPTH = 200
"""The deepest nesting :func:`parse` accepts: parentheses, function calls, signs and
exponents each open one level."""

# =====================================================================================
# The syntax tree
# =====================================================================================


@dataclass(frozen=True, eq=False)
class Node:
    start: int
    end: int


@dataclass(frozen=True, eq=False)
class Num(Node):
    value: float


@dataclass(frozen=True, eq=False)
class Name(Node):
    name: str


@dataclass(frozen=True, eq=False)
class Str(Node):
    value: str


@dataclass(frozen=True, eq=False)
class Key(Node):
    """The constant key of an indexing ``x[...]`` (a tuple of Python values)."""

    value: tuple[object, ...]


class IndexList(list[int]):
    """An integer list inside a key (an index array)."""


@dataclass(frozen=True, eq=False)
class Seq(Node):
    """``(a, b)`` (a shape) or ``[a, b]`` (rows of an array)."""

    items: tuple[Node, ...]
    bracket: str


@dataclass(frozen=True, eq=False)
class Op:
    text: str
    start: int
    end: int


@dataclass(frozen=True, eq=False)
class Sign(Node):
    negative: bool
    operand: Node


@dataclass(frozen=True, eq=False)
class Chain(Node):
    """``first op1 x1 op2 x2 ...``, left-associative, all operators of one level."""

    first: Node
    rest: tuple[tuple[Op, Node], ...]
    additive: bool


@dataclass(frozen=True, eq=False)
class Power(Node):
    base: Node
    op: Op
    exponent: Node


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    operand: Node
    count: int
    op: Op


@dataclass(frozen=True, eq=False)
class Call(Node):
    name: str
    name_end: int
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]
    operation: bool = False
    """A declared operation written as the printers write it, ``name(operands,
    attribute=value)`` (see :func:`call_operation`), not a function of the language."""


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Seq):
        return node.items
    if isinstance(node, Sign):
        return (node.operand,)
    if isinstance(node, Transpose):
        return (node.operand,)
    if isinstance(node, Chain):
        return (node.first, *(x for _, x in node.rest))
    if isinstance(node, Power):
        return (node.base, node.exponent)
    if isinstance(node, Call):
        return (*node.args, *(x for _, x in node.kwargs))
    return ()


def postorder(root: Node) -> list[Node]:
    """Every node once, children before parents (iteratively: no recursion limit)."""
    order: list[Node] = []
    seen: set[int] = set()  # a named subexpression is one node with several parents
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children(node)))
    return order


_ADDITIVE = ("+", "-")
_PRODUCTS = ("*", "@", ".*", "⊙", "/", "./", "⊗")
_POWERS = ("^", ".^", "**")
_TRANSPOSES = ("'", ".T", "ᵀ")


class Parser:
    """Recursive descent: ``expression → unary → primary → expression`` is the only
    cycle, so each nesting level costs three Python frames."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.i = 0
        self.depth = 0
        self.definitions: list[tuple[Token, Node]] = []
        """``name = expression`` of a ``where`` block, in the order written."""

    # ---- helpers ------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops_: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops_

    def error(self, tok: Token, problem: str, hint: str = "") -> LocatedParseError:
        return LocatedParseError(self.text, tok.start, max(tok.end, tok.start + 1), problem, hint)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                tok, f"the expression is nested too deeply (more than {MAX_DEPTH} levels)",
                "split it into smaller expressions",
            )

    def expect(self, op: str, opened: Token) -> Token:
        if self.at(op):
            return self.take()
        hint = f"to close the {opened.text!r} at column {opened.start + 1}"
        raise self.error(self.tok, f"expected {op!r}, found {describe_token(self.tok)}", hint)

    # ---- grammar ------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error(self.tok, "empty expression", "write a formula such as tr(X'*A*X)")
        try:
            node = self.expression()
        except RecursionError:  # the caller's own stack was already deep
            raise self.error(
                self.tok, "the expression is nested too deeply for the Python stack",
                "split it into smaller expressions",
            ) from None
        if self.tok.kind == "name" and self.tok.text == WHERE:
            self.where()
        if self.tok.kind != "end":
            tok = self.tok
            hint = ""
            if tok.kind in ("num", "name", "str") or self.at("(", "["):
                hint = "write '*' between the factors of a product (2*x, not 2x)"
            elif self.at(")"):
                hint = "this ')' has no matching '('"
            raise self.error(tok, f"unexpected {describe_token(tok)}", hint)
        return node

    def where(self) -> None:
        """``where name = expression {name = expression}``: named subexpressions, as
        the printers write them (one per line; line breaks are spaces here)."""
        self.take()
        while True:
            name = self.take()
            if name.kind != "name" or not self.at("="):
                raise self.error(
                    name, f"expected 'name = expression' after {WHERE!r}, found "
                    f"{describe_token(name)}", "write e.g. where r = A @ x - b",
                )
            if name.text in FUNCTIONS or name.text == WHERE:
                raise self.error(name, f"{name.text!r} cannot be defined: it is a function")
            self.take()
            try:
                self.definitions.append((name, self.expression()))
            except RecursionError:
                raise self.error(
                    self.tok, "the expression is nested too deeply for the Python stack",
                ) from None
            if self.tok.kind != "name" or self.tokens[self.i + 1].text != "=":
                return

    def expression(self) -> Node:
        """``sum = product {("+" | "-") product}``, ``product = unary {op unary}``
        (one function for both levels, to keep the recursion shallow)."""
        first: Node | None = None
        terms: list[tuple[Op, Node]] = []
        pending: Op | None = None
        while True:
            factor = self.unary()
            factors: list[tuple[Op, Node]] = []
            while self.at(*_PRODUCTS):
                tok = self.take()
                factors.append((Op(tok.text, tok.start, tok.end), self.unary()))
            product = (
                Chain(factor.start, factors[-1][1].end, factor, tuple(factors), False)
                if factors
                else factor
            )
            if pending is None:
                first = product
            else:
                terms.append((pending, product))
            if not self.at(*_ADDITIVE):
                break
            tok = self.take()
            pending = Op(tok.text, tok.start, tok.end)
        assert first is not None
        if not terms:
            return first
        return Chain(first.start, terms[-1][1].end, first, tuple(terms), True)

    def unary(self) -> Node:
        """``unary = {"-" | "+"} postfix [power_op unary]``, ``postfix = primary
        {transpose}`` (a call is parsed from here, so that every nesting level costs
        three frames: expression, unary, and primary or call)."""
        signs: list[Token] = []
        while self.at("-", "+"):
            signs.append(self.take())
        if signs:
            self.enter(signs[0])
        if self.tok.kind == "name" and self.tokens[self.i + 1].text == "(":
            node = self.call(self.take())
        else:
            node = self.primary()
        count, first_op, end = 0, None, node.end
        while self.at(*_TRANSPOSES, "["):
            if self.at("["):  # x[1:, 0], as the printers write indexing
                if first_op is not None:
                    node = Transpose(node.start, end, node, count, first_op)
                count, first_op = 0, None
                node = self.subscript(node)
                end = node.end
                continue
            tok = self.take()
            count += 1
            first_op = first_op or Op(tok.text, tok.start, tok.end)
            end = tok.end
        if first_op is not None:
            node = Transpose(node.start, end, node, count, first_op)
        if self.at(*_POWERS):
            tok = self.take()
            self.enter(tok)
            exponent = self.unary()
            self.depth -= 1
            node = Power(node.start, exponent.end, node, Op(tok.text, tok.start, tok.end),
                         exponent)
        if signs:
            self.depth -= 1
            negative = sum(t.text == "-" for t in signs) % 2 == 1
            node = Sign(signs[0].start, node.end, negative, node)
        return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            try:
                value = float(tok.text)
            except ValueError:  # pragma: no cover - the regex admits only valid numbers
                raise self.error(tok, f"invalid number {tok.text!r}") from None
            if not math.isfinite(value):
                raise self.error(tok, f"the number {tok.text} is too large")
            return Num(tok.start, tok.end, value)
        if tok.kind == "str":
            return Str(tok.start, tok.end, tok.text)
        if tok.kind == "name":
            if tok.text in FUNCTIONS:
                raise self.error(
                    tok, f"{tok.text!r} is a function", f"call it: {tok.text}(...)"
                )
            return Name(tok.start, tok.end, tok.text)
        if tok.kind == "op" and tok.text in ("(", "["):
            self.enter(tok)
            close = ")" if tok.text == "(" else "]"
            items: list[Node] = []
            listing = tok.text == "[" or self.at(")")  # () is the empty shape
            if not (listing and self.at(close)):
                items.append(self.expression())
                compare = comparisons().get(self.tok.text) if self.tok.kind == "op" else None
                if compare is not None and not listing:  # (a > b), as the printers write it
                    self.take()
                    right = self.expression()
                    items[0] = Call(items[0].start, right.end, compare, items[0].start,
                                    (items[0], right), (), True)
                while self.at(","):
                    self.take()
                    listing = True
                    if self.at(close):
                        break  # a trailing comma: (n,)
                    items.append(self.expression())
            end = self.expect(close, tok)
            self.depth -= 1
            if not listing:
                return items[0]  # parentheses only group
            return Seq(tok.start, end.end, tuple(items), tok.text)
        raise self.error(
            tok,
            f"unexpected {describe_token(tok)}",
            "expected a number, a name, a function call or '('",
        )

    def subscript(self, operand: Node) -> Node:
        """``operand[key]``: integers, slices ``a:b:c``, ``...``, ``None`` and integer
        lists, read as the declared indexing operation (:func:`subscript_operation`)."""
        found = subscript_operation()
        opened = self.take()
        if found is None:
            raise self.error(opened, "indexing is not in the language")
        key: list[object] = []
        while not self.at("]"):
            if key and self.take().text != ",":
                raise self.error(self.tokens[self.i - 1], "expected ',' or ']'")
            if self.at("..."):
                self.take()
                key.append(Ellipsis)
            elif self.tok.text == "None":
                self.take()
                key.append(None)
            elif self.at("["):
                self.take()
                items = [self.integer()]
                while self.at(","):
                    self.take()
                    items.append(self.integer())
                self.expect("]", opened)
                key.append(IndexList(items))
            else:
                parts: list[int | None] = [None if self.at(":", ",", "]") else self.integer()]
                while self.at(":") and len(parts) < 3:
                    self.take()
                    parts.append(None if self.at(":", ",", "]") else self.integer())
                key.append(parts[0] if len(parts) == 1 else slice(*parts))
        close = self.expect("]", opened)
        value = Key(opened.start, close.end, tuple(key))
        return Call(operand.start, close.end, found[0], operand.end, (operand,),
                    ((found[1], value),), True)

    def integer(self) -> int:
        sign = -1 if self.at("-") and self.take() else 1
        tok = self.take()
        if tok.kind != "num" or not tok.text.isdigit():
            raise self.error(tok, f"expected an integer index, found {describe_token(tok)}")
        return sign * int(tok.text)

    def call(self, name: Token) -> Node:
        entry = None if name.text in CORE else entries().get(name.text)
        op = call_operation(name.text)
        generic = entry is None and name.text not in CORE and op is not None
        if entry is None and name.text not in CORE and op is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(
                name,
                f"unknown function {name.text!r}; known: {known}",
                f"for a product write {name.text}*(...)",
            )
        opened = self.take()
        self.enter(opened)
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        while not self.at(")"):
            if args or kwargs:
                if not self.at(","):
                    raise self.error(
                        self.tok, f"expected ',' or ')', found {describe_token(self.tok)}",
                        f"to close the '(' at column {opened.start + 1}",
                    )
                self.take()
            if self.tok.kind == "name" and self.tokens[self.i + 1].text == "=":
                key = self.take()
                self.take()
                if not generic and key.text not in keywords(name.text, entry):
                    op = call_operation(name.text, [*(k for k, _ in kwargs), key.text])
                    if op is None:
                        raise self.error(key, f"{name.text} takes no argument {key.text!r}")
                    generic = True
                kwargs.append((key.text, self.expression()))
            elif kwargs:
                raise self.error(self.tok, "a positional argument follows a keyword argument")
            elif self.tok.kind == "end":
                break
            else:
                args.append(self.expression())
        close = self.expect(")", opened)
        self.depth -= 1
        if generic:
            return Call(name.start, close.end, name.text, name.end, tuple(args),
                        tuple((k, _constant_name(v)) for k, v in kwargs), True)
        if entry is not None and kwargs:  # constant parameters by name, as printed
            given = dict(kwargs)
            for param in entry.signature.params[len(args):]:
                if param.name not in given:
                    break
                args.append(given.pop(param.name))
            if given:
                raise self.error(
                    name, f"{name.text}: give {', '.join(given)} in the order of the parameters"
                )
            kwargs = []
        lo, hi = arity(name.text, entry)
        if not lo <= len(args) + len(kwargs) <= hi:
            wanted = str(lo) if lo == hi else f"{lo} to {hi}"
            raise LocatedParseError(
                self.text, name.start, close.end,
                f"{name.text} takes {wanted} argument{'s' if hi != 1 else ''}, "
                f"got {len(args) + len(kwargs)}",
                CORE[name.text] if entry is None else entry.language.description,
            )
        return Call(name.start, close.end, name.text, name.end, tuple(args), tuple(kwargs))


_CONSTANT_NAMES = ("True", "False", "None")


def _constant_name(node: Node) -> Node:
    """``True``, ``False`` and ``None`` as an attribute: strings, not symbols."""
    if isinstance(node, Name) and node.name in _CONSTANT_NAMES:
        return Str(node.start, node.end, node.name)
    return node


def describe_token(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the expression"
    if tok.kind == "name":
        return f"name {tok.text!r}"
    if tok.kind == "num":
        return f"number {tok.text}"
    if tok.kind == "str":
        return "a string"
    return repr(tok.text)
