"""The ledger's own rows: entries (leaves), stored complete subtrees, signed checkpoints. Write-once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from audit_app.models.write_once import WriteOnceModel


class LedgerEntry(WriteOnceModel):
    """Leaf ``sequence`` of the Merkle log: the canonical payload bytes and their RFC 6962 leaf hash."""

    sequence = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=30)
    subject = models.CharField(max_length=100, db_index=True)
    payload = models.BinaryField()
    leaf_hash = models.BinaryField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["sequence"]


class LedgerNode(WriteOnceModel):
    """The hash of a complete subtree: level 0 holds leaf hashes, level l covers 2^l leaves."""

    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="ledger_node_unique")]


class Checkpoint(WriteOnceModel):
    """A signed tree head in C2SP signed-note form."""

    size = models.BigIntegerField()
    root = models.BinaryField()
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The right edge of the tree at ``size`` (complete subtree hashes, largest first, 32 bytes each): the
    # next signer extends it with the new leaves instead of trusting stored nodes. Null on checkpoints
    # signed before migration 0009.
    frontier = models.BinaryField(null=True)

    class Meta:
        ordering = ["-size", "-id"]


class LedgerAlert(WriteOnceModel):
    """A durable, write-once record that the signer refused to sign or an append found the head edited.

    Operators and auditors see these in verification (``check_head``); nothing ever clears one.
    """

    at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20)  # "signer" or "append"
    reason = models.CharField(max_length=40)  # a short code, so a lasting condition is recorded once
    size = models.BigIntegerField()  # the log's size when it was raised
    message = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"ledger alert {self.pk}: {self.message}"


class LedgerVerification(WriteOnceModel):
    """The finished result of one verify_ledger run: write-once, and itself ledgered (kind ``verification``).

    A history row without its entry is reported by verify_ledger and shown as unverified; the run's
    progress lives in the mutable ``VerificationRun``.
    """

    evidence_kind = "verification"

    requested_by_name = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)  # set before insert: it is hashed
    ok = models.BooleanField()
    entries = models.BigIntegerField(default=0)
    checkpoints = models.BigIntegerField(default=0)
    root = models.CharField(max_length=64, blank=True)
    problem_count = models.BigIntegerField(default=0)
    problems = models.JSONField(default=list)  # the first problems, one sentence each
    message = models.TextField()
    record_sha256 = models.CharField(max_length=64, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"verification {self.pk}: {'passed' if self.ok else 'failed'}"


class LedgerHead(models.Model):
    """One row: the log's size and its right edge (the complete subtrees a new leaf may merge with).

    Appends lock this row (SELECT … FOR UPDATE) until commit, which serializes writers. Since migration
    0009 nothing reads its size or edge to decide anything: appends take the size from the entries and
    the siblings from the write-once nodes, then rewrite this row (recording an alert when it had been
    edited), and ``check_head`` reports an edited row. The app role may UPDATE it, so it is never trusted.
    """

    size = models.BigIntegerField(default=0)
    edge = models.JSONField(default=list)  # [[level, index, hex hash], …], largest subtree first

    def __str__(self) -> str:
        return f"ledger head at size {self.size}"
