"""Push a posted BC invoice to Stripe: draft, all lines in one call, total check, finalize.

Every write carries a key derived from the BC company id, the BC invoice id and the step
(``mlc:{company}:{invoice}:create-draft`` / ``add-lines`` / ``finalize``), so the command is
safe to retry and to run concurrently:

- Three copies of one command running at once send the same three keys. Stripe executes each
  key once; a copy that arrives while the key is in flight gets 409 ``idempotency_key_in_use``,
  retries, and then receives the stored result. One invoice, one set of lines.
- A retry after a crash between steps replays ``create-draft`` (Stripe answers with the stored
  invoice and ``Idempotent-Replayed: true``); the gateway then re-reads the invoice and carries
  on from where it stands: no second draft, lines not added twice, finalize only if still a
  draft. For an already-linked customer a first push is exactly three calls; the re-read costs a
  fourth call only on a replay.
- Stripe keeps a key's first response for 24 h, *including a 5xx*. A step whose stored result is
  a server error would replay that error forever, so after such a replay the gateway re-reads
  the state and, if the step is still needed, moves to the next key generation (``…:g1``, then
  ``…:g2``). Concurrent copies see the same replay and pick the same generation, so they still
  share a key. When the command says it is a retry (``attempt > 1``) or a stored error hides the
  draft's fate, the customer's invoices are listed and a draft carrying this BC invoice id in its
  metadata is resumed: this also covers a retry more than 24 h later, after the keys expired.

Before anything is sent, the amounts are checked with ``mlconnector.money`` (known currency,
lines summing to the expected total, a total Stripe can charge: three-decimal currencies end in
0, ISK in whole units). After ``add_lines`` Stripe's own ``total`` must equal the expected total;
otherwise the invoice stays a draft and the command fails with ``total_mismatch``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

import stripe

from mlconnector import money
from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.errors import TotalMismatch
from stripe_gateway.services import recovery
from stripe_gateway.stripe_errors import Disposition

logger = logging.getLogger(__name__)

GENERATIONS = 3  # key generations tried when a stored server error keeps replaying
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class InvoiceLine:
    description: str
    amount_minor: int  # the line total; negative for a discount line
    quantity: int | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        line: dict[str, Any] = {"amount": self.amount_minor, "description": self.description}
        if self.quantity is not None:
            line["quantity"] = self.quantity
        if self.metadata:
            line["metadata"] = dict(self.metadata)
        return line


@dataclasses.dataclass(frozen=True)
class PushInvoice:
    """A posted BC sales invoice, already translated to Stripe minor units."""

    bc_company_id: str
    bc_invoice_id: str
    bc_invoice_number: str
    bc_customer_number: str
    stripe_customer_id: str
    currency: str
    days_until_due: int
    lines: tuple[InvoiceLine, ...]
    expected_total_minor: int
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    attempt: int = 1

    def key(self, step: str) -> str:
        return f"mlc:{self.bc_company_id}:{self.bc_invoice_id}:{step}"

    def invoice_metadata(self) -> dict[str, str]:
        return {
            **self.metadata,
            "bc_company_id": self.bc_company_id,
            "bc_invoice_id": self.bc_invoice_id,
            "bc_invoice_number": self.bc_invoice_number,
            "bc_customer_number": self.bc_customer_number,
        }


@dataclasses.dataclass(frozen=True)
class PushedInvoice:
    invoice: stripe.Invoice
    created: bool  # this call created the draft
    resumed: bool  # this call continued an invoice from an earlier attempt
    finalized: bool  # this call finalized it


def check_amounts(cmd: PushInvoice) -> str:
    """Validate currency and amounts before any Stripe call; return the wire currency."""
    try:
        currency = money.normalize_currency(cmd.currency)
        rules = money.rules(currency)
    except money.MoneyError as exc:
        raise ApiError(str(exc), status_code=422, code="validation_failed") from None
    lines_total = sum(line.amount_minor for line in cmd.lines)
    if lines_total != cmd.expected_total_minor:
        raise TotalMismatch(
            expected_minor=cmd.expected_total_minor, actual_minor=lines_total, source="lines"
        )
    if cmd.expected_total_minor < 0:
        raise ApiError(
            "an invoice total cannot be negative", status_code=422, code="validation_failed"
        )
    if cmd.expected_total_minor % rules.charge_step:
        shown = money.format_amount(cmd.expected_total_minor, currency)
        raise ApiError(
            f"{shown} cannot be charged through Stripe: the total in minor units must be a "
            f"multiple of {rules.charge_step}",
            status_code=422,
            code="validation_failed",
        )
    return currency


def _has_lines(invoice: stripe.Invoice) -> bool:
    lines = invoice.lines
    return bool(lines is not None and (lines.data or lines.has_more))


def _stored_failure(exc: StripeCallError) -> bool:
    """Stripe replayed a stored server error: the same key can never succeed."""
    return exc.verdict.replayed and exc.verdict.disposition is Disposition.RETRYABLE


def generation_key(base: str, generation: int) -> str:
    """``base`` for the first generation, ``base:g1``, ``base:g2``... after stored errors."""
    return f"{base}:g{generation}" if generation else base


def by_generation(
    base_key: str,
    act: Callable[[str], T],
    settled: Callable[[], T | None],
) -> T:
    """Run ``act`` under ``base_key``; after a benign error or a replayed stored error, re-read
    (``settled`` returns the outcome if the step's effect is already there) and otherwise try
    the next key generation."""
    for generation in range(GENERATIONS):
        key = generation_key(base_key, generation)
        try:
            return act(key)
        except StripeCallError as exc:
            benign = exc.verdict.disposition is Disposition.BENIGN
            if not (benign or _stored_failure(exc)):
                raise
            outcome = settled()
            if outcome is not None:
                return outcome
            if benign or generation + 1 == GENERATIONS:
                raise
            logger.warning("stored error replayed for key %s; trying the next generation", key)
    raise AssertionError("unreachable")  # pragma: no cover


def find_existing(client: StripeClient, cmd: PushInvoice) -> stripe.Invoice | None:
    """The invoice an earlier attempt made for this BC invoice, preferring any non-void one."""
    return recovery.find_bc_invoice(
        client,
        bc_company_id=cmd.bc_company_id,
        bc_invoice_id=cmd.bc_invoice_id,
        stripe_customer_id=cmd.stripe_customer_id,
    ).invoice


def create_draft(
    client: StripeClient, cmd: PushInvoice, currency: str
) -> tuple[stripe.Invoice, bool]:
    """The draft for this BC invoice: found, replayed or new; ``True`` when created now."""
    if cmd.attempt > 1:
        existing = find_existing(client, cmd)
        if existing is not None:
            return existing, False
    params = {
        "customer": cmd.stripe_customer_id,
        "currency": currency,
        "collection_method": "send_invoice",
        "days_until_due": cmd.days_until_due,
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",
        "metadata": cmd.invoice_metadata(),
    }
    created: list[bool] = []

    def act(key: str) -> stripe.Invoice:
        invoice, replayed = client.create_invoice(params, idempotency_key=key)
        if replayed:  # the stored snapshot is stale: read what the invoice looks like now
            return client.retrieve_invoice(invoice.id)
        created.append(True)
        return invoice

    invoice = by_generation(cmd.key("create-draft"), act, lambda: find_existing(client, cmd))
    return invoice, bool(created)


def add_lines(client: StripeClient, cmd: PushInvoice, invoice: stripe.Invoice) -> stripe.Invoice:
    """Add every line in one ``add_lines`` call (Stripe applies them atomically)."""
    lines = [line.params() for line in cmd.lines]

    def settled() -> stripe.Invoice | None:
        current = client.retrieve_invoice(invoice.id)
        return current if current.status != "draft" or _has_lines(current) else None

    return by_generation(
        cmd.key("add-lines"),
        lambda key: client.add_invoice_lines(invoice.id, lines, idempotency_key=key),
        settled,
    )


def finalize(client: StripeClient, cmd: PushInvoice, invoice: stripe.Invoice) -> stripe.Invoice:
    def settled() -> stripe.Invoice | None:
        current = client.retrieve_invoice(invoice.id)
        return current if current.status != "draft" else None

    return by_generation(
        cmd.key("finalize"),
        lambda key: client.finalize_invoice(invoice.id, idempotency_key=key),
        settled,
    )


def push_invoice(client: StripeClient, cmd: PushInvoice) -> PushedInvoice:
    """Create (or resume), fill, check and finalize the Stripe invoice of a BC invoice."""
    currency = check_amounts(cmd)
    invoice, created = create_draft(client, cmd, currency)
    if invoice.status != "draft":
        logger.info(
            "invoice %s for BC %s is already %s", invoice.id, cmd.bc_invoice_number, invoice.status
        )
        return PushedInvoice(invoice, created=False, resumed=True, finalized=False)
    if not _has_lines(invoice):
        invoice = add_lines(client, cmd, invoice)
    if invoice.status != "draft":  # finalized by a concurrent copy of this command
        return PushedInvoice(invoice, created=created, resumed=not created, finalized=False)
    if invoice.total != cmd.expected_total_minor:
        raise TotalMismatch(
            expected_minor=cmd.expected_total_minor,
            actual_minor=invoice.total,
            source="stripe",
            stripe_invoice_id=invoice.id,
        )
    invoice = finalize(client, cmd, invoice)
    logger.info("invoice %s for BC %s is %s", invoice.id, cmd.bc_invoice_number, invoice.status)
    return PushedInvoice(invoice, created=created, resumed=not created, finalized=True)


def void_invoice(client: StripeClient, invoice_id: str) -> stripe.Invoice:
    """Void a finalized invoice; voiding an already void one answers with it."""
    return _transition(client, invoice_id, "void", "void", client.void_invoice)


def mark_paid_out_of_band(client: StripeClient, invoice_id: str) -> stripe.Invoice:
    """Mark an open invoice paid outside Stripe; an already paid one answers with it."""
    return _transition(
        client, invoice_id, "paid", "pay-out-of-band", client.pay_invoice_out_of_band
    )


def _transition(
    client: StripeClient,
    invoice_id: str,
    target: str,
    step: str,
    act: Callable[..., stripe.Invoice],
) -> stripe.Invoice:
    def settled() -> stripe.Invoice | None:
        current = client.retrieve_invoice(invoice_id)
        return current if current.status == target else None

    return by_generation(
        f"mlc:{invoice_id}:{step}", lambda key: act(invoice_id, idempotency_key=key), settled
    )
