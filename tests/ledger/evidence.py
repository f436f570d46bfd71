"""A ledger holding evidence of every kind, written through the product's own services."""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings
from django.contrib.auth.models import Group, User

from audit_app.models import AccessEvent, Job, KillSwitchEvent, RunRecord, Submission, Team
from audit_app.services.access_events import record_access
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.submission import Upload, submit_job
from inference import Engine, GenerationSettings

SHORT = GenerationSettings(thinking_budget=8, answer_budget=8)
ZEROS = "0" * 64


@dataclasses.dataclass
class Evidence:
    user: User
    team: Team
    submission: Submission  # with two documents
    bare: Submission  # no documents, its job never run
    run: RunRecord
    suspend: KillSwitchEvent
    resume: KillSwitchEvent
    access: AccessEvent


def person(name: str, role: str, team: Team | None = None) -> User:
    user = User.objects.create_user(name)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if team is not None:
        team.members.add(user)
    return user


def run_job_inline(job: Job) -> RunRecord:
    """The worker's path for one job, in this process, with the tiny model."""
    engine = Engine.load(settings.GLASSBOX["MODEL_PATH"], quantization="bf16")
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    run = record_run(job.pk, token, engine.generate(reasoning_request(claimed)))
    assert run is not None
    return run


def make_evidence() -> Evidence:
    team = Team.objects.create(name="Équipe 東京")
    user = person("zoë", "analyst", team)
    uploads = [Upload("brief ☃.txt", "Ünïcödé text, 東京, emoji 🙂.\n".encode()), Upload("b.md", b"# Two\n")]
    job = submit_job(user, team, "C-ß1", "legal", "Was ist \U0001d538? 🙂", uploads, SHORT)
    bare = submit_job(user, team, "C-ß1", "legal", "No documents?", generation=SHORT)
    run = run_job_inline(job)
    suspend = suspend_inference(user, "Audit ✓")
    resume = resume_inference(user)
    access = record_access(user, AccessEvent.VIEW, f"job:{job.pk}")
    return Evidence(user, team, job.submission, bare.submission, run, suspend, resume, access)
