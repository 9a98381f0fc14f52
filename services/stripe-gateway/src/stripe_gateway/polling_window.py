"""A poll's time window, and where Stripe's event retention cuts it in two.

Its own module so that the poll (``polling.py``) and the state it resumes from (``poll_state.py``)
share one definition without importing each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

RETENTION_S = 30 * 86400
# Events close to the retention edge may expire while we page; treat the last hour as gone.
RETENTION_MARGIN_S = 3600


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open time range ``[since, until)`` in unix seconds."""

    since: int
    until: int

    def params(self) -> dict[str, Any]:
        return {"created": {"gte": self.since, "lt": self.until}}

    def __contains__(self, timestamp: object) -> bool:
        return isinstance(timestamp, int) and self.since <= timestamp < self.until

    def describe(self) -> str:
        def iso(ts: int) -> str:
            return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()

        return f"[{iso(self.since)}, {iso(self.until)})"


def split(window: Window, now: int) -> tuple[Window | None, Window | None]:
    """(part to backfill from objects, part to read from events) of ``window``."""
    edge = now - RETENTION_S + RETENTION_MARGIN_S
    if window.until <= edge:
        return window, None
    if window.since >= edge:
        return None, window
    return Window(window.since, edge), Window(edge, window.until)
