"""Operations and the node that applies one (layer 2).

Every node kind outside the algebraic core (leaves, ``Einsum``, ``Add``) is an
:class:`Apply` node: an :class:`Operation` applied to operand expressions, with
non-expression attributes (the exponent of ``power``, the shape of ``reshape``).
An :class:`Operation` is the whole declaration of one operation — shape rule,
NumPy implementation, differential, printed forms, entry points, test domains —
and everything downstream (derivatives, simplification, the compiler, the four
printers, the formula language, the spec table, the fuzzer) reads it from here
instead of naming the operation.  Declarations live in :mod:`matgrad.ops`, one
module per family; :mod:`matgrad.ops.registry` keeps the table of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matgrad._types import Array, Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.expr import as_expr
from matgrad.ir.node import Expr, _intern, _result_dtype

__all__ = [
    "Apply",
    "Fuzz",
    "Language",
    "Linear",
    "Notation",
    "Operation",
    "Param",
    "Sample",
    "Signature",
]

Attrs = Mapping[str, Any]
Kernel = Callable[..., Any]


# =====================================================================================
# The parts of a declaration
# =====================================================================================


@dataclass(frozen=True)
class Notation:
    """How an operation prints.  Templates are :meth:`str.format` strings over the
    rendered operands ``{0}``, ``{1}``, ... and the attributes by name (``{p}``).

    Format specs on operands: ``{0:atom}`` parenthesizes unless the operand binds
    tightest; in LaTeX ``{0:arg}`` is a function argument (``\\left(…\\right)``
    unless atomic) and ``{0:base}`` the base of a superscript.  On attributes:
    ``{p}`` is the number as the notation writes numbers, ``{p:py}`` a Python
    literal, ``{p:circ}`` an elementwise exponent in LaTeX (``\\circ p`` unless
    scalar), ``{s:times}`` a shape as ``m \\times n``.  ``{args:SEP}`` is every
    operand (of a variadic operation), joined by ``SEP``.
    """

    text: str | None = None
    """Matrix notation (NumPy-like); default ``name(args)``."""
    latex: str | Callable[[Attrs, int], str | None] | None = None
    """LaTeX; default ``\\operatorname{name}`` applied to the arguments.  A
    callable chooses the template from the attributes and the result's number of
    axes (``None``: the default)."""
    latex_transposed: str | None = None
    """LaTeX of the transpose, where it has a form of its own (``X^{-\\top}``)."""
    index: str | None = None
    """Index notation of an elementwise operation (the operand is indexed inside);
    default: the text template."""
    numpy: str | None = None
    """NumPy source computing the value; default ``name(args)`` from ``numpy_lines``."""
    numpy_complex: str | None = None
    """NumPy source for complex dtypes, where it differs."""
    numpy_lines: Callable[[str, Sequence[str], Callable[[str], str], Expr], list[str]] | None = (
        None
    )
    """Statements computing the value into a variable (``var, args, fresh, node``),
    for operations that need more than one expression."""
    power: bool = False
    """Prints as an exponent (binds like ``**``, ends in a superscript in LaTeX)."""
    superscript: bool = False
    """The LaTeX form ends in a superscript (``X^{-1}``)."""
    reciprocal: Callable[[Attrs], bool] | None = None
    """Whether a node with these attributes is ``1 / operand`` (printed as a fraction)."""
    reads_as_kron: bool = False
    """A row-major reshape of the outer product ``A[i,k] B[j,l]`` to ``(m p, n q)``
    reads as ``A ⊗ B``."""


@dataclass(frozen=True)
class Param:
    """One parameter of a formula-language signature: an array with a dims
    pattern (``None``: any shape), or a constant ``number`` or ``shape``."""

    kind: str
    dims: tuple[str, ...] | None = None
    name: str = ""


@dataclass(frozen=True)
class Signature:
    """A formula-language signature such as ``"x -> x"`` (elementwise),
    ``"(n,n) -> ()"``, ``"x, p:number -> x"`` or ``"x, s:shape -> s"``."""

    params: tuple[Param, ...]
    result: Param
    """``kind == "same"``: the first operand's type; ``"shape"``: the shape
    attribute ``name``; ``"array"``: the dims pattern ``dims``."""

    @staticmethod
    def parse(text: str) -> Signature:
        lhs, arrow, rhs = text.partition("->")
        if not arrow:
            raise InvalidArgumentError(f"signature {text!r} has no '->'")
        params = tuple(_param(p) for p in _split(lhs))
        names = {p.name for p in params if p.name}
        rhs = rhs.strip()
        if rhs == "x":
            result = Param("same")
        elif rhs in names:
            result = Param("shape", name=rhs)
        else:
            result = _param(rhs)
        return Signature(params, result)

    @property
    def arrays(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind == "array")


def _split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r",(?![^()]*\))", text) if p.strip()]


def _param(text: str) -> Param:
    if text == "x":
        return Param("array")
    if text.startswith("(") and text.endswith(")"):
        dims = tuple(d.strip() for d in text[1:-1].split(",") if d.strip())
        return Param("array", dims)
    name, colon, kind = text.partition(":")
    if colon and kind.strip() in ("number", "shape"):
        return Param(kind.strip(), name=name.strip())
    raise InvalidArgumentError(f"cannot read signature parameter {text!r}")


@dataclass(frozen=True)
class Language:
    """The formula-language names that build an operation."""

    names: tuple[str, ...]
    description: str
    signature: str
    """See :class:`Signature`."""


@dataclass(frozen=True)
class Sample:
    """A test case for the spec table: ``build(*symbols)`` with symbols of
    ``shapes(n, m)`` whose values come from ``domains``, checked to ``orders``."""

    name: str
    build: Callable[..., Expr] | None
    """``None``: the operation applied to the symbols."""
    shapes: Callable[[int, int], tuple[Shape, ...]]
    domains: tuple[str, ...]
    orders: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Fuzz:
    """How the random-expression fuzzer uses an operation.

    ``domain`` is where the (first) operand's values must lie:

    - ``"general"``: any expression, tamed to ``limit``;
    - ``"positive"``: bounded away from 0 above;
    - ``"nonzero"``: entries of either sign, at least 1/2 from 0;
    - ``"invertible"``: a square matrix with singular values in a known range;
    - ``"spd"``: symmetric positive definite, eigenvalues in a known range and at
      least 1/2 apart (so eigenvectors and Cholesky factors are smooth);
    - ``"symmetric"``: symmetric, eigenvalues of either sign at least 1/2 apart;
    - ``"full_rank"``: any matrix whose singular values are at least 1/2 apart and
      bounded away from 0 (full rank: ``svd``, ``pinv``, ``qr``, least squares);
    - ``"distinct"``: entries pairwise at least 1/2 apart (no ties for ``max``);
    - ``"mask"``: a comparison that no small perturbation flips (``where``'s
      condition);
    - ``"apart"`` (not the first operand): the first operand plus a nonzero form,
      so it differs from the first operand by at least 1/2 in every entry (kinks
      of ``maximum`` and comparisons are never within a finite-difference step).

    ``limit`` bounds a general operand's magnitude (larger operands are tamed
    first).  ``bound(lo, hi, n, **attrs)`` bounds the result's magnitude from the
    operand's lower and upper bounds (the singular values' or eigenvalues' for the
    matrix domains), the operand's leading size and the attributes; for an
    operation of several operands ``lo`` and ``hi`` are tuples, one entry per
    operand.  ``attrs``: attribute values to draw."""

    domain: str = "general"
    limit: float = 5.0
    bound: Callable[..., float] = lambda lo, hi, n: hi
    attrs: tuple[Mapping[str, Any], ...] = ({},)
    positive: bool = False
    """The result is positive (so ``log`` and ``sqrt`` may take it); its lower
    bound is then ``low(lo, hi)``."""
    low: Callable[..., float] = lambda lo, hi: 0.0
    operands: tuple[str, ...] = ()
    """The domains of the operands after the first, for an operation of several
    operands (a variadic operation: of every further operand)."""
    count: tuple[int, ...] = ()
    """For a variadic operation: the numbers of operands it may be drawn with."""
    squared: bool = False
    """The result is defined up to the signs of its columns or rows (singular
    vectors and eigenvectors with NumPy's signs, which jump where a matrix is
    almost diagonal): the fuzzer uses its entrywise square (``bound`` bounds the
    result itself)."""
    shapes: Callable[[Shape, int, Attrs], Sequence[tuple[Shape, ...]]] | None = None
    """The operand shapes (for ``k`` operands, given the attributes) that give a
    result shape, where the generator cannot enumerate them (a variadic
    operation); default: every operand the result's shape for an elementwise
    operation, else each operand any shape the generator draws, kept when the
    shape rule gives the result's shape."""


@dataclass(frozen=True)
class Linear:
    """The two maps of a linear operation with extra axes (how derivatives flow
    through it): ``push(node, tangents, extra)`` applies the operation to operands
    that carry trailing axes ``extra``; ``pull(node, k, cotangent, extra)`` is the
    transpose for operand ``k``, the cotangent carrying leading axes ``extra``."""

    push: Callable[[Expr, Sequence[Expr], Shape], Expr]
    pull: Callable[[Expr, int, Expr, Shape], Expr]


def _floating(dtypes: Sequence[np.dtype[Any]], attrs: Attrs) -> np.dtype[Any]:
    return _result_dtype(*dtypes, floating=True)


def _size(shapes: Sequence[Shape]) -> int:
    return int(np.prod(shapes[0], dtype=np.int64)) if shapes else 1


# =====================================================================================
# The declaration
# =====================================================================================


@dataclass(frozen=True, eq=False)
class Operation:
    """Everything about one operation, in one place (see the module docstring).

    Call it to build a node: ``op(*operands, **attrs)``."""

    name: str
    """The node kind, and the name of ``mg.<name>``."""
    family: str
    """The module of :mod:`matgrad.ops` that declares it: ``elementwise``, ``linalg``, ..."""
    doc: str
    """One line: what it computes."""
    shape: Callable[[tuple[Shape, ...], Attrs], Shape]
    """The result's shape from the operands' shapes; raises ``ShapeError``."""
    numpy: Kernel
    """The NumPy implementation: ``numpy(*arrays, **attrs)``."""
    differential: Callable[[Expr, tuple[Expr, ...]], Expr]
    """``d node`` as an expression linear in ``d`` (the operands' differentials,
    ``Zero`` where an operand does not vary).  Its docstring gives the formula."""
    arity: int | None = 1
    """The number of operands; ``None``: any number, at least one (then the
    attributes are keyword arguments only)."""
    attrs: tuple[str, ...] = ()
    """Names of the non-expression parameters, in positional order."""
    dtype: Callable[[Sequence[np.dtype[Any]], Attrs], np.dtype[Any]] = _floating
    domain: Callable[[Attrs], tuple[str, ...]] | None = None
    """Where each operand must lie for the operation to be defined and smooth
    (``"general"``, ``"nonzero"``, ``"positive"``, ``"invertible"``, ``"spd"``),
    given the attributes; ``None``: everywhere.  Random valid inputs
    (:func:`matgrad.language.claims.random_values`) follow it."""
    check: Callable[[Attrs], dict[str, Any]] | None = None
    """Validates and normalizes the attributes (raises ``InvalidArgumentError``)."""
    canonical: Callable[..., Expr | None] | None = None
    """Construction-time rewrite ``canonical(*operands, **attrs)``: an equal, simpler
    expression (``x ** 1`` is ``x``), or ``None``."""
    simplify: Callable[[Expr], Expr | None] | None = None
    """A rewrite of :func:`matgrad.simplify` (``inv(inv(X)) = X``), or ``None``."""
    elementwise: bool = False
    """Applied entry by entry: the result has the operand's shape and commutes
    with indexing (the index printer writes ``exp(X[i,j])``)."""
    preserves_symmetry: bool = False
    """Symmetric operands give a symmetric result."""
    linear: Linear | None = None
    """For operations linear in their operands: how derivatives flow through them."""
    kernel: Callable[[Attrs], Kernel] | None = None
    """A NumPy kernel specialized to the attributes (default: ``numpy`` with them)."""
    reference: Kernel | None = None
    """The plainest implementation, for tests (default: ``numpy``)."""
    array_api: Callable[[Any, Attrs], Kernel | None] | None = None
    """A kernel for any array engine, ``array_api(ns, attrs)``: ``ns`` is the
    engine's namespace (array API functions, ``ns.linalg``, ``ns.einsum``,
    ``ns.special``; :mod:`matgrad.compiler.backends`).  Default: for an entrywise
    NumPy ufunc, its namesake in ``ns``; else none (Dask then runs the NumPy
    kernel on its chunks, the other engines refuse the operation)."""
    stacks: bool = False
    """The ``array_api`` kernel accepts operands with a leading batch axis (as
    ``numpy.linalg`` routines do); else a batch runs it once per entry."""
    batched_attrs: Callable[[Attrs], Attrs | None] | None = None
    """The attributes of the same operation on operands with one more, leading
    axis (axes shifted by one): its kernels with them evaluate a batch at once
    (``None``: not for these attributes; the batch is then a loop)."""
    flops: Callable[[Sequence[Shape]], int] = _size
    view: bool = False
    """The NumPy implementation may return a view of its operand (no new array)."""
    solve_in_products: bool = False
    """The planner may turn the operation, used once as an einsum factor and
    contracted on one index, into a linear solve (the inverse)."""
    notation: Notation = field(default_factory=Notation)
    numpy_functions: tuple[tuple[Callable[..., Any], Callable[..., Any] | None], ...] = ()
    """NumPy/SciPy functions (ufuncs too) that build the operation on expressions,
    each with its handler (``None``: the operation itself)."""
    language: Language | None = None
    samples: tuple[Sample, ...] = ()
    """Test cases for the spec table (at least one)."""
    fuzz: tuple[Fuzz, ...] = ()
    """How the fuzzer may draw the operation (empty: it does not)."""

    def __call__(self, *args: Any, **attrs: Any) -> Expr:
        operands: tuple[Any, ...]
        positional: tuple[Any, ...]
        if self.arity is None:
            operands, positional = args, ()
            if not operands:
                raise InvalidArgumentError(f"{self.name} needs at least one operand")
        else:
            operands, positional = args[: self.arity], args[self.arity :]
            if len(operands) != self.arity:
                raise InvalidArgumentError(
                    f"{self.name} takes {self.arity} operand(s), got {len(operands)}"
                )
        if len(positional) > len(self.attrs):
            raise InvalidArgumentError(
                f"{self.name} takes {len(operands) + len(self.attrs)} arguments, "
                f"got {len(args)}"
            )
        for name, value in zip(self.attrs, positional):
            if name in attrs:
                raise InvalidArgumentError(f"{self.name}: {name} given twice")
            attrs[name] = value
        unknown = set(attrs) - set(self.attrs)
        if unknown:
            raise InvalidArgumentError(f"{self.name}: unknown arguments {sorted(unknown)}")
        missing = [a for a in self.attrs if a not in attrs]
        if missing:
            raise InvalidArgumentError(f"{self.name} needs {', '.join(missing)}")
        if self.check is not None:
            attrs = self.check(attrs)
        exprs = tuple(as_expr(a) for a in operands)
        if self.canonical is not None:
            simpler = self.canonical(*exprs, **attrs)
            if simpler is not None:
                return simpler
        shape = self.shape(tuple(e.shape for e in exprs), attrs)
        dtype = self.dtype(tuple(e.dtype for e in exprs), attrs)
        values = tuple(attrs[a] for a in self.attrs)
        node: Apply = _intern(
            Apply,
            (self.name, tuple(e.uid for e in exprs), values),
            {"op": self, "args": exprs, "values": values, "shape": shape, "dtype": dtype},
        )
        return node

    def domains(self, attrs: Attrs, count: int | None = None) -> tuple[str, ...]:
        """The domain of each operand (see ``domain``); ``count``: the number of
        operands of a variadic operation (default 1)."""
        if self.domain is None:
            return ("general",) * (self.arity if self.arity is not None else count or 1)
        return self.domain(attrs)

    def make_kernel(self, attrs: Attrs) -> Kernel:
        """The NumPy kernel for a node with these attributes."""
        if self.kernel is not None:
            return self.kernel(attrs)
        if not attrs:
            return self.numpy
        fn = self.numpy

        def kernel(*arrays: Any) -> Any:
            return fn(*arrays, **attrs)

        return kernel

    def portable_kernel(self, ns: Any, attrs: Attrs) -> Kernel | None:
        """The kernel on engine ``ns`` (see ``array_api``), or ``None``."""
        if self.array_api is not None:
            return self.array_api(ns, attrs)
        ufuncs = [self.numpy] + [f for f, handler in self.numpy_functions if handler is None]
        ufunc = next((f for f in ufuncs if isinstance(f, np.ufunc)), None)
        if self.elementwise and ufunc is not None and not attrs:
            name = ufunc.__name__
            # NumPy's name, else the array API's (``arcsin`` is ``asin`` there)
            standard = "a" + name[3:] if name.startswith("arc") else name
            return getattr(ns, name, None) or getattr(ns, standard, None)
        return None

    def __repr__(self) -> str:
        return f"<operation {self.name} ({self.family})>"



# =====================================================================================
# The node
# =====================================================================================


class Apply(Expr):
    """An :class:`Operation` applied to operands, with attribute values."""

    __slots__ = ("args", "op", "values")
    op: Operation
    args: tuple[Expr, ...]
    values: tuple[Any, ...]

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.op.name

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args

    @property
    def x(self) -> Expr:
        """The first operand."""
        return self.args[0]

    @property
    def attrs(self) -> dict[str, Any]:
        """The attributes by name."""
        return dict(zip(self.op.attrs, self.values))

    def params(self) -> tuple[Any, ...]:
        return self.values

    def symmetric_operands(self) -> tuple[Expr, ...] | None:
        return self.args if self.op.preserves_symmetry else None

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return self.op(*children, **self.attrs)


def same_shape(shapes: tuple[Shape, ...], attrs: Attrs) -> Shape:
    """The shape rule of elementwise operations: operands of one shape."""
    for s in shapes[1:]:
        if s != shapes[0]:
            raise ShapeError(f"operands of shapes {shapes[0]} and {s} differ")
    return shapes[0]


def square(
    name: str, result: Callable[[int], Shape]
) -> Callable[[tuple[Shape, ...], Attrs], Shape]:
    """The shape rule of a function of one square matrix."""

    def rule(shapes: tuple[Shape, ...], attrs: Attrs) -> Shape:
        (s,) = shapes
        if len(s) != 2 or s[0] != s[1]:
            raise ShapeError(f"{name} needs a square matrix, got shape {s}")
        return result(s[0])

    return rule


def evaluate_numpy(op: Operation, arrays: Sequence[Array], attrs: Attrs) -> Array:
    """``op``'s NumPy value (used by constant folding)."""
    return np.asarray(op.make_kernel(attrs)(*arrays))
