"""``salesCreditMemos({id})/Microsoft.NAV.post`` (and ``postAndSend``, which posts the same way).

Page 30038 ``Post`` (microsoft/ALAppExtensions
``Apps/W1/APIV2/app/src/pages/APIV2SalesCreditMemos.Page.al``): a posted credit memo refuses it
("The action can be applied to a draft credit memo only."), a draft without lines too ("Please
add at least one line item to the credit memo."); then Sales-Post runs. Posting keeps the ``id``
(codeunit 5508 ``OnBeforeSalesCrMemoHeaderInsert`` renames the buffer record and stores the
draft's SystemId as "Draft Cr. Memo SystemId"), assigns the next number of the posted credit
memo series (``PS-CR104001``...), writes a customer ledger entry of document type Credit Memo for
minus the total including tax and the invoice's G/L entries with opposite signs
(``document_posting.py``). A customer blocked with type All cannot get one; Invoice does not
block credit memos (table 18 ``CheckBlockedCustOnDocs``).

**Application to the invoice.** Sales-Post passes "Applies-to Doc. Type"/"Applies-to Doc. No."
(the API's ``invoiceId``/``invoiceNumber``) to codeunit 12 "Gen. Jnl.-Post Line" (microsoft/
BCApps ``src/Layers/W1/BaseApp/Finance/GeneralLedger/Posting/GenJnlPostLine.Codeunit.al``).
``PrepareTempCustLedgEntry`` looks for the customer's *open* entry of that document type and
number with ``FindFirst()`` -- none (another customer's invoice, a closed or an unknown one)
fails the posting -- and ``CheckAgainstApplnCurrency`` refuses another currency unless "Appln.
between Currencies" allows it (``application.py``). ``PostApply`` then applies at most what is
open on the invoice; what the credit memo has beyond that stays open on its own entry. The
invoice turns ``Paid`` once its entry is closed (codeunit 5477/5508 refresh the status on Cust.
Ledger Entry changes) and gets an ``updated`` notification, as the credit memo does.

Everything is checked before anything is written (BC posts in one transaction);
``prepare_posting`` / ``complete_posting`` let ``invoice_cancel.py`` check a corrective credit
memo fully before creating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bc_emulator.amounts import compute_totals
from bc_emulator.application import applied_amounts
from bc_emulator.application import check_application_currency
from bc_emulator.document_posting import check_postable
from bc_emulator.document_posting import document_gl_lines
from bc_emulator.document_posting import posting_date
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.ledger import GLLine
from bc_emulator.ledger import add_cust_entry
from bc_emulator.ledger import check_gl_accounts
from bc_emulator.ledger import write_gl
from bc_emulator.models import CustLedgerEntry
from bc_emulator.models import SalesCreditMemo
from bc_emulator.models import SalesInvoice

ZERO = Decimal(0)
_BLOCKS_CREDIT_MEMOS = frozenset({"All"})


@dataclass(frozen=True)
class Application:
    """The open invoice entry a credit memo applies to, and the amounts on each side."""

    invoice: SalesInvoice
    entry: CustLedgerEntry
    applied_to_invoice: Decimal
    used_of_credit_memo: Decimal


@dataclass(frozen=True)
class CreditMemoPosting:
    """A checked credit memo posting, ready to be written."""

    memo: SalesCreditMemo
    gl_lines: list[GLLine]
    total: Decimal
    posted_on: date
    application: Application | None


def _no_open_entry(memo: SalesCreditMemo) -> BCError:
    """``FindFirst`` on the filtered Cust. Ledger Entry found nothing (emulator's rendering)."""
    return BCError(
        400,
        "Internal_RecordNotFound",
        "There is no Cust. Ledger Entry within the filter.  Filters: Customer No.: "
        f"{memo.customer_number}, Document Type: Invoice, Document No.: "
        f"{memo.applies_to_number}, Open: Yes",
    )


def _application(scope: Scope, memo: SalesCreditMemo, total: Decimal) -> Application | None:
    if not memo.applies_to_number:
        return None
    company = scope.co
    entry = next(
        (
            e
            for e in company.cust_entries
            if e.document_type == "Invoice"
            and e.document_number == memo.applies_to_number
            and e.customer_id == memo.customer_id
            and e.open
        ),
        None,
    )
    if entry is None:
        raise _no_open_entry(memo)
    check_application_currency(company, memo.currency_code, entry.currency_code)
    applied, used = applied_amounts(
        company, total, memo.currency_code, entry.remaining, entry.currency_code
    )
    return Application(company.invoices[entry.invoice_id], entry, applied, used)


def prepare_posting(scope: Scope, memo: SalesCreditMemo) -> CreditMemoPosting:
    """Every check of the posting; raises BC's error or returns what to write."""
    if memo.posted:
        raise dialog("The action can be applied to a draft credit memo only.")
    check_postable(scope, memo, "credit memo", _BLOCKS_CREDIT_MEMOS)
    gl_lines = document_gl_lines(scope, memo, "Credit Memo", sign=-1)
    check_gl_accounts(scope, gl_lines)
    total = compute_totals(scope.co, memo).total_including_tax
    application = _application(scope, memo, total)
    return CreditMemoPosting(memo, gl_lines, total, posting_date(scope, memo), application)


def credit_memo_status(memo: SalesCreditMemo, entry: CustLedgerEntry) -> str:
    """Posted status, in ``SetStatusOptionFromSalesCreditMemoHeader``'s order (no cancel here)."""
    if memo.corrective:
        return "Corrective"
    return "Paid" if not entry.open else "Open"


def complete_posting(scope: Scope, posting: CreditMemoPosting) -> None:
    """Write a prepared posting: ledger entries, application, statuses, notifications."""
    company, memo = scope.co, posting.memo
    application = posting.application
    used = application.used_of_credit_memo if application is not None else ZERO
    number = company.posted_credit_memo_series.take()
    entry = add_cust_entry(
        scope,
        customer_id=memo.customer_id,
        customer_number=memo.customer_number,
        document_type="Credit Memo",
        document_number=number,
        posting_date=posting.posted_on,
        currency_code=memo.currency_code,
        amount=-posting.total,
        remaining=-(posting.total - used),
        external_document_number=str(memo.values.get("externalDocumentNumber", "")),
        amount_lcy=posting.gl_lines[0].amount,  # the receivables line
    )
    now = scope.store.clock.now()
    if application is not None:
        application.entry.remaining -= application.applied_to_invoice
        invoice = application.invoice
        if not application.entry.open and invoice.status == "Open":
            invoice.status = "Paid"
        invoice.touch(now)
        scope.emit("salesInvoices", invoice.id, "updated")
    memo.number = number
    memo.posted = True
    memo.cust_entry_no = entry.entry_number
    memo.values["postingDate"] = posting.posted_on
    memo.status = credit_memo_status(memo, entry)
    memo.touch(now)
    scope.emit("salesCreditMemos", memo.id, "updated")
    write_gl(scope, posting.gl_lines, posting.posted_on, number, "Credit Memo")


def post_credit_memo(scope: Scope, memo: SalesCreditMemo) -> None:
    """``salesCreditMemos({id})/Microsoft.NAV.post``."""
    complete_posting(scope, prepare_posting(scope, memo))
