"""``salesInvoiceLines`` (page 30043, bc-api.md §4.6): lines of ``salesInvoices``.

The behaviour is shared with credit memo lines (``document_lines.py``); this module only says
where invoice lines live and which messages page 30043 uses. A line change notifies the invoice.
"""

from __future__ import annotations

from collections.abc import Mapping

from bc_emulator import schemas
from bc_emulator.document_lines import DocumentLinesSet
from bc_emulator.models import Company
from bc_emulator.models import SalesDocument
from bc_emulator.models import SalesInvoice

POSTED_MESSAGE = "The invoice has been posted and can no longer be modified."


class SalesInvoiceLinesSet(DocumentLinesSet):
    """Lines of sales invoices."""

    name = "salesInvoiceLines"
    entity_type = "salesInvoiceLine"
    caption = "Sales Invoice Line"
    fields = schemas.SALES_INVOICE_LINE
    header_set = "salesInvoices"
    document_type = SalesInvoice
    posted_message = POSTED_MESSAGE
    missing_filter_message = "You must specify an Id or a Document Id to get the lines."
    sequence_message = 'The "sequence" cannot be modified. Delete and insert the line again.'
    document_id_message = 'The "documentId" cannot be modified.'

    def documents(self, company: Company) -> Mapping[str, SalesDocument]:
        """Drafts and posted invoices."""
        return company.invoices
