"""The Payouts pages' data: the list of payouts, one payout's reconciliation, and their CSV.

**The list** is keyset pages (``id < before``) over the payouts' primary key, newest first, so
the hundredth page costs what the first does. The search is a Stripe payout id, answered by the
unique index on ``stripe_payout_id``. Currency, state and arrival date filter the rows the key
walks through: Stripe pays out at most once a day per currency on an automatic schedule, so the
table stays small (a few thousand rows in ten years), and none of the three has an index.

**The figures.** A payout row keeps Stripe's payout amount twice (``amount_minor`` and
``net_minor`` are both what reached the bank), the fees it booked, and the FX difference. The
console shows *gross* (net + fees: what the payout's balance transactions moved before Stripe's
fees), fees, FX difference and net, so the first, second and last add up as Stripe's own payout
report does; the FX difference is BC's valuation of converted payments against what Stripe
settled, booked to the FX account and outside Stripe's arithmetic.

**The reconciliation** lists each balance transaction the payout settled, against what the
connector booked for it. The payout handler keeps the transactions' ids (``Payout.transactions``),
what each one was (``PayoutTransaction``: its type, source and Stripe's amount, fee and net),
and the ones it could not match with the reason (``Payout.unmatched``). Postings are keyed
by the Stripe object the movement was booked under (``payout_plan.booking_key``: a dispute's
movement by its balance transaction id, everything else by its source ``ch_``, ``py_``, ``re_``),
so every booked transaction is shown with its posting: the BC line, its amount, its story. The
payout's own transfer and a dispute's fee alone are booked by the payout itself (its bank and
fee lines). A payout booked before the details were kept (migration 0009) shows its
transactions as matched without naming the posting, and says so.

Amounts are integer minor units made exact decimals by ``mlconnector.money``; never floats.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlconnector.money import MoneyError
from mlconnector.money import from_minor
from reconciler.attention import attention_of
from reconciler.attention import raw_attention
from reconciler.console import filters
from reconciler.console.filters import FilterError as FilterError  # re-exported
from reconciler.models import AuditEvent
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import PayoutTransaction
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.models import normalise_currency
from reconciler.payout_plan import OWN_TYPES
from reconciler.payout_plan import booking_key
from reconciler.payout_plan import expected_kind
from reconciler.payout_plan import is_fee_only

PAGE_SIZE = 50
# The export fetches this many payouts per keyset query, and the reconciliation looks up this
# many transaction ids per IN list (well under SQLite's and PostgreSQL's parameter limits).
CHUNK = 500
MAX_EVENTS = 500
MAX_PAYOUT_ID = 255
# What the handler tells the clerk to do with a transaction it could not place
# (docs/accounting.md, "What needs a person").
HAND_BOOKING = (
    "Book it by hand in BC's payout journal against the Stripe clearing account of {currency}, "
    "then mark the payout as handled."
)
# Excel and LibreOffice run a cell that starts with one of these as a formula; a text cell
# (a reason, an id) is prefixed with an apostrophe so it stays text (OWASP "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- the list ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PayoutFilter:
    """The list's filters as typed values; ``parse`` refuses what cannot be used, and says why."""

    currency: str | None = None
    state: PayoutState | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    before: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> PayoutFilter:
        currency = filters.text(args, "currency", 3)
        if currency is not None:
            try:
                currency = normalise_currency(currency)
            except ValueError as exc:
                raise FilterError("currency must be a three-letter code like EUR") from exc
        state = None
        raw_state = filters.text(args, "state", 32)
        if raw_state is not None:
            try:
                state = PayoutState(raw_state.lower())
            except ValueError as exc:
                known = ", ".join(s.value for s in PayoutState)
                raise FilterError(f"state must be one of {known}") from exc
        before = filters.cursor(args, "before", "payout")
        date_from, date_to = filters.day(args, "from"), filters.day(args, "to")
        if date_from and date_to and date_from > date_to:
            raise FilterError("from must not be after to")
        return cls(
            currency=currency,
            state=state,
            date_from=date_from,
            date_to=date_to,
            q=filters.text(args, "q", MAX_PAYOUT_ID),
            before=before,
        )

    def args(self, **changes: object) -> dict[str, str]:
        """Query arguments for a link to this filter (with ``changes``)."""
        values = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        out = {
            "currency": values.currency.upper() if values.currency else None,
            "state": values.state.value if values.state else None,
            "from": values.date_from.isoformat() if values.date_from else None,
            "to": values.date_to.isoformat() if values.date_to else None,
            "q": values.q,
            "before": str(values.before) if values.before else None,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def narrowed(self) -> bool:
        """Whether any filter (not the page) is set: an empty page then says "with these"."""
        return bool(self.currency or self.state or self.date_from or self.date_to or self.q)


def payouts_statement(flt: PayoutFilter) -> Select[Payout]:
    """The filter as one query, newest first by the primary key that the keyset walks."""
    stmt = select(Payout)
    if flt.q:
        stmt = stmt.where(Payout.stripe_payout_id == flt.q)
    if flt.currency:
        stmt = stmt.where(Payout.currency == flt.currency)
    if flt.state:
        stmt = stmt.where(Payout.state == flt.state)
    if flt.date_from:
        stmt = stmt.where(Payout.arrival_date >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(Payout.arrival_date <= flt.date_to)
    if flt.before:
        stmt = stmt.where(Payout.id < flt.before)
    return stmt.order_by(Payout.id.desc())


@dataclasses.dataclass(frozen=True)
class PayoutRow:
    """One payout as the console shows it; ``gross_minor`` is None until the payout is booked."""

    id: int
    payout_id: str
    currency: str
    state: PayoutState
    arrival_date: date | None
    gross_minor: int | None
    fee_minor: int | None
    fx_minor: int | None
    net_minor: int
    unmatched: int
    record_id: int | None
    bc_company_id: str | None
    fee_line_id: str | None
    bank_line_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutRow:
        net = payout.net_minor if payout.net_minor is not None else payout.amount_minor
        gross = net + payout.fee_minor if payout.fee_minor is not None else None
        return cls(
            id=payout.id,
            payout_id=payout.stripe_payout_id,
            currency=payout.currency,
            state=payout.state,
            arrival_date=payout.arrival_date,
            gross_minor=gross,
            fee_minor=payout.fee_minor,
            fx_minor=payout.fx_minor,
            net_minor=net,
            unmatched=len(payout.unmatched or []),
            record_id=payout.record_id,
            bc_company_id=payout.bc_company_id,
            fee_line_id=payout.fee_line_id,
            bank_line_id=payout.bank_line_id,
            created_at=payout.created_at,
        )


@dataclasses.dataclass(frozen=True)
class PayoutPage:
    rows: list[PayoutRow]
    next_before: int | None


def payouts_page(session: Session, flt: PayoutFilter, size: int = PAGE_SIZE) -> PayoutPage:
    """One page of the filter; ``next_before`` is set only when an older row exists."""
    found = list(session.scalars(payouts_statement(flt).limit(size + 1)))
    more = len(found) > size
    rows = [PayoutRow.of(p) for p in found[:size]]
    return PayoutPage(rows, rows[-1].id if more and rows else None)


def all_payouts(session: Session, flt: PayoutFilter, chunk: int = CHUNK) -> list[PayoutRow]:
    """Every payout of the filter (for the CSV export), in keyset chunks, whatever the page."""
    out: list[PayoutRow] = []
    current = dataclasses.replace(flt, before=None)
    while True:
        page = payouts_page(session, current, chunk)
        out.extend(page.rows)
        if page.next_before is None:
            return out
        current = dataclasses.replace(current, before=page.next_before)


# -- one payout's reconciliation ---------------------------------------------------------------


class RowStatus(enum.StrEnum):
    """How a balance transaction of the payout stands against what the connector booked."""

    #: A posting booked the transaction's movement at its own event (payment, refund, dispute).
    BOOKED = "booked"
    #: Booked by the payout itself: its own transfer (the bank line) or a dispute's fee alone
    #: (the fee lines).
    PAYOUT = "booked_with_payout"
    #: Matched when the payout was booked, before the connector kept what each transaction was
    #: (migration 0009), so its posting cannot be named; or its posting is gone since.
    MATCHED = "matched"
    #: The handler could not place it; a person books it by hand.
    UNMATCHED = "unmatched"


@dataclasses.dataclass(frozen=True)
class StripeFigures:
    """What Stripe says of one balance transaction, in the payout's currency (minor units)."""

    type: str
    source: str | None
    amount_minor: int | None
    fee_minor: int | None
    net_minor: int | None


@dataclasses.dataclass(frozen=True)
class BookedLine:
    """What the connector wrote to BC for one Stripe object (a posting), as the page shows it."""

    stripe_id: str
    kind: str
    state: str
    amount_minor: int
    currency: str
    bc_line_id: str | None
    record_id: int
    posted_at: datetime | None
    batch_posted_at: datetime | None

    @classmethod
    def of(cls, posting: Posting) -> BookedLine:
        return cls(
            stripe_id=posting.stripe_id,
            kind=posting.kind.value,
            state=posting.state.value,
            amount_minor=posting.amount_minor,
            currency=posting.currency,
            bc_line_id=posting.bc_line_id,
            record_id=posting.record_id,
            posted_at=posting.posted_at,
            batch_posted_at=posting.batch_posted_at,
        )


@dataclasses.dataclass(frozen=True)
class ReconciliationRow:
    balance_transaction: str
    status: RowStatus
    posting: BookedLine | None = None
    reason: str | None = None
    action: str | None = None
    #: None for a payout booked before the details were kept, or a transaction it did not list.
    stripe: StripeFigures | None = None
    #: For ``PAYOUT`` rows: which of the payout's lines booked it.
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class RecordSummary:
    """The record that tracks the payout: the story it links to and whether a person is due."""

    id: int
    state: str
    last_error: str | None
    todo: str | None
    #: The queue reason while the record waits for a person (None when nothing is due).
    needs_person: str | None
    #: A person marked the reason handled (the item left the queue).
    handled: bool


@dataclasses.dataclass(frozen=True)
class TrailEvent:
    created_at: datetime
    action: str
    summary: str
    outcome: str
    actor: str
    error: str | None


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    """One payout: figures, its transactions against the postings, BC lines and audit trail.

    ``payout`` is None for a payout announced but not paid yet: it has a record (and its trail)
    and nothing booked.
    """

    payout_id: str
    payout: PayoutRow | None
    record: RecordSummary | None
    rows: list[ReconciliationRow]
    #: The reversal booked when the bank returned the payout (``payout.failed``), if any.
    reversal: BookedLine | None
    events: list[TrailEvent]
    events_truncated: bool
    #: False for a payout booked before the connector kept its transactions (migration 0005):
    #: only the unmatched ones can be listed then.
    transactions_kept: bool
    #: False for a payout booked before the connector kept what each transaction was
    #: (migration 0009): its booked transactions show as matched, without their postings.
    details_kept: bool = True

    @property
    def unmatched(self) -> list[ReconciliationRow]:
        return [r for r in self.rows if r.status is RowStatus.UNMATCHED]

    @property
    def currency(self) -> str | None:
        return self.payout.currency if self.payout else None


def _record(session: Session, payout_id: str, payout: Payout | None) -> SyncRecord | None:
    """The payout's record: by the payout row's link, else by its unique business key."""
    if payout is not None and payout.record_id is not None:
        return session.get(SyncRecord, payout.record_id)
    return session.scalar(
        select(SyncRecord).where(
            SyncRecord.kind == RecordKind.PAYOUT,
            SyncRecord.business_key == f"stripe:payout:{payout_id}",
        )
    )


def _summary(record: SyncRecord) -> RecordSummary:
    flags: Mapping[str, Any] = record.flags or {}
    state = record.state.value
    due = raw_attention(state, flags)
    waiting = attention_of(state, flags)
    todo = flags.get("todo")
    return RecordSummary(
        id=record.id,
        state=state,
        last_error=record.last_error,
        todo=str(todo) if todo else None,
        needs_person=waiting,
        handled=due is not None and waiting is None,
    )


def _postings_by_id(session: Session, ids: Sequence[str]) -> dict[str, Posting]:
    """Postings whose Stripe id is one of ``ids`` (the unique index), a chunk per query."""
    found: dict[str, Posting] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        for posting in session.scalars(select(Posting).where(Posting.stripe_id.in_(chunk))):
            found[posting.stripe_id] = posting
    return found


def _figures(detail: Mapping[str, Any]) -> StripeFigures:
    def minor(name: str) -> int | None:
        value = detail.get(name)
        return None if value is None else int(value)

    source = detail.get("source")
    return StripeFigures(
        type=str(detail.get("type") or "unknown"),
        source=str(source) if source else None,
        amount_minor=minor("amount"),
        fee_minor=minor("fee"),
        net_minor=minor("net"),
    )


def _booked_by_payout(detail: Mapping[str, Any]) -> str | None:
    """Which of the payout's own lines booked a transaction no event booked; None: an event did."""
    if detail.get("type") in OWN_TYPES:
        return "the payout's transfer to the bank (its net line)"
    if is_fee_only(detail):
        return "a dispute's fee alone, booked with the payout's fees"
    return None


def _details(session: Session, payout_row_id: int) -> dict[str, dict[str, Any]]:
    """What the payout kept of each transaction, by id, in Stripe's field names."""
    kept = session.scalars(
        select(PayoutTransaction)
        .where(PayoutTransaction.payout_id == payout_row_id)
        .order_by(PayoutTransaction.position)
    )
    return {t.balance_transaction: t.as_stripe() for t in kept}


def _rows(
    session: Session, payout: Payout, details: Mapping[str, Mapping[str, Any]]
) -> list[ReconciliationRow]:
    """Each transaction in the order Stripe listed it, then unmatched ones the list lacks."""
    transactions = [str(t) for t in payout.transactions or []]
    reasons: dict[str, str] = {}
    for item in payout.unmatched or []:
        txn = str(item.get("balance_transaction") or "")
        reasons.setdefault(txn, str(item.get("reason") or "no reason recorded"))
    action = HAND_BOOKING.format(currency=payout.currency.upper())
    keys = {
        txn: booking_key(details[txn]) if txn in details else txn
        for txn in transactions
        if txn not in reasons
    }
    postings = _postings_by_id(session, sorted(set(keys.values())))
    rows: list[ReconciliationRow] = []
    for txn in transactions:
        detail = details.get(txn)
        figures = _figures(detail) if detail is not None else None
        if txn in reasons:
            rows.append(
                ReconciliationRow(txn, RowStatus.UNMATCHED, None, reasons[txn], action, figures)
            )
            continue
        posting = postings.get(keys[txn])
        by_payout = _booked_by_payout(detail) if detail is not None else None
        if by_payout is not None:
            rows.append(ReconciliationRow(txn, RowStatus.PAYOUT, stripe=figures, note=by_payout))
        elif posting is not None and _kind_fits(posting, detail):
            rows.append(
                ReconciliationRow(txn, RowStatus.BOOKED, BookedLine.of(posting), stripe=figures)
            )
        else:
            rows.append(ReconciliationRow(txn, RowStatus.MATCHED, stripe=figures))
    listed = set(transactions)
    rows += [
        ReconciliationRow(txn, RowStatus.UNMATCHED, None, reason, action)
        for txn, reason in reasons.items()
        if txn not in listed
    ]
    return rows


def _kind_fits(posting: Posting, detail: Mapping[str, Any] | None) -> bool:
    """The posting is the one the handler matched: the kind the transaction's type books as."""
    if detail is None:
        return True  # a posting keyed by the transaction's own id (a dispute's movement)
    return posting.kind.value == expected_kind(detail)


def _trail(session: Session, record_id: int) -> tuple[list[TrailEvent], bool]:
    """The record's audit trail, oldest first, over the (record_id, created_at) index."""
    found = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.record_id == record_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
            .limit(MAX_EVENTS + 1)
        )
    )
    events = [
        TrailEvent(e.created_at, e.action, e.summary, e.outcome.value, e.actor, e.error)
        for e in found[:MAX_EVENTS]
    ]
    return events, len(found) > MAX_EVENTS


def load_reconciliation(session: Session, payout_id: str) -> Reconciliation | None:
    """The payout's reconciliation; None when neither a payout row nor its record exists."""
    if not payout_id or len(payout_id) > MAX_PAYOUT_ID:
        return None
    payout = session.scalar(select(Payout).where(Payout.stripe_payout_id == payout_id))
    record = _record(session, payout_id, payout)
    if payout is None and record is None:
        return None
    details = _details(session, payout.id) if payout is not None else {}
    rows = _rows(session, payout, details) if payout is not None else []
    reversal = session.scalar(
        select(Posting).where(
            Posting.stripe_id == payout_id, Posting.kind == PostingKind.PAYOUT_FAILURE
        )
    )
    events, truncated = _trail(session, record.id) if record is not None else ([], False)
    kept = payout is None or payout.state is not PayoutState.POSTED or bool(payout.transactions)
    details_kept = payout is None or not payout.transactions or bool(details)
    return Reconciliation(
        payout_id=payout_id,
        payout=PayoutRow.of(payout) if payout is not None else None,
        record=_summary(record) if record is not None else None,
        rows=rows,
        reversal=BookedLine.of(reversal) if reversal is not None else None,
        events=events,
        events_truncated=truncated,
        transactions_kept=kept,
        details_kept=details_kept,
    )


# -- CSV -----------------------------------------------------------------------------------------


def decimal_text(minor: int | None, currency: str | None) -> str:
    """An exact decimal with the currency's own places (``12000`` JPY, ``5.125`` KWD), or ""."""
    if minor is None or not currency:
        return ""
    try:
        return str(from_minor(int(minor), currency))
    except MoneyError:
        # A currency the money table does not know: say what the number is rather than guess.
        return f"{int(minor)} minor units"


def _cell(value: object) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


PAYOUTS_HEADER = (
    "payout",
    "arrival_date",
    "state",
    "currency",
    "gross",
    "fees",
    "fx_difference",
    "net",
    "unmatched",
    "bc_fee_line",
    "bc_bank_line",
    "record",
    "booked_at",
)


def payouts_csv(rows: Iterable[PayoutRow]) -> str:
    """The list as CSV: one line per payout, amounts as exact decimals next to their currency."""
    return _csv(
        PAYOUTS_HEADER,
        (
            [
                _cell(r.payout_id),
                r.arrival_date.isoformat() if r.arrival_date else "",
                r.state.value,
                r.currency.upper(),
                decimal_text(r.gross_minor, r.currency),
                decimal_text(r.fee_minor, r.currency),
                decimal_text(r.fx_minor, r.currency),
                decimal_text(r.net_minor, r.currency),
                str(r.unmatched),
                _cell(r.fee_line_id),
                _cell(r.bank_line_id),
                str(r.record_id) if r.record_id is not None else "",
                r.created_at.isoformat(),
            ]
            for r in rows
        ),
    )


RECONCILIATION_HEADER = (
    "payout",
    "item",
    "balance_transaction",
    "type",
    "status",
    "stripe_amount",
    "stripe_fee",
    "stripe_net",
    "amount",
    "currency",
    "bc_line",
    "posting",
    "record",
    "reason",
    "what_to_do",
)


def _line(**cells: str) -> list[str]:
    """A reconciliation line from named cells; the ones not named stay empty."""
    unknown = set(cells) - set(RECONCILIATION_HEADER)
    if unknown:
        raise KeyError(f"no such column: {', '.join(sorted(unknown))}")
    return [cells.get(name, "") for name in RECONCILIATION_HEADER]


def _posting_cells(p: BookedLine) -> dict[str, str]:
    return {
        "amount": decimal_text(p.amount_minor, p.currency),
        "currency": p.currency.upper(),
        "bc_line": _cell(p.bc_line_id),
        "posting": _cell(p.stripe_id),
        "record": str(p.record_id),
    }


def reconciliation_csv(recon: Reconciliation) -> str:
    """One payout's reconciliation as CSV: its figures first, then each balance transaction.

    The figures' lines (``gross``, ``fees``, ``fx_difference``, ``net``) carry the BC line the
    payout wrote for them where it is kept; a transaction's line carries Stripe's type, amount,
    fee and net (in the payout's currency), then its posting (amount in the posting's currency,
    BC line, record) when an event booked it, which of the payout's lines booked it when the
    payout did, its reason and what to do when unmatched; a payout the bank returned ends with
    the reversal the connector booked.
    """
    pid = _cell(recon.payout_id)
    lines: list[list[str]] = []
    payout = recon.payout
    if payout is not None:
        record = str(payout.record_id) if payout.record_id is not None else ""
        for item, minor, bc_line in (
            ("gross", payout.gross_minor, None),
            ("fees", payout.fee_minor, payout.fee_line_id),
            ("fx_difference", payout.fx_minor, None),
            ("net", payout.net_minor, payout.bank_line_id),
        ):
            lines.append(
                _line(
                    payout=pid,
                    item=item,
                    status=payout.state.value,
                    amount=decimal_text(minor, payout.currency),
                    currency=payout.currency.upper(),
                    bc_line=_cell(bc_line),
                    record=record,
                )
            )
    currency = payout.currency if payout is not None else None
    for row in recon.rows:
        booked = _posting_cells(row.posting) if row.posting else {}
        figures = row.stripe
        stripe_cells = (
            {
                "type": _cell(figures.type),
                "stripe_amount": decimal_text(figures.amount_minor, currency),
                "stripe_fee": decimal_text(figures.fee_minor, currency),
                "stripe_net": decimal_text(figures.net_minor, currency),
            }
            if figures is not None
            else {}
        )
        lines.append(
            _line(
                payout=pid,
                item="balance_transaction",
                balance_transaction=_cell(row.balance_transaction),
                status=row.status.value,
                reason=_cell(row.reason or row.note),
                what_to_do=_cell(row.action),
                **stripe_cells,
                **booked,
            )
        )
    if recon.reversal is not None:
        reversal = recon.reversal
        lines.append(
            _line(payout=pid, item="reversal", status=reversal.state, **_posting_cells(reversal))
        )
    return _csv(RECONCILIATION_HEADER, lines)


def csv_filename(payout_id: str) -> str:
    """A download name safe in a Content-Disposition header, whatever the id holds."""
    safe = "".join(c for c in payout_id if c.isascii() and (c.isalnum() or c in "_-"))
    return f"payout-{safe[:80] or 'unknown'}.csv"
