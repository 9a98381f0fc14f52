"""In-memory object store: one dict of records per object kind, plus a search index.

A record is the object's wire form (a JSON-ready dict) with private bookkeeping under keys
starting with `_` (`_seq` insertion order, `_line_ids`, `_payout`, ...). `public()` strips
those keys when rendering. Searchable kinds keep timestamped snapshots so search results lag
writes by `search_index_delay`, as Stripe's eventually consistent search does
(stripe-api.md §4). Callers hold the state lock; the store itself is not thread-safe.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from .errors import resource_missing
from .ids import kind_of

Record = dict[str, Any]

# Kinds whose search endpoint is served; their snapshots are indexed with a delay.
SEARCHABLE = frozenset({"customer", "invoice"})

LABELS: dict[str, str] = {
    "invoiceitem": "invoiceitem",
    "line_item": "invoice line item",
    "invoice_payment": "invoice payment",
    "payment_intent": "payment_intent",
    "balance_transaction": "balance transaction",
    "webhook_endpoint": "webhook endpoint",
    "tax_rate": "tax rate",
    "credit_note": "credit note",
    "credit_note_line_item": "credit note line item",
    "customer_balance_transaction": "customer balance transaction",
    "payment_record": "payment record",
}


def label(kind: str) -> str:
    """The noun Stripe uses in "No such ...: 'id'" messages."""
    return LABELS.get(kind, kind)


def public(record: Record) -> Record:
    """Deep copy without private `_` keys (nested dicts included)."""
    out: Record = {}
    for key, value in record.items():
        if key.startswith("_"):
            continue
        out[key] = _public_value(value)
    return out


def _public_value(value: Any) -> Any:
    if isinstance(value, dict):
        return public(value)
    if isinstance(value, list):
        return [_public_value(v) for v in value]
    return value


class Store:
    """Records by kind and id, with insertion order and delayed search snapshots."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._objects: dict[str, dict[str, Record]] = {}
        self._seq = itertools.count(1)
        # kind -> id -> list of (visible_at, snapshot or None when deleted)
        self._index: dict[str, dict[str, list[tuple[float, Record | None]]]] = {}
        self.search_delay = 0.0

    def add(self, kind: str, record: Record) -> Record:
        record["_seq"] = next(self._seq)
        self._objects.setdefault(kind, {})[record["id"]] = record
        self.touch(kind, record)
        return record

    def get(self, kind: str, object_id: str) -> Record | None:
        return self._objects.get(kind, {}).get(object_id)

    def require(self, kind: str, object_id: str, param: str | None = None) -> Record:
        """The record, or Stripe's 404 `resource_missing`."""
        record = self.get(kind, object_id)
        if record is None or record.get("deleted"):
            raise resource_missing(label(kind), object_id, param)
        return record

    def find(self, object_id: str) -> Record | None:
        """Look an id up by its prefix (`cus_` -> customer)."""
        kind = kind_of(object_id)
        return None if kind is None else self.get(kind, object_id)

    def all(self, kind: str, *, newest_first: bool = True) -> list[Record]:
        records = sorted(self._objects.get(kind, {}).values(), key=lambda r: int(r["_seq"]))
        return records[::-1] if newest_first else records

    def remove(self, kind: str, object_id: str) -> None:
        self._objects.get(kind, {}).pop(object_id, None)

    def touch(self, kind: str, record: Record) -> None:
        """Record a change for search: the snapshot becomes visible after the delay."""
        if kind not in SEARCHABLE:
            return
        snapshot = None if record.get("deleted") else copy.deepcopy(record)
        history = self._index.setdefault(kind, {}).setdefault(record["id"], [])
        history.append((self._now() + self.search_delay, snapshot))

    def flush_index(self) -> None:
        """Make every pending snapshot visible now (control-surface helper)."""
        now = self._now()
        for by_id in self._index.values():
            for history in by_id.values():
                history[:] = [(min(at, now), snap) for at, snap in history]

    def searchable(self, kind: str) -> list[tuple[Record, Record]]:
        """(indexed snapshot, current record) pairs visible now, newest object first."""
        now = self._now()
        pairs: list[tuple[Record, Record]] = []
        for object_id, history in self._index.get(kind, {}).items():
            visible = [snap for at, snap in history if at <= now]
            current = self.get(kind, object_id)
            if not visible or visible[-1] is None or current is None or current.get("deleted"):
                continue
            pairs.append((visible[-1], current))
        pairs.sort(key=lambda pair: int(pair[1]["_seq"]), reverse=True)
        return pairs
