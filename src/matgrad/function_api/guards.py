"""Guards: when a function's previous trace can be reused without calling it (layer 6).

A trace depends on the function's code and on every value its code reads that
is not an argument: closure cells, globals (its own code's and that of the code
objects nested in it and of the Python functions it calls through them),
defaults.  :func:`guards_for` records those values before a trace;
:meth:`Guards.hold` says, before a later call, whether they are all unchanged:

- code objects, defaults tuples, modules, NumPy functions and builtins: the same
  object;
- numbers, strings, ``None`` and tuples of them: equal, of the same type;
- small arrays (fewer than ``CAPTURE_THRESHOLD`` entries): the same dtype, shape
  and bits as a copy taken at trace time (in-place changes are seen);
- Python functions: the same object with the same code, and their own reads
  guarded in turn (NumPy's, SciPy's and matgrad's own: the same object);
- tuples, lists, dicts and ``SimpleNamespace`` objects of at most 64 entries: the
  same object (a tuple: an equal one) holding the same number of entries, each
  guarded as above.

Anything else cannot be guarded and the function is re-traced on every call
(correct, only slower): a large array (its contents would have to be scanned,
or, captured, may have been read by NumPy code outside the trace, as
``X.mean(0)`` and ``-y`` are), an instance of any other class (its attributes),
a bound method, a module other than NumPy's, SciPy's, ``math`` and matgrad's,
and code that names ``random`` (random numbers are drawn anew by each trace).
"""

from __future__ import annotations

import builtins
import math
import operator
import types
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from matgrad.function_api import tracing

__all__ = ["Guards", "guards_for"]

_MISSING = object()
_SCALARS = (type(None), bool, int, float, complex, str, bytes, np.generic)
_TRUSTED = frozenset({"numpy", "scipy", "math", "cmath", "matgrad", "builtins", "operator"})
_MAX_DEPTH = 6
_MAX_GUARDS = 256
_MAX_ITEMS = 64
_CONTAINERS = (tuple, list, dict, SimpleNamespace)
_BUILTINS: dict[str, Any] = vars(builtins)


class _Unguardable(Exception):
    """A value the trace may depend on that no cheap check covers."""


class Guards:
    """Checks that hold while nothing a trace depended on has changed."""

    __slots__ = ("checks",)

    def __init__(self, checks: list[Callable[[], bool]]) -> None:
        self.checks = checks

    def hold(self) -> bool:
        for check in self.checks:
            if not check():
                return False
        return True


def guards_for(fun: Any) -> Guards | None:
    """The guards of a plain Python function's trace, or None when it cannot be
    guarded (then it is traced on every call)."""
    if type(fun) is not types.FunctionType:
        return None
    checks: list[Callable[[], bool]] = []
    try:
        _function(fun, checks, set(), 0)
    except _Unguardable:
        return None
    return Guards(checks)


def _function(fun: types.FunctionType, checks: list[Callable[[], bool]], seen: set[int],
              depth: int) -> None:
    if id(fun) in seen:
        return
    seen.add(id(fun))
    if depth > _MAX_DEPTH:
        raise _Unguardable
    code = fun.__code__
    defaults = fun.__defaults__
    kwdefaults = fun.__kwdefaults__
    checks.append(lambda: fun.__code__ is code and fun.__defaults__ is defaults
                  and fun.__kwdefaults__ is kwdefaults)
    for position, value in enumerate(defaults or ()):
        _value(value, checks, seen, depth)
        checks.append(_item_check(defaults, position, value))  # an array changed in place
    if kwdefaults:
        keys = tuple(kwdefaults)
        checks.append(lambda: tuple(kwdefaults) == keys)
        for name, value in kwdefaults.items():
            _value(value, checks, seen, depth)
            checks.append(_global_check(kwdefaults, name, value))
    same_cells: list[tuple[Any, Any]] = []  # (cell, content) kept by identity
    for cell in fun.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later): guard that it stays so
            checks.append(_empty_check(cell))
            continue
        _value(content, checks, seen, depth)  # first: refuses before a snapshot is taken
        if _by_identity(content):
            same_cells.append((cell, content))
        else:
            checks.append(_cell_check(cell, content))
    if len(same_cells) == 1:
        checks.append(_cell_check(*same_cells[0]))
    elif same_cells:
        checks.append(_cells_check(same_cells))
    namespace = fun.__globals__
    names = set(_names(code))
    if "random" in names:
        raise _Unguardable
    unbound: list[str] = []  # names the module does not bind
    same_globals: dict[str, Any] = {}  # globals kept by identity
    for name in names:
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            unbound.append(name)
            value = _BUILTINS.get(name, _MISSING)
            if value is not _MISSING:
                _value(value, checks, seen, depth)
        else:
            _value(value, checks, seen, depth)
            if _by_identity(value):
                same_globals[name] = value
            else:
                checks.append(_global_check(namespace, name, value))
    if unbound:
        checks.append(_unbound_check(namespace, unbound))
    if same_globals:
        checks.append(_identical_check(namespace, same_globals))
    if len(checks) > _MAX_GUARDS:
        raise _Unguardable


def _names(code: types.CodeType) -> Iterator[str]:
    """The global (and attribute) names a code object and those nested in it read."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _empty_check(cell: Any) -> Callable[[], bool]:
    def check() -> bool:
        try:
            cell.cell_contents  # noqa: B018 - the read is the check
        except ValueError:
            return True
        return False

    return check


def _item_check(items: Any, position: int, value: Any) -> Callable[[], bool]:
    same = _same(value)
    return lambda: same(items[position])


def _unbound_check(namespace: dict[str, Any], names: list[str]) -> Callable[[], bool]:
    """The names stay unbound in the module, and those that are builtins the same
    builtins (the others unbound there too)."""
    bound = {name: _BUILTINS[name] for name in names if name in _BUILTINS}
    absent = [name for name in names if name not in _BUILTINS]
    same_builtins = _identical_check(_BUILTINS, bound) if bound else None
    keys, builtin_keys = namespace.keys(), _BUILTINS.keys()
    return lambda: (keys.isdisjoint(names) and builtin_keys.isdisjoint(absent)
                    and (same_builtins is None or same_builtins()))


def _identical_check(table: dict[str, Any], values: dict[str, Any]) -> Callable[[], bool]:
    """The table binds each name to the same object (one C-level pass)."""
    names = tuple(values)
    kept = tuple(values.values())
    if len(names) == 1:
        name, value = names[0], kept[0]
        return lambda: table.get(name, _MISSING) is value
    fetch = operator.itemgetter(*names)

    def check() -> bool:
        try:
            return all(map(operator.is_, fetch(table), kept))
        except KeyError:
            return False

    return check


def _cells_check(pairs: list[tuple[Any, Any]]) -> Callable[[], bool]:
    """Closure cells holding the same objects."""
    cells = tuple(cell for cell, _ in pairs)
    kept = tuple(content for _, content in pairs)
    contents = operator.attrgetter("cell_contents")

    def check() -> bool:
        try:
            return all(map(operator.is_, map(contents, cells), kept))
        except ValueError:  # a cell emptied (del of the variable)
            return False

    return check


def _same(value: Any) -> Callable[[Any], bool]:
    """A test that a later value is interchangeable with ``value``."""
    if isinstance(value, _SCALARS) or (
        type(value) is tuple and all(isinstance(v, _SCALARS) for v in value)
    ):
        kind = type(value)
        if isinstance(value, float) and math.isnan(value):
            return lambda now: False
        return lambda now: type(now) is kind and bool(now == value)
    if type(value) is np.ndarray:
        dtype, shape, bits = value.dtype, value.shape, value.tobytes()
        return lambda now: (type(now) is np.ndarray and now.dtype == dtype
                            and now.shape == shape and now.tobytes() == bits)
    if type(value) in _CONTAINERS:
        return _same_items(value)
    return lambda now: now is value


def _items(value: Any) -> dict[Any, Any]:
    """A container's entries by key (index for a list or tuple)."""
    if type(value) in (list, tuple):
        return dict(enumerate(value))
    return dict(vars(value) if type(value) is SimpleNamespace else value)


def _same_items(value: Any) -> Callable[[Any], bool]:
    """The same container object (a tuple: an equal one) holding the same entries:
    the entries kept by identity (functions, modules) compared in one C-level pass,
    the others (numbers, arrays, containers) one by one."""
    kind, entries = type(value), _items(value)
    size = len(entries)
    plain = [key for key, item in entries.items() if _by_identity(item)]
    fetch = operator.itemgetter(*plain) if len(plain) > 1 else None
    kept = tuple(entries[key] for key in plain)
    others = [(key, _same(item)) for key, item in entries.items() if not _by_identity(item)]

    def same(now: Any) -> bool:
        if type(now) is not kind or (now is not value and kind is not tuple):
            return False
        table = vars(now) if kind is SimpleNamespace else now
        if len(table) != size:
            return False
        try:
            if fetch is not None:
                if not all(map(operator.is_, fetch(table), kept)):
                    return False
            elif plain and table[plain[0]] is not kept[0]:
                return False
            return all(check(table[key]) for key, check in others)
        except (KeyError, IndexError):
            return False

    return same


def _by_identity(value: Any) -> bool:
    """Whether ``_same`` compares this value by identity."""
    return not (isinstance(value, _SCALARS) or type(value) is np.ndarray
                or type(value) in _CONTAINERS)


def _cell_check(cell: Any, content: Any) -> Callable[[], bool]:
    same = _same(content)

    def check() -> bool:
        try:
            return same(cell.cell_contents)
        except ValueError:
            return False

    return check


def _global_check(namespace: dict[str, Any], name: str, value: Any) -> Callable[[], bool]:
    same = _same(value)
    return lambda: same(namespace.get(name, _MISSING))


def _value(value: Any, checks: list[Callable[[], bool]], seen: set[int], depth: int) -> None:
    """Guard what a value read by the code brings in, or refuse."""
    if isinstance(value, _SCALARS):
        return
    if type(value) in _CONTAINERS:
        entries = _items(value)
        if len(entries) > _MAX_ITEMS or depth > _MAX_DEPTH:
            raise _Unguardable
        for item in entries.values():
            _value(item, checks, seen, depth + 1)
        return
    if type(value) is np.ndarray:
        if value.size >= tracing.CAPTURE_THRESHOLD or value.dtype.hasobject:
            raise _Unguardable
        return
    if type(value) is types.FunctionType:
        home = str(value.__module__)
        if home.partition(".")[0] in _TRUSTED and "random" not in home:
            return  # NumPy's, SciPy's, matgrad's own: the same function object
        _function(value, checks, seen, depth + 1)
        return
    if isinstance(value, types.ModuleType):
        if value.__name__.partition(".")[0] in _TRUSTED and "random" not in value.__name__:
            return
        raise _Unguardable
    module = getattr(value, "__module__", None)
    trusted = isinstance(module, str) and module.partition(".")[0] in _TRUSTED
    if isinstance(value, (types.BuiltinFunctionType, np.ufunc)) and trusted:
        owner = getattr(value, "__self__", None)
        if owner is None or isinstance(owner, types.ModuleType):
            return
        raise _Unguardable  # a method bound to an object (a random generator's, say)
    if isinstance(value, type) and trusted:
        return
    if callable(value) and trusted and type(value).__name__ == "_ArrayFunctionDispatcher":
        return  # np.sum, np.trace, ...: NumPy's public functions
    raise _Unguardable
