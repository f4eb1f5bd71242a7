"""The identity catalogue: every entry machine-verified three ways (closed form
vs matgrad's symbolic derivative vs Richardson numerical differentiation), the
records well formed, the values drawn valid, the traps demonstrated, the
generated page current, and the ``matgrad identities`` subcommands."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import re
from pathlib import Path

import numpy as np
import pytest

import matgrad as mg
import matgrad.identities.catalogue as catalogue
from matgrad import identities, ops
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.identities import cli, docs
from matgrad.identities.verify import relative_error, verify

ROOT = Path(__file__).resolve().parent.parent
ALL = identities.all()
SAMPLES = 4


def _marks(ident: identities.Identity) -> list[pytest.MarkDecorator]:
    if ident.core_gap:
        return [pytest.mark.xfail(strict=True, reason=f"core gap: {ident.core_gap}")]
    return []


# --------------------------------------------------------------------------- the checks


@pytest.mark.parametrize(
    "ident", [pytest.param(i, id=i.name, marks=_marks(i)) for i in ALL]
)
def test_identity_is_verified(ident: identities.Identity) -> None:
    """(a) closed form == symbolic derivative, (b) both == numerical derivative,
    at every test size, with several random valid inputs."""
    result = verify(ident, samples=SAMPLES)
    assert len(result.checks) == SAMPLES * len(ident.sizes)
    assert result.passed, "\n".join(result.failures())


def test_checker_has_teeth_on_the_published_form_of_92() -> None:
    """Matrix Cookbook (92) as printed (first term transposed) is caught."""
    ident = identities.get("quadratic-aXntXnb")

    def published(s: identities.Symbols) -> mg.Expr:
        ab = ops.outer(s.a, s.b)
        X, X2 = s.X, s.X @ s.X
        # Σ_{r=0}^{1} [X^(1−r) abᵀ (X²)ᵀ X^r + (X^r)ᵀ X² abᵀ (X^(1−r))ᵀ]
        return X @ ab @ X2.T + X2 @ ab @ X.T + ab @ X2.T @ X + X.T @ X2 @ ab

    wrong = dataclasses.replace(ident, closed_form=published)
    result = verify(wrong, samples=1)
    assert not result.passed
    # the symbolic and numerical derivatives still agree with each other
    assert all(c.symbolic_vs_numeric < 1e-8 for c in result.checks)


def test_symmetric_gradient_trap() -> None:
    """For symmetric X the independent-entries form 2G − diag(G) fails; (G + Gᵀ)/2
    passes and is the one whose inner product with a symmetric V is the
    directional derivative."""
    ident = identities.get("symmetric-trace-AX")
    cookbook = dataclasses.replace(
        ident, closed_form=lambda s: s.A + s.A.T - s.eye("n") * s.A
    )
    assert not verify(cookbook, samples=1).passed
    assert verify(ident, samples=1).passed

    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3))
    V = rng.standard_normal((3, 3))
    V = V + V.T
    directional = np.trace(A @ V)  # f(X) = tr(AX) is linear
    symmetric_gradient = (A + A.T) / 2
    entrywise = A + A.T - np.diag(np.diag(A))
    assert np.isclose(np.sum(symmetric_gradient * V), directional)
    assert not np.isclose(np.sum(entrywise * V), directional)


def test_non_commuting_matrix_function_traps() -> None:
    """The commuting-case guesses are caught where X and the direction do not
    commute: (A e^X)ᵀ for ∂ tr(A e^X)/∂X, B e^Y for d/dt e^(A + tB); and the
    cookbook's eigenvector rule (68) read for independent entries fails along
    symmetric directions.  The entries pass."""
    ident = identities.get("trace-A-expm-X")
    naive = dataclasses.replace(ident, closed_form=lambda s: (s.A @ ops.expm(s.X)).T)
    assert not verify(naive, samples=1).passed
    assert verify(ident, samples=1).passed
    ident = identities.get("frechet-expm-block")
    naive = dataclasses.replace(
        ident, closed_form=lambda s: s.B @ ops.expm(s.A + s.t * s.B))
    assert not verify(naive, samples=1).passed
    ident = identities.get("eigenvector-derivative")

    def unsymmetrized(s: identities.Symbols) -> mg.Expr:
        v = ops.eigh_vectors(s.X)[:, -1]
        shift = ops.pinv(ops.eigvalsh(s.X)[-1] * s.eye("n") - s.X, 1e-8)
        return ops.sign(v[0]) * ops.einsum("ak,l->akl", shift, v)

    assert not verify(dataclasses.replace(ident, closed_form=unsymmetrized), samples=1).passed
    assert verify(ident, samples=1).passed


@pytest.mark.parametrize(
    ("name", "point"),
    [
        ("hessian-spectral-sum-log", np.eye(3)),
        ("hessian-spectral-sum-log", np.diag([1.0, 1.0, 2.0])),
        ("spectral-sum-exp", np.diag([1.0, 1.0, 2.0])),
        ("spectral-sum-power", np.eye(3)),
        ("hessian-spectral-sum-sqrt", np.eye(3)),
        ("hessian-spectral-sum-sqrt", np.diag([1.0, 1.0, 2.0])),
        ("hessian-cholesky-logdet", np.eye(3)),
        ("nuclear-norm-tall", np.eye(3)),
        ("hessian-nuclear-norm", np.eye(3)),
        ("hessian-nuclear-norm", np.diag([1.0, 1.0, 2.0])),
        ("svd-sum-log", np.diag([2.0, 1.0, 1.0])),
    ],
)
def test_spectral_entries_are_finite_at_ties(name: str, point: np.ndarray) -> None:
    """Entries whose notes claim a derivative at repeated eigenvalues or singular
    values: matgrad's derivative there equals the closed form and the numerical
    derivative (symmetric perturbations for a symmetric variable)."""
    ident = identities.get(name)
    inst = ident.instantiate({d: 3 for d in ident.dims}, 0)
    syms = inst.symbol_list()
    d = mg.derivative(inst.function, inst.wrt, inst.order)
    values = {**inst.values, inst.wrt.name: point}
    got = np.asarray(mg.compile(d, syms)(**values))
    closed = np.asarray(mg.compile(inst.closed_form, syms)(**values))
    f = mg.compile(inst.function, syms)

    def at(m: np.ndarray) -> np.ndarray:
        m = (m + m.T) / 2 if inst.wrt.symmetric else m
        return np.asarray(f(**{**values, inst.wrt.name: m}))

    numeric = (mg.numeric.jacobian(at, point, method="richardson") if inst.order == 1
               else mg.numeric.hessian(at, point, method="richardson"))
    assert np.isfinite(got).all()
    assert relative_error(got, closed) < 1e-9
    assert relative_error(got, numeric) < 1e-6


def test_derivative_modes_and_unsimplified_agree_with_closed_forms() -> None:
    """The optimized path (simplified, auto mode) and the plain ones give the
    same numbers as the closed form, on one instance of every identity."""
    for ident in ALL:
        if ident.core_gap:
            continue
        inst = ident.instantiate(None, 7)
        syms = inst.symbol_list()
        closed = mg.compile(inst.closed_form, syms)(**inst.values)
        for options in ({"mode": "forward"}, {"mode": "reverse"}, {"simplify": False}):
            d = mg.derivative(inst.function, inst.wrt, inst.order, **options)
            value = mg.compile(d, syms)(**inst.values)
            assert relative_error(closed, value) < 1e-9, (ident.name, options)


def test_hessian_of_det_at_singular_matrix() -> None:
    """hessian-det-singular, minimal: at an exactly singular and at a numerically
    singular (σ_min ~ 1e-16) corank-1 X the Hessian of det (a polynomial) is right in
    both accumulation modes — against the Levi-Civita closed form (n = 3: the entry
    ∂²det/∂X_ab ∂X_cd = ε_ace ε_bdf X_ef) and Richardson differences of np.linalg.det."""
    X = mg.Matrix("X", (3, 3))
    eps = np.zeros((3, 3, 3))
    for (i, j, k), sgn in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1,
                           (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
        eps[i, j, k] = sgn
    exact = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    rng = np.random.default_rng(3)
    u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    numerically = (u * [2.0, 1.0, 1e-16]) @ v.T
    for x0 in (exact, numerically):
        closed = np.einsum("ace,bdf,ef->abcd", eps, eps, x0)
        numeric_h = mg.numeric.hessian(np.linalg.det, x0, method="richardson")
        assert np.abs(closed - numeric_h).max() < 1e-6  # the two witnesses agree
        assert np.abs(closed).max() > 0.5  # it exists and is not zero
        for mode in ("forward", "reverse"):
            H = mg.derivative(mg.det(X), X, order=2, mode=mode).evaluate(X=x0)
            assert np.abs(H - closed).max() < 1e-12 * max(1.0, np.abs(closed).max()), mode


# --------------------------------------------------------------------------- coverage


def test_catalogue_size_and_topics() -> None:
    assert len(ALL) >= 120
    assert set(identities.topics()) == set(identities.TOPICS)
    assert sum(len(identities.by_topic(t)) for t in identities.topics()) == len(ALL)
    for topic in identities.topics():
        assert len(identities.by_topic(topic)) >= 10, topic


@pytest.mark.parametrize("number", [f"5.{k}" for k in range(98, 108)])
def test_every_mml_identity_is_in_the_catalogue(number: str) -> None:
    assert any(f"MML ({number})" in i.source for i in ALL), number


@pytest.mark.parametrize("example", ["5.9", "5.11", "5.12", "5.13"])
def test_mml_examples_are_in_the_catalogue(example: str) -> None:
    assert any(re.search(rf"MML Example {re.escape(example)}\b", i.source) for i in ALL)


def test_cookbook_section_2_families_are_covered() -> None:
    names = {i.name for i in ALL}
    wanted = {
        "det-X", "det-AXB", "det-XtAX-square", "det-XtAX-symmetric", "det-XtAX", "logdet-X",
        "logdet-XtX", "det-X3", "inverse-jacobian", "mml-aXinvb", "trace-AXinvB",
        "trace-X", "trace-AX", "trace-XtA", "trace-AXB", "trace-AXtB", "trace-X2",
        "trace-XtBX", "trace-XBXt", "trace-AXBX", "trace-XtX", "trace-X3", "trace-AX3",
        "trace-BtXtCXB", "trace-inv-XtCX-A", "trace-kron-XX", "mml-atx", "mml-xtBx",
        "mml-aXb", "quadratic-aXtb", "quadratic-bXtXc", "quadratic-affine-bilinear",
        "quadratic-x-As-W-wrt-x", "mml-x-As-W-wrt-s", "quadratic-x-As-W-wrt-W",
        "norm-frobenius-squared", "norm-frobenius", "norm-x", "norm-x-squared",
        "norm-Xb-squared", "norm-Ax-minus-b-squared", "jacobian-AXB", "jacobian-transpose",
        "jacobian-X2", "mml-ex5.13", "jacobian-XXt", "jacobian-exp-elementwise",
        "jacobian-sin-elementwise", "jacobian-tanh-elementwise", "jacobian-hadamard-XX",
        "jacobian-hadamard-XA", "jacobian-kron-XA", "hessian-quadratic", "hessian-linear",
        "hessian-trace-XtAX", "hessian-logdet", "hessian-aXinvb", "hessian-norm-Ax-minus-b",
    }
    assert wanted <= names, sorted(wanted - names)


# --------------------------------------------------------------------------- records

_SLUG = re.compile(r"^[a-z0-9][A-Za-z0-9.+-]*$")
_SOURCE = re.compile(r"MML|Matrix Cookbook|derived|standard|linearity|product rule|chain rule"
                     r"|Levi-Civita|Gaussian|Higham \(2008\)|Lewis \(1996\)|Golub & Pereyra"
                     r"|Murray \(2016\)|Daleckii–Krein")


@pytest.mark.parametrize("ident", ALL, ids=lambda i: i.name)
def test_record_is_well_formed(ident: identities.Identity) -> None:
    assert _SLUG.match(ident.name), ident.name
    assert ident.title and ident.latex and ident.source
    assert _SOURCE.search(ident.source), ident.source
    assert ident.topic in identities.TOPICS
    assert ident.order in (1, 2)
    names = [s.name for s in ident.symbols]
    assert len(set(names)) == len(names) and ident.wrt in names
    for cond in ident.conditions:
        assert cond.symbol in names and cond.kind in identities.CONDITIONS
    assert ident.sizes, "at least one set of test sizes"
    if ident.dims and not _fixed_size(ident):
        assert len(ident.sizes) >= 2, "two sizes at least"
    # non-square wherever the identity allows: a symbol with two different
    # dimension names is tested with two different sizes at least once
    for spec in ident.symbols:
        if len(set(spec.dims)) > 1:
            assert any(
                len({dict(sz)[d] for d in spec.dims}) > 1 for sz in ident.sizes
            ), f"{spec.name} is never rectangular"
    # the closed form has the shape f.shape + order * wrt.shape at every size
    for sizes in ident.test_sizes():
        inst = ident.instantiate(sizes, 0)
        assert inst.closed_form.shape == inst.function.shape + ident.order * inst.wrt.shape


def _fixed_size(ident: identities.Identity) -> bool:
    """Entries stated for one size only (the book's ℝ² examples)."""
    return ident.name in {"mml-ex5.7", "mml-ex5.15-hessian"}


def test_symmetric_variables_are_symmetric_symbols() -> None:
    seen = 0
    for ident in ALL:
        inst = ident.instantiate(None, 0)
        for spec in ident.symbols:
            kinds = ident.conditions_on(spec.name)
            expected = bool(kinds & {"symmetric", "positive definite"})
            assert inst.symbols[spec.name].symmetric is expected, (ident.name, spec.name)
            seen += expected and spec.name == ident.wrt
    assert seen >= 8  # the symmetric-variable entries


@pytest.mark.parametrize("seed", range(5))
def test_values_satisfy_their_conditions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    draw = identities.draw_value
    sym = draw(frozenset({"symmetric"}), (4, 4), rng)
    assert np.array_equal(sym, sym.T)
    spd = draw(frozenset({"positive definite"}), (4, 4), rng)
    assert np.array_equal(spd, spd.T) and np.linalg.eigvalsh(spd).min() > 0.49
    inv = draw(frozenset({"invertible", "square"}), (4, 4), rng)
    assert np.linalg.cond(inv) <= 4.0 + 1e-9
    si = draw(frozenset({"symmetric", "invertible"}), (4, 4), rng)
    assert np.array_equal(si, si.T) and np.abs(np.linalg.eigvalsh(si)).min() > 0.49
    pdp = draw(frozenset({"positive definite part"}), (4, 4), rng)
    assert np.linalg.eigvalsh(pdp + pdp.T).min() > 0.99 and not np.allclose(pdp, pdp.T)
    tall = draw(frozenset({"full column rank"}), (5, 3), rng)
    assert np.linalg.svd(tall, compute_uv=False).min() > 0.49
    wide = draw(frozenset({"full row rank"}), (2, 4), rng)
    assert np.linalg.svd(wide, compute_uv=False).min() > 0.49
    singular = draw(frozenset({"singular"}), (4, 4), rng)
    s = np.linalg.svd(singular, compute_uv=False)
    assert s[-1] < 1e-12 and s[-2] > 0.49
    assert draw(frozenset({"positive entries"}), (3, 2), rng).min() >= 0.5
    assert np.abs(draw(frozenset({"nonzero entries"}), (7,), rng)).min() >= 0.5
    distinct = np.linalg.eigvalsh(draw(frozenset({"symmetric", "distinct eigenvalues"}),
                                       (4, 4), rng))
    assert np.diff(distinct).min() > 0.49 and np.abs(distinct).max() <= 2 + 1e-9
    spread = np.linalg.eigvalsh(draw(frozenset({"positive definite", "distinct eigenvalues"}),
                                     (4, 4), rng))
    assert np.diff(spread).min() > 0.24 and spread.min() >= 0.5 - 1e-9
    sv = np.linalg.svd(draw(frozenset({"full column rank", "distinct singular values"}),
                            (5, 3), rng), compute_uv=False)
    assert -np.diff(sv).min() > 0.37 and sv.min() >= 0.5 - 1e-9
    small = draw(frozenset({"small norm"}), (3, 3), rng)
    assert 0.5 - 1e-9 <= np.linalg.norm(small, 2) <= 1 + 1e-9
    assert 0.5 - 1e-9 <= abs(float(draw(frozenset({"small norm"}), (), rng))) <= 1 + 1e-9


def test_instantiate_checks_sizes_and_conditions() -> None:
    ident = identities.get("logdet-XtX")  # X: n×m of full column rank
    with pytest.raises(InvalidArgumentError, match="missing m"):
        ident.instantiate({"n": 3})
    with pytest.raises(InvalidArgumentError, match="unknown q"):
        ident.instantiate({"n": 3, "m": 2, "q": 1})
    with pytest.raises(InvalidArgumentError, match="positive int"):
        ident.instantiate({"n": 3, "m": 0})
    with pytest.raises(ShapeError, match="full column rank"):
        ident.instantiate({"n": 2, "m": 3})
    inst = ident.instantiate({"n": 5, "m": 2}, rng=1)
    assert inst.values["X"].shape == (5, 2) and inst.closed_form.shape == (5, 2)
    again = ident.instantiate({"n": 5, "m": 2}, rng=1)
    assert np.array_equal(inst.values["X"], again.values["X"])  # seeded


def test_instances_work_at_sizes_beyond_the_test_sizes() -> None:
    for name in ("trace-AXB", "det-XtAX", "hessian-trace-XtAX", "jacobian-kron-XA"):
        ident = identities.get(name)
        sizes = {d: 4 + k % 2 for k, d in enumerate(ident.dims)}
        if name == "det-XtAX":
            sizes = {"n": 5, "m": 4}
        assert verify(ident, [sizes], samples=1).passed, name


def test_get_and_by_topic_errors_help() -> None:
    with pytest.raises(KeyError, match="trace-AXB"):
        identities.get("trace-AXb")
    with pytest.raises(KeyError, match="topics: book-identity"):
        identities.by_topic("traces")
    assert identities.get("det-X").source == "Matrix Cookbook (2012) eq. (49)"


def test_flattened_forms_stated_in_notes() -> None:
    """The notes' Kronecker forms: vec-Jacobian of X⁻¹ is −(X⁻ᵀ ⊗ X⁻¹), the
    flattened Hessian of log|det X| is −(X⁻¹ ⊗ X⁻ᵀ)K."""
    rng = np.random.default_rng(0)
    X0 = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    Y = np.linalg.inv(X0)
    inst = identities.get("inverse-jacobian").instantiate({"n": 3})
    J = mg.evaluate(inst.closed_form, {"X": X0})
    Jm = np.asarray(mg.jacobian_matrix(J, 2), dtype=np.float64)
    np.testing.assert_allclose(Jm, -np.kron(Y.T, Y), atol=1e-12)
    inst = identities.get("hessian-logdet").instantiate({"n": 3})
    H = mg.evaluate(inst.closed_form, {"X": X0})
    K = mg.commutation_matrix(3, 3)
    Hm = np.asarray(mg.jacobian_matrix(H, 2), dtype=np.float64)
    np.testing.assert_allclose(Hm, -np.kron(Y, Y.T) @ K, atol=1e-12)


# --------------------------------------------------------------------------- the page


def test_generated_page_is_up_to_date() -> None:
    page = (ROOT / "docs" / "identities.md").read_text(encoding="utf-8")
    assert page == docs.render(), "run: python -m matgrad.identities.docs"


def test_page_lists_every_identity_with_its_latex() -> None:
    page = docs.render()
    assert page == docs.render()  # deterministic
    for ident in ALL:
        assert f"### `{ident.name}`" in page
        assert f"$${ident.latex}$$" in page


def test_docs_main_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "identities.md"
    assert docs.main(["--output", str(out), "--check"]) == 1
    assert docs.main(["--output", str(out)]) == 0
    assert docs.main(["--output", str(out), "--check"]) == 0
    out.write_text("stale", encoding="utf-8")
    assert docs.main(["--output", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


# --------------------------------------------------------------------------- the command


def run(*argv: str) -> tuple[int, str]:
    """``matgrad identities ...`` in process, as cli.py registers it."""
    parser = argparse.ArgumentParser(prog="matgrad")
    identities.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["identities", *argv])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = args.func(args)
    return code, buffer.getvalue()


def test_cli_list() -> None:
    code, out = run("list")
    assert code == 0 and f"{len(ALL)} identities" in out and "trace-AXB" in out
    code, out = run("list", "--topic", "determinant")
    assert code == 0 and "det-X " in out and "trace-AXB" not in out


def test_cli_show() -> None:
    code, out = run("show", "det-X")
    assert code == 0
    assert "Matrix Cookbook (2012) eq. (49)" in out and "closed form" in out and "matgrad" in out
    code, out = run("show", "det-x")
    assert code == 2 and "did you mean" in out


def test_cli_verify_prints_a_table_and_exit_codes() -> None:
    code, out = run("verify", "trace-AXB", "det-X", "--samples", "1")
    assert code == 0
    assert re.search(r"trace-AXB\s+\S+e-\d+\s+PASS", out)
    assert "2 identities: 2 passed, 0 failed" in out
    code, out = run("verify", "trace-AXB", "--sizes", "3", "k=2,n=4,m=2", "--samples", "1")
    assert code == 0 and "PASS" in out
    code, out = run("verify", "hessian-det-singular", "--samples", "1")
    assert code == 0 and re.search(r"hessian-det-singular\s+\S+\s+PASS", out)  # no core gap
    code, out = run("verify", "mml-ex5.7", "--sizes", "3", "--samples", "1")
    assert code == 0 and "SKIP" in out  # stated for ℝ² only


def test_cli_verify_fails_on_a_wrong_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    ident = identities.get("trace-AXB")
    wrong = dataclasses.replace(ident, closed_form=lambda s: 2 * (s.A.T @ s.B.T))

    monkeypatch.setitem(catalogue._REGISTRY, "trace-AXB", wrong)
    code, out = run("verify", "trace-AXB", "--samples", "1")
    assert code == 1 and "FAIL" in out and "closed vs symbolic" in out


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("verify", "--sizes", "n=0")
    with pytest.raises(SystemExit):
        run("verify", "--samples", "0")
    assert "positive" in capsys.readouterr().err
    assert cli.parse_sizes(" n=2, m=3 ") == {"n": 2, "m": 3}


def test_cli_main_standalone(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "trace-X", "--samples", "1"]) == 0
    assert "PASS" in capsys.readouterr().out
