"""API keys for case systems: create (the secret shown once), revoke, and authenticate.

A key is ``gbx_<prefix>_<secret>``. The prefix is public (pages, logs, the ledger name the key by it); only
the SHA-256 of the whole key is stored, which is enough for a 256-bit random secret (no slow hash needed:
nothing to brute-force). Creation and revocation are ledgered (``ApiKeyEvent``), so an auditor can tell
from evidence which systems could act for which team, and when.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import OuterRef
from django.utils import timezone

from audit_app.models import ApiKey, ApiKeyEvent, Team
from audit_app.models.api import SCOPES
from audit_app.models.organisation import ANALYST
from audit_app.services.errors import SubmissionError
from audit_app.services.evidence import check_rows
from audit_app.services.names import check_visible_name
from audit_app.services.store import store_evidence

logger = logging.getLogger(__name__)
KEY_START = "gbx_"
# last_used_at is written at most this often per key: a write per request would cap GET throughput.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
# A zero-width joiner between two symbols (an emoji ZWJ sequence such as 👩‍💻, optionally with the emoji
# variation selector) draws one visible glyph, so it is allowed there; anywhere else it stays refused.
EMOJI = r"\U0001F000-\U0001FAFF\u2600-\u27BF"
EMOJI_JOINER = re.compile(rf"(?<=[{EMOJI}\uFE0F])\u200D(?=[{EMOJI}])")


class KeyRefused(Exception):
    """Nothing was created or changed; the message says why in one sentence."""

    def __init__(self, message: str, field: str = "__all__") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key; shown once, never stored


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_scopes(scopes: str | list[str]) -> str:
    names = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = sorted(set(names) - set(SCOPES))
    if unknown or not names:
        raise KeyRefused(f"Scopes must be among {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'}).", "scopes")
    return " ".join(scope for scope in SCOPES if scope in names)


def create_key(
    name: str,
    team: Team,
    scopes: str | list[str],
    actor: User | None,
    actor_name: str = "",
    expires_at: datetime.datetime | None = None,
) -> NewKey:
    """A new key for ``team`` and its service account; the ``NewKey.secret`` is never retrievable later."""
    name = name.strip()
    if not name:
        raise KeyRefused("Give the key a name: the case system that will use it.", "name")
    check_visible_name_as_key(name)
    if len(name) > 100:
        raise KeyRefused("The key's name holds more than 100 characters; shorten it.", "name")
    scope_text = parse_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise KeyRefused("The expiry must lie in the future.", "expires_at")
    prefix = secrets.token_hex(4)
    secret = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        user = User.objects.create_user(username=f"api-{prefix}", first_name=name[:150])
        user.set_unusable_password()  # the key is its only credential: no log-in to the web UI
        user.save(update_fields=["password"])
        # Submits and reads for its team, as an analyst does (get_or_create: the group comes from migration 0002).
        user.groups.add(Group.objects.get_or_create(name=ANALYST)[0])
        team.members.add(user)
        key = ApiKey.objects.create(
            name=name,
            prefix=f"{KEY_START}{prefix}",
            secret_sha256=_digest(secret),
            team=team,
            user=user,
            scopes=scope_text,
            created_by_name=_actor_name(actor, actor_name),
            expires_at=expires_at,
        )
        _ledger(ApiKeyEvent.CREATE, key, actor, actor_name)
    return NewKey(key, secret)


def check_visible_name_as_key(name: str) -> None:
    try:
        check_visible_name("name", "The key's name", EMOJI_JOINER.sub("", name))
    except SubmissionError as error:
        raise KeyRefused(str(error), "name") from None


def revoke_key(key: ApiKey, actor: User | None, actor_name: str = "") -> ApiKey:
    """Revoke ``key`` now (it is refused from the next request on); revoking twice is refused."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is not None:
            raise KeyRefused(f"Key {key.prefix} was already revoked at {key.revoked_at:%Y-%m-%d %H:%M} UTC.")
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        key.user.is_active = False  # its service account can no longer act either
        key.user.save(update_fields=["is_active"])
        _ledger(ApiKeyEvent.REVOKE, key, actor, actor_name)
    return key


def authenticate(raw: str) -> ApiKey | None:
    """The usable key whose secret is ``raw``, or None (unknown, wrong secret, revoked or expired).

    One query reads the key row, its account, team and role names, and the ids of its event rows; the row is
    then compared with what the key's ledgered events grant (``granted_by_ledger``) on every request.
    """
    if not raw.startswith(KEY_START) or raw.count("_") < 2:
        return None
    prefix = raw[: len(KEY_START) + 8]
    key = (
        ApiKey.objects.select_related("user", "team")
        .annotate(
            event_ids=ArraySubquery(ApiKeyEvent.objects.filter(key=OuterRef("pk")).order_by("id").values("id")),
            role_names=ArraySubquery(Group.objects.filter(user=OuterRef("user_id")).values("name")),
        )
        .filter(prefix=prefix)
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_sha256, _digest(raw)) or not key.is_usable():
        return None
    if not key.user.is_active:  # its service account deactivated on the Users page: the key stops too
        return None
    if not granted_by_ledger(key, tuple(key.event_ids)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def _ledgered_events(key: ApiKey) -> tuple[tuple[int, ...], list[dict[str, object]]]:
    """The ids of the key's event rows, and those events that are evidence (row and entry agree), oldest first;
    forged or edited rows are left out."""
    events = list(ApiKeyEvent.objects.filter(key=key).order_by("id"))
    checked = check_rows("api_key", events)
    ids = tuple(event.pk for event in events)
    return ids, [checked[event.pk].record for event in events if checked[event.pk].verified]


GRANT_FIELDS = ("prefix", "secret_sha256", "team_id", "scopes", "expires_at")
# Per process: key id -> (the ids of its event rows, what its ledgered events grant). Ledger entries never change,
# so what they grant changes only with a new event row (a revocation, say): a request whose key has other event
# ids than those cached reads and checks the events again. The key row itself is compared on every request.
_GRANTS: dict[int, tuple[tuple[int, ...], tuple[object, ...] | None]] = {}


def _ledgered_grant(key: ApiKey, event_ids: tuple[int, ...] | None) -> tuple[object, ...] | None:
    """What ``key``'s ledgered events grant, as ``GRANT_FIELDS`` of its one ledgered creation; None when there is
    no such creation (none, or more than one) or a ledgered revocation followed."""
    cached = _GRANTS.get(key.pk)
    if event_ids is not None and cached is not None and cached[0] == event_ids:
        return cached[1]
    ids, events = _ledgered_events(key)
    created = [e for e in events if e["action"] == ApiKeyEvent.CREATE]
    grant = None
    if len(created) == 1 and not any(e["action"] == ApiKeyEvent.REVOKE for e in events):
        grant = tuple(created[0][f] for f in GRANT_FIELDS)
    if len(events) == len(ids):  # cached only when every event row is evidence: a forged row is re-read each time
        _GRANTS[key.pk] = (ids, grant)
    return grant


def granted_by_ledger(key: ApiKey, event_ids: tuple[int, ...] | None = None) -> bool:
    """Whether ``key``'s row says what its ledgered creation said (secret, team, scopes, expiry) and no ledgered
    revocation followed. The row is operational and the app's database role may edit or insert it: a key
    INSERTed without its evidence, or widened, re-pointed or un-revoked by UPDATE, is refused, not trusted.

    ``event_ids``, the ids of the key's event rows read with the row, lets a process reuse what it checked
    before while they are unchanged; without them the events are read and checked again."""
    expires = key.expires_at.astimezone(datetime.UTC).isoformat() if key.expires_at else None
    says = (key.prefix, key.secret_sha256, key.team_id, key.scopes, expires)
    granted = _ledgered_grant(key, event_ids) == says
    if not granted:
        logger.error(
            "API key %s (row %s) refused: its row does not match its ledgered creation, or it was revoked; "
            "run verify_ledger and check the audit_app_apikey row.",
            key.prefix,
            key.pk,
        )
    return granted


def ledgered_webhook_url(key: ApiKey) -> str:
    """Where the ledger says ``key``'s job events go ("" for nowhere): the last webhook event that is evidence."""
    _, events = _ledgered_events(key)
    changes = [e for e in events if e["action"] in (ApiKeyEvent.WEBHOOK_SET, ApiKeyEvent.WEBHOOK_REMOVE)]
    return str(changes[-1].get("webhook_url", "")) if changes else ""


def _actor_name(actor: User | None, actor_name: str) -> str:
    return actor.get_username() if actor is not None else actor_name


def ledger_webhook(key: ApiKey, url: str, actor_name: str, actor: User | None = None) -> None:
    """Ledger that ``key``'s job events now go to ``url`` ("" when the webhook was removed)."""
    _ledger(ApiKeyEvent.WEBHOOK_SET if url else ApiKeyEvent.WEBHOOK_REMOVE, key, actor, actor_name, url)


def _ledger(action: str, key: ApiKey, actor: User | None, actor_name: str, webhook_url: str = "") -> None:
    store_evidence(
        ApiKeyEvent(
            action=action,
            key=key,
            prefix=key.prefix,
            name=key.name,
            team=key.team,
            team_name=key.team.name,
            scopes=key.scopes,
            expires_at=key.expires_at,
            secret_sha256=key.secret_sha256,
            webhook_url=webhook_url,
            actor=actor,
            actor_name=_actor_name(actor, actor_name),
        )
    )
