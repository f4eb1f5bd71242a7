"""Draw MML's Figure 5.4 with matgrad: f(x) = sin x + cos x and its Taylor
polynomials T0, T1, T5, T10 at x0 = 0, on [-4, 4].

    pip install -e ".[docs]"          # matplotlib, an optional dependency
    python docs/figures/make_figure_5_4.py

writes docs/figures/figure_5_4.png next to this script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

import matgrad as mg

OUT = Path(__file__).resolve().parent / "figure_5_4.png"
ORDERS = (0, 1, 5, 10)


def curves(grid: np.ndarray) -> dict[str, np.ndarray]:
    x = mg.Scalar("x")
    f = mg.sin(x) + mg.cos(x)
    out = {"f": np.array([mg.compile(f, [x])(v) for v in grid])}
    for k in ORDERS:
        poly = mg.compile(mg.taylor(f, x, at=0.0, order=k), [x])
        out[f"T{k}"] = np.array([poly(v) for v in grid])
    return out


def main() -> None:
    grid = np.linspace(-4.0, 4.0, 401)
    ys = curves(grid)
    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    ax = fig.add_subplot()
    ax.plot(grid, ys["f"], color="black", lw=2.5, label="f(x) = sin x + cos x")
    styles = {"T0": ":", "T1": "--", "T5": "-.", "T10": "-"}
    for k in ORDERS:
        name = f"T{k}"
        ax.plot(grid, ys[name], ls=styles[name], lw=1.6, label=f"$T_{{{k}}}$")
    ax.set_xlim(-4, 4)
    ax.set_ylim(-4, 4)
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Taylor polynomials of sin x + cos x at $x_0 = 0$ (MML Figure 5.4)")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT, metadata={"Software": None})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
