"""How long an ``Idempotency-Key`` is remembered, and forgetting the older ones (run by beat).

Here, not in the API's edge layer, because the beat task runs it and tasks do not import the web layer.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from audit_app.models import IdempotentRequest

KEPT_FOR = datetime.timedelta(hours=24)


def prune(now: datetime.datetime | None = None) -> int:
    """Forget keys older than 24 hours; the number forgotten."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=(now or timezone.now()) - KEPT_FOR).delete()
    return deleted
