"""Names shown to people (case references, case titles, document names) must read as what they are.

A right-to-left override (U+202E) makes ``invoice_txt.exe`` display as ``invoice_exe.txt``; a zero-width
space makes two different references look identical. Such names are refused with a sentence that
shows each hidden character as ``<U+202E>``, rather than stored and later displayed as something
else: evidence keeps the name exactly as given, so the name given must be one a reader can see.
"""

from __future__ import annotations

import unicodedata

from audit_app.services.errors import SubmissionError

# Cc: control characters (NUL, escape, ...); Cf: format characters (bidi overrides and isolates,
# zero-width space/joiners, BOM, soft hyphen); Zl/Zp: line and paragraph separators;
# Co/Cn: private-use and unassigned code points, which no reader can check either.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"}


def visible(text: str) -> str:
    """``text`` with every hidden character written out as ``<U+XXXX>``."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in HIDDEN_CATEGORIES else c for c in text)


def check_visible_name(field: str, label: str, name: str) -> None:
    """Refuse a name holding a character that is invisible or changes how the text around it is shown."""
    hidden = sorted({c for c in name if unicodedata.category(c) in HIDDEN_CATEGORIES})
    if hidden:
        listed = ", ".join(f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})" for c in hidden)
        raise SubmissionError(
            field,
            f"{label} {visible(name)!s} contains {listed}: invisible characters that change how a name is "
            "shown are not accepted in names; remove them.",
        )
