"""Which glyph of which embedded font draws each character of a PDF: the evidence that a report has no tofu.

A PDF's text operators show codes, not characters. For the composite (Type 0) fonts WeasyPrint writes, each
2-byte code goes through the font's /Encoding to a CID (``Identity-H``, or a CMap WeasyPrint writes when Pango
had no glyph for a character: that CMap sends the missing character's code to CID 0), and the CID through
/CIDToGIDMap to a glyph id in the embedded font program. Glyph 0 is ``.notdef``, the box. So a character is
drawn with a real glyph when its glyph id is not 0, exists in the embedded program, and has an outline (for
anything but white space) or, in a colour emoji font, a bitmap; the character itself comes from the font's
/ToUnicode map.
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pikepdf
from fontTools.pens.boundsPen import ControlBoundsPen
from fontTools.ttLib import TTFont

_HEX = r"<([0-9a-fA-F]+)>"


@dataclass(frozen=True)
class Drawn:
    family: str  # the FontDescriptor's /FontFamily
    glyph: int  # glyph id in the embedded program
    text: str  # what /ToUnicode says the glyph stands for
    real: bool  # not .notdef, present in the program, with an outline unless it is white space


class _Font:
    def __init__(self, font: Any) -> None:
        descendant = font.DescendantFonts[0]
        descriptor = descendant.FontDescriptor
        self.family = str(descriptor.get("/FontFamily", font.BaseFont))
        self.encoding = _encoding(font.Encoding)
        if descendant.get("/CIDToGIDMap", pikepdf.Name.Identity) != pikepdf.Name.Identity:
            raise AssertionError(f"{self.family}: a CIDToGIDMap stream; this check reads only /Identity")
        self.to_unicode = _cmap_pairs(font.ToUnicode.read_bytes().decode("latin-1"), "bfchar", "bfrange")
        program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
        self.program = TTFont(io.BytesIO(program.read_bytes()))
        self.glyph_order = self.program.getGlyphOrder()
        self.glyphs = self.program.getGlyphSet()

    def drawn(self, code: int) -> Drawn:
        glyph = self.encoding.get(code, 0) if self.encoding is not None else code
        text = self.to_unicode.get(code, "")
        return Drawn(self.family, glyph, text, self._real(glyph, text))

    def _real(self, glyph: int, text: str) -> bool:
        if glyph == 0 or glyph >= len(self.glyph_order):
            return False
        if text and all(c.isspace() or unicodedata.category(c) == "Cf" for c in text):
            return True  # a space has no outline
        pen = ControlBoundsPen(self.glyphs)
        self.glyphs[self.glyph_order[glyph]].draw(pen)
        return pen.bounds is not None or glyph in _bitmap_glyphs(self.family)


@functools.cache
def _bitmap_glyphs(family: str) -> frozenset[int]:
    """Glyph ids that the installed font of ``family`` draws as a colour bitmap (CBDT: Noto Color Emoji).

    WeasyPrint draws such a glyph as an image at its place and embeds the font, with the glyph ids kept but
    without outlines or bitmaps, only so the text can be read back; so the embedded program alone cannot show
    the glyph is real, and the installed font it was drawn from is asked."""
    found = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", family], capture_output=True, text=True, check=True)
    path, index = found.stdout.split("\n")
    font = TTFont(path, fontNumber=int(index or 0))
    if "CBDT" not in font:
        return frozenset()
    names = {name for strike in font["CBDT"].strikeData for name in strike}
    return frozenset(i for i, name in enumerate(font.getGlyphOrder()) if name in names)


def _encoding(encoding: Any) -> dict[int, int] | None:
    """``None`` for Identity-H (code = CID); otherwise the code-to-CID map of an embedded CMap."""
    if encoding == pikepdf.Name("/Identity-H"):
        return None
    text = encoding.read_bytes().decode("latin-1")
    mapping: dict[int, int] = {}
    for block in re.findall(r"begincidchar(.*?)endcidchar", text, re.S):
        for code, cid in re.findall(_HEX + r"\s*(\d+)", block):
            mapping[int(code, 16)] = int(cid)
    for block in re.findall(r"begincidrange(.*?)endcidrange", text, re.S):
        for low, high, cid in re.findall(_HEX + r"\s*" + _HEX + r"\s*(\d+)", block):
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = int(cid) + offset
    return mapping


def _cmap_pairs(text: str, single: str, ranged: str) -> dict[int, str]:
    """A ToUnicode CMap as code -> text."""
    mapping: dict[int, str] = {}
    for block in re.findall(f"begin{single}(.*?)end{single}", text, re.S):
        for code, target in re.findall(_HEX + r"\s*" + _HEX, block):
            mapping[int(code, 16)] = bytes.fromhex(target).decode("utf-16-be")
    for block in re.findall(f"begin{ranged}(.*?)end{ranged}", text, re.S):
        for low, high, target in re.findall(_HEX + r"\s*" + _HEX + r"\s*" + _HEX, block):
            start = int.from_bytes(bytes.fromhex(target), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(start + offset)
    return mapping


def drawn_glyphs(pdf: bytes) -> list[Drawn]:
    """Every glyph the PDF's pages show, in content-stream order."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return [drawn for page in document.pages for drawn in _shown(page.obj, page.obj.Resources)]


def _shown(holder: Any, resources: Any) -> Iterator[Drawn]:
    fonts: dict[str, _Font] = {}
    current: _Font | None = None
    for operands, operator in pikepdf.parse_content_stream(holder):
        name = str(operator)
        if name == "Tf":
            key = str(operands[0])
            if key not in fonts:
                fonts[key] = _Font(resources.Font[key])
            current = fonts[key]
        elif name in ("Tj", "TJ", "'", '"'):
            assert current is not None, "text shown before a font was set"
            strings = operands[0] if name == "TJ" else operands[-1:]
            for string in strings:
                if isinstance(string, pikepdf.String):
                    raw = bytes(string)
                    for i in range(0, len(raw) - 1, 2):
                        yield current.drawn(int.from_bytes(raw[i : i + 2], "big"))
        elif name == "Do":
            xobject = resources.XObject[str(operands[0])]
            if xobject.get("/Subtype") == pikepdf.Name.Form:
                yield from _shown(xobject, xobject.get("/Resources", resources))


def tofu(pdf: bytes, text: str) -> list[str]:
    """Sentences naming each character of ``text`` that the PDF does not draw with a real glyph."""
    drawn = drawn_glyphs(pdf)
    problems = [
        f"{d.family} draws {d.text!r} with glyph {d.glyph}, which is no real glyph" for d in drawn if not d.real
    ]
    shown = {c for d in drawn if d.real for c in d.text}
    for char in sorted(set(text)):
        if char.isspace() or unicodedata.category(char) == "Cf":
            continue
        # A vowel sign in two parts (Bengali U+09CB) is drawn as its canonical parts, and WeasyPrint's
        # /ToUnicode names a glyph by the first cluster it drew: the parts count as the character.
        if char not in shown and not set(unicodedata.normalize("NFD", char)) <= shown:
            problems.append(f"U+{ord(char):04X} {char!r} is not drawn with a real glyph")
    return problems


def drawn_by(pdf: bytes, family: str) -> str:
    """The text that ``family``'s glyphs stand for, in drawing order."""
    return "".join(d.text for d in drawn_glyphs(pdf) if d.family == family)


def families_for(pdf: bytes, text: str) -> set[str]:
    """The font families that draw the letters (not digits, punctuation or spaces) of ``text``; of a text with
    no letters (emoji), its symbols."""
    letters = {c for c in text if unicodedata.category(c)[0] in "LM"} or {c for c in text if not c.isspace()}
    return {d.family for d in drawn_glyphs(pdf) if set(d.text) & letters}
