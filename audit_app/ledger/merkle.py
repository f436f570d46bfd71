"""RFC 6962 Merkle tree built from stored complete subtrees.

Every complete, aligned subtree (level ``l``, index ``i`` covering leaves ``i*2^l to (i+1)*2^l - 1``) is
stored once, when its last leaf is appended. Roots and proofs then need O(log n) stored nodes,
fetched in one batch, instead of rebuilding the tree. Verification lives in ``verifier``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from audit_app.ledger.standalone import EMPTY_ROOT, node_hash

NodeKey = tuple[int, int]  # (level, index)
Fetch = Callable[[Iterable[NodeKey]], dict[NodeKey, bytes]]


class MissingNodeError(LookupError):
    """A stored subtree hash that a root or proof needs is not in the store (the log was altered)."""

    def __init__(self, level: int, index: int) -> None:
        super().__init__(f"The stored tree node at level {level}, index {index} is missing.")
        self.level, self.index = level, index


def _node(nodes: dict[NodeKey, bytes], level: int, index: int) -> bytes:
    # A KeyError would reach the caller as a bare tuple; name the node so verification can report it.
    found = nodes.get((level, index))
    if found is None:
        raise MissingNodeError(level, index)
    return found


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (RFC 6962's k)."""
    return 1 << ((size - 1).bit_length() - 1)


def _pieces(start: int, size: int) -> list[NodeKey]:
    """The aligned complete subtrees that make up leaves ``start`` to ``start+size-1``, left to right."""
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return [(level, start >> level)]
    k = _split(size)
    return _pieces(start, k) + _pieces(start + k, size - k)


def _combine(start: int, size: int, nodes: dict[NodeKey, bytes]) -> bytes:
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return _node(nodes, level, start >> level)
    k = _split(size)
    return node_hash(_combine(start, k, nodes), _combine(start + k, size - k, nodes))


def _inclusion_ranges(index: int, start: int, size: int) -> list[tuple[int, int]]:
    """RFC 6962 PATH as (start, size) ranges whose hashes form the proof, leaf to root."""
    if size == 1:
        return []
    k = _split(size)
    if index < k:
        return [*_inclusion_ranges(index, start, k), (start + k, size - k)]
    return [*_inclusion_ranges(index - k, start + k, size - k), (start, k)]


def _consistency_ranges(old: int, start: int, size: int, whole: bool) -> list[tuple[int, int]]:
    """RFC 6962 SUBPROOF as ranges."""
    if old == size:
        return [] if whole else [(start, size)]
    k = _split(size)
    if old <= k:
        return [*_consistency_ranges(old, start, k, whole), (start + k, size - k)]
    return [*_consistency_ranges(old - k, start + k, size - k, False), (start, k)]


def _hashes(ranges: list[tuple[int, int]], fetch: Fetch) -> list[bytes]:
    nodes = fetch({key for start, size in ranges for key in _pieces(start, size)})
    return [_combine(start, size, nodes) for start, size in ranges]


def root(size: int, fetch: Fetch) -> bytes:
    """The tree head for the first ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else _hashes([(0, size)], fetch)[0]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"Leaf {index} is not in a tree of size {size}.")
    return _hashes(_inclusion_ranges(index, 0, size), fetch)


def consistency_proof(old: int, size: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= old <= size:
        raise ValueError(f"No consistency proof from size {old} to size {size}.")
    if old in (0, size):
        return []
    return _hashes(_consistency_ranges(old, 0, size, True), fetch)


def nodes_completed_by(index: int, leaf: bytes, fetch: Fetch) -> dict[NodeKey, bytes]:
    """The nodes to store when leaf ``index`` is appended: the leaf and every subtree it completes."""
    completed = {(0, index): leaf}
    needed = []
    level, position = 0, index
    while position & 1:  # a right child completes its parent
        needed.append((level, position - 1))
        level, position = level + 1, position >> 1
    left_siblings = fetch(needed)
    level, position, current = 0, index, leaf
    while position & 1:
        current = node_hash(_node(left_siblings, level, position - 1), current)
        level, position = level + 1, position >> 1
        completed[(level, position)] = current
    return completed


def extend_frontier(frontier: list[bytes], size: int, leaves: Iterable[bytes]) -> list[bytes]:
    """The right edge (complete subtree hashes, largest first) after appending ``leaves`` to a tree of ``size``.

    Each set bit of the size is one subtree, so a new leaf merges with as many as the size has trailing ones.
    """
    edge = list(frontier)
    for leaf in leaves:
        current, position = leaf, size
        while position & 1:
            current = node_hash(edge.pop(), current)
            position >>= 1
        edge.append(current)
        size += 1
    return edge


def frontier_root(frontier: list[bytes]) -> bytes:
    """The tree head the right edge gives: the subtrees folded right to left (RFC 6962's MTH)."""
    if not frontier:
        return EMPTY_ROOT
    result = frontier[-1]
    for left in reversed(frontier[:-1]):
        result = node_hash(left, result)
    return result
