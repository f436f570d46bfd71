"""The signer and the append step trust no mutable state: an edited head row or node never gets a wrong root signed."""

from __future__ import annotations

import contextlib

import pytest
from django.db import DatabaseError, connection, transaction

from audit_app.ledger import log, merkle
from audit_app.models import Checkpoint, LedgerEntry
from tests.ledger.memory import MemoryTree

pytestmark = pytest.mark.django_db


def append(count: int) -> None:
    for _ in range(count):
        with transaction.atomic():
            number = log.tree_size()
            log.append("test", f"test:{number}", {"number": number})


def insider(sql: str, *params: object) -> None:
    """The application's own role may UPDATE the head row: no trigger stands in the way."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def superuser(sql: str, *params: object) -> None:
    """A schema owner switches the write-once triggers off, then edits."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def true_root(size: int) -> bytes:
    payloads = LedgerEntry.objects.filter(sequence__lt=size).order_by("sequence").values_list("payload", flat=True)
    return merkle.root(size, MemoryTree(bytes(p) for p in payloads).fetch)


def try_to_sign() -> None:
    from audit_app.ledger.signer import sign_now

    with contextlib.suppress(Exception):
        sign_now()


def wrong_checkpoints() -> list[int]:
    return [c.size for c in Checkpoint.objects.all() if bytes(c.root) != true_root(c.size)]


def test_edited_head_edge_never_gets_a_wrong_root_signed():
    append(5)
    insider("UPDATE audit_app_ledgerhead SET edge = jsonb_set(edge, '{1,2}', to_jsonb(repeat('ab', 32)))")
    append(4)  # position 5 merges with the edited leaf, and 7 with the subtree built on it
    try_to_sign()
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == list(range(9))
    assert merkle.root(9, log.fetch_nodes) == true_root(9)
    assert Checkpoint.objects.filter(size=9).exists()
    assert wrong_checkpoints() == []
    from audit_app.models import LedgerAlert

    assert "its edge at level 0, index 4 differed" in LedgerAlert.objects.get(source="append").message


def test_head_size_moved_back_does_not_break_appends():
    append(6)
    insider("UPDATE audit_app_ledgerhead SET size = 2")
    append(3)
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == list(range(9))
    assert merkle.root(9, log.fetch_nodes) == true_root(9)


def test_an_append_that_finds_the_head_edited_records_an_alert_and_rewrites_the_head():
    from audit_app.ledger.head import expected_edge
    from audit_app.models import LedgerAlert, LedgerHead

    append(3)
    insider("UPDATE audit_app_ledgerhead SET size = 1")
    append(1)
    alert = LedgerAlert.objects.get()
    assert (alert.source, alert.reason, alert.size) == ("append", "head-mismatch", 3)
    assert "said size 1, the log holds 3 entries" in alert.message
    head = LedgerHead.objects.get()
    assert (head.size, head.edge) == (4, expected_edge(4))


def test_corrupted_stored_node_makes_the_signer_refuse_and_alert():
    from audit_app.ledger.signer import SigningRefused, sign_now
    from audit_app.models import LedgerAlert

    append(5)
    sign_now()
    superuser("UPDATE audit_app_ledgernode SET hash = sha256(hash) WHERE level = 2 AND index = 0")
    append(3)  # the append at position 7 builds level 3 on the edited node
    with pytest.raises(SigningRefused, match="stored tree nodes give a different root at size 8"):
        sign_now()
    with pytest.raises(SigningRefused):
        sign_now()  # beat tries again: still refused, still one alert for the lasting condition
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [5]
    assert wrong_checkpoints() == []
    alert = LedgerAlert.objects.get(source="signer")
    assert (alert.reason, alert.size) == ("root-mismatch", 8)


def test_edited_payload_makes_the_signer_refuse():
    from audit_app.ledger.signer import SigningRefused, sign_now

    append(3)
    superuser("UPDATE audit_app_ledgerentry SET payload = payload || ' '::bytea WHERE sequence = 1")
    with pytest.raises(SigningRefused, match="entry 1's payload does not match its leaf hash"):
        sign_now()
    assert not Checkpoint.objects.exists()


def test_missing_node_fails_the_append_with_one_sentence():
    append(5)
    superuser("DELETE FROM audit_app_ledgernode WHERE level = 2 AND index = 0")
    append(2)
    with pytest.raises(DatabaseError, match=r"stored tree node at level 2, index 0 is missing, so the log was altered"):
        append(1)


def test_deleted_last_entry_fails_the_append_with_one_sentence():
    append(4)
    superuser("DELETE FROM audit_app_ledgerentry WHERE sequence = 3")
    with pytest.raises(DatabaseError, match="a tree node already exists for the next position"):
        append(1)


def test_checkpoints_store_the_right_edge_and_extend_it():
    from audit_app.ledger.signer import sign_now

    append(6)
    first = sign_now()
    append(7)
    second = sign_now()
    assert first is not None
    assert second is not None
    for checkpoint in (first, second):
        edge = bytes(checkpoint.frontier or b"")
        assert merkle.frontier_root([edge[i : i + 32] for i in range(0, len(edge), 32)]) == bytes(checkpoint.root)
    assert bytes(second.root) == true_root(13)


def test_edited_checkpoint_edge_is_not_trusted():
    from audit_app.ledger.signer import sign_now
    from audit_app.models import LedgerAlert

    append(6)
    first = sign_now()
    assert first is not None
    superuser("UPDATE audit_app_checkpoint SET frontier = sha256(frontier) || sha256(root) WHERE id = %s", first.pk)
    append(2)
    second = sign_now()
    assert second is not None
    assert bytes(second.root) == true_root(8)
    assert LedgerAlert.objects.get().reason == "frontier-mismatch"


def test_signing_when_nothing_grew_is_cheap(django_assert_max_num_queries):
    from audit_app.ledger.signer import sign_now

    append(3)
    sign_now()
    with django_assert_max_num_queries(5):
        assert sign_now() is None


def test_empty_log_signs_the_empty_root():
    from audit_app.ledger.signer import sign_now
    from audit_app.ledger.standalone import EMPTY_ROOT

    checkpoint = sign_now()
    assert checkpoint is not None
    assert (checkpoint.size, bytes(checkpoint.root)) == (0, EMPTY_ROOT)


def test_checkpoints_are_signed_within_a_few_seconds_by_default():
    from django.conf import settings

    assert settings.GLASSBOX["CHECKPOINT_INTERVAL_SECONDS"] <= 5
    assert settings.CELERY_BEAT_SCHEDULE["sign-checkpoint"]["schedule"] <= 5


def test_alerts_are_write_once():
    from audit_app.models import LedgerAlert

    append(2)
    insider("UPDATE audit_app_ledgerhead SET size = 0")
    append(1)
    assert LedgerAlert.objects.count() == 1
    for statement in ("UPDATE audit_app_ledgeralert SET message = 'fine'", "DELETE FROM audit_app_ledgeralert"):
        with pytest.raises(DatabaseError, match="evidence is write-once"), transaction.atomic():
            insider(statement)


def test_beat_task_and_command_refuse_with_the_sentence():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from audit_app.models import LedgerAlert
    from audit_app.tasks import sign_checkpoint

    append(3)
    superuser("UPDATE audit_app_ledgernode SET hash = sha256(hash) WHERE level = 0 AND index = 2")
    assert sign_checkpoint() is None  # logged and recorded; beat tries again next interval
    with pytest.raises(CommandError, match="No checkpoint signed: The stored tree nodes give") as error:
        call_command("ledger_checkpoint")
    assert error.value.returncode == 1
    assert not Checkpoint.objects.exists()
    assert LedgerAlert.objects.get().reason == "root-mismatch"
