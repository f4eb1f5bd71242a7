"""The JSON API of ``matgrad serve`` (layer 7): requests checked, answers computed.

Three calls, each a JSON object in and a JSON object out (``docs/web.md``):

- ``parse``: the formula's display form, LaTeX, shape and the inferred shapes of
  its symbols (the page's live feedback);
- ``derive``: the derivative of any order in matrix notation, LaTeX, NumPy source
  and index notation, its shape ``out + in``, the numerical check, and the
  flattened Jacobian matrix at the check's random inputs (the heatmap);
- ``check``: :func:`~matgrad.language.claims.check_claim` of a claimed derivative,
  naming the mistake.

:func:`read_request` turns a decoded body into a :class:`Request` or raises
:class:`BadRequest` (status 400, with a message naming the field);
:func:`answer` computes a call's answer as ``(status, body)``: 200, or 422 with
``{"error": {"kind", "message", "position", "end", "problem", "hint"}}`` when the
formula does not parse, its shapes conflict or an option does not fit.  Only the
parser reads the text: nothing is ever evaluated as Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import matgrad as mg
from matgrad.errors import InvalidArgumentError, MatgradError, ParseError, ShapeError
from matgrad.language.parse import LocatedParseError, LocatedShapeError
from matgrad.web.derivation import Formula, Labels, formula, problem, run_check

MAX_FORMULA = 2000
"""Characters of a formula or a claim."""
MAX_ORDER = 4
MAX_DIMENSION = 1000
"""Largest size of one dimension of a symbol (and of ``size``)."""
MAX_SYMBOLS = 64
"""Entries of ``shapes``, ``symmetric`` and ``spd``, each."""
MAX_CHECKED = 400
"""Entries of the variable beyond which the numerical check is skipped."""
MAX_EVALUATED = 10**6
"""Entries of the derivative beyond which it is not evaluated (check, heatmap)."""
MAX_HEATMAP = 128 * 128
"""Entries of the flattened Jacobian matrix the heatmap shows."""
MAX_TRIALS = 10

CALLS = ("parse", "derive", "check")
FIELDS: dict[str, tuple[str, ...]] = {
    "parse": ("formula", "shapes", "symmetric", "spd", "size"),
    "derive": ("formula", "wrt", "order", "shapes", "symmetric", "spd", "size", "seed"),
    "check": ("formula", "wrt", "order", "shapes", "symmetric", "spd", "size", "seed", "claim",
              "trials"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "parse": ("formula",), "derive": ("formula", "wrt"), "check": ("formula", "wrt", "claim"),
}
LABELS = Labels(shape="shapes", symmetric="symmetric", spd="spd", wrt="wrt")


class BadRequest(Exception):
    """A request that is not what the API takes: ``status`` (4xx) and a message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """A checked request of one of :data:`CALLS`."""

    call: str
    formula: str
    wrt: str = ""
    order: int = 1
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    symmetric: tuple[str, ...] = ()
    spd: tuple[str, ...] = ()
    size: int = 3
    seed: int = 0
    claim: str = ""
    trials: int = 3


# =====================================================================================
# Reading a request
# =====================================================================================


def _text(body: Mapping[str, Any], key: str, limit: int = MAX_FORMULA) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string, got {_type(value)}")
    if len(value) > limit:
        raise BadRequest(f"{key} is too long ({len(value)} characters; at most {limit})", 413)
    return value


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _integer(body: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer, got {_type(value)}")
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low} and {high}, got {value}")
    return value


def _name(value: object, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise BadRequest(f"{key}: symbol names are non-empty strings, got {value!r:.60}")
    return value


def _names(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body[key]
    if isinstance(value, str):
        value = [n.strip() for n in value.split(",") if n.strip()]
    if not isinstance(value, list) or len(value) > MAX_SYMBOLS:
        raise BadRequest(f"{key} must be a list of at most {MAX_SYMBOLS} symbol names")
    return tuple(dict.fromkeys(_name(v, key) for v in value))


def _dims(name: str, value: object) -> tuple[int, ...]:
    """``[3, 4]``, ``3``, ``"3x4"``, ``"3"``, ``"scalar"``, ``[]``."""
    if isinstance(value, str):
        text = value.strip().strip("()[]").replace(" ", "").replace("×", "x").replace(",", "x")
        if text in ("", "scalar"):
            return ()
        parts: list[object] = []
        for part in text.split("x"):
            if not part.isdigit() or len(part) > 6:
                raise BadRequest(f"shapes[{name!r}]: expected sizes such as 3x4, got {value!r:.60}")
            parts.append(int(part))
        value = parts
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or len(value) > 4 or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise BadRequest(
            f"shapes[{name!r}] must be a list of at most 4 integers or text such as 3x4"
        )
    if not all(1 <= d <= MAX_DIMENSION for d in value):
        raise BadRequest(f"shapes[{name!r}]: sizes must be between 1 and {MAX_DIMENSION}")
    return tuple(value)


def read_request(call: str, body: object) -> Request:
    """The :class:`Request` of ``call`` in ``body`` (a decoded JSON value); a
    :class:`BadRequest` names the first problem.

    >>> read_request("derive", {"formula": "x'*A*x", "wrt": "x", "shapes": {"A": "4x4"}}).shapes
    (('A', (4, 4)),)
    """
    if call not in CALLS:
        raise BadRequest(f"no such call {call!r}; the calls: {', '.join(CALLS)}", 404)
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {_type(body)}")
    unknown = sorted(set(body) - set(FIELDS[call]))
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r:.60}; {call} takes: {', '.join(FIELDS[call])}"
        )
    missing = [k for k in REQUIRED[call] if k not in body]
    if missing:
        raise BadRequest(f"missing field {missing[0]!r}")
    fields: dict[str, Any] = {"formula": _text(body, "formula")}
    if "wrt" in body:
        fields["wrt"] = _name(body["wrt"], "wrt")
    if "claim" in body:
        fields["claim"] = _text(body, "claim")
    if "order" in body:
        fields["order"] = _integer(body, "order", 1, MAX_ORDER)
    if "size" in body:
        fields["size"] = _integer(body, "size", 1, MAX_DIMENSION)
    if "seed" in body:
        fields["seed"] = _integer(body, "seed", 0, 2**32 - 1)
    if "trials" in body:
        fields["trials"] = _integer(body, "trials", 1, MAX_TRIALS)
    for key in ("symmetric", "spd"):
        if key in body:
            fields[key] = _names(body, key)
    if "shapes" in body:
        shapes = body["shapes"]
        if not isinstance(shapes, dict) or len(shapes) > MAX_SYMBOLS:
            raise BadRequest(f"shapes must be an object of at most {MAX_SYMBOLS} entries")
        fields["shapes"] = tuple(
            (_name(n, "shapes"), _dims(n, d)) for n, d in shapes.items()
        )
    return Request(call, **fields)


# =====================================================================================
# Answers
# =====================================================================================


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _symbols(f: Formula) -> list[dict[str, Any]]:
    kinds = {0: "scalar", 1: "vector", 2: "matrix"}
    return [
        {"name": s.name, "shape": list(s.shape), "kind": kinds.get(s.ndim, "tensor"),
         "symmetric": s.symmetric, "spd": s.name in f.spd}
        for s in f.parsed.symbols.values()
    ]


def _formula(req: Request) -> Formula:
    return formula(
        req.formula, dict(req.shapes), req.symmetric, req.spd, req.size,
        also=[req.claim] if req.claim else [], labels=LABELS, strict=False,
    )


def _parse(req: Request) -> dict[str, Any]:
    f = _formula(req)
    expr = f.parsed.expr
    return {
        "formula": req.formula, "parsed": str(expr), "latex": expr.latex(),
        "shape": list(expr.shape), "symbols": _symbols(f), "ignored": list(f.ignored),
    }


def _shape_text(out: tuple[int, ...], wrt: tuple[int, ...], order: int) -> str:
    ins = " + ".join([str(wrt)] * order)
    return f"{out} + {ins}"


def _heatmap(G: mg.Expr, wrt: mg.Symbol, values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The flattened Jacobian matrix of ``G`` (rows: everything but ``wrt``'s axes,
    columns: ``wrt``'s axes, both ``vec``-ordered column-major) at ``values``."""
    out_ndim = G.ndim - wrt.ndim
    rows, cols = math.prod(G.shape[:out_ndim]), math.prod(G.shape[out_ndim:])
    picture: dict[str, Any] = {"rows": rows, "cols": cols, "order": "F", "values": None,
                               "note": None}
    if rows * cols > MAX_HEATMAP:
        picture["note"] = f"{rows} × {cols} is too large to draw (at most {MAX_HEATMAP} entries)"
        return picture
    if not values:
        picture["note"] = "no random inputs to evaluate at"
        return picture
    with np.errstate(all="ignore"):
        J = np.asarray(G.evaluate(**{s.name: values[s.name] for s in G.symbols()}), dtype=float)
    M = mg.jacobian_matrix(np.broadcast_to(J, G.shape), out_ndim, order="F")
    picture["values"] = [[_finite(v) for v in row] for row in M.tolist()]
    if sum(np.size(v) for v in values.values()) <= MAX_HEATMAP:  # the inputs, to reproduce it
        picture["at"] = {name: np.asarray(v).tolist() for name, v in values.items()}
    return picture


def _derive(req: Request) -> dict[str, Any]:
    p = problem(
        req.formula, req.wrt, dict(req.shapes), req.symmetric, req.spd, req.size,
        labels=LABELS, strict=False,
    )
    f, wrt = p.parsed.expr, p.wrt
    G = mg.derivative(f, wrt, req.order)
    body: dict[str, Any] = {
        "formula": req.formula, "parsed": str(f), "latex": f.latex(), "wrt": wrt.name,
        "order": req.order, "symbols": _symbols(p), "ignored": list(p.ignored),
        "shape": list(G.shape), "out_shape": list(f.shape), "in_shape": list(wrt.shape),
        "shape_text": f"{G.shape} = {_shape_text(f.shape, wrt.shape, req.order)}",
        "derivative": {
            "text": str(G), "latex": G.latex(), "numpy": G.to_numpy("derivative"),
            "einsum": G.einsum(),
        },
    }
    if G.size > MAX_EVALUATED:
        problem_text = f"skipped: the derivative has {G.size} entries, more than {MAX_EVALUATED}"
        check = None
    else:
        check = run_check(f, wrt, G, req.order, req.seed, p.spd, max_checked=MAX_CHECKED)
        problem_text = check.problem
    report = check.report if check else None
    passed = check.passed if check else True
    status = "SKIPPED" if (check is None or check.skipped) else "PASS" if passed else "FAIL"
    body["check"] = {
        "status": status, "passed": passed,
        "error": None if report is None else _finite(report.error),
        "max_abs_error": None if report is None else _finite(report.max_abs_error),
        "rtol": None if report is None else report.rtol,
        "method": "richardson", "seed": req.seed, "problem": problem_text or None,
    }
    body["jacobian"] = _heatmap(G, wrt, check.values if check else {})
    return body


def _check(req: Request) -> dict[str, Any]:
    p = problem(
        req.formula, req.wrt, dict(req.shapes), req.symmetric, req.spd, req.size,
        also=[req.claim], labels=LABELS, strict=False,
    )
    r = mg.check_claim(
        p.parsed.expr, p.wrt, req.claim, trials=req.trials, seed=req.seed, order=req.order,
        shapes={**p.shapes, **{n: s.shape for n, s in p.parsed.symbols.items()}},
        symmetric=p.symmetric, spd=p.spd,
    )
    return {
        "formula": req.formula, "claim": req.claim, "wrt": p.wrt.name, "order": req.order,
        "correct": r.correct, "verdict": "CORRECT" if r.correct else "INCORRECT",
        "mistake": r.mistake, "factor": r.factor, "diagnosis": r.diagnosis,
        "error": _finite(r.error), "derivative": str(r.derivative),
        "derivative_latex": r.derivative.latex(), "parsed_claim": str(r.claim),
        "claim_latex": r.claim.latex(), "shape": list(r.derivative.shape),
        "claim_shape": list(r.claim.shape), "report": str(r),
    }


def error_body(kind: str, message: str, **extra: object) -> dict[str, Any]:
    """The body of an error answer."""
    return {"error": {"kind": kind, "message": message, **extra}}


def _error(err: MatgradError) -> dict[str, Any]:
    kind = next(
        (k.__name__ for k in (ParseError, ShapeError) if isinstance(err, k)), type(err).__name__
    )
    extra: dict[str, object] = {}
    if isinstance(err, (LocatedParseError, LocatedShapeError)):
        extra = {"position": err.position, "end": err.end, "problem": err.problem,
                 "hint": err.hint or None}
    return error_body(kind, str(err), **extra)


_CALLS = {"parse": _parse, "derive": _derive, "check": _check}


def answer(req: Request) -> tuple[int, dict[str, Any]]:
    """The answer to ``req``: ``(200, body)``, or ``(422, error)`` for a formula that
    does not parse, shapes that conflict, an option that does not fit, or arrays too
    large to evaluate (the compiler's size guard, or memory).

    >>> status, body = answer(read_request("derive", {"formula": "tr(A*X)", "wrt": "X"}))
    >>> status, body["derivative"]["text"], body["check"]["status"]
    (200, 'A.T', 'PASS')
    """
    try:
        with np.errstate(all="ignore"):
            return 200, _CALLS[req.call](req)
    except (MatgradError, InvalidArgumentError) as err:
        return 422, _error(err)
    except MemoryError:
        return 422, error_body("TooLarge", "too large: the derivation ran out of memory")
