"""The model's Markdown as inert HTML for the audit report, with ``$…$`` and ``$$…$$`` math typeset as SVG.

The parser is the web UI's (``templatetags/glassbox.py``): raw HTML off, links and images shown as text, so
nothing in the model's text can make the PDF renderer fetch anything. Math is parsed by mdit-py-plugins'
dollarmath and typeset by ziamath into vector paths, with no TeX installation. The HTML is cleaned with
the web UI's allow-list first; each formula's SVG is put in after cleaning, into a slot only this module
writes (raw HTML is off, so the model's text cannot write one), because SVG is not in that allow-list.
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3
import ziamath
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from audit_app.templatetags.glassbox import ALLOWED_ATTRIBUTES, ALLOWED_CLASSES, ALLOWED_TAGS, inert_markdown

MATH_CLASSES = {"span": {"math", "inline"}, "div": {"math", "block"}}
_SLOT = re.compile(r"<(span|div) class=\"math (?:inline|block)\">\s*(\d+)\s*</\1>")
# C0 controls other than tab and newline are shown as their Unicode control pictures: legible, and a
# random test model writes them.
_CONTROLS = {code: 0x2400 + code for code in range(32) if chr(code) not in "\t\n\r"} | {0x7F: 0x2421}
INLINE_SIZE, DISPLAY_SIZE = 13, 15  # ziamath sizes in px, beside 10pt body text


def _parser(formulas: list[tuple[str, bool]]) -> MarkdownIt:
    def slot(content: str, options: dict[str, Any]) -> str:
        formulas.append((content, bool(options.get("display_mode"))))
        return str(len(formulas) - 1)

    parser = inert_markdown()
    # No digits beside a dollar: "$5 and $10" is money, not math. No labels: they would render as links.
    parser.use(dollarmath_plugin, allow_labels=False, allow_digits=False, renderer=slot)
    return parser


def legible(text: str) -> str:
    return text.translate(_CONTROLS)


def report_markdown(text: str) -> str:
    """``text`` (untrusted) as HTML that fetches nothing; each formula as inline SVG, or as its source if the
    typesetter cannot read it."""
    formulas: list[tuple[str, bool]] = []
    rendered = _parser(formulas).render(legible(text or ""))
    cleaned = nh3.clean(
        rendered,
        tags=ALLOWED_TAGS | {"div"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={**ALLOWED_CLASSES, "span": ALLOWED_CLASSES["span"] | MATH_CLASSES["span"]}
        | {"div": MATH_CLASSES["div"]},
        url_schemes=set(),
        link_rel=None,
    )
    return _SLOT.sub(lambda match: _typeset(int(match.group(2)), *formulas[int(match.group(2))]), cleaned)


def _typeset(number: int, source: str, display: bool) -> str:
    try:
        svg = ziamath.Latex(source, size=DISPLAY_SIZE if display else INLINE_SIZE, inline=not display).svg()
    except Exception:
        svg = ""
    if not svg.startswith("<svg") or "http" in svg.replace("http://www.w3.org/", ""):
        quoted = html.escape(f"$${source}$$" if display else f"${source}$")
        return f'<code class="math-source">{quoted}</code>'
    # Each formula's glyph ids made unique in the page: the PDF's anchors are ids, and a repeated one is an error.
    svg = svg.replace(' id="', f' id="math{number}-').replace('href="#', f'href="#math{number}-')
    tag = "div" if display else "span"
    return f'<{tag} class="math-{"block" if display else "inline"}">{svg}</{tag}>'
