"""``dir="auto"`` for WeasyPrint: the direction a browser would give each such element, written in before layout.

Browsers resolve ``dir="auto"`` from the element's first strong character (HTML's "auto directionality",
UAX #9 rules P2-P3); WeasyPrint ignores both ``dir="auto"`` and ``unicode-bidi: plaintext``, so an Arabic,
Hebrew or Persian paragraph would be laid out left to right (start-aligned on the left, its final full stop at
the wrong end). Templates therefore mark text of unknown language ``dir="auto"`` once, for the web UI and the
report alike, and ``resolve_auto_direction`` turns each mark into ``ltr`` or ``rtl`` in the parsed tree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

# Text inside these never decides the direction of its ancestor (HTML: bdi, script, style, textarea).
_SKIPPED = frozenset({"bdi", "script", "style", "textarea"})


def first_strong_direction(text: str) -> str | None:
    """``"ltr"`` or ``"rtl"`` from the first strong character of ``text``; ``None`` when it has none."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


def resolve_auto_direction(root: Any) -> None:
    """Replace every ``dir="auto"`` under ``root`` (an ElementTree element) with the direction it resolves to.

    An element without a strong character loses the attribute and so inherits its parent's direction, which
    is what a browser shows for it.
    """
    for element in root.iter():
        if isinstance(element.tag, str) and (element.get("dir") or "").lower() == "auto":
            direction = first_strong_direction("".join(_deciding_text(element, top=True)))
            if direction is None:
                del element.attrib["dir"]
            else:
                element.set("dir", direction)


def _deciding_text(element: Any, *, top: bool) -> Iterator[str]:
    """The text that decides ``element``'s direction: its own, minus descendants that have a direction of
    their own (a ``dir`` attribute) or never count (``_SKIPPED``)."""
    if not top and (element.get("dir") is not None or _local_name(element.tag) in _SKIPPED):
        yield element.tail or ""
        return
    yield element.text or ""
    for child in element:
        if isinstance(child.tag, str):
            yield from _deciding_text(child, top=False)
        else:  # a comment: only its tail is text
            yield child.tail or ""
    if not top:
        yield element.tail or ""


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()
