"""``verify_ledger``: recompute everything the ledger claims and name the first thing that is wrong."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from typing import Any

from django.apps import apps

from audit_app.ledger import merkle
from audit_app.ledger.canonical import record_hash
from audit_app.ledger.log import fetch_nodes
from audit_app.ledger.records import evidence_record
from audit_app.ledger.verifier import VerificationError, leaf_hash, node_hash, verify_checkpoint, verify_consistency
from audit_app.models import Checkpoint, LedgerEntry

MODELS = {
    "submission": "audit_app.Submission",
    "run": "audit_app.RunRecord",
    "kill_switch": "audit_app.KillSwitchEvent",
    "access": "audit_app.AccessEvent",
}


class LedgerProblem(Exception):
    def __init__(self, sequence: int | None, message: str) -> None:
        super().__init__(f"Entry {sequence}: {message}" if sequence is not None else message)
        self.sequence = sequence


@dataclasses.dataclass
class Report:
    entries: int
    checkpoints: int
    root: bytes
    seconds: float

    def summary(self) -> str:
        rate = self.entries / self.seconds if self.seconds else 0.0
        return (f"Ledger verified: {self.entries} entries, {self.checkpoints} checkpoints, "
                f"root {self.root.hex()}, {self.seconds:.2f} s ({rate:,.0f} entries/s).")  # fmt: skip


class _Frontier:
    """The right edge of the tree: complete subtrees by size, enough to give the root at any point."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def push(self, leaf: bytes) -> None:
        self.stack.append((1, leaf))
        self.size += 1
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (size, right), (_, left) = self.stack.pop(), self.stack.pop()
            self.stack.append((2 * size, node_hash(left, right)))

    def root(self) -> bytes:
        result = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            result = node_hash(left, result)
        return result


def verify_ledger(verifier_key: str, check_records: bool = True) -> Report:
    """Raise ``LedgerProblem`` naming the first bad sequence number; return a report when all holds."""
    started = time.perf_counter()
    checkpoints = list(Checkpoint.objects.order_by("size", "id"))
    frontier, pending = _Frontier(), iter(checkpoints)
    checkpoint = next(pending, None)
    for sequence, payload, stored_leaf, subject in (
        LedgerEntry.objects.order_by("sequence")
        .values_list("sequence", "payload", "leaf_hash", "subject")
        .iterator(chunk_size=5000)
    ):
        if sequence != frontier.size:
            raise LedgerProblem(frontier.size, f"is missing (the sequence jumps to {sequence}).")
        leaf = leaf_hash(bytes(payload))
        if leaf != bytes(stored_leaf):
            raise LedgerProblem(sequence, "its payload does not match its stored leaf hash.")
        if check_records:
            _check_record(sequence, subject, bytes(payload))
        frontier.push(leaf)
        while checkpoint is not None and checkpoint.size == frontier.size:
            _check_checkpoint(checkpoint, frontier.root(), verifier_key)
            checkpoint = next(pending, None)
    if checkpoint is not None:  # entries were removed from the end
        missing = (
            f"is missing: checkpoint {checkpoint.pk} signs {checkpoint.size} entries, the log ends at {frontier.size}."
        )
        raise LedgerProblem(frontier.size, missing)
    root = frontier.root() if frontier.size else merkle.root(0, fetch_nodes)
    if frontier.size and merkle.root(frontier.size, fetch_nodes) != root:
        raise LedgerProblem(None, "The stored tree nodes do not give the root recomputed from the entries.")
    for older, newer in itertools.pairwise(checkpoints):
        try:
            proof = merkle.consistency_proof(older.size, newer.size, fetch_nodes)
            verify_consistency(older.size, newer.size, proof, bytes(older.root), bytes(newer.root))
        except (VerificationError, KeyError) as error:
            raise LedgerProblem(
                None, f"Checkpoints at sizes {older.size} and {newer.size} are not consistent: {error}"
            ) from None
    return Report(frontier.size, len(checkpoints), root, time.perf_counter() - started)


def _check_checkpoint(checkpoint: Checkpoint, recomputed: bytes, verifier_key: str) -> None:
    try:
        _, size, signed_root = verify_checkpoint(checkpoint.note, verifier_key)
    except VerificationError as error:
        raise LedgerProblem(
            checkpoint.size - 1, f"checkpoint {checkpoint.pk} at size {checkpoint.size}: {error}"
        ) from None
    if size != checkpoint.size or signed_root != bytes(checkpoint.root) or signed_root != recomputed:
        raise LedgerProblem(
            checkpoint.size - 1,
            f"checkpoint {checkpoint.pk} at size {checkpoint.size} signs a root the entries do not give.",
        )


def _check_record(sequence: int, subject: str, payload: bytes) -> None:
    kind, _, key = subject.partition(":")
    label = MODELS.get(kind)
    if label is None:
        return
    body: dict[str, Any] = json.loads(payload)
    row = apps.get_model(label).objects.filter(pk=key).first()
    if row is None:
        raise LedgerProblem(sequence, f"its {kind} {key} is missing from the database.")
    record = evidence_record(row)
    if record != body.get("record") or record_hash(record) != body.get("record_sha256"):
        raise LedgerProblem(sequence, f"its {kind} {key} differs from what was ledgered.")
    if getattr(row, "record_sha256", None) != body.get("record_sha256"):
        raise LedgerProblem(sequence, f"the stored hash of {kind} {key} differs from what was ledgered.")
    if kind == "submission":
        documents = [evidence_record(d) for d in row.documents.order_by("position")]
        if documents != body.get("documents"):
            raise LedgerProblem(sequence, f"the documents of submission {key} differ from what was ledgered.")
