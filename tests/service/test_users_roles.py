"""The roles table as the code enforces it: an auditor reads every team's jobs but changes none of them,
even when they are also an analyst of another team."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from audit_app.models import Job, Team
from audit_app.services.pipeline import claim_job
from tests.factories import JobFactory
from tests.people import make_user

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def running(analyst: User) -> Job:
    job: Job = JobFactory(submitter=analyst)
    claim_job(job.pk, uuid.uuid4())
    return job


def test_an_auditor_cannot_cancel_rerun_or_submit(running: Job, team: Team):
    auditor = make_user("audrey", "auditor", None)
    client = client_for(auditor)
    assert client.get(reverse("job-detail", args=[running.pk])).status_code == 200  # reads across teams
    assert client.post(reverse("job-cancel", args=[running.pk])).status_code == 403
    assert client.post(reverse("job-rerun", args=[running.pk])).status_code == 403
    assert client.get(reverse("job-submit")).status_code == 403
    assert not Job.objects.get(pk=running.pk).cancel_requested
    assert Job.objects.count() == 1


def test_an_auditor_who_is_also_an_analyst_of_another_team_cannot_cancel_this_teams_job(running: Job, other_team: Team):
    auditor = make_user("audrey", "auditor", other_team)
    auditor.groups.add(Group.objects.get_or_create(name="analyst")[0])
    client = client_for(auditor)
    response = client.post(reverse("job-cancel", args=[running.pk]))
    assert response.status_code == 403
    assert "only their own team" in response.content.decode()
    assert not Job.objects.get(pk=running.pk).cancel_requested
    assert client.post(reverse("job-rerun", args=[running.pk])).status_code == 403
    assert Job.objects.count() == 1


def test_the_teams_own_analyst_still_cancels(running: Job, analyst: User):
    assert client_for(analyst).post(reverse("job-cancel", args=[running.pk])).status_code == 302
    assert Job.objects.get(pk=running.pk).cancel_requested
