"""The checks a guard is made of (layer 6, private to
:mod:`matgrad.function_api.guards`): whether a value read by a traced function
is interchangeable with the one its trace saw — numbers equal, small arrays the
same bits, containers entry by entry, anything else the same object — and which
objects can be guarded attribute by attribute (instances of plain classes).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from matgrad.function_api import tracing

__all__ = [
    "CONTAINERS", "UNREAD", "MISSING", "SCALARS", "TRUSTED", "by_identity", "cell_check",
    "class_attribute", "data_descriptor", "empty_check", "entry_check", "global_check",
    "item_check", "items", "large", "layout_check", "plain_instance", "same_as",
]

MISSING = object()
"""What a namespace's ``get`` gives for an absent name."""
SCALARS = (type(None), bool, int, float, complex, str, bytes, np.generic)
TRUSTED = frozenset({"numpy", "scipy", "math", "cmath", "matgrad", "builtins", "operator"})
"""Top-level packages whose functions are taken as they are (not walked)."""
CONTAINERS = (tuple, list, dict, SimpleNamespace)


def empty_check(cell: Any) -> Callable[[], bool]:
    def check() -> bool:
        try:
            cell.cell_contents  # noqa: B018 - the read is the check
        except ValueError:
            return True
        return False

    return check


def item_check(items: Any, position: int, value: Any) -> Callable[[], bool]:
    same = same_as(value)
    return lambda: same(items[position])


def large(value: Any) -> bool:
    """An array the trace captures as a plan input (:mod:`~matgrad.function_api.tracing`)."""
    return (type(value) is np.ndarray and value.size >= tracing.CAPTURE_THRESHOLD
            and value.dtype in tracing.PLAIN_DTYPES)


def same_as(value: Any) -> Callable[[Any], bool]:
    """A test that a later value is interchangeable with ``value``."""
    if isinstance(value, SCALARS) or (
        type(value) is tuple and all(isinstance(v, SCALARS) for v in value)
    ):
        kind = type(value)
        if isinstance(value, float) and math.isnan(value):
            return lambda now: False
        return lambda now: type(now) is kind and bool(now == value)
    if large(value):  # read only as a plan input (bytecode.read_symbolically): the same object
        dtype, shape = value.dtype, value.shape
        return lambda now: now is value and now.shape == shape and now.dtype == dtype
    if type(value) is np.ndarray:
        dtype, shape, bits = value.dtype, value.shape, value.tobytes()
        return lambda now: (type(now) is np.ndarray and now.dtype == dtype
                            and now.shape == shape and now.tobytes() == bits)
    if type(value) in CONTAINERS:
        return same_items(value)
    return lambda now: now is value


def items(value: Any) -> dict[Any, Any]:
    """A container's entries by key (index for a list or tuple)."""
    if type(value) in (list, tuple):
        return dict(enumerate(value))
    return dict(vars(value) if type(value) is SimpleNamespace else value)


def same_items(value: Any) -> Callable[[Any], bool]:
    """The same container object (a tuple: an equal one) holding the same entries:
    the entries kept by identity (functions, modules) compared in one C-level pass,
    the others (numbers, arrays, containers) one by one."""
    kind, entries = type(value), items(value)
    size = len(entries)
    plain = [key for key, item in entries.items() if by_identity(item)]
    fetch = operator.itemgetter(*plain) if len(plain) > 1 else None
    kept = tuple(entries[key] for key in plain)
    others = [(key, same_as(item)) for key, item in entries.items() if not by_identity(item)]

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


def by_identity(value: Any) -> bool:
    """Whether ``same`` compares this value by identity."""
    return not (isinstance(value, SCALARS) or type(value) is np.ndarray
                or type(value) in CONTAINERS)


def cell_check(cell: Any, content: Any) -> Callable[[], bool]:
    same = same_as(content)

    def check() -> bool:
        try:
            return same(cell.cell_contents)
        except ValueError:
            return False

    return check


def global_check(namespace: dict[str, Any], name: str, value: Any) -> Callable[[], bool]:
    same = same_as(value)
    return lambda: same(namespace.get(name, MISSING))


def entry_check(container: Any, attributes: bool, key: Any, item: Any) -> Callable[[], bool]:
    """An entry of a container kept by identity (``attributes``: of its ``vars``)
    is interchangeable with ``item``."""
    same = same_as(item)

    def check() -> bool:
        try:
            return same((vars(container) if attributes else container)[key])
        except (KeyError, IndexError):
            return False

    return check


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
UNREAD = frozenset({
    "__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__", "__del__",
    "__class_getitem__", "__subclasshook__",  # making objects and classes
    "__repr__", "__str__", "__format__", "__eq__", "__ne__", "__dir__",  # read wholesale
    "__setattr__", "__delattr__",  # writes, which the guards see after the trace
    "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__copy__",
    "__deepcopy__", "__sizeof__", "__hash__",
})
"""Special methods that do not make a trace's value: called to make an object,
by what already makes a function read attributes wholesale (formatting, ``==``,
``dir``), to write attributes, or to copy, pickle or hash it.  The others
(``__call__``, ``__len__``, ``__getitem__``, operators, ...) are walked, since
Python calls them without their names appearing in the code.  Dataclasses'
generated ``__repr__`` and ``__eq__`` read ``__class__``, which would make every
dataclass unguardable if they were walked."""


def plain_instance(value: Any) -> bool:
    """An instance of a class written in Python (every class of its method
    resolution order but ``object`` made by a class statement, none from NumPy,
    SciPy or matgrad, none with a metaclass, ``__slots__``, ``__getattr__`` or
    ``__getattribute__``): its attributes are its own ``__dict__``'s entries or
    its classes', and can be guarded by name."""
    kind = type(value)
    mro = kind.__mro__
    if mro[-1] is not object or len(mro) < 2 or not hasattr(value, "__dict__"):
        return False
    if str(kind.__module__).partition(".")[0] in TRUSTED:
        return False
    return all(
        type(c) is type and c.__flags__ & _HEAP_TYPE
        and not {"__slots__", "__getattr__", "__getattribute__"} & c.__dict__.keys()
        for c in mro[:-1]
    )


def class_attribute(kind: type, name: str) -> Any:
    """What the method resolution order of ``kind`` holds for ``name`` (its first
    class that has it), or ``MISSING``."""
    for c in kind.__mro__:
        if name in c.__dict__:
            return c.__dict__[name]
    return MISSING


def data_descriptor(value: Any) -> bool:
    kind = type(value)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


def layout_check(array: Any) -> Callable[[], bool]:
    """A large array kept by identity keeps its shape and dtype (both can be set in
    place; its contents are read by the plan at each call)."""
    shape, dtype = array.shape, array.dtype
    return lambda: array.shape == shape and array.dtype == dtype
