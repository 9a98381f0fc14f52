"""OData syntax as BC takes it: query strings, string and date-time literals (bc-api.md §6.1)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping

_QUERY_SAFE = "$(),'"


def query_string(query: Mapping[str, str]) -> str:
    """OData query options, percent-encoded (spaces as %20, never '+')."""
    return urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe=_QUERY_SAFE)


def odata_string(value: str) -> str:
    """A single-quoted OData string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(value: dt.datetime) -> str:
    """A DateTimeOffset literal as BC filters take it (unquoted, UTC, milliseconds)."""
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
