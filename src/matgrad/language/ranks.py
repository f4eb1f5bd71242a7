"""Ranks for shape inference in matgrad's expression language (layer 4; private to
:mod:`matgrad.language.shapes`).

Which ranks a symbol whose shape is not given may have: those its direct uses
allow (``tr(X)``: a matrix), ordered by its name (``A`` matrix, ``x`` vector,
``alpha`` scalar); and the assignments of ranks to try, the preferred one first,
then those that deviate least from it, within a budget.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from matgrad.language.syntax import Call, Chain, Name, Node, Sign, Str, Transpose, entries

__all__ = ["GREEK"]

GREEK = frozenset(  # names that are scalars unless their use says otherwise
    "alpha beta gamma delta epsilon eps zeta eta theta iota kappa lambda lam mu nu xi "
    "omicron pi rho sigma tau upsilon phi chi psi omega".split()
)


def _preferred_ranks(name: str) -> list[int]:
    """Ranks to try for a symbol whose shape is not given, best first: Greek names
    are scalars, capitalized names matrices, other names vectors."""
    if name.lower() in GREEK or (len(name) == 1 and "α" <= name <= "ω"):
        return [0, 1, 2]
    if name[0].isupper():
        return [2, 1, 0]
    return [1, 0, 2]


def _bare_name(node: Node) -> str | None:
    while isinstance(node, (Transpose, Sign)):
        node = node.operand
    return node.name if isinstance(node, Name) else None


def _uses(order: Sequence[Node]) -> dict[str, set[int]]:
    """Ranks that how a symbol is used allows (only direct uses decide): an
    argument of a registry function whose signature gives its parameter a dims
    pattern (``(n,n)``) has that many axes."""
    allowed: dict[str, set[int]] = {}
    table = entries()

    def restrict(node: Node, ranks: set[int]) -> None:
        name = _bare_name(node)
        if name is not None:
            allowed[name] = allowed[name] & ranks if name in allowed else set(ranks)

    for node in order:
        if isinstance(node, Call):
            args = node.args
            entry = table.get(node.name)
            if entry is not None:
                for param, a in zip(entry.signature.params, args):
                    if param.kind == "array" and param.dims is not None:
                        restrict(a, {len(param.dims)})
            if node.name in ("tr", "trace", "kron", "matrix_power", "solve"):
                restrict(args[0], {2})
            if node.name == "kron":
                restrict(args[1], {2})
            if node.name == "outer":
                restrict(args[0], {1})
                restrict(args[1], {1})
            if node.name in ("diag", "matmul"):
                for a in args:
                    restrict(a, {1, 2})
            if node.name == "einsum" and isinstance(args[0], Str):
                terms = "".join(args[0].value.split()).partition("->")[0].split(",")
                for term, a in zip(terms, args[1:]):
                    restrict(a, {len(term)})
        elif isinstance(node, Chain) and not node.additive:
            operands = [node.first, *(x for _, x in node.rest)]
            for k, (op, x) in enumerate(node.rest):
                if op.text == "@":
                    restrict(operands[k], {1, 2})
                    restrict(x, {1, 2})
    return allowed


def _assignments(
    names: Sequence[str], choices: Mapping[str, list[int]], budget: int
) -> Iterator[dict[str, int]]:
    """Rank assignments, the preferred one first, then those that deviate least."""
    base = {n: choices[n][0] for n in names}
    yield base
    ambiguous = [n for n in names if len(choices[n]) > 1]
    if len(ambiguous) > 16:
        return
    options = [(k, j) for k, n in enumerate(ambiguous) for j in range(1, len(choices[n]))]
    count = 1
    for cost in range(1, 2 * len(ambiguous) + 1):
        for size in range(1, min(cost, len(ambiguous)) + 1):
            for combo in itertools.combinations(options, size):
                if sum(j for _, j in combo) != cost or len({k for k, _ in combo}) != size:
                    continue
                if count >= budget:
                    return
                count += 1
                ranks = dict(base)
                for k, j in combo:
                    ranks[ambiguous[k]] = choices[ambiguous[k]][j]
                yield ranks
