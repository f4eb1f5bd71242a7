"""The ``matgrad identities`` command: list, show and verify catalogue entries (layer 4).

:func:`add_cli` registers the command on the ``matgrad`` command's subparsers;
each subcommand's handler is stored as ``func`` on the parsed arguments and
returns the exit code::

    matgrad identities list [--topic TOPIC]
    matgrad identities show NAME
    matgrad identities verify [NAME ...] [--topic TOPIC] [--sizes SIZES ...]
                              [--samples K] [--seed S]

``verify`` prints one line per identity (name, largest error, PASS/FAIL; XFAIL
for an entry with a known core gap, which may fail by matgrad's derivative raising;
SKIP when the identity itself cannot be instantiated or evaluated, e.g. at sizes it
is not stated for) and exits with 1 if any identity fails.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import matgrad.identities.catalogue as cat
from matgrad.calculus.diff import derivative
from matgrad.errors import MatgradError, elide
from matgrad.identities._record import Identity, describe_sizes
from matgrad.identities.verify import (
    NUMERIC_TOLERANCE,
    SYMBOLIC_TOLERANCE,
    verify,
)

__all__ = ["CLOSED_PIPE_STATUS", "add_cli", "main", "parse_sizes", "quiet_on_closed_pipe"]

Handler = Callable[[argparse.Namespace], int]


def parse_sizes(text: str) -> dict[str, int] | int:
    """``"3"`` → 3 (every dimension); ``"n=2,m=3"`` → ``{"n": 2, "m": 3}``.

    >>> parse_sizes("n=2,m=3")
    {'n': 2, 'm': 3}
    >>> parse_sizes("4")
    4
    """
    text = text.strip()
    try:
        if "=" not in text:
            value = int(text)
            if value < 1:
                raise ValueError
            return value
        out: dict[str, int] = {}
        for part in text.split(","):
            dim, _, size = part.partition("=")
            value = int(size)
            if not dim.strip() or value < 1:
                raise ValueError
            out[dim.strip()] = value
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad sizes {text!r}: use a positive int (every dimension) or n=2,m=3"
        ) from None


def _sizes_for(ident: Identity, spec: dict[str, int] | int) -> dict[str, int]:
    """The identity's first test sizes overridden by ``spec``."""
    base = dict(ident.sizes[0])
    if isinstance(spec, int):
        return {d: spec for d in base}
    return {d: spec.get(d, s) for d, s in base.items()}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ------------------------------------------------------------------------- handlers


def _field(head: str, text: str) -> str:
    """``head`` and ``text``, the text's continuation lines (a ``where`` block)
    indented under its first."""
    return head + text.replace("\n", "\n" + " " * len(head))


def _list(args: argparse.Namespace, out: TextIO) -> int:
    entries = cat.by_topic(args.topic) if args.topic else cat.all()
    width = max((len(i.name) for i in entries), default=4)
    for ident in entries:
        out.write(f"{ident.name:<{width}}  {ident.topic:<13}  {ident.title}\n")
    out.write(f"{len(entries)} identities\n")
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    try:
        ident: Identity = cat.get(args.name)
    except KeyError as err:
        out.write(f"error: {err.args[0]}\n")
        return 2
    lines = [
        f"{ident.name}: {ident.title}",
        f"topic      : {ident.topic}",
        f"source     : {ident.source}",
        f"identity   : {ident.latex}",
        "symbols    : " + ", ".join(s.describe() for s in ident.symbols),
        "conditions : " + (", ".join(c.describe() for c in ident.conditions) or "none"),
        f"variable   : {ident.wrt} (order {ident.order})",
        "verified at: " + "; ".join(describe_sizes(s) for s in ident.sizes),
    ]
    inst = ident.instantiate(None, 0)
    lines += [
        f"at {describe_sizes(inst.sizes)}:",
        _field("  f            = ", str(inst.function)),
        _field("  closed form  = ", str(inst.closed_form)),
        _field("  matgrad      = ", str(derivative(inst.function, inst.wrt, inst.order))),
        f"  shape        = {inst.closed_form.shape}",
    ]
    if ident.notes:
        lines.append(f"notes      : {ident.notes}")
    out.write("\n".join(lines) + "\n")
    return 0


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    try:
        if args.names:
            entries = [cat.get(n) for n in args.names]
        elif args.topic:
            entries = list(cat.by_topic(args.topic))
        else:
            entries = list(cat.all())
    except KeyError as err:
        out.write(f"error: {err.args[0]}\n")
        return 2
    width = max(len(i.name) for i in entries)
    out.write(f"{'identity':<{width}}  {'max error':>9}  result\n")
    failed = skipped = expected = 0
    for ident in entries:
        sizes = None if not args.sizes else [_sizes_for(ident, s) for s in args.sizes]
        try:
            result = verify(ident, sizes, samples=args.samples, seed=args.seed)
        except (MatgradError, ValueError) as err:  # the identity's own, not matgrad's derivative
            skipped += 1
            out.write(f"{ident.name:<{width}}  {'-':>9}  SKIP ({elide(str(err))})\n")
            continue
        if ident.core_gap:
            # a known gap of the core: failing is expected, passing means it was fixed
            status = "XPASS (remove its core_gap)" if result.passed else "XFAIL (core gap)"
            expected += not result.passed
            failed += result.passed
        else:
            status = "PASS" if result.passed else "FAIL"
            failed += not result.passed
        out.write(f"{ident.name:<{width}}  {result.max_error:9.1e}  {status}\n")
        if not ident.core_gap:
            for line in result.failures():
                out.write(f"    {line}\n")
    passed = len(entries) - failed - skipped - expected
    out.write(
        f"{len(entries)} identities: {passed} passed, {failed} failed, {expected} expected "
        f"failures (known core gaps), {skipped} skipped "
        f"(tolerances: closed form vs symbolic {SYMBOLIC_TOLERANCE:g}, "
        f"vs numeric {NUMERIC_TOLERANCE:g})\n"
    )
    return 1 if failed else 0


# ------------------------------------------------------------------------- closed pipe

CLOSED_PIPE_STATUS = 128 + int(signal.SIGPIPE) if hasattr(signal, "SIGPIPE") else 1
"""The exit status when the reader of standard output went away (``| head``): what a
shell reports for a program ended by SIGPIPE, 141; 1 where there is no SIGPIPE."""


def quiet_on_closed_pipe(run: Callable[[], int]) -> int:
    """``run()``'s exit status, or :data:`CLOSED_PIPE_STATUS` without a traceback when
    standard output is a pipe whose reader has gone (``matgrad identities list | head``).

    As Python's documentation of SIGPIPE recommends: the output is flushed inside the
    ``try`` (so that the error shows here, not at exit), and after a
    ``BrokenPipeError`` standard output is pointed at ``os.devnull``, so that the
    flush at interpreter exit has nowhere to fail.
    """
    try:
        try:
            return run()
        finally:  # also when run() exits (argparse's --help)
            sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured, closed)
            pass
        return CLOSED_PIPE_STATUS


# ------------------------------------------------------------------------- parser


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``identities`` (with ``list``, ``show`` and ``verify``) on an
    ``argparse`` subparsers object; the handler of the chosen subcommand is
    ``args.func(args) -> int``.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="matgrad")
    >>> _ = add_cli(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["identities", "show", "trace-X"])
    >>> args.func(args)  # doctest: +ELLIPSIS
    trace-X: Trace, tr(X)
    ...
    0
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "identities",
        help="the catalogue of machine-verified matrix-derivative identities",
        description="List, show and verify the identity catalogue (docs/identities.md).",
    )
    sub = parser.add_subparsers(dest="identities_command", metavar="SUBCOMMAND")

    def bind(handler: Callable[[argparse.Namespace, TextIO], int]) -> Handler:
        return lambda args: handler(args, sys.stdout)

    listing = sub.add_parser("list", help="list the identities (name, topic, title)")
    listing.add_argument("--topic", choices=list(cat.TOPICS), help="only this topic")
    listing.set_defaults(func=bind(_list))

    show = sub.add_parser("show", help="show one identity, its closed form and matgrad's")
    show.add_argument("name", help="the identity's name, e.g. trace-AXB")
    show.set_defaults(func=bind(_show))

    check = sub.add_parser(
        "verify",
        help="verify identities against matgrad's derivative and numerical differentiation",
        epilog="sizes: '3' sets every dimension to 3; 'n=2,m=3' sets those dimensions "
        "(the others keep each identity's default)",
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="identities (default: all)")
    check.add_argument("--topic", choices=list(cat.TOPICS), help="only this topic")
    check.add_argument(
        "--sizes", nargs="+", type=parse_sizes, metavar="SIZES",
        help="sizes to verify at (default: each identity's test sizes)",
    )
    check.add_argument(
        "--samples", type=_positive, default=3, help="random inputs per size (3)"
    )
    check.add_argument("--seed", type=int, default=0, help="random seed (0)")
    check.set_defaults(func=bind(_verify))

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``matgrad identities ...`` on its own: parse ``argv`` and run the subcommand."""
    parser = argparse.ArgumentParser(prog="matgrad")
    add_cli(parser.add_subparsers(dest="command", metavar="COMMAND"))

    def run() -> int:
        args = parser.parse_args(["identities", *(argv if argv is not None else sys.argv[1:])])
        handler: Handler = args.func
        return handler(args)

    return quiet_on_closed_pipe(run)
