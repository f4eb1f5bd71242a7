"""The ``matgrad`` command, end to end through a subprocess (and in-process where a
failure has to be provoked)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import matgrad
import matgrad as mg
from matgrad import cli
from matgrad.identities.cli import CLOSED_PIPE_STATUS, quiet_on_closed_pipe
from matgrad.identities.cli import main as identities_main
from matgrad.language.parse import parse_expression


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matgrad", *args], capture_output=True, text=True, timeout=120
    )


def run_many(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Several runs of the command at once (each is mostly interpreter start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(*args), commands))


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def printed(out: str, label: str) -> str:
    """The text printed after ``label`` (first occurrence), with the continuation
    lines indented under it."""
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(label))
    text = [lines[i][len(label):]]
    for line in lines[i + 1:]:
        if not line.startswith(" " * len(label)):
            break
        text.append(line[len(label):])
    return "\n".join(text)


def means(text: str, closed_form: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    """``text`` (matrix notation) parses to an expression equal, at random values, to
    the NumPy ``closed_form`` (a function of the symbols by name): robust to how the
    printer chooses to write the result."""
    expr = mg.parse(text, shapes)
    rng = np.random.default_rng(5)
    values = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    used = {s.name: values[s.name] for s in expr.symbols()}
    got = np.asarray(expr.evaluate(**used), dtype=np.float64)
    np.testing.assert_allclose(got, closed_form(**values), rtol=1e-10)


# ---------------------------------------------------------------------------------------
# demo, version, help
# ---------------------------------------------------------------------------------------


def test_demo_derives_prints_and_checks() -> None:
    result = run("demo", "--n", "4", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("PASS") == 3
    assert "FAIL" not in result.stdout
    means(printed(result.stdout, "df/dX    = "), lambda X, A: (A + A.T) @ X,  # d tr(XᵀAX)/dX
          {"X": (4, 4), "A": (4, 4)})
    no_traceback(result)


def test_version_and_help() -> None:
    version, bare, helped, derive_help = run_many([["--version"], [], ["--help"],
                                                   ["derive", "--help"]])
    assert version.returncode == 0 and matgrad.__version__ in version.stdout
    assert bare.returncode == 2 and "demo" in bare.stdout and "derive" in bare.stdout
    assert helped.returncode == 0
    for text in ("derive", "check", "examples:", "matgrad derive \"tr(X'*A*X)\" --wrt X"):
        assert text in helped.stdout
    assert derive_help.returncode == 0 and "--no-check" in derive_help.stdout


def test_bad_arguments_exit_2_without_traceback() -> None:
    result = run("demo", "--n", "0")
    assert result.returncode == 2
    assert "--n must be a positive integer" in result.stderr
    no_traceback(result)


def test_subcommands_are_registered_by_one_function_each() -> None:
    names = [add.__name__ for add in cli.COMMANDS]
    assert {"_add_derive", "_add_check", "_add_demo"} <= set(names)
    parser = cli.build_parser()
    args = parser.parse_args(["derive", "x'*x", "--wrt", "x"])
    assert callable(args.func)


# ---------------------------------------------------------------------------------------
# derive
# ---------------------------------------------------------------------------------------


def test_derive_prints_the_derivative_its_shape_and_a_passing_check() -> None:
    result = run("derive", "tr(X'*A*X)", "--wrt", "X")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "f        = trace(X.T @ A @ X)" in out
    assert "symbols  : X: matrix (3, 3), A: matrix (3, 3)" in out
    means(printed(out, "df/dX    = "), lambda X, A: (A + A.T) @ X, {"X": (3, 3), "A": (3, 3)})
    assert "shape    : (3, 3) = () + (3, 3)" in out
    assert "gradient_error vs numerical differentiation (Richardson)" in out
    assert "PASS" in out and "FAIL" not in out


def test_derive_formats() -> None:
    expected = {
        "latex": r"df/dx    = ",
        "einsum": "df/dx    = out[i] = ",
        "numpy": "def derivative(A, x):",
    }
    results = run_many(
        [["derive", "x'*A*x", "--wrt", "x", "--format", fmt, "--seed", "2"] for fmt in expected]
    )
    for (fmt, text), result in zip(expected.items(), results):
        assert result.returncode == 0, result.stderr
        assert text in result.stdout and "PASS" in result.stdout, fmt
    assert r"A^{\top}" in results[0].stdout


def test_derive_json_has_every_form_and_the_check() -> None:
    result = run("derive", "sum(exp(W*x + b))", "--wrt", "W", "--shape", "W=2x4",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["parsed"] == "sum(exp(W @ x + b))"
    assert out["shape"] == [2, 4] and out["order"] == 1 and out["wrt"] == "W"
    assert out["symbols"]["x"]["shape"] == [4] and out["symbols"]["b"]["shape"] == [2]
    assert set(out["derivative"]) == {"text", "latex", "einsum", "numpy"}
    means(out["derivative"]["text"], lambda W, x, b: np.outer(np.exp(W @ x + b), x),
          {"W": (2, 4), "x": (4,), "b": (2,)})
    assert out["check"]["passed"] is True and out["check"]["error"] < 1e-6


def test_derive_higher_order_symmetric_spd_and_no_check() -> None:
    hessian, spd, unchecked = run_many([
        ["derive", "x'*A*x", "--wrt", "x", "--order", "2", "--shape", "x=4"],
        ["derive", "logdet(S) + a'*inv(S)*b", "--wrt", "S", "--spd", "S"],
        ["derive", "tr(A*S)", "--wrt", "S", "--symmetric", "S", "--no-check"],
    ])
    assert hessian.returncode == 0, hessian.stderr
    means(printed(hessian.stdout, "d^2f/dx^2 = "), lambda x, A: A + A.T, {"x": (4,), "A": (4, 4)})
    assert "shape    : (4, 4) = () + 2 × (4,)" in hessian.stdout and "PASS" in hessian.stdout
    assert spd.returncode == 0, spd.stderr
    assert "S: matrix (3, 3) SPD" in spd.stdout and "PASS" in spd.stdout
    assert unchecked.returncode == 0
    assert "S: matrix (3, 3) symmetric" in unchecked.stdout and "check" not in unchecked.stdout


def test_derive_exits_1_when_the_check_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong derivative (provoked by doubling matgrad's) fails the numerical check."""
    real = matgrad.derivative

    def doubled(*args: Any, **kwargs: Any) -> matgrad.Expr:
        return 2 * real(*args, **kwargs)

    monkeypatch.setattr(cli.mg, "derivative", doubled)
    assert cli.main(["derive", "tr(X'*A*X)", "--wrt", "X"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "worst entries" in out


def test_derive_skips_the_check_for_large_variables(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["derive", "tr(X'*A*X)", "--wrt", "X", "--shape", "X=60x60"]) == 0
    assert "check    : skipped: X has 3600 entries" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------


CHECKS: list[tuple[str, str, str, list[str], int, str]] = [
    # expression, wrt, claim, more options, exit code, what the output says
    ("x'*A*x", "x", "(A + A')*x", [], 0, "CORRECT"),
    ("x'*A*x", "x", "2*A*x", [], 1, "holds only when A is symmetric"),
    ("x'*A*x", "x", "2*A*x", ["--symmetric", "A"], 0, "CORRECT"),
    ("tr(A*X)", "X", "A", [], 1, "the claim is the transpose of the derivative"),
    ("tr(A*X)", "X", "2*A'", [], 1, "constant factor: it equals 2 × the derivative"),
    ("tr(A*X)", "X", " -A'", [], 1, "the claim has the wrong sign"),  # ' -': not an option
    ("A*x", "x", "A'", ["--shape", "A=2x3"], 1,
     "shape mismatch: claim has shape (3, 2), derivative has (2, 3)"),
]


def test_check_correct_incorrect_transposed_factor_sign() -> None:
    results = run_many(
        [["check", e, "--wrt", w, "--claim", c, *extra] for e, w, c, extra, _, _ in CHECKS]
    )
    for (expr, _, claim, _, code, fragment), result in zip(CHECKS, results):
        assert result.returncode == code, (expr, claim, result.stdout + result.stderr)
        assert fragment in result.stdout, (expr, claim, result.stdout)
        assert ("INCORRECT" in result.stdout) == (code == 1)
        no_traceback(result)


def test_check_json() -> None:
    result = run("check", "tr(A*X)", "--wrt", "X", "--claim", "A", "--format", "json")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["correct"] is False and out["mistake"] == "transpose"
    assert out["derivative"] == "A.T" and out["shape"] == [3, 3]
    assert out["worst"] and set(out["worst"][0]) == {"index", "claim", "derivative", "abs_error"}


# ---------------------------------------------------------------------------------------
# bad input: a message, exit 2, never a traceback
# ---------------------------------------------------------------------------------------


def test_parse_error_shows_a_caret_and_a_hint() -> None:
    result = run("derive", "tr(X'*A*X", "--wrt", "X")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("matgrad derive: parse error: expected ',' or ')'")
    assert lines[1] == "    tr(X'*A*X"
    assert lines[2] == "             ^"
    assert lines[3] == "hint: to close the '(' at column 3"
    no_traceback(result)


def test_shape_conflict_and_unknown_function_exit_2() -> None:
    conflict, unknown = run_many([
        ["derive", "X'*A", "--wrt", "X", "--shape", "X=3x4", "--shape", "A=2x2"],
        ["derive", "foo(x)", "--wrt", "x"],
    ])
    assert conflict.returncode == 2
    assert "shape error: cannot multiply X' (shape (4, 3)) by A (shape (2, 2))" in conflict.stderr
    assert "symbols: X (3, 4), A (2, 2)" in conflict.stderr
    assert unknown.returncode == 2 and "unknown function 'foo'; known: abs, adj" in unknown.stderr
    for result in (conflict, unknown):
        no_traceback(result)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["derive", "X^-1", "--wrt", "X"], "write inv(X) for the inverse"),
        (["derive", "x'*x", "--wrt", "y"], "--wrt: 'y' does not occur in the formula"),
        (["derive", "x'*x", "--wrt", "x", "--symmetric", "S"], "--symmetric: 'S' does not occur"),
        (["derive", "x'*x", "--wrt", "x", "--shape", "x=3y"], "expected NAME=DIMS"),
        (["derive", "x'*x"], "the following arguments are required: --wrt"),
        (["check", "x'*x", "--wrt", "x", "--claim", "2*x)"], "this ')' has no matching '('"),
        (["check", "x'*x", "--wrt", "x", "--claim", "B*x"], "the claim uses B"),
        (["derive", "x $ y", "--wrt", "x"], "unexpected character '$'"),
        (["derive", "tr(X)", "--wrt", "X", "--shape", "X=2x3"], "tr needs a square matrix"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (the subprocess tests above cover the real command): main returns
    2 for every deliberate error, and argparse's usage errors exit with 2."""
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = exit_.code  # type: ignore[assignment]
    assert code == 2
    assert fragment in capsys.readouterr().err


def test_errors_in_json_mode_are_json() -> None:
    result = run("derive", "x $ y", "--wrt", "x", "--format", "json")
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "ParseError" and error["position"] == 2
    assert error["problem"] == "unexpected character '$'"


# ---------------------------------------------------------------------------------------
# Output into a closed pipe (`matgrad identities list | head`)
# ---------------------------------------------------------------------------------------


def run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The command with a standard output whose reader has gone before the first
    write, as after ``| head -1`` has read its line: every write fails (EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "matgrad", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="POSIX pipes")
def test_every_subcommand_ends_quietly_when_the_reader_of_its_output_is_gone() -> None:
    commands = [
        ["identities", "list"],
        ["identities", "show", "trace-AXB"],
        ["identities", "verify", "trace-AXB"],
        ["derive", "x'*A*x", "--wrt", "x"],
        ["derive", "x'*A*x", "--wrt", "x", "--format", "json"],
        ["check", "x'*A*x", "--wrt", "x", "--claim", "2*A*x"],
        ["demo", "--n", "2"],
        ["derive", "x $ y", "--wrt", "x", "--format", "json"],  # an error, as JSON on stdout
        ["--help"],
        [],
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_into_closed_pipe, commands))
    for args, result in zip(commands, results):
        assert result.stderr == "", (args, result.stderr)  # no traceback, no "Exception ignored"
        if args and args[0] != "--help":  # argparse's help printer ignores write errors itself
            assert result.returncode == 128 + signal.SIGPIPE, args  # 141, as `yes | head`


def test_a_real_head_reads_a_line_and_the_command_ends_quietly() -> None:
    with subprocess.Popen([sys.executable, "-m", "matgrad", "identities", "list"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert first.strip() and "Traceback" not in err and err == ""
    assert code in (0, 128 + getattr(signal, "SIGPIPE", -127))  # 0 if it wrote all first


def test_closed_pipe_handler_in_process() -> None:
    def broken() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert quiet_on_closed_pipe(broken) == CLOSED_PIPE_STATUS
    assert quiet_on_closed_pipe(lambda: 7) == 7
    assert identities_main(["list", "--topic", "trace"]) == 0


# ---------------------------------------------------------------------------------------
# Results printed on several lines (named subexpressions)
# ---------------------------------------------------------------------------------------

SHARED = "sum(exp(A*x-b)) * sum(sin(A*x-b))"  # A x − b occurs twice, four times in df/dx


def shared_derivative() -> mg.Expr:
    parsed = parse_expression(SHARED, {})
    return mg.derivative(parsed.expr, parsed.symbols["x"])


@pytest.mark.parametrize("fmt", ["text", "latex", "einsum"])
def test_multi_line_results_are_indented_under_their_first_line(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    G = shared_derivative()
    printed = {"text": str(G), "latex": G.latex(), "einsum": G.einsum()}[fmt]
    assert cli.main(["derive", SHARED, "--wrt", "x", "--format", fmt, "--no-check"]) == 0
    out = capsys.readouterr().out
    lines = printed.split("\n")
    if fmt != "latex":  # LaTeX puts its `where` on the same line
        assert len(lines) > 1, printed  # the premise: a shared subexpression is named
    column = " " * len("df/dx    = ")
    block = "\n".join(["df/dx    = " + lines[0], *(column + line for line in lines[1:])])
    assert block + "\nshape    : (3,) = () + (3,)\n" in out
    f_lines = str(parse_expression(SHARED, {}).expr).split("\n")
    assert "\n".join(["f        = " + f_lines[0], *(column + ln for ln in f_lines[1:])]) in out


def test_json_carries_multi_line_results_whole(capsys: pytest.CaptureFixture[str]) -> None:
    G = shared_derivative()
    assert cli.main(["derive", SHARED, "--wrt", "x", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["derivative"]["text"] == str(G) and "\n" in out["derivative"]["text"]
    assert out["derivative"]["einsum"] == G.einsum()
    assert out["parsed"] == str(parse_expression(SHARED, {}).expr)
    assert out["check"]["passed"] is True


def test_check_indents_multi_line_expressions_too(capsys: pytest.CaptureFixture[str]) -> None:
    G = shared_derivative()
    claim = "A'*exp(A*x-b)"  # misses the sin/cos terms: wrong
    assert cli.main(["check", SHARED, "--wrt", "x", "--claim", claim]) == 1
    out = capsys.readouterr().out
    first, *more = str(G).split("\n")
    assert more, str(G)  # the premise: a shared subexpression is named
    column = " " * len("df/dx    = ")
    block = "\n".join([f"df/dx    = {first}   (matgrad, shape (3,))",
                       *(column + line for line in more)])
    assert block + "\nINCORRECT" in out


def test_identities_show_indents_multi_line_expressions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ident = matgrad.identities.get("mml-inverse-rule")
    inst = ident.instantiate(None, 0)
    text = str(mg.derivative(inst.function, inst.wrt, inst.order))
    first, *more = text.split("\n")
    assert more, text  # the premise: F⁻¹ occurs several times and is named
    assert cli.main(["identities", "show", ident.name]) == 0
    head = "  matgrad      = "
    block = "\n".join([head + first, *(" " * len(head) + line for line in more)])
    assert block + "\n  shape        = " in capsys.readouterr().out
