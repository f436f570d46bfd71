"""``Idempotency-Key`` on POST /api/v1/jobs/: the same key and body give the same job for 24 hours, another
body a 409, each API key its own namespace, bad headers a 400; concurrent retries make one job; beat prunes."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit_app.models import IdempotentRequest, Job, Submission, Team
from audit_app.services.api_keys import create_key
from audit_app.services.idempotency import prune
from audit_app.tasks import prune_idempotency_keys

BODY = {"domain": "legal", "question": "Is clause 4 enforceable?", "case_reference": "M-1"}


def post(client: Client, secret: str, idempotency_key: str, **body: object) -> object:
    return client.post(
        "/api/v1/jobs/",
        BODY | body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )


@pytest.fixture
def key(team: Team) -> str:
    return create_key("Matter system", team, "read submit", None, "test setup").secret


@pytest.mark.django_db
def test_same_key_and_body_return_the_same_job(client: Client, key: str) -> None:
    first = post(client, key, "order-17")
    assert first.status_code == 201  # type: ignore[attr-defined]
    # The same JSON values in another key order and spacing are the same body.
    again = client.post(
        "/api/v1/jobs/",
        '{"case_reference": "M-1",  "question": "Is clause 4 enforceable?", "domain": "legal"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="order-17",
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]  # type: ignore[attr-defined]
    assert Job.objects.count() == 1
    assert Submission.objects.count() == 1
    assert post(client, key, "order-18").status_code == 201  # type: ignore[attr-defined]
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_same_key_with_another_body_is_a_409(client: Client, key: str) -> None:
    assert post(client, key, "order-17").status_code == 201  # type: ignore[attr-defined]
    conflict = post(client, key, "order-17", question="Is clause 5 enforceable?")
    assert conflict.status_code == 409  # type: ignore[attr-defined]
    assert conflict["Content-Type"] == "application/problem+json"  # type: ignore[index]
    assert "with a different body; use a new key" in conflict.json()["detail"]  # type: ignore[attr-defined]
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_different_api_keys_are_independent(client: Client, key: str, team: Team) -> None:
    other = create_key("Second system", team, "read submit", None, "t").secret
    mine = post(client, key, "order-17").json()["id"]  # type: ignore[attr-defined]
    theirs = post(client, other, "order-17", question="Another question?")
    assert theirs.status_code == 201  # type: ignore[attr-defined]
    assert theirs.json()["id"] != mine  # type: ignore[attr-defined]
    assert IdempotentRequest.objects.filter(idempotency_key="order-17").count() == 2


@pytest.mark.django_db
def test_a_key_older_than_24_hours_is_forgotten(client: Client, key: str) -> None:
    first = post(client, key, "order-17").json()["id"]  # type: ignore[attr-defined]
    IdempotentRequest.objects.update(created_at=timezone.now() - datetime.timedelta(hours=24, seconds=1))
    fresh = post(client, key, "order-17", question="A new question a day later?")
    assert fresh.status_code == 201  # type: ignore[attr-defined]
    assert fresh.json()["id"] != first  # type: ignore[attr-defined]
    assert IdempotentRequest.objects.get().job_id == fresh.json()["id"]  # type: ignore[attr-defined]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["x" * 256, "commande-n°17", "tab\there", ""], ids=["too long", "non-ASCII", "control", "empty"]
)
def test_a_bad_header_is_a_400_and_stores_nothing(client: Client, key: str, header: str) -> None:
    response = post(client, key, header)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/problem+json"  # type: ignore[index]
    assert "1 to 255 printable ASCII characters" in response.json()["detail"]  # type: ignore[attr-defined]
    assert not Job.objects.exists()
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db
def test_prune_forgets_only_records_older_than_24_hours(client: Client, key: str) -> None:
    for name in ("old", "young"):
        post(client, key, name, case_reference=name)
    now = timezone.now()
    IdempotentRequest.objects.filter(idempotency_key="old").update(created_at=now - datetime.timedelta(hours=25))
    IdempotentRequest.objects.filter(idempotency_key="young").update(created_at=now - datetime.timedelta(hours=23))
    assert prune() == 1
    assert list(IdempotentRequest.objects.values_list("idempotency_key", flat=True)) == ["young"]
    assert Job.objects.count() == 2  # the jobs stay; only the memory of the key goes
    assert prune(now + datetime.timedelta(hours=2)) == 1
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db
def test_the_prune_task_is_scheduled_hourly_and_prunes(client: Client, key: str) -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["prune-idempotency-keys"]
    assert schedule["task"] == prune_idempotency_keys.name == "glassbox.prune_idempotency_keys"
    assert schedule["schedule"] <= 3600
    post(client, key, "old")
    IdempotentRequest.objects.update(created_at=timezone.now() - datetime.timedelta(days=2))
    assert prune_idempotency_keys.apply().get() == 1
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_make_one_job(key: str) -> None:
    # One submission first, so the racers do not also race to import and load the tokenizer.
    warm_up = post(Client(), key, "warm-up").json()["id"]  # type: ignore[attr-defined]
    barrier = threading.Barrier(4)
    answers: list[tuple[int, int]] = []
    errors: list[Exception] = []

    def racer() -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            response = post(client, key, "order-17")
            answers.append((response.status_code, response.json()["id"]))  # type: ignore[attr-defined]
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(status for status, _ in answers) == [200, 200, 200, 201]
    assert len({job_id for _, job_id in answers}) == 1
    assert warm_up not in {job_id for _, job_id in answers}
    assert Job.objects.count() == 2
    assert IdempotentRequest.objects.filter(idempotency_key="order-17").count() == 1
