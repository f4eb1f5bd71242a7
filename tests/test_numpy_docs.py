"""docs/numpy.md cannot go stale: its list of supported NumPy names is the one
generated from the registry and NumPy's dispatch tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matgrad.function_api import numpy_names
from matgrad.ir.node import FUNCTION_HANDLERS, UFUNC_HANDLERS
from matgrad.ops import registry

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "numpy.md"


def test_the_committed_section_is_the_generated_one() -> None:
    page = PAGE.read_text(encoding="utf-8")
    if numpy_names.environment() not in page:
        pytest.skip(f"the page comes from another NumPy/SciPy than: {numpy_names.environment()}")
    assert page == numpy_names.update(page), "run: python -m matgrad.function_api.numpy_names"


def test_render_is_deterministic() -> None:
    assert numpy_names.render() == numpy_names.render()


def test_every_served_function_and_operation_is_listed() -> None:
    section = numpy_names.render()
    served = {**FUNCTION_HANDLERS, **UFUNC_HANDLERS}
    assert len(numpy_names.entries()) == len(served)
    for entry in numpy_names.entries():
        assert f"| `{entry.names[0]}` |" in section
    for op in registry.operations():
        if op.numpy_functions:
            assert f"operation `{op.name}` ({op.family})" in section
        else:
            assert f"`{op.name}`" in section
    assert "| `numpy.exp` |" in section and "| `numpy.linalg.inv` |" in section
    assert "`numpy.abs`" in section  # an alias of numpy.absolute


def test_methods_and_operators_are_read_from_the_expression_class() -> None:
    section = numpy_names.render()
    for method in ("`.T`", "`.shape`", "`.sum`", "`.reshape`"):
        assert method in section
    assert "`@`" in section and "`x[...]`" in section
    assert "`.tofile`" not in section  # an ndarray method expressions do not have
    assert hasattr(np.ndarray, "tofile")


def test_a_new_served_function_changes_the_section() -> None:
    before = numpy_names.render()
    FUNCTION_HANDLERS[np.nanargmax] = lambda *a, **k: None
    try:
        after = numpy_names.render()
    finally:
        del FUNCTION_HANDLERS[np.nanargmax]
    assert "`numpy.nanargmax`" in after and "`numpy.nanargmax`" not in before
    assert numpy_names.render() == before


def test_main_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "numpy.md"
    page.write_text(
        f"# title\n\n{numpy_names.BEGIN}\nstale\n{numpy_names.END}\n\ntail\n", encoding="utf-8"
    )
    assert numpy_names.main(["--page", str(page), "--check"]) == 1
    assert numpy_names.main(["--page", str(page)]) == 0
    assert numpy_names.main(["--page", str(page), "--check"]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# title\n") and text.endswith("\n\ntail\n") and "stale" not in text
    capsys.readouterr()


def test_a_page_without_markers_is_an_error() -> None:
    from matgrad.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="numpy-names"):
        numpy_names.update("# no markers here\n")
