"""Posting the connector's journal batches: one poster at a time, one post for many lines.

Handlers used to post the payment batch right after writing each line, so several consumer
threads posted the same batch at once: BC answered 422 to all but one (66 of 1,150 posts in one
run, issue 11 finding 4), and a payment cost a post of its own. Now a handler only confirms its
line and notes that the batch waits (``store.note_batch_line``, in the confirming transaction);
every consumer process runs a ``BatchPoster`` thread that looks every quarter second and:

1. takes the batch's lease if lines wait, no other poster holds it, and the batch is due: its
   last post is ``interval_s`` old (``MLC_BATCH_POST_INTERVAL``, 4 s) or ``max_lines`` lines
   wait (``MLC_BATCH_POST_LINES``, 50). A compare-and-set in the database, so exactly one
   poster across all processes posts a batch at a time, and the interval holds across them all.
   It notes which confirmed postings the post will carry;
2. asks bc-gateway to post the batch (BC posts every line in it; "nothing to post" means a
   person or an earlier post did it, which is just as good);
3. gives the lease back, marks the batch posted up to what it saw at step 1 (lines confirmed
   meanwhile keep it waiting for the next round), stamps the postings it carried and adds a
   step to each of their records' stories.

Before each post the poster holds the batch's payment lines against what BC says their invoices
have open (one read for all of them, ``bc_gateway.open_amounts``): a line written on what the
connector knew (``handlers.fast_path``) may meet a payment a clerk booked in BC a moment before,
and that overpayment is flagged here, as a handler would have flagged it (``_flag_overpaid``).

Why 4 s: a post is two BC calls (the check and the post) whatever it carries, so at a steady
rate r payments a second a payment costs 1 + 2/(4r) calls (1.17 at 3/s, 1.05 at 10/s, 1.03 at
20/s, under a backlog 1 + 2/50), against BC's shared budget of 20 a second (bc-api.md §8). A
line is in BC as soon as it is written (the latency that matters to the clerk, well under a
second); the post that books it follows within the interval, and a line after a quiet spell is
posted at the next look. A firm that wants lines booked sooner sets a shorter interval and
spends 2/(interval x r) more calls a payment.

A post that fails keeps the batch waiting and backs off (doubling up to ``max_backoff_s``); the
first failure of a streak is told in the waiting records' stories, every one is logged. A poster
that dies holding the lease is replaced when the lease runs out. Only batches the rules post
automatically are posted; the others wait in BC for a person's review, as before.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.db import utcnow
from mlconnector.money import format_amount
from mlconnector.money import from_minor
from mlconnector.redaction import redact
from reconciler.adapters.gateways import BcGateway
from reconciler.adapters.http import GatewayRejected
from reconciler.handlers.postings import overpaid_summary
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import SyncRecord
from reconciler.rules import Rules
from reconciler.store import claim_batch
from reconciler.store import finish_batch

logger = logging.getLogger(__name__)

# A post carries at most this many postings' stamps; the rest are stamped by the next round.
MAX_STAMPED = 5000
# A posting the post carries: id, record, Stripe id, kind, BC invoice, amount, currency.
_Carried = Row[int, int, str, PostingKind, str | None, int, str]
# How often each poster looks whether a batch is due (never more often than the interval).
TICK_S = 0.25


@dataclasses.dataclass(frozen=True)
class AutoPosted:
    """What one auto-posted batch carries: these kinds, in ``only`` currencies (a currency's
    own batch) or in any currency ``besides`` those that have their own batch."""

    kinds: tuple[PostingKind, ...]
    only: frozenset[str] = frozenset()
    besides: frozenset[str] = frozenset()


def auto_posted_journals(rules: Rules) -> dict[str, AutoPosted]:
    """The batches the connector posts itself: the payment batch and each currency's.

    Refunds and disputes are general journal lines posted as they are written
    (``handlers.cash_moves``): no batch waits for them.
    """
    if not rules.auto_post_payments:
        return {}
    own = frozenset(rules.currency_clearing)
    journals = {rules.payment_journal: AutoPosted((PostingKind.PAYMENT,), besides=own)}
    for currency, clearing in rules.currency_clearing.items():
        journals[clearing.journal] = AutoPosted((PostingKind.PAYMENT,), only=frozenset({currency}))
    return journals


@dataclasses.dataclass
class _Backoff:
    failures: int = 0
    next_try: float = 0.0


class BatchPoster:
    """Posts the auto-posted batches when lines wait; see the module docstring."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        bc: BcGateway,
        rules: Rules,
        *,
        actor: str,
        interval_s: float = 4.0,
        max_lines: int = 50,
        lease_s: float = 120.0,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._bc = bc
        self._journals = auto_posted_journals(rules)
        self._actor = actor
        self.interval_s = interval_s
        self.max_lines = max_lines
        # How often to look: often enough that a full batch or a line after a quiet spell
        # waits at most this long; the database's gap check decides whether to post.
        self.tick_s = min(TICK_S, interval_s)
        self._lease_s = lease_s
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._backoff = {journal: _Backoff() for journal in self._journals}
        self.holder = f"poster/{secrets.token_hex(6)}"
        self.posts = 0

    def run(self, stop: threading.Event) -> None:
        """Post until ``stop`` is set; a failing round never ends the loop."""
        logger.info(
            "batch poster %s posting %s at most every %.2fs (sooner with %d lines waiting)",
            self.holder,
            ", ".join(self._journals) or "nothing",
            self.interval_s,
            self.max_lines,
        )
        while not stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception:  # the database may be down: the next round tries again
                logger.exception("batch poster round failed")

    def start(self, stop: threading.Event) -> threading.Thread | None:
        """Run in a daemon thread, if any batch is posted automatically."""
        if not self._journals:
            return None
        thread = threading.Thread(
            target=self.run, args=(stop,), name="mlc-batch-poster", daemon=True
        )
        thread.start()
        return thread

    def tick(self) -> int:
        """One round over the batches; returns how many posts it made."""
        made = 0
        for journal, carries in self._journals.items():
            backoff = self._backoff[journal]
            if self._clock() < backoff.next_try:
                continue
            if self.post(journal, carries):
                made += 1
        return made

    def post(self, journal: str, carries: AutoPosted) -> bool:
        """Post ``journal`` if lines wait and this poster gets the lease; True if it posted."""
        with self._session_factory.begin() as session:
            covered = claim_batch(
                session,
                journal,
                holder=self.holder,
                lease_s=self._lease_s,
                min_gap_s=self.interval_s,
                max_lines=self.max_lines,
            )
            if covered is None:
                return False
            rows = session.execute(
                select(
                    Posting.id,
                    Posting.record_id,
                    Posting.stripe_id,
                    Posting.kind,
                    Posting.bc_invoice_id,
                    Posting.amount_minor,
                    Posting.currency,
                )
                .where(
                    Posting.kind.in_(carries.kinds),
                    Posting.state == PostingState.POSTED,
                    Posting.batch_posted_at.is_(None),
                    *([Posting.currency.in_(carries.only)] if carries.only else []),
                    *([Posting.currency.not_in(carries.besides)] if carries.besides else []),
                )
                .order_by(Posting.id)
                .limit(MAX_STAMPED)
            ).all()
        carried = [(int(row[0]), int(row[1]), str(row[2])) for row in rows]
        check = [
            {
                "external_document_number": row.stripe_id,
                "bc_invoice_id": row.bc_invoice_id,
                "paid": str(from_minor(int(row.amount_minor), row.currency)),
            }
            for row in rows
            if row.kind is PostingKind.PAYMENT and row.bc_invoice_id
        ]
        started = time.monotonic()
        error: str | None = None
        overpaid: list[dict[str, Any]] = []
        try:
            result = self._bc.post_journal(journal, check)
            overpaid = list(result.get("overpaid") or [])
        except GatewayRejected as exc:
            if "nothing to post" not in exc.message.lower():
                error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = int((time.monotonic() - started) * 1000)
        with self._session_factory.begin() as session:
            failures = finish_batch(
                session, journal, holder=self.holder, covered_seq=covered, error=error
            )
            if error is None:
                self._flag_overpaid(session, rows, overpaid)
                self._stamp(session, journal, carried, duration_ms)
            elif failures == 1:
                self._tell_failure(session, journal, carried, error)
        backoff = self._backoff[journal]
        if error is None:
            backoff.failures, backoff.next_try = 0, 0.0
            self.posts += 1
            logger.info("posted batch %s (%d line(s)) in %d ms", journal, len(carried), duration_ms)
            return True
        backoff.failures += 1
        delay = min(self._max_backoff_s, self.interval_s * 2.0**backoff.failures)
        backoff.next_try = self._clock() + delay
        logger.error(
            "posting batch %s failed (%d in a row), next try in %.1fs: %s",
            journal,
            failures,
            delay,
            redact(error),
        )
        return False

    def _stamp(
        self, session: Session, journal: str, carried: list[tuple[int, int, str]], ms: int
    ) -> None:
        if not carried:
            return
        now = utcnow()
        session.execute(
            update(Posting)
            .where(Posting.id.in_([row[0] for row in carried]), Posting.batch_posted_at.is_(None))
            .values(batch_posted_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(AuditEvent),
            [
                {
                    "record_id": record_id,
                    "message_id": None,
                    "action": "result",
                    "summary": f"BC posted batch {journal} with the line for {stripe_id} "
                    f"({len(carried)} line(s) in the post)",
                    "outcome": AuditOutcome.OK,
                    "duration_ms": ms,
                    "actor": self._actor,
                    "created_at": now,
                }
                for _id, record_id, stripe_id in carried
            ],
        )

    def _flag_overpaid(
        self, session: Session, rows: Sequence[_Carried], overpaid: list[dict[str, Any]]
    ) -> None:
        """Flag the payments BC had less open for than they pay, as a handler would have.

        A payment written on what the connector knew (``handlers.fast_path``) was not held
        against BC's remaining amount; the check before the post is where a payment booked in
        BC meanwhile (its notification still on the way) shows. The line posts all the same:
        BC applies what is open and keeps the rest on the customer's account for a person.
        """
        by_number = {str(row.stripe_id).upper(): row for row in rows}
        now = utcnow()
        for found in overpaid:
            row = by_number.get(str(found.get("external_document_number", "")).upper())
            if row is None:
                continue
            record = session.get(SyncRecord, int(row.record_id))
            if record is None or (record.flags or {}).get("overpaid"):
                continue  # flagged when it was written
            by = str(found.get("overpaid_by"))
            record.flags = {**(record.flags or {}), "overpaid": True, "overpaid_by": by}
            shown = format_amount(int(row.amount_minor), row.currency)
            session.add(
                AuditEvent(
                    record_id=record.id,
                    message_id=None,
                    action="decided",
                    summary=overpaid_summary(
                        shown,
                        str(found.get("invoice_number")),
                        found.get("invoice_remaining_amount"),
                        by,
                    )
                    + " (found when the batch was checked before its post)",
                    outcome=AuditOutcome.SKIPPED,
                    actor=self._actor,
                    created_at=now,
                )
            )

    def _tell_failure(
        self, session: Session, journal: str, carried: list[tuple[int, int, str]], error: str
    ) -> None:
        """The first failure of a streak joins the waiting records' stories."""
        now = utcnow()
        rows = [
            {
                "record_id": record_id,
                "message_id": None,
                "action": "called",
                "summary": f"posting batch {journal} failed; the line for {stripe_id} waits in "
                "the batch and the poster tries again",
                "outcome": AuditOutcome.RETRY,
                "actor": self._actor,
                "error": redact(error)[:2000],
                "created_at": now,
            }
            for _id, record_id, stripe_id in carried
        ]
        if rows:
            session.execute(insert(AuditEvent), rows)
