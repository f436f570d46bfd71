"""Failed log-ins counted per user name and per client address, in the cache every web worker shares (Redis).

After ``GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT`` failures for one user name, or ``..._PER_ADDRESS`` failures from one
address (over any user names), within ``GLASSBOX_LOGIN_LOCKOUT_SECONDS``, further attempts are refused for that
many seconds without the password being checked, so guessing gains nothing while refused. A successful log-in
clears its user name's count, never its address's: one known password must not reset a guesser's budget.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class Refusal:
    """Why a log-in attempt is refused, and for how many more seconds."""

    scope: str
    seconds: int

    def sentence(self) -> str:
        minutes = math.ceil(self.seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        who = "this user name" if self.scope == ACCOUNT else "your address"
        return f"Too many failed log-ins for {who}. Try again in {wait}; the password was not checked."


def client_address(request: HttpRequest) -> str:
    """The client's address: the last entry of the proxy's header when one is configured, else the peer."""
    header = settings.GLASSBOX_CLIENT_ADDRESS_HEADER
    forwarded = request.META.get(header, "") if header else ""
    # The proxy appends the address it saw; entries before it are whatever the client chose to send.
    return forwarded.split(",")[-1].strip() or str(request.META.get("REMOTE_ADDR", ""))


def refusal(username: str, address: str) -> Refusal | None:
    """The longest lock-out currently holding for this user name or address, if any."""
    keys = {_key(ACCOUNT, username, "until"): ACCOUNT, _key(ADDRESS, address, "until"): ADDRESS}
    now = time.time()
    held = [(until - now, keys[key]) for key, until in cache.get_many(list(keys)).items() if until > now]
    if not held:
        return None
    seconds, scope = max(held)
    return Refusal(scope, math.ceil(seconds))


def record_failure(username: str, address: str) -> None:
    """Count one failed attempt for both; start a lock-out for each that reached its limit."""
    lockout = settings.GLASSBOX_LOGIN_LOCKOUT_SECONDS
    for scope, value, limit in (
        (ACCOUNT, username, settings.GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT),
        (ADDRESS, address, settings.GLASSBOX_LOGIN_FAILURES_PER_ADDRESS),
    ):
        count_key = _key(scope, value, "failures")
        cache.add(count_key, 0, lockout)  # the window starts at the first failure
        try:
            failures = cache.incr(count_key)  # atomic in Redis: parallel guesses are all counted
        except ValueError:  # the window ended between add and incr
            cache.set(count_key, failures := 1, lockout)
        if failures >= limit:
            cache.set(_key(scope, value, "until"), time.time() + lockout, lockout)
            cache.delete(count_key)


def record_success(username: str) -> None:
    cache.delete(_key(ACCOUNT, username, "failures"))


def _key(scope: str, value: str, kind: str) -> str:
    # User names are compared case-insensitively here so that "Alice" and "alice" share one budget.
    digest = hashlib.sha256(value.casefold().encode()).hexdigest()[:32]
    return f"login:{scope}:{digest}:{kind}"
