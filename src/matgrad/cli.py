"""The ``matgrad`` command (layer 5).

``matgrad demo`` runs matgrad's main job end to end: it differentiates
``log|det X|`` at a random invertible ``X``, prints the derivative, and checks it
against the closed form ``X⁻ᵀ`` with the book's relative error measure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from matgrad import __version__, numeric

_DEMO_TOLERANCE = 1e-9


def _demo(seed: int, n: int) -> int:
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal((n, n)) + n * np.eye(n)

    def f(X: np.ndarray) -> float:
        return float(np.linalg.slogdet(X)[1])

    numeric_grad = numeric.gradient(f, X0, method="richardson")
    closed_form = np.linalg.inv(X0).T
    err = numeric.gradient_error(closed_form, numeric_grad)
    ok = err < _DEMO_TOLERANCE
    np.set_printoptions(precision=6, suppress=True)
    print(f"f(X) = log|det X|   with X a random {n}x{n} matrix (seed {seed})")
    print("df/dX by Richardson-extrapolated central differences:")
    print(numeric_grad)
    print("closed form X^-T (Matrix Cookbook (57)):")
    print(closed_form)
    print(f"gradient_error = {err:.2e}   {'PASS' if ok else 'FAIL'} (tolerance {_DEMO_TOLERANCE:g})")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``matgrad`` command; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="matgrad",
        description="Matrix and tensor calculus you can trust.",
        epilog="example:  matgrad demo --n 4 --seed 1",
    )
    parser.add_argument("--version", action="version", version=f"matgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="derive a gradient, print it and check it numerically")
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
