"""The verifier's shortcuts give exactly the canonical hashes the writers store."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from audit_app.ledger.canonical import canonical_json, record_hash
from audit_app.ledger.derived import token_ids_sha256
from audit_app.ledger.verify.records import record_sha256_matches

RECORD = {
    "model": "audit_app.runrecord",
    "answer": 'Ja — 東京 🙂\n"q"',
    "timings": {"decode_s": 1.0, "x": 1e-7},
    "settings": {"temperature": 0.7},
    "prompt_token_ids": [1, 2, 3],
}


def payload_of(record: dict[str, object]) -> bytes:
    body = {"record": record, "record_sha256": record_hash(record), "kind": "run", "subject": "run:1"}
    return canonical_json(body | {"recorded_at": "2026-11-24T00:00:00+00:00"})


def test_the_canonical_slice_of_the_payload_gives_the_record_hash():
    assert record_sha256_matches(payload_of(RECORD), RECORD, record_hash(RECORD))
    assert not record_sha256_matches(payload_of(RECORD), RECORD, "0" * 64)


def test_a_payload_not_in_canonical_form_is_hashed_the_slow_way():
    pretty = json.dumps({"record": RECORD, "record_sha256": record_hash(RECORD)}, indent=2).encode()
    assert record_sha256_matches(pretty, RECORD, record_hash(RECORD))
    assert not record_sha256_matches(pretty, RECORD, hashlib.sha256(b"{}").hexdigest())


@given(st.lists(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1), max_size=50))
def test_token_ids_hash_is_the_canonical_hash(ids: list[int]):
    assert token_ids_sha256(ids) == hashlib.sha256(canonical_json(ids)).hexdigest()
