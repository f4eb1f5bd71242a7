"""The base of the intermediate representation (layer 2): the ``Expr`` class that
every node kind of :mod:`matgrad.ir.expr` derives from, hash-consing, and the
registries through which higher layers serve ``Expr``'s methods and operators
(so that imports go one way).
"""

from __future__ import annotations

import difflib
import itertools
import numbers
import sys
import weakref
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from matgrad._types import Array, Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError, elide
from matgrad.ir import notebook

__all__ = ["FUNCTION_HANDLERS", "HOOKS", "UFUNC_HANDLERS", "Expr"]

_uids = itertools.count()
_INTERN: weakref.WeakValueDictionary[tuple[Any, ...], Expr] = weakref.WeakValueDictionary()

UFUNC_HANDLERS: dict[np.ufunc, Callable[..., Expr]] = {}
"""NumPy ufuncs supported on expressions (filled by ``matgrad.ops``)."""
FUNCTION_HANDLERS: dict[Callable[..., Any], Callable[..., Any]] = {}
"""NumPy functions supported on expressions (filled by ``matgrad.ops``)."""
HOOKS: dict[str, Callable[..., Any]] = {}
"""Services of higher layers that ``Expr`` methods call: ``evaluate`` (filled by
``matgrad.compiler``), ``text``, ``latex``, ``einsum``, ``numpy`` (by
``matgrad.printing``).  Keeps imports going one way."""


def _hook(name: str) -> Callable[..., Any]:
    try:
        return HOOKS[name]
    except KeyError:
        raise UnsupportedOperationError(
            f"{name!r} is provided by a matgrad module that is not loaded; import matgrad"
        ) from None


def _served(result: Any, operands: Sequence[Any]) -> Any:
    """A NumPy entry point's result; when it is a constant although expressions went
    in (``np.zeros_like(x)``, ``np.floor(x)``'s derivative, ``x.imag``), the
    expressions' symbols are recorded as its provenance (``HOOKS["provenance"]``),
    so that evaluating it at a point that names them is accepted."""
    if isinstance(result, Expr) and not result.children and not result.symbols():
        record = HOOKS.get("provenance")
        sources = [
            e
            for a in operands
            for e in (a if isinstance(a, (list, tuple)) else (a,))
            if isinstance(e, Expr)
        ]
        if record is not None and sources:
            record(result, sources)
    return result


def _ufunc(ufunc: np.ufunc, *args: Any) -> Expr:
    handler = UFUNC_HANDLERS.get(ufunc)
    if handler is None:
        raise UnsupportedOperationError(_unsupported(ufunc))
    return _served(handler(*args), args)  # type: ignore[no-any-return]


def _function(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Expr:
    handler = FUNCTION_HANDLERS.get(func)
    if handler is None:
        raise UnsupportedOperationError(_unsupported(func))
    return _served(handler(*args, **kwargs), args)  # type: ignore[no-any-return]


def _compared_value(other: object) -> bool:
    """Whether ``expr == other`` builds a mask (``other`` a number or an array);
    between two expressions ``==`` stays identity (see ``Expr.__eq__``)."""
    return isinstance(other, (numbers.Number, np.ndarray, np.generic))


def _numpy_name(func: Any, method: str = "__call__") -> str:
    """The public dotted name of a NumPy/SciPy function or ufunc (``numpy.linalg.eig``,
    ``numpy.add.reduce``): its module up to the first private part."""
    parts = []
    for part in (getattr(func, "__module__", None) or "numpy").split("."):
        if part.startswith("_"):
            break
        parts.append(part)
    name = ".".join([*parts, getattr(func, "__name__", "?")])
    return name if method == "__call__" else f"{name}.{method}"


_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "numpy.nanmax": ("numpy.max",),
    "numpy.nanmin": ("numpy.min",),
    "numpy.nansum": ("numpy.sum",),
    "numpy.nanmean": ("numpy.mean",),
    "numpy.nanprod": ("numpy.prod",),
    "numpy.nanstd": ("numpy.std",),
    "numpy.nanvar": ("numpy.var",),
    "numpy.nancumsum": ("numpy.cumsum",),
    "numpy.float_power": ("numpy.power",),
    "numpy.nan_to_num": ("numpy.where",),
    "numpy.matrix_transpose": ("numpy.transpose",),
    "numpy.permute_dims": ("numpy.transpose",),
    "numpy.matvec": ("numpy.matmul",),
    "numpy.vecmat": ("numpy.matmul",),
    "numpy.linalg.matmul": ("numpy.matmul",),
    "numpy.linalg.tensorinv": ("numpy.linalg.inv",),
    "numpy.linalg.tensorsolve": ("numpy.linalg.solve",),
    "numpy.add.reduce": ("numpy.sum",),
    "numpy.add.accumulate": ("numpy.cumsum",),
    "numpy.add.outer": ("numpy.einsum",),
    "numpy.multiply.reduce": ("numpy.prod",),
    "numpy.multiply.outer": ("numpy.outer", "numpy.einsum"),
    "numpy.maximum.reduce": ("numpy.max",),
    "numpy.minimum.reduce": ("numpy.min",),
}
"""Known alternatives of NumPy names matgrad does not serve (suggested when served)."""


def _converting_function() -> Any:
    """The installed library function (outside NumPy and matgrad) whose call is
    converting an expression with ``np.asarray``: the outermost frame of the
    installed package that called ``__array__`` (a decorator's wrapper gives the
    function it wraps), or None when the caller is the user's own code."""
    frame: Any = sys._getframe(2)
    found: Any = None
    package = None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        top = module.split(".", 1)[0]
        if top in ("numpy", "matgrad") and package is None:
            frame = frame.f_back
            continue
        if package is None:
            filename = frame.f_code.co_filename
            if "site-packages" not in filename and "dist-packages" not in filename:
                return None
            package = top
        if top != package:
            break
        found = frame.f_globals.get(frame.f_code.co_name)
        if not callable(found) or getattr(found, "__code__", None) is not frame.f_code:
            wrapped = [v for v in frame.f_locals.values() if callable(v) and hasattr(v, "__name__")
                       and str(getattr(v, "__module__", "")).split(".", 1)[0] == package]
            found = wrapped[0] if wrapped else found
        frame = frame.f_back
    if not callable(found):
        return None
    return found


_SPELLING_CAVEATS: dict[str, str] = {
    "scipy.linalg.cholesky": "; mind the triangle: SciPy's default (lower=False) is the upper "
    "factor, mg.cholesky the lower one: write np.linalg.cholesky(a, upper=True)",
    "scipy.linalg.qr": "; mind the mode: SciPy's default is the complete Q, "
    "np.linalg.qr(a, mode='complete')",
    "scipy.linalg.eig": "; mg.eig takes real spectra only and sorts them ascending "
    "(docs/linalg.md)",
}
"""Where matgrad's spelling of a converting SciPy function differs in its defaults."""


def _conversion_message(func: Any) -> str:
    """Why an expression cannot become an array, naming the converting function and
    matgrad's own spelling of it when there is one."""
    advice = "call .evaluate(...) with values for its symbols"
    if func is None:
        return (
            "a matgrad expression cannot be converted to a NumPy array (np.asarray, np.array, "
            "np.float64(...)); in a traced function, drop the conversion: the traced argument "
            f"already behaves like an array; outside one, {advice}"
        )
    name = _numpy_name(func)
    short = getattr(func, "__name__", "")
    matgrad = sys.modules.get("matgrad")
    counterpart = (
        f"; use mg.{short}(...) instead, which builds the operation and differentiates it"
        if matgrad is not None and callable(getattr(matgrad, short, None))
        else "; matgrad has no counterpart of it (docs/numpy.md lists the names it serves) — "
        + advice
    ) + _SPELLING_CAVEATS.get(name, "")
    return (
        f"{name} converts its arguments to NumPy arrays (np.asarray), so it cannot take a "
        f"matgrad expression{counterpart}"
    )


def _unsupported(func: Any, method: str = "__call__") -> str:
    """The message for a NumPy function or ufunc (method) that matgrad does not
    serve on expressions: its name and the closest supported alternatives (from a
    table of known ones, then the served names most alike)."""
    name = _numpy_name(func, method)
    served = {_numpy_name(f) for f in [*UFUNC_HANDLERS, *FUNCTION_HANDLERS]}
    by_last: dict[str, list[str]] = {}
    for full in sorted(served):
        by_last.setdefault(full.rsplit(".", 1)[-1], []).append(full)
    known = [a for a in _ALTERNATIVES.get(name, ()) if a in served]
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], list(by_last), n=3, cutoff=0.7)
    suggestions = list(dict.fromkeys([*known, *(f for c in close for f in by_last[c])]))[:3]
    hint = (
        "; the closest supported: " + ", ".join(suggestions)
        if suggestions
        else "; no supported NumPy function is close (mg.einsum builds any multilinear map)"
    )
    return f"{name} is not supported on matgrad expressions{hint}"


_CONTROL_FLOW = (
    "value-dependent Python control flow on a traced value (if, while, and/or/not, "
    "Python's built-in max/min) cannot be traced: the value is not known while the "
    "function is traced; write the choice as an array operation: np.where(condition, a, b) "
    "(or np.maximum, np.minimum, np.clip)"
)
_NO_NUMBER = (
    "a traced value is not a number until it is evaluated, so value-dependent Python code on "
    "it cannot be traced; keep the computation in NumPy operations (np.where for a choice), "
    "or call .evaluate(...) for a number"
)


def _intern(cls: type[Expr], key: tuple[Any, ...], fields: dict[str, Any]) -> Any:
    """Return the unique node of class ``cls`` with this ``key``, creating it if new."""
    full_key = (cls.__name__, *key)
    node = _INTERN.get(full_key)
    if node is not None:
        return node
    node = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(node, name, value)
    object.__setattr__(node, "uid", next(_uids))
    object.__setattr__(node, "_hash", hash(full_key))
    object.__setattr__(node, "_memo", {})
    _INTERN[full_key] = node
    return node


def _check_shape(shape: Iterable[int], what: str) -> Shape:
    try:
        out = tuple(int(d) for d in shape)
    except TypeError as exc:
        raise ShapeError(f"{what}: shape must be a tuple of ints, got {shape!r}") from exc
    if any(d < 0 for d in out):
        raise ShapeError(f"{what}: shape {out} has a negative dimension")
    return out


def _result_dtype(*dtypes: np.dtype[Any], floating: bool = False) -> np.dtype[Any]:
    dt = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    if floating and not np.issubdtype(dt, np.inexact):
        dt = np.result_type(dt, np.float64)
    return np.dtype(dt)


class Expr:
    """Base class of every expression node.  Build nodes with the constructors
    (:class:`Symbol` helpers, :func:`einsum_node`, :func:`add`, ...), never directly."""

    __slots__ = ("__weakref__", "_hash", "_memo", "dtype", "shape", "uid")
    kind: ClassVar[str] = "expr"
    shape: Shape
    dtype: np.dtype[Any]
    uid: int
    _hash: int
    _memo: dict[str, Any]
    __array_priority__ = 1000.0

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} nodes are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} nodes are immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> Any:
        """With a number or an array: the mask ``[self == other]`` (``np.equal``).
        Between two expressions: identity, which is structural equality since
        nodes are hash-consed (the IR's dictionaries and sets rely on it); the
        mask of two expressions is ``np.equal(a, b)``."""
        if _compared_value(other):
            return _ufunc(np.equal, self, other)
        return self is other

    def __ne__(self, other: object) -> Any:
        """With a number or an array: the mask ``[self != other]`` (``np.not_equal``);
        between two expressions: ``not (a is b)`` (see :meth:`__eq__`)."""
        if _compared_value(other):
            return _ufunc(np.not_equal, self, other)
        return self is not other

    def __bool__(self) -> bool:
        raise UnsupportedOperationError(
            f"the truth value of a matgrad expression is undefined: {_CONTROL_FLOW}"
        )

    def __float__(self) -> float:
        raise UnsupportedOperationError(f"float() of a matgrad expression: {_NO_NUMBER}")

    def __int__(self) -> int:
        raise UnsupportedOperationError(f"int() of a matgrad expression: {_NO_NUMBER}")

    def __complex__(self) -> complex:
        raise UnsupportedOperationError(f"complex() of a matgrad expression: {_NO_NUMBER}")

    def __index__(self) -> int:
        raise UnsupportedOperationError(
            "a matgrad expression used as an integer (an index, a size, range()): a traced "
            "value is not a number while it is traced; indices and sizes must be constants"
        )

    def __reduce__(self) -> Any:
        raise TypeError("matgrad expressions are not picklable")

    def __copy__(self) -> Expr:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Expr:
        return self

    # ---- structure -------------------------------------------------------------
    @property
    def children(self) -> tuple[Expr, ...]:
        """The operands of this node (empty for leaves)."""
        return ()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def params(self) -> tuple[Any, ...]:
        """The node's non-operand data, for printing and rebuilding."""
        return ()

    def symmetric_operands(self) -> tuple[Expr, ...] | None:
        """Operands whose symmetry makes this (square) node symmetric, or ``None``
        when nothing is known (for :func:`matgrad.ir.expr.is_symmetric`)."""
        return None

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        """The same kind of node over new operands (the constructor re-canonicalizes)."""
        if children:
            raise InvalidArgumentError(f"{self.kind} nodes have no operands")
        return self

    def walk(self) -> list[Expr]:
        """All distinct nodes of the DAG, operands before the nodes that use them."""
        order: list[Expr] = []
        seen: set[int] = set()
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node.uid in seen:
                continue
            seen.add(node.uid)
            stack.append((node, True))
            for child in reversed(node.children):
                if child.uid not in seen:
                    stack.append((child, False))
        return order

    def symbols(self) -> tuple[Any, ...]:
        """The symbols (``Symbol`` nodes) the expression depends on, sorted by name."""
        found = {n for n in self.walk() if n.kind == "symbol"}
        return tuple(sorted(found, key=lambda s: s.name))

    def depends_on(self, symbol: Expr) -> bool:
        """Whether ``symbol`` is a node of this DAG (memoized per node; iterative, so a
        DAG of any depth is fine)."""
        key = f"dep:{symbol.uid}"
        cached = self._memo.get(key)
        if cached is not None:
            return bool(cached)
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if key in node._memo:
                continue
            if expanded:
                node._memo[key] = node is symbol or any(c._memo[key] for c in node.children)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if key not in c._memo)
        return bool(self._memo[key])

    # ---- evaluation and printing (implemented in higher layers) ---------------
    def evaluate(self, **bindings: Any) -> Array:
        """Evaluate with NumPy arrays bound to the symbols by name.

        >>> import numpy as np, matgrad as mg
        >>> X = mg.Matrix("X", (2, 2))
        >>> (X @ X.T).evaluate(X=np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[ 5., 11.],
               [11., 25.]])
        """
        return _hook("evaluate")(self, bindings)  # type: ignore[no-any-return]

    def __str__(self) -> str:
        text = HOOKS.get("text")
        return f"{self.kind}{self.shape}" if text is None else str(text(self))

    def __repr__(self) -> str:
        # bounded, as NumPy summarizes a large array's repr: it ends up in messages
        return f"<{self.kind} {self.shape}: {elide(str(self))}>"

    def latex(self) -> str:
        """The expression in LaTeX."""
        return _hook("latex")(self)  # type: ignore[no-any-return]

    def einsum(self) -> str:
        """The expression in index (einsum) notation."""
        return _hook("einsum")(self)  # type: ignore[no-any-return]

    def to_numpy(self, name: str = "f") -> str:
        """Source code of a NumPy function evaluating the expression."""
        return _hook("numpy")(self, name)  # type: ignore[no-any-return]

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_markdown_(self) -> str:
        """For Jupyter: the formula as display math and a caption with the shapes."""
        return notebook.markdown(self)

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, str]:
        """For Jupyter: Markdown (formula and shapes) and LaTeX (``matgrad.ir.notebook``)."""
        return notebook.mimebundle(self, include, exclude)

    # ---- Python operators: the same as the NumPy ufuncs they stand for ------------
    def __add__(self, other: Any) -> Expr:
        return _ufunc(np.add, self, other)

    def __radd__(self, other: Any) -> Expr:
        return _ufunc(np.add, other, self)

    def __sub__(self, other: Any) -> Expr:
        return _ufunc(np.subtract, self, other)

    def __rsub__(self, other: Any) -> Expr:
        return _ufunc(np.subtract, other, self)

    def __neg__(self) -> Expr:
        return _ufunc(np.negative, self)

    def __pos__(self) -> Expr:
        return self

    def __abs__(self) -> Expr:
        return _ufunc(np.absolute, self)

    def __mul__(self, other: Any) -> Expr:
        return _ufunc(np.multiply, self, other)

    def __rmul__(self, other: Any) -> Expr:
        return _ufunc(np.multiply, other, self)

    def __truediv__(self, other: Any) -> Expr:
        return _ufunc(np.true_divide, self, other)

    def __rtruediv__(self, other: Any) -> Expr:
        return _ufunc(np.true_divide, other, self)

    def __pow__(self, exponent: Any) -> Expr:
        return _ufunc(np.power, self, exponent)

    def __rpow__(self, base: Any) -> Expr:
        return _ufunc(np.power, base, self)

    # ---- comparisons: masks with entries 0 and 1, whose derivative is zero ----------
    def __lt__(self, other: Any) -> Expr:
        return _ufunc(np.less, self, other)

    def __le__(self, other: Any) -> Expr:
        return _ufunc(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Expr:
        return _ufunc(np.greater, self, other)

    def __ge__(self, other: Any) -> Expr:
        return _ufunc(np.greater_equal, self, other)

    def __matmul__(self, other: Any) -> Expr:
        return _ufunc(np.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Expr:
        return _ufunc(np.matmul, other, self)

    @property
    def T(self) -> Expr:
        """All axes reversed, as ``ndarray.T``."""
        return _function(np.transpose, self)

    def __getitem__(self, item: Any) -> Expr:
        """Indexing and slicing with NumPy's semantics (``HOOKS["subscript"]``,
        filled by ``matgrad.ops.indexing``); indices are constants."""
        return _hook("subscript")(self, item)  # type: ignore[no-any-return]

    def __setitem__(self, item: Any, value: Any) -> None:
        """Refused: expressions are immutable, as JAX's arrays are."""
        raise UnsupportedOperationError(
            "item assignment (x[i] = v) to a matgrad expression: expressions are "
            "immutable; build the result instead: np.where(mask, v, x) to replace entries, "
            "np.concatenate / np.stack to assemble pieces, x + np.eye(n) * v-style sums for "
            "a diagonal"
        )

    def __iter__(self) -> Iterator[Expr]:
        """The entries along the first axis, ``self[0], self[1], ...``, as iterating
        over an ndarray gives (so ``a, b = x`` and ``for row in X`` trace)."""
        if not self.shape:
            raise UnsupportedOperationError("iteration over a scalar matgrad expression")
        return (self[i] for i in range(self.shape[0]))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar expression")
        return self.shape[0]

    # ---- ndarray's methods: each calls the NumPy function it mirrors ------------------
    def sum(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.sum(self, axis=None, dtype=None, out=None, keepdims=False)``."""
        return _function(np.sum, self, *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.mean(self, axis=None, dtype=None, out=None, keepdims=False)``."""
        return _function(np.mean, self, *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False)``."""
        return _function(np.var, self, *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False)``."""
        return _function(np.std, self, *args, **kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.prod(self, axis=None, dtype=None, out=None, keepdims=False)``."""
        return _function(np.prod, self, *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.max(self, axis=None, out=None, keepdims=False)``."""
        return _function(np.max, self, *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.min(self, axis=None, out=None, keepdims=False)``."""
        return _function(np.min, self, *args, **kwargs)

    def clip(self, min: Any = None, max: Any = None, **kwargs: Any) -> Expr:
        """``np.clip(self, min, max)``."""
        return _function(np.clip, self, min, max, **kwargs)

    def reshape(self, *shape: Any, **kwargs: Any) -> Expr:
        """``np.reshape(self, shape, order="C")``; the shape as one tuple or as
        several ints (``x.reshape(3, 4)``, ``x.reshape((3, 4))``, ``x.reshape(-1)``)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _function(np.reshape, self, shape, **kwargs)

    def ravel(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.ravel(self, order="C")``."""
        return _function(np.ravel, self, *args, **kwargs)

    def flatten(self, *args: Any, **kwargs: Any) -> Expr:
        """The entries in one axis, as ``np.ravel(self, order="C")`` (expressions are
        immutable: no copy to make)."""
        return _function(np.ravel, self, *args, **kwargs)

    def squeeze(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.squeeze(self, axis=None)``."""
        return _function(np.squeeze, self, *args, **kwargs)

    def transpose(self, *axes: Any) -> Expr:
        """``np.transpose(self, axes)``; the axes as one tuple or as several ints
        (``x.transpose(1, 0, 2)``), all reversed when none are given."""
        order: Any = axes
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            order = axes[0]
        return _function(np.transpose, self, *(() if not order else (order,)))

    def swapaxes(self, axis1: Any, axis2: Any) -> Expr:
        """``np.swapaxes(self, axis1, axis2)``."""
        return _function(np.swapaxes, self, axis1, axis2)

    def diagonal(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.diagonal(self, offset=0, axis1=0, axis2=1)``."""
        return _function(np.diagonal, self, *args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.trace(self, offset=0, axis1=0, axis2=1)``."""
        return _function(np.trace, self, *args, **kwargs)

    def dot(self, other: Any, *args: Any, **kwargs: Any) -> Expr:
        """``np.dot(self, other)``."""
        return _function(np.dot, self, other, *args, **kwargs)

    def cumsum(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.cumsum(self, axis=None)``."""
        return _function(np.cumsum, self, *args, **kwargs)

    def cumprod(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.cumprod(self, axis=None)``."""
        return _function(np.cumprod, self, *args, **kwargs)

    def round(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.round(self, decimals=0)`` (derivative zero)."""
        return _function(np.round, self, *args, **kwargs)

    def repeat(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.repeat(self, repeats, axis=None)``."""
        return _function(np.repeat, self, *args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.take(self, indices, axis=None)``."""
        return _function(np.take, self, *args, **kwargs)

    def conj(self) -> Expr:
        """``np.conj(self)``."""
        return _ufunc(np.conjugate, self)

    conjugate = conj

    @property
    def real(self) -> Expr:
        """``np.real(self)``."""
        return _function(np.real, self)

    @property
    def imag(self) -> Expr:
        """``np.imag(self)``."""
        return _function(np.imag, self)

    @property
    def mT(self) -> Expr:
        """The last two axes swapped, as ``ndarray.mT``."""
        return _function(np.swapaxes, self, -1, -2)

    def argmax(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.argmax(self)``, refused with the reason."""
        return _function(np.argmax, self, *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.argmin(self)``, refused with the reason."""
        return _function(np.argmin, self, *args, **kwargs)

    def argsort(self, *args: Any, **kwargs: Any) -> Expr:
        """``np.argsort(self)``, refused with the reason."""
        return _function(np.argsort, self, *args, **kwargs)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """Refused: ``ndarray.sort`` sorts in place and expressions are immutable."""
        raise UnsupportedOperationError(
            "x.sort() sorts in place and matgrad expressions are immutable; write "
            "x = np.sort(x), which is differentiated"
        )

    def copy(self, order: str = "C") -> Expr:
        """The expression itself: expressions are immutable, a copy changes nothing."""
        return self

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Expr:
        """The expression itself for a floating ``dtype`` when the expression is real
        (matgrad keeps the dtype of the inputs: ``x.astype(float)`` in code written
        for arrays changes nothing), or for its own dtype; other casts (to integers,
        which have no derivative, or between real and complex) are refused."""
        target = np.dtype(dtype)
        if target == self.dtype or (
            np.issubdtype(target, np.floating) and np.issubdtype(self.dtype, np.floating)
        ):
            return self
        raise UnsupportedOperationError(
            f"astype({target}) of a {self.dtype} matgrad expression: matgrad computes in the "
            "floating dtype of its inputs"
            + (
                "; a cast to integers or booleans has no derivative"
                if not np.issubdtype(target, np.inexact)
                else "; casts between real and complex are not supported"
            )
        )

    # ---- NumPy protocols -------------------------------------------------------------
    def item(self, *args: Any) -> Any:
        """Refused: a traced value is not a number (``ndarray.item`` returns one)."""
        raise UnsupportedOperationError(f"item() of a matgrad expression: {_NO_NUMBER}")

    def tolist(self) -> Any:
        """Refused: a traced value has no entries to list until it is evaluated."""
        raise UnsupportedOperationError(f"tolist() of a matgrad expression: {_NO_NUMBER}")

    def __array__(self, *args: Any, **kwargs: Any) -> Array:
        raise UnsupportedOperationError(_conversion_message(_converting_function()))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        handler = UFUNC_HANDLERS.get(ufunc)
        if handler is None or method != "__call__" or kwargs:
            if handler is not None and method == "__call__":
                raise UnsupportedOperationError(
                    f"{_numpy_name(ufunc)} with keyword arguments {sorted(kwargs)} is not "
                    "supported on matgrad expressions; call it without them"
                )
            raise UnsupportedOperationError(_unsupported(ufunc, method))
        return _served(handler(*inputs), inputs)

    def __array_function__(
        self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any
    ) -> Any:
        handler = FUNCTION_HANDLERS.get(func)
        if handler is None:
            raise UnsupportedOperationError(_unsupported(func))
        return _served(handler(*args, **kwargs), args)
