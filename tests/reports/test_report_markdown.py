"""The report's Markdown renderer: the web UI's inert rules, math as SVG, and no way for the model's text to
write the slots the SVGs go into."""

from __future__ import annotations

from audit_app.services.report_markdown import report_markdown


def test_formulas_become_svg_and_money_stays_text() -> None:
    html = report_markdown("Area $\\pi r^2$, costs $5 and $10.\n\n$$\\int_0^1 x\\,dx$$")
    assert html.count('<span class="math-inline"><svg') == 1
    assert html.count('<div class="math-block"><svg') == 1
    assert "costs $5 and $10." in html


def test_latex_the_typesetter_cannot_read_is_shown_as_written() -> None:
    assert '<code class="math-source">$\\frac{$</code>' in report_markdown("Broken $\\frac{$ here")


def test_the_models_text_cannot_write_a_math_slot_or_any_markup() -> None:
    html = report_markdown('<span class="math inline">0</span> and <div class="math block">0</div> $x$')
    assert html.count("<svg") == 1  # only the real formula
    assert '&lt;span class="math inline"&gt;0&lt;/span&gt;' in html


def test_links_images_and_control_characters_are_inert_and_legible() -> None:
    html = report_markdown("![x](http://127.0.0.1:9/a.png) [y](http://h/) \x1b[31m")
    assert "<img" not in html
    assert "<a" not in html
    assert "[image: x — http://127.0.0.1:9/a.png]" in html
    assert "␛[31m" in html
