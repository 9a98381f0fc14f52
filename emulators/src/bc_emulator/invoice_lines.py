"""``salesInvoiceLines`` (page 30043, bc-api.md §4.6).

Lines are reached through ``salesInvoices({id})/salesInvoiceLines``; the top-level set needs a
``documentId`` (or ``id``) filter. ``lineType`` is XML-encoded (``Account``, ``Item``,
``Fixed_x0020_Asset``...). ``Account`` lines must name an existing G/L account
(``lineObjectNumber`` or ``accountId``). Amounts are derived in ``amounts.py``; ``taxPercent``
comes from the company's tax rates via ``taxCode``. Only draft invoices accept line changes, and
every line change raises an ``updated`` notification for the invoice header (§7.5).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.amounts import compute_totals
from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.ledger import missing_account
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import SalesInvoice
from bc_emulator.models import SalesInvoiceLine

_POSTED = "The invoice has been posted and can no longer be modified."
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


def _amount(attr: str) -> Any:
    def read(scope: Scope, line: SalesInvoiceLine) -> Any:
        invoice = scope.co.invoices[line.document_id]
        return getattr(compute_totals(scope.co, invoice).lines[line.id], attr)

    return read


def _attr(attr: str) -> Any:
    return lambda scope, line: getattr(line, attr)


class SalesInvoiceLinesSet(EntitySet):
    """Lines of sales invoices."""

    name = "salesInvoiceLines"
    entity_type = "salesInvoiceLine"
    caption = "Sales Invoice Line"
    fields = schemas.SALES_INVOICE_LINE
    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})

    def __init__(self) -> None:
        super().__init__()
        self.computed = {name: _attr(attr) for name, attr in _ATTRS.items()}
        self.computed.update({name: _amount(attr) for name, attr in _AMOUNT_FIELDS.items()})
        self.computed["discountAppliedBeforeTax"] = lambda s, r: True

    def _invoices(self, scope: Scope) -> Iterable[SalesInvoice]:
        if isinstance(scope.parent, SalesInvoice):
            return [scope.parent]
        document_id = scope.constraints.get("documentId")
        if document_id is not None:
            invoice = scope.co.invoices.get(str(document_id))
            return [invoice] if invoice else []
        return list(scope.co.invoices.values())

    def check_collection(self, scope: Scope) -> None:
        """Top-level reads need a documentId or id filter."""
        if scope.parent is None and not {"documentId", "id"} & set(scope.constraints):
            raise dialog("You must specify an Id or a Document Id to get the lines.")

    def rows(self, scope: Scope) -> Iterable[SalesInvoiceLine]:
        """Lines of the parent invoice (or of the filtered document)."""
        return [line for invoice in self._invoices(scope) for line in invoice.lines]

    def create(self, scope: Scope, body: dict[str, Any]) -> SalesInvoiceLine:
        """POST a line to a draft invoice."""
        parsed = self.parse_body(scope, body)
        invoice = scope.parent if isinstance(scope.parent, SalesInvoice) else None
        if invoice is None:
            document_id = parsed.get("documentId")
            invoice = scope.co.invoices.get(str(document_id)) if document_id else None
            if invoice is None:
                raise dialog("You must specify an Id or a Document Id to get the lines.")
        return add_line(scope, invoice, parsed)

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a line of a draft invoice."""
        line: SalesInvoiceLine = rec
        invoice = scope.co.invoices[line.document_id]
        parsed = self.parse_body(scope, body, line)
        if invoice.posted:
            raise dialog(_POSTED)
        if "sequence" in parsed and parsed["sequence"] != line.sequence:
            raise dialog('The "sequence" cannot be modified. Delete and insert the line again.')
        if "documentId" in parsed and parsed["documentId"] != line.document_id:
            raise dialog('The "documentId" cannot be modified.')
        _apply(scope, line, parsed)
        _touch(scope, invoice)

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a line of a draft invoice."""
        line: SalesInvoiceLine = rec
        invoice = scope.co.invoices[line.document_id]
        if invoice.posted:
            raise dialog(_POSTED)
        invoice.lines.remove(line)
        _touch(scope, invoice)


def _touch(scope: Scope, invoice: SalesInvoice, emit: bool = True) -> None:
    invoice.touch(scope.store.clock.now())
    if emit and invoice.id in scope.co.invoices:
        scope.emit("salesInvoices", invoice.id, "updated")


def add_line(
    scope: Scope, invoice: SalesInvoice, parsed: dict[str, Any], emit: bool = True
) -> SalesInvoiceLine:
    """Validate and append a line (API POST, deep insert and admin seeding)."""
    if invoice.posted:
        raise dialog(_POSTED)
    sequence = parsed.get("sequence") or (
        max((x.sequence for x in invoice.lines), default=0) + 10000
    )
    if any(x.sequence == sequence for x in invoice.lines):
        raise duplicate_key("Sales Line", "Line No.", str(sequence))
    now = scope.store.clock.now()
    line = SalesInvoiceLine(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        document_id=invoice.id,
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
    invoice.lines.append(line)
    _touch(scope, invoice, emit)
    return line


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
