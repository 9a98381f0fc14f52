"""What posting a sales invoice and posting a sales credit memo share (codeunit 80 "Sales-Post").

Both check the draft the same way (lines with a quantity, customer not blocked for the document
type), take the posting date from the draft (today when blank), and write one customer ledger
entry for the total including tax plus balanced G/L entries in LCY: receivables, revenue per
account and tax. A credit memo posts the same G/L lines as an invoice with the opposite signs
(receivables credit, revenue and tax debit), which is what Sales-Post does with the amounts of a
credit memo's lines.
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
from bc_emulator.models import Customer
from bc_emulator.models import SalesDocument

ZERO = Decimal(0)


def check_postable(
    scope: Scope, document: SalesDocument, kind: str, blocked_types: frozenset[str]
) -> Customer:
    """The draft's customer, after BC's checks before posting.

    ``kind`` is "invoice" or "credit memo" (the "Please add at least one line item to the ..."
    message); ``blocked_types`` are the customer ``blocked`` values that stop this document type:
    table 18 ``CheckBlockedCustOnDocs`` blocks invoices for Invoice and All, credit memos for All
    only.
    """
    items = [line for line in document.lines if line.line_type != "Comment"]
    if not items:
        raise dialog(f"Please add at least one line item to the {kind}.")
    if not any(line.quantity for line in items):
        raise dialog("There is nothing to post.")
    customer = scope.co.customers.get(document.customer_id)
    if customer is None:
        raise dialog(f"The customer {document.customer_number} does not exist.")
    if customer.values.get("blocked") in blocked_types:
        raise dialog(
            f"You cannot post this type of document when Customer {document.customer_number} is "
            f"blocked with type {customer.values['blocked']}"
        )
    return customer


def posting_date(scope: Scope, document: SalesDocument) -> date:
    """The draft's posting date, today when blank."""
    posted_on: date = document.values.get("postingDate") or scope.store.clock.today()
    return scope.store.clock.today() if posted_on == BLANK_DATE else posted_on


def document_gl_lines(
    scope: Scope, document: SalesDocument, label: str, sign: int = 1
) -> list[GLLine]:
    """Receivables first, then revenue per account and tax; ``sign`` -1 reverses every side.

    With ``sign`` 1 (an invoice) revenue and tax are credits and receivables the debit that
    balances them in LCY; with -1 (a credit memo) the same amounts go to the other side.
    """
    company = scope.co
    totals = compute_totals(company, document)
    by_account: dict[str, Decimal] = {}
    for line in document.lines:
        if line.line_type == "Comment":
            continue
        account = line.line_object_number if line.line_type == "Account" else company.sales_account
        by_account[account] = by_account.get(account, ZERO) + totals.lines[line.id].net_amount
    description = f"{label} {document.values.get('customerName', '')}".strip()
    external = str(document.values.get("externalDocumentNumber", ""))
    currency = document.currency_code
    other_side = [
        GLLine(account, -sign * to_lcy(company, currency, amount), description, external)
        for account, amount in by_account.items()
    ]
    if totals.total_tax:
        tax = -sign * to_lcy(company, currency, totals.total_tax)
        other_side.append(GLLine(company.tax_account, tax, description, external))
    receivable = -sum((line.amount for line in other_side), ZERO)
    return [GLLine(company.receivables_account, receivable, description, external), *other_side]
