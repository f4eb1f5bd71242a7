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
  guarded as above;
- a ``SimpleNamespace`` in a closure cell or a global: the same object, and only
  the entries the walked code names as attributes (``cfg.scale``) guarded as
  above, the named ones it lacks staying absent (the others cannot reach the
  trace); every entry when the code may read attributes other than by name
  (``getattr``, ``vars``, ``==``, formatting:
  :func:`~matgrad.function_api.bytecode.attribute_reads`);
- an instance of a class written in Python (no metaclass, ``__slots__``,
  ``__getattr__`` or ``__getattribute__``; :func:`.guard_checks.plain_instance`)
  in a closure cell or a global, the object a method is bound to, or held by
  one of these or by a guarded container: the same
  class, and for each attribute the code names (and each special method, which
  Python calls without naming it) what its own ``__dict__`` and each class of
  its method resolution order hold, guarded as above (methods and properties
  walked as functions); refused when the code may read attributes other than by
  name;
- with ``identity=True``, large arrays (``CAPTURE_THRESHOLD`` entries and up) in
  closure cells, globals or attributes of guarded objects that the traced
  function's own code reads only as an operand of a binary operator whose other
  operand is an argument (``X @ w``, ``self.X @ w``): the same object, shape and
  dtype (the plan reads their contents at each call).

A method of such an object, a callable such object (its ``__call__``) and a
``functools.partial`` of any of these are guarded as their function (the values
a partial binds as closure cells are, its bound parameters not taken for
symbols).

Anything else cannot be guarded and the function is re-traced on every call
(correct, only slower): a large array read any other way (its contents would
have to be scanned, or, captured, may have been read by NumPy code outside the
trace, as ``X.mean(0)`` and ``-y`` are), an instance of any other class, a
method bound to anything else, a module other than NumPy's, SciPy's, ``math``
and matgrad's, and code that names ``random`` (random numbers are drawn anew by
each trace).
"""

from __future__ import annotations

import builtins
import functools
import types
import weakref
from collections.abc import Callable, Sequence
from types import MappingProxyType, SimpleNamespace
from typing import Any

import numpy as np

from matgrad.function_api import tracing
from matgrad.function_api.bytecode import (
    ATTRIBUTE,
    DEREF,
    GLOBAL,
    LOCAL,
    WHOLESALE_VALUES,
    attribute_reads,
    read_symbolically,
)
from matgrad.function_api.bytecode import names as bytecode_names
from matgrad.function_api.guard_checks import (
    CONTAINERS,
    MISSING,
    SCALARS,
    TRUSTED,
    UNREAD,
    by_identity,
    cell_check,
    class_attribute,
    data_descriptor,
    empty_check,
    entry_check,
    global_check,
    item_check,
    items,
    large,
    layout_check,
    plain_instance,
)

__all__ = ["Guards", "guards_for"]

_MAX_DEPTH = 6
_MAX_GUARDS = 256
_MAX_ITEMS = 64
_BUILTINS: dict[str, Any] = vars(builtins)


class _Unguardable(Exception):
    """A value the trace may depend on that no cheap check covers."""


MISS = object()
"""What :meth:`Guards.shortcut`'s function returns when it does not apply."""


class Guards:
    """Checks that hold while nothing a trace depended on has changed: the tests
    of everything kept by identity, as generated source over the objects in
    ``namespace`` (never user text), and the other checks, one callable each."""

    __slots__ = ("checks", "large", "namespace", "others", "tests")

    def __init__(self, tests: list[str], namespace: dict[str, Any],
                 others: list[Callable[[], bool]], large: dict[int, Any]) -> None:
        self.tests = tests
        self.namespace = namespace
        self.others = others
        self.large = large
        """The large arrays guarded by identity, by ``id`` (kept, so no id is reused)."""
        ns = dict(namespace, **{f"O{j}": check for j, check in enumerate(others)})
        self.checks: Callable[[], bool] = _generated(
            "def same():", [*tests, *(f"O{j}()" for j in range(len(others)))],
            ["return True"], "return False", ns,
        )
        """``checks()``: whether every guard holds."""

    def covers(self, captured: Sequence[Any]) -> bool:
        """Whether every array a trace captured is one of the large arrays guarded
        by identity: then the trace may be reused, the same array objects passed
        to its plan at each call (their contents read as they are then)."""
        large = self.large
        return all(large.get(id(a)) is a for a in captured)

    def hold(self) -> bool:
        return self.checks()

    def shortcut(self, layouts: Sequence[tuple[Any, Any]], run: Callable[..., Any],
                 captured: Sequence[Any], finish: Callable[[Any], Any] | None = None,
                 index: int | None = None) -> Callable[[tuple[Any, ...]], Any]:
        """A whole call of a reused trace as one generated function of the
        positional arguments: when they are NumPy arrays of ``layouts``
        (``(shape, dtype)`` each) and every guard holds, ``run(*args, *captured)``
        (its entry ``index``, or ``finish`` of it); else :data:`MISS`."""
        ns = dict(self.namespace, nd=np.ndarray, R=run, MISS=MISS, FIN=finish)
        ns.update({f"O{j}": check for j, check in enumerate(self.others)})
        names = [f"a{k}" for k in range(len(layouts))]
        tests = []
        for k, (shape, dtype) in enumerate(layouts):
            ns.update({f"AS{k}": shape, f"AD{k}": dtype})
            tests += [f"type(a{k}) is nd", f"a{k}.dtype is AD{k}", f"a{k}.shape == AS{k}"]
        ns.update({f"X{j}": array for j, array in enumerate(captured)})
        call = f"R({', '.join([*names, *(f'X{j}' for j in range(len(captured)))])})"
        if finish is not None:
            call = f"FIN({call})"
        elif index is not None:
            call = f"{call}[{index}]"
        head = [f"if len(args) != {len(names)}:", "    return MISS"]
        if names:
            head.append(f"{', '.join(names)}, = args")
        tests += [*self.tests, *(f"O{j}()" for j in range(len(self.others)))]
        shortcut: Callable[[tuple[Any, ...]], Any] = _generated(
            "def shortcut(args):", tests, [f"return {call}"], "return MISS", ns, head)
        return shortcut


def _generated(signature: str, tests: list[str], then: list[str], otherwise: str,
               ns: dict[str, Any], head: Sequence[str] = ()) -> Any:
    """A function ``signature`` that runs ``head``, then ``then`` when every test
    holds, else ``otherwise`` (also when a closure cell was emptied, which makes a
    test raise ``ValueError``).  The tests are generated source over the names in
    ``ns`` (generated identifiers only: no user text reaches ``exec``)."""
    body = [*head]
    if tests:
        body += ["try:", "    if not (" + "\n            and ".join(tests) + "):",
                 f"        {otherwise}", "except ValueError:  # a cell emptied",
                 f"    {otherwise}"]
    body += then
    source = "\n".join([signature, *("    " + line for line in body)])
    exec(compile(source, "<matgrad guards>", "exec"), ns)
    return ns[signature[4:signature.index("(")]]


def guards_for(fun: Any, *, identity: bool = False, weak: bool = False) -> Guards | None:
    """The guards of a plain Python function's trace, or None when it cannot be
    guarded (then it is traced on every call).  ``identity``: a large array read
    only as an operand of an argument (:func:`.bytecode.read_symbolically`) is
    guarded by identity, shape and dtype (:attr:`Guards.large`; the caller passes
    the same array objects to the plan on reuse, :meth:`Guards.covers`) instead
    of making the function unguardable.  ``weak``: the guards hold ``fun`` itself
    by a weak reference, so that they may be kept in a cache keyed weakly by it.
    ``fun`` may also be a method of an instance of a plain class, such an
    instance that is callable, or a ``functools.partial`` of one of these."""
    given = fun if type(fun) is functools.partial else None
    if given is not None:
        fun = given.func
    call = class_attribute(type(fun), "__call__") if plain_instance(fun) else None
    if type(call) is types.FunctionType:  # a callable object: its __call__, bound
        fun = types.MethodType(call, fun)
    owner = MISSING
    if type(fun) is types.MethodType and plain_instance(fun.__self__):
        fun, owner = fun.__func__, fun.__self__  # its instance: guarded by name
    if type(fun) is not types.FunctionType:
        return None
    checks: list[Callable[[], bool]] = []
    found = _Found(identity)
    seen: set[int] = set()
    code = fun.__code__
    params = code.co_varnames[: code.co_argcount][0 if owner is MISSING else 1:]
    bound = set(code.co_varnames[:1]) if owner is not MISSING else set()
    if given is not None:
        bound |= {*params[: len(given.args)], *given.keywords}
    found.bound = frozenset(bound)
    try:
        _function(fun, checks, seen, 0, found)
        if owner is not MISSING:
            found.spaces.append((owner, 0))
        if given is not None:
            _partial(given, params, checks, seen, found)
        found.settle(checks, seen)
    except _Unguardable:
        return None
    tests, namespace = found.bulk()
    if weak:  # the walk put fun first: F0
        namespace["F0"] = weakref.ref(fun)
        tests = [test.replace("F0.", "F0().") for test in tests]
    return Guards(tests, namespace, checks, found.large)


class _Found:
    """What the walk of a function found that is checked by identity: kept apart
    and checked in a few C-level passes (:meth:`bulk`), not one closure each."""

    __slots__ = ("attributes", "bound", "cells", "containers", "functions", "identity",
                 "large", "spaces", "tables", "typed", "unbound_names", "wholesale")

    def __init__(self, identity: bool) -> None:
        self.attributes: set[str] = set()
        """The attribute names the walked code reads or writes."""
        self.wholesale = False
        """Whether the walked code may read an object's attributes other than by
        name (``getattr``, ``vars``, ``==``, formatting, ...)."""
        self.spaces: list[tuple[Any, int]] = []
        """``SimpleNamespace`` objects and instances of plain classes in closure
        cells and globals (or bound to a method), with the depth they were met at:
        their entries are guarded once the walk is over (:meth:`settle`)."""
        self.typed: list[tuple[Any, type]] = []
        """Instances that must keep their class."""
        self.identity = identity
        self.bound: frozenset[str] = frozenset()
        """The traced function's parameters bound to values, not symbols (a
        method's ``self``, those a ``functools.partial`` gives)."""
        """Whether large arrays read only as operands are guarded by identity."""
        self.large: dict[int, Any] = {}
        """Large arrays read only as plan inputs, by ``id``."""
        self.functions: list[tuple[Any, ...]] = []
        """``(function, code, defaults, kwdefaults)`` of each function walked."""
        self.cells: list[tuple[Any, Any]] = []
        """``(cell, content)`` of closure cells whose content is kept by identity."""
        self.tables: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        """Per module namespace (by ``id``): the globals kept by identity."""
        self.containers: list[tuple[Any, int | None, list[tuple[Any, Any]], frozenset[str]]]
        self.containers = []
        """Lists, dicts, namespaces kept by identity: ``(container, size, entries,
        absent)``, the entries those of its entries that are kept by identity,
        ``size`` None when only those are guarded (a namespace whose named
        attributes are known), ``absent`` named attributes it does not have."""
        self.unbound_names: list[tuple[Any, frozenset[str], frozenset[str]]] = []
        """``(module keys, names, names that are not builtins either)``."""

    def unbound(self, namespace: dict[str, Any], names: list[str]) -> None:
        """Names a module does not bind stay unbound there, and those that are
        builtins the same builtins (the others unbound there too)."""
        absent = frozenset(name for name in names if name not in _BUILTINS)
        self.unbound_names.append((namespace.keys(), frozenset(names), absent))
        bound = {name: _BUILTINS[name] for name in names if name in _BUILTINS}
        if bound:
            self.tables.setdefault(id(_BUILTINS), (_BUILTINS, {}))[1].update(bound)

    def entries(self, container: Any, checks: list[Callable[[], bool]]) -> None:
        """Guard a list, dict or ``SimpleNamespace`` kept by identity (its holder is
        checked by identity too): its size and the entries kept by identity in
        :meth:`bulk`, the others (numbers, arrays, containers) one by one."""
        entries = items(container)
        plain = [(key, item) for key, item in entries.items() if by_identity(item)]
        self.containers.append((container, len(entries), plain, frozenset()))
        for key, item in entries.items():
            if not by_identity(item):
                checks.append(entry_check(container, type(container) is SimpleNamespace,
                                           key, item))

    def settle(self, checks: list[Callable[[], bool]], seen: set[int]) -> None:
        """Guard the namespaces met in closure cells and globals on the entries the
        walked code names as attributes (``ns.scale``; the others cannot reach the
        trace) and on the named ones that are absent staying absent; on every
        entry when the code may read attributes wholesale.  Walking an entry (a
        function) may name more attributes, so this runs to a fixed point."""
        picked: dict[int, tuple[Any, set[str]]] = {}
        grew = True
        while grew:
            grew = False
            for space, depth in list(self.spaces):  # walking an entry may add spaces
                done = picked.setdefault(id(space), (space, set()))[1]
                if type(space) is not SimpleNamespace:
                    grew = self._instance_reads(space, done, checks, seen, depth) or grew
                    continue
                table = vars(space)
                for key in [k for k in table if k not in done and self._reaches(k)]:
                    done.add(key)
                    grew = True
                    _value(table[key], checks, seen, depth + 1, self)
                if len(done) > _MAX_ITEMS or depth > _MAX_DEPTH:
                    raise _Unguardable
        for space, done in picked.values():
            if type(space) is not SimpleNamespace:
                self._instance_guards(space, done, checks)
                continue
            if self.wholesale:
                self.entries(space, checks)
                continue
            table = vars(space)
            self.containers.append((
                space, None, [(key, table[key]) for key in done if by_identity(table[key])],
                frozenset(self.attributes - table.keys()),
            ))
            for key in done:
                if not by_identity(table[key]):
                    checks.append(entry_check(space, True, key, table[key]))

    def _instance_reads(self, obj: Any, done: set[str], checks: list[Callable[[], bool]],
                        seen: set[int], depth: int) -> bool:
        """Walk what the named attributes of an instance of a plain class are (its
        own entries, or its class's: methods, properties, class attributes), as
        Python finds them; whether any was new.  Read other than by name, or
        through a descriptor other than a function or a property, it is refused."""
        if self.wholesale or depth > _MAX_DEPTH:
            raise _Unguardable
        table = vars(obj)
        implicit = {  # special methods, which Python calls without naming them
            name for c in type(obj).__mro__[:-1] for name, v in vars(c).items()
            if name.startswith("__") and name not in UNREAD
            and isinstance(v, (types.FunctionType, staticmethod, classmethod, property))
        }
        new = [name for name in self.attributes | implicit if name not in done]
        for name in new:
            done.add(name)
            found = class_attribute(type(obj), name)
            if isinstance(found, property):
                _value(found.fget, checks, seen, depth + 1, self)
            elif isinstance(found, (staticmethod, classmethod)):
                _value(found.__func__, checks, seen, depth + 1, self)
            elif found is not MISSING and data_descriptor(found):
                raise _Unguardable  # __slots__ members, C-level attributes
            elif name in table and self.identity and large(table[name]) and self._operand(name):
                self.large[id(table[name])] = table[name]  # guarded by identity
                checks.append(layout_check(table[name]))
            elif name in table:
                _value(table[name], checks, seen, depth + 1, self)
            elif found is not MISSING:
                _value(found, checks, seen, depth + 1, self)
        if sum(name in table for name in done) > _MAX_ITEMS:
            raise _Unguardable
        return bool(new)

    def _operand(self, name: str) -> bool:
        """Whether the attribute ``name`` is read only by the traced function's own
        code, only as an operand of its arguments (``self.X @ w``): a large array
        held there is then captured, and guarded by identity."""
        top = self.functions[0][1]
        return not any(name in attribute_reads(code)[0] for _, code, _, _ in self.functions[1:]
                       ) and read_symbolically(top, name, ATTRIBUTE, self.bound, attribute=True)

    def _instance_guards(self, obj: Any, done: set[str], checks: list[Callable[[], bool]]
                         ) -> None:
        """An instance keeps its class, and its own entries and each class's in its
        method resolution order keep what they held for the named attributes (the
        absent ones staying absent)."""
        if self.wholesale:
            raise _Unguardable
        self.typed.append((obj, type(obj)))
        holders: list[Any] = [obj, *(vars(c) for c in type(obj).__mro__[:-1])]
        for holder in holders:
            table = vars(holder) if holder is obj else holder
            present = [name for name in done if name in table]
            kept = [name for name in present
                    if by_identity(table[name]) or self.large.get(id(table[name])) is table[name]]
            self.containers.append((
                holder, None, [(name, table[name]) for name in kept],
                frozenset(done - table.keys()),
            ))
            for name in present:
                if name not in kept:
                    checks.append(entry_check(holder, holder is obj, name, table[name]))

    def _reaches(self, key: str) -> bool:
        """Whether the walked code may read the namespace entry ``key``."""
        return self.wholesale or key in self.attributes or (
            type(key) is str and key.startswith("__"))

    def bulk(self) -> tuple[list[str], dict[str, Any]]:
        """One check for everything kept by identity — every function's code and
        defaults, every such cell and global — as one generated expression (a
        chain of ``is`` tests; the objects are in its namespace, the source names
        only them, never user text)."""
        ns: dict[str, Any] = {"__name__": __name__, "M": MISSING}
        tests = []
        for k, (fun, code, defaults, kwdefaults) in enumerate(self.functions):
            ns.update({f"F{k}": fun, f"C{k}": code, f"D{k}": defaults, f"K{k}": kwdefaults})
            tests += [f"F{k}.__code__ is C{k}", f"F{k}.__defaults__ is D{k}",
                      f"F{k}.__kwdefaults__ is K{k}"]
        for k, (cell, content) in enumerate(self.cells):
            ns.update({f"L{k}": cell, f"V{k}": content})
            tests.append(f"L{k}.cell_contents is V{k}")
        n = 0
        for k, (container, size, plain, absent) in enumerate(self.containers):
            ns[f"Y{k}"] = container
            mapping = isinstance(container, (list, dict, MappingProxyType))
            held = f"Y{k}" if mapping else f"vars(Y{k})"
            reader = f"(E{k} := {held})"  # bound by the first test that reads it
            if size is not None:
                tests.append(f"len{reader} == {size}")
                reader = f"E{k}"
            for key, item in plain:
                ns.update({f"N{n}": key, f"G{n}": item})
                if type(container) is list:
                    tests.append(f"{reader}[N{n}] is G{n}")
                else:
                    tests.append(f"{reader}.get(N{n}, M) is G{n}")
                reader = f"E{k}"
                n += 1
            if absent:
                ns[f"AB{k}"] = absent
                tests.append(f"{reader}.keys().isdisjoint(AB{k})")
        for k, (obj, kind) in enumerate(self.typed):
            ns.update({f"Q{k}": obj, f"QT{k}": kind})
            tests.append(f"type(Q{k}) is QT{k}")
        ns["BK"] = _BUILTINS.keys()
        for u, (keys, names, absent) in enumerate(self.unbound_names):
            ns.update({f"UK{u}": keys, f"U{u}": names, f"A{u}": absent})
            tests.append(f"UK{u}.isdisjoint(U{u})")
            if absent:
                tests.append(f"BK.isdisjoint(A{u})")
        for t, (table, same) in enumerate(self.tables.values()):
            ns[f"T{t}"] = table
            for name, value in same.items():
                ns.update({f"N{n}": name, f"G{n}": value})
                tests.append(f"T{t}.get(N{n}, M) is G{n}")
                n += 1
        return tests, ns


def _partial(given: functools.partial[Any], params: Sequence[str],
             checks: list[Callable[[], bool]], seen: set[int], found: _Found) -> None:
    """Guard what a ``functools.partial`` gives its function: the same function,
    arguments and keyword dictionary, and each value as a closure cell's (a large
    array read only as an operand of the symbolic arguments by identity)."""
    func, args, keywords = given.func, given.args, given.keywords
    checks.append(lambda: given.func is func and given.args is args
                  and given.keywords is keywords)
    code = found.functions[0][1]
    named = [*((params[k] if k < len(params) else "", v) for k, v in enumerate(args)),
             *keywords.items()]  # "": an argument to *args
    for name, value in named:
        if (found.identity and large(value) and name in code.co_varnames
                and read_symbolically(code, name, LOCAL, found.bound)):
            found.large[id(value)] = value
            checks.append(layout_check(value))
        else:
            _value(value, checks, seen, 1, found)
    for position, value in enumerate(args):
        checks.append(item_check(args, position, value))
    found.entries(keywords, checks)


def _function(fun: types.FunctionType, checks: list[Callable[[], bool]], seen: set[int],
              depth: int, found: _Found) -> None:
    if id(fun) in seen:
        return
    seen.add(id(fun))
    if depth > _MAX_DEPTH:
        raise _Unguardable
    code = fun.__code__
    defaults = fun.__defaults__
    kwdefaults = fun.__kwdefaults__
    found.functions.append((fun, code, defaults, kwdefaults))
    for position, value in enumerate(defaults or ()):
        _value(value, checks, seen, depth, found)
        checks.append(item_check(defaults, position, value))  # an array changed in place
    if kwdefaults:
        keys = tuple(kwdefaults)
        checks.append(lambda: tuple(kwdefaults) == keys)
        for name, value in kwdefaults.items():
            _value(value, checks, seen, depth, found)
            checks.append(global_check(kwdefaults, name, value))
    same_cells: list[tuple[Any, Any]] = []  # (cell, content) kept by identity
    for name, cell in zip(code.co_freevars, fun.__closure__ or ()):
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later): guard that it stays so
            checks.append(empty_check(cell))
            continue
        if (found.identity and depth == 0 and large(content)
                and read_symbolically(code, name, DEREF, found.bound)):
            found.large[id(content)] = content
            same_cells.append((cell, content))
            checks.append(layout_check(content))
            continue
        if type(content) is SimpleNamespace or plain_instance(content):  # once reads are known
            same_cells.append((cell, content))
            found.spaces.append((content, depth))
            continue
        _value(content, checks, seen, depth, found)  # first: refuses before a snapshot is taken
        if by_identity(content):
            same_cells.append((cell, content))
        elif type(content) in _MUTABLE:
            same_cells.append((cell, content))
            found.entries(content, checks)
        else:
            checks.append(cell_check(cell, content))
    found.cells += same_cells
    namespace = fun.__globals__
    names = set(bytecode_names(code))
    if "random" in names:
        raise _Unguardable
    attributes, wholesale = attribute_reads(code)
    found.attributes |= attributes
    found.wholesale = found.wholesale or wholesale
    unbound: list[str] = []  # names the module does not bind
    same_globals: dict[str, Any] = {}  # globals kept by identity
    for name in names:
        value = namespace.get(name, MISSING)
        if value is MISSING:
            unbound.append(name)
            value = _BUILTINS.get(name, MISSING)
            if value is not MISSING:
                _value(value, checks, seen, depth, found)
        elif (found.identity and depth == 0 and large(value)
              and read_symbolically(code, name, GLOBAL, found.bound)):
            found.large[id(value)] = value
            same_globals[name] = value
            checks.append(layout_check(value))
        elif type(value) is SimpleNamespace or plain_instance(value):
            same_globals[name] = value
            found.spaces.append((value, depth))
        else:
            _value(value, checks, seen, depth, found)
            if by_identity(value):
                same_globals[name] = value
            elif type(value) in _MUTABLE:
                same_globals[name] = value
                found.entries(value, checks)
            else:
                checks.append(global_check(namespace, name, value))
    if unbound:
        found.unbound(namespace, unbound)
    if same_globals:
        found.tables.setdefault(id(namespace), (namespace, {}))[1].update(same_globals)
    if len(checks) + len(found.functions) > _MAX_GUARDS:
        raise _Unguardable


def _value(value: Any, checks: list[Callable[[], bool]], seen: set[int], depth: int,
           found: _Found) -> None:
    """Guard what a value read by the code brings in, or refuse."""
    if isinstance(value, SCALARS):
        return
    if type(value) in CONTAINERS:
        entries = items(value)
        if len(entries) > _MAX_ITEMS or depth > _MAX_DEPTH:
            raise _Unguardable
        for item in entries.values():
            _value(item, checks, seen, depth + 1, found)
        return
    if plain_instance(value):  # its attributes: once every read is known (the layers of a model)
        found.spaces.append((value, depth + 1))
        return
    if type(value) is np.ndarray:
        if value.size >= tracing.CAPTURE_THRESHOLD or value.dtype.hasobject:
            raise _Unguardable
        return
    if type(value) is types.FunctionType:
        home = str(value.__module__)
        if home.partition(".")[0] in TRUSTED and "random" not in home:
            return  # NumPy's, SciPy's, matgrad's own: the same function object
        _function(value, checks, seen, depth + 1, found)
        return
    if isinstance(value, types.ModuleType):
        if value.__name__.partition(".")[0] in TRUSTED and "random" not in value.__name__:
            return
        raise _Unguardable
    if id(value) in WHOLESALE_VALUES:
        found.wholesale = True
    module = getattr(value, "__module__", None)
    trusted = isinstance(module, str) and module.partition(".")[0] in TRUSTED
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


_MUTABLE = (list, dict, SimpleNamespace)
