"""The web UI draws every script Magistral writes with real glyphs, and Arabic, Hebrew and Persian right to left.

A job whose question and documents hold the samples of ``tests/reports/scripts.py`` (test input, not model
output; the run itself is the tiny test model's) is opened in Debian's Chromium. For each element, the Chrome
DevTools Protocol's ``CSS.getPlatformFontsForNode`` names the fonts Chromium actually drew its text with; each
font is found on disk by its PostScript name (fontconfig) and its character map read with fontTools, so a
character none of those fonts maps would be a box. ``GLASSBOX_UPDATE_DOCS_IMAGES=1`` also writes
``docs/img/scripts/web-ui.png`` for a person to look at.
"""

from __future__ import annotations

import functools
import os
import subprocess
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from fontTools.ttLib import TTFont
from playwright.sync_api import Browser, CDPSession, Page

from audit_app.models import Job, Team
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.review import sign_off
from audit_app.services.submission import Upload, submit_job
from inference import GenerationSettings
from tests.factories import signoff_form
from tests.reports.scripts import MIXED, SAMPLES, Sample
from tests.service.screenshots import SAVED
from tests.service.test_analyst_rerun import engine
from tests.service.test_browser_analyst import log_in

pytestmark = pytest.mark.django_db(transaction=True)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img" / "scripts"
NO_FONT_HAS_IT = "\u0870"  # an Arabic letter (Unicode 14) that no installed font draws


def document_name(sample: Sample) -> str:
    word = sample.text.split()[0] if " " in sample.text else sample.text[:7]
    return f"{sample.lang}-{word.strip(',.')}.txt"


def job_in_every_script(user: User, team: Team) -> Job:
    """Submitted and run through the product's services, as a worker runs it."""
    job = submit_job(
        user,
        team,
        "SCRIPTS-1",
        "legal",
        "\n".join([*(s.text for s in SAMPLES), MIXED]),
        [Upload(document_name(s), s.text.encode()) for s in SAMPLES],
        GenerationSettings(thinking_budget=8, answer_budget=8, seed=42, temperature=0.3),
        "Script samples",
    )
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    assert record_run(job.pk, token, engine().generate(reasoning_request(claimed))) is not None
    return job


@functools.cache
def character_map(postscript_name: str) -> frozenset[int]:
    """The code points the installed font with this PostScript name maps to glyphs."""
    found = subprocess.run(
        ["fc-list", "-f", "%{file}|%{index}\n", f":postscriptname={postscript_name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found, f"Chromium drew with {postscript_name}, which fontconfig does not know"
    path, index = found[0].split("|")
    with TTFont(path, fontNumber=int(index), lazy=True) as font:
        return frozenset(font.getBestCmap())


class Fonts:
    """``CSS.getPlatformFontsForNode`` for the elements of one page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("DOM.enable")
        self.cdp.send("CSS.enable")
        self.root = self.cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]

    def used(self, selector: str) -> list[list[dict[str, Any]]]:
        """For each element matching ``selector``, the fonts that drew its own text."""
        nodes = self.cdp.send("DOM.querySelectorAll", {"nodeId": self.root, "selector": selector})["nodeIds"]
        return [self.cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"] for node in nodes]


def missing_glyphs(text: str, fonts: list[dict[str, Any]]) -> list[str]:
    """Sentences naming each character of ``text`` that none of the fonts Chromium drew it with has."""
    problems = [f"{f['familyName']} is a web font" for f in fonts if f["isCustomFont"]]
    covered = frozenset().union(*(character_map(f["postScriptName"]) for f in fonts))
    for char in sorted(set(text)):
        if char.isspace() or unicodedata.category(char) == "Cf":
            continue
        # HarfBuzz draws a precomposed letter the font lacks (Vietnamese U+1EA3 in DejaVu Sans Mono) from
        # its canonical parts, base letter and combining mark, when the font has those.
        if ord(char) not in covered and not {ord(c) for c in unicodedata.normalize("NFD", char)} <= covered:
            used = ", ".join(f["familyName"] for f in fonts)
            problems.append(f"U+{ord(char):04X} {char!r} is in none of the fonts it was drawn with ({used})")
    return problems


def families(fonts: list[dict[str, Any]]) -> set[str]:
    return {f["familyName"] for f in fonts}


def monospace_family(sample: Sample) -> str:
    """The family of the monospace stack (traces, documents) that draws ``sample``'s letters: DejaVu Sans Mono
    has its own Latin, Greek, Cyrillic, Arabic and Hebrew (joined, right to left), the rest come after it."""
    if sample.script in ("Latin", "Greek", "Cyrillic", "Arabic", "Hebrew"):
        return "DejaVu Sans Mono"
    return "Noto Sans Mono CJK SC" if "CJK" in sample.family else sample.family


def body_family(sample: Sample) -> str:
    """Untagged text (questions, names) gets the Simplified Chinese forms for Han, kana and Hangul alike."""
    return "Noto Sans CJK SC" if "CJK" in sample.family else sample.family


def test_every_script_on_the_job_page_is_drawn_by_a_font_that_has_its_glyphs(
    live_server, browser: Browser, analyst: User, team: Team, reviewer: User, settings
):
    settings.GLASSBOX = {**settings.GLASSBOX, "MAX_DOCUMENTS": len(SAMPLES)}
    job = job_in_every_script(analyst, team)
    arabic = next(s for s in SAMPLES if s.lang == "ar")  # a reviewer's conclusion, written by a person
    sign_off(job.pk, reviewer, signoff_form(Job.objects.get(pk=job.pk), conclusion=arabic.text))
    page = log_in(browser, live_server.url, "alice")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    # For the picture: every script in the question and the names, one right-to-left document open.
    page.evaluate(
        "document.querySelectorAll('details.document').forEach(d => { d.open = d.id === '' &&"
        " d.querySelector('summary').textContent.trim().startsWith('ar-'); })"
    )
    save(page)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    fonts = Fonts(page)

    [question] = fonts.used("dd[dir=auto]")
    question_text = "".join(s.text for s in SAMPLES) + MIXED
    assert missing_glyphs(question_text, question) == []
    assert {body_family(s) for s in SAMPLES} <= families(question)

    texts = page.locator(".document-text").all_text_contents()
    names = page.locator("summary span[dir=auto]").all_text_contents()
    by_text = {s.text: s for s in SAMPLES}
    for text, used, name, name_fonts, direction in zip(
        texts,
        fonts.used(".document-text"),
        names,
        fonts.used("summary span[dir=auto]"),
        page.locator(".document-text").evaluate_all("els => els.map(e => getComputedStyle(e).direction)"),
        strict=True,
    ):
        sample = by_text[text]
        assert missing_glyphs(text, used) == [], sample.lang
        assert monospace_family(sample) in families(used), (sample.lang, families(used))
        assert missing_glyphs(name, name_fonts) == [], sample.lang
        assert direction == ("rtl" if sample.rtl else "ltr"), sample.lang
    assert len(texts) == len(SAMPLES)

    [conclusion] = fonts.used(".reviewer-conclusion [dir=auto]")
    assert missing_glyphs(arabic.text, conclusion) == []
    assert page.locator(".reviewer-conclusion [dir=auto]").evaluate("e => getComputedStyle(e).direction") == "rtl"

    [trace] = fonts.used(".trace[dir=auto]:not(.document-text)")  # the tiny model's noise, whatever it holds
    assert missing_glyphs(page.locator(".trace:not(.document-text)").text_content() or "", trace) == []


def test_a_character_without_a_font_is_named(live_server, browser: Browser, analyst: User, team: Team):
    """The check can fail: a character no installed font has is drawn from a font that lacks it."""
    page = log_in(browser, live_server.url, "alice")
    page.evaluate(
        "text => { const p = document.createElement('p'); p.id = 'tofu'; p.textContent = text;"
        " document.querySelector('main, body').append(p); }",
        f"البند {NO_FONT_HAS_IT}",
    )
    [used] = Fonts(page).used("#tofu")
    problems = missing_glyphs(f"البند {NO_FONT_HAS_IT}", used)
    assert len(problems) == 1
    assert "U+0870" in problems[0]


def save(page: Page) -> None:
    """The question and documents card, always under var/screenshots/, into docs/img/ only when asked."""
    SAVED.mkdir(parents=True, exist_ok=True)
    path = SAVED / "web-ui-scripts.png"
    page.set_viewport_size({"width": 1100, "height": 900})
    page.locator(".card").first.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("GLASSBOX_UPDATE_DOCS_IMAGES") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        (IMAGES / "web-ui.png").write_bytes(path.read_bytes())
