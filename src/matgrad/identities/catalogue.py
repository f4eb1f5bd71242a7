"""The registry of the identity catalogue: every entry by name and by topic (layer 4).

The entries live in one module per topic; this module collects them, checks
that names are unique and topics known, and answers the queries re-exported by
:mod:`matgrad.identities`.
"""

from __future__ import annotations

import difflib

from matgrad.identities._record import Identity
from matgrad.identities.book import ENTRIES as _BOOK
from matgrad.identities.decomposition import ENTRIES as _DECOMPOSITION
from matgrad.identities.determinant import ENTRIES as _DETERMINANT
from matgrad.identities.inverse import ENTRIES as _INVERSE
from matgrad.identities.jacobian import ENTRIES as _JACOBIAN
from matgrad.identities.learning import ENTRIES as _LEARNING
from matgrad.identities.matfunc import ENTRIES as _MATFUNC
from matgrad.identities.norm import ENTRIES as _NORM
from matgrad.identities.quadratic import ENTRIES as _QUADRATIC
from matgrad.identities.second_order import ENTRIES as _SECOND_ORDER
from matgrad.identities.singular import ENTRIES as _SINGULAR
from matgrad.identities.spectral import ENTRIES as _SPECTRAL
from matgrad.identities.symmetric import ENTRIES as _SYMMETRIC
from matgrad.identities.trace import ENTRIES as _TRACE

__all__ = ["TOPICS", "all", "by_topic", "get", "topics"]

TOPICS: dict[str, str] = {
    "book-identity": "The identities (5.98)–(5.107) of Mathematics for Machine Learning",
    "book-example": "Worked examples and exercises of MML chapter 5",
    "trace": "Derivatives of traces",
    "determinant": "Derivatives of determinants",
    "inverse": "Derivatives of inverses",
    "quadratic": "Scalar, bilinear and quadratic forms",
    "norm": "Vector and matrix norms",
    "jacobian": "Jacobians of vector- and matrix-valued maps",
    "second-order": "Hessians and other second derivatives",
    "structured": "Symmetric and other structured variables",
    "learning": "Losses and layers of machine learning",
    "spectral": "Eigenvalues, eigenvectors and spectral functions of symmetric matrices",
    "matrix-function": "Matrix functions (expm, logm, sqrtm, sinm, cosm, powers) and their "
    "Fréchet derivatives",
    "singular-value": "Singular values and the spectral, nuclear and Schatten norms",
    "decomposition": "Cholesky, QR, the pseudo-inverse and least squares",
}
"""Each topic and its heading, in the order the catalogue presents them."""

_ENTRY_GROUPS = (_BOOK, _TRACE, _DETERMINANT, _INVERSE, _QUADRATIC, _NORM, _JACOBIAN,
                 _SECOND_ORDER, _SYMMETRIC, _LEARNING, _SPECTRAL,
                 _MATFUNC, _SINGULAR, _DECOMPOSITION)


def _build() -> dict[str, Identity]:
    registry: dict[str, Identity] = {}
    for group in _ENTRY_GROUPS:
        for ident in group:
            if ident.name in registry:
                raise ValueError(f"two identities are named {ident.name!r}")
            if ident.topic not in TOPICS:
                raise ValueError(f"identity {ident.name!r} has unknown topic {ident.topic!r}")
            registry[ident.name] = ident
    order = list(TOPICS)
    return dict(sorted(registry.items(), key=lambda kv: order.index(kv[1].topic)))


_REGISTRY = _build()


def all() -> tuple[Identity, ...]:
    """Every identity, grouped by topic (in :data:`TOPICS` order).

    >>> from matgrad import identities
    >>> len(identities.all()) >= 120
    True
    """
    return tuple(_REGISTRY.values())


def get(name: str) -> Identity:
    """The identity named ``name``; a ``KeyError`` lists close names if there is none.

    >>> from matgrad import identities
    >>> identities.get("trace-AXB").title
    'Trace of a linear form, tr(AXB)'
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no identity named {name!r}{hint}") from None


def topics() -> tuple[str, ...]:
    """The topics that have entries, in catalogue order."""
    present = {i.topic for i in _REGISTRY.values()}
    return tuple(t for t in TOPICS if t in present)


def by_topic(topic: str) -> tuple[Identity, ...]:
    """The identities of one topic; a ``KeyError`` names the topics for an unknown one."""
    if topic not in TOPICS:
        raise KeyError(f"no topic {topic!r}; topics: {', '.join(TOPICS)}")
    return tuple(i for i in _REGISTRY.values() if i.topic == topic)
