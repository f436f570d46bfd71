"""An in-memory node store built with the ledger's own append step, for tests without a database."""

from __future__ import annotations

from collections.abc import Iterable

from audit_app.ledger.merkle import NodeKey, nodes_completed_by
from audit_app.ledger.standalone import leaf_hash


class MemoryTree:
    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.nodes: dict[NodeKey, bytes] = {}
        self.size = 0
        for data in leaves:
            self.append(data)

    def fetch(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys}

    def append(self, data: bytes) -> None:
        self.nodes.update(nodes_completed_by(self.size, leaf_hash(data), self.fetch))
        self.size += 1
