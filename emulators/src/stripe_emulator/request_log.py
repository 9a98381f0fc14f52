"""A log of every API request (not control-surface calls), for call-count assertions.

Tests assert things like "exactly three Stripe calls": `GET /_emulator/requests/count`
returns totals by `METHOD path` and by `METHOD route` (the route template, e.g.
`POST /v1/invoices/<invoice>/finalize`), filterable by method and path prefix.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any


@dataclass
class RequestEntry:
    method: str
    path: str
    route: str | None
    request_id: str
    idempotency_key: str | None
    time: int
    status: int | None = None
    replayed: bool = False


class RequestLog:
    """Thread-safe append-only request log."""

    def __init__(self) -> None:
        self._entries: list[RequestEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: RequestEntry) -> RequestEntry:
        with self._lock:
            self._entries.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, method: str | None = None, path: str | None = None) -> list[RequestEntry]:
        with self._lock:
            return [
                e
                for e in self._entries
                if (method is None or e.method == method.upper())
                and (path is None or e.path.startswith(path))
            ]

    def describe(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries(method, path)]

    def counts(self, method: str | None = None, path: str | None = None) -> dict[str, Any]:
        selected = self.entries(method, path)
        return {
            "total": len(selected),
            "by_path": dict(Counter(f"{e.method} {e.path}" for e in selected)),
            "by_route": dict(Counter(f"{e.method} {e.route or e.path}" for e in selected)),
        }
