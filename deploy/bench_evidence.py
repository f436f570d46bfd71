"""Realistic evidence in bulk for the ledger benchmark: rows of every kind and their entries, loaded with COPY.

Each row is built as the services build it (``evidence_record`` / ``evidence_hash``, the derived hash
columns from ``ledger.derived``) and each entry's payload, leaf hash and completed subtrees are what
``log.record_evidence`` → ``glassbox_ledger_append`` store for that row; ``verify_ledger`` then checks
every one of them like any other entry. The mix per job follows a busy deployment: one submission
(with one document), one run record (300 prompt and 400 output tokens), six views of the job; a
suspend/resume pair every 500 jobs and a ledgered verification every 1,000.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, models
from django.utils import timezone

from audit_app.ledger import derived, merkle
from audit_app.ledger.canonical import canonical_json, sha256_hex
from audit_app.ledger.records import evidence_hash, evidence_record
from audit_app.ledger.standalone import leaf_hash
from audit_app.models import (
    AccessEvent,
    Case,
    Document,
    Job,
    KillSwitchEvent,
    LedgerVerification,
    RunRecord,
    Submission,
    Team,
)

ENTRIES_PER_JOB = 8  # submission, run, six views
WORDS = ("the", "contract", "clause", "liability", "party", "court", "notice", "breach", "term", "payment", "risk")


class _Ids:
    """Primary keys handed out ahead of COPY (the sequences are moved past them afterwards)."""

    def __init__(self, *tables: type[models.Model]) -> None:
        self.next: dict[type[models.Model], int] = {}
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {model._meta.db_table}")
                self.next[model] = cursor.fetchone()[0]

    def take(self, model: type[models.Model]) -> int:
        self.next[model] += 1
        return self.next[model] - 1

    def move_sequences(self) -> None:
        with connection.cursor() as cursor:
            for model, value in self.next.items():
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s, false)", [value])


class Loader:
    def __init__(self, seed: int = 0, kill_switch_every: int = 500, verification_every: int = 1000) -> None:
        self.kill_switch_every, self.verification_every = kill_switch_every, verification_every
        self.rng = random.Random(seed)
        self.user = User.objects.get_or_create(username="bench-analyst")[0]
        self.team = team = Team.objects.get_or_create(name="Bench")[0]
        self.case = Case.objects.get_or_create(team=team, reference="BENCH-1", defaults={"domain": "legal"})[0]
        self.ids = _Ids(Submission, Document, Job, RunRecord, AccessEvent, KillSwitchEvent, LedgerVerification)
        self.rows: dict[type[models.Model], list[models.Model]] = {}
        self.entries: list[tuple[str, str, bytes, Any]] = []
        self.at = timezone.now() - timedelta(days=30)
        self.jobs = 0

    def text(self, words: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(words))

    def tick(self) -> Any:
        self.at += timedelta(microseconds=self.rng.randrange(1, 2_000_000))
        return self.at

    def ledger(self, kind: str, row: models.Model, **related: Any) -> None:
        """The row and the payload ``record_evidence`` would ledger for it."""
        row.record_sha256 = evidence_hash(row)  # type: ignore[attr-defined]
        self.rows.setdefault(type(row), []).append(row)
        body = {"record": evidence_record(row), "record_sha256": row.record_sha256} | related  # type: ignore[attr-defined]
        subject = f"{kind}:{row.pk}"
        recorded_at = self.tick()
        payload = canonical_json(body | {"kind": kind, "subject": subject, "recorded_at": recorded_at.isoformat()})
        self.entries.append((kind, subject, payload, recorded_at))

    def job(self) -> None:
        question = self.text(40) + "?"
        settings = {
            "temperature": 0.7,
            "top_p": 0.95,
            "seed": self.rng.randrange(2**31),
            "thinking_budget": 2048,
            "answer_budget": 1024,
        }
        job_id = self.ids.take(Job)  # the submission's entry names its job, as ``submit_job``'s does
        submission = Submission(
            id=self.ids.take(Submission),
            case_id=self.case.pk,
            case_reference=self.case.reference,
            case_title=self.case.title,
            team_name=self.team.name,
            submitted_by_id=self.user.pk,
            submitted_by_name=self.user.username,
            submitted_at=self.tick(),
            domain="legal",
            question=question,
            template_id="legal-v1",
            settings=settings,
            **derived.submission_hashes(question),
        )
        original = self.text(150).encode()
        document = Document(
            id=self.ids.take(Document),
            submission_id=submission.pk,
            position=0,
            name="brief.txt",
            content_type="text/plain",
            size=len(original),
            sha256=sha256_hex(original),
            original=original,
            text=original.decode(),
        )
        self.rows.setdefault(Document, []).append(document)
        self.ledger("submission", submission, documents=[evidence_record(document)], job=job_id)
        job = Job(
            id=job_id,
            submission_id=submission.pk,
            status=Job.SUCCEEDED,
            attempts=1,
            created_at=self.at,
            finished_at=self.tick(),
        )
        self.rows.setdefault(Job, []).append(job)
        prompt_ids = [self.rng.randrange(1000, 131072) for _ in range(300)]
        output_ids = [self.rng.randrange(1000, 131072) for _ in range(400)]
        thinking, answer = self.text(250), self.text(100)
        run = RunRecord(
            id=self.ids.take(RunRecord),
            job_id=job.pk,
            submission_record_sha256=submission.record_sha256,
            created_at=self.tick(),
            prompt_text=self.text(200),
            prompt_token_ids=prompt_ids,
            prompt_token_count=300,
            template_id="legal-v1",
            system_prompt_source="SYSTEM_PROMPT.txt",
            system_prompt_sha256=sha256_hex(b"system"),
            settings=settings,
            thinking=thinking,
            answer=answer,
            thinking_blocks=[thinking],
            raw_output=f"[THINK]{thinking}[/THINK]{answer}",
            output_token_ids=output_ids,
            finish_reason="stop",
            thinking_end="model",
            forced_tokens=[],
            thinking_tokens=280,
            answer_tokens=120,
            generated_tokens=400,
            timings={"prefill_s": 0.412, "decode_s": 11.25, "tokens_per_s": 35.6},
            provenance={
                "model_id": "mistralai/Magistral-Small-2507",
                "revision": "bench",
                "quantization": "nf4",
                "device": "cuda:0",
            },
            is_test_model=False,
            **derived.run_hashes(prompt_ids, thinking, answer),
        )
        self.ledger("run", run)
        for _ in range(ENTRIES_PER_JOB - 2):
            view = AccessEvent(
                id=self.ids.take(AccessEvent),
                action=AccessEvent.VIEW,
                actor_id=self.user.pk,
                actor_name=self.user.username,
                subject=f"job:{job.pk}",
                at=self.tick(),
            )
            self.ledger("access", view)
        self.jobs += 1
        if self.jobs % self.kill_switch_every == 0:
            for action in (KillSwitchEvent.SUSPEND, KillSwitchEvent.RESUME):
                event = KillSwitchEvent(
                    id=self.ids.take(KillSwitchEvent),
                    action=action,
                    actor_id=self.user.pk,
                    actor_name=self.user.username,
                    reason="drill",
                    at=self.tick(),
                )
                self.ledger("kill_switch", event)
        if self.jobs % self.verification_every == 0:
            check = LedgerVerification(
                id=self.ids.take(LedgerVerification),
                requested_by_name="auditor",
                at=self.tick(),
                ok=True,
                message="Ledger verified",
            )
            self.ledger("verification", check)

    def flush(self, cursor: Any) -> None:
        """COPY the buffered rows (parents first), then leave the entries to the caller."""
        for model in (Submission, Document, Job, RunRecord, AccessEvent, KillSwitchEvent, LedgerVerification):
            rows = self.rows.pop(model, [])
            if not rows:
                continue
            fields = list(model._meta.concrete_fields)
            columns = ", ".join(f.column for f in fields if f.column)
            with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_copy_value(f, getattr(row, f.attname)) for f in fields])


def _copy_value(field: models.Field[Any, Any], value: Any) -> Any:
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    return value


def edge_of(nodes: dict[merkle.NodeKey, bytes]) -> merkle.Fetch:
    return lambda keys: {key: nodes[key] for key in keys}


def load(total: int, batch_jobs: int = 2000, **mix: int) -> int:
    """Fill the log to about ``total`` entries of realistic evidence; returns the number of jobs added."""
    from audit_app.ledger import log

    loader = Loader(**mix)
    start = log.tree_size()
    edge = [(level, (start >> level) - 1) for level in range(start.bit_length()) if (start >> level) & 1]
    nodes: dict[merkle.NodeKey, bytes] = dict(log.fetch_nodes(edge))
    sequence = start
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        while sequence < total:
            while len(loader.entries) < batch_jobs * ENTRIES_PER_JOB and sequence + len(loader.entries) < total:
                loader.job()
            loader.flush(cursor)
            new_nodes = []
            with cursor.copy(
                "COPY audit_app_ledgerentry (sequence, kind, subject, payload, leaf_hash, recorded_at) FROM STDIN"
            ) as copy:
                for kind, subject, payload, recorded_at in loader.entries:
                    leaf = leaf_hash(payload)
                    copy.write_row((sequence, kind, subject, payload, leaf, recorded_at))
                    completed = merkle.nodes_completed_by(sequence, leaf, edge_of(nodes))
                    nodes.update(completed)
                    size = sequence + 1  # keep only the right edge: the left siblings of later appends
                    nodes = {k: v for k, v in nodes.items() if (size >> k[0]) & 1 and k[1] == (size >> k[0]) - 1}
                    new_nodes.extend(completed.items())
                    sequence += 1
            loader.entries.clear()
            with cursor.copy("COPY audit_app_ledgernode (level, index, hash) FROM STDIN") as copy:
                for (level, index), digest in new_nodes:
                    copy.write_row((level, index, digest))
    loader.ids.move_sequences()
    with connection.cursor() as cursor:
        # COPY went around append(): drop the derived head row so the next lock rebuilds it from the log.
        cursor.execute("DELETE FROM audit_app_ledgerhead")
    return loader.jobs
