"""``submit_job``: validate everything, store submission, documents and job in one transaction, enqueue on commit."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from audit_app.ledger import derived
from audit_app.models import Case, Document, Job, Submission, Team
from audit_app.services.documents import ExtractedDocument, extract_document
from audit_app.services.errors import SubmissionError
from audit_app.services.killswitch import current_suspension
from audit_app.services.names import check_visible_name
from audit_app.services.prompts import prompt_builder
from audit_app.services.queueing import enqueue_job
from audit_app.services.store import store_evidence
from audit_app.services.workers import largest_live_capacity
from inference import Document as PromptDocument
from inference import GenerationSettings, InferenceError, InvalidRequestError, ReasoningRequest, extraction
from inference.kv import KvCapacity, job_tokens, parse_size
from inference.prompting import validate_settings

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def submit_job(
    user: User,
    team: Team,
    case_reference: str,
    domain: str,
    question: str,
    uploads: Sequence[Upload] = (),
    generation: GenerationSettings | None = None,
    case_title: str = "",
    rerun_of_sha256: str = "",
) -> Job:
    """Store a new job for ``user``'s ``team`` and queue it; ``SubmissionError`` names the field at fault.

    ``rerun_of_sha256`` is the record hash of the submission this one repeats (``services.rerun``).
    """
    suspension = current_suspension()
    if suspension is not None:
        raise SubmissionError(
            "__all__",
            f"Inference is suspended since {suspension.at:%Y-%m-%d %H:%M} UTC by {suspension.actor_name}: "
            f"{suspension.reason}",
        )
    generation = generation or GenerationSettings()
    limits = settings.GLASSBOX
    _check_settings(generation, limits["CONTEXT_LIMIT"])
    case_reference = case_reference.strip()
    if not case_reference:
        raise SubmissionError("case_reference", "Give the case reference this question belongs to.")
    # A reference names a case within the submitter's team only (unique per team): the same reference in
    # another team is another case, so nothing here can tell a submitter which references other teams use.
    check_visible_name("case_reference", "The case reference", case_reference)
    check_visible_name("case_title", "The case title", case_title)
    if rerun_of_sha256 and not Submission.objects.filter(record_sha256=rerun_of_sha256, case__team=team).exists():
        raise SubmissionError("__all__", "A re-run must name a submission of this team by its record hash.")
    if len(uploads) > limits["MAX_DOCUMENTS"]:
        raise SubmissionError("documents", f"At most {limits['MAX_DOCUMENTS']} documents can go with one question.")
    max_chars = text_bound(generation, limits["CONTEXT_LIMIT"])
    documents = [
        extract_document(upload.name, upload.data, limits["MAX_UPLOAD_BYTES"], max_chars) for upload in uploads
    ]
    if len(question) + sum(len(d.text) for d in documents) > max_chars:
        raise SubmissionError(
            "documents",
            f"The question and documents together hold more than {max_chars:,} characters, which cannot fit "
            "in the model's context; shorten them or lower the budgets.",
        )
    request = ReasoningRequest(
        domain=domain,
        question=question,
        documents=tuple(PromptDocument(d.name, d.text) for d in documents),
        settings=generation,
    )
    prompt_tokens, template_id = _check_prompt(request)
    _check_capacity(prompt_tokens, generation)
    with transaction.atomic():
        job = _store(user, team, case_reference, case_title, request, template_id, documents, rerun_of_sha256)
        transaction.on_commit(lambda: enqueue_job(job.pk))
    return job


def _check_settings(generation: GenerationSettings, context_limit: int) -> None:
    try:
        validate_settings(generation, context_limit)
    except InvalidRequestError as error:
        raise SubmissionError(error.field, str(error)) from None


def text_bound(generation: GenerationSettings, context_limit: int) -> int:
    """Characters of question and documents beyond which the prompt cannot fit (``extraction.text_bound``)."""
    budget = generation.thinking_budget + generation.answer_budget
    if budget >= context_limit:
        raise SubmissionError(
            "answer_budget",  # shown beside the budgets, in the generation settings the analyst must change
            f"The thinking and answer budgets, {budget} tokens in all, leave no room for the prompt within the "
            f"context limit of {context_limit} tokens; lower the budgets.",
        )
    return extraction.text_bound(context_limit - budget)


def _check_prompt(request: ReasoningRequest) -> tuple[int, str]:
    """The rendered prompt's token count and template id."""
    try:
        prompt = prompt_builder().render(request)
        return len(prompt.token_ids), prompt.template_id
    except InvalidRequestError as error:
        raise SubmissionError(error.field, str(error)) from None
    except InferenceError as error:  # the model folder itself is unusable: say so, store nothing
        raise SubmissionError("__all__", str(error)) from None


def _check_capacity(prompt_tokens: int, generation: GenerationSettings) -> None:
    """Refuse a job that could never fit the KV cache, in the sentence the engine's admission would say.

    The largest cache a live worker reported, else the configured ``GLASSBOX_KV_CACHE_MEMORY``; with neither
    known the job is accepted, and a worker whose cache cannot hold it fails it at once with the same sentence.
    """
    capacity = largest_live_capacity() or configured_capacity()
    if capacity is None:
        return
    refusal = capacity.refusal(job_tokens(prompt_tokens, generation.thinking_budget, generation.answer_budget))
    if refusal is not None:
        raise SubmissionError("answer_budget", refusal)  # beside the budgets, as the context limit's refusal


def configured_capacity() -> KvCapacity | None:
    """``GLASSBOX_KV_CACHE_MEMORY`` in tokens of the configured model; None when it is not set."""
    memory = settings.GLASSBOX["KV_CACHE_MEMORY"]
    if not memory:
        return None
    try:
        size = parse_size(memory)
    except ValueError as error:
        raise ImproperlyConfigured(f"GLASSBOX_KV_CACHE_MEMORY: {error}") from None
    return KvCapacity.from_memory(prompt_builder().files.config, size)


def _store(
    user: User,
    team: Team,
    reference: str,
    title: str,
    request: ReasoningRequest,
    template_id: str,
    documents: list[ExtractedDocument],
    rerun_of_sha256: str = "",
) -> Job:
    case, _ = Case.objects.get_or_create(
        team=team, reference=reference, defaults={"domain": request.domain, "title": title}
    )
    submission = Submission(
        case=case,
        case_reference=reference,
        case_title=title,
        team_name=team.name,
        submitted_by=user,
        submitted_by_name=user.get_username(),
        domain=request.domain,
        question=request.question,
        template_id=template_id,
        settings=request.settings.to_dict(),
        rerun_of_sha256=rerun_of_sha256,
        **derived.submission_hashes(request.question),
    )
    job = Job(submission=submission)  # saved once the submission has its id

    def parts(stored: Submission) -> list[Document]:
        return [
            Document(
                submission=stored,
                position=position,
                name=document.name,
                content_type=document.content_type,
                size=len(document.original),
                sha256=document.sha256,
                original=document.original,
                text=document.text,
            )
            for position, document in enumerate(documents)
        ]

    def names_its_job(stored: Submission) -> dict[str, int]:
        # The entry names its job: re-pointing a job (a mutable row) at another submission then shows.
        job.save()
        return {"job": job.pk}

    store_evidence(submission, documents=parts, entry=names_its_job)
    return job
