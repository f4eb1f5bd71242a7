"""The base of the intermediate representation (layer 2): the ``Expr`` class that
every node kind of :mod:`matgrad.ir.expr` derives from, hash-consing, and the
registries through which higher layers serve ``Expr``'s methods and operators
(so that imports go one way).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from matgrad._types import Array, Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError

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


def _ufunc(ufunc: np.ufunc, *args: Any) -> Expr:
    handler = UFUNC_HANDLERS.get(ufunc)
    if handler is None:
        raise UnsupportedOperationError(
            f"numpy.{ufunc.__name__} is not available: import matgrad to load its operations"
        )
    return handler(*args)


def _function(func: Callable[..., Any], *args: Any) -> Expr:
    handler = FUNCTION_HANDLERS.get(func)
    if handler is None:
        raise UnsupportedOperationError(
            f"{func.__name__} is not available: import matgrad to load its operations"
        )
    return handler(*args)  # type: ignore[no-any-return]


def _intern(cls: type[Expr], key: tuple[Any, ...], fields: dict[str, Any]) -> Any:
    """Return the unique node of class ``cls`` with this ``key``, creating it if new."""
    full_key = (cls.kind, *key)
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

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a matgrad expression is undefined")

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
        key = f"dep:{symbol.uid}"
        cached = self._memo.get(key)
        if cached is None:
            cached = self is symbol or any(c.depends_on(symbol) for c in self.children)
            self._memo[key] = cached
        return bool(cached)

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
        return f"<{self.kind} {self.shape}: {self}>"

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

    def __matmul__(self, other: Any) -> Expr:
        return _ufunc(np.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Expr:
        return _ufunc(np.matmul, other, self)

    @property
    def T(self) -> Expr:
        """All axes reversed, as ``ndarray.T``."""
        return _function(np.transpose, self)

    def __getitem__(self, item: Any) -> Expr:
        raise UnsupportedOperationError(
            "indexing matgrad expressions is not supported; use mg.einsum or mg.diag"
        )

    def __iter__(self) -> Any:
        raise UnsupportedOperationError("matgrad expressions are not iterable")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar expression")
        return self.shape[0]

    # ---- NumPy protocols -------------------------------------------------------------
    def __array__(self, *args: Any, **kwargs: Any) -> Array:
        raise UnsupportedOperationError(
            "a matgrad expression cannot be converted to a NumPy array; call "
            ".evaluate(...) with values for its symbols"
        )

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        handler = UFUNC_HANDLERS.get(ufunc)
        if handler is None or method != "__call__" or kwargs:
            detail = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
            if kwargs:
                detail += f" with keyword arguments {sorted(kwargs)}"
            raise UnsupportedOperationError(
                f"{detail} is not supported on matgrad expressions; supported ufuncs: "
                + ", ".join(sorted(u.__name__ for u in UFUNC_HANDLERS))
            )
        return handler(*inputs)

    def __array_function__(
        self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any
    ) -> Any:
        handler = FUNCTION_HANDLERS.get(func)
        if handler is None:
            name = getattr(func, "__module__", "numpy") + "." + getattr(func, "__name__", "?")
            raise UnsupportedOperationError(
                f"{name.replace('numpy.linalg._linalg', 'numpy.linalg')} is not supported on "
                "matgrad expressions; supported functions: "
                + ", ".join(sorted(getattr(f, "__name__", "?") for f in FUNCTION_HANDLERS))
            )
        return handler(*args, **kwargs)
