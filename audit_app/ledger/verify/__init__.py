"""``verify_ledger``: recompute everything the ledger claims and report every problem, by table and id.

Entries → rows (each ledgered record equals its row, each hash column its recomputation), rows → entries
(each evidence row has exactly one entry), leaves, checkpoints (signature and root), the stored nodes
proofs are served from, and the consistency of consecutive checkpoints. A problem never stops the walk:
the frontier goes on with the *stored* leaf hash, so an edited payload is reported at its own entry only,
while an edited stored leaf still fails every checkpoint that signs it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from django.db import connection

from audit_app.ledger import merkle
from audit_app.ledger.bindings import Inexact, check_bindings, ledgered_job_text
from audit_app.ledger.head import check_head
from audit_app.ledger.log import fetch_nodes
from audit_app.ledger.problems import Problem
from audit_app.ledger.standalone import VerificationError, leaf_hash, node_hash, verify_checkpoint, verify_consistency
from audit_app.ledger.verify.coverage import repeated_subjects, unledgered_rows
from audit_app.ledger.verify.reader import CHUNK, Chunk, read_chunks
from audit_app.ledger.verify.records import ENTRY_TABLE, Entry, check_chunk, decode_entry
from audit_app.ledger.verify.report import Report
from audit_app.ledger.verify.rows import EVIDENCE
from audit_app.models import Checkpoint

__all__ = ["Report", "verify_ledger"]

READER_THREADS = 2  # overlap the database with the checks; more cores would take more
CHECKPOINT_TABLE, NODE_TABLE = "audit_app_checkpoint", "audit_app_ledgernode"
_MISSING_LEAF = bytes(32)  # stands in for a deleted entry whose stored node is gone too


class _Frontier:
    """The right edge of the tree: complete subtrees by size, enough to give the root at any point."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0
        # Every complete node on the way, level by level in index order: the tree ``check_head`` compares
        # the stored nodes with, so it need not rebuild it.
        self.levels: list[bytearray] = []

    def push(self, leaf: bytes) -> None:
        self.stack.append((1, leaf))
        self.size += 1
        self._keep(0, leaf)
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (size, right), (_, left) = self.stack.pop(), self.stack.pop()
            parent = node_hash(left, right)
            self.stack.append((2 * size, parent))
            self._keep(size.bit_length(), parent)

    def _keep(self, level: int, digest: bytes) -> None:
        if level == len(self.levels):
            self.levels.append(bytearray())
        self.levels[level] += digest

    def root(self) -> bytes:
        if not self.stack:
            return merkle.root(0, fetch_nodes)
        result = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            result = node_hash(left, result)
        return result


def verify_ledger(
    verifier_key: str,
    check_records: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    max_problems: int = 100,
) -> Report:
    """Check the whole ledger; the report lists every problem found (the first ``max_problems``) and the total.

    Never raises on tampering. Rows and entries written while it runs are seen consistently: an entry
    commits with its row, and each rows → entries check is one statement.
    """
    started = time.perf_counter()
    report = Report(cap=max_problems)
    checkpoints = list(Checkpoint.objects.order_by("size", "id"))  # before the size: none signs beyond it
    total = _size()
    walk = _Walk(report, checkpoints, verifier_key, check_records)
    for chunk in read_chunks(total, check_records, READER_THREADS):
        walk.chunk(chunk)
        if on_progress is not None:
            on_progress(walk.frontier.size, total)
    walk.finish(total)
    if check_records:
        problems, count = unledgered_rows(max_problems)
        for problem in problems:
            report.add(problem)
        report.problem_count += count - len(problems)
        jobs = walk.jobs if walk.exact and walk.jobs_exact else None  # else the bindings read the payloads again
        for problem in itertools.chain(repeated_subjects(), check_bindings(jobs)):
            report.add(problem)
    # The head row, every stored node, checkpoint edges, alerts: never trusted. The walk's tree stands for
    # the stored leaf hashes only if it pushed each of them and nothing else.
    for problem in check_head(walk.frontier.levels if walk.exact else None):
        report.add(problem)
    report.entries, report.checkpoints, report.root = total, len(checkpoints), walk.frontier.root()
    report.seconds = time.perf_counter() - started
    return report


def _size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(sequence) + 1, 0) FROM audit_app_ledgerentry")
        return int(cursor.fetchone()[0])


class _Walk:
    def __init__(self, report: Report, checkpoints: list[Checkpoint], key: str, check_records: bool) -> None:
        self.report, self.checkpoints, self.key, self.check_records = report, checkpoints, key, check_records
        self.frontier = _Frontier()
        self.pending = iter(checkpoints)
        self.exact = True  # every entry 0, 1, 2, … once, each with a 32-byte stored leaf hash
        self.jobs: list[tuple[str, str | None]] = []  # each submission entry's subject and ledgered job
        self.jobs_exact = True
        self.checkpoint = next(self.pending, None)
        self._due()  # checkpoints of the empty log (beat signs one before the first job)

    def chunk(self, chunk: Chunk) -> None:
        decoded: list[Entry] = []
        for sequence, kind, subject, payload, stored_leaf in chunk.entries:
            if sequence < self.frontier.size:  # only if the unique constraint was dropped
                self.exact = False
                self.report.add(Problem(ENTRY_TABLE, str(sequence), "repeats a sequence number.", sequence))
                continue
            if sequence > self.frontier.size:
                self.exact = False
                self._gap(sequence)
            leaf = leaf_hash(payload)
            if leaf != stored_leaf:
                self.report.add(
                    Problem(ENTRY_TABLE, str(sequence), "its payload does not match its stored leaf hash.", sequence)
                )
            if len(stored_leaf) != 32:
                self.exact = False
            self.frontier.push(stored_leaf if len(stored_leaf) == 32 else leaf)
            self._due()
            if sequence in chunk.verified:
                if kind == "submission":
                    self.jobs.append((subject, ledgered_job_text(chunk.jobs[sequence])))
            elif self.check_records:
                entry = self._decode(sequence, kind, subject, payload)
                if entry is not None:
                    decoded.append(entry)
        if decoded:
            for problem in check_chunk(decoded, chunk.rows, chunk.documents):
                self.report.add(problem)

    def finish(self, total: int) -> None:
        while self.checkpoint is not None:  # entries were removed from the end
            self.report.add(
                Problem(
                    ENTRY_TABLE,
                    str(total),
                    f"is missing: checkpoint {self.checkpoint.pk} signs "
                    f"{self.checkpoint.size} entries, the log ends at {total}.",
                    total,
                )
            )
            self.checkpoint = next(self.pending, None)
        try:
            stored_root = merkle.root(total, fetch_nodes)
        except LookupError as error:
            self.report.add(Problem(NODE_TABLE, None, f"a stored tree node is missing ({error})."))
        else:
            if stored_root != self.frontier.root():
                self.report.add(
                    Problem(NODE_TABLE, None, "the stored tree nodes do not give the root recomputed from the entries.")
                )
        for older, newer in itertools.pairwise(self.checkpoints):
            if newer.size > total:
                continue  # already reported as missing entries
            try:
                proof = merkle.consistency_proof(older.size, newer.size, fetch_nodes)
                verify_consistency(older.size, newer.size, proof, bytes(older.root), bytes(newer.root))
            except (VerificationError, LookupError) as error:
                self.report.add(
                    Problem(
                        CHECKPOINT_TABLE,
                        str(newer.pk),
                        f"is not consistent with checkpoint {older.pk} (sizes {older.size} and {newer.size}): {error}",
                    )
                )

    def _decode(self, sequence: int, kind: str, subject: str, payload: bytes) -> Entry | None:
        try:
            body, record_bytes = decode_entry(sequence, kind, subject, payload)
        except ValueError:
            self.jobs_exact = False
            self.report.add(Problem(ENTRY_TABLE, str(sequence), "its payload is not JSON.", sequence))
            return None
        if kind == "submission":
            try:
                self.jobs.append((subject, ledgered_job_text(body.get("job") if isinstance(body, dict) else None)))
            except Inexact:
                self.jobs_exact = False
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("subject") != subject:
            self.report.add(
                Problem(ENTRY_TABLE, str(sequence), "its kind or subject column differs from its payload.", sequence)
            )
            return None
        prefix, _, key = subject.partition(":")
        if prefix != kind or kind not in EVIDENCE:
            return None  # not a row of an evidence table (e.g. a benchmark's entries)
        if not key.isdigit():
            self.report.add(Problem(ENTRY_TABLE, str(sequence), f"its subject {subject} names no row.", sequence))
            return None
        return Entry(sequence, kind, int(key), payload, body, record_bytes)

    def _gap(self, sequence: int) -> None:
        """Entries deleted before ``sequence``: report each, go on with their stored leaf nodes where kept."""
        missing = range(self.frontier.size, sequence)
        for start in range(missing.start, missing.stop, CHUNK):
            batch = range(start, min(start + CHUNK, missing.stop))
            nodes = fetch_nodes((0, index) for index in batch)
            for index in batch:
                self.report.add(Problem(ENTRY_TABLE, str(index), f"is missing (the log jumps to {sequence}).", index))
                self.frontier.push(nodes.get((0, index), _MISSING_LEAF))
                self._due()

    def _due(self) -> None:
        """Check every checkpoint at the frontier's size (there may be several of one size, or of size 0)."""
        while self.checkpoint is not None and self.checkpoint.size <= self.frontier.size:
            self._check(self.checkpoint, self.frontier.root())
            self.checkpoint = next(self.pending, None)

    def _check(self, checkpoint: Checkpoint, recomputed: bytes) -> None:
        where = f"at size {checkpoint.size}"
        try:
            _, size, signed_root = verify_checkpoint(checkpoint.note, self.key)
        except VerificationError as error:
            self.report.add(Problem(CHECKPOINT_TABLE, str(checkpoint.pk), f"{where}: {error}"))
            return
        if size != checkpoint.size or signed_root != bytes(checkpoint.root) or signed_root != recomputed:
            self.report.add(
                Problem(CHECKPOINT_TABLE, str(checkpoint.pk), f"{where} signs a root the entries do not give.")
            )
