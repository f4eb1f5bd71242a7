"""Re-wrapping an array as a constant is a cheap bitwise comparison, never a
stale node; re-building an einsum from the same operands is a lookup."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad.ir.expr import constant, einsum_node
from matgrad.testing import strategies as mgst


@given(a=mgst.arrays(mgst.shapes(min_dims=0, max_dims=3)), data=st.data())
def test_a_mutated_array_gets_a_new_constant(a: np.ndarray, data: st.DataObject) -> None:
    first = constant(a)
    assert constant(a) is first  # unchanged: the same node
    np.testing.assert_array_equal(first.value, a)
    if a.size:
        flat = a.reshape(-1)
        k = data.draw(st.integers(0, a.size - 1))
        flat[k] = -flat[k] if flat[k] != 0 else -0.0  # flips at least the sign bit
        second = constant(a)
        assert second is not first
        assert np.array_equal(second.value.view(np.int64), a.view(np.int64))
        assert not np.array_equal(first.value.view(np.int64), a.view(np.int64))


def test_equal_content_in_different_arrays_is_one_constant() -> None:
    a = np.arange(6.0).reshape(2, 3)
    assert constant(a) is constant(a.copy())


def test_names_are_part_of_a_constant() -> None:
    a = np.ones(2)
    assert constant(a, "u") is not constant(a)
    assert constant(a, "u") is constant(a, "u")


def test_einsum_rebuilt_from_the_same_operands_is_the_same_node() -> None:
    X = mg.Matrix("X", (3, 3))
    A = mg.Matrix("A", (3, 3))
    e1 = einsum_node([X, A], [("i", "k"), ("k", "j")], ("i", "j"))
    e2 = einsum_node([X, A], [("i", "k"), ("k", "j")], ("i", "j"))
    e3 = einsum_node([A, X], [("k", "j"), ("a", "k")], ("a", "j"))  # relabelled, reordered
    assert e1 is e2 is e3


def test_depends_on_a_deep_dag() -> None:
    """3000 nested levels: no recursion limit (found with a 150-level expression)."""
    x, y = mg.Vector("x", 2), mg.Vector("y", 2)
    e = y
    for _ in range(3000):
        e = mg.tanh(e) + 1.0
    assert e.depends_on(y) and not e.depends_on(x)
    assert (e + x).depends_on(x)
