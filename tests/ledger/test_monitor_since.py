"""An outside monitor: save a checkpoint, let the log grow by 1,000 entries, fetch the consistency proof
through the API, and prove offline with ``standalone.py --since`` that the log only grew.

Each forgery a monitor must catch exits 1 with a sentence: a new checkpoint signed by another key, a proof
with one hash changed, a saved checkpoint of another log, the two sizes swapped, and a fork (a different
tree of the saved size, signed by the ledger's own key).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client

from audit_app.ledger import merkle, standalone
from audit_app.ledger.bundles import build_bundle, bundle_bytes, subject_entries
from audit_app.ledger.signed_note import sign_checkpoint
from audit_app.ledger.signer import sign_now, signing_key
from audit_app.models import Checkpoint, LedgerEntry, Team
from audit_app.services.access_events import record_access
from audit_app.services.api_keys import create_key

pytestmark = pytest.mark.django_db
APPENDS = 1_000
STANDALONE = "import runpy, sys; sys.modules['django'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"  # noqa: E501


def an_access() -> str:
    return str(LedgerEntry.objects.filter(kind="access").order_by("sequence").values_list("subject", flat=True)[0])


def grow(entries: int) -> None:
    """The product's append path: each access is a record and its ledger entry, in one transaction."""
    for number in range(entries):
        record_access(None, "view", f"job:{number}", actor_name="monitor test")


@dataclass
class Monitor:
    work: Path
    client: Client
    auth: dict[str, str]
    old: Checkpoint
    new: Checkpoint
    append_seconds: float

    def get(self, url: str) -> bytes:
        response = self.client.get(url, **self.auth)
        assert response.status_code == 200, response.content
        return bytes(response.content)

    def save(self, name: str, content: bytes | str) -> Path:
        path = self.work / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def verify(self, old: Path, new: Path) -> subprocess.CompletedProcess[str]:
        # Only the one file, in a directory of its own, with Django unimportable: what a monitor runs offline.
        script = self.work / "standalone.py"
        command = [sys.executable, "-I", "-c", STANDALONE, str(script), "--since", str(old)]
        command += ["--key", str(self.work / "glassbox.vkey"), str(new)]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.work)


@pytest.fixture
def monitor(tmp_path: Path, client: Client) -> Monitor:
    secret = create_key("Monitor", Team.objects.create(name="Audit"), "read", None, "test setup").secret
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    shutil.copy(standalone.__file__, tmp_path / "standalone.py")
    grow(7)
    old = sign_now()
    assert old is not None
    watcher = Monitor(tmp_path, client, auth, old, old, 0.0)
    watcher.save("old-checkpoint.txt", watcher.get("/api/v1/ledger/checkpoint/note/"))
    watcher.save("glassbox.vkey", watcher.get("/api/v1/ledger/public-key/"))
    started = time.perf_counter()
    grow(APPENDS)
    watcher.append_seconds = time.perf_counter() - started
    new = sign_now()
    assert new is not None
    assert new.size >= old.size + APPENDS
    watcher.new = new
    watcher.save("new-checkpoint.txt", watcher.get("/api/v1/ledger/checkpoint/note/"))
    watcher.save("new.json", watcher.get(f"/api/v1/ledger/consistency/?from={old.size}"))
    return watcher


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    sentence = result.stderr.strip()
    assert sentence.startswith("INVALID: "), sentence
    assert "\n" not in sentence, sentence
    for word in words:
        assert word in sentence, sentence
    return sentence


def test_a_saved_checkpoint_is_proven_extended_across_1000_appends(monitor: Monitor):
    result = monitor.verify(monitor.work / "old-checkpoint.txt", monitor.work / "new.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"VALID: The log {settings.GLASSBOX['LEDGER_ORIGIN']} at tree size {monitor.new.size} (root "
        f"{bytes(monitor.new.root).hex()}) extends the saved checkpoint of size {monitor.old.size} (root "
        f"{bytes(monitor.old.root).hex()}): its first {monitor.old.size} entries are unchanged, both signed by the key."
    )
    served = json.loads((monitor.work / "new.json").read_text())
    assert served["checkpoint"] == monitor.new.note
    assert served["old_size"] == monitor.old.size
    assert len(served["consistency_proof"]) > 1
    print(f"{APPENDS} appends in {monitor.append_seconds:.2f} s")


def test_each_verified_file_can_be_the_next_saved_checkpoint(monitor: Monitor):
    # The JSON checkpoint form and the consistency file itself are accepted as OLD, so a monitor can chain.
    grow(3)
    newest = sign_now()
    assert newest is not None
    chained = monitor.save("next.json", monitor.get(f"/api/v1/ledger/consistency/?from={monitor.new.size}"))
    assert monitor.verify(monitor.work / "new.json", chained).returncode == 0
    form = monitor.save("old.json", json.dumps({"note": monitor.old.note, "size": monitor.old.size}))
    assert monitor.verify(form, monitor.work / "new.json").returncode == 0


def test_a_new_checkpoint_signed_by_another_key_is_refused(monitor: Monitor):
    served = json.loads((monitor.work / "new.json").read_text())
    origin = settings.GLASSBOX["LEDGER_ORIGIN"]
    served["checkpoint"] = sign_checkpoint(
        Ed25519PrivateKey.generate(), origin, origin, monitor.new.size, bytes(monitor.new.root)
    )
    forged = monitor.save("forged.json", json.dumps(served))
    refused(monitor.verify(monitor.work / "old-checkpoint.txt", forged), "new checkpoint is refused", "trusted key")


def test_a_proof_with_one_hash_changed_is_refused(monitor: Monitor):
    served = json.loads((monitor.work / "new.json").read_text())
    for position in range(len(served["consistency_proof"])):
        edited = json.loads(json.dumps(served))
        element = edited["consistency_proof"][position]
        edited["consistency_proof"][position] = ("0" if element[0] != "0" else "1") + element[1:]
        path = monitor.save(f"flipped-{position}.json", json.dumps(edited))
        refused(monitor.verify(monitor.work / "old-checkpoint.txt", path), "does not extend the saved checkpoint")


def test_a_saved_checkpoint_of_another_log_is_refused(monitor: Monitor):
    origin = settings.GLASSBOX["LEDGER_ORIGIN"]
    other = sign_checkpoint(signing_key(), origin, "other.example/log", monitor.old.size, bytes(monitor.old.root))
    old = monitor.save("other-log.txt", other)
    refused(monitor.verify(old, monitor.work / "new.json"), "saved checkpoint is refused", "'other.example/log'")


def test_swapped_sizes_are_refused(monitor: Monitor):
    # The older head as NEW (a proof ending at the saved size) against the newer head as the saved one.
    size = monitor.old.size
    older = monitor.save("older.json", monitor.get(f"/api/v1/ledger/consistency/?from={size}&to={size}"))
    refused(monitor.verify(monitor.work / "new-checkpoint.txt", older), "fewer than the", "swapped")


def test_a_fork_of_the_saved_size_signed_by_the_ledger_key_is_refused(monitor: Monitor):
    # A different tree of the same size (one leaf changed), signed with the ledger's own key: what a log that
    # rewrote its history and re-signed would show a monitor that saved the old head.
    leaves = [bytes(leaf) for leaf in LedgerEntry.objects.order_by("sequence").values_list("leaf_hash", flat=True)]
    leaves = leaves[: monitor.old.size]
    leaves[3] = standalone.leaf_hash(b'{"kind":"rewritten"}')
    forked_root = merkle.frontier_root(merkle.extend_frontier([], 0, leaves))
    origin = settings.GLASSBOX["LEDGER_ORIGIN"]
    forked = monitor.save("forked.txt", sign_checkpoint(signing_key(), origin, origin, monitor.old.size, forked_root))
    refused(monitor.verify(forked, monitor.work / "new.json"), "a fork")
    # The served old root edited to the fork's: the proof itself must still refuse it.
    served = json.loads((monitor.work / "new.json").read_text())
    served["old_root_hash"] = forked_root.hex()
    edited = monitor.save("edited-root.json", json.dumps(served))
    refused(monitor.verify(forked, edited), "does not extend the saved checkpoint")


def test_a_bundle_verifies_from_a_checkpoint_of_its_own_size_and_points_to_the_api_otherwise(monitor: Monitor):
    bundle = build_bundle(an_access(), subject_entries(an_access()))  # signs the current head
    path = monitor.save("bundle.json", bundle_bytes(bundle))
    same = monitor.save("same-size.txt", bundle["checkpoint"]["note"])
    assert monitor.verify(same, path).returncode == 0
    old = monitor.work / "old-checkpoint.txt"
    refused(monitor.verify(old, path), "no consistency proof", "/api/v1/ledger/consistency/")
    # A bundle is also accepted as the saved checkpoint.
    assert monitor.verify(path, path).returncode == 0
