"""The hash columns derived from a row's own content, computed in one place.

Writers store them (``submit_job``, ``record_run``) and ``verify_ledger`` recomputes them from the stored
row, so a zeroed or edited column shown on a page is reported. They are outside the ledgered record,
which is why they need their own check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from audit_app.ledger.canonical import canonical_json

_SAFE_INTEGER = 2**53 - 1


def text_sha256(text: str) -> str:
    """SHA-256 of the UTF-8 text (question, thinking, answer), as stored."""
    return hashlib.sha256(text.encode()).hexdigest()


def token_ids_sha256(token_ids: Sequence[int]) -> str:
    """SHA-256 of the canonical JSON of the prompt's token ids.

    A list of safe integers has one JSON form, so the C encoder gives RFC 8785's bytes at a fraction of
    the cost (verification recomputes this for every run record); anything else goes the canonical way.
    """
    ids = list(token_ids)
    if not ids or (set(map(type, ids)) == {int} and min(ids) >= -_SAFE_INTEGER and max(ids) <= _SAFE_INTEGER):
        return hashlib.sha256(json.dumps(ids, separators=(",", ":")).encode()).hexdigest()
    return hashlib.sha256(canonical_json(ids)).hexdigest()


def submission_hashes(question: str) -> dict[str, str]:
    return {"question_sha256": text_sha256(question)}


def run_hashes(prompt_token_ids: Sequence[int], thinking: str, answer: str) -> dict[str, str]:
    return {
        "prompt_sha256": token_ids_sha256(prompt_token_ids),
        "thinking_sha256": text_sha256(thinking),
        "answer_sha256": text_sha256(answer),
    }


def derived_hashes(label: str, row: dict[str, Any]) -> dict[str, str]:
    """The derived hash columns of a row of model ``label`` (e.g. ``audit_app.runrecord``), from its content."""
    if label == "audit_app.submission":
        return submission_hashes(row["question"])
    if label == "audit_app.runrecord":
        return run_hashes(row["prompt_token_ids"], row["thinking"], row["answer"])
    return {}
