"""Checking derivatives at random valid inputs (layer 4): :func:`check_claim`, which
judges a claimed derivative and names the usual mistakes, and the helpers the
``matgrad`` command shares with it (:func:`random_values`, :func:`numeric_check`).

**Random valid inputs.**  :func:`random_values` draws a value for every symbol of
some expressions so that they can be evaluated and differentiated there, following
the domain each operation declares for its operands
(:meth:`matgrad.ir.apply.Operation.domains`):

- a symbol named in ``spd`` gets a symmetric positive definite value
  ``B Bᵀ/n + I``;
- a square symbol under an operand that must be invertible (``inv``, ``det``,
  ``logdet``, ``adj``; also through ``solve`` and negative ``matrix_power``) gets
  ``n·I + E`` with ``E`` uniform in ``(-½, ½)``: diagonally dominant, so
  invertible with positive determinant and a condition number below 3;
- a symbol under an operand that must be positive (``log``, ``sqrt``, a
  fractional power) gets entries uniform in ``(½, 3/2)`` (in ``(0, ½)`` for ``E``
  above);
- a symbol under an operand that must be nonzero (``abs``, ``sign``, a negative
  integer power) gets entries of random sign with magnitudes uniform in
  ``(½, 3/2)`` (as a positive one in the two cases above);
- any other symbol gets standard normal entries; a symbol declared symmetric gets
  the symmetric part of its draw.

The draw is repeated (up to 20 times) until every expression is finite there and
every operand that must be invertible has a condition number below ``10⁶``.

>>> import matgrad as mg
>>> report = mg.check_claim("x'*A*x", "x", "2*A*x")
>>> report.correct, report.mistake
(False, 'symmetric')
>>> print(report.diagnosis)  # doctest: +ELLIPSIS
the claim holds only when A is symmetric: ...
>>> mg.check_claim("x'*A*x", "x", "(A + A')*x").correct
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matgrad import _random
from matgrad._types import FloatArray as Array
from matgrad.calculus.diff import derivative
from matgrad.errors import InvalidArgumentError, NonFiniteError, elide
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Expr, Symbol
from matgrad.language.parse import parse_expression
from matgrad.numeric import gradient_error
from matgrad.testing import DerivativeReport, check_derivative

__all__ = [
    "ClaimEntry",
    "ClaimReport",
    "check_claim",
    "numeric_check",
    "random_values",
]

_ATTEMPTS = 20
_MAX_CONDITION = 1e6
_RTOL = 1e-7  # claims and derivatives are compared exactly, up to rounding


# =====================================================================================
# Random valid inputs
# =====================================================================================


def _symbols(exprs: Iterable[Expr]) -> dict[str, Symbol]:
    found: dict[str, Symbol] = {}
    for e in exprs:
        for s in e.symbols():
            other = found.setdefault(s.name, s)
            if other is not s:
                raise InvalidArgumentError(
                    f"two different symbols are named {s.name!r} (shapes {other.shape} and "
                    f"{s.shape}); give them different names"
                )
    return found


_INVERTIBLE = frozenset({"invertible", "spd"})
"""Operand domains that need an invertible, well-conditioned matrix."""


def _domains(node: Expr) -> Iterable[tuple[Expr, str]]:
    """Each operand of ``node`` with the domain its operation declares for it."""
    if isinstance(node, Apply):
        yield from zip(node.args, node.op.domains(node.attrs))


def _needs(exprs: Iterable[Expr]) -> tuple[set[str], set[str], set[str]]:
    """The names under operands that must be invertible (``invertible``, ``spd``),
    positive, and nonzero, by the domains the operations declare."""
    invertible: set[str] = set()
    positive: set[str] = set()
    nonzero: set[str] = set()
    needs = {"positive": positive, "nonzero": nonzero}
    for e in exprs:
        for node in e.walk():
            for operand, domain in _domains(node):
                names = {s.name for s in operand.symbols()}
                if domain in _INVERTIBLE:
                    invertible |= names
                elif domain in needs:
                    needs[domain] |= names
    return invertible, positive, nonzero


def _draw(sym: Symbol, rng: np.random.Generator, invertible: bool, positive: bool,
          spd: bool, nonzero: bool = False) -> Array:
    shape = sym.shape
    square = len(shape) == 2 and shape[0] == shape[1]
    if spd and square:
        n = shape[0]
        positive = positive or nonzero
        b = rng.uniform(0.1, 1.0, shape) if positive else rng.standard_normal(shape)
        return np.asarray(b @ b.T / n + np.eye(n))
    if invertible and square:
        positive = positive or nonzero
        e = rng.uniform(0.0, 0.5, shape) if positive else rng.uniform(-0.5, 0.5, shape)
        return _random.dominant_diagonal(_random.symmetrize(e) if sym.symmetric else e)
    if nonzero and not positive:
        signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
        size = rng.uniform(0.5, 1.5, shape)
        if sym.symmetric:
            signs = np.triu(signs) + np.triu(signs, 1).T
            return np.asarray(signs * _random.symmetrize(size), dtype=np.float64)
        return np.asarray(signs * size, dtype=np.float64)
    value = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape)
    return _random.symmetrize(value) if sym.symmetric else np.asarray(value, dtype=np.float64)


def _bind(expr: Expr, values: Mapping[str, Array]) -> dict[str, Array]:
    return {s.name: values[s.name] for s in expr.symbols()}


def _evaluate(expr: Expr, values: Mapping[str, Array]) -> Array:
    value = np.asarray(expr.evaluate(**_bind(expr, values)))
    if np.iscomplexobj(value):
        raise InvalidArgumentError(
            f"only real expressions can be checked; {elide(str(expr))} is complex"
        )
    return value.astype(np.float64, copy=False)


def _evaluate_claim(claim: Expr, values: Mapping[str, Array]) -> Array:
    """The claim's value, NaN where it cannot be evaluated (a singular matrix)."""
    try:
        return _evaluate(claim, values)
    except np.linalg.LinAlgError:
        return np.full(claim.shape, np.nan)


def _valid(exprs: Sequence[Expr], values: Mapping[str, Array]) -> bool:
    with np.errstate(all="ignore"):
        try:
            for e in exprs:
                for node in e.walk():
                    for operand, domain in _domains(node):
                        if domain not in _INVERTIBLE:
                            continue
                        arg = _evaluate(operand, values)
                        if not np.all(np.isfinite(arg)) or np.linalg.cond(arg) > _MAX_CONDITION:
                            return False
                if not np.all(np.isfinite(_evaluate(e, values))):
                    return False
        except (np.linalg.LinAlgError, NonFiniteError, ZeroDivisionError):
            return False
    return True


def random_values(
    exprs: Sequence[Expr],
    *,
    seed: int | np.random.Generator = 0,
    spd: Iterable[str] = (),
    extra: Iterable[Symbol] = (),
    hints: Sequence[Expr] = (),
) -> dict[str, Array]:
    """A value for every symbol of ``exprs``, ``hints`` and ``extra`` at which all of
    ``exprs`` can be evaluated; see the module docstring for how they are drawn.
    ``hints`` shape the draw (a symbol under ``log`` there gets positive values)
    without having to be finite at it.

    Raises :class:`~matgrad.errors.NonFiniteError` when 20 draws all fail.

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (3, 3))
    >>> values = random_values([mg.logdet(X)], seed=1)
    >>> bool(np.linalg.det(values["X"]) > 0)
    True
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    symbols = _symbols([*exprs, *hints, *extra])
    invertible, positive, nonzero = _needs([*exprs, *hints])
    spd_names = set(spd)
    for name in sorted(spd_names & set(symbols)):
        shape = symbols[name].shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InvalidArgumentError(f"{name} is declared SPD but has shape {shape}")
    values: dict[str, Array] = {}
    for _ in range(_ATTEMPTS):
        values = {
            name: _draw(symbols[name], rng, name in invertible, name in positive,
                        name in spd_names, name in nonzero)
            for name in sorted(symbols)
        }
        if _valid(exprs, values):
            return values
    raise NonFiniteError(
        f"found no inputs in {_ATTEMPTS} random draws where "
        + ", ".join(elide(str(e)) for e in exprs[:2])
        + " can be evaluated (finite, well-conditioned matrices under inv/det/logdet)"
    )


# =====================================================================================
# The numerical check of a symbolic derivative (matgrad derive --check)
# =====================================================================================


def numeric_check(
    f: Expr,
    wrt: Symbol,
    values: Mapping[str, Array],
    *,
    order: int = 1,
    result: Expr | None = None,
) -> DerivativeReport:
    """Compare ``derivative(f, wrt, order)`` (or ``result``) at ``values`` with
    Richardson-extrapolated numerical differentiation of the order-``order − 1``
    symbolic derivative: the last step is checked numerically, the earlier ones
    symbolically.  For a symmetric ``wrt`` the function differentiated is
    ``M ↦ f((M + Mᵀ)/2)``, whose gradient is the symmetric gradient.  Returns
    :class:`matgrad.testing.DerivativeReport` (``passed`` at ``rtol=1e-6``).

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (2, 2))
    >>> values = random_values([mg.logdet(X)])
    >>> numeric_check(mg.logdet(X), X, values).passed
    True
    """
    lower = f if order == 1 else derivative(f, wrt, order - 1)
    top = result if result is not None else derivative(f, wrt, order)
    analytic = _evaluate(top, values)

    def fun(m: Array) -> Array:
        point = (m + m.T) / 2 if wrt.symmetric else m
        return _evaluate(lower, {**values, wrt.name: point})

    return check_derivative(fun, analytic, values[wrt.name], method="richardson")


# =====================================================================================
# Claims
# =====================================================================================


@dataclass(frozen=True)
class ClaimEntry:
    """One entry of the derivative where the claim is furthest off."""

    index: tuple[int, ...]
    claim: float
    true: float
    abs_error: float


@dataclass(frozen=True)
class ClaimReport:
    """The verdict of :func:`check_claim`.

    ``correct``: the claim equals the derivative at every trial (relative
    tolerance ``1e-7`` of the largest entry).  ``diagnosis``: one sentence, naming
    the mistake when one is recognised.  ``mistake``: ``None`` when correct, else
    one of ``"shape"``, ``"transpose"``, ``"sign"``, ``"sign-transpose"``,
    ``"factor"``, ``"factor-transpose"``, ``"symmetric"`` (right only for symmetric
    matrices), ``"independent-entries"`` and ``"unconstrained"`` (the two
    conventions for symmetric variables), ``"zero"`` (the derivative is zero),
    ``"nonfinite"`` or ``"unknown"``.  ``factor``: the constant for the factor
    mistakes.  ``error``: the largest ``gradient_error(claim, derivative)`` over
    the trials (NaN for a shape mismatch).  ``worst``: the entries furthest off at
    the worst trial, largest first.  ``derivative`` and ``claim`` are the two
    expressions compared.
    """

    correct: bool
    diagnosis: str
    mistake: str | None
    factor: float | None
    error: float
    worst: tuple[ClaimEntry, ...]
    derivative: Expr
    claim: Expr
    trials: int

    def __str__(self) -> str:
        verdict = "CORRECT" if self.correct else "INCORRECT"
        lines = [f"{verdict}: {self.diagnosis}"]
        if not math.isnan(self.error):
            lines.append(
                f"  largest relative difference over {self.trials} random input(s): "
                f"{self.error:.3g}"
            )
        if self.worst and not self.correct:
            lines.append("  worst entries (index into the derivative):")
            rows = [("index", "claim", "derivative", "abs error")] + [
                (str(e.index), f"{e.claim:.9g}", f"{e.true:.9g}", f"{e.abs_error:.3g}")
                for e in self.worst
            ]
            widths = [max(len(r[c]) for r in rows) for c in range(4)]
            for r in rows:
                cells = [r[0].ljust(widths[0])] + [r[c].rjust(widths[c]) for c in (1, 2, 3)]
                lines.append("    " + "  ".join(cells).rstrip())
        return "\n".join(lines)


def _close(a: Array, b: Array) -> bool:
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) <= _RTOL * scale + 1e-12


def _factor(pairs: Sequence[tuple[Array, Array]]) -> float | None:
    """The constant ``c`` with ``claim = c · truth`` at every trial, if there is one."""
    found: float | None = None
    for truth, claim in pairs:
        denom = float(np.sum(truth * truth))
        if denom == 0.0:
            return None
        c = float(np.sum(claim * truth)) / denom
        if not _close(claim, c * truth) or (found is not None and abs(c - found) > 1e-6 * abs(c)):
            return None
        found = c if found is None else found
    return found


def _number_text(c: float) -> str:
    return str(round(c)) if abs(c - round(c)) < 1e-9 else f"{c:.6g}"


def _worst(pairs: Sequence[tuple[Array, Array]], count: int = 5) -> tuple[ClaimEntry, ...]:
    best: tuple[ClaimEntry, ...] = ()
    largest = -1.0
    for truth, claim in pairs:
        diff = np.abs(claim - truth)
        diff = np.where(np.isnan(diff), np.inf, diff)
        top = float(np.max(diff, initial=0.0))
        if top <= largest:
            continue
        largest = top
        flat = np.argsort(-diff, axis=None, kind="stable")[:count]
        best = tuple(
            ClaimEntry(
                tuple(int(i) for i in np.unravel_index(k, diff.shape)),
                float(claim.flat[k]), float(truth.flat[k]), float(diff.flat[k]),
            )
            for k in flat
            if diff.flat[k] > 0
        )
    return best


def _diagnose(
    pairs: list[tuple[Array, Array]],
    wrt: Symbol,
    retry: Mapping[str, list[tuple[Array, Array]]],
) -> tuple[str, str, float | None]:
    """(mistake, diagnosis, factor) for a claim that is not correct."""
    if not all(np.all(np.isfinite(c)) for _, c in pairs):
        return "nonfinite", "the claim is not finite (NaN or infinity) at the random inputs", None
    if all(float(np.max(np.abs(t), initial=0.0)) == 0.0 for t, _ in pairs):
        return "zero", "the derivative is zero, but the claim is not", None
    if all(float(np.max(np.abs(c), initial=0.0)) == 0.0 for _, c in pairs):
        return "unknown", "the claim is zero, but the derivative is not", None
    square = pairs[0][0].ndim == 2 and pairs[0][0].shape[0] == pairs[0][0].shape[1]
    if square and all(_close(c, t.T) for t, c in pairs):
        return "transpose", "the claim is the transpose of the derivative (matgrad uses " \
            "numerator layout: the derivative of F with respect to X has shape F.shape + " \
            "X.shape, and the gradient of a scalar has X's shape)", None
    if all(_close(c, -t) for t, c in pairs):
        return "sign", "the claim has the wrong sign: it equals minus the derivative", None
    if square and all(_close(c, -t.T) for t, c in pairs):
        return "sign-transpose", "the claim equals minus the transpose of the derivative", None
    for transposed in (False, True):
        if transposed and not square:
            break
        c = _factor([(t.T if transposed else t, claim) for t, claim in pairs])
        if c is not None and not math.isclose(c, 1.0, rel_tol=1e-6):
            what = "the transpose of the derivative" if transposed else "the derivative"
            text = f"the claim is off by a constant factor: it equals {_number_text(c)} × {what}"
            if math.isclose(abs(c), 2.0, rel_tol=1e-6) or math.isclose(abs(c), 0.5, rel_tol=1e-6):
                if wrt.symmetric:
                    text += (
                        f" (for the symmetric {wrt.name}, matgrad's gradient is the symmetric "
                        "one, (G + Gᵀ)/2 of the unconstrained gradient G)"
                    )
                else:
                    text += (
                        " (a factor 2 often comes from a quadratic form: d(x'Ax)/dx = "
                        "(A + A')x, which is 2Ax only for symmetric A)"
                    )
            return ("factor-transpose" if transposed else "factor"), text, c
    if wrt.symmetric and square:
        if all(_close(c, 2 * t - np.diag(np.diag(t))) for t, c in pairs):
            return "independent-entries", (
                f"the claim is the derivative with respect to the independent entries of the "
                f"symmetric {wrt.name} (2G − diag(G)); matgrad's gradient of a symmetric matrix "
                "is the symmetric one, (G + Gᵀ)/2 of the unconstrained gradient G, which "
                "differs by a factor 2 off the diagonal"
            ), None
        if all(_close((c + c.T) / 2, t) for t, c in pairs):
            return "unconstrained", (
                f"the claim is an unconstrained gradient; for the symmetric {wrt.name} the "
                "gradient is its symmetric part (claim + claimᵀ)/2"
            ), None
    for names, again in retry.items():
        if all(_close(c, t) for t, c in again):
            those = "are" if "," in names else "is"
            return "symmetric", (
                f"the claim holds only when {names} {those} symmetric: it equals the derivative "
                f"where {names} {those} symmetric, not elsewhere (declare {names} symmetric "
                f"if {'they are' if ',' in names else 'it is'})"
            ), None
    return "unknown", (
        "the claim differs from the derivative, and is not its transpose, its negative, a "
        "constant multiple or a special case for symmetric matrices"
    ), None


def _as_symbol(wrt: str | Symbol, symbols: Mapping[str, Symbol]) -> Symbol:
    if isinstance(wrt, Symbol):
        return wrt
    if not isinstance(wrt, str) or wrt not in symbols:
        known = ", ".join(symbols) or "none"
        raise InvalidArgumentError(
            f"wrt: {wrt!r} does not occur in the expression; its symbols: {known}"
        )
    return symbols[wrt]


def check_claim(
    expr: str | Expr,
    wrt: str | Symbol,
    claim: str | Expr,
    *,
    trials: int = 3,
    seed: int = 0,
    order: int = 1,
    shapes: Mapping[str, object] | None = None,
    symmetric: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> ClaimReport:
    """Whether ``claim`` is the derivative of ``expr`` with respect to ``wrt``.

    ``expr`` and ``claim`` are expressions or text for :func:`matgrad.language.parse`
    (``shapes``, ``symmetric``, ``spd`` as there; the claim is parsed with the
    expression's shapes).  The true derivative ``derivative(expr, wrt, order)`` and
    the claim are evaluated at ``trials`` random valid inputs (see
    :func:`random_values`, drawn from ``seed``) and compared.  When they differ,
    the report says how, recognising a transposed derivative (denominator
    layout), a flipped sign, a constant factor, a formula that holds only for
    symmetric matrices (``2Ax`` for ``d(xᵀAx)/dx``), and the two conventions for
    symmetric variables.  A claim of the wrong shape is reported as
    ``shape mismatch: claim has shape ..., derivative has ...``.

    >>> import matgrad as mg
    >>> print(mg.check_claim("tr(A*X)", "X", "A").diagnosis)  # doctest: +ELLIPSIS
    the claim is the transpose of the derivative ...
    >>> print(mg.check_claim("a'*X*b", "X", "a*b'").diagnosis)  # doctest: +ELLIPSIS
    the claim equals the derivative at 3 random inputs ...
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise InvalidArgumentError(f"trials must be a positive int, got {trials!r}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise InvalidArgumentError(f"order must be a positive int, got {order!r}")
    symmetric, spd = tuple(symmetric), tuple(spd)
    if isinstance(expr, str):
        parsed = parse_expression(expr, shapes, symmetric=symmetric, spd=spd)
        f, named = parsed.expr, dict(parsed.symbols)
    else:
        f, named = expr, {s.name: s for s in expr.symbols()}
    x = _as_symbol(wrt, named)
    named.setdefault(x.name, x)
    true = derivative(f, x, order)
    if isinstance(claim, str):
        pinned = {**dict(shapes or {}), **{n: s.shape for n, s in named.items()}}
        c_expr = parse_expression(
            claim, pinned, symmetric=symmetric, spd=spd, result_shape=true.shape
        ).expr
    else:
        c_expr = claim
    strangers = sorted({s.name for s in c_expr.symbols()} - set(named))
    if strangers:
        raise InvalidArgumentError(
            f"the claim uses {', '.join(strangers)}, which the expression does not use"
        )
    if c_expr.shape != true.shape:
        return _shape_mismatch(f, x, true, c_expr, seed, spd, order)
    rng = np.random.default_rng(seed)
    pairs: list[tuple[Array, Array]] = []
    points: list[dict[str, Array]] = []
    for _ in range(trials):
        values = random_values([f, true], seed=rng, spd=spd, extra=[x], hints=[c_expr])
        points.append(values)
        with np.errstate(all="ignore"):
            pairs.append((_evaluate(true, values), _evaluate_claim(c_expr, values)))
    error = max(gradient_error(c, t) for t, c in pairs)
    worst = _worst(pairs)
    if all(_close(c, t) for t, c in pairs):
        diagnosis = (
            f"the claim equals the derivative at {trials} random input"
            f"{'s' if trials > 1 else ''} (largest relative difference {error:.1e})"
        )
        return ClaimReport(True, diagnosis, None, None, error, (), true, c_expr, trials)
    retry = _symmetrized(f, true, c_expr, x, points, spd)
    mistake, diagnosis, factor = _diagnose(pairs, x, retry)
    return ClaimReport(False, diagnosis, mistake, factor, error, worst, true, c_expr, trials)


def _symmetrized(
    f: Expr, true: Expr, claim: Expr, wrt: Symbol, points: list[dict[str, Array]],
    spd: Iterable[str],
) -> dict[str, list[tuple[Array, Array]]]:
    """The derivative and claim again at the same points with square, non-symmetric
    symbols made symmetric: each one alone, then all together (keyed by names)."""
    candidates = [
        s for s in _symbols([f, claim, true]).values()
        if s.ndim == 2 and s.shape[0] == s.shape[1] and not s.symmetric
        and s.name not in set(spd)
    ]
    groups = [[s] for s in candidates]
    if len(candidates) > 1:
        groups.append(candidates)
    result: dict[str, list[tuple[Array, Array]]] = {}
    for group in groups:
        again: list[tuple[Array, Array]] = []
        for values in points:
            changed = dict(values)
            for s in group:
                changed[s.name] = (values[s.name] + values[s.name].T) / 2
            with np.errstate(all="ignore"):
                again.append((_evaluate(true, changed), _evaluate_claim(claim, changed)))
        result[", ".join(s.name for s in group)] = again
    return result


def _shape_mismatch(
    f: Expr, wrt: Symbol, true: Expr, claim: Expr, seed: int, spd: Iterable[str], order: int
) -> ClaimReport:
    text = f"shape mismatch: claim has shape {claim.shape}, derivative has {true.shape}"
    transposed = true.ndim == 2 and claim.shape == true.shape[::-1]
    diagonal = true.ndim == 2 and true.shape[0] == true.shape[1] and claim.shape == true.shape[:1]
    if transposed or diagonal:
        values = random_values([f, true], seed=seed, spd=spd, extra=[wrt], hints=[claim])
        with np.errstate(all="ignore"):
            t, c = _evaluate(true, values), _evaluate_claim(claim, values)
        if transposed and _close(c, t.T):
            text += (
                "; the claim is the transpose of the derivative (denominator layout; matgrad "
                "uses numerator layout, shape F.shape + X.shape)"
            )
        elif diagonal and _close(c, np.diag(t)) and _close(t, np.diag(np.diag(t))):
            text += (
                "; the claim is the diagonal of the derivative, which is a diagonal matrix "
                "(the Jacobian of an entrywise function): write diag(...)"
            )
    return ClaimReport(False, text, "shape", None, math.nan, (), true, claim, 0)
