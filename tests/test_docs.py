"""The docs cannot rot: every ```python block of the README and docs/*.md runs,
and every ``>>>`` example in the package's docstrings passes as a doctest."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import matgrad

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_code_blocks_run(path: Path) -> None:
    """The blocks of one page run in order in one namespace, as a reader would."""
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for number, block in enumerate(python_blocks(path), start=1):
        code = compile(block, f"{path.name}[block {number}]", "exec")
        exec(code, namespace)


def _modules() -> list[str]:
    names = [matgrad.__name__]
    for info in pkgutil.walk_packages(matgrad.__path__, prefix="matgrad."):
        if info.name != "matgrad.__main__":  # runs the command on import
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"


def test_docs_have_code() -> None:
    """Guard against the block pattern silently matching nothing."""
    assert sum(len(python_blocks(p)) for p in DOC_FILES) > 0
