"""What a ``stripe-gateway poll`` remembers so an interrupted run can resume: its plan and cursor.

A window is read from up to five *sources*, one after another: ``events`` (``GET /v1/events``,
inside Stripe's 30-day retention) and, for the part of the window past it, ``invoices``,
``charges``, ``refunds`` and ``payouts`` (the objects themselves). Every source is a Stripe list,
and every Stripe list is ordered newest first and walked with ``starting_after=<object id>``. So
a source's position is one object id, ``after``: every object of the source listed up to and
including it has had all of its messages confirmed by the broker. Resuming lists the source again
with ``starting_after=after`` and the same filters, which yields exactly the objects not yet
confirmed, oldest last: nothing is skipped, and nothing confirmed is published twice. (Objects
created inside the window *after* the run began sort before the position and are not read; they
are new, so the webhook or the next overlapping poll brings them, as for a run never interrupted.)

Each source keeps its own window next to its position because the split between events and
objects depends on the time the run began, while a resume happens later; the stored plan is
reused as it is. One case needs care: when the resume comes so late that part of the events
source may have fallen out of retention (more than half the hour of margin the split keeps), the
events source is narrowed to what is still safely retained (its position stays valid: the list
order is the same, only the older end is cut off) and the cut part is added as object sources
from their start.

``published`` per source counts the messages confirmed up to its position, by event type, so the
final count of a resumed run is the whole window's and not only the last attempt's. Nothing
secret is stored: ids, unix times and counts.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
from typing import Any

from stripe_gateway.polling_window import RETENTION_MARGIN_S
from stripe_gateway.polling_window import RETENTION_S
from stripe_gateway.polling_window import Window
from stripe_gateway.polling_window import split

logger = logging.getLogger(__name__)

VERSION = 1
COMMAND = "stripe-gateway poll"
OBJECT_SOURCES = ("invoices", "charges", "refunds", "payouts")
SOURCES = ("events", *OBJECT_SOURCES)
# How late a resume may come and still trust the stored split (half the retention margin).
RESUME_SLACK_S = RETENTION_MARGIN_S // 2


class CursorMismatch(ValueError):
    """The stored state is not a stripe-gateway poll cursor this version understands."""


@dataclasses.dataclass
class Source:
    """One list to walk, where it stands, and what it has had confirmed so far."""

    name: str
    window: Window
    after: str | None = None
    done: bool = False
    published: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "since": self.window.since,
            "until": self.window.until,
            "after": self.after,
            "done": self.done,
            "published": dict(self.published),
        }

    @classmethod
    def from_json(cls, data: Any) -> Source:
        if not isinstance(data, dict) or data.get("name") not in SOURCES:
            raise CursorMismatch("a source entry is not one this version knows")
        after = data.get("after")
        published = data.get("published") or {}
        if after is not None and not isinstance(after, str):
            raise CursorMismatch("a source position is not an object id")
        if not isinstance(published, dict) or not all(
            isinstance(v, int) for v in published.values()
        ):
            raise CursorMismatch("a source count is not a number")
        return cls(
            name=str(data["name"]),
            window=_window(data),
            after=after,
            done=bool(data.get("done", False)),
            published=collections.Counter({str(k): int(v) for k, v in published.items()}),
        )


@dataclasses.dataclass
class PollState:
    """The window, its sources in order, and whether the run completed."""

    window: Window
    sources: list[Source]
    started_at: str = dataclasses.field(default_factory=lambda: _now_iso())
    finished: bool = False

    def published(self) -> collections.Counter[str]:
        """Messages confirmed up to the sources' positions, by event type."""
        total: collections.Counter[str] = collections.Counter()
        for source in self.sources:
            total.update(source.published)
        return total

    def part(self, *names: str) -> Window | None:
        """The smallest window covering the named sources (for the summary), or None."""
        windows = [s.window for s in self.sources if s.name in names]
        if not windows:
            return None
        return Window(min(w.since for w in windows), max(w.until for w in windows))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "command": COMMAND,
            "window": {"since": self.window.since, "until": self.window.until},
            "status": "done" if self.finished else "running",
            "started_at": self.started_at,
            "updated_at": _now_iso(),
            "sources": [s.to_json() for s in self.sources],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PollState:
        if data.get("command") != COMMAND or data.get("version") != VERSION:
            raise CursorMismatch(f"not a {COMMAND} cursor (version {VERSION})")
        sources = data.get("sources")
        if not isinstance(sources, list):
            raise CursorMismatch("the cursor has no sources")
        return cls(
            window=_window(data.get("window")),
            sources=[Source.from_json(s) for s in sources],
            started_at=str(data.get("started_at") or _now_iso()),
            finished=data.get("status") == "done",
        )


def plan(window: Window, now: int) -> PollState:
    """A fresh run: events for the retained part, the four object lists for the rest."""
    backfill, events = split(window, now)
    sources = [Source("events", events)] if events is not None else []
    if backfill is not None:
        sources.extend(Source(name, backfill) for name in OBJECT_SOURCES)
    return PollState(window, sources)


def replan(state: PollState, now: int) -> PollState:
    """The stored plan for a resume at ``now``, with any expired part of ``events`` moved."""
    edge = now - RETENTION_S + RETENTION_MARGIN_S
    sources: list[Source] = []
    for source in state.sources:
        # A resume soon after the start keeps the plan: the margin still covers its events.
        if source.name != "events" or source.done or source.window.since >= edge - RESUME_SLACK_S:
            sources.append(source)
            continue
        expired = Window(source.window.since, min(edge, source.window.until))
        sources.extend(Source(name, expired) for name in OBJECT_SOURCES)
        if edge < source.window.until:
            narrowed = Window(edge, source.window.until)
            # The counts stay with the events source: they are events it had confirmed.
            sources.append(dataclasses.replace(source, window=narrowed))
        else:
            # Nothing of it is retained any more; keep its confirmed count in a finished entry.
            sources.append(dataclasses.replace(source, done=True))
    return dataclasses.replace(state, sources=sources, finished=False)


def start(stored: PollState | None, window: Window, now: int) -> tuple[PollState, bool]:
    """(state to run, resumed?): the stored run if it is an unfinished run of ``window``."""
    if stored is not None and not stored.finished:
        if stored.window == window:
            return replan(stored, now), True
        logger.warning(
            "the cursor held an unfinished run of %s; starting %s instead",
            stored.window.describe(),
            window.describe(),
        )
    return plan(window, now), False


def _window(data: Any) -> Window:
    if not isinstance(data, dict):
        raise CursorMismatch("the cursor has no window")
    since, until = data.get("since"), data.get("until")
    if not isinstance(since, int) or not isinstance(until, int) or since >= until:
        raise CursorMismatch("the cursor's window is not two unix times in order")
    return Window(since, until)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
