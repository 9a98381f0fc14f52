"""The reconciler's tables (ARCHITECTURE §5): inbox, sync records, audit trail, links, postings.

These rows are the product's memory: which messages were consumed (``inbox``), what each synced
thing is and how far it got (``sync_records``), every step taken (``audit_events``, append-only),
which BC and Stripe objects are the same thing (``customer_links``, ``invoice_links``), which
Stripe payments and refunds were written to BC (``postings``) and how payouts were settled
(``payouts``). Uniqueness lives in the database, not in Python checks, so concurrent consumers
cannot create duplicates (style.md §3.7).

Money is exact: Stripe amounts are integer minor units (``BigInteger``) next to a lowercase ISO
currency; BC amounts are ``ExactDecimal``. Timestamps are aware UTC. States are ``StrEnum``
members stored as short strings (no native enum types and no CHECK constraints, so adding a
state never needs a migration). The schema itself is created by the Alembic migrations in
``reconciler/migrations``; a test asserts they agree with these models.
"""

from __future__ import annotations

import enum
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Date
from sqlalchemy import Enum
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import validates

from mlconnector.db import Base
from mlconnector.db import ExactDecimal
from mlconnector.db import JSONDocument
from mlconnector.db import UTCDateTime
from mlconnector.db import utcnow
from reconciler.attention import attention_of

# 64-bit ids on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" auto-increments (and is 64-bit).
BigId = BigInteger().with_variant(Integer(), "sqlite")

ENUM_LENGTH = 32


class MessageSource(enum.StrEnum):
    """Who published a consumed message."""

    STRIPE = "stripe"
    BC = "bc"
    RECONCILER = "reconciler"


class RecordKind(enum.StrEnum):
    """What a sync record tracks."""

    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    CUSTOMER = "customer"
    PAYMENT = "payment"
    REFUND = "refund"
    DISPUTE = "dispute"
    PAYOUT = "payout"
    # One currency's daily drift check (``reconciler.drift``).
    DRIFT = "drift"
    # A dead-lettered message that concerned no record yet (or could not even be read).
    MESSAGE = "message"


class RecordState(enum.StrEnum):
    """Where a sync record stands; ``failed`` and ``unmatched`` wait for a person or a replay."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNMATCHED = "unmatched"
    SKIPPED = "skipped"


class AuditAction(enum.StrEnum):
    """Usual audit actions; the column is a plain string so new actions need no migration."""

    RECEIVED = "received"
    FETCHED = "fetched"
    DECIDED = "decided"
    CALLED = "called"
    RESULT = "result"
    RETRIED = "retried"
    WAITING = "waiting"
    FAILED = "failed"
    REPLAYED = "replayed"
    RESOLVED = "resolved"


class AuditOutcome(enum.StrEnum):
    """How an audited step ended."""

    OK = "ok"
    ERROR = "error"
    SKIPPED = "skipped"
    RETRY = "retry"


class PostingKind(enum.StrEnum):
    """What a posting wrote to BC."""

    PAYMENT = "payment"
    # The cash leg of a refund (general journal, docs/accounting.md).
    REFUND = "refund"
    # One balance transaction of a dispute: funds withdrawn or reinstated.
    DISPUTE = "dispute"
    # A booked payout that Stripe then failed: its reversal.
    PAYOUT_FAILURE = "payout_failure"


class PostingState(enum.StrEnum):
    """Claim–act–confirm (reliability.md §4.1): claimed before the BC call, posted after it.

    A ``claimed`` row is free again once its lease has run out or was released.
    """

    CLAIMED = "claimed"
    POSTED = "posted"


class PayoutState(enum.StrEnum):
    """Progress of a payout's fee and bank journal lines."""

    PENDING = "pending"
    POSTED = "posted"
    FAILED = "failed"


def _enum_type(enum_class: type[enum.StrEnum]) -> Enum:
    """A StrEnum stored as its value in a VARCHAR; unknown strings are refused on write."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def normalise_currency(value: str | None) -> str | None:
    """ISO 4217 code in Stripe's lowercase form; anything but three letters is an error."""
    if value is None:
        return None
    code = value.strip().lower()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"currency must be a three-letter ISO code, got {value!r}")
    return code


class _CurrencyMixin:
    """Lowercases and checks every ``currency`` attribute set through the ORM."""

    @validates("currency")
    def _validate_currency(self, _key: str, value: str | None) -> str | None:
        return normalise_currency(value)


class InboxMessage(Base):
    """One consumed message; the unique message id makes redelivery harmless."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    message_type: Mapped[str] = mapped_column(String(128))
    source: Mapped[MessageSource] = mapped_column(_enum_type(MessageSource))
    routing_key: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[Any | None] = mapped_column(JSONDocument)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


# The console's Today page: the last message from each source is the end of this index.
Index("ix_inbox_source_first_seen_at", InboxMessage.source, InboxMessage.first_seen_at)


class SyncRecord(_CurrencyMixin, Base):
    """One thing being synced; ``business_key`` (e.g. ``stripe:pi_…``) makes it unique per kind."""

    __tablename__ = "sync_records"
    # The unique (kind, business_key) index also serves lookups by kind alone.
    __table_args__ = (UniqueConstraint("kind", "business_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[RecordKind] = mapped_column(_enum_type(RecordKind))
    business_key: Mapped[str] = mapped_column(String(255))
    state: Mapped[RecordState] = mapped_column(
        _enum_type(RecordState), default=RecordState.PENDING, index=True
    )
    bc_company_id: Mapped[str | None] = mapped_column(String(64))
    bc_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    bc_number: Mapped[str | None] = mapped_column(String(64))
    stripe_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    source_message_id: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Why a person must look at the record (``reconciler.attention``), None when nobody must:
    # kept by the ORM hook below, indexed with the id for the console's keyset pages.
    attention: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))


Index("ix_sync_records_attention_id", SyncRecord.attention, SyncRecord.id)
Index("ix_sync_records_bc_number", SyncRecord.bc_number)
# The console's search by amount and its Today page ("what moved since midnight"); with the
# link and inbox indexes below (migration 0008), measured by bench/console_pages.py.
Index("ix_sync_records_amount_minor", SyncRecord.amount_minor)
Index("ix_sync_records_updated_at", SyncRecord.updated_at)


@event.listens_for(SyncRecord, "before_insert")
@event.listens_for(SyncRecord, "before_update")
def _keep_attention(_mapper: Any, _connection: Any, record: SyncRecord) -> None:
    """Every ORM write of a record recomputes why it needs a person (state and flags)."""
    state = record.state.value if isinstance(record.state, enum.Enum) else record.state
    record.attention = attention_of(state, record.flags)


class AuditEvent(Base):
    """One step taken for a record or a message. Rows are only ever inserted."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "record_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("sync_records.id"))
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    summary: Mapped[str] = mapped_column(Text)
    request_summary: Mapped[Any | None] = mapped_column(JSONDocument)
    response_summary: Mapped[Any | None] = mapped_column(JSONDocument)
    outcome: Mapped[AuditOutcome] = mapped_column(_enum_type(AuditOutcome))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerLink(Base):
    """A BC customer and the Stripe customer that is the same party; unique on each side."""

    __tablename__ = "customer_links"
    __table_args__ = (UniqueConstraint("bc_company_id", "bc_customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bc_company_id: Mapped[str] = mapped_column(String(64))
    bc_customer_id: Mapped[str] = mapped_column(String(64))
    bc_customer_number: Mapped[str | None] = mapped_column(String(64))
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    # A digest of the name, e-mail and numbers last sent to Stripe for this customer: the same
    # digest next time means nothing changed, and the invoice push needs no Stripe call for it.
    synced_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The BC customer's name and e-mail as of the last sync (``handlers.customers``), so a
    # clerk finds a customer by what they know them as (issue 12). ``name_key`` and
    # ``email_key`` are the same in ``search_key`` form, kept by the validator below: the
    # console compares them with what was typed, folded the same way in Python, so the match
    # ignores case alike on SQLite and PostgreSQL. The name is matched anywhere in it (this
    # table is one row per customer), the e-mail whole, through its index.
    NAME_LENGTH = 255
    EMAIL_LENGTH = 320  # RFC 5321's limits: 64 for the local part, @, 255 for the domain
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    name_key: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    email_key: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), index=True)

    @staticmethod
    def search_key(value: str | None, limit: int = EMAIL_LENGTH) -> str | None:
        """``value`` as names and e-mails are searched: case-folded, white space runs as one.

        One function for what is stored and what is typed (and for a payer's details kept on
        an unmatched payment), so both sides always fold alike; None for nothing.
        """
        if not value:
            return None
        return " ".join(value.split()).casefold()[:limit] or None

    @validates("name", "email")
    def _keep_search_keys(self, key: str, value: str | None) -> str | None:
        """Every ORM write of the name or e-mail writes its search form with it."""
        limit = self.NAME_LENGTH if key == "name" else self.EMAIL_LENGTH
        value = (value.strip()[:limit] or None) if value else None
        if key == "name":
            self.name_key = self.search_key(value, limit)
        else:
            self.email_key = self.search_key(value, limit)
        return value


# The console's search by a customer's BC number.
Index("ix_customer_links_bc_customer_number", CustomerLink.bc_customer_number)


class InvoiceLink(_CurrencyMixin, Base):
    """A BC sales invoice and the Stripe invoice raised for it; unique on each side."""

    __tablename__ = "invoice_links"
    __table_args__ = (UniqueConstraint("bc_company_id", "bc_invoice_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bc_company_id: Mapped[str] = mapped_column(String(64))
    bc_invoice_id: Mapped[str] = mapped_column(String(64))
    bc_invoice_number: Mapped[str | None] = mapped_column(String(64))
    stripe_invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # What the push read from BC (``handlers.fast_path``): the invoice's customer (only when
    # the customer's currency is the invoice's), its open amount in minor units and BC's
    # lastModifiedDateTime. ``bc_changed_at``: when a later BC message showed the invoice
    # changed since (paid another way, credited, ...): from then on the payments for it are
    # checked against BC again instead of against these facts.
    bc_customer_id: Mapped[str | None] = mapped_column(String(64))
    bc_open_minor: Mapped[int | None] = mapped_column(BigInteger)
    bc_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bc_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Minor units Stripe was told were paid outside it (``handlers.paid_elsewhere``).
    paid_elsewhere_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# The console's search by BC invoice number, and by customer (the customer's invoices).
Index("ix_invoice_links_bc_invoice_number", InvoiceLink.bc_invoice_number)
Index("ix_invoice_links_bc_customer_id", InvoiceLink.bc_customer_id)


class Posting(_CurrencyMixin, Base):
    """One Stripe payment or refund written to BC; the unique Stripe id stops a second line."""

    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[PostingKind] = mapped_column(_enum_type(PostingKind))
    state: Mapped[PostingState] = mapped_column(
        _enum_type(PostingState), default=PostingState.CLAIMED
    )
    record_id: Mapped[int] = mapped_column(ForeignKey("sync_records.id"), index=True)
    bc_company_id: Mapped[str] = mapped_column(String(64))
    bc_invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    bc_journal_id: Mapped[str | None] = mapped_column(String(64))
    bc_line_id: Mapped[str | None] = mapped_column(String(64))
    # BC sign: a customer payment line is negative, a refund line positive.
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the batch poster posted the journal batch holding the line (None: not yet, or the
    # batch waits for review in BC).
    batch_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lease (see ``store``): which handling attempt may write the line, and until when.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many handling attempts claimed the posting. The first cannot find a line an earlier
    # attempt wrote (there was none), so it skips bc-gateway's look-before-write.
    write_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Payout(_CurrencyMixin, Base):
    """One Stripe payout: its totals, the fee and bank journal lines, what could not be matched."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stripe_payout_id: Mapped[str] = mapped_column(String(255), unique=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("sync_records.id"), index=True)
    bc_company_id: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    net_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[PayoutState] = mapped_column(_enum_type(PayoutState), default=PayoutState.PENDING)
    arrival_date: Mapped[date | None] = mapped_column(Date)
    fee_line_id: Mapped[str | None] = mapped_column(String(64))
    bank_line_id: Mapped[str | None] = mapped_column(String(64))
    # [{"balance_transaction": "txn_…", "reason": "…"}, …]
    unmatched: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    # The balance transactions the payout settled (the drift check's "paid out"), and the FX
    # difference it booked.
    transactions: Mapped[list[str]] = mapped_column(JSONDocument, default=list, server_default="[]")
    fx_minor: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PayoutTransaction(Base):
    """One balance transaction a payout settled: what it was, and the Stripe object behind it.

    Kept when the payout is booked, in Stripe's order (``position``). ``source`` is the charge,
    refund or dispute the money moved for; its index answers "which payout paid this charge
    out" for an invoice's story, and ``payout_plan.booking_key`` of a row finds the posting
    that booked it for the payout's page. Amounts are Stripe's, in the payout's currency.
    """

    __tablename__ = "payout_transactions"
    __table_args__ = (UniqueConstraint("payout_id", "balance_transaction"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"))
    position: Mapped[int] = mapped_column(Integer)
    balance_transaction: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    reporting_category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    net_minor: Mapped[int | None] = mapped_column(BigInteger)

    def as_stripe(self) -> dict[str, Any]:
        """The row in the balance transaction's own field names (for ``payout_plan``)."""
        return {
            "id": self.balance_transaction,
            "type": self.type,
            "reporting_category": self.reporting_category,
            "source": self.source,
            "amount": self.amount_minor,
            "fee": self.fee_minor,
            "net": self.net_minor,
        }


class DeadLetter(Base):
    """A message the broker parked in the dead-letter queue, kept whole for a person.

    ``dead_key`` identifies one parking (the message, its body and the death the broker
    recorded), so recording it again after a crash adds nothing. The body is kept as bytes,
    exactly as it arrived, even when it cannot be parsed. ``record_id`` is the record it
    concerns (a failed record created for it when it concerned none).
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dead_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    message_type: Mapped[str | None] = mapped_column(String(128))
    routing_key: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    queue: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[Any | None] = mapped_column(JSONDocument)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("sync_records.id"), index=True)
    dead_lettered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class JournalBatch(Base):
    """A BC journal batch the connector posts, and the lease of the one poster posting it.

    Every line confirmed in the batch adds one to ``written_seq``; a post that succeeds sets
    ``posted_seq`` to the ``written_seq`` it saw when it started, so the batch waits for a post
    exactly while ``written_seq > posted_seq`` (counters, not clocks: consumers on different
    hosts need not agree on the time). ``claimed_by`` / ``lease_expires_at`` let exactly one
    poster across all consumer processes post the batch at a time (issue 11, finding 4).
    """

    __tablename__ = "journal_batches"

    journal: Mapped[str] = mapped_column(String(20), primary_key=True)
    written_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    posted_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
