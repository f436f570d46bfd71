"""dir="auto" resolved as a browser would, for WeasyPrint, which ignores it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit_app.services.text_direction import first_strong_direction, resolve_auto_direction


def test_the_first_strong_character_decides() -> None:
    assert first_strong_direction("12. البند") == "rtl"  # digits and punctuation are weak
    assert first_strong_direction("«Clause» البند") == "ltr"
    assert first_strong_direction("שלום") == "rtl"
    assert first_strong_direction("مستأجر") == "rtl"
    assert first_strong_direction("12 — …") is None


def test_auto_resolves_from_own_text_skipping_children_with_their_own_direction() -> None:
    root = ET.fromstring(
        '<div><p dir="auto"><span dir="ltr">Clause 12</span> البند</p>'
        '<p dir="AUTO"><script>var a</script>12 <b>שלום</b> world</p>'
        '<p dir="auto">12 — 13</p><p dir="auto">Hello <span dir="auto">مرحبا</span></p></div>'
    )
    resolve_auto_direction(root)
    first, second, third, fourth = root.findall("p")
    assert first.get("dir") == "rtl"  # the ltr span has a direction of its own and does not count
    assert second.get("dir") == "rtl"  # the script's text never counts; the bold Hebrew does
    assert "dir" not in third.attrib  # no strong character: inherits the parent's direction
    assert fourth.get("dir") == "ltr"
    assert fourth.find("span").get("dir") == "rtl"  # type: ignore[union-attr]
