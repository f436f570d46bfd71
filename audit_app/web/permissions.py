"""Who may see and do what: roles are Django groups, teams scope what analysts see."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from audit_app.models import Job, Team
from audit_app.models.organisation import ANALYST, AUDITOR, OPERATOR, REVIEWER
from audit_app.services.review_state import reviewable_by

__all__ = ["ANALYST", "AUDITOR", "OPERATOR", "REVIEWER", "has_role", "require_role", "roles", "visible_jobs"]


def roles(user: User | AnonymousUser) -> frozenset[str]:
    """The user's role names, read once per user object (``request.user`` lives for one request)."""
    if not user.is_authenticated:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_glassbox_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, "_glassbox_roles", cached)  # noqa: B010 (a per-request cache on the user object)
    return cached


def remember_roles(user: User, names: list[str]) -> None:
    """Roles read with the user in another query (an API key's, in its one query), so ``roles`` reads none."""
    setattr(user, "_glassbox_roles", frozenset(names))  # noqa: B010 (the per-request cache ``roles`` reads)


def has_role(user: User | AnonymousUser, role: str) -> bool:
    return role in roles(user)


def visible_jobs(user: User) -> QuerySet[Job]:
    """Auditors see every job (read-only); everyone else only their teams' jobs, and reviewers also the jobs
    in their review scope (read-only: cancelling and re-running stay the analysts')."""
    jobs = Job.objects.select_related("submission__case__team")
    if has_role(user, AUDITOR):
        return jobs
    if has_role(user, REVIEWER):
        # Team by subquery, not a join on its members: the OR would repeat a job once per member.
        own = Q(submission__case__team__in=Team.objects.filter(members=user))
        return jobs.filter(own | Q(pk__in=reviewable_by(user).values("pk")))
    return jobs.filter(submission__case__team__members=user)


def submitting_team(user: User) -> Team | None:
    """The team an analyst submits for (their first team); None for anyone who may not submit."""
    if not has_role(user, ANALYST):
        return None
    return user.teams.order_by("name").first()


def require_role(request: HttpRequest, role: str, refusal: str) -> User:
    """The logged-in user if they hold ``role``; a 403 with ``refusal`` otherwise."""
    user = request.user
    if not isinstance(user, User) or not has_role(user, role):
        raise PermissionDenied(refusal)
    return user
