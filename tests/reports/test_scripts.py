"""Every script Magistral writes is drawn in the report with real glyphs from the family fonts.css names for it.

Each page is test input (``tests/reports/scripts.py``), marked TEST MODEL, rendered by the report's own
``archival_pdf`` with the report's ``fonts.css``; ``pdf_glyphs`` reads back which glyph of which embedded font
draws each character. ``GLASSBOX_UPDATE_DOCS_IMAGES=1`` also writes each page's top as
``docs/img/scripts/report-<lang>.png`` (pdftoppm) for a person to look at.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import os
import re
import subprocess
from pathlib import Path

import pytest

from audit_app.services.report_pdf import archival_pdf
from tests.reports.pdf_glyphs import drawn_by, families_for, tofu
from tests.reports.scripts import MIXED, SAMPLES, Sample

ROOT = Path(__file__).resolve().parents[2]
REPORT_TEMPLATES = ROOT / "templates" / "report"
IMAGES = ROOT / "docs" / "img" / "scripts"
EXPORTED_AT = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
NO_FONT_HAS_IT = "\u0870"  # ARABIC LETTER ALEF WITH ATTACHED FATHA (Unicode 14): in no installed font


def page(title: str, body: str, *, fonts: bool = True) -> str:
    link = '<link rel="stylesheet" href="fonts.css">' if fonts else ""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{link}
<style>@page {{ size: A4; margin: 15mm }} body {{ font-size: 11pt }} .sample {{ font-size: 15pt }}
.note {{ font-size: 8pt; color: #555 }} .record-hash {{ font-size: 8pt; white-space: nowrap }}</style>
<title>{html.escape(title)}</title></head><body>
<p class="note">TEST MODEL · script sample written for the font test, not model output</p>
{body}</body></html>"""


def render(document: str) -> bytes:
    record = hashlib.sha256(document.encode()).hexdigest()
    return archival_pdf(
        document,
        base_url=f"{REPORT_TEMPLATES}/",
        bundle=b"{}",
        record_sha256=record,
        test_model=True,
        exported_at=EXPORTED_AT,
    )


def sample_page(sample: Sample) -> str:
    mixed = f'<p dir="auto">{html.escape(MIXED)}</p>' if sample.rtl else ""
    record = hashlib.sha256(sample.text.encode()).hexdigest()
    return page(
        f"Scripts: {sample.name}",
        f"<h1>{html.escape(sample.name)} ({sample.lang}), {html.escape(sample.script)} script</h1>"
        f'<p class="sample" lang="{sample.lang}" dir="auto">{html.escape(sample.text)}</p>{mixed}'
        f'<p class="record-hash">Record hash: {record}</p>',
    )


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.lang for s in SAMPLES])
def test_each_script_is_drawn_with_real_glyphs_from_its_own_family(sample: Sample) -> None:
    pdf = render(sample_page(sample))
    assert tofu(pdf, sample.text + MIXED * sample.rtl) == []
    # The family fonts.css names for the script draws its letters (for Han: the regional one its lang picks);
    # on a page of the sample alone, since the record hash's letters come from the monospace family.
    alone = page(sample.name, f'<p lang="{sample.lang}" dir="auto">{html.escape(sample.text)}</p>')
    assert families_for(render(alone), sample.text) == {sample.family}
    if os.environ.get("GLASSBOX_UPDATE_DOCS_IMAGES") == "1":
        save_png(pdf, f"report-{sample.lang}")


def test_hashes_are_drawn_in_the_monospace_family() -> None:
    record = "0123456789abcdef" * 4
    pdf = render(page("Hash", f'<p class="record-hash">Record hash: {record}</p>'))
    assert tofu(pdf, record) == []
    assert f"Record hash: {record}" in drawn_by(pdf, "DejaVu Sans Mono")


def test_a_character_no_installed_font_has_is_named_as_tofu() -> None:
    # The check must be able to fail: U+0870 is an Arabic letter none of the installed fonts draw, so
    # WeasyPrint can only show .notdef for it.
    text = f"البند {NO_FONT_HAS_IT} 12"
    pdf = render(page("Tofu", f'<p dir="auto">{text}</p>'))
    problems = tofu(pdf, text)
    assert problems, "a character without any font must be reported"
    assert any("U+0870" in p for p in problems), problems
    # Its glyph is .notdef (id 0) of whichever font Pango fell back to: the glyph check alone catches it.
    assert [p for p in tofu(pdf, "") if f"draws {NO_FONT_HAS_IT!r} with glyph 0," in p], problems


def test_without_the_font_stack_japanese_is_not_drawn_in_its_own_glyph_forms() -> None:
    # Without fonts.css (the base's placeholder), fontconfig alone picks the fonts: still glyphs, but not the
    # family the stack names, which the test above would catch.
    japanese = next(s for s in SAMPLES if s.lang == "ja")
    body = f'<p class="sample" lang="ja">{japanese.text}</p>'
    assert families_for(render(page("No stack", body, fonts=False)), japanese.text) != {"Noto Sans CJK JP"}
    assert families_for(render(page("Stack", body)), japanese.text) == {"Noto Sans CJK JP"}


def test_a_right_to_left_paragraph_starts_at_the_right_margin() -> None:
    pdf = render(page("Direction", '<p dir="auto">البند 12.</p><p dir="auto">Clause 12.</p>'))
    words = bounding_boxes(pdf)
    arabic = [x for word, x in words if any("\u0600" <= c <= "\u06ff" for c in word)]  # in visual order
    latin = [x for word, x in words if word == "Clause"]
    page_width = 595.28
    assert arabic, words
    assert arabic[0] > page_width / 2, words  # right-aligned: dir="auto" resolved to rtl
    assert latin, words
    assert latin[0] < page_width / 4, words


def bounding_boxes(pdf: bytes) -> list[tuple[str, float]]:
    """(word, xMin) of each word pdftotext finds."""
    out = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    rows = []
    for line in out.decode().splitlines():
        if line.strip().startswith("<word "):
            x = float(line.split('xMin="')[1].split('"')[0])
            rows.append((html.unescape(line.split(">", 1)[1].rsplit("<", 1)[0]), x))
    return rows


def save_png(pdf: bytes, name: str) -> None:
    """The page's top (where the sample is) at 72 dpi, small enough to keep in git."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page_top = ["-f", "1", "-l", "1", "-singlefile", "-x", "0", "-y", "0", "-W", "595", "-H", "230"]
    subprocess.run(["pdftoppm", "-png", "-r", "72", *page_top, "-", str(IMAGES / name)], input=pdf, check=True)


def font_stacks(css: str) -> list[str]:
    """Each font-family value in ``css``, whitespace normalised, in order."""
    without_comments = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [" ".join(value.split()) for value in re.findall(r"font-family:\s*([^;}]+)", without_comments)]


def test_the_site_and_the_report_name_the_same_font_stacks() -> None:
    site = ROOT / "audit_app" / "static" / "glassbox" / "scripts.css"
    report = font_stacks((REPORT_TEMPLATES / "fonts.css").read_text())
    assert len(report) == 6  # body, ja, ko, zh-Hant, zh-HK, monospace
    assert font_stacks(site.read_text()) == report
