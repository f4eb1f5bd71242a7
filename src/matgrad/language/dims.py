"""The vocabulary of shape inference (:mod:`matgrad.language.shapes`): dimension
variables and their unification (:class:`Dims`), the type of a subexpression
(:class:`Ty`), the size constraint of a Kronecker product (:class:`Product`), and
the conflict that ends one choice of ranks (:class:`Abort`)."""

from __future__ import annotations

from dataclasses import dataclass

from matgrad.language.syntax import LocatedShapeError, Node

__all__ = ["Abort", "Dims", "Product", "Ty"]


class Dims:
    """Union-find over dimension variables; a class may be bound to a size."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int | None] = []

    def new(self, size: int | None = None) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        return len(self.parent) - 1

    def find(self, v: int) -> int:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def get(self, v: int) -> int | None:
        return self.size[self.find(v)]

    def unify(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        sa, sb = self.size[ra], self.size[rb]
        if sa is not None and sb is not None and sa != sb:
            return False
        self.parent[rb] = ra
        self.size[ra] = sa if sa is not None else sb
        return True

    def bind(self, v: int, n: int) -> bool:
        r = self.find(v)
        if self.size[r] is None:
            self.size[r] = n
        return self.size[r] == n


@dataclass(frozen=True)
class Ty:
    """The type of a subexpression: one dimension variable per axis; a vector is a
    column unless ``row`` (it is a transposed column)."""

    dims: tuple[int, ...]
    row: bool = False

    @property
    def rank(self) -> int:
        return len(self.dims)


@dataclass(frozen=True)
class Product:
    """A dimension of a Kronecker product: ``size(result) = size(a) · size(b)``."""

    result: int
    a: int
    b: int
    span: tuple[int, int]
    operands: tuple[Node, ...]


class Abort(Exception):
    """A shape conflict under one choice of ranks (the search may try others)."""

    def __init__(self, error: LocatedShapeError) -> None:
        super().__init__(str(error))
        self.error = error
