"""Entries and the rows they ledger, read chunk by chunk, a few chunks ahead on their own connections.

Reading is mostly waiting for PostgreSQL (run records' JSON and TOASTed text); checking is Python. Reader
threads keep the database busy on other cores while the caller checks the previous chunk, and at most
``2 * threads`` chunks are held at once, so memory stays bounded at any ledger size. Inside a transaction
(a test's, or a caller's) other connections cannot see its rows, so chunks are read on the caller's own.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import psycopg
from django.db import connection

from audit_app.ledger.verify.rows import EVIDENCE, Row, documents_by_submission, rows_by_id
from audit_app.ledger.verify.serialized import matches, serialized_rows

CHUNK = 5000
RawEntry = tuple[int, str, str, bytes, bytes]  # sequence, kind, subject, payload, leaf_hash


@dataclasses.dataclass
class Chunk:
    entries: list[RawEntry]
    rows: dict[str, dict[int, Row]]  # by kind, then primary key: the rows of entries not yet verified
    documents: dict[int, list[Row]]  # by submission id, likewise
    verified: set[int] = dataclasses.field(default_factory=set)  # sequences whose record checks all held
    jobs: dict[int, int | None] = dataclasses.field(default_factory=dict)  # verified submissions' ledgered job


def read_chunk(start: int, stop: int, check_records: bool) -> Chunk:
    """Entries ``start`` ≤ sequence < ``stop`` and, for record checks, their rows: one query per kind."""
    connection.ensure_connection()
    # Binary results: bytea arrives as it is stored instead of as hex text that both sides must convert,
    # which halved the time to read a million entries (docs/benchmarks.md).
    # Django's cursors bind client-side, which cannot ask for binary results; a plain psycopg cursor on
    # the same connection (same transaction) can.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT sequence, kind, subject, payload, leaf_hash FROM audit_app_ledgerentry "
            "WHERE sequence >= %s AND sequence < %s ORDER BY sequence",
            [start, stop],
            binary=True,
        )
        entries: list[RawEntry] = cursor.fetchall()
    if not check_records:
        return Chunk(entries, {}, {})
    wanted: dict[str, list[tuple[int, int, str, bytes]]] = {}
    for sequence, kind, subject, payload, _ in entries:
        prefix, _, pk = subject.partition(":")
        if prefix == kind and kind in EVIDENCE and pk.isdigit():
            wanted.setdefault(kind, []).append((int(pk), sequence, subject, payload))
    # The fast path first (serialized.py); whatever it cannot verify is read as rows and checked in full.
    chunk = Chunk(entries, {}, {})
    slow: dict[str, list[int]] = {}
    for kind, items in wanted.items():
        serialized = serialized_rows(kind, EVIDENCE[kind], [key for key, _, _, _ in items])
        for key, sequence, subject, payload in items:
            row = serialized.get(key)
            if row is not None and matches(payload, subject.encode(), row):
                chunk.verified.add(sequence)
                if kind == "submission":
                    chunk.jobs[sequence] = row.job
            else:
                slow.setdefault(kind, []).append(key)
    chunk.rows = {kind: rows_by_id(EVIDENCE[kind], keys) for kind, keys in slow.items()}
    chunk.documents = documents_by_submission(slow["submission"]) if "submission" in slow else {}
    return chunk


def read_chunks(total: int, check_records: bool, threads: int) -> Iterator[Chunk]:
    """Every chunk below ``total``, in sequence order."""
    ranges = [(start, min(start + CHUNK, total)) for start in range(0, total, CHUNK)]
    if threads <= 1 or connection.in_atomic_block or len(ranges) <= 1:
        for start, stop in ranges:
            yield read_chunk(start, stop, check_records)
        return
    yield from _Ahead(ranges, check_records, threads).chunks()


class _Ahead:
    def __init__(self, ranges: list[tuple[int, int]], check_records: bool, threads: int) -> None:
        self.ranges, self.check_records, self.threads = ranges, check_records, threads
        self.window = 2 * threads
        self.results: dict[int, Chunk | BaseException] = {}
        self.claimed = self.consumed = 0
        self.stopped = False
        self.changed = threading.Condition()

    def chunks(self) -> Iterator[Chunk]:
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        try:
            for index in range(len(self.ranges)):
                with self.changed:
                    self.changed.wait_for(lambda: index in self.results)  # noqa: B023 (waited on at once)
                    item = self.results.pop(index)
                    self.consumed = index + 1
                    self.changed.notify_all()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            with self.changed:
                self.stopped = True
                self.changed.notify_all()
            for worker in workers:
                worker.join()

    def _work(self) -> None:
        try:
            while True:
                with self.changed:
                    self.changed.wait_for(lambda: self.stopped or self.claimed < self.consumed + self.window)
                    if self.stopped or self.claimed >= len(self.ranges):
                        return
                    index = self.claimed
                    self.claimed += 1
                try:
                    item: Chunk | BaseException = read_chunk(*self.ranges[index], self.check_records)
                except BaseException as error:  # handed to the caller, raised there
                    item = error
                with self.changed:
                    self.results[index] = item
                    self.changed.notify_all()
        finally:
            connection.close()  # this thread's own connection
