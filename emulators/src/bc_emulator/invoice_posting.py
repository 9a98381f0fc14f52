"""``salesInvoices({id})/Microsoft.NAV.post`` (and ``postAndSend``, which posts the same way).

Posting (bc-api.md §4.5, §5) keeps the invoice ``id``, assigns the next *posted* number, sets
``status`` to ``Open``, writes a customer ledger entry for the total including tax (in document
currency) and balanced G/L entries in LCY: receivables debit, revenue per account and tax
credit (``document_posting.py``, shared with credit memos). ``cancel`` is in
``invoice_cancel.py``.
"""

from __future__ import annotations

from bc_emulator.amounts import compute_totals
from bc_emulator.document_posting import check_postable
from bc_emulator.document_posting import document_gl_lines
from bc_emulator.document_posting import posting_date
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.ledger import add_cust_entry
from bc_emulator.ledger import check_gl_accounts
from bc_emulator.ledger import write_gl
from bc_emulator.models import SalesInvoice

_BLOCKS_INVOICES = frozenset({"Invoice", "All"})


def post_invoice(scope: Scope, invoice: SalesInvoice) -> None:
    """``salesInvoices({id})/Microsoft.NAV.post``."""
    if invoice.posted:
        raise dialog("The action can be applied to a draft invoice only.")
    check_postable(scope, invoice, "invoice", _BLOCKS_INVOICES)
    company = scope.co
    gl_lines = document_gl_lines(scope, invoice, "Invoice")
    check_gl_accounts(scope, gl_lines)
    totals = compute_totals(company, invoice)
    posted_on = posting_date(scope, invoice)
    number = company.posted_series.take()
    entry = add_cust_entry(
        scope,
        customer_id=invoice.customer_id,
        customer_number=invoice.customer_number,
        document_type="Invoice",
        document_number=number,
        posting_date=posted_on,
        currency_code=invoice.currency_code,
        amount=totals.total_including_tax,
        remaining=totals.total_including_tax,
        invoice_id=invoice.id,
        external_document_number=str(invoice.values.get("externalDocumentNumber", "")),
        amount_lcy=gl_lines[0].amount,  # the receivables line
    )
    invoice.number = number
    invoice.posted = True
    invoice.cust_entry_no = entry.entry_number
    invoice.values["postingDate"] = posted_on
    invoice.status = "Open" if totals.total_including_tax else "Paid"
    invoice.touch(scope.store.clock.now())
    scope.emit("salesInvoices", invoice.id, "updated")
    write_gl(scope, gl_lines, posted_on, number, "Invoice")
