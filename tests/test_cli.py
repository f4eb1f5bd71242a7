"""The ``matgrad`` command, end to end through a subprocess."""

from __future__ import annotations

import subprocess
import sys

import matgrad


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matgrad", *args], capture_output=True, text=True, timeout=120
    )


def test_demo_derives_prints_and_checks() -> None:
    result = run("demo", "--n", "4", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("PASS") == 3
    assert "FAIL" not in result.stdout
    assert "df/dX    = A @ X + A.T @ X" in result.stdout  # d tr(XᵀAX)/dX = (A + Aᵀ) X
    assert "Traceback" not in result.stderr


def test_version_and_help() -> None:
    version = run("--version")
    assert version.returncode == 0 and matgrad.__version__ in version.stdout
    bare = run()
    assert bare.returncode == 2 and "demo" in bare.stdout


def test_bad_arguments_exit_2_without_traceback() -> None:
    result = run("demo", "--n", "0")
    assert result.returncode == 2
    assert "--n must be a positive integer" in result.stderr
    assert "Traceback" not in result.stderr
