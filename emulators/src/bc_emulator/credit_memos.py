"""``salesCreditMemos`` (page 30038 "APIV2 - Sales Credit Memos", bc-api.md §4.7).

Drafts and posted credit memos in one set under a stable ``id``, like ``salesInvoices`` (the
shared behaviour is in ``sales_documents.py``). What this page does differently, from the AL
(microsoft/ALAppExtensions ``Apps/W1/APIV2/app/src/pages/APIV2SalesCreditMemos.Page.al``, and
codeunit 5508 "Graph Mgt - Sal. Cr. Memo Buf." in microsoft/BCApps
``src/Layers/W1/BaseApp/Integration/Graph/GraphMgtSalCrMemoBuf.Codeunit.al``):

* ``invoiceId`` must name a *posted* invoice (``GetSalesInvoiceHeaderFromId``), else
  'The "invoiceId" does not match to an Invoice.'; it sets "Applies-to Doc. Type" = Invoice and
  "Applies-to Doc. No." = that invoice's number. The blank GUID clears both.
* ``invoiceNumber`` is "Applies-to Doc. No." itself. Given with an ``invoiceId`` it must be the
  same invoice ('The "invoiceId" and "invoiceNumber" do not match to a specific Invoice.');
  alone it is stored unchecked (Sales Header's "Applies-to Doc. No." ``OnValidate`` only sets
  "Amount to Apply" on a matching open entry). Posting checks it (``credit_memo_posting.py``).
* ``invoiceId`` reads back as the id of the posted invoice whose number is "Applies-to Doc. No."
  (``SetInvoiceId``), the blank GUID when there is none.
* ``customerReturnReasonId`` must be a Reason Code; the emulator has none, so anything but the
  blank GUID fails with 'The "customerReturnReasonId" does not match to a Reason Code.'.
* ``status`` is enum 5507: ``Draft`` for a draft; posted, in this order, ``Canceled``,
  ``Corrective`` (a Cancelled Document names it as the canceling document), ``Paid`` (its
  customer ledger entry is closed), else ``Open`` (``SetStatusOptionFromSalesCreditMemoHeader``).
* A posted credit memo refuses every change: "The credit memo has been posted and can no longer
  be modified." (``CannotModifyPostedCrMemoErr``). Deleting one is refused with the emulator's
  wording, as for invoices.
* There is no ``remainingAmount`` property on this page.

Bound actions: ``post`` and ``postAndSend`` (``credit_memo_posting.py``); the credit memo's own
``cancel`` is not emulated.
"""

from __future__ import annotations

from typing import Any

from bc_emulator import schemas
from bc_emulator.credit_memo_lines import POSTED_MESSAGE
from bc_emulator.credit_memo_lines import SalesCreditMemoLinesSet
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.models import Company
from bc_emulator.models import NoSeries
from bc_emulator.models import SalesCreditMemo
from bc_emulator.models import SalesInvoice
from bc_emulator.sales_documents import SalesDocumentsSet


def posted_invoice_by_number(company: Company, number: str) -> SalesInvoice | None:
    """The posted invoice with "No." ``number`` (``SalesInvoiceHeader.Get``)."""
    if not number:
        return None
    return next(
        (inv for inv in company.invoices.values() if inv.posted and inv.number == number), None
    )


def _invoice_id(scope: Scope, memo: SalesCreditMemo) -> str:
    invoice = posted_invoice_by_number(scope.co, memo.applies_to_number)
    return invoice.id if invoice is not None else BLANK_GUID


class SalesCreditMemosSet(SalesDocumentsSet[SalesCreditMemo]):
    """Sales credit memos of a company."""

    name = "salesCreditMemos"
    entity_type = "salesCreditMemo"
    caption = "Sales Credit Memo"
    fields = schemas.SALES_CREDIT_MEMO
    record_type = SalesCreditMemo
    date_field = "creditMemoDate"
    posted_message = POSTED_MESSAGE
    delete_posted_message = "You cannot delete a posted sales credit memo."
    extra_logic = frozenset({"invoiceId", "invoiceNumber", "customerReturnReasonId"})

    def __init__(self) -> None:
        super().__init__(SalesCreditMemoLinesSet())
        self.computed["invoiceId"] = _invoice_id
        self.computed["invoiceNumber"] = lambda s, r: r.applies_to_number

    def documents(self, company: Company) -> dict[str, SalesCreditMemo]:
        """Drafts and posted credit memos by id."""
        return company.credit_memos

    def draft_series(self, company: Company) -> NoSeries:
        """The draft series, "Credit Memo Nos." of Sales & Receivables Setup."""
        return company.draft_credit_memo_series

    def apply_extra(self, scope: Scope, document: SalesCreditMemo, parsed: dict[str, Any]) -> None:
        """``invoiceId`` / ``invoiceNumber`` ("Applies-to Doc. No.") and the return reason."""
        reason = parsed.get("customerReturnReasonId")
        if reason is not None and reason != BLANK_GUID:
            raise dialog('The "customerReturnReasonId" does not match to a Reason Code.')
        from_id: str | None = None
        invoice_id = parsed.get("invoiceId")
        if invoice_id is not None:
            if invoice_id == BLANK_GUID:
                document.applies_to_number = ""
            else:
                invoice = scope.co.invoices.get(invoice_id)
                if invoice is None or not invoice.posted:
                    raise dialog('The "invoiceId" does not match to an Invoice.')
                document.applies_to_number = from_id = invoice.number
        number = parsed.get("invoiceNumber")
        if number is not None:
            if from_id is not None and number != from_id:
                raise dialog(
                    'The "invoiceId" and "invoiceNumber" do not match to a specific Invoice.'
                )
            document.applies_to_number = number
