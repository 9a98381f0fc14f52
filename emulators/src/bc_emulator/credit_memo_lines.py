"""``salesCreditMemoLines`` (page 30046 "APIV2 - Sales Credit Mem Lines").

Same behaviour as invoice lines (``document_lines.py``): the page reads the same buffer table,
"Sales Invoice Line Aggregate". Its own messages come from the page
(microsoft/ALAppExtensions ``Apps/W1/APIV2/app/src/pages/APIV2SalesCreditMemLines.Page.al``:
``IDOrDocumentIdShouldBeSpecifiedForLinesErr``, ``CannotChangeLineNoErr``,
``CannotChangeDocumentIdNoErr``) and from codeunit 5508 "Graph Mgt - Sal. Cr. Memo Buf."
(microsoft/BCApps ``src/Layers/W1/BaseApp/Integration/Graph/GraphMgtSalCrMemoBuf.Codeunit.al``,
``CannotModifyPostedCrMemoErr``). A line change notifies the credit memo.
"""

from __future__ import annotations

from collections.abc import Mapping

from bc_emulator import schemas
from bc_emulator.document_lines import DocumentLinesSet
from bc_emulator.models import Company
from bc_emulator.models import SalesCreditMemo
from bc_emulator.models import SalesDocument

POSTED_MESSAGE = "The credit memo has been posted and can no longer be modified."


class SalesCreditMemoLinesSet(DocumentLinesSet):
    """Lines of sales credit memos."""

    name = "salesCreditMemoLines"
    entity_type = "salesCreditMemoLine"
    caption = "Sales Credit Memo Line"
    fields = schemas.SALES_CREDIT_MEMO_LINE
    header_set = "salesCreditMemos"
    document_type = SalesCreditMemo
    posted_message = POSTED_MESSAGE
    missing_filter_message = "You must specify an id or a Document Id to get the lines."
    sequence_message = (
        "The value for sequence cannot be modified. Delete and insert the line again."
    )
    document_id_message = 'The value for "documentId" cannot be modified.'

    def documents(self, company: Company) -> Mapping[str, SalesDocument]:
        """Drafts and posted credit memos."""
        return company.credit_memos
