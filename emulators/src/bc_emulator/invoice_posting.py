"""Bound actions on ``salesInvoices``: ``Microsoft.NAV.post`` and ``Microsoft.NAV.cancel``.

Posting (bc-api.md §4.5, §5) keeps the invoice ``id``, assigns the next *posted* number, sets
``status`` to ``Open``, writes a customer ledger entry for the total including tax (in document
currency) and balanced G/L entries in LCY: receivables debit, revenue per account and tax
credit. Canceling a posted, unpaid invoice reverses its G/L entries and sets ``Canceled``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bc_emulator.amounts import compute_totals
from bc_emulator.amounts import to_lcy
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.jsonio import BLANK_DATE
from bc_emulator.ledger import GLLine
from bc_emulator.ledger import add_cust_entry
from bc_emulator.ledger import check_gl_accounts
from bc_emulator.ledger import invoice_entry
from bc_emulator.ledger import write_gl
from bc_emulator.models import SalesInvoice

ZERO = Decimal(0)


def _revenue_lines(scope: Scope, invoice: SalesInvoice) -> list[GLLine]:
    company = scope.co
    totals = compute_totals(company, invoice)
    by_account: dict[str, Decimal] = {}
    for line in invoice.lines:
        if line.line_type == "Comment":
            continue
        account = line.line_object_number if line.line_type == "Account" else company.sales_account
        by_account[account] = by_account.get(account, ZERO) + totals.lines[line.id].net_amount
    description = f"Invoice {invoice.values.get('customerName', '')}".strip()
    external = str(invoice.values.get("externalDocumentNumber", ""))
    credits = [
        GLLine(account, -to_lcy(company, invoice.currency_code, amount), description, external)
        for account, amount in by_account.items()
    ]
    if totals.total_tax:
        tax = -to_lcy(company, invoice.currency_code, totals.total_tax)
        credits.append(GLLine(company.tax_account, tax, description, external))
    receivable = -sum((c.amount for c in credits), ZERO)
    return [GLLine(company.receivables_account, receivable, description, external), *credits]


def post_invoice(scope: Scope, invoice: SalesInvoice) -> None:
    """``salesInvoices({id})/Microsoft.NAV.post``."""
    if invoice.posted:
        raise dialog("The action can be applied to a draft invoice only.")
    items = [line for line in invoice.lines if line.line_type != "Comment"]
    if not items:
        raise dialog("Please add at least one line item to the invoice.")
    if not any(line.quantity for line in items):
        raise dialog("There is nothing to post.")
    company = scope.co
    customer = company.customers.get(invoice.customer_id)
    if customer is None:
        raise dialog(f"The customer {invoice.customer_number} does not exist.")
    if customer.values.get("blocked") in ("Invoice", "All"):
        raise dialog(
            f"You cannot post this type of document when Customer {invoice.customer_number} is "
            f"blocked with type {customer.values['blocked']}"
        )
    gl_lines = _revenue_lines(scope, invoice)
    check_gl_accounts(scope, gl_lines)
    totals = compute_totals(company, invoice)
    posting_date: date = invoice.values.get("postingDate") or scope.store.clock.today()
    if posting_date == BLANK_DATE:
        posting_date = scope.store.clock.today()
    number = company.posted_series.take()
    external = str(invoice.values.get("externalDocumentNumber", ""))
    entry = add_cust_entry(
        scope,
        customer_id=invoice.customer_id,
        customer_number=invoice.customer_number,
        document_type="Invoice",
        document_number=number,
        posting_date=posting_date,
        currency_code=invoice.currency_code,
        amount=totals.total_including_tax,
        remaining=totals.total_including_tax,
        invoice_id=invoice.id,
        external_document_number=external,
        amount_lcy=gl_lines[0].amount,  # the receivables line
    )
    invoice.number = number
    invoice.posted = True
    invoice.cust_entry_no = entry.entry_number
    invoice.values["postingDate"] = posting_date
    invoice.status = "Open" if totals.total_including_tax else "Paid"
    invoice.touch(scope.store.clock.now())
    scope.emit("salesInvoices", invoice.id, "updated")
    write_gl(scope, gl_lines, posting_date, number, "Invoice")


def cancel_invoice(scope: Scope, invoice: SalesInvoice) -> None:
    """``salesInvoices({id})/Microsoft.NAV.cancel``: reverse an unpaid posted invoice."""
    if not invoice.posted:
        raise dialog("The action can be applied to a posted invoice only.")
    if invoice.status == "Canceled":
        raise dialog("The invoice cannot be canceled because it has already been canceled.")
    entry = invoice_entry(scope, invoice.cust_entry_no)
    if entry is None or entry.remaining != entry.amount:
        raise dialog(
            "You cannot cancel this posted sales invoice because it is fully or partially paid."
            "\\To reverse a paid sales invoice, you must manually create a sales credit memo."
        )
    originals = [
        e
        for e in scope.co.gl_entries.values()
        if e.document_number == invoice.number and e.document_type == "Invoice"
    ]
    reversal = [
        GLLine(e.account_number, -e.amount, f"Cancel {e.description}", e.external_document_number)
        for e in originals
    ]
    memo_number = f"PS-CR{invoice.number[-6:]}"
    today = scope.store.clock.today()
    entry.remaining = ZERO
    invoice.status = "Canceled"
    invoice.touch(scope.store.clock.now())
    scope.emit("salesInvoices", invoice.id, "updated")
    write_gl(scope, reversal, today, memo_number, "Credit Memo")
