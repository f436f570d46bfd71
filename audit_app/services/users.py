"""Accounts and reviewer scope, as administrators manage them: accounts are deactivated, never deleted.

A user id is named by evidence (submissions, sign-offs, access events), so an id must never come back as
someone else: deleting a user through the ORM is refused, and an account that should no longer act is
deactivated (Django then refuses its log-in and ends its sessions; review scope ignores it).

Each change is also ledgered evidence (an ``AccountEvent`` with the actor, in the change's own transaction), so
who could sign what, and when, is shown by the ledger, not by the mutable account and assignment rows; it is
logged too (logger ``audit_app.users``, INFO).
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import pre_delete

from audit_app.models import AccountEvent, ReviewerAssignment, Team
from audit_app.models.organisation import DOMAINS, REVIEWER
from audit_app.services.store import store_evidence

log = logging.getLogger("audit_app.users")
DOMAIN_NAMES = [name for name, _ in DOMAINS]


class AccountDeletionRefused(Exception):
    """Raised for every ORM deletion of a user: ids are never reused."""


class UserChangeRefused(Exception):
    """Nothing was changed; the message says why in one sentence."""


def _refusal(names: str) -> AccountDeletionRefused:
    return AccountDeletionRefused(
        "User accounts are never deleted, so that user ids are never reused: deactivate the account instead "
        f"(manage.py deactivate_user USERNAME); {names or 'no account'} was not deleted."
    )


def refuse_user_deletion(sender: type[User], instance: User, **kwargs: Any) -> None:
    """pre_delete receiver for User: the backstop for deletion paths the two guards below do not see
    (``User._base_manager``, cascades); it runs only when no protected row names the user, else Django's
    ProtectedError refuses first."""
    raise _refusal(instance.get_username())


def _refuse_instance_delete(self: User, *args: Any, **kwargs: Any) -> Any:
    raise _refusal(self.get_username())


class UndeletableUserQuerySet(QuerySet[User]):
    """``User.objects``'s queryset: ``delete()`` is refused (a module-level class, so querysets still pickle)."""

    def delete(self) -> Any:
        raise _refusal(", ".join(self.values_list("username", flat=True)[:10]))


def guard_user_deletion() -> None:
    """Refuse ``user.delete()`` and ``User.objects....delete()`` before Django collects related rows.

    The guards must come first: Django's deletion collector raises ProtectedError for a user named by
    evidence before any pre_delete signal is sent, and that message says nothing about deactivating.
    """
    setattr(User, "delete", _refuse_instance_delete)  # noqa: B010 (User is Django's model; this is the hook)
    manager: Any = User.objects
    if manager._queryset_class is not UndeletableUserQuerySet:
        assert manager._queryset_class is QuerySet, "User.objects has a custom queryset; extend it instead"
        manager._queryset_class = UndeletableUserQuerySet
    pre_delete.connect(refuse_user_deletion, sender=User, dispatch_uid="glassbox-refuse-user-deletion")


def set_active(actor: str, user_id: int, active: bool, acting_user: User | None = None) -> User:
    """Deactivate or reactivate user ``user_id``; ``acting_user`` (an operator) may not deactivate themself."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise UserChangeRefused(f"There is no user with id {user_id}; nothing was changed.")
        if not active and acting_user is not None and acting_user.pk == user.pk:
            raise UserChangeRefused(
                "You cannot deactivate your own account; ask another operator. Nothing was changed."
            )
        if user.is_active == active:
            state = "active" if active else "deactivated"
            raise UserChangeRefused(f"{user.get_username()} is already {state}; nothing was changed.")
        user.is_active = active
        user.save(update_fields=["is_active"])
        action = AccountEvent.REACTIVATE if active else AccountEvent.DEACTIVATE
        _ledger(action, user, actor, acting_user)
    log.info("%s %s user %s (id %s)", actor, "reactivated" if active else "deactivated", user.get_username(), user.pk)
    return user


def _ledger(
    action: str, user: User, actor: str, acting_user: User | None, team: Team | None = None, domain: str = ""
) -> None:
    """The change as evidence, in the caller's transaction: the change and its entry stand or fall together."""
    event = AccountEvent(
        action=action,
        user=user,
        username=user.get_username(),
        team=team,
        team_name=team.name if team is not None else "",
        domain=domain,
        actor=acting_user,
        actor_name=actor,
    )
    store_evidence(event)


def command_actor() -> str:
    """Who made a change from the command line, for the log: the operating-system account."""
    return f"manage.py ({getpass.getuser()})"


def user_by_name(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise UserChangeRefused(f"There is no user named {username!r}; nothing was changed.")
    return user


def assign_reviewer(
    actor: str, user: User, team_name: str, domains: list[str], acting_user: User | None = None
) -> list[ReviewerAssignment]:
    """Let reviewer ``user`` review ``team_name``'s jobs in each of ``domains``; all or nothing."""
    team = _checked_scope(user, team_name, domains)
    with transaction.atomic():
        taken = ReviewerAssignment.objects.filter(user=user, team=team, domain__in=domains)
        if taken.exists():
            have = ", ".join(sorted(taken.values_list("domain", flat=True)))
            raise UserChangeRefused(
                f"{user.get_username()} already reviews {team.name} in {have}; nothing was changed."
            )
        made = [ReviewerAssignment.objects.create(user=user, team=team, domain=domain) for domain in domains]
        for domain in domains:
            _ledger(AccountEvent.ASSIGN, user, actor, acting_user, team, domain)
    log.info("%s assigned reviewer %s to team %s in %s", actor, user.get_username(), team.name, ", ".join(domains))
    return made


def remove_assignment(
    actor: str, user: User, team_name: str, domains: list[str], acting_user: User | None = None
) -> None:
    """Take ``team_name``'s jobs in ``domains`` out of ``user``'s review scope; all or nothing."""
    team = _checked_scope(user, team_name, domains, removing=True)
    with transaction.atomic():
        held = ReviewerAssignment.objects.filter(user=user, team=team, domain__in=domains)
        missing = sorted(set(domains) - set(held.values_list("domain", flat=True)))
        if missing:
            raise UserChangeRefused(
                f"{user.get_username()} does not review {team.name} in {', '.join(missing)}; nothing was changed."
            )
        held.delete()
        for domain in domains:
            _ledger(AccountEvent.UNASSIGN, user, actor, acting_user, team, domain)
    log.info("%s removed reviewer %s from team %s in %s", actor, user.get_username(), team.name, ", ".join(domains))


def _checked_scope(user: User, team_name: str, domains: list[str], removing: bool = False) -> Team:
    unknown = [d for d in domains if d not in DOMAIN_NAMES]
    if not domains or unknown:
        raise UserChangeRefused(
            f"Unknown domain {', '.join(repr(d) for d in unknown) or '(none given)'}: choose from "
            f"{', '.join(DOMAIN_NAMES)}. Nothing was changed."
        )
    team = Team.objects.filter(name=team_name).first()
    if team is None:
        raise UserChangeRefused(f"There is no team named {team_name!r}; nothing was changed.")
    # Removing stays possible for a former reviewer, so that stale scope can always be cleaned up.
    if not removing and not user.groups.filter(name=REVIEWER).exists():
        raise UserChangeRefused(
            f"{user.get_username()} does not have the reviewer role, so cannot be given a review scope; "
            "nothing was changed."
        )
    return team


@dataclasses.dataclass(frozen=True)
class UserRow:
    """What the operator's Users page shows of an account: no case content."""

    user: User
    name: str
    roles: list[str]
    teams: list[str]
    assignments: list[tuple[str, str]]  # (team, domain)
    is_reviewer: bool
    last_login: datetime.datetime | None


def user_rows() -> list[UserRow]:
    users = User.objects.order_by("username").prefetch_related("groups", "teams", "review_assignments__team")
    rows = []
    for user in users:
        roles = sorted(group.name for group in user.groups.all())
        rows.append(
            UserRow(
                user=user,
                name=user.get_full_name(),
                roles=roles,
                teams=sorted(team.name for team in user.teams.all()),
                assignments=sorted((a.team.name, a.domain) for a in user.review_assignments.all()),
                is_reviewer=REVIEWER in roles,
                last_login=user.last_login,
            )
        )
    return rows
