"""Text the CLI prints: names from the outside world made safe for one terminal line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """Text safe to print on one terminal line: control characters (newlines, escape
    sequences, bidi overrides) become visible escapes, so a file name cannot forge an
    output line or recolour the terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
