"""The evidence: what was asked, with what, and exactly what the model produced. Write-once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit_app.models.organisation import DOMAINS, Case
from audit_app.models.write_once import WriteOnceModel


class Submission(WriteOnceModel):
    """The frozen request: who, when, which case, question, settings and prompt template."""

    evidence_kind = "submission"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="submissions")
    # What pages show about the case, frozen as content: the Case row stays editable, these do not.
    case_reference = models.CharField(max_length=100)
    case_title = models.CharField(max_length=200, blank=True)
    team_name = models.CharField(max_length=100)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_by_name = models.CharField(max_length=150)  # kept even if the account is renamed
    submitted_at = models.DateTimeField(default=timezone.now)  # set before insert: it is hashed
    domain = models.CharField(max_length=20, choices=DOMAINS)
    question = models.TextField()
    template_id = models.CharField(max_length=50)
    settings = models.JSONField()
    # A re-run names the submission it repeats by that submission's record hash (content, not a mutable id);
    # empty for a first run. It is part of the record, so an edited link no longer matches the ledger.
    # The database default keeps inserts that predate the column (other tools, older code) valid.
    rerun_of_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    question_sha256 = models.CharField(max_length=64)
    record_sha256 = models.CharField(max_length=64)  # canonical JSON of everything above, documents included

    class Meta:
        # Runs name their submission by this hash; verification and pages look it up.
        indexes = [models.Index(fields=["record_sha256"], name="submission_record_sha256")]


class Document(WriteOnceModel):
    """An uploaded file: the original bytes, their SHA-256, and the text the prompt used."""

    stored_with = "submission"  # its record is in the submission's entry

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="documents")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original = models.BinaryField()
    text = models.TextField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["submission", "position"], name="document_position_unique")]


class RunRecord(WriteOnceModel):
    """Everything the inference engine returned for one job; exactly one per job."""

    evidence_kind = "run"

    job = models.OneToOneField("audit_app.Job", on_delete=models.PROTECT, related_name="run")
    # The record hash of the submission this run answers: the job's submission_id is mutable, this is not.
    submission_record_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    prompt_text = models.TextField()
    prompt_token_ids = models.JSONField()
    prompt_token_count = models.PositiveIntegerField()
    template_id = models.CharField(max_length=50)
    system_prompt_source = models.CharField(max_length=500)
    system_prompt_sha256 = models.CharField(max_length=64)
    settings = models.JSONField()
    thinking = models.TextField()
    answer = models.TextField()
    thinking_blocks = models.JSONField()
    raw_output = models.TextField()
    output_token_ids = models.JSONField()
    finish_reason = models.CharField(max_length=20)
    thinking_end = models.CharField(max_length=20)
    forced_tokens = models.JSONField()
    thinking_tokens = models.PositiveIntegerField()
    answer_tokens = models.PositiveIntegerField()
    generated_tokens = models.PositiveIntegerField()
    timings = models.JSONField()
    provenance = models.JSONField()
    is_test_model = models.BooleanField()
    prompt_sha256 = models.CharField(max_length=64)
    thinking_sha256 = models.CharField(max_length=64)
    answer_sha256 = models.CharField(max_length=64)
    record_sha256 = models.CharField(max_length=64)


class KillSwitchEvent(WriteOnceModel):
    """Suspending or resuming inference (AI Act Art. 26(5)); the latest *ledgered* event (by sequence) is the state."""

    evidence_kind = "kill_switch"

    SUSPEND, RESUME = "suspend", "resume"
    action = models.CharField(max_length=10, choices=[(SUSPEND, "Suspend"), (RESUME, "Resume")])
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]


class AccessEvent(WriteOnceModel):
    """Someone viewed or exported a record (AI Act Art. 12 logging; who saw what, when)."""

    evidence_kind = "access"

    VIEW, EXPORT = "view", "export"
    action = models.CharField(max_length=10, choices=[(VIEW, "View"), (EXPORT, "Export")])
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    actor_name = models.CharField(max_length=150)
    subject = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)
