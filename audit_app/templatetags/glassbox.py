"""Template filters: Markdown from the model rendered to sanitized HTML."""

from __future__ import annotations

import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()
# "js-default": CommonMark with raw HTML off; nh3 then allow-lists what the HTML may contain.
_markdown = MarkdownIt("js-default").enable("table")


@register.filter
def markdown(text: str) -> SafeString:
    """Model output is untrusted: no raw HTML, no scripts, no event handlers, safe link schemes only."""
    return mark_safe(nh3.clean(_markdown.render(text or ""), link_rel="noopener noreferrer nofollow"))
