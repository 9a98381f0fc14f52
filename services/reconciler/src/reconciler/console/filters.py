"""Reading the console lists' filters from query arguments, with messages a clerk can act on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date


class FilterError(ValueError):
    """A filter the clerk typed that cannot be used; the message says how to fix it."""


def text(args: Mapping[str, str], name: str, limit: int) -> str | None:
    """The stripped value of ``name``, or None when empty; longer than ``limit`` is refused."""
    value = (args.get(name) or "").strip()
    if len(value) > limit:
        raise FilterError(f"{name} is longer than {limit} characters")
    return value or None


def day(args: Mapping[str, str], name: str) -> date | None:
    """``name`` as an ISO date (``2026-12-31``), or None when empty."""
    value = text(args, name, 10)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(f"{name} must be a date like 2026-12-31") from exc


def cursor(args: Mapping[str, str], name: str, what: str) -> int | None:
    """A keyset cursor (``id < before``): digits only; the message calls it ``what`` number."""
    value = text(args, name, 20)
    if value is not None and not value.isdigit():
        raise FilterError(f"{name} must be a {what} number")
    return int(value) if value else None
