"""The verifier's byte-level shortcuts: exact where they answer, and taken on evidence the services write.

Record checks compare a row's compact JSON with the exact bytes of the ledgered record, stored tree
nodes are checked by per-level digests, and the bindings reuse the walk's decoded payloads. Each
shortcut must agree with the slow way, and a tampered row must still be named by table and id.
"""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_app.ledger.bindings import check_bindings
from audit_app.ledger.canonical import canonical_json, record_hash
from audit_app.ledger.derived import derived_hashes, token_ids_sha256
from audit_app.ledger.head import _levels_match, check_nodes
from audit_app.ledger.log import tree_size
from audit_app.ledger.verify import _Frontier
from audit_app.ledger.verify.fastjson import compact, split_payload
from audit_app.ledger.verify.reader import read_chunk
from audit_app.ledger.verify.records import SPLIT_ABOVE, _derived, decode_entry
from audit_app.ledger.verify.rows import EVIDENCE, _compact_int_list, rows_by_id
from audit_app.models import Job, LedgerEntry
from tests.ledger.evidence import make_evidence
from tests.ledger.insider import named, superuser, verify

SAFE = 2**53 - 1
keys = st.text(st.characters(codec="ascii"), max_size=8)
scalars = (
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.text() | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
)
no_floats = st.recursive(
    scalars.filter(lambda v: not isinstance(v, float)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def _lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


@settings(max_examples=300)
@given(values)
def test_compact_json_decodes_to_the_same_value(value: object):
    """Equal bytes prove equal values: what the shortcut relies on, floats and all."""
    encoded = compact(value)
    if encoded is None:
        assert _lone_surrogate(value)
        return
    assert json.loads(encoded) == value or (isinstance(value, float) and math.isnan(value))


@settings(max_examples=300)
@given(no_floats)
def test_compact_json_is_rfc_8785_for_what_records_hold(value: object):
    """So the shortcut answers for every row the services write (their floats are plain decimals too)."""
    if not _lone_surrogate(value):
        assert compact(value) == canonical_json(value)


@pytest.mark.parametrize("number", [0.7, 0.95, 0.412, 11.25, 35.6, 1e-3, 123456.789, -2.5])
def test_compact_json_writes_the_floats_records_hold_as_rfc_8785_does(number: float):
    assert compact({"x": number}) == canonical_json({"x": number})


def payload_of(record: dict[str, object], **fields: object) -> bytes:
    body = {"record": record, "record_sha256": record_hash(record), "kind": "run", "subject": "run:1"}
    return canonical_json(body | {"recorded_at": "2026-11-24T00:00:00+00:00"} | fields)


@settings(max_examples=200)
@given(st.dictionaries(keys, no_floats, max_size=5), st.lists(st.dictionaries(keys, no_floats, max_size=3), max_size=2))
def test_a_canonical_payload_splits_into_its_fields_and_its_record_bytes(record: dict, documents: list):
    if _lone_surrogate(record) or _lone_surrogate(documents):
        return
    payload = payload_of(record, documents=documents, job=7)
    split = split_payload(payload)
    if split is None:  # only where the record's own keys make the split ambiguous: the slow way then
        assert payload.count(b'"record":') > 1
        return
    body, record_bytes = split
    assert record_bytes == canonical_json(record)
    assert body == json.loads(payload) | {"record": None}


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"kind": "run", "record": {"a": 1}, "record_sha256": "x"}, indent=1).encode(),  # not compact
        b'{"kind":"run","record":{"a":{"record":null}},"record_sha256":"x"}',  # a nested "record" key
        b'{"kind":"run","record":{"a":1},"record_sha256":"x","record":null}',  # a repeated key
        b'{"kind":"run","record":{"a":1},"record_sha256":"x" trailing',  # not JSON after the record
        b'{"kind":"run","note":"\\"record\\":{","record":{"a":1},"record_sha256":"x"}',  # the key inside a string
    ],
)
def test_an_ambiguous_or_odd_payload_is_decoded_the_slow_way(payload: bytes):
    split = split_payload(payload)
    if split is not None:  # a string that merely mentions the key is fine: the split is still exact
        body, record_bytes = split
        assert json.loads(payload) == body | {"record": json.loads(record_bytes)}


@pytest.mark.django_db
@settings(max_examples=150)
@given(st.lists(st.integers(-(10**17), 10**17) | st.integers(-300, 300), max_size=30))
def test_a_token_list_is_taken_from_jsonb_text_exactly(ids: list[int]):
    """jsonb's own text of an integer list, spaces dropped, is the list's compact and canonical JSON."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(ids)])
        text = cursor.fetchone()[0]
    taken = _compact_int_list(text)
    if all(abs(i) <= 10**15 - 1 for i in ids):
        assert taken == compact(ids) == canonical_json(ids)
        assert hashlib.sha256(taken).hexdigest() == token_ids_sha256(ids)
    else:
        assert taken is None  # beyond 15 digits: decoded and hashed the canonical way


@pytest.mark.parametrize("text", ['["1"]', "[1.5]", "[[1]]", '{"a": 1}', "[1e3]", "[1, [2]]", "1", "[1,2]x", None])
def test_anything_but_a_flat_integer_list_is_decoded(text: str | None):
    assert _compact_int_list(text) is None


def _exponent_float(value: object) -> bool:
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(_exponent_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_exponent_float(v) for v in value)
    return False


@pytest.mark.django_db
def test_the_services_evidence_takes_every_shortcut_and_verifies():
    """The slow path's shortcuts (taken by entries the serialized fast path could not verify), on every row."""
    make_evidence()
    chunk = read_chunk(0, tree_size(), True)
    rows = {kind: rows_by_id(model, model.objects.values_list("pk", flat=True)) for kind, model in EVIDENCE.items()}
    compared = 0
    for sequence, kind, subject, payload, _ in chunk.entries:
        _, record_bytes = decode_entry(sequence, kind, subject, payload)
        if len(payload) < SPLIT_ABOVE:
            assert record_bytes is None
            continue
        assert record_bytes is not None, f"entry {sequence} was decoded whole"
        key = subject.partition(":")[2]
        row = rows.get(kind, {}).get(int(key)) if key.isdigit() else None
        if row is None:
            continue
        if _exponent_float(row.record):  # e.g. a tiny-model timing of 4.5e-05 s: RFC 8785 writes 0.000045
            assert row.compact_record() != record_bytes
        else:
            assert row.compact_record() == record_bytes, f"{subject}: the row's bytes differ from its record's"
        assert json.loads(record_bytes) == row.record
        assert _derived(row) == derived_hashes(row.label, row.content)
        compared += 1
    assert compared >= 1  # the run record at least
    assert rows["run"]
    assert all(row.int_list("prompt_token_ids") for row in rows["run"].values())
    assert verify().ok


@pytest.mark.django_db
def test_an_edited_token_list_or_text_is_named_after_the_bytes_differ():
    evidence = make_evidence()
    run_id = evidence.run.pk
    superuser(
        "audit_app_runrecord",
        "UPDATE audit_app_runrecord SET output_token_ids = '[1, 2, 3]', prompt_token_ids = '[4]' WHERE id = %s",
        run_id,
    )
    superuser(
        "audit_app_submission",
        "UPDATE audit_app_submission SET question = question || ' ' WHERE id = %s",
        evidence.bare.pk,
    )
    report = verify()
    messages: dict[tuple[str, str | None], str] = {}
    for p in report.problems:
        messages[p.table, p.row_id] = messages.get((p.table, p.row_id), "") + p.message
    assert "output_token_ids" in messages[("audit_app_runrecord", str(run_id))]
    assert "prompt_token_ids" in messages[("audit_app_runrecord", str(run_id))]
    assert "question" in messages[("audit_app_submission", str(evidence.bare.pk))]
    derived = [p for p in report.problems if "prompt_sha256 is not" in p.message]
    assert [(p.table, p.row_id) for p in derived] == [("audit_app_runrecord", str(run_id))]


def _levels() -> list[bytearray]:
    frontier = _Frontier()
    for leaf in LedgerEntry.objects.order_by("sequence").values_list("leaf_hash", flat=True):
        frontier.push(bytes(leaf))
    return frontier.levels


@pytest.mark.django_db
def test_stored_nodes_are_checked_by_level_digests_and_an_edited_one_is_still_named():
    make_evidence()
    levels = _levels()
    assert _levels_match(levels)
    assert list(check_nodes(levels)) == list(check_nodes()) == []
    superuser(
        "audit_app_ledgernode", "UPDATE audit_app_ledgernode SET hash = sha256(hash) WHERE level = 1 AND index = 1"
    )
    assert not _levels_match(levels)
    problems = list(check_nodes(levels))
    assert problems == list(check_nodes())
    assert len(problems) == 1
    assert "level 1, index 1" in problems[0].message
    assert ("audit_app_ledgernode", problems[0].row_id) in named(verify())


@pytest.mark.django_db
def test_bindings_from_the_walk_agree_with_the_query():
    evidence = make_evidence()
    bare_job = Job.objects.get(submission=evidence.bare)
    ran_job = Job.objects.get(submission=evidence.submission)
    Job.objects.filter(pk=bare_job.pk).delete()
    Job.objects.filter(pk=ran_job.pk).update(submission=evidence.bare)  # re-pointed: its run answers another
    expected = list(check_bindings())
    wanted = {("audit_app_job", str(ran_job.pk)), ("audit_app_submission", str(evidence.submission.pk))}
    assert {(p.table, p.row_id) for p in expected} == wanted
    report = verify()
    assert all(problem in report.problems for problem in expected), report.problems
