"""The standalone verifier and the derived-state checks leave no gap: negative indexes, foreign origins,
missing nodes and edited interior nodes are each refused or reported."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, transaction

from audit_app.ledger import log, merkle
from audit_app.ledger.signed_note import sign_checkpoint, verifier_key
from audit_app.ledger.standalone import VerificationError, leaf_hash, verify_checkpoint, verify_inclusion
from tests.ledger.memory import MemoryTree


def tree(size: int) -> MemoryTree:
    return MemoryTree(f"leaf {n}".encode() for n in range(size))


def test_negative_index_is_refused_not_read_as_the_last_leaf():
    memory = tree(7)
    last = merkle.inclusion_proof(6, 7, memory.fetch)
    root = merkle.root(7, memory.fetch)
    verify_inclusion(6, 7, leaf_hash(b"leaf 6"), last, root)
    with pytest.raises(VerificationError, match="Leaf index -1 is outside a tree of size 7"):
        verify_inclusion(-1, 7, leaf_hash(b"leaf 6"), last, root)


def test_checkpoint_for_another_origin_is_refused():
    key = Ed25519PrivateKey.generate()
    note = sign_checkpoint(key, "glassbox.example/ledger", "other.example/log", 3, b"\x04" * 32)
    with pytest.raises(VerificationError, match=r"for the log 'other\.example/log', not 'glassbox\.example/ledger'"):
        verify_checkpoint(note, verifier_key(key, "glassbox.example/ledger"))


def test_missing_node_is_a_lookup_error_naming_level_and_index():
    memory = tree(8)
    del memory.nodes[(1, 2)]
    with pytest.raises(merkle.MissingNodeError, match="node at level 1, index 2 is missing") as error:
        merkle.inclusion_proof(6, 8, lambda keys: {k: memory.nodes[k] for k in keys if k in memory.nodes})
    assert isinstance(error.value, LookupError)
    assert (error.value.level, error.value.index) == (1, 2)


def append(count: int) -> None:
    for number in range(count):
        with transaction.atomic():
            log.append("test", f"test:{number}", {"number": number})


def superuser(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql)
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
def test_honest_log_has_no_derived_state_problems():
    from audit_app.ledger.head import check_head
    from audit_app.ledger.signer import sign_now

    append(11)
    sign_now()
    assert list(check_head()) == []


@pytest.mark.django_db
def test_edited_interior_node_off_the_root_path_is_reported():
    from audit_app.ledger.head import check_head

    append(8)
    # The root of size 8 is node (3, 0); node (1, 1) is not read for it, only for proofs of leaves 0-3.
    superuser("UPDATE audit_app_ledgernode SET hash = sha256(hash) WHERE level = 1 AND index = 1")
    assert merkle.root(8, log.fetch_nodes) == merkle.root(8, db_tree(8).fetch)
    problems = list(check_head())
    assert [(p.table, p.message.split(";")[0]) for p in problems] == [
        ("audit_app_ledgernode", "The stored tree node at level 1, index 1 differs from the hash of its two children")
    ]


@pytest.mark.django_db
def test_missing_node_is_reported_as_a_ledger_problem():
    from audit_app.ledger.head import check_head

    append(4)
    superuser("DELETE FROM audit_app_ledgernode WHERE level = 1 AND index = 0")
    problems = list(check_head())
    assert [(p.table, p.row_id, p.message) for p in problems] == [
        ("audit_app_ledgernode", "1/0", "The stored tree node at level 1, index 0 is missing.")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ("UPDATE audit_app_ledgerhead SET size = 3", "says the log holds 3 entries, but it holds 6"),
        (
            "UPDATE audit_app_ledgerhead SET edge = jsonb_set(edge, '{0,2}', to_jsonb(repeat('ab', 32)))",
            "right edge differs from the stored tree nodes",
        ),
    ],
)
def test_edited_head_row_is_reported(edit: str, says: str):
    from audit_app.ledger.head import check_head

    append(6)
    with connection.cursor() as cursor:
        cursor.execute(edit)  # the app role's own UPDATE grant: no trigger involved
    problems = list(check_head())
    assert [(p.table, p.row_id) for p in problems] == [("audit_app_ledgerhead", "1")]
    assert says in problems[0].message


@pytest.mark.django_db
def test_alerts_are_reported_by_verification():
    from audit_app.ledger.head import check_head

    append(3)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_app_ledgerhead SET size = 1")
    append(1)  # heals the head, but the alert it records stays
    problems = list(check_head())
    assert [p.table for p in problems] == ["audit_app_ledgeralert"]
    assert "head row disagreed with the stored log" in problems[0].message


def db_tree(size: int) -> MemoryTree:
    from audit_app.models import LedgerEntry

    payloads = LedgerEntry.objects.filter(sequence__lt=size).order_by("sequence").values_list("payload", flat=True)
    return MemoryTree(bytes(p) for p in payloads)
