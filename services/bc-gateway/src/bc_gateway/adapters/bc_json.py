"""JSON for the BC wire: amounts stay ``Decimal`` both ways, never ``float``.

BC sends amounts as JSON numbers (``1500``, ``123.45``); ``loads`` parses them with
``parse_float=Decimal``, through ``mlconnector.jsonbody`` so that a hostile document (nested too
deep, ``NaN``, lone surrogates) is an ``InvalidJSON`` -- a ``ValueError`` -- like any other
malformed one, never a ``RecursionError``. BC expects numbers back, and the standard encoder can
only write a ``Decimal`` through ``float``, so ``dumps`` writes them itself, in plain notation
(no exponent). Dates become ``YYYY-MM-DD`` and datetimes ISO 8601 UTC, as the API writes them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mlconnector import jsonbody


def loads(text: str | bytes) -> Any:
    """Parse JSON with exact decimals; ``jsonbody.InvalidJSON`` (a ``ValueError``) if refused."""
    return jsonbody.loads(text, parse_float=Decimal)


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot send {value} to BC")
    return "0" if value.is_zero() else format(value, "f")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, bool) or value is None:
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(_decimal(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        raise TypeError("floats are never sent to BC; use Decimal")
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never sent to BC")
        text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        out.append(json.dumps(text.replace("+00:00", "Z")))
    elif isinstance(value, dt.date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
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
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for BC")


def dumps(value: Any) -> str:
    """Compact JSON with Decimals written as exact numbers."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)
