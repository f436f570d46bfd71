"""An export that cannot be completed says why and leaves no export event behind."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from audit_app.models import AccessEvent, LedgerEntry, Team
from audit_app.services.submission import submit_job

pytestmark = pytest.mark.django_db


def test_export_without_a_signing_key_fails_with_a_sentence_and_stores_nothing(settings, tmp_path):
    user = User.objects.create_user("alice")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    team = Team.objects.create(name="T")
    team.members.add(user)
    job = submit_job(user, team, "C-1", "legal", "Question?")
    entries = LedgerEntry.objects.count()
    with (
        override_settings(GLASSBOX=settings.GLASSBOX | {"LEDGER_KEY": ""}),
        pytest.raises(CommandError, match="No ledger signing key") as error,
    ):
        call_command("export_bundle", f"submission:{job.submission_id}", out=tmp_path / "b.json", by="audrey")
    assert error.value.returncode == 2
    assert not AccessEvent.objects.exists()
    assert LedgerEntry.objects.count() == entries
    assert not (tmp_path / "b.json").exists()
