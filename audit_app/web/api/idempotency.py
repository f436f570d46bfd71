"""``Idempotency-Key`` on POST: a retried request returns the job the first one made, for 24 hours.

The same key with another body is a client error (409): it would otherwise silently return a job for a
question the client did not send this time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions

from audit_app.models import ApiKey, IdempotentRequest, Job
from audit_app.services.idempotency import KEPT_FOR

HEADER = "HTTP_IDEMPOTENCY_KEY"


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"


def body_digest(data: Any) -> str:
    """The body as JSON values (key order and spacing do not matter), hashed."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_header(value: str) -> str:
    if not value or len(value) > 255 or not value.isprintable() or not value.isascii():
        raise exceptions.ValidationError(
            {"Idempotency-Key": ["The Idempotency-Key header must be 1 to 255 printable ASCII characters."]}
        )
    return value


def once(key: ApiKey | None, header: str | None, data: Any, create: Callable[[], Job]) -> tuple[Job, bool]:
    """``create()``'s job, or the job an earlier request with this key and body made; (job, created)."""
    if header is None or key is None:
        return create(), True
    idempotency_key = check_header(header)
    digest = body_digest(data)
    with transaction.atomic():
        # Serialize requests with the same key: the second waits, then finds the first's job.
        ApiKey.objects.select_for_update().filter(pk=key.pk).first()
        earlier = (
            IdempotentRequest.objects.filter(key=key, idempotency_key=idempotency_key).select_related("job").first()
        )
        if earlier is not None and earlier.created_at < timezone.now() - KEPT_FOR:
            earlier.delete()  # older than 24 hours: the key may be used afresh
            earlier = None
        if earlier is not None:
            if earlier.body_sha256 != digest:
                raise Conflict(
                    f"Idempotency-Key {idempotency_key!r} was used at {earlier.created_at:%Y-%m-%d %H:%M:%S} UTC "
                    "with a different body; use a new key for a new request."
                )
            return earlier.job, False
        job = create()
        try:
            with transaction.atomic():
                IdempotentRequest.objects.create(key=key, idempotency_key=idempotency_key, body_sha256=digest, job=job)
        except IntegrityError:  # cannot happen while the key row is locked; say so rather than 500
            raise Conflict("A request with this Idempotency-Key is being processed; retry in a moment.") from None
    return job, True
