"""The ``matgrad`` command (layer 5).

Subcommands (``docs/cli.md``):

- ``matgrad derive EXPR --wrt X``: the derivative of a formula, printed in matrix
  notation (or LaTeX, index notation, NumPy source, JSON), with its shape, and
  checked against Richardson-extrapolated numerical differentiation at random
  valid inputs (PASS: exit 0, FAIL: exit 1);
- ``matgrad check EXPR --wrt X --claim FORMULA``: whether a claimed derivative is
  right, and which usual mistake it makes if not (correct: 0, incorrect: 1);
- ``matgrad demo``: the main job end to end on a few classic functions;
- ``matgrad serve``: a local web page for the same (``docs/web.md``).

Every subcommand is registered by one function ``_add_<name>(subparsers)`` listed
in :data:`COMMANDS`; it stores its handler as ``func`` on the parsed arguments
(``args.func(args) -> exit code``).  Bad input never prints a traceback: every
:class:`~matgrad.errors.MatgradError` is reported as a message with exit code 2
(a parse error shows the expression with a caret under the place); argparse's
own usage errors also exit with 2.  Output into a pipe whose reader has gone
(``matgrad identities list | head``) ends quietly with status 141, as a program ended
by SIGPIPE does.

A printed result may take several lines (a ``where`` block of named subexpressions):
its continuation lines are indented under the column where its first line starts.
The ``check`` command's report shows each expression elided to
:data:`~matgrad.errors.MESSAGE_LIMIT` characters (its ``--format json`` in full).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import matgrad as mg
from matgrad import _random, numeric
from matgrad.errors import MatgradError, ParseError, ShapeError, elide
from matgrad.identities.cli import add_cli as _add_identities
from matgrad.identities.cli import quiet_on_closed_pipe
from matgrad.language.claims import ClaimReport
from matgrad.language.parse import LocatedParseError, LocatedShapeError
from matgrad.web.derivation import Check, Problem, problem, run_check

_DEMO_TOLERANCE = 1e-8
_FORMATS = ("text", "latex", "einsum", "numpy", "json")

EXAMPLES = """\
examples:
  matgrad derive "tr(X'*A*X)" --wrt X
  matgrad derive "x'*A*x" --wrt x --order 2 --format latex
  matgrad derive "logdet(S) + a'*inv(S)*b" --wrt S --spd S
  matgrad derive "sum(exp(W*x + b))" --wrt W --shape W=2x4 --format json
  matgrad check "x'*A*x" --wrt x --claim "2*A*x"
  matgrad check "tr(A*X)" --wrt X --claim "A"
  matgrad identities list --topic determinant
  matgrad identities show trace-AXB
  matgrad identities verify
  matgrad demo --n 4

Formulas: + - * / (scaling; * between matrices and vectors is the matrix product,
x'*y the inner and x*y' the outer product), @, .* or ⊙ (entrywise), ./, ^ (entrywise
power), ' or .T (transpose), tr det logdet inv exp log sin cos tanh sigmoid sqrt
abs norm2 sum diag ...  Symbols without --shape get their shapes from use and name
(A matrix, x vector, alpha scalar); see docs/cli.md.
"""


# =====================================================================================
# demo
# =====================================================================================


@dataclass(frozen=True)
class _Example:
    title: str
    build: Callable[[int], tuple[mg.Expr, mg.Symbol, dict[str, np.ndarray]]]


def _inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "X": _random.dominant_diagonal(rng.standard_normal((n, n))),
        "A": rng.standard_normal((n, n)),
        "a": rng.standard_normal(n),
        "b": rng.standard_normal(n),
    }


def _examples(rng: np.random.Generator) -> list[_Example]:
    def trace_quadratic(n: int) -> tuple[mg.Expr, mg.Symbol, dict[str, np.ndarray]]:
        X, A = mg.Matrix("X", (n, n)), mg.Matrix("A", (n, n))
        return mg.trace(X.T @ A @ X), X, _inputs(n, rng)

    def logdet(n: int) -> tuple[mg.Expr, mg.Symbol, dict[str, np.ndarray]]:
        X = mg.Matrix("X", (n, n))
        return mg.logdet(X), X, _inputs(n, rng)

    def inverse_form(n: int) -> tuple[mg.Expr, mg.Symbol, dict[str, np.ndarray]]:
        X, a, b = mg.Matrix("X", (n, n)), mg.Vector("a", n), mg.Vector("b", n)
        return a @ mg.inv(X) @ b, X, _inputs(n, rng)

    return [
        _Example("trace(X.T @ A @ X)", trace_quadratic),
        _Example("log|det X|", logdet),
        _Example("a @ inv(X) @ b", inverse_form),
    ]


def _demo(seed: int, n: int) -> int:
    rng = np.random.default_rng(seed)
    failures = 0
    print(f"matgrad {mg.__version__}: symbolic derivatives, checked numerically "
          f"(n = {n}, seed {seed})\n")
    for example in _examples(rng):
        f, X, values = example.build(n)
        G = mg.derivative(f, X)
        symbolic = G.evaluate(**_bind(G, values))

        def f_of_x(M: np.ndarray, f: mg.Expr = f, values: dict[str, np.ndarray] = values) -> float:
            return float(f.evaluate(**_bind(f, {**values, "X": M})))

        estimate = numeric.gradient(f_of_x, values["X"], method="richardson")
        err = mg.gradient_error(symbolic, estimate)
        ok = err < _DEMO_TOLERANCE
        failures += not ok
        print(f"f(X)     = {example.title}")
        print(_field("df/dX    = ", str(G)))
        print(_field("LaTeX    : ", G.latex()))
        print(f"shape    : {G.shape}")
        print(f"check    : gradient_error vs numerical differentiation = {err:.1e}  "
              f"{'PASS' if ok else 'FAIL'} (tolerance {_DEMO_TOLERANCE:g})\n")
    return 1 if failures else 0


def _bind(expr: mg.Expr, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The values of the symbols ``expr`` depends on."""
    return {s.name: values[s.name] for s in expr.symbols()}


def _add_demo(subparsers: Any) -> argparse.ArgumentParser:
    demo: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="derive gradients, print them and check them numerically"
    )
    demo.add_argument("--n", type=int, default=3, help="matrix size (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    def run(args: argparse.Namespace) -> int:
        if args.n < 1:
            demo.error("--n must be a positive integer")
        return _demo(args.seed, args.n)

    demo.set_defaults(func=run)
    return demo


# =====================================================================================
# Options shared by derive and check
# =====================================================================================


def _shape_option(text: str) -> tuple[str, tuple[int, ...]]:
    """``X=3x4`` → ``("X", (3, 4))``; ``x=3``; ``s=scalar`` (or ``s=()``)."""
    name, eq, dims = text.partition("=")
    name, dims = name.strip(), dims.strip().strip("()").replace(" ", "")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=DIMS such as X=3x4, got {text!r}")
    if dims in ("", "scalar"):
        return name, ()
    parts = [p for p in dims.replace("×", "x").replace(",", "x").split("x")]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=DIMS such as X=3x4, x=3 or s=scalar, got {text!r}"
        ) from None
    if any(n < 1 for n in shape):
        raise argparse.ArgumentTypeError(f"dimensions must be positive, got {text!r}")
    return name, shape


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _names(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def _add_expression_options(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    p.add_argument("expr", metavar="EXPR", help="the formula, e.g. \"tr(X'*A*X)\"")
    p.add_argument("--wrt", required=True, metavar="X", help="the variable to differentiate by")
    p.add_argument("--order", type=_positive, default=1, help="order of the derivative (1)")
    p.add_argument(
        "--shape", action="append", type=_shape_option, default=[], metavar="NAME=DIMS",
        help="a symbol's shape: X=3x4, x=3, s=scalar (repeatable)",
    )
    p.add_argument(
        "--symmetric", action="append", metavar="NAMES", help="symbols that are symmetric"
    )
    p.add_argument(
        "--spd", action="append", metavar="NAMES",
        help="symbols that are symmetric positive definite (random values are SPD)",
    )
    p.add_argument(
        "--size", type=_positive, default=3,
        help="size of dimensions that neither --shape nor the formula fixes (3)",
    )
    p.add_argument("--format", choices=formats, default="text", help="output format (text)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the inputs (0)")


def _problem(args: argparse.Namespace, also: Sequence[str] = ()) -> Problem:
    return problem(
        args.expr, args.wrt, dict(args.shape), _names(args.symmetric), _names(args.spd),
        args.size, also=also,
    )


def _symbol_text(s: mg.Symbol, spd: Sequence[str]) -> str:
    kind = {0: "scalar", 1: "vector", 2: "matrix"}.get(s.ndim, f"rank-{s.ndim} tensor")
    flags = " SPD" if s.name in spd else " symmetric" if s.symmetric else ""
    shape = f" {s.shape}" if s.ndim else ""
    return f"{s.name}: {kind}{shape}{flags}"


def _field(head: str, text: str) -> str:
    r"""``head`` and ``text``, the text's continuation lines indented under its first.

    >>> print(_field("df/dx    = ", "2 * r\nwhere\n    r = A @ x - b"))
    df/dx    = 2 * r
               where
                   r = A @ x - b
    """
    return head + text.replace("\n", "\n" + " " * len(head))


def _label(order: int, wrt: str) -> str:
    return f"df/d{wrt}" if order == 1 else f"d^{order}f/d{wrt}^{order}"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


# =====================================================================================
# derive
# =====================================================================================


def _run_check(p: Problem, f: mg.Expr, result: mg.Expr, order: int, seed: int) -> Check:
    return run_check(f, p.wrt, result, order, seed, p.spd)


def _derive(args: argparse.Namespace) -> int:
    p = _problem(args)
    f = p.parsed.expr
    G = mg.derivative(f, p.wrt, args.order)
    check = _run_check(p, f, G, args.order, args.seed) if args.check else None
    forms = {
        "text": str(G), "latex": G.latex(), "einsum": G.einsum(),
        "numpy": G.to_numpy("derivative"),
    }
    if args.format == "json":
        report = check.report if check else None
        out: dict[str, Any] = {
            "expression": args.expr,
            "parsed": str(f),
            "wrt": p.wrt.name,
            "order": args.order,
            "symbols": {
                s.name: {"shape": list(s.shape), "symmetric": s.symmetric, "spd": s.name in p.spd}
                for s in p.parsed.symbols.values()
            },
            "shape": list(G.shape),
            "derivative": forms,
            "check": None if check is None else {
                "passed": check.passed,
                "error": None if report is None else _finite(report.error),
                "max_abs_error": None if report is None else _finite(report.max_abs_error),
                "rtol": None if report is None else report.rtol,
                "method": "richardson",
                "seed": args.seed,
                "problem": check.problem or None,
            },
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        label = _label(args.order, p.wrt.name)
        print(_field("f        = ", str(f)))
        print("symbols  : " + ", ".join(_symbol_text(s, p.spd) for s in p.parsed.symbols.values()))
        if args.format == "numpy":
            print(f"{label:<8} :\n{forms['numpy']}", end="")
        else:
            print(_field(f"{label:<8} = ", forms[args.format]))
        print(f"shape    : {G.shape} = {f.shape} + {args.order} × {p.wrt.shape}"
              if args.order > 1 else f"shape    : {G.shape} = {f.shape} + {p.wrt.shape}")
        if check is not None:
            print("check    : " + _check_text(check, args.seed))
    return 0 if check is None or check.passed else 1


def _check_text(check: Check, seed: int) -> str:
    if check.report is None:
        return check.problem if check.skipped else f"{check.problem}  FAIL"
    r = check.report
    verdict = "PASS" if r.passed else "FAIL"
    text = (
        f"gradient_error vs numerical differentiation (Richardson) = {r.error:.1e}  {verdict} "
        f"(tolerance {r.rtol:g}, seed {seed})"
    )
    if not r.passed:
        text += "\n" + "\n".join("  " + line for line in str(r).splitlines())
    return text


def _add_derive(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "derive",
        help="print the derivative of a formula and check it numerically",
        description="Derive EXPR with respect to X: print the derivative and its shape, and "
        "check it against numerical differentiation at random valid inputs "
        "(exit 0 PASS, 1 FAIL, 2 bad input).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_expression_options(p, _FORMATS)
    p.add_argument(
        "--check", action=argparse.BooleanOptionalAction, default=True,
        help="compare with numerical differentiation (default: --check)",
    )
    p.set_defaults(func=_derive)
    return p


# =====================================================================================
# check
# =====================================================================================


def _claim_json(args: argparse.Namespace, r: ClaimReport) -> dict[str, Any]:
    return {
        "expression": args.expr,
        "claim": args.claim,
        "wrt": args.wrt,
        "order": args.order,
        "correct": r.correct,
        "mistake": r.mistake,
        "factor": r.factor,
        "diagnosis": r.diagnosis,
        "error": _finite(r.error),
        "derivative": str(r.derivative),
        "parsed_claim": str(r.claim),
        "shape": list(r.derivative.shape),
        "claim_shape": list(r.claim.shape),
        "worst": [
            {"index": list(e.index), "claim": e.claim, "derivative": e.true,
             "abs_error": e.abs_error}
            for e in r.worst
        ],
    }


def _check(args: argparse.Namespace) -> int:
    p = _problem(args, also=[args.claim])
    report = mg.check_claim(
        p.parsed.expr, p.wrt, args.claim, trials=args.trials, seed=args.seed, order=args.order,
        shapes={**p.shapes, **{n: s.shape for n, s in p.parsed.symbols.items()}},
        symmetric=p.symmetric, spd=p.spd,
    )
    if args.format == "json":
        print(json.dumps(_claim_json(args, report), ensure_ascii=False, indent=2))
    else:
        label = _label(args.order, p.wrt.name)
        print(_field("f        = ", elide(str(p.parsed.expr))))
        print(_field("claim    = ", elide(str(report.claim))))
        first, newline, rest = elide(str(report.derivative)).partition("\n")
        shown = f"{first}   (matgrad, shape {report.derivative.shape}){newline}{rest}"
        print(_field(f"{label:<8} = ", shown))
        print(report)
    return 0 if report.correct else 1


def _add_check(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="check a claimed derivative and name the mistake",
        description="Check whether FORMULA is the derivative of EXPR with respect to X, at "
        "random valid inputs; when it is not, say how it differs (transposed, sign, constant "
        "factor, right only for symmetric matrices). Exit 0 correct, 1 incorrect, 2 bad input.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_expression_options(p, ("text", "json"))
    p.add_argument("--claim", required=True, metavar="FORMULA", help="the claimed derivative")
    p.add_argument("--trials", type=_positive, default=3, help="random inputs to compare at (3)")
    p.set_defaults(func=_check)
    return p


# =====================================================================================
# serve
# =====================================================================================


def _add_serve(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="a local web page: type a formula, see its derivative (docs/web.md)",
        description="Serve a web page on this machine to type a formula and see its "
        "derivative, rendered, checked numerically, with the heatmap of its Jacobian and "
        "a check of your own derivative. Bound to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port (default 8765, or a free one when taken; 0: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the browser")
    p.add_argument("--workers", type=_positive, default=2,
                   help="worker processes for derivations (2)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                   help="time limit of one derivation (10)")
    p.add_argument("--verbose", action="store_true", help="log every request")

    def run(args: argparse.Namespace) -> int:
        from matgrad.web.server import serve

        if not 0 < args.time_limit <= 600:
            p.error("--time-limit must be between 0 and 600 seconds")
        return serve(args.host, args.port, open_browser=args.open, workers=args.workers,
                     time_limit=args.time_limit, verbose=args.verbose)

    p.set_defaults(func=run)
    return p


# =====================================================================================
# The command
# =====================================================================================

COMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    _add_derive,
    _add_check,
    _add_identities,
    _add_demo,
    _add_serve,
)
"""The subcommands, each registered by one function of the subparsers object."""


def build_parser() -> argparse.ArgumentParser:
    """The ``matgrad`` argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="matgrad",
        description="Matrix and tensor calculus you can trust: derivatives of matrix "
        "formulas, checked numerically.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"matgrad {mg.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _error_kind(err: MatgradError) -> str:
    if isinstance(err, ParseError):
        return "parse error"
    if isinstance(err, ShapeError):
        return "shape error"
    return "error"


def _report(args: argparse.Namespace, err: MatgradError) -> int:
    if getattr(args, "format", "text") == "json":
        kind = next(
            (k.__name__ for k in (ParseError, ShapeError) if isinstance(err, k)),
            type(err).__name__,
        )
        body: dict[str, Any] = {"kind": kind, "message": str(err)}
        if isinstance(err, (LocatedParseError, LocatedShapeError)):
            body["position"] = err.position
            body["problem"] = err.problem
            body["hint"] = err.hint or None
        print(json.dumps({"error": body}, ensure_ascii=False, indent=2))
    else:
        print(f"matgrad {args.command}: {_error_kind(err)}: {err}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``matgrad`` command; returns the exit code.

    >>> main(["derive", "x'*A*x", "--wrt", "x", "--no-check"])
    f        = x @ A @ x
    symbols  : x: vector (3,), A: matrix (3, 3)
    df/dx    = (A + A.T) @ x
    shape    : (3,) = () + (3,)
    0
    """
    return quiet_on_closed_pipe(lambda: _run(argv))


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except MatgradError as err:
        return _report(args, err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
