"""What a function's bytecode reads, for its guards (layer 6, private to
:mod:`matgrad.function_api.guards`): the names its code objects mention, the
attributes they read and whether they may read attributes other than by name,
and whether a variable is read only as an operand of an argument.
"""

from __future__ import annotations

import dis
import functools
import operator
import types
from collections.abc import Iterator

__all__ = [
    "ATTRIBUTE", "DEREF", "GLOBAL", "LOCAL", "WHOLESALE_VALUES", "attribute_reads", "names",
    "read_symbolically",
]


def names(code: types.CodeType) -> Iterator[str]:
    """The global (and attribute) names a code object and those nested in it read."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from names(const)


_ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR",
                            "LOAD_SUPER_ATTR"})
_WHOLESALE_OPS = frozenset({"MATCH_CLASS", "CONTAINS_OP", "FORMAT_VALUE", "FORMAT_SIMPLE",
                            "FORMAT_WITH_SPEC", "CONVERT_VALUE"})
_WHOLESALE_NAMES = frozenset({
    "getattr", "hasattr", "setattr", "delattr", "vars", "dir", "eval", "exec", "compile",
    "globals", "locals", "__import__", "repr", "str", "ascii", "format", "attrgetter",
    "methodcaller", "eq", "ne", "contains", "countOf", "indexOf", "index", "count", "remove",
})
"""Names of what may read an object's attributes other than by name (all of them,
or one whose name is computed), or compare two namespaces entry by entry."""
WHOLESALE_VALUES = frozenset(id(v) for v in (
    getattr, hasattr, setattr, delattr, vars, dir, eval, exec, compile, globals, locals,
    __import__, repr, str, ascii, format, operator.attrgetter, operator.methodcaller,
    operator.eq, operator.ne, operator.contains, operator.countOf, operator.indexOf,
))


@functools.lru_cache(maxsize=1024)
def attribute_reads(code: types.CodeType) -> tuple[frozenset[str], bool]:
    """The attribute names a code object and those nested in it read or write, and
    whether they may read attributes wholesale: a dunder name, a name of
    :data:`_WHOLESALE_NAMES`, ``==``/``!=``/``in``, a class pattern, formatting."""
    attributes: set[str] = set()
    wholesale = any(name.startswith("__") or name in _WHOLESALE_NAMES for name in code.co_names)
    for ins in dis.get_instructions(code):
        if ins.opname in _ATTRIBUTE_OPS:
            attributes.add(str(ins.argval))
        elif ins.opname in _WHOLESALE_OPS or (
            ins.opname == "COMPARE_OP" and ("==" in ins.argrepr or "!=" in ins.argrepr)
        ):
            wholesale = True
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            inner, whole = attribute_reads(const)
            attributes |= inner
            wholesale = wholesale or whole
    return frozenset(attributes), wholesale


DEREF = frozenset({"LOAD_DEREF", "LOAD_CLASSDEREF"})
GLOBAL = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_LOAD_ARGUMENT = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"})
_BINARY = frozenset({"BINARY_OP", "BINARY_MATRIX_MULTIPLY", "BINARY_MULTIPLY", "BINARY_ADD",
                     "BINARY_SUBTRACT", "BINARY_TRUE_DIVIDE"})


def read_symbolically(code: types.CodeType, name: str, loads: frozenset[str],
                      bound: frozenset[str] = frozenset(), attribute: bool = False) -> bool:
    """Whether the code — that of the traced function itself, whose positional
    arguments but those ``bound`` to values (a method's ``self``, those a
    ``functools.partial`` gives) are symbols while tracing — reads the variable
    ``name`` only as an operand of a binary operator whose other operand is one
    of those arguments (``X @ w``, ``w * X``), never rebound: then the array
    meets the expression directly, is captured, and the trace holds no value
    computed from its contents.  Any other read (``X.mean(0)``, ``-X``,
    ``np.dot(X, w)``, ``X[0]``, a nested function) may compute a constant from
    the contents, stale after an in-place change: then no.  (A helper's
    arguments may be arrays, not symbols: its reads never qualify.)  With
    ``attribute``, ``name`` is an attribute read from a variable (``self.X @ w``,
    ``w @ model.X``), ``loads`` being ``ATTRIBUTE``."""
    if any(name in c.co_names or name in c.co_freevars
           for c in code.co_consts if isinstance(c, types.CodeType)):
        return False
    arguments = set(code.co_varnames[: code.co_argcount]) - bound
    instructions = list(dis.get_instructions(code))
    found = False
    for k, ins in enumerate(instructions):
        if ins.argval == name and ins.opname not in loads and ins.opname != "LOAD_ATTR":
            return False  # stored, deleted, passed to a closure, read another way
        if ins.opname.startswith(("STORE_", "DELETE_")) and ins.argval in arguments:
            return False  # an argument rebound: no longer a symbol
        if ins.opname not in loads or ins.argval != name:
            continue
        start = k - 1 if attribute else k  # where the operand's instructions begin
        if attribute and (start < 0 or instructions[start].opname not in _LOAD_VARIABLE):
            return False
        before = instructions[start - 1] if start > 0 else None
        after = instructions[k + 1 : k + 3]
        if len(after) < 2 or not _plain_binary(after[1]):
            return False
        if after[0].opname in _LOAD_ARGUMENT and after[0].argval in arguments:
            found = True  # X ∘ w
        elif (before is not None and before.opname in _LOAD_ARGUMENT
              and before.argval in arguments and _plain_binary(after[0])):
            found = True  # w ∘ X
        else:
            return False
    return found


_LOAD_VARIABLE = frozenset({*_LOAD_ARGUMENT, "LOAD_DEREF", "LOAD_GLOBAL", "LOAD_NAME"})
ATTRIBUTE = frozenset({"LOAD_ATTR"})
LOCAL = _LOAD_ARGUMENT


def _plain_binary(ins: dis.Instruction) -> bool:
    """A binary operator that is not in place (``@``, ``*``, ``+``, ...; not ``@=``)."""
    return ins.opname in _BINARY and not str(ins.argrepr).endswith("=")
