"""Customer payment and refund lines, written at most once per external document number.

BC has no idempotency key (reliability.md finding 3), so every write is look-before-write:

1. the unposted lines of the connector's batch are searched for the external document number
   (BC upper-cases that Code[35] field, so the gateway upper-cases it first);
2. the G/L entries are searched for the line's document number: posted lines leave their batch,
   and the gateway derives that number deterministically from the external document number;
3. only then is the line created.

A payment is a ``customerPayments`` line with a **negative** amount applied to the posted invoice
(``appliesToInvoiceId``), in the payment batch. A refund goes to the separate refund batch with a
**positive** amount for the invoice's customer: the standard API forces Document Type Payment on
``customerPayments`` and has no refund journal (bc-api.md §9.7), so a refund line is never
posted by the connector; a person turns it into a Refund in BC (or a custom API page does), which
is why it lives in its own batch. Concurrent calls for the same key inside one process are
serialised; across processes the reconciler's claim on the business key does that.

What a line may carry is checked before anything is written (issue 10): the journal is the
configured one for its kind, the amount is finite, bounded and has no more decimals than its
currency (``mlconnector.validators``), and a payment is at most what BC says remains open on the
invoice, read in the same request, unless the command says it is an overpayment the reconciler
flagged (``overpayment``). That last check runs after the look-ups, so a retry of a line that
was written (or posted, which lowers the remaining amount) still answers with that line.

A command that carries ``known`` facts (``KnownInvoice``) is the line's first write, which the
reconciler vouches for from its own records (issue 15): the invoice read and both look-ups are
skipped, and the write is the only BC call; lines written at the same moment share one
``$batch`` request (``line_batching``). Every retry comes without them and takes the way
above, so a crash between the write and its confirmation still cannot make a second line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.odata import odata_string
from bc_gateway.journals import PAYMENT_BATCHES
from bc_gateway.journals import BatchDirectory
from bc_gateway.journals import configured_journal
from bc_gateway.journals import document_number
from bc_gateway.journals import document_posted
from bc_gateway.line_batching import LineBatcher
from bc_gateway.rejections import Rejected
from bc_gateway.services import BLANK_GUID
from bc_gateway.services import LocalCurrency
from bc_gateway.services import amount
from mlconnector.clearing import CurrencyClearing
from mlconnector.validators import check_currency_amount

logger = logging.getLogger(__name__)

PAYMENT = "payment"
REFUND = "refund"
_PREFIX = {PAYMENT: "SP", REFUND: "SR"}


@dataclasses.dataclass(frozen=True)
class Books:
    """Which batches and accounts the connector writes to (from settings)."""

    payment_journal: str
    refund_journal: str
    general_journal: str
    clearing_account: str | None
    # Currencies Stripe settles as charged: their payment batch, balanced by a bank account in
    # that currency, which a person sets up in BC (``mlconnector.clearing``).
    currency_clearing: Mapping[str, CurrencyClearing] = dataclasses.field(default_factory=dict)

    def payment_journals(self) -> dict[str, str]:
        """Every payment batch the connector may write to and post, by the setting naming it."""
        return {
            "MLC_BC_PAYMENT_JOURNAL": self.payment_journal,
            **{
                f"MLC_CURRENCY_CLEARING[{currency}]": clearing.journal
                for currency, clearing in self.currency_clearing.items()
            },
        }

    def currency_journal(self, code: str) -> CurrencyClearing | None:
        """The currency batch named ``code``, if it is one."""
        return next((c for c in self.currency_clearing.values() if c.journal == code.upper()), None)


@dataclasses.dataclass(frozen=True)
class KnownInvoice:
    """What the reconciler vouches for on a line's first write (its ``handlers.fast_path``).

    No earlier attempt can have written the line, the invoice is one the connector pushed and
    BC has not changed since, its customer's currency is the invoice's, and the payment fits
    in what is open: so the invoice read and both look-ups are skipped and the write is the
    only call. Anything the reconciler cannot vouch for comes without it.
    """

    customer_id: str
    invoice_number: str
    invoice_currency: str


@dataclasses.dataclass(frozen=True)
class CustomerLine:
    """A payment (negative amount) or refund (positive amount) for one BC invoice."""

    kind: str
    bc_invoice_id: str
    amount: Decimal
    currency: str
    external_document_number: str
    posting_date: dt.date
    description: str = ""
    journal: str | None = None
    # The reconciler flagged this payment as more than the invoice has open: write it anyway.
    overpayment: bool = False
    known: KnownInvoice | None = None


class _KeyLocks:
    """Striped locks: one of a fixed set per idempotency key, so memory stays bounded."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def get(self, key: str) -> threading.Lock:
        digest = hashlib.sha256(key.encode()).digest()
        return self._locks[int.from_bytes(digest[:4], "big") % len(self._locks)]


_locks = _KeyLocks()
_batcher = LineBatcher()


def record_customer_line(
    line: CustomerLine,
    *,
    bc: BCClient,
    books: Books,
    lcy: LocalCurrency,
    batches: BatchDirectory,
) -> dict[str, Any]:
    """Create the line unless it exists (unposted) or was posted; say which happened.

    The result also carries the invoice's number, currency and remaining amount as read before
    the line was written, so the caller needs no read of its own (overpayment, audit story).
    """
    _check_amount(line)
    journal = configured_journal(
        line.journal,
        books.payment_journals()
        if line.kind == PAYMENT
        else {"MLC_BC_REFUND_JOURNAL": books.refund_journal},
        purpose=f"{line.kind}s",
    )
    _check_journal_currency(line, books, journal)
    external = line.external_document_number.strip().upper()
    number = document_number(_PREFIX[line.kind], f"{line.kind}:{external}")
    if line.known is not None:
        # The reconciler's lease makes this attempt the line's only writer: no key lock.
        return _write_known(line, line.known, bc, books, batches, journal, external, number)
    with _locks.get(f"{journal}:{external}"):
        invoice = _invoice(bc, line.bc_invoice_id)
        currency = _check_currency(line, invoice, lcy.code(bc))
        remaining = amount(invoice.get("remainingAmount", 0))
        result: dict[str, Any] = {
            "journal": journal,
            "external_document_number": external,
            "document_number": number,
            "line_id": None,
            "created": False,
            "already_posted": False,
            "invoice_number": str(invoice.get("number") or ""),
            "invoice_currency": currency,
            "invoice_remaining_amount": remaining,
        }
        # A refused payment must not leave a new batch behind: look, but create nothing.
        too_much = line.kind == PAYMENT and not line.overpayment and _over(line, remaining)

        def look(found: Entity) -> tuple[Entity | None, Entity | None]:
            return found, _find_line(bc, str(found["id"]), external)

        def no_batch() -> tuple[Entity | None, Entity | None]:
            return None, None

        batch, existing = batches.with_batch(
            bc,
            PAYMENT_BATCHES,
            journal,
            look,
            create=not too_much and books.currency_journal(journal) is None,
            clearing_account=books.clearing_account,
            if_missing=no_batch if too_much else _missing_batch(books, journal),
        )
        if batch is not None:
            result["journal_id"] = batch["id"]
        if existing is not None:
            result["line_id"] = existing["id"]
            return result
        if document_posted(bc, number):
            result["already_posted"] = True
            return result
        if too_much or batch is None:
            raise _exceeds_remaining(line, invoice, remaining)
        body = _line_body(line, str(invoice["customerId"]), str(invoice["id"]), number, external)
        created = _create(bc, batch, body, line, journal, external)
        result.update(line_id=created["id"], created=True)
        return result


def _write_known(
    line: CustomerLine,
    known: KnownInvoice,
    bc: BCClient,
    books: Books,
    batches: BatchDirectory,
    journal: str,
    external: str,
    number: str,
) -> dict[str, Any]:
    """The first write of a line on what the reconciler knows: one call (``KnownInvoice``)."""
    if line.currency.upper() != known.invoice_currency.upper():
        raise Rejected(
            "currency_mismatch",
            f"the {line.kind} is in {line.currency.upper()} but invoice "
            f"{known.invoice_number} is in {known.invoice_currency.upper()}",
        )
    body = _line_body(line, known.customer_id, line.bc_invoice_id, number, external)

    def write(batch: Entity) -> tuple[Entity, Entity]:
        return batch, _create(bc, batch, body, line, journal, external, batched=True)

    batch, created = batches.with_batch(
        bc,
        PAYMENT_BATCHES,
        journal,
        write,
        create=books.currency_journal(journal) is None,
        clearing_account=books.clearing_account,
        if_missing=_missing_batch(books, journal),
    )
    return {
        "journal": journal,
        "journal_id": batch["id"],
        "external_document_number": external,
        "document_number": number,
        "line_id": created["id"],
        "created": True,
        "already_posted": False,
        "invoice_number": known.invoice_number,
        "invoice_currency": known.invoice_currency.upper(),
        "invoice_remaining_amount": None,
    }


def _check_journal_currency(line: CustomerLine, books: Books, journal: str) -> None:
    """A currency batch books in its bank account's currency: other payments are refused.

    BC would refuse it too, at the line's insert ("Currency Code must be equal to ..." from
    table 81 ``GetBankBalAccount``), but only after the batch look-up; this costs no call.
    """
    clearing = books.currency_journal(journal)
    if clearing is not None and clearing.currency != line.currency.lower():
        raise Rejected(
            "currency_mismatch",
            f"batch {journal} books {clearing.currency.upper()} (bank account "
            f"{clearing.bank_account}), not {line.currency.upper()}",
            field="journal",
        )


def _missing_batch(books: Books, journal: str) -> Callable[[], Any]:
    """What a missing currency batch means: a set-up step in BC, said in plain words."""
    clearing = books.currency_journal(journal)

    def refuse() -> Any:
        if clearing is None:
            raise Rejected("not_found", f"BC has no journal batch {journal}", status=404)
        raise Rejected(
            "not_found",
            f"BC has no cash receipt journal batch {journal}: create it with bank account "
            f"{clearing.bank_account} (in {clearing.currency.upper()}) as its balancing account "
            "(docs/accounting.md)",
            status=404,
        )

    return refuse


def _line_body(
    line: CustomerLine, customer_id: str, invoice_id: str, number: str, external: str
) -> dict[str, Any]:
    """The ``customerPayments`` line: a payment is applied to its invoice, a refund is not."""
    body: dict[str, Any] = {
        "customerId": customer_id,
        "postingDate": line.posting_date,
        "documentNumber": number,
        "externalDocumentNumber": external,
        "amount": line.amount,
        "description": (line.description or f"Stripe {line.kind} {external}")[:100],
    }
    if line.kind == PAYMENT:
        body["appliesToInvoiceId"] = invoice_id
    return body


def _create(
    bc: BCClient,
    batch: Entity,
    body: dict[str, Any],
    line: CustomerLine,
    journal: str,
    external: str,
    *,
    batched: bool = False,
) -> Entity:
    """Create the line; ``batched``: beside the lines written at the same moment, if any."""
    path = bc.company_path(f"{PAYMENT_BATCHES}({batch['id']})/customerPayments")
    created = _batcher.create(bc, path, body) if batched else bc.create(path, body)
    logger.info("created %s line %s in %s for %s", line.kind, created["id"], journal, external)
    return created


def _check_amount(line: CustomerLine) -> None:
    """Sign, range and decimals, again here so no entry point can skip them."""
    if line.kind == PAYMENT and line.amount >= 0:
        raise Rejected(
            "validation_failed", "a customer payment amount must be negative", field="amount"
        )
    if line.kind == REFUND and line.amount <= 0:
        raise Rejected(
            "validation_failed", "a customer refund amount must be positive", field="amount"
        )
    try:
        check_currency_amount(line.amount, line.currency)
    except ValidationError as exc:
        messages = exc.messages
        reason = messages[0] if isinstance(messages, list) else str(messages)
        raise Rejected("validation_failed", str(reason), field="amount") from None


def _over(line: CustomerLine, remaining: Decimal) -> bool:
    """Whether the payment (negative, BC's sign) is more than the invoice has open."""
    return line.amount.copy_negate() > remaining


def _exceeds_remaining(line: CustomerLine, invoice: Entity, remaining: Decimal) -> Rejected:
    paid = line.amount.copy_negate()
    return Rejected(
        "amount_exceeds_remaining",
        f"a payment of {paid} {line.currency.upper()} is more than the {remaining} BC says "
        f"remains on invoice {invoice.get('number')}; send overpayment: true if the reconciler "
        "flagged it as an overpayment",
        field="amount",
        details={
            "invoice_number": str(invoice.get("number") or ""),
            "invoice_remaining_amount": str(remaining),
        },
    )


def _invoice(bc: BCClient, invoice_id: str) -> Entity:
    """The invoice with its customer, in one request."""
    return bc.get(
        bc.company_path(f"salesInvoices({invoice_id})"),
        {
            "$select": "id,number,status,customerId,customerNumber,currencyCode,remainingAmount",
            "$expand": "customer($select=id,number,currencyCode)",
        },
    )


def _check_currency(line: CustomerLine, invoice: Entity, lcy: str) -> str:
    """The amount is in the invoice's currency, and BC books it in the customer's: all equal."""
    currency = str(invoice.get("currencyCode") or lcy).upper()
    if line.currency.upper() != currency:
        raise Rejected(
            "currency_mismatch",
            f"the {line.kind} is in {line.currency.upper()} but invoice "
            f"{invoice.get('number')} is in {currency}",
        )
    customer = invoice.get("customer")
    if invoice.get("customerId") in (None, "", BLANK_GUID) or not isinstance(customer, dict):
        raise Rejected("validation_failed", f"invoice {invoice.get('number')} has no customer")
    customer_currency = str(customer.get("currencyCode") or lcy).upper()
    if customer_currency != currency:
        # customerPayments has no currency field: BC would read the amount in the customer's
        # currency (bc-api.md §9.6), which is not the currency the amount is in.
        raise Rejected(
            "currency_mismatch",
            f"customer {customer.get('number')} is in {customer_currency} but invoice "
            f"{invoice.get('number')} is in {currency}",
        )
    return currency


def _find_line(bc: BCClient, batch_id: str, external: str) -> Entity | None:
    path = bc.company_path(f"{PAYMENT_BATCHES}({batch_id})/customerPayments")
    query = {"$filter": f"externalDocumentNumber eq {odata_string(external)}"}
    for page in bc.pages(path, query):
        for line in page:
            return line
    return None
