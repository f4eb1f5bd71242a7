"""The ``matgrad`` command (layer 5).

``matgrad demo`` runs matgrad's main job end to end on a few classic functions:
it derives each derivative symbolically, prints it in matrix notation and LaTeX,
evaluates it at random inputs and checks it against Richardson-extrapolated
numerical differentiation with the book's relative error (MML §5.2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import matgrad as mg
from matgrad import numeric

_DEMO_TOLERANCE = 1e-8


@dataclass(frozen=True)
class _Example:
    title: str
    build: Callable[[int], tuple[mg.Expr, mg.Symbol, dict[str, np.ndarray]]]


def _inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "X": rng.standard_normal((n, n)) + n * np.eye(n),
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
        print(f"df/dX    = {G}")
        print(f"LaTeX    : {G.latex()}")
        print(f"shape    : {G.shape}")
        print(f"check    : gradient_error vs numerical differentiation = {err:.1e}  "
              f"{'PASS' if ok else 'FAIL'} (tolerance {_DEMO_TOLERANCE:g})\n")
    return 1 if failures else 0


def _bind(expr: mg.Expr, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The values of the symbols ``expr`` depends on."""
    return {s.name: values[s.name] for s in expr.symbols()}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``matgrad`` command; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="matgrad",
        description="Matrix and tensor calculus you can trust.",
        epilog="example:  matgrad demo --n 4 --seed 1",
    )
    parser.add_argument("--version", action="version", version=f"matgrad {mg.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="derive gradients, print them and check them numerically")
    demo.add_argument("--n", type=int, default=3, help="matrix size (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.n < 1:
            parser.error("--n must be a positive integer")
        return _demo(args.seed, args.n)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
