"""The ledger endpoints for outside monitors: checkpoint, inclusion and consistency proofs, public key.

Proofs are checked with the standalone verifier's own functions against the signed root; bad input is a
4xx problem+json with a sentence, never a 500; without a key or a session the answer is 401.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from audit_app.ledger import standalone
from audit_app.ledger.signer import sign_now
from audit_app.models import AccessEvent, Checkpoint, LedgerEntry, Team
from audit_app.services.access_events import record_access
from audit_app.services.api_keys import create_key
from audit_app.services.submission import submit_job
from tests.people import make_user

pytestmark = pytest.mark.django_db
ENDPOINTS = [
    "/api/v1/ledger/checkpoint/",
    "/api/v1/ledger/checkpoint/note/",
    "/api/v1/ledger/inclusion/0/",
    "/api/v1/ledger/consistency/?from=0",
    "/api/v1/ledger/public-key/",
]


@pytest.fixture
def auth(team: Team) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_key('Monitor', team, 'read', None, 'test setup').secret}"}


def grow(entries: int) -> None:
    for number in range(entries):
        record_access(None, "view", f"job:{number}", actor_name="monitor test")


def problem(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    return detail


def test_no_checkpoint_yet_is_a_404_saying_the_signer_has_not_signed(client: Client, auth):
    for url in ENDPOINTS[:4]:
        problem(client.get(url, **auth), 404, "signer has not signed")


def test_the_checkpoint_as_stored_and_as_json(client: Client, auth):
    grow(5)
    checkpoint = sign_now()
    assert checkpoint is not None
    note = client.get("/api/v1/ledger/checkpoint/note/", **auth)
    assert note.status_code == 200
    assert note["Content-Type"].startswith("text/plain")
    assert note.content.decode() == checkpoint.note  # byte for byte what was signed
    form = client.get("/api/v1/ledger/checkpoint/", **auth).json()
    assert form == {
        "origin": standalone.verify_checkpoint(checkpoint.note, _key(client, auth))[0],
        "size": checkpoint.size,
        "root_hash": bytes(checkpoint.root).hex(),
        "note": checkpoint.note,
    }


def _key(client: Client, auth) -> str:
    response = client.get("/api/v1/ledger/public-key/", **auth)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_the_public_key_is_what_the_command_prints(client: Client, auth):
    printed = io.StringIO()
    call_command("ledger_public_key", stdout=printed)
    assert _key(client, auth) == printed.getvalue()


def test_an_inclusion_proof_leads_to_the_signed_root_and_the_payload_to_the_leaf(client: Client, auth, analyst):
    grow(6)
    job = submit_job(analyst, analyst.teams.get(), "M-1", "legal", "Is clause 4 enforceable?")
    grow(4)
    checkpoint = sign_now()
    assert checkpoint is not None
    entry = LedgerEntry.objects.get(subject=f"submission:{job.submission_id}")
    body = client.get(f"/api/v1/ledger/inclusion/{entry.sequence}/", **auth).json()
    leaf = bytes.fromhex(body["leaf_hash"])
    proof = [bytes.fromhex(h) for h in body["inclusion_proof"]]
    assert body["tree_size"] == checkpoint.size
    assert leaf == bytes(entry.leaf_hash)
    assert standalone.root_from_inclusion_proof(entry.sequence, checkpoint.size, leaf, proof) == bytes(checkpoint.root)
    assert standalone.leaf_hash(standalone.canonical_json(body["payload"])) == leaf
    assert body["checkpoint"]["note"] == checkpoint.note
    # The payload is the job's evidence: serving it is a ledgered view of the job, like GET /jobs/<id>/run/.
    assert AccessEvent.objects.filter(subject=f"job:{job.pk}", action="view").exists()


def test_an_inclusion_proof_at_an_older_signed_size(client: Client, auth):
    grow(3)
    older = sign_now()
    grow(9)
    sign_now()
    assert older is not None
    body = client.get(f"/api/v1/ledger/inclusion/2/?size={older.size}", **auth).json()
    proof = [bytes.fromhex(h) for h in body["inclusion_proof"]]
    root = standalone.root_from_inclusion_proof(2, older.size, bytes.fromhex(body["leaf_hash"]), proof)
    assert (body["tree_size"], root) == (older.size, bytes(older.root))


def test_payloads_of_entries_the_caller_may_not_see_are_withheld(client: Client, auth, other_team: Team):
    outsider = make_user("olga", "analyst", other_team)
    job = submit_job(outsider, other_team, "T-1", "legal", "Another team's question?")
    access = record_access(None, "view", "job:999", actor_name="someone")
    sign_now()
    for subject in (f"submission:{job.submission_id}", f"access:{access.pk}"):
        sequence = LedgerEntry.objects.get(subject=subject).sequence
        body = client.get(f"/api/v1/ledger/inclusion/{sequence}/", **auth).json()
        assert body["payload"] is None
        assert len(body["leaf_hash"]) == 64
    assert not AccessEvent.objects.filter(subject=f"job:{job.pk}").exists()


def test_a_consistency_proof_links_two_signed_sizes(client: Client, auth):
    grow(5)
    old = sign_now()
    grow(20)
    new = sign_now()
    assert old is not None
    assert new is not None
    body = client.get(f"/api/v1/ledger/consistency/?from={old.size}&to={new.size}", **auth).json()
    assert (body["old_size"], body["new_size"], body["checkpoint"]) == (old.size, new.size, new.note)
    proof = [bytes.fromhex(h) for h in body["consistency_proof"]]
    standalone.verify_consistency(old.size, new.size, proof, bytes(old.root), bytes(new.root))
    assert client.get(f"/api/v1/ledger/consistency/?from={old.size}", **auth).json() == body  # to: the latest


def test_bad_input_is_a_4xx_problem_never_a_500(client: Client, auth):
    grow(4)
    signed = sign_now()
    grow(3)
    latest = sign_now()
    assert signed is not None
    assert latest is not None
    size = latest.size
    problem(client.get("/api/v1/ledger/inclusion/-1/", **auth), 400, "whole number")
    problem(client.get("/api/v1/ledger/inclusion/abc/", **auth), 400, "whole number")
    problem(client.get("/api/v1/ledger/inclusion/99999999999999999999999/", **auth), 400, "whole number")
    problem(client.get(f"/api/v1/ledger/inclusion/{size}/", **auth), 404, f"Entry {size} is not in the log")
    problem(client.get(f"/api/v1/ledger/inclusion/{size - 1}/?size={signed.size}", **auth), 404, "not in the log")
    problem(client.get("/api/v1/ledger/inclusion/0/?size=2", **auth), 400, "No checkpoint signs a tree of 2")
    problem(client.get("/api/v1/ledger/inclusion/0/?size=x", **auth), 400, "size")
    problem(client.get("/api/v1/ledger/consistency/", **auth), 400, "from")
    problem(client.get("/api/v1/ledger/consistency/?from=x", **auth), 400, "from")
    problem(client.get("/api/v1/ledger/consistency/?from=-3", **auth), 400, "from")
    problem(client.get(f"/api/v1/ledger/consistency/?from={size}&to={signed.size}", **auth), 400, "larger than")
    problem(client.get("/api/v1/ledger/consistency/?from=2", **auth), 400, "No checkpoint signs a tree of 2")
    problem(client.get(f"/api/v1/ledger/consistency/?from=0&to={size + 5}", **auth), 400, "No checkpoint")
    assert Checkpoint.objects.count() == 2  # nothing was signed on the way


def test_without_a_key_or_session_it_is_401_and_a_signed_in_person_may_read(client: Client, analyst: User):
    grow(2)
    checkpoint = sign_now()
    assert checkpoint is not None
    urls = [*ENDPOINTS[:3], f"/api/v1/ledger/consistency/?from={checkpoint.size}", ENDPOINTS[4]]
    for url in urls:
        problem(client.get(url), 401)
    client.force_login(analyst)
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_without_a_signing_key_the_public_key_is_a_503_with_the_fix(client: Client, auth, settings):
    settings.GLASSBOX = settings.GLASSBOX | {"LEDGER_KEY": ""}
    problem(client.get("/api/v1/ledger/public-key/", **auth), 503, "ledger_keygen")
