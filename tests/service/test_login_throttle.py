"""Failed log-ins are throttled per user name and per address, in Redis, without the password being checked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse
from django.test import Client

from tests.people import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def throttle(settings) -> Iterator[str]:
    """Small limits, and a key prefix of this test's own in the real Redis, so no test sees another's counts."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    settings.GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.GLASSBOX_LOGIN_FAILURES_PER_ADDRESS = 5
    settings.GLASSBOX_LOGIN_LOCKOUT_SECONDS = 900
    return prefix


@pytest.fixture
def bob(db) -> User:
    return make_user("bob", "auditor", None)


def log_in(username: str, password: str, address: str = "10.0.0.1", **headers: str) -> HttpResponse:
    response: HttpResponse = Client(REMOTE_ADDR=address, headers=headers).post(
        "/login/", {"username": username, "password": password}
    )
    return response


def form_errors(response: HttpResponse) -> str:
    return " ".join(response.context["form"].non_field_errors())


def test_failures_per_account_lock_it_even_for_the_right_password(analyst: User):
    for _ in range(3):
        response = log_in("alice", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in form_errors(response)
    response = log_in("alice", "pw-alice")
    assert response.status_code == 429
    assert form_errors(response) == (
        "Too many failed log-ins for this user name. Try again in 15 minutes; the password was not checked."
    )
    assert "_auth_user_id" not in response.wsgi_request.session
    assert log_in("alice", "pw-alice", address="10.0.0.9").status_code == 429  # another address: same account


def test_a_refused_attempt_never_reaches_the_password_check(analyst: User):
    checked: list[str] = []

    def failed(sender: object, credentials: dict[str, str], **kwargs: object) -> None:
        checked.append(credentials["username"])

    user_login_failed.connect(failed)
    try:
        for _ in range(3):
            log_in("alice", "wrong")
        assert log_in("alice", "wrong").status_code == 429
    finally:
        user_login_failed.disconnect(failed)
    assert checked == ["alice"] * 3


def test_another_account_from_another_address_is_unaffected(analyst: User, bob: User):
    for _ in range(3):
        log_in("alice", "wrong")
    assert log_in("bob", "pw-bob", address="10.0.0.2").status_code == 302


def test_failures_per_address_count_across_accounts(analyst: User, bob: User):
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert log_in(name, "guess", address="10.0.0.3").status_code == 200
    response = log_in("bob", "pw-bob", address="10.0.0.3")
    assert response.status_code == 429
    assert "Too many failed log-ins for your address" in form_errors(response)
    assert log_in("bob", "pw-bob", address="10.0.0.4").status_code == 302


def test_a_successful_log_in_resets_the_accounts_count(analyst: User):
    for _ in range(2):
        log_in("alice", "wrong")
    assert log_in("alice", "pw-alice").status_code == 302
    for _ in range(2):
        log_in("alice", "wrong")
    assert log_in("alice", "pw-alice").status_code == 302


def test_the_lock_out_ends_after_its_time(analyst: User, settings):
    settings.GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT = 1
    settings.GLASSBOX_LOGIN_LOCKOUT_SECONDS = 2
    log_in("alice", "wrong")
    response = log_in("alice", "pw-alice")
    assert "Try again in 1 minute;" in form_errors(response)
    time.sleep(2.1)
    assert log_in("alice", "pw-alice").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_added(analyst: User, bob: User, settings):
    settings.GLASSBOX_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    for number in range(5):  # the client varies the part it controls; the proxy's entry stays the same
        log_in(f"u{number}", "guess", address="127.0.0.1", x_forwarded_for=f"192.0.2.{number}, 198.51.100.7")
    assert log_in("bob", "pw-bob", address="127.0.0.1", x_forwarded_for="198.51.100.7").status_code == 429
    assert log_in("bob", "pw-bob", address="127.0.0.1", x_forwarded_for="198.51.100.8").status_code == 302


def test_counts_live_in_redis_where_every_web_worker_sees_them(analyst: User, throttle: str, settings):
    log_in("alice", "wrong")
    keys = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).keys(f"{throttle}:*")
    assert len(keys) == 2  # one count for the user name, one for the address


def test_without_redis_log_in_is_refused_with_a_sentence_not_a_crash(analyst: User, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing there
    response = log_in("alice", "pw-alice")
    assert response.status_code == 503
    assert "its store of failed attempts (Redis) cannot be reached" in form_errors(response)
    assert "_auth_user_id" not in response.wsgi_request.session
