"""BC's enum members on the wire: XML-escaped captions (``G_x002F_L_x0020_Account``)."""

from __future__ import annotations

import re

_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_enum(value: object) -> str:
    """BC's XML-encoded enum member name -> its caption (``G_x002F_L_x0020_Account``)."""
    return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), str(value or ""))


def encode_enum(value: str) -> str:
    """A caption -> BC's XML-encoded member name, for filters and bodies."""
    return "".join(ch if ch.isalnum() or ch == "_" else f"_x{ord(ch):04X}_" for ch in value)
