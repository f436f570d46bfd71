"""An exported bundle verifies with the standalone verifier alone; one changed byte makes it fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from audit_app.ledger import standalone
from audit_app.ledger.signer import public_verifier_key, sign_now
from audit_app.models import Team
from audit_app.services.submission import submit_job

pytestmark = pytest.mark.django_db
# Run the verifier file on its own, with Django made unimportable, as an outside auditor would.
STANDALONE = "import runpy, sys; sys.modules['django'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"  # noqa: E501


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path, Path]:
    user = User.objects.create_user("alice")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    team = Team.objects.create(name="T")
    team.members.add(user)
    for number in range(5):
        job = submit_job(user, team, "C-1", "legal", f"Question {number}?")
        if number == 3:
            sign_now()  # an older checkpoint exists: the bundle must still use the current head
    call_command("export_bundle", f"submission:{job.submission_id}", out=tmp_path / "bundle.json", by="audrey")
    (tmp_path / "glassbox.vkey").write_text(public_verifier_key())
    script = Path(shutil.copy(standalone.__file__, tmp_path / "standalone.py"))
    return tmp_path / "bundle.json", tmp_path / "glassbox.vkey", script


def run_standalone(script: Path, bundle: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", STANDALONE, str(script), str(bundle), "--key", str(key)],
        capture_output=True,
        text=True,
        cwd=script.parent,
    )


def test_standalone_verifier_accepts_the_bundle(exported):
    bundle, key, script = exported
    done = run_standalone(script, bundle, key)
    assert done.returncode == 0, done.stderr
    # Size 6: the export itself was ledgered (entry 5) before the checkpoint was signed.
    assert done.stdout.startswith("VALID: 2 entries of job:")
    assert "(4 submission, 5 access) are in glassbox.test/ledger at tree size 6" in done.stdout


def test_one_changed_byte_makes_it_fail_with_a_sentence(exported):
    bundle, key, script = exported
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data))
    done = run_standalone(script, bundle, key)
    assert done.returncode == 1
    assert done.stderr.startswith("INVALID: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_every_sampled_byte_position_matters(exported, capsys):
    bundle, key, _ = exported
    original = bundle.read_bytes()
    for position in range(0, len(original), max(1, len(original) // 150)):
        altered = bytearray(original)
        altered[position] ^= 0x04
        bundle.write_bytes(bytes(altered))
        assert standalone.main([str(bundle), "--key", str(key)]) == 1, f"byte {position} changed, still valid"
    capsys.readouterr()


def test_a_key_other_than_the_ledgers_is_refused(exported, tmp_path: Path):
    from audit_app.ledger.signed_note import generate_key_file, verifier_key

    bundle, _, script = exported
    other = tmp_path / "other.vkey"
    other.write_text(verifier_key(generate_key_file(tmp_path / "other.key"), "glassbox.test/ledger"))
    done = run_standalone(script, bundle, other)
    assert done.returncode == 1
    assert "than the one you trust" in done.stderr
