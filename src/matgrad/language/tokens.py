"""Errors that show where, and the tokens of the formula language (layer 4; a
private part of :mod:`matgrad.language.parse`, re-exported by
:mod:`matgrad.language.syntax`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from matgrad.errors import ParseError, ShapeError

__all__ = ["LocatedParseError", "LocatedShapeError", "Token", "tokens"]


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
    "...", "**", ".*", "./", ".^", "==", "!=", ">=", "<=", "+", "-", "*", "/", "@", "^", "⊙", "⊗",
    "'", "ᵀ", ">", "<", "(", ")", "[", "]", ",", "=", ":",
)


def _is_name_char(ch: str, first: bool) -> bool:
    if ch == "ᵀ":
        return False
    return ch == "_" or (ch.isalpha() if first else ch.isalnum())


def tokens(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token."""
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
