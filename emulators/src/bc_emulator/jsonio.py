"""JSON in and out with exact decimals.

Request bodies are parsed with ``parse_float=Decimal`` so ``123.45`` never becomes a binary float,
and responses write :class:`~decimal.Decimal` values as JSON *numbers* (BC sends ``1500`` and
``123.45``, not strings). The standard library encoder cannot emit a Decimal as a bare number, so
this module has its own small encoder. Dates and datetimes use BC's formats (bc-api.md §3.4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring as _quote
from typing import Any

from flask.json.provider import JSONProvider

BLANK_DATE = date(1, 1, 1)


def format_decimal(value: Decimal) -> str:
    """``Decimal('100.00')`` -> ``100``, ``Decimal('-0')`` -> ``0``, never exponent notation."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def format_datetime(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds, ``Z`` suffix; the blank value is ``0001-01-01T00:00:00Z``."""
    if value.year == 1:
        return "0001-01-01T00:00:00Z"
    millis = value.microsecond // 1000
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def format_date(value: date) -> str:
    """``YYYY-MM-DD`` (zero-padded year so the blank date reads ``0001-01-01``)."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _encode(value: Any, out: list[str]) -> None:
    # Type checks are ordered by frequency in API payloads; strings use the C-accelerated escaper
    # because a page of 1,000 invoices holds ~70,000 of them.
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is Decimal:
        out.append(format_decimal(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_quote(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    elif isinstance(value, datetime):
        out.append(_quote(format_datetime(value)))
    elif isinstance(value, date):
        out.append(_quote(format_date(value)))
    elif isinstance(value, float):
        # Never produced by the emulator's own code; kept so a stray float fails loudly in review
        # rather than silently in a client.
        raise TypeError("float values are not allowed in emulator responses; use Decimal")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """Serialise ``value`` as compact JSON with Decimals as numbers."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON number {name}")


def loads(text: str | bytes) -> Any:
    """Parse JSON; non-integer numbers become Decimal, NaN/Infinity are rejected."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


class DecimalJSONProvider(JSONProvider):
    """Flask JSON provider using :func:`dumps` / :func:`loads`."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise with the Decimal-aware encoder."""
        return dumps(obj)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse with Decimal floats."""
        return loads(s)
