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
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from matgrad.errors import ParseError, ShapeError
from matgrad.ops import registry
from matgrad.ops.registry import LanguageEntry

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
    "Num",
    "Op",
    "Parser",
    "Power",
    "Seq",
    "Sign",
    "Str",
    "Transpose",
    "arity",
    "entries",
    "functions",
    "postorder",
]

MAX_LENGTH = 10_000
"""The longest text :func:`parse` accepts, in characters."""

MAX_DEPTH = 200
"""The deepest nesting :func:`parse` accepts: parentheses, function calls, signs and
exponents each open one level."""

CORE: dict[str, str] = {
    "tr": "trace of a square matrix (also trace)",
    "trace": "trace of a square matrix",
    "sum": "sum of all entries; sum(X, axis=k) sums over axis k",
    "mean": "mean of all entries; mean(X, axis=k) over axis k",
    "diag": "diagonal of a square matrix, or diagonal matrix of a vector",
    "outer": "outer product of two vectors",
    "kron": "Kronecker product of two matrices (also A ⊗ B)",
    "hadamard": "entrywise product (also A .* B and A ⊙ B)",
    "matmul": "matrix product (also A @ B)",
    "dot": "matrix product, or scaling when an operand is a scalar",
    "transpose": "transpose (also X' and X.T)",
    "matrix_power": "matrix_power(X, k): X multiplied by itself k times (k < 0: of inv(X))",
    "solve": "solve(A, B) = inv(A) * B",
    "einsum": 'einsum("ij,jk->ik", A, B): any multilinear product',
    "ones": "ones(n) or ones((m, n)): all-ones vector or matrix",
    "zeros": "zeros(n) or zeros((m, n))",
    "array": "array([[1, 2], [3, 4]]): a constant",
}
"""The functions of the algebraic core, with a one-line description each.  The
other functions of the language are the operation registry's
(:func:`matgrad.ops.registry.language_entries`): see :func:`entries`."""

ARITY: dict[str, tuple[int, int]] = {
    "sum": (1, 2), "mean": (1, 2), "outer": (2, 2), "kron": (2, 2), "hadamard": (2, 2),
    "matmul": (2, 2), "dot": (2, 2), "matrix_power": (2, 2), "solve": (2, 2),
    "einsum": (2, 64),
}
"""(fewest, most) arguments of the core functions that do not take exactly one; a
registry function takes one argument per parameter of its signature."""

KEYWORDS: dict[str, tuple[str, ...]] = {"sum": ("axis",), "mean": ("axis",)}
"""The keyword arguments of the core functions (registry functions take none)."""


def entries() -> dict[str, LanguageEntry]:
    """The registry's functions of the language, name → entry, read now (so that
    an operation declared after import counts); a core name is never one of them."""
    return {n: e for n, e in registry.language_entries().items() if n not in CORE}


def arity(name: str, entry: LanguageEntry | None = None) -> tuple[int, int]:
    """(fewest, most) arguments of the function ``name``."""
    if name in CORE:
        return ARITY.get(name, (1, 1))
    if entry is None:
        entry = entries()[name]
    count = len(entry.signature.params)
    return count, count


def functions() -> dict[str, str]:
    """Every function of the language, name → one-line description: the core's
    (:data:`CORE`), then the operation registry's, read now.

    >>> functions()["tr"], functions()["inv"]
    ('trace of a square matrix (also trace)', 'inverse of a square matrix')
    """
    table = dict(CORE)
    table.update((n, e.language.description) for n, e in entries().items())
    return table


class FunctionTable(Mapping[str, str]):
    """:func:`functions` as a mapping that reads the registry at each use (never
    cached, so an operation declared at run time is a function at once)."""

    def _table(self) -> dict[str, str]:
        return functions()

    def __getitem__(self, name: str) -> str:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __contains__(self, name: object) -> bool:
        return name in CORE or name in registry.language_entries()

    def __repr__(self) -> str:
        return f"FunctionTable({self._table()!r})"


FUNCTIONS: Mapping[str, str] = FunctionTable()
"""The functions of the language, with a one-line description each (read live from
the core table and the operation registry)."""

# =====================================================================================
# Errors with a position
# =====================================================================================


def _display(text: str, start: int, end: int) -> str:
    """Two lines: (a window of) the text, and a caret line under ``start:end``."""
    width = 76
    flat = "".join(" " if ch in "\t\n\r\v\f" else ch for ch in text)
    lo = 0
    if len(flat) > width:
        lo = max(0, min(start - width // 3, len(flat) - width))
    shown = flat[lo : lo + width]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if lo + width < len(flat) else ""
    column = start - lo + len(prefix)
    carets = max(1, min(end, lo + width) - start)
    return f"    {prefix}{shown}{suffix}\n    {' ' * column}{'^' * carets}"


def _message(
    text: str, start: int, end: int, problem: str, hint: str, notes: Sequence[str] = ()
) -> str:
    lines = [f"{problem} (column {start + 1})", _display(text, start, end), *notes]
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)


class LocatedParseError(ParseError):
    """A :class:`~matgrad.errors.ParseError` that knows where: ``text`` (the
    expression), ``position`` and ``end`` (0-based character offsets), ``problem``
    and ``hint``; the message shows the text with a caret under the place."""

    __module__ = "matgrad.language.parse"  # where users import it from

    def __init__(self, text: str, start: int, end: int, problem: str, hint: str = "") -> None:
        super().__init__(_message(text, start, end, problem, hint))
        self.text, self.position, self.end = text, start, end
        self.problem, self.hint = problem, hint


class LocatedShapeError(ShapeError):
    """A :class:`~matgrad.errors.ShapeError` found while parsing, with the same
    fields as :class:`LocatedParseError`; the message names the operands and their
    shapes, and lists the symbols involved with theirs (``?`` for a dimension not
    yet known)."""

    __module__ = "matgrad.language.parse"

    def __init__(
        self, text: str, start: int, end: int, problem: str, hint: str = "",
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__(_message(text, start, end, problem, hint, notes))
        self.text, self.position, self.end = text, start, end
        self.problem, self.hint = problem, hint


# =====================================================================================
# Tokens
# =====================================================================================


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "str", "op", "end"
    text: str
    start: int
    end: int


_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_OPERATORS = (  # longest first
    "**", ".*", "./", ".^", "+", "-", "*", "/", "@", "^", "⊙", "⊗", "'", "ᵀ",
    "(", ")", "[", "]", ",", "=",
)


def _is_name_char(ch: str, first: bool) -> bool:
    if ch == "ᵀ":
        return False
    return ch == "_" or (ch.isalpha() if first else ch.isalnum())


def _tokens(text: str) -> list[Token]:
    result: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch in "0123456789" or (ch == "." and i + 1 < n and text[i + 1] in "0123456789"):
            match = _NUMBER.match(text, i)
            assert match is not None
            i = match.end()
            result.append(Token("num", match.group(), start, i))
        elif _is_name_char(ch, True):
            i += 1
            while i < n and _is_name_char(text[i], False):
                i += 1
            result.append(Token("name", text[start:i], start, i))
        elif ch == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise LocatedParseError(text, i, n, "unterminated string", 'close it with "')
            i = close + 1
            result.append(Token("str", text[start + 1 : close], start, i))
        elif text.startswith(".T", i) and not (i + 2 < n and _is_name_char(text[i + 2], False)):
            i += 2
            result.append(Token("op", ".T", start, i))
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise LocatedParseError(
                    text, i, i + 1, f"unexpected character {ch!r}",
                    "operators are + - * / @ ^ .* ./ .^ ⊙ ⊗ ' .T; see docs/cli.md",
                )
            i += len(op)
            result.append(Token("op", op, start, i))
    result.append(Token("end", "", n, n))
    return result


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
    """Every node, children before parents (iteratively: no recursion limit)."""
    order: list[Node] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
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
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

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
        if self.tok.kind != "end":
            tok = self.tok
            hint = ""
            if tok.kind in ("num", "name", "str") or self.at("(", "["):
                hint = "write '*' between the factors of a product (2*x, not 2x)"
            elif self.at(")"):
                hint = "this ')' has no matching '('"
            raise self.error(tok, f"unexpected {describe_token(tok)}", hint)
        return node

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
        while self.at(*_TRANSPOSES):
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
            listing = tok.text == "["
            if not (listing and self.at("]")):
                items.append(self.expression())
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

    def call(self, name: Token) -> Node:
        entry = None if name.text in CORE else entries().get(name.text)
        if entry is None and name.text not in CORE:
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
                if key.text not in KEYWORDS.get(name.text, ()):
                    raise self.error(key, f"{name.text} takes no argument {key.text!r}")
                kwargs.append((key.text, self.expression()))
            elif kwargs:
                raise self.error(self.tok, "a positional argument follows a keyword argument")
            elif self.tok.kind == "end":
                break
            else:
                args.append(self.expression())
        close = self.expect(")", opened)
        self.depth -= 1
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
