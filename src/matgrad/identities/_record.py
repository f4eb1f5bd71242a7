"""The records of the identity catalogue: :class:`Identity`, the symbols it is
stated in, the conditions on them, and :class:`Instance`, an identity made
concrete at one set of sizes with valid random values (layer 4).

An identity is *data*: its function and its closed form are builders that take
a :class:`Symbols` namespace (the identity's symbols at concrete sizes) and
return matgrad expressions, so the same entry can be instantiated at any sizes
its conditions allow, square or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matgrad import _random
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.expr import Expr, Symbol, delta, ones, symbol

__all__ = [
    "CONDITIONS",
    "Builder",
    "Condition",
    "Identity",
    "Instance",
    "SymbolSpec",
    "Symbols",
    "draw_value",
]

CONDITIONS: dict[str, str] = {
    "square": "a square matrix",
    "invertible": "invertible and well conditioned (singular values in [0.5, 2])",
    "symmetric": "symmetric; declared with symmetric=True",
    "positive definite": (
        "symmetric positive definite (eigenvalues in [0.5, 2]); declared with symmetric=True"
    ),
    "positive definite part": (
        "xᵀAx > 0 for x ≠ 0, A not necessarily symmetric (A + Aᵀ positive definite)"
    ),
    "full column rank": "at least as many rows as columns, singular values in [0.5, 2]",
    "full row rank": "at least as many columns as rows, singular values in [0.5, 2]",
    "singular": "rank exactly one less than full (a corank-1 square matrix)",
    "positive entries": "every entry in [0.5, 2]",
    "nonzero entries": "every entry at least 0.5 away from zero",
    "distinct eigenvalues": (
        "simple eigenvalues, well separated: spread evenly over [-2, 2] (over [0.5, 2] "
        "with positive definite) with a jitter of a quarter spacing; with symmetric or "
        "positive definite"
    ),
    "distinct singular values": (
        "full rank with simple singular values, well separated: spread evenly over "
        "[0.5, 2] with a jitter of a quarter spacing"
    ),
    "small norm": (
        "spectral norm in [0.5, 1]: the spectrum lies in the unit disc, inside the strip "
        "|Im λ| < π where logm(expm X) = X"
    ),
}
"""The condition kinds a symbol can carry, and what they mean for the values drawn."""

_SYMMETRIC_KINDS = frozenset({"symmetric", "positive definite"})

# the combinations of conditions a symbol may carry (besides "square"), and the
# recipe that draws its values
_RECIPES: dict[frozenset[str], str] = {
    frozenset(): "normal",
    frozenset({"invertible"}): "invertible",
    frozenset({"symmetric"}): "symmetric",
    frozenset({"symmetric", "invertible"}): "symmetric invertible",
    frozenset({"positive definite"}): "spd",
    frozenset({"positive definite part"}): "positive definite part",
    frozenset({"full column rank"}): "full column rank",
    frozenset({"full row rank"}): "full row rank",
    frozenset({"singular"}): "singular",
    frozenset({"positive entries"}): "positive",
    frozenset({"nonzero entries"}): "nonzero",
    frozenset({"symmetric", "distinct eigenvalues"}): "symmetric distinct",
    frozenset({"positive definite", "distinct eigenvalues"}): "spd distinct",
    frozenset({"distinct singular values"}): "distinct singular",
    frozenset({"full column rank", "distinct singular values"}): "distinct singular",
    frozenset({"full row rank", "distinct singular values"}): "distinct singular",
    frozenset({"invertible", "distinct singular values"}): "distinct singular",
    frozenset({"small norm"}): "small norm",
}


@dataclass(frozen=True)
class SymbolSpec:
    """A symbol of an identity: its name and its shape as dimension names, e.g.
    ``SymbolSpec("X", ("n", "m"))`` for an ``n × m`` matrix; ``()`` for a scalar."""

    name: str
    dims: tuple[str, ...]

    def shape(self, sizes: Mapping[str, int]) -> Shape:
        """The concrete shape at ``sizes`` (a map from dimension name to size)."""
        return tuple(sizes[d] for d in self.dims)

    def describe(self) -> str:
        """``"X: n×m"``, ``"s: scalar"``."""
        return f"{self.name}: " + ("×".join(self.dims) if self.dims else "scalar")


@dataclass(frozen=True)
class Condition:
    """A condition on one symbol, one of the kinds in :data:`CONDITIONS`."""

    symbol: str
    kind: str

    def describe(self) -> str:
        return f"{self.symbol} {self.kind}"


class Symbols(Mapping[str, Symbol]):
    """The symbols of one instance, by name: ``s.X`` or ``s["X"]``; ``s.size("n")``
    is the size of a dimension and ``s.eye("n")`` the identity matrix of that size
    (a symbolic delta).  Builders receive one of these."""

    def __init__(self, symbols: Mapping[str, Symbol], sizes: Mapping[str, int]) -> None:
        self._symbols = dict(symbols)
        self._sizes = dict(sizes)

    def __getitem__(self, name: str) -> Symbol:
        return self._symbols[name]

    def __getattr__(self, name: str) -> Symbol:
        try:
            return self._symbols[name]
        except KeyError:
            raise AttributeError(f"this identity has no symbol {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def size(self, dim: str) -> int:
        """The size of dimension ``dim``."""
        return self._sizes[dim]

    @property
    def sizes(self) -> dict[str, int]:
        """The size of every dimension."""
        return dict(self._sizes)

    def eye(self, dim: str) -> Expr:
        """The identity matrix of size ``dim`` (a symbolic Kronecker delta)."""
        return delta(self._sizes[dim])

    def ones(self, *dims: str) -> Expr:
        """The all-ones tensor of the given dimensions."""
        return ones(tuple(self._sizes[d] for d in dims))


Builder = Callable[[Symbols], Expr]
"""Builds a matgrad expression from an instance's symbols."""

Sizes = tuple[tuple[str, int], ...]
"""Sizes as ``(dimension, size)`` pairs in the identity's dimension order (hashable)."""


@dataclass(frozen=True, eq=False)
class Identity:
    """One entry of the catalogue: a derivative identity with its provenance.

    ``function`` and ``closed_form`` build expressions from a :class:`Symbols`
    namespace; the closed form has shape ``f.shape + order * wrt.shape``, matgrad's
    numerator layout (for a scalar ``f`` the gradient has the variable's shape, as
    in the Matrix Cookbook; for a matrix-valued ``F`` of a matrix ``X`` the
    Jacobian is ``J[i, j, k, l] = ∂F[i, j]/∂X[k, l]``).  ``sizes`` are the sizes the
    tests instantiate it at (non-square where the identity allows).
    """

    name: str
    title: str
    latex: str
    source: str
    topic: str
    symbols: tuple[SymbolSpec, ...]
    conditions: tuple[Condition, ...]
    function: Builder = field(repr=False)
    wrt: str
    closed_form: Builder = field(repr=False)
    order: int = 1
    notes: str = ""
    sizes: tuple[Sizes, ...] = ()
    core_gap: str = ""
    """Non-empty when matgrad's core cannot yet verify this (correct) identity: the
    reason, with the symptom.  Verification then expects a failure (XFAIL)."""

    # ----------------------------------------------------------------- queries

    @property
    def dims(self) -> tuple[str, ...]:
        """The free dimensions, in order of first appearance."""
        seen: list[str] = []
        for spec in self.symbols:
            for d in spec.dims:
                if d not in seen:
                    seen.append(d)
        return tuple(seen)

    def spec(self, name: str) -> SymbolSpec:
        """The :class:`SymbolSpec` of the symbol ``name``."""
        for spec in self.symbols:
            if spec.name == name:
                return spec
        raise KeyError(f"identity {self.name!r} has no symbol {name!r}")

    def conditions_on(self, name: str) -> frozenset[str]:
        """The condition kinds of the symbol ``name``."""
        return frozenset(c.kind for c in self.conditions if c.symbol == name)

    def test_sizes(self) -> tuple[dict[str, int], ...]:
        """The sizes the identity is verified at, as dicts."""
        return tuple(dict(s) for s in self.sizes)

    # ---------------------------------------------------------- instantiation

    def symbols_at(self, sizes: Mapping[str, int]) -> Symbols:
        """The identity's symbols at concrete ``sizes`` (validated)."""
        sizes = self._check_sizes(sizes)
        made: dict[str, Symbol] = {}
        for spec in self.symbols:
            shape = spec.shape(sizes)
            kinds = self.conditions_on(spec.name)
            _check_condition_shape(self.name, spec.name, kinds, shape)
            made[spec.name] = symbol(
                spec.name, shape, symmetric=bool(kinds & _SYMMETRIC_KINDS)
            )
        return Symbols(made, sizes)

    def instantiate(
        self,
        sizes: Mapping[str, int] | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> Instance:
        """The identity at concrete ``sizes`` (default: its first test sizes), with
        random values drawn by ``rng`` (a Generator or a seed) that satisfy the
        conditions.

        >>> from matgrad import identities
        >>> inst = identities.get("trace-AXB").instantiate({"k": 2, "n": 3, "m": 4}, rng=0)
        >>> inst.function.shape, inst.closed_form.shape, inst.values["X"].shape
        ((), (3, 4), (3, 4))
        """
        if sizes is None and not self.sizes:
            raise InvalidArgumentError(f"identity {self.name!r} has no default sizes; pass sizes")
        chosen = dict(self.sizes[0]) if sizes is None else dict(sizes)
        syms = self.symbols_at(chosen)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        values = {
            spec.name: draw_value(self.conditions_on(spec.name), syms[spec.name].shape, gen)
            for spec in self.symbols
        }
        function = self.function(syms)
        closed = self.closed_form(syms)
        wrt = syms[self.wrt]
        expected = function.shape + self.order * wrt.shape
        if closed.shape != expected:
            raise ShapeError(
                f"identity {self.name!r}: the closed form has shape {closed.shape}, "
                f"expected f.shape + {self.order} × wrt.shape = {expected}"
            )
        return Instance(
            identity=self,
            sizes=syms.sizes,
            symbols=syms,
            wrt=wrt,
            function=function,
            closed_form=closed,
            values=values,
        )

    def _check_sizes(self, sizes: Mapping[str, int]) -> dict[str, int]:
        dims = self.dims
        missing = [d for d in dims if d not in sizes]
        extra = sorted(set(sizes) - set(dims))
        if missing or extra:
            raise InvalidArgumentError(
                f"identity {self.name!r} has dimensions {', '.join(dims) or '(none)'}; "
                + (f"missing {', '.join(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unknown {', '.join(extra)}" if extra else "")
            )
        out: dict[str, int] = {}
        for d in dims:
            value = sizes[d]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidArgumentError(
                    f"identity {self.name!r}: size {d} must be a positive int, got {value!r}"
                )
            out[d] = int(value)
        return out


@dataclass(frozen=True, eq=False)
class Instance:
    """An identity at concrete sizes: its symbols, the function, the variable, the
    closed form, and valid random values for every symbol (by name)."""

    identity: Identity
    sizes: Mapping[str, int]
    symbols: Symbols
    wrt: Symbol
    function: Expr
    closed_form: Expr
    values: Mapping[str, np.ndarray]

    @property
    def order(self) -> int:
        return self.identity.order

    def symbol_list(self) -> list[Symbol]:
        """Every symbol of the instance, in the identity's order."""
        return [self.symbols[spec.name] for spec in self.identity.symbols]


# --------------------------------------------------------------------------- values


def _check_condition_shape(
    identity: str, name: str, kinds: frozenset[str], shape: Shape
) -> None:
    square_kinds = {"square", "invertible", "symmetric", "positive definite",
                    "positive definite part", "singular", "distinct eigenvalues"}
    if kinds & square_kinds and (len(shape) != 2 or shape[0] != shape[1]):
        raise ShapeError(
            f"identity {identity!r}: {name} must be a square matrix "
            f"({', '.join(sorted(kinds & square_kinds))}), got shape {shape}"
        )
    if "full column rank" in kinds and (len(shape) != 2 or shape[0] < shape[1]):
        raise ShapeError(
            f"identity {identity!r}: {name} must have full column rank, which needs at "
            f"least as many rows as columns; got shape {shape}"
        )
    if "full row rank" in kinds and (len(shape) != 2 or shape[0] > shape[1]):
        raise ShapeError(
            f"identity {identity!r}: {name} must have full row rank, which needs at "
            f"least as many columns as rows; got shape {shape}"
        )
    if _recipe(kinds) is None:
        raise InvalidArgumentError(
            f"identity {identity!r}: no way to draw {name} with conditions {sorted(kinds)}"
        )


def _recipe(kinds: frozenset[str]) -> str | None:
    return _RECIPES.get(kinds - {"square"})


def draw_value(kinds: frozenset[str], shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """A random value of ``shape`` satisfying the condition ``kinds`` (see
    :data:`CONDITIONS`); unconstrained values are standard normal.

    >>> import numpy as np
    >>> S = draw_value(frozenset({"positive definite"}), (3, 3), np.random.default_rng(0))
    >>> bool(np.allclose(S, S.T) and np.linalg.eigvalsh(S).min() >= 0.5 - 1e-12)
    True
    """
    recipe = _recipe(kinds)
    if recipe is None:
        raise InvalidArgumentError(f"no way to draw a value with conditions {sorted(kinds)}")
    if recipe == "normal":
        return np.asarray(rng.standard_normal(shape), dtype=np.float64)
    if recipe == "small norm":
        raw = rng.standard_normal(shape)
        top = float(np.linalg.norm(raw, 2)) if raw.ndim == 2 else float(np.abs(raw).max())
        return np.asarray(raw * rng.uniform(0.5, 1.0) / top, dtype=np.float64)
    if recipe == "distinct singular":
        values = _spread(min(shape), 0.5, 2.0, rng)[::-1]
        return _random.with_singular_values((shape[0], shape[1]), values, rng)
    if recipe == "positive":
        return np.asarray(rng.uniform(0.5, 2.0, shape), dtype=np.float64)
    if recipe == "nonzero":
        sign = rng.choice(np.array([-1.0, 1.0]), size=shape)
        return np.asarray(sign * rng.uniform(0.5, 2.0, shape), dtype=np.float64)
    n = shape[0]
    if recipe == "symmetric":
        return _random.symmetric(n, rng)
    if recipe == "spd":
        return _random.spd(n, rng)
    if recipe == "symmetric distinct":
        return _random.with_eigenvalues(_spread(n, -2.0, 2.0, rng), rng)
    if recipe == "spd distinct":
        return _random.with_eigenvalues(_spread(n, 0.5, 2.0, rng), rng)
    if recipe == "symmetric invertible":
        lam = rng.uniform(0.5, 2.0, n) * rng.choice(np.array([-1.0, 1.0]), size=n)
        return _random.with_eigenvalues(lam, rng)
    if recipe == "invertible":
        return _random.invertible(n, rng)
    if recipe == "positive definite part":
        k = rng.standard_normal(shape)
        return np.asarray(_random.spd(n, rng) + 0.5 * (k - k.T) / 2)
    if recipe in ("full column rank", "full row rank"):
        return _random.with_singular_values((n, shape[1]), rng.uniform(0.5, 2.0, min(shape)), rng)
    if recipe == "singular":
        sv = rng.uniform(0.5, 2.0, n)
        sv[-1] = 0.0
        return _random.with_singular_values((n, shape[1]), sv, rng)
    raise AssertionError(f"unhandled recipe {recipe!r}")  # pragma: no cover


def _spread(k: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """``k`` ascending values spread evenly over ``[low, high]``, each moved by a
    random jitter of at most a quarter of the spacing (so adjacent values are at
    least half the spacing apart); one value is uniform in the interval."""
    if k == 1:
        return np.array([rng.uniform(low, high)])
    spacing = (high - low) / (k - 1)
    jitter = rng.uniform(-spacing / 4, spacing / 4, k)
    return np.clip(np.linspace(low, high, k) + jitter, low, high)


# --------------------------------------------------------------------------- authoring

_DIMS = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_symbols(spec: Mapping[str, str]) -> tuple[SymbolSpec, ...]:
    """``{"X": "n m", "a": "n", "s": ""}`` → symbol specs (dimension names split on
    spaces; an empty string is a scalar)."""
    out = []
    for name, dims in spec.items():
        parts = tuple(dims.split())
        for d in parts:
            if not _DIMS.match(d):
                raise InvalidArgumentError(f"symbol {name!r}: bad dimension name {d!r}")
        out.append(SymbolSpec(name, parts))
    return tuple(out)


def parse_conditions(spec: Mapping[str, str | Sequence[str]]) -> tuple[Condition, ...]:
    """``{"X": "invertible", "W": ("symmetric", "invertible")}`` → conditions."""
    out = []
    for name, kinds in spec.items():
        for kind in (kinds,) if isinstance(kinds, str) else tuple(kinds):
            if kind not in CONDITIONS:
                raise InvalidArgumentError(
                    f"unknown condition {kind!r} on {name!r}; known: {', '.join(CONDITIONS)}"
                )
            out.append(Condition(name, kind))
    return tuple(out)


def default_sizes(dims: Sequence[str]) -> tuple[Sizes, ...]:
    """Two size sets that make every pair of distinct dimensions differ where
    possible: ``(2, 3, 4, ...)`` and ``(3, 2, 3, ...)``."""
    first = tuple((d, (2, 3, 4)[i % 3]) for i, d in enumerate(dims))
    second = tuple((d, (3, 2, 3)[i % 3]) for i, d in enumerate(dims))
    return tuple(dict.fromkeys([first, second]))


def pencil(s: Symbols) -> Expr:
    """The matrix pencil ``Y(t) = A + tB`` of the entries that differentiate along
    a line of matrices (symbols ``A``, ``B`` and the scalar ``t``)."""
    return s.A + s.t * s.B


def entry(
    *,
    name: str,
    title: str,
    latex: str,
    source: str,
    topic: str,
    symbols: Mapping[str, str],
    wrt: str,
    function: Builder,
    closed_form: Builder,
    conditions: Mapping[str, str | Sequence[str]] | None = None,
    order: int = 1,
    notes: str = "",
    sizes: Sequence[Mapping[str, int]] | None = None,
    core_gap: str = "",
) -> Identity:
    """Build an :class:`Identity` from the compact form the catalogue is written in.

    Square matrices (equal dimension names) get the ``square`` condition
    automatically unless another condition already implies it.
    """
    specs = parse_symbols(symbols)
    conds = list(parse_conditions(conditions or {}))
    implied = {"invertible", "symmetric", "positive definite", "positive definite part",
               "singular", "distinct eigenvalues"}
    for spec in specs:
        kinds = {c.kind for c in conds if c.symbol == spec.name}
        if len(spec.dims) == 2 and spec.dims[0] == spec.dims[1] and not kinds & implied:
            conds.append(Condition(spec.name, "square"))
    names = [s.name for s in specs]
    if wrt not in names:
        raise InvalidArgumentError(f"identity {name!r}: wrt {wrt!r} is not one of {names}")
    for c in conds:
        if c.symbol not in names:
            raise InvalidArgumentError(f"identity {name!r}: condition on unknown symbol {c}")
    dims: list[str] = []
    for spec in specs:
        dims.extend(d for d in spec.dims if d not in dims)
    if sizes is None:
        size_sets = default_sizes(dims)
    else:
        size_sets = tuple(tuple((d, int(s[d])) for d in dims) for s in sizes)
    order_conds = sorted(conds, key=lambda c: (names.index(c.symbol), c.kind))
    return Identity(
        name=name,
        title=title,
        latex=latex,
        source=source,
        topic=topic,
        symbols=specs,
        conditions=tuple(order_conds),
        function=function,
        wrt=wrt,
        closed_form=closed_form,
        order=order,
        notes=" ".join(notes.split()),
        sizes=size_sets,
        core_gap=" ".join(core_gap.split()),
    )


def describe_sizes(sizes: Mapping[str, int] | Sizes) -> str:
    """``"n=2, m=3"``."""
    items = sizes.items() if isinstance(sizes, Mapping) else sizes
    return ", ".join(f"{d}={s}" for d, s in items) or "(no dimensions)"
