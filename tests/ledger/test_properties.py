"""Property tests: the stored-node tree agrees with RFC 6962's recursive definitions at random sizes,
and every proof it makes verifies while any altered proof does not."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_app.ledger import merkle
from audit_app.ledger.standalone import (
    VerificationError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.memory import MemoryTree


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves_of(size: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(size)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_roots_and_inclusion_proofs(size: int, data: st.DataObject):
    leaves = leaves_of(size)
    tree = MemoryTree(leaves)
    assert merkle.root(size, tree.fetch) == mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, tree.fetch)
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, mth(leaves))
    if proof:
        position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        altered = list(proof)
        altered[position] = bytes([altered[position][0] ^ 1]) + altered[position][1:]
        try:
            verify_inclusion(index, size, leaf_hash(leaves[index]), altered, mth(leaves))
        except VerificationError:
            pass
        else:
            raise AssertionError("an altered inclusion proof verified")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs(size: int, data: st.DataObject):
    leaves = leaves_of(size)
    tree = MemoryTree(leaves)
    old = data.draw(st.integers(min_value=1, max_value=size))
    proof = merkle.consistency_proof(old, size, tree.fetch)
    verify_consistency(old, size, proof, mth(leaves[:old]), mth(leaves))
    if old < size:
        forged = mth([*leaves[: old - 1], b"forged"])
        try:
            verify_consistency(old, size, proof, forged, mth(leaves))
        except VerificationError:
            pass
        else:
            raise AssertionError("a consistency proof verified against a rewritten history")
