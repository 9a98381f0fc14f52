"""Which records need a person, and why, as one short indexed value.

The review console's queue lists every record a person must look at: a failed or unmatched
record, and every record a handler flagged ``needs_person`` (a refund to finish in BC, a lost
dispute, a payout to book by hand, ...). Those facts live in the record's state and in its JSON
``flags``, which no index can serve; so each record also carries ``attention``, the reason kind
or None, kept up to date by the ORM on every insert and update (``models`` registers the hook)
and indexed with the id for keyset pages. A person who marks an item handled records what they
handled in ``flags["handled"]``; the item leaves the queue until something else needs a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_KIND = 32


def raw_attention(state: str | None, flags: Mapping[str, Any] | None) -> str | None:
    """The reason kind the record's state and flags call for, ignoring any hand-off."""
    flags = flags or {}
    kind = flags.get("needs_person")
    if kind:
        return str(kind)[:MAX_KIND]
    if state in ("failed", "unmatched"):
        return str(state)
    return None


def attention_of(state: str | None, flags: Mapping[str, Any] | None) -> str | None:
    """The record's queue reason; None once a person marked exactly this reason handled."""
    kind = raw_attention(state, flags)
    handled = (flags or {}).get("handled")
    if kind and isinstance(handled, Mapping) and handled.get("what") == kind:
        return None
    return kind
