"""``poll-invoices``: every Open or Paid invoice changed since a time, in change order, resumable.

Why not follow ``@odata.nextLink`` through the filtered collection as the webhook's collection
path does (``observe.publish_observed``)? A run interrupted after 40,000 of 50,000 invoices would
have to start over: a nextLink cannot be kept for later (its skip token is opaque, and clients
follow it and never build or store one, bc-api.md §6.2). So the poll reads the invoices in
``lastModifiedDateTime`` order, one query per page, each starting after the change time already
published (keyset paging)::

    $filter=status eq 'Open' and lastModifiedDateTime gt <position>
    $orderby=lastModifiedDateTime
    $top=<page size>

The *position* after a page is the change time of its last record and means: every Open invoice
whose last change (as read) is at or before it has been published and confirmed. The subtlety is
a tie: a full page may end among records changed in the same millisecond, and the next query's
``gt`` would pass over the rest of them. BC cannot say "(time, id) greater than" (``or`` across
two fields is refused, bc-api.md §6.1), so the rest of that millisecond is read by its own query
(``lastModifiedDateTime eq <time>``, followed through its nextLinks, the records of the page
left out) before the position moves past it.

An invoice changed during the run gets a new change time, after the position, so it is read again
further on (a new version, with a new message id): nothing is lost. The cursor file holds the
window (company and start time), the position and the count published up to it; it is saved
after every page, once the page is confirmed. A resumed run continues with ``gt <position>``, so
each remaining invoice is published once and the final count covers the whole window. Nothing
secret is stored: a company id, times and a count.

Memory is one page: records are published and confirmed before the next query, and the ids of
the page's last millisecond (at most a page of them) are the only thing carried over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.odata import odata_datetime
from bc_gateway.adapters.odata import odata_string
from bc_gateway.notifications import parse_timestamp
from bc_gateway.observe import SELECT
from bc_gateway.observe import observed_envelopes
from bc_gateway.publishing import Publish
from mlconnector.poll_progress import PollProgress

logger = logging.getLogger(__name__)

VERSION = 1
COMMAND = "bc-gateway poll-invoices"
ENTITY = "salesInvoices"
# Open invoices are pushed; Paid ones are read too, so that an invoice paid another way in BC
# (a bank transfer applied there) reaches Stripe (the reconciler's ``handlers.paid_elsewhere``).
# ``or`` on one field is allowed in BC's filters (bc-api.md §6.1).
STATUSES = ("Open", "Paid")
STATUS = "Open,Paid"


class CursorMismatch(ValueError):
    """The stored state is not a poll-invoices cursor this version understands."""


class PollStalled(RuntimeError):
    """A page did not move the position: BC's change times are finer than the filter's."""


@dataclasses.dataclass
class InvoicePollState:
    """The window (company, since), the position reached and the count published up to it."""

    company_id: str
    since: dt.datetime
    position: dt.datetime | None = None
    published: int = 0
    finished: bool = False
    started_at: str = dataclasses.field(default_factory=lambda: _now_iso())
    # Which invoices: Open and Paid for the poll, Open only for the first connection's load.
    statuses: tuple[str, ...] = STATUSES

    def same_window(self, other: InvoicePollState) -> bool:
        return (
            self.company_id == other.company_id
            and self.since == other.since
            and self.statuses == other.statuses
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "command": COMMAND,
            "window": {
                "company_id": self.company_id,
                "entity": ENTITY,
                "status": ",".join(self.statuses),
                "since": _iso(self.since),
            },
            "position": _iso(self.position) if self.position else None,
            "published": self.published,
            "status": "done" if self.finished else "running",
            "started_at": self.started_at,
            "updated_at": _now_iso(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InvoicePollState:
        if data.get("command") != COMMAND or data.get("version") != VERSION:
            raise CursorMismatch(f"not a {COMMAND} cursor (version {VERSION})")
        window = data.get("window")
        published = data.get("published", 0)
        if not isinstance(window, dict) or not isinstance(window.get("company_id"), str):
            raise CursorMismatch("the cursor has no window")
        if not isinstance(published, int):
            raise CursorMismatch("the cursor's count is not a number")
        try:
            since = parse_timestamp(window.get("since"))
            raw = data.get("position")
            position = parse_timestamp(raw) if raw is not None else None
        except ValueError as exc:
            raise CursorMismatch(f"the cursor holds a time that is not ISO 8601: {exc}") from exc
        statuses = tuple(str(window.get("status") or STATUS).split(","))
        return cls(
            company_id=window["company_id"],
            since=since,
            position=position,
            published=published,
            finished=data.get("status") == "done",
            started_at=str(data.get("started_at") or _now_iso()),
            statuses=statuses,
        )


def start(
    stored: InvoicePollState | None,
    company_id: str,
    since: dt.datetime,
    statuses: tuple[str, ...] = STATUSES,
) -> tuple[InvoicePollState, bool]:
    """(state to run, resumed?): the stored run if it is an unfinished run of the same window."""
    fresh = InvoicePollState(company_id.lower(), since, statuses=statuses)
    if stored is not None and not stored.finished:
        if stored.same_window(fresh):
            return stored, True
        logger.warning(
            "the cursor held an unfinished run since %s; starting since %s instead",
            _iso(stored.since),
            _iso(since),
        )
    return fresh, False


def poll_invoices(
    bc: BCClient,
    publish: Publish,
    state: InvoicePollState,
    *,
    correlation_id: str,
    page_size: int,
    save: Callable[[InvoicePollState], None],
    progress: PollProgress | None = None,
) -> int:
    """Publish every Open invoice changed after the state's position; the count this run."""
    path = bc.company_path(ENTITY, state.company_id)
    base = "(" + " or ".join(f"status eq {odata_string(s)}" for s in state.statuses) + ")"
    this_run = 0
    while True:
        after = state.position or state.since
        query = {
            "$select": SELECT[ENTITY],
            "$filter": f"{base} and lastModifiedDateTime gt {odata_datetime(after)}",
            "$orderby": "lastModifiedDateTime",
            "$top": str(page_size),
        }
        read, count = 0, 0
        last: dt.datetime | None = None
        at_last: set[str] = set()
        for page in bc.pages(path, query, page_size=page_size):
            count += publish(observed_envelopes(ENTITY, page, state.company_id, correlation_id))
            read += len(page)
            for record in page:
                modified = parse_timestamp(record.get("lastModifiedDateTime"))
                if modified != last:
                    last, at_last = modified, set()
                at_last.add(str(record["id"]).lower())
        if last is None:
            break
        if last <= after:
            raise PollStalled(
                f"a page of invoices changed after {odata_datetime(after)} ended at "
                f"{_iso(last)}: the position cannot move"
            )
        if read >= page_size:
            count += _rest_of_tie(bc, publish, path, base, last, at_last, state, correlation_id)
        state.position = last
        state.published += count
        this_run += count
        save(state)
        if progress is not None:
            progress.page(ENTITY, state.published)
        if read < page_size:
            break
    state.finished = True
    save(state)
    logger.info("poll-invoices: %d published this run, %d in all", this_run, state.published)
    return this_run


def _rest_of_tie(
    bc: BCClient,
    publish: Publish,
    path: str,
    base: str | None,
    moment: dt.datetime,
    seen: set[str],
    state: InvoicePollState,
    correlation_id: str,
) -> int:
    """The records changed at ``moment`` that the page cut off (those in ``seen`` are done)."""
    query = {
        "$select": SELECT[ENTITY],
        "$filter": f"{base} and lastModifiedDateTime eq {odata_datetime(moment)}",
    }
    count = 0
    for page in bc.pages(path, query):
        rest = [r for r in page if str(r["id"]).lower() not in seen]
        count += publish(observed_envelopes(ENTITY, rest, state.company_id, correlation_id))
    return count


def _iso(value: dt.datetime) -> str:
    text = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
