"""How close matgrad's printed derivatives are to the textbook (issue 13).

    python -m benchmarks.printing                  # the Markdown report on stdout
    python -m benchmarks.printing --width 0        # cells not shortened
    python -m benchmarks.printing --top 20         # the 20 longest catalogue printouts

Two parts:

1. **The proof table** (``tests/textbook_table.py``): for each classic derivative,
   the textbook form as written (formula language), matgrad's printout, the
   lengths of both printed by the same printer (matrix notation and LaTeX), their
   ratios, and whether both ratios are at most 1.15; then the count that meets it.
2. **The longest printed result in the catalogue**: for every identity of
   ``matgrad.identities`` at its first test sizes (as ``matgrad identities show``
   instantiates it), the length of ``str(derivative(f, wrt, order))``; the
   longest ones.

Values are not checked here (``tests/test_textbook.py`` and the catalogue's own
verification do that); this only measures the printouts.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from matgrad import identities
from matgrad.calculus.diff import derivative

TABLE_PATH = Path(__file__).resolve().parent.parent / "tests" / "textbook_table.py"


def load_table() -> ModuleType:
    """``tests/textbook_table.py``, loaded by path (``tests`` is not a package)."""
    name = "textbook_table"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TABLE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cell(text: str, width: int) -> str:
    """``text`` as one Markdown table cell: one line, ``|`` escaped, at most
    ``width`` characters (0: no limit)."""
    one = " ⏎ ".join(line.strip() for line in text.splitlines())
    if width and len(one) > width:
        one = one[: width - 1] + "…"
    return "`" + one.replace("|", "\\|").replace("`", "'") + "`"


@dataclass(frozen=True)
class CatalogueLength:
    name: str
    text: int
    latex: int
    head: str
    closed: int
    """The length of the identity's closed form printed by the same printer."""

    @property
    def ratio(self) -> float:
        return self.text / max(self.closed, 1)


def catalogue_lengths() -> tuple[list[CatalogueLength], list[str]]:
    """The printed length of every catalogue identity's derivative, longest first,
    and the identities whose derivative could not be built (with the reason)."""
    out: list[CatalogueLength] = []
    failed: list[str] = []
    for ident in identities.all():
        try:
            inst = ident.instantiate(None, 0)
            d = derivative(inst.function, inst.wrt, inst.order)
            text = str(d)
            out.append(CatalogueLength(ident.name, len(text), len(d.latex()), text,
                                       len(str(inst.closed_form))))
        except Exception as err:  # a report: list the failure, go on
            failed.append(f"{ident.name}: {type(err).__name__}: {err}"[:200])
    out.sort(key=lambda c: (-c.text, c.name))
    return out, failed


def table_report(width: int) -> list[str]:
    tt = load_table()
    lines = [
        "| entry | source | textbook (as written) | matgrad's printout | text mg/tb | ratio "
        "| LaTeX mg/tb | ratio | meets |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    meeting = 0
    text_meeting = 0
    failures: list[str] = []
    for entry in tt.TABLE:
        try:
            built = tt.build(entry)
            n = tt.lengths(built)
        except Exception as err:  # a report: list the failure, go on
            failures.append(f"{entry.name}: {type(err).__name__}: {err}"[:200])
            continue
        meeting += n.meets
        text_meeting += n.text_ratio <= tt.RATIO
        order = f" (order {entry.order})" if entry.order > 1 else ""
        lines.append(
            f"| {entry.name}{order} | {entry.source} | {cell(entry.textbook, width)} "
            f"| {cell(str(built.derivative), width)} | {n.text}/{n.text_textbook} "
            f"| {n.text_ratio:.2f} | {n.latex}/{n.latex_textbook} | {n.latex_ratio:.2f} "
            f"| {'yes' if n.meets else 'no'} |"
        )
    total = len(tt.TABLE)
    lines += [
        "",
        f"**{meeting} of {total}** entries meet the criterion (matgrad's printout at most "
        f"{tt.RATIO}× as long as the textbook form printed by the same printer, in matrix "
        f"notation and in LaTeX); {text_meeting} of {total} meet it in matrix notation alone.",
    ]
    if failures:
        lines += ["", "Entries that could not be built:", *(f"- {f}" for f in failures)]
    return lines


def catalogue_report(top: int, width: int) -> list[str]:
    lengths, failed = catalogue_lengths()
    lines = [
        f"The longest printed derivatives of the {len(lengths)} catalogue identities "
        "(at their first test sizes):",
        "",
        "| identity | text length | LaTeX length | printout |",
        "| --- | ---: | ---: | --- |",
    ]
    for c in lengths[:top]:
        lines.append(f"| {c.name} | {c.text} | {c.latex} | {cell(c.head, width)} |")
    if lengths:
        total = sum(c.text for c in lengths)
        lines += ["", f"Longest: {lengths[0].name}, {lengths[0].text} characters; total "
                  f"{total} characters over {len(lengths)} identities."]
    far = sorted(lengths, key=lambda c: (-c.ratio, c.name))[:top]
    lines += [
        "",
        "The identities whose printed derivative is longest relative to their closed form "
        "(the catalogue's textbook form, printed by the same printer):",
        "",
        "| identity | text length | closed form length | ratio |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {c.name} | {c.text} | {c.closed} | {c.ratio:.2f} |" for c in far),
    ]
    within = sum(c.ratio <= 1.15 for c in lengths)
    lines += ["", f"{within} of {len(lengths)} identities print their derivative at most "
              "1.15× as long as their closed form (matrix notation)."]
    if failed:
        lines += ["", "Identities whose derivative could not be built:",
                  *(f"- {f}" for f in failed)]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.printing",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=100,
                        help="shorten printouts in cells to this many characters (0: never)")
    parser.add_argument("--top", type=int, default=10,
                        help="how many of the longest catalogue printouts to list")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    lines = ["## The textbook table", "", *table_report(args.width), "",
             "## The longest printed results in the catalogue", "",
             *catalogue_report(args.top, args.width)]
    lines += ["", f"(report took {time.perf_counter() - start:.1f} s)"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
