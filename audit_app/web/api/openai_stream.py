"""``stream: true``: server-sent ``chat.completion.chunk`` events, the trace first, then the answer, as produced.

While the job runs, the worker writes the growing trace and answer to the job row about once per progress
interval; each poll sends what is new. The live text is the run's text before it is recorded, so it is sent
stripped of leading and (until more follows) trailing white space, as the run record stores it. Once the job
has finished, the rest comes from the ledgered run record, so what a client has put together equals the
record; the final chunk carries the record hash. Should the record not extend what was already sent (a model
that reopens its thinking gets its blocks joined by a blank line in the record), the final chunk says so with
``glassbox_stream_matches_record: false`` and the record is the evidence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import User

from audit_app.models import Job
from audit_app.web.api.openai_request import ChatRequest, OpenAIError
from audit_app.web.api.openai_result import (
    FINISH,
    glassbox_fields,
    ledgered_run,
    poll_seconds,
    timed_out,
    timeout_seconds,
    usage,
)

KEEP_ALIVE_SECONDS = 10.0  # an SSE comment while nothing new comes: proxies keep the connection, SDKs skip it


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class _Chunks:
    def __init__(self, chat: ChatRequest, job: Job) -> None:
        self.chat, self.job = chat, job
        self.base = {
            "id": f"chatcmpl-glassbox-{job.pk}",
            "object": "chat.completion.chunk",
            "created": int(job.created_at.timestamp()),
            "model": chat.model,
            "system_fingerprint": None,
        }

    def delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return event({**self.base, "choices": [choice], **glassbox_fields(self.job), **extra})


def _new(sent: str, live: str) -> str:
    """What ``live`` adds to ``sent``; nothing when it does not extend it (a retried attempt starts over)."""
    return live[len(sent) :] if live.startswith(sent) else ""


def stream_job(user: User, chat: ChatRequest, job: Job) -> Iterator[bytes]:
    chunks = _Chunks(chat, job)
    yield chunks.delta({"role": "assistant", "content": ""})
    thinking = answer = ""
    deadline = time.monotonic() + timeout_seconds()
    quiet_since = time.monotonic()
    while True:
        row = Job.objects.filter(pk=job.pk).values("status", "partial_thinking", "partial_answer").first()
        if row is None or row["status"] in Job.FINISHED:
            break
        more_thinking = _new(thinking, row["partial_thinking"].strip())
        if more_thinking:
            thinking += more_thinking
            yield chunks.delta({"reasoning_content": more_thinking})
        # The answer only after the trace this row holds has been sent in full: trace first, then answer.
        more_answer = _new(answer, row["partial_answer"].strip()) if thinking == row["partial_thinking"].strip() else ""
        if more_answer:
            answer += more_answer
            yield chunks.delta({"content": more_answer})
        if more_thinking or more_answer:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield b": job " + str(job.pk).encode() + b" " + str(row["status"]).encode() + b"\n\n"
        if time.monotonic() >= deadline:
            yield event(timed_out(job.pk).body())
            yield b"data: [DONE]\n\n"
            return
        time.sleep(poll_seconds())
    try:
        run, record_sha256 = ledgered_run(user, job.pk)
    except OpenAIError as error:
        yield event(error.body())
        yield b"data: [DONE]\n\n"
        return
    matches = run["thinking"].startswith(thinking) and run["answer"].startswith(answer)
    if matches and run["thinking"] != thinking:
        yield chunks.delta({"reasoning_content": run["thinking"][len(thinking) :]})
    if matches and run["answer"] != answer:
        yield chunks.delta({"content": run["answer"][len(answer) :]})
    final = {**glassbox_fields(job, run, record_sha256), "glassbox_stream_matches_record": matches}
    yield chunks.delta({}, FINISH.get(run["finish_reason"], "stop"), **final)
    if chat.include_usage:  # as OpenAI does: one more chunk, with no choices and the usage
        yield event({**chunks.base, "choices": [], "usage": usage(run), **final})
    yield b"data: [DONE]\n\n"
