"""Webhooks: a case system learns when its jobs succeed, fail, are cancelled or signed, without polling.

Only jobs submitted with an API key whose webhook is set get events. The event is recorded (a
``WebhookDelivery`` with its body) in the transaction that caused it, and its delivery is queued only when
that transaction commits, as e-mail notifications are: a rolled-back run or sign-off sends nothing. The
task carries the delivery's id; every attempt is stored for the operators' page, retried with backoff by
``tasks.send_webhook``, and a delivery that never got a 2xx ends failed with an ERROR line.

The body holds ids, hashes, states and timestamps from ledgered evidence, never the question, documents,
trace or answer: the receiver fetches those from the API with its key (``data.url``).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit_app.celery import app
from audit_app.models import ApiKey, Job, RunRecord, SignOff, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from audit_app.services import review_state, webhook_http, webhook_secrets
from audit_app.services.api_keys import KeyRefused, ledger_webhook, ledgered_webhook_url
from audit_app.services.webhook_guard import UrlRefused, resolve

logger = logging.getLogger(__name__)
SEND_WEBHOOK = "glassbox.send_webhook"
SUCCEEDED, FAILED, CANCELLED, SIGNED = "job.succeeded", "job.failed", "job.cancelled", "job.signed"
EVENTS = (SUCCEEDED, FAILED, CANCELLED, SIGNED)
BY_STATUS = {Job.SUCCEEDED: SUCCEEDED, Job.FAILED: FAILED, Job.CANCELLED: CANCELLED}
USER_AGENT = "Glassbox-Webhooks/1"


@dataclass(frozen=True)
class NewWebhook:
    endpoint: WebhookEndpoint
    secret: str  # shown once; stored only encrypted


def set_webhook(key: ApiKey, url: str, actor_name: str, actor: User | None = None) -> NewWebhook:
    """Set or replace ``key``'s callback URL with a new signing secret; UrlRefused / KeyRefused store nothing.
    ``actor``, a person on the web, is ledgered as who did it; a command passes only ``actor_name``."""
    url = url.strip()
    resolve(url)  # refuses a bad scheme, credentials, control characters and non-public addresses
    if not key.is_usable():
        raise KeyRefused(f"Key {key.prefix} is revoked or expired; it gets no webhook.")
    secret = webhook_secrets.new_secret()
    with transaction.atomic():  # the change and its ledger entry, or neither
        endpoint, _ = WebhookEndpoint.objects.update_or_create(
            key=key,
            defaults={
                "url": url,
                "secret_encrypted": webhook_secrets.encrypt(secret),
                "set_at": timezone.now(),
                "set_by_name": actor_name,
            },
        )
        ledger_webhook(key, url, actor_name, actor)
    logger.info("Webhook of key %s set to %s by %s.", key.prefix, url, actor_name)
    return NewWebhook(endpoint, secret)


def remove_webhook(key: ApiKey, actor_name: str, actor: User | None = None) -> bool:
    """Remove ``key``'s webhook (pending deliveries are then dropped); False if it had none."""
    with transaction.atomic():
        removed, _ = WebhookEndpoint.objects.filter(key=key).delete()
        if removed:
            ledger_webhook(key, "", actor_name, actor)
    if removed:
        logger.info("Webhook of key %s removed by %s.", key.prefix, actor_name)
    return bool(removed)


# --- events, recorded in the causing transaction -------------------------------------------------------------


def job_finished(job_ids: list[int]) -> None:
    """Jobs reached succeeded, failed or cancelled: each one submitted by a key with a webhook gets its event."""
    for job in Job.objects.select_related("submission").filter(pk__in=job_ids):
        event = BY_STATUS.get(job.status)
        if event is not None:
            _record(event, job, _about(job))


def job_signed(job: Job, signature: SignOff) -> None:
    """A sign-off was stored on ``job``."""
    current = review_state.review_of(job)
    data = _about(job) | {
        "review_state": current.state,
        "signoff": {
            "meaning": signature.meaning,
            "record_sha256": signature.record_sha256,
            "signed_at": _when(signature.signed_at),
        },
    }
    _record(SIGNED, job, data)


def _record(event: str, job: Job, data: dict[str, Any]) -> None:
    key = _webhook_key(job.submission.submitted_by)
    if key is None:
        return
    message_id = f"msg_{uuid.uuid4().hex}"
    now = timezone.now()
    body = {"type": event, "timestamp": _when(now), "data": data}
    delivery = WebhookDelivery.objects.create(
        key=key, job=job, event=event, message_id=message_id, body=json.dumps(body, sort_keys=True), created_at=now
    )
    transaction.on_commit(functools.partial(_queue, delivery.pk))


def _webhook_key(user: User) -> ApiKey | None:
    key = ApiKey.objects.filter(user=user, webhook__isnull=False).first()
    return key if key is not None and key.is_usable() else None


def _about(job: Job) -> dict[str, Any]:
    submission = job.submission
    run = RunRecord.objects.filter(job=job).only("record_sha256").first()
    return {
        "job_id": job.pk,
        "status": job.status,
        "case_reference": submission.case_reference,
        "domain": submission.domain,
        "submission_record_sha256": submission.record_sha256,
        "run_record_sha256": run.record_sha256 if run is not None else None,
        "created_at": _when(job.created_at),
        "finished_at": _when(job.finished_at),
        "url": f"{settings.GLASSBOX['BASE_URL']}/api/v1/jobs/{job.pk}/",
    }


def _when(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if moment else None


def _queue(delivery_id: int) -> None:
    # By signature, not by import (services never import tasks), as notifications do.
    try:
        app.signature(SEND_WEBHOOK, args=(delivery_id,)).apply_async(retry=False)
    except Exception:  # the broker is unreachable; what was committed stays committed
        logger.error("Webhook delivery %s could not be queued.", delivery_id, exc_info=True)


# --- delivery, one attempt per task run ---------------------------------------------------------------------

DONE, RETRY = "done", "retry"


def attempt(delivery_id: int, final: bool) -> str:
    """POST the delivery once and store the attempt; RETRY when it failed and ``final`` is False."""
    delivery = WebhookDelivery.objects.select_related("key").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.PENDING:
        return DONE
    endpoint = WebhookEndpoint.objects.filter(key=delivery.key).first()
    if endpoint is not None and endpoint.url != ledgered_webhook_url(delivery.key):
        # The endpoint row is operational: an edit by the app's database role must not redirect events.
        _finish(delivery, WebhookDelivery.FAILED)
        logger.error(
            "Webhook delivery %s refused: the URL of key %s's webhook row is not the one its ledgered change set.",
            delivery.pk,
            delivery.key.prefix,
        )
        return DONE
    if endpoint is None or not delivery.key.is_usable():
        _finish(delivery, WebhookDelivery.FAILED)
        logger.warning(
            "Webhook delivery %s dropped: key %s has no webhook or is no longer usable.",
            delivery.pk,
            delivery.key.prefix,
        )
        return DONE
    answer = _send(delivery, endpoint)
    number = WebhookAttempt.objects.filter(delivery=delivery).count() + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        url=endpoint.url,
        status_code=answer.status_code,
        error=answer.error[:500],
        duration_ms=answer.duration_ms,
    )
    if answer.ok:
        _finish(delivery, WebhookDelivery.DELIVERED)
        logger.info(
            "Webhook %s for job %s delivered to key %s (attempt %s).",
            delivery.event,
            delivery.job_id,
            delivery.key.prefix,
            number,
        )
        return DONE
    what = f"HTTP {answer.status_code}" if answer.status_code is not None else answer.error
    if final:
        _finish(delivery, WebhookDelivery.FAILED)
        logger.error(
            "Webhook %s for job %s to key %s failed after %s attempts; last: %s",
            delivery.event,
            delivery.job_id,
            delivery.key.prefix,
            number,
            what,
        )
        return DONE
    logger.warning("Webhook %s for job %s attempt %s failed: %s", delivery.event, delivery.job_id, number, what)
    return RETRY


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> webhook_http.Answer:
    started = time.monotonic()
    try:
        target = resolve(endpoint.url)  # again now: DNS may answer differently than when the URL was set
        secret = webhook_secrets.decrypt(endpoint.secret_encrypted)
    except (UrlRefused, webhook_secrets.SecretUnreadable) as refusal:
        return webhook_http.Answer(None, str(refusal), round((time.monotonic() - started) * 1000))
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_secrets.signature(secret, delivery.message_id, timestamp, body),
    }
    return webhook_http.post(target, headers, body, settings.GLASSBOX["WEBHOOK_TIMEOUT_SECONDS"])


def _finish(delivery: WebhookDelivery, status: str) -> None:
    delivery.status, delivery.finished_at = status, timezone.now()
    delivery.save(update_fields=["status", "finished_at"])


def retry_delay(retries: int) -> float:
    """Seconds before the next attempt: the setting, doubled per retry already made, at most an hour."""
    return float(min(3600.0, settings.GLASSBOX["WEBHOOK_RETRY_SECONDS"] * 2**retries))


def recent_deliveries(limit: int = 200) -> list[WebhookDelivery]:
    """The operators' page: newest first, with their attempts and keys."""
    return list(
        WebhookDelivery.objects.select_related("key")
        .prefetch_related("attempts")
        .order_by("-created_at", "-id")[:limit]
    )
