"""What the log keeps beside its entries, checked against the entries: nothing here is trusted.

- the head row (size and right edge), which the app role may UPDATE and appends only use as a lock;
- the stored tree nodes that roots and proofs are served from (each equals the hash of its children,
  level 0 the entries' leaf hashes);
- the right edge stored with each checkpoint (it must give the root the checkpoint signs);
- the alerts the signer and the append step recorded (each one is a finding in itself).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.db import connection

from audit_app.ledger import merkle
from audit_app.ledger.log import fetch_nodes, tree_size
from audit_app.ledger.problems import Problem
from audit_app.ledger.standalone import node_hash
from audit_app.models import Checkpoint, LedgerAlert, LedgerHead

HEAD, NODES = "audit_app_ledgerhead", "audit_app_ledgernode"


def check_head(levels: list[bytearray] | None = None) -> Iterator[Problem]:
    """Every disagreement between the log's derived state and its entries, plus every recorded alert.

    ``levels``, if given, is the tree as a caller already rebuilt it from the entries' stored leaf hashes
    (``verify_ledger``'s walk): level by level, the complete nodes' hashes in index order, concatenated.
    """
    yield from _check_head_row()
    yield from check_nodes(levels)
    yield from _check_frontiers()
    for alert in LedgerAlert.objects.order_by("id"):
        yield Problem(
            "audit_app_ledgeralert",
            str(alert.pk),
            f"Ledger alert from the {alert.source} at {alert.at.isoformat(timespec='seconds')}: {alert.message}",
        )


def expected_edge(size: int) -> list[list[Any]]:
    """The head's edge for ``size`` as the stored nodes give it: [[level, index, hex hash], …], largest first."""
    keys = [(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if (size >> level) & 1]
    nodes = fetch_nodes(keys)
    return [[level, index, nodes[(level, index)].hex()] for level, index in keys if (level, index) in nodes]


def _check_head_row() -> Iterator[Problem]:
    head = LedgerHead.objects.filter(pk=1).first()
    if head is None:
        return  # dropped (e.g. after a bulk load): the next append recreates it from the log
    size = tree_size()
    if head.size != size:
        yield Problem(
            HEAD,
            "1",
            f"The head row says the log holds {head.size} entries, but it holds {size}; "
            "the row was edited (appends and the signer ignore it).",
        )
    elif head.edge != expected_edge(size):
        yield Problem(
            HEAD,
            "1",
            "The head row's right edge differs from the stored tree nodes; the row was "
            "edited (appends and the signer ignore it).",
        )


def _check_frontiers() -> Iterator[Problem]:
    for pk, size, root, stored in Checkpoint.objects.exclude(frontier=None).values_list(
        "pk", "size", "root", "frontier"
    ):
        edge = bytes(stored)
        frontier = [edge[i : i + 32] for i in range(0, len(edge), 32)]
        if len(edge) != 32 * size.bit_count() or merkle.frontier_root(frontier) != bytes(root):
            yield Problem(
                "audit_app_checkpoint",
                str(pk),
                f"Checkpoint {pk}'s stored right edge does not give the root it signs at size {size}.",
            )


def check_nodes(levels: list[bytearray] | None = None) -> Iterator[Problem]:
    """Each stored node against the tree rebuilt from the entries' leaf hashes, level by level.

    Expected parents are computed from expected children, so one edited node is reported once, not
    again at every level above it. Entries that are missing are verification's to report; the nodes
    above them are not checked. Given ``levels`` (see ``check_head``), PostgreSQL digests each stored
    level and, if every level is exactly the given one, that is the whole check; otherwise (a problem, or
    entries appended meanwhile) the tree is rebuilt from the entries and compared node by node.
    """
    if levels is not None and _levels_match(levels):
        return
    expected = _leaf_hashes()
    level = 0
    while expected:
        yield from _compare_level(level, expected)
        expected = [
            node_hash(left, right) if left is not None and right is not None else None
            for left, right in zip(expected[0::2], expected[1::2], strict=False)
        ]
        level += 1
    yield from _nodes_beyond(level)


# Per level: how many nodes, whether their indexes are exactly 0, 1, 2, …, and the SHA-256 of their hashes
# concatenated in index order, all computed in PostgreSQL: a million nodes never travel.
_LEVEL_DIGESTS = """
SELECT level, count(*), bool_and(index = position), sha256(string_agg(hash, ''::bytea ORDER BY index))
  FROM (SELECT level, index, hash, row_number() OVER (PARTITION BY level ORDER BY index) - 1 AS position
          FROM audit_app_ledgernode) nodes
 GROUP BY level
"""


def _levels_match(levels: list[bytearray]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_LEVEL_DIGESTS)
        stored = {level: (count, in_order, bytes(digest)) for level, count, in_order, digest in cursor.fetchall()}
    expected = {
        level: (len(hashes) // 32, True, hashlib.sha256(hashes).digest()) for level, hashes in enumerate(levels)
    }
    return stored == expected and len(levels[0] if levels else b"") == 32 * tree_size()


def _leaf_hashes() -> list[bytes | None]:
    leaves: list[bytes | None] = [None] * tree_size()
    for sequence, leaf in _stream("SELECT sequence, leaf_hash FROM audit_app_ledgerentry", []):
        if sequence < len(leaves):
            leaves[sequence] = bytes(leaf)
    return leaves


def _stream(sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows through a server-side cursor: a million-entry log is read in chunks, not held twice."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(10_000):
            yield from rows


def _compare_level(level: int, expected: list[bytes | None]) -> Iterator[Problem]:
    seen = [False] * len(expected)
    for pk, index, digest in _stream("SELECT id, index, hash FROM audit_app_ledgernode WHERE level = %s", [level]):
        if not 0 <= index < len(expected):
            yield Problem(
                NODES,
                str(pk),
                f"The stored tree node at level {level}, index {index} covers leaves the log does not hold.",
            )
            continue
        seen[index] = True
        if expected[index] is not None and bytes(digest) != expected[index]:
            what = "its entry's leaf hash" if level == 0 else "the hash of its two children"
            yield Problem(
                NODES,
                str(pk),
                f"The stored tree node at level {level}, index {index} differs "
                f"from {what}; proofs served from it would not verify.",
            )
    for index, found in enumerate(seen):
        if not found and expected[index] is not None:
            yield Problem(NODES, f"{level}/{index}", str(merkle.MissingNodeError(level, index)))


def _nodes_beyond(level: int) -> Iterator[Problem]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, level, index FROM audit_app_ledgernode WHERE level >= %s", [level])
        for pk, node_level, index in cursor:
            yield Problem(
                NODES,
                str(pk),
                f"The stored tree node at level {node_level}, index {index} covers leaves the log does not hold.",
            )
