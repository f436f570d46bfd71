"""The record checks' fast path (``verify/serialized.py``): PostgreSQL writes each row's record, bytes are compared.

It must be faithful (the bytes decode to exactly the record ``evidence_record`` gives, so equal bytes
prove equal values), taken on what the services write, and never a way round a check: a row edited so
that a careless serializer would write the ledgered bytes again is still named by table and id.
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_app.ledger.log import tree_size
from audit_app.ledger.records import evidence_record
from audit_app.ledger.verify.reader import read_chunk
from audit_app.ledger.verify.rows import EVIDENCE
from audit_app.ledger.verify.serialized import serialized_rows
from audit_app.models import AccessEvent, LedgerVerification
from audit_app.services.store import store_evidence
from tests.ledger.evidence import make_evidence
from tests.ledger.insider import named, superuser, verify

# Text PostgreSQL can hold: no NUL, no lone surrogates.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(-1e15, 1e15, allow_nan=False)  # jsonb turns larger whole floats into integers RFC 8785 refuses
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _serialized(row: object) -> bytes:
    kind = type(row).evidence_kind  # type: ignore[attr-defined]
    return serialized_rows(kind, EVIDENCE[kind], [row.pk])[row.pk].record  # type: ignore[attr-defined]


def _verification(problems: object, message: str = "odd", at: datetime.datetime | None = None) -> LedgerVerification:
    row = LedgerVerification(
        requested_by_name="auditor",
        at=at or timezone.now(),
        ok=False,
        entries=1,
        checkpoints=0,
        root="",
        problem_count=1,
        problems=problems,
        message=message,
    )
    return store_evidence(row)


@pytest.mark.django_db
def test_the_services_evidence_is_verified_on_the_fast_path():
    make_evidence()
    chunk = read_chunk(0, tree_size(), True)
    evidence = [seq for seq, kind, subject, _, _ in chunk.entries if kind in EVIDENCE and subject.startswith(kind)]
    assert evidence
    assert set(evidence) <= chunk.verified  # the tiny model's run record included
    assert not chunk.rows  # nothing needed the slow path
    assert verify().ok


@pytest.mark.django_db(transaction=False)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problems=JSON, message=TEXT, microsecond=st.sampled_from([0, 1, 120000, 999999]))
def test_odd_values_are_written_faithfully_and_still_verify(problems: object, message: str, microsecond: int):
    at = timezone.now().replace(microsecond=microsecond)
    row = _verification([problems], message, at)  # the column is NOT NULL; a JSON null inside is fine
    stored = LedgerVerification.objects.get(pk=row.pk)
    # Faithful: the bytes decode to exactly the record the slow path builds from the stored row.
    assert json.loads(_serialized(stored)) == evidence_record(stored)
    report = verify()
    assert report.ok, report.summary()


@pytest.mark.django_db
def test_a_date_moved_to_the_same_day_before_christ_is_named():
    make_evidence()
    event = AccessEvent.objects.order_by("pk").last()
    assert event is not None
    # to_char's YYYY drops the era: without the range guard this row would be written as ledgered.
    superuser(
        "audit_app_accessevent",
        "UPDATE audit_app_accessevent SET at = at - interval '4000 years' WHERE id = %s",
        event.pk,
    )
    assert ("audit_app_accessevent", str(event.pk)) in named(verify())


@pytest.mark.django_db
def test_a_list_of_strings_edited_only_in_its_spacing_is_named():
    row = _verification(["a,b", [1, 2]])
    # jsonb writes ", " between items; removing it is safe only where no string can hold one.
    superuser(
        "audit_app_ledgerverification",
        """UPDATE audit_app_ledgerverification SET problems = '["a, b", [1, 2]]' WHERE id = %s""",
        row.pk,
    )
    assert ("audit_app_ledgerverification", str(row.pk)) in named(verify())


@pytest.mark.django_db
def test_a_number_written_with_trailing_zeros_still_verifies_and_a_changed_one_is_named():
    same, changed = _verification({"t": 0.5}), _verification({"t": 0.5})
    for pk, value in ((same.pk, "0.50"), (changed.pk, "0.51")):
        superuser(
            "audit_app_ledgerverification",
            "UPDATE audit_app_ledgerverification SET problems = jsonb_build_object('t', %s::numeric) WHERE id = %s",
            value,
            pk,
        )
    found = named(verify())
    assert ("audit_app_ledgerverification", str(changed.pk)) in found
    assert ("audit_app_ledgerverification", str(same.pk)) not in found  # the same value, spelled otherwise
