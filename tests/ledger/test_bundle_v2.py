"""Bundle format 2: every entry of a job under one signed checkpoint, verified offline by the standalone file.

The job here is submitted, started, stopped by the kill switch (its run records the cancel), viewed and
exported; another job's entries and a later resume must stay out. One changed byte in any entry makes the
bundle INVALID with a sentence; a format 1 bundle exported before format 2 still verifies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from audit_app.ledger import standalone
from audit_app.ledger.bundles import build_bundle, bundle_bytes, job_entries
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import AccessEvent, Job, KillSwitchEvent, RunRecord, Team
from audit_app.services.access_events import record_access
from audit_app.services.exports import export_job
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.submission import Upload, submit_job
from inference import Engine, GenerationSettings
from tests.ledger.evidence import person

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
STANDALONE = "import runpy, sys; sys.modules['django'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"  # noqa: E501
SHORT = GenerationSettings(thinking_budget=8, answer_budget=8)


def cancelled_by_kill_switch(job: Job, user) -> RunRecord:
    """The worker's path, in this process: claimed, then suspended mid-run, so the run records the cancel."""
    engine = Engine.load(settings.GLASSBOX["MODEL_PATH"], quantization="bf16")
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    suspend_inference(user, "Stop ✋ for the audit")
    asked = Job.objects.filter(pk=job.pk).values_list("cancel_requested", flat=True)
    result = engine.generate(reasoning_request(claimed), should_cancel=lambda: bool(asked.first()))
    run = record_run(job.pk, token, result)
    assert run is not None
    assert run.finish_reason == "cancelled"
    return run


@pytest.fixture
def job_bundle(tmp_path: Path) -> tuple[Path, Path, Job]:
    team = Team.objects.create(name="Équipe 東京")
    user = person("zoë", "analyst", team)
    other = submit_job(user, team, "C-2", "legal", "Another job's question?", generation=SHORT)
    # Odd but valid: astral characters, a lone combining mark, a name with a snowman, a Markdown document.
    uploads = [Upload("brief ☃.txt", "Ünïcödé, 東京, 🙂 \u0301.\n".encode()), Upload("b.md", b"# Two\n")]
    job = submit_job(user, team, "C-ß1", "legal", "Was ist \U0001d538? 🙂", uploads, SHORT)
    cancelled_by_kill_switch(job, user)
    resume_inference(user, "after the run: not this job's")
    record_access(user, AccessEvent.VIEW, f"job:{job.pk}")
    record_access(user, AccessEvent.VIEW, f"job:{other.pk}")
    data = export_job(job, None, "audrey (test)")
    (tmp_path / "bundle.json").write_bytes(data)
    (tmp_path / "glassbox.vkey").write_text(public_verifier_key())
    return tmp_path / "bundle.json", tmp_path / "glassbox.vkey", job


def run_standalone(bundle: Path, key: Path) -> subprocess.CompletedProcess[str]:
    script = Path(shutil.copy(standalone.__file__, bundle.parent / "standalone.py"))
    return subprocess.run(
        [sys.executable, "-I", "-c", STANDALONE, str(script), str(bundle), "--key", str(key)],
        capture_output=True,
        text=True,
        cwd=bundle.parent,
    )


def test_a_jobs_bundle_holds_all_its_entries_and_verifies_offline(job_bundle):
    bundle_file, key, job = job_bundle
    bundle = json.loads(bundle_file.read_bytes())
    assert bundle["format"] == "glassbox-evidence-bundle/2"
    assert bundle["subject"] == f"job:{job.pk}"
    kinds = [(e["payload"]["kind"], e["payload"]["record"].get("action")) for e in bundle["entries"]]
    # Submission, the suspension that stopped it, its cancelled run, the view, and the export itself;
    # not the other job's submission or view, not the resume that came after the run.
    assert kinds == [
        ("submission", None),
        ("kill_switch", "suspend"),
        ("run", None),
        ("access", "view"),
        ("access", "export"),
    ]
    export = bundle["entries"][-1]["payload"]["record"]
    assert export["actor_name"] == "audrey (test)"
    assert export["subject"] == f"job:{job.pk}"
    assert bundle["checkpoint"]["size"] == bundle["entries"][-1]["index"] + 1  # signed after the export
    done = run_standalone(bundle_file, key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"VALID: 5 entries of job:{job.pk} (1 submission, 2 kill_switch, 3 run, 5 access,")


def entry_spans(raw: bytes) -> list[tuple[int, int]]:
    """Byte ranges of each entry object inside the canonical file (entries hold no brackets outside strings)."""
    start = raw.index(b'"entries":[') + len(b'"entries":[')
    spans, depth, in_string, escaped, begin = [], 0, False, False, start
    for position in range(start, len(raw)):
        char = raw[position : position + 1]
        if in_string:
            escaped, in_string = (not escaped and char == b"\\"), (in_string if escaped or char != b'"' else False)
            continue
        if char == b'"':
            in_string = True
        elif char == b"{":
            depth, begin = depth + 1, position if depth == 0 else begin
        elif char == b"}":
            depth -= 1
            if depth == 0:
                spans.append((begin, position + 1))
        elif char == b"]" and depth == 0:
            return spans
    raise AssertionError("no end of entries")


def test_one_changed_byte_in_any_entry_is_invalid_with_a_sentence(job_bundle, capsys):
    bundle_file, key, _ = job_bundle
    original = bundle_file.read_bytes()
    spans = entry_spans(original)
    assert len(spans) == 5
    checked = 0
    for begin, end in spans:
        for position in range(begin, end, max(1, (end - begin) // 40)):
            altered = bytearray(original)
            altered[position] ^= 0x04
            bundle_file.write_bytes(bytes(altered))
            assert standalone.main([str(bundle_file), "--key", str(key)]) == 1, f"byte {position} changed, still valid"
            error = capsys.readouterr().err
            assert error.startswith("INVALID: "), error
            assert error.count("\n") == 1, error
            checked += 1
    assert checked > 150


def test_an_entry_of_another_job_or_a_repeated_entry_is_refused(job_bundle):
    bundle_file, key, job = job_bundle
    bundle = json.loads(bundle_file.read_bytes())
    other = Job.objects.exclude(pk=job.pk).get()
    # Both under the same signed checkpoint, so every proof is valid: only the binding to the job differs.
    foreign = build_bundle(f"job:{other.pk}", job_entries(other))
    assert foreign["checkpoint"] == bundle["checkpoint"]
    key_text = key.read_text()
    spliced = bundle | {"entries": sorted([*bundle["entries"], foreign["entries"][0]], key=lambda e: e["index"])}
    with pytest.raises(standalone.VerificationError, match=f"is not about job:{job.pk}"):
        standalone.verify_bundle(spliced, key_text)
    repeated = bundle | {"entries": [bundle["entries"][0], *bundle["entries"]]}
    with pytest.raises(standalone.VerificationError, match="appears twice"):
        standalone.verify_bundle(repeated, key_text)
    no_submission = bundle | {"entries": bundle["entries"][1:]}
    with pytest.raises(standalone.VerificationError, match="exactly one submission"):
        standalone.verify_bundle(no_submission, key_text)
    assert standalone.verify_bundle(bundle, key_text).startswith("5 entries")


def test_a_format_1_bundle_still_verifies_and_its_tampering_is_caught(tmp_path: Path):
    # Exported by the format 1 exporter (wt-house) and kept as it was written.
    key = Path(shutil.copy(FIXTURES / "bundle_v1.vkey", tmp_path))  # never write beside the tracked fixture
    done = run_standalone(Path(shutil.copy(FIXTURES / "bundle_v1.json", tmp_path)), key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VALID: Entry 2 (submission) is in glassbox.test/ledger at tree size 3")
    altered = (FIXTURES / "bundle_v1.json").read_bytes().replace(b"Question 2?", b"Question 3?")
    (tmp_path / "v1.json").write_bytes(altered)  # beside the copied key and script
    done = run_standalone(tmp_path / "v1.json", key)
    assert done.returncode == 1
    assert done.stderr == "INVALID: Entry 2's payload does not hash to its stated leaf hash.\n"


def test_export_bundle_writes_format_2_for_every_kind_of_reference(job_bundle, tmp_path: Path):
    _, _, job = job_bundle
    run = RunRecord.objects.get(job=job)
    for reference in (f"job:{job.pk}", f"submission:{job.submission_id}", f"run:{run.pk}"):
        call_command("export_bundle", reference, out=tmp_path / "b.json", by="audrey")
        bundle = json.loads((tmp_path / "b.json").read_bytes())
        assert bundle["subject"] == f"job:{job.pk}", reference
        assert bundle["entries"][-1]["payload"]["record"]["actor_name"] == "audrey (command line)"
        assert standalone.verify_bundle(bundle, public_verifier_key())
    suspend = f"kill_switch:{KillSwitchEvent.objects.get(action='suspend').pk}"
    call_command("export_bundle", suspend, out=tmp_path / "k.json", by="audrey")
    bundle = json.loads((tmp_path / "k.json").read_bytes())
    assert next(e["payload"]["subject"] for e in bundle["entries"]) == suspend
    assert standalone.verify_bundle(bundle, public_verifier_key()).startswith(f"2 entries of {suspend}")


@pytest.mark.parametrize("reference", ["job:99999", "job:x", "no-such:1"])
def test_export_of_an_unknown_reference_says_so_and_stores_nothing(db, reference, tmp_path: Path):
    before = AccessEvent.objects.count()
    with pytest.raises(CommandError) as error:
        call_command("export_bundle", reference, out=tmp_path / "b.json", by="audrey")
    assert error.value.returncode == 2
    assert "No " in str(error.value)
    assert AccessEvent.objects.count() == before
    assert not (tmp_path / "b.json").exists()


def test_bundle_bytes_are_canonical(job_bundle):
    bundle_file, _, _ = job_bundle
    raw = bundle_file.read_bytes()
    assert bundle_bytes(json.loads(raw)) == raw
