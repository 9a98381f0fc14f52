"""Lines of sales documents: the rules ``salesInvoiceLines`` and ``salesCreditMemoLines`` share.

Both API pages (30043 and 30046) sit on the same buffer table, "Sales Invoice Line Aggregate",
and propagate into Sales Line the same way, so one class holds the behaviour and the two sets
differ only in where their documents live, which header they notify and their messages
(microsoft/ALAppExtensions ``Apps/W1/APIV2/app/src/pages/APIV2SalesInvoiceLines.Page.al`` and
``APIV2SalesCreditMemLines.Page.al``).

Lines are reached through their header's navigation; the top-level set needs a ``documentId``
(or ``id``) filter. ``lineType`` is XML-encoded (``Account``, ``Item``, ``Fixed_x0020_Asset``...).
``Account`` lines must name an existing G/L account (``lineObjectNumber`` or ``accountId``).
Amounts are derived in ``amounts.py``; ``taxPercent`` comes from the company's tax rates via
``taxCode``. Only drafts accept line changes, and every line change raises an ``updated``
notification for the header (bc-api.md §7.5: a line change notifies its document).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bc_emulator.amounts import compute_totals
from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import Computed
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.ledger import missing_account
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import Company
from bc_emulator.models import SalesDocument
from bc_emulator.models import SalesInvoiceLine

_AMOUNT_FIELDS = {
    "amountExcludingTax": "amount_excluding_tax",
    "taxPercent": "tax_percent",
    "totalTaxAmount": "total_tax_amount",
    "amountIncludingTax": "amount_including_tax",
    "invoiceDiscountAllocation": "invoice_discount_allocation",
    "netAmount": "net_amount",
    "netTaxAmount": "net_tax_amount",
    "netAmountIncludingTax": "net_amount_including_tax",
}
_ATTRS = {
    "documentId": "document_id",
    "sequence": "sequence",
    "itemId": "item_id",
    "accountId": "account_id",
    "lineType": "line_type",
    "lineObjectNumber": "line_object_number",
    "quantity": "quantity",
    "unitPrice": "unit_price",
    "discountAmount": "discount_amount",
    "discountPercent": "discount_percent",
    "taxCode": "tax_code",
}
_PLAIN = (
    "description",
    "description2",
    "unitOfMeasureId",
    "unitOfMeasureCode",
    "shipmentDate",
    "itemVariantId",
    "locationId",
)


def _attr(attr: str) -> Computed:
    return lambda scope, line: getattr(line, attr)


class DocumentLinesSet(EntitySet):
    """Lines of one kind of sales document; subclasses name the documents and messages."""

    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})
    #: the header entity set a line change notifies
    header_set = ""
    #: the document record type a navigation parent must have
    document_type: type[SalesDocument] = SalesDocument
    posted_message = ""
    missing_filter_message = ""
    sequence_message = ""
    document_id_message = ""

    def __init__(self) -> None:
        super().__init__()
        self.computed = {name: _attr(attr) for name, attr in _ATTRS.items()}
        self.computed.update({name: self._amount(attr) for name, attr in _AMOUNT_FIELDS.items()})
        self.computed["discountAppliedBeforeTax"] = lambda s, r: True

    def documents(self, company: Company) -> Mapping[str, SalesDocument]:
        """The company's documents of this kind by id."""
        raise NotImplementedError

    def _amount(self, attr: str) -> Computed:
        def read(scope: Scope, line: SalesInvoiceLine) -> Any:
            document = self.documents(scope.co)[line.document_id]
            return getattr(compute_totals(scope.co, document).lines[line.id], attr)

        return read

    def _documents_in_scope(self, scope: Scope) -> Iterable[SalesDocument]:
        if isinstance(scope.parent, self.document_type):
            return [scope.parent]
        documents = self.documents(scope.co)
        document_id = scope.constraints.get("documentId")
        if document_id is not None:
            document = documents.get(str(document_id))
            return [document] if document else []
        return list(documents.values())

    def check_collection(self, scope: Scope) -> None:
        """Top-level reads need a documentId or id filter."""
        if scope.parent is None and not {"documentId", "id"} & set(scope.constraints):
            raise dialog(self.missing_filter_message)

    def rows(self, scope: Scope) -> Iterable[SalesInvoiceLine]:
        """Lines of the parent document (or of the filtered document)."""
        return [line for document in self._documents_in_scope(scope) for line in document.lines]

    def create(self, scope: Scope, body: dict[str, Any]) -> SalesInvoiceLine:
        """POST a line to a draft."""
        parsed = self.parse_body(scope, body)
        document = scope.parent if isinstance(scope.parent, self.document_type) else None
        if document is None:
            document_id = parsed.get("documentId")
            document = self.documents(scope.co).get(str(document_id)) if document_id else None
            if document is None:
                raise dialog(self.missing_filter_message)
        return self.add(scope, document, parsed)

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a line of a draft."""
        line: SalesInvoiceLine = rec
        document = self.documents(scope.co)[line.document_id]
        parsed = self.parse_body(scope, body, line)
        if document.posted:
            raise dialog(self.posted_message)
        if "sequence" in parsed and parsed["sequence"] != line.sequence:
            raise dialog(self.sequence_message)
        if "documentId" in parsed and parsed["documentId"] != line.document_id:
            raise dialog(self.document_id_message)
        _apply(scope, line, parsed)
        self._touch(scope, document)

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a line of a draft."""
        line: SalesInvoiceLine = rec
        document = self.documents(scope.co)[line.document_id]
        if document.posted:
            raise dialog(self.posted_message)
        document.lines.remove(line)
        self._touch(scope, document)

    def _touch(self, scope: Scope, document: SalesDocument, emit: bool = True) -> None:
        document.touch(scope.store.clock.now())
        if emit and document.id in self.documents(scope.co):
            scope.emit(self.header_set, document.id, "updated")

    def add(
        self, scope: Scope, document: SalesDocument, parsed: dict[str, Any], emit: bool = True
    ) -> SalesInvoiceLine:
        """Validate and append a line (API POST, deep insert and admin seeding)."""
        if document.posted:
            raise dialog(self.posted_message)
        sequence = parsed.get("sequence") or (
            max((x.sequence for x in document.lines), default=0) + 10000
        )
        if any(x.sequence == sequence for x in document.lines):
            raise duplicate_key("Sales Line", "Line No.", str(sequence))
        now = scope.store.clock.now()
        line = SalesInvoiceLine(
            id=new_guid(),
            seq=scope.store.next_seq(),
            created_at=now,
            last_modified=now,
            document_id=document.id,
            sequence=sequence,
        )
        if "lineType" not in parsed:
            if parsed.get("accountId", BLANK_GUID) != BLANK_GUID:
                parsed["lineType"] = "Account"
            elif parsed.get("itemId", BLANK_GUID) != BLANK_GUID or parsed.get("lineObjectNumber"):
                parsed["lineType"] = "Item"
            else:
                parsed["lineType"] = "Comment"
        _apply(scope, line, parsed)
        document.lines.append(line)
        self._touch(scope, document, emit)
        return line


def copy_line(scope: Scope, source: SalesInvoiceLine, document_id: str) -> SalesInvoiceLine:
    """A new line for ``document_id`` with the amounts and accounts of ``source``.

    Used where BC copies a posted document's lines into a new one (the corrective credit memo of
    ``Microsoft.NAV.cancel``, "Copy Document Mgt." ``CopySalesDocForInvoiceCancelling``).
    """
    now = scope.store.clock.now()
    return SalesInvoiceLine(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        values=dict(source.values),
        document_id=document_id,
        sequence=source.sequence,
        line_type=source.line_type,
        item_id=source.item_id,
        account_id=source.account_id,
        line_object_number=source.line_object_number,
        quantity=source.quantity,
        unit_price=source.unit_price,
        discount_amount=source.discount_amount,
        discount_percent=source.discount_percent,
        tax_code=source.tax_code,
        tax_percent=source.tax_percent,
    )


def _apply(scope: Scope, line: SalesInvoiceLine, parsed: dict[str, Any]) -> None:
    for name, attr in _ATTRS.items():
        if name in parsed and name not in ("documentId", "sequence"):
            setattr(line, attr, parsed[name])
    if line.item_id != BLANK_GUID and line.account_id != BLANK_GUID:
        raise dialog("Both itemId and accountId are specified")
    company = scope.co
    if line.line_type == "Account":
        if line.account_id != BLANK_GUID and "accountId" in parsed:
            account = company.gl_accounts.get(line.account_id)
            if account is None:
                raise dialog('The "accountId" does not match to a G/L Account.')
            line.line_object_number = str(account.values["number"])
        account = company.gl_account_by_number(line.line_object_number)
        if account is None:
            if not line.line_object_number:
                raise dialog('An "accountId" or a "lineObjectNumber" must be provided.')
            raise missing_account("G/L Account", line.line_object_number)
        line.account_id = account.id
        line.values.setdefault("description", account.values.get("displayName", ""))
    elif line.line_type == "Item" and not line.line_object_number and line.item_id == BLANK_GUID:
        raise dialog('An "itemId" or a "lineObjectNumber" must be provided.')
    elif line.line_type == "Comment" and line.quantity:
        raise dialog("A comment line cannot have a quantity.")
    if line.tax_code:
        if line.tax_code not in company.tax_rates:
            raise BCError(
                400,
                "Internal_RecordNotFound",
                f"The Tax Group does not exist. Identification fields and values: "
                f"Code='{line.tax_code}'",
            )
        line.tax_percent = company.tax_rates[line.tax_code]
    elif "taxCode" in parsed:
        line.tax_percent = Decimal(0)
    assign_plain(line, parsed, _PLAIN)
    line.last_modified = scope.store.clock.now()
    line.version += 1
