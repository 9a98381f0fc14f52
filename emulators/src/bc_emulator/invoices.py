"""``salesInvoices`` (page 30012, bc-api.md §4.5): drafts and posted invoices in one set.

The shared header behaviour is in ``sales_documents.py``. Invoice specifics: the bill-to address
is read-only and comes from the customer; ``remainingAmount`` is the total for drafts, the open
customer-ledger amount for posted invoices and 0 when canceled (``GetRemainingAmount``); a posted
invoice refuses PATCH except ``promisedPayDate`` and the dispute fields, and ``promisedPayDate``
is refused on a draft. Bound actions ``post`` and ``cancel`` live in ``invoice_posting.py`` and
``invoice_cancel.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.amounts import compute_totals
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.invoice_lines import POSTED_MESSAGE
from bc_emulator.invoice_lines import SalesInvoiceLinesSet
from bc_emulator.ledger import invoice_entry
from bc_emulator.models import Company
from bc_emulator.models import Customer
from bc_emulator.models import NoSeries
from bc_emulator.models import SalesInvoice
from bc_emulator.sales_documents import ADDRESS_MAP
from bc_emulator.sales_documents import SalesDocumentsSet


def _remaining(scope: Scope, inv: SalesInvoice) -> Decimal:
    if not inv.posted:
        return compute_totals(scope.co, inv).total_including_tax
    if inv.status == "Canceled":
        return Decimal(0)
    entry = invoice_entry(scope, inv.cust_entry_no)
    return entry.remaining if entry else Decimal(0)


def _customer_value(field: str) -> Callable[[Scope, SalesInvoice], Any]:
    def read(scope: Scope, inv: SalesInvoice) -> Any:
        customer = scope.co.customers.get(inv.customer_id)
        return customer.values.get(field, "") if customer else ""

    return read


class SalesInvoicesSet(SalesDocumentsSet[SalesInvoice]):
    """Sales invoices of a company."""

    name = "salesInvoices"
    entity_type = "salesInvoice"
    caption = "Sales Invoice"
    fields = schemas.SALES_INVOICE
    record_type = SalesInvoice
    date_field = "invoiceDate"
    posted_message = POSTED_MESSAGE
    delete_posted_message = "You cannot delete a posted sales invoice."
    posted_editable = frozenset({"promisedPayDate", "disputeStatus", "disputeStatusId"})

    def __init__(self) -> None:
        super().__init__(SalesInvoiceLinesSet())
        self.computed["remainingAmount"] = _remaining
        for suffix, source in ADDRESS_MAP.items():
            self.computed[f"billTo{suffix}"] = _customer_value(source)

    def documents(self, company: Company) -> dict[str, SalesInvoice]:
        """Drafts and posted invoices by id."""
        return company.invoices

    def draft_series(self, company: Company) -> NoSeries:
        """The draft series, "Invoice Nos." of Sales & Receivables Setup."""
        return company.draft_series

    def check_update(self, scope: Scope, document: SalesInvoice, parsed: dict[str, Any]) -> None:
        """Posted invoices take the posted-only fields; drafts refuse ``promisedPayDate``."""
        super().check_update(scope, document, parsed)
        if not document.posted and "promisedPayDate" in parsed:
            raise BCError(
                400,
                "Application_FieldValidationException",
                "Posted must be equal to 'Yes'  in Sales Invoice Entity Aggregate: "
                f"Id={document.id}. Current value is 'No'.",
            )

    def new_draft(self, scope: Scope, customer: Customer, parsed: dict[str, Any]) -> SalesInvoice:
        """A draft invoice (not yet registered)."""
        invoice = super().new_draft(scope, customer, parsed)
        invoice.values.setdefault("disputeStatusId", BLANK_GUID)
        return invoice
