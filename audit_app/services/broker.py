"""What the broker (Redis) still holds for a queue: the task ids of waiting and of delivered, unacknowledged messages.

The sweep re-sends a queued job only when its message is gone, so a long backlog keeps one message per job
instead of gaining one on every sweep.
"""

from __future__ import annotations

import json
from typing import Any

from audit_app.celery import app


def pending_task_ids(queue: str) -> set[str]:
    """Task ids of messages waiting in ``queue`` (every priority list) or delivered and not yet acknowledged."""
    with app.connection_for_read() as connection:
        channel: Any = connection.default_channel
        client = channel.client
        raw: list[Any] = []
        for priority in channel.priority_steps:
            raw += client.lrange(channel._q_for_pri(queue, priority), 0, -1)
        waiting = [json.loads(item) for item in raw]
        # Unacknowledged messages are stored as [message, exchange, routing key].
        delivered = [json.loads(item)[0] for item in client.hvals(channel.unacked_key)]
    return {str(message.get("headers", {}).get("id")) for message in waiting + delivered}
