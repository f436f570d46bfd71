"""The application works under the database role docs/operations.md grants, and that role cannot change
evidence: the production deployment as documented, not only the demo's superuser."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from tests.ledger.evidence import person
from tests.service.processes import OPERATIONS, ROOT, _environment

pytestmark = pytest.mark.django_db(transaction=True)
ROLE = "glassbox_app"
# Runs under the app role: a job from submission to ledgered run, the kill switch, a log-in and a page
# view, a checkpoint, verification; then the edits an insider with this role would try.
SCRIPT = """
from django.test import Client
from django.test.utils import setup_test_environment
from django.db import connection
from django.contrib.auth.models import User
from audit_app.models import Team
from audit_app.services.submission import submit_job
from audit_app.services.killswitch import suspend_inference, resume_inference
from audit_app.ledger.signer import sign_now, public_verifier_key
from audit_app.ledger.verify import verify_ledger
from tests.ledger.evidence import SHORT, run_job_inline

setup_test_environment()
user, team = User.objects.get(username="alice"), Team.objects.get(name="Litigation")
job = submit_job(user, team, "C-1", "legal", "Under the app role?", generation=SHORT)
run = run_job_inline(job)
job.refresh_from_db()
suspend_inference(user, "Drill")
resume_inference(user)
client = Client()
print("LOGIN", client.post("/login/", {"username": "alice", "password": "pw-alice-role"}).status_code)
print("PAGE", client.get(f"/jobs/{job.pk}/").status_code)
from audit_app.services.review import SignOffForm, SignOffRefused, sign_off
from audit_app.services.review_state import review_of
from audit_app.services.users import assign_reviewer, remove_assignment, set_active
rita = User.objects.get(username="rita")
assign_reviewer("operator test", rita, "Litigation", ["finance"])  # scope is kept by the app role too
remove_assignment("operator test", rita, "Litigation", ["finance"])
seen = review_of(job).version
try:
    sign_off(job.pk, rita, SignOffForm("approved", "", "wrong", run.record_sha256, seen))
except SignOffRefused as refused:
    print("SIGNING REFUSED", refused)
form = SignOffForm("rejected", "Misreads clause 4.", "pw-rita-role", run.record_sha256, seen, "Not binding.")
print("SIGNED", sign_off(job.pk, rita, form).meaning, review_of(job).state)
reviewer = Client()
reviewer.force_login(rita)
print("REVIEW PAGE", reviewer.get(f"/jobs/{job.pk}/review/").status_code)
set_active("operator test", User.objects.get(username="alice").pk, False)
set_active("operator test", User.objects.get(username="alice").pk, True)
sign_now()
print("VERIFIED", verify_ledger(public_verifier_key()).ok)
for statement in (f"UPDATE audit_app_runrecord SET answer = 'Forged' WHERE id = {run.pk}",
                  "ALTER TABLE audit_app_runrecord DISABLE TRIGGER ALL",
                  "DELETE FROM audit_app_ledgerentry"):
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
        print("ALLOWED", statement)
    except Exception as error:
        print("REFUSED", getattr(error.__cause__, "sqlstate", type(error).__name__))
"""


def documented_grants() -> str:
    section = OPERATIONS.read_text().split("Run the application under a database role", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block is not None, "docs/operations.md gives no SQL block for the application role"
    return block.group(1).replace("'…'", "'app-role-test'")


def drop_role() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")


@pytest.fixture
def app_role() -> Iterator[str]:
    drop_role()
    with connection.cursor() as cursor:
        cursor.execute(documented_grants())
    database = settings.DATABASES["default"]
    yield f"postgresql://{ROLE}:app-role-test@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    drop_role()


def test_the_app_runs_under_the_documented_role_which_cannot_change_evidence(app_role: str):
    from audit_app.models import Team
    from audit_app.services.users import assign_reviewer

    team = Team.objects.create(name="Litigation")
    alice = person("alice", "analyst", team)
    alice.set_password("pw-alice-role")
    alice.save()
    rita = person("rita", "reviewer")
    rita.set_password("pw-rita-role")
    rita.first_name, rita.last_name = "Rita", "Reviewer"
    rita.save()
    assign_reviewer("test setup", rita, team.name, ["legal"])
    environment = _environment() | {"DATABASE_URL": app_role, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "LOGIN 302" in lines
    assert "PAGE 200" in lines
    assert "VERIFIED True" in lines
    assert "SIGNING REFUSED The password is not correct; nothing was signed." in lines
    assert "SIGNED rejected rejected" in lines
    assert "REVIEW PAGE 200" in lines
    assert [line for line in lines if line.startswith(("REFUSED", "ALLOWED"))] == [
        "REFUSED 42501"
    ] * 3  # insufficient_privilege
