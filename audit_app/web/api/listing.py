"""The job list's filters and cursor pagination.

Review state is not a column: it is computed from ledgered sign-offs (``services.review_state``). So a
page is filled by walking the filtered jobs in order and keeping those in the asked state, at most
``SCAN`` jobs per request; ``next`` is where the walk stopped, so a sparse state gives short pages, never
a missed job. The cursor is the last job's (created_at, id), opaque to clients.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from typing import Any, Literal

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions

from audit_app.models import Job
from audit_app.models.organisation import DOMAINS
from audit_app.services.review_state import STATE_LABELS, reviews

PAGE, MAX_PAGE, SCAN = 50, 200, 2000


def _bad(name: str, sentence: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({name: [sentence]})


def _time(query: Any, name: str) -> datetime.datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise _bad(name, f"{name} must be an ISO 8601 date and time, such as 2026-11-24T09:00:00Z.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _choice(query: Any, name: str, allowed: list[str]) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise _bad(name, f"{name} must be one of {', '.join(allowed)}.")
    return value  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    domain: str | None = None
    case_reference: str | None = None
    review_state: str | None = None
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    cursor: tuple[datetime.datetime, int] | None = None
    limit: int = PAGE

    @classmethod
    def from_query(cls, query: Any) -> JobFilter:
        limit = query.get("limit", str(PAGE))
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
            raise _bad("limit", f"limit must be a whole number from 1 to {MAX_PAGE}.")
        return cls(
            status=_choice(query, "status", [s for s, _ in Job.STATUSES]),
            domain=_choice(query, "domain", [d for d, _ in DOMAINS]),
            case_reference=query.get("case_reference"),
            review_state=_choice(query, "review_state", list(STATE_LABELS)),
            created_after=_time(query, "created_after"),
            created_before=_time(query, "created_before"),
            cursor=_cursor(query.get("cursor")),
            limit=int(limit),
        )

    @staticmethod
    def parameters() -> list[OpenApiParameter]:
        query: Literal["query"] = "query"
        return [
            OpenApiParameter("status", str, query, enum=[s for s, _ in Job.STATUSES]),
            OpenApiParameter("domain", str, query, enum=[d for d, _ in DOMAINS]),
            OpenApiParameter("case_reference", str, query, description="the case reference, exactly"),
            OpenApiParameter("review_state", str, query, enum=list(STATE_LABELS)),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME, query, description="inclusive"),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME, query, description="exclusive"),
            OpenApiParameter("cursor", str, query, description="the 'next' value of the previous page"),
            OpenApiParameter("limit", int, query, description=f"jobs per page, 1 to {MAX_PAGE} (default {PAGE})"),
        ]


def _cursor(value: str | None) -> tuple[datetime.datetime, int] | None:
    if value is None:
        return None
    try:
        moment, _, pk = base64.urlsafe_b64decode(value.encode()).decode().partition("|")
        return datetime.datetime.fromisoformat(moment), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise _bad("cursor", "cursor is not one this API gave out; start again without it.") from None


def _encode(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.pk}".encode()).decode()


def page_of(jobs: QuerySet[Job], want: JobFilter) -> tuple[list[Job], str | None]:
    """Up to ``want.limit`` jobs, newest first, and the cursor of the next page (None at the end)."""
    if want.status:
        jobs = jobs.filter(status=want.status)
    if want.domain:
        jobs = jobs.filter(submission__domain=want.domain)
    if want.case_reference is not None:
        jobs = jobs.filter(submission__case_reference=want.case_reference)
    if want.created_after:
        jobs = jobs.filter(created_at__gte=want.created_after)
    if want.created_before:
        jobs = jobs.filter(created_at__lt=want.created_before)
    if want.cursor:
        moment, pk = want.cursor
        jobs = jobs.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    jobs = jobs.order_by("-created_at", "-id")
    if want.review_state is None:
        page = list(jobs[: want.limit + 1])
        more = len(page) > want.limit
        page = page[: want.limit]
        return page, _encode(page[-1]) if more and page else None
    scanned = list(jobs[:SCAN])
    states = reviews(scanned)
    page = []
    for job in scanned:
        if states[job.pk].state == want.review_state:
            page.append(job)
            if len(page) == want.limit:
                return page, _encode(job)
    return page, _encode(scanned[-1]) if len(scanned) == SCAN else None
