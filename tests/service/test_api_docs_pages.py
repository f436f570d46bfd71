"""Swagger UI and Redoc render the contract in Debian's Chromium from this server alone (air-gapped): every
request that leaves the browser goes to this server (Redoc's remote logo is refused by the policy), no script
is refused by the Content-Security-Policy, and the operations show."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from tests.service.test_browser_csp import Watched

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("path", "shown"), [("/api/v1/docs/", ".opblock"), ("/api/v1/redoc/", "h1")])
def test_api_reference_pages_render_offline(live_server, browser: Browser, path: str, shown: str) -> None:  # type: ignore[no-untyped-def]
    watched = Watched(browser.new_page())
    answered: list[str] = []  # requests that left the browser; a CSP-blocked one never gets a response
    watched.page.on("response", lambda response: answered.append(response.url))
    watched.page.goto(f"{live_server.url}{path}")
    watched.page.wait_for_selector(shown, timeout=15_000)
    assert "Glassbox API" in watched.page.content()
    hosts = {urlsplit(url).netloc for url in answered if url.startswith("http")}
    assert hosts == {urlsplit(live_server.url).netloc}, (answered, watched.console)
    refused_scripts = [t for t in watched.csp_violations() if "script" in t.lower() or "page error" in t]
    assert not refused_scripts, refused_scripts
