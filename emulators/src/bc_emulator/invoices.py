"""``salesInvoices`` (page 30012, bc-api.md §4.5): drafts and posted invoices in one set.

The ``id`` is stable across posting while ``number`` changes; ``status`` is XML-encoded
(``Draft``, ``In_x0020_Review``, ``Open``, ``Paid``, ...); ``currencyCode`` reads as the LCY code
for LCY invoices; ``remainingAmount`` is the total for drafts, the open customer-ledger amount
for posted invoices and 0 when canceled. POST always creates a draft (deep insert of
``salesInvoiceLines`` supported); a posted invoice refuses PATCH except ``promisedPayDate`` and
the dispute fields. Bound actions ``post`` and ``cancel`` live in ``invoice_posting.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.amounts import check_discount
from bc_emulator.amounts import compute_totals
from bc_emulator.customers import CustomersSet
from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.invoice_lines import SalesInvoiceLinesSet
from bc_emulator.invoice_lines import add_line
from bc_emulator.ledger import invoice_entry
from bc_emulator.lookups import currency_id_of
from bc_emulator.lookups import customer_name
from bc_emulator.lookups import resolve_currency
from bc_emulator.lookups import resolve_customer
from bc_emulator.models import Customer
from bc_emulator.models import SalesInvoice

_LOGIC = {
    "customerId",
    "customerNumber",
    "billToCustomerId",
    "billToCustomerNumber",
    "currencyId",
    "currencyCode",
    "discountAmount",
}
_PLAIN = tuple(
    f.name
    for f in schemas.SALES_INVOICE
    if not f.read_only and f.name not in _LOGIC and f.name != "lastModifiedDateTime"
)
_POSTED_EDITABLE = {"promisedPayDate", "disputeStatus", "disputeStatusId"}
_ADDRESS_MAP = {
    "AddressLine1": "addressLine1",
    "AddressLine2": "addressLine2",
    "City": "city",
    "Country": "country",
    "State": "state",
    "PostCode": "postalCode",
}
POSTED_MESSAGE = "The invoice has been posted and can no longer be modified."
_CUSTOMERS = CustomersSet()


def _remaining(scope: Scope, inv: SalesInvoice) -> Decimal:
    if not inv.posted:
        return compute_totals(scope.co, inv).total_including_tax
    if inv.status == "Canceled":
        return Decimal(0)
    entry = invoice_entry(scope, inv.cust_entry_no)
    return entry.remaining if entry else Decimal(0)


def _customer_value(field: str) -> Any:
    def read(scope: Scope, inv: SalesInvoice) -> Any:
        customer = scope.co.customers.get(inv.customer_id)
        return customer.values.get(field, "") if customer else ""

    return read


class SalesInvoicesSet(EntitySet):
    """Sales invoices of a company."""

    name = "salesInvoices"
    entity_type = "salesInvoice"
    caption = "Sales Invoice"
    fields = schemas.SALES_INVOICE
    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})
    deep_insert = frozenset({"salesInvoiceLines"})

    def __init__(self) -> None:
        super().__init__()
        lines = SalesInvoiceLinesSet()
        self.lines = lines
        self.children = {"salesInvoiceLines": lines}
        total = compute_totals
        self.computed = {
            "number": lambda s, r: r.number,
            "customerId": lambda s, r: r.customer_id,
            "customerNumber": lambda s, r: r.customer_number,
            "billToCustomerId": lambda s, r: r.values.get("billToCustomerId", r.customer_id),
            "billToCustomerNumber": lambda s, r: r.values.get(
                "billToCustomerNumber", r.customer_number
            ),
            "currencyCode": lambda s, r: r.currency_code or s.co.lcy_code,
            "currencyId": lambda s, r: currency_id_of(s.co, r.currency_code),
            "status": lambda s, r: r.status,
            "discountAmount": lambda s, r: r.discount_amount,
            "discountAppliedBeforeTax": lambda s, r: True,
            "remainingAmount": _remaining,
            "totalAmountExcludingTax": lambda s, r: total(s.co, r).total_excluding_tax,
            "totalTaxAmount": lambda s, r: total(s.co, r).total_tax,
            "totalAmountIncludingTax": lambda s, r: total(s.co, r).total_including_tax,
        }
        for suffix, source in _ADDRESS_MAP.items():
            self.computed[f"billTo{suffix}"] = _customer_value(source)
        self.expansions = {
            "salesInvoiceLines": lambda s, r, sel: [
                lines.serialize(s, line, sel) for line in r.lines
            ],
            "customer": _expand_customer,
        }

    def rows(self, scope: Scope) -> Iterable[SalesInvoice]:
        """Drafts and posted invoices, in creation order."""
        return list(scope.co.invoices.values())

    def find(self, scope: Scope, key: str) -> SalesInvoice | None:
        """Look up by the stable id."""
        return scope.co.invoices.get(key)

    def create(self, scope: Scope, body: dict[str, Any]) -> SalesInvoice:
        """POST a draft invoice, optionally with its lines."""
        parsed = self.parse_body(scope, body)
        customer = resolve_customer(scope.co, parsed)
        if customer is None:
            raise dialog('A "customerNumber" or a "customerId" must be provided.')
        lines = body.get("salesInvoiceLines", [])
        if not isinstance(lines, list):
            raise BCError(400, "BadRequest", "The 'salesInvoiceLines' value must be an array.")
        invoice = new_draft(scope, customer, parsed)
        for line_body in lines:
            add_line(scope, invoice, self.lines.parse_body(scope, _dict(line_body)), emit=False)
        if "discountAmount" in parsed:
            check_discount(scope.co, invoice, parsed["discountAmount"])
            invoice.discount_amount = parsed["discountAmount"]
            invoice.version += 1
        scope.co.invoices[invoice.id] = invoice
        scope.emit(self.name, invoice.id, "created")
        return invoice

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH header fields of a draft (or the few posted-only fields)."""
        invoice: SalesInvoice = rec
        parsed = self.parse_body(scope, body, invoice)
        if invoice.posted:
            if set(parsed) - _POSTED_EDITABLE:
                raise dialog(POSTED_MESSAGE)
        elif "promisedPayDate" in parsed:
            raise BCError(
                400,
                "Application_FieldValidationException",
                "Posted must be equal to 'Yes'  in Sales Invoice Entity Aggregate: "
                f"Id={invoice.id}. Current value is 'No'.",
            )
        customer = resolve_customer(scope.co, parsed)
        if customer is not None and customer.id != invoice.customer_id:
            _set_customer(invoice, customer)
            invoice.currency_code = customer.currency_code
        invoice.currency_code = resolve_currency(scope.co, parsed, invoice.currency_code)
        if "discountAmount" in parsed:
            check_discount(scope.co, invoice, parsed["discountAmount"])
            invoice.discount_amount = parsed["discountAmount"]
        assign_plain(invoice, parsed, _PLAIN)
        invoice.touch(scope.store.clock.now())
        scope.emit(self.name, invoice.id, "updated")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a draft; posted invoices cannot be deleted."""
        invoice: SalesInvoice = rec
        if invoice.posted:
            raise dialog("You cannot delete a posted sales invoice.")
        del scope.co.invoices[invoice.id]
        scope.emit(self.name, invoice.id, "deleted")


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BCError(400, "BadRequest", "Each sales invoice line must be a JSON object.")
    return value


def _expand_customer(scope: Scope, inv: SalesInvoice, select: tuple[str, ...] | None) -> Any:
    customer = scope.co.customers.get(inv.customer_id)
    return _CUSTOMERS.serialize(scope, customer, select) if customer else None


def _set_customer(invoice: SalesInvoice, customer: Customer) -> None:
    invoice.customer_id = customer.id
    invoice.customer_number = str(customer.values["number"])
    invoice.values["customerName"] = customer_name(customer)
    invoice.values["billToName"] = customer_name(customer)
    for suffix, source in _ADDRESS_MAP.items():
        invoice.values[f"sellTo{suffix}"] = customer.values.get(source, "")
    invoice.values["email"] = customer.values.get("email", "")
    invoice.values["phoneNumber"] = customer.values.get("phoneNumber", "")


def new_draft(scope: Scope, customer: Customer, parsed: dict[str, Any]) -> SalesInvoice:
    """Build (not yet register) a draft invoice for ``customer`` from a parsed body."""
    company = scope.co
    now = scope.store.clock.now()
    today: date = scope.store.clock.today()
    invoice = SalesInvoice(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        number=company.draft_series.take(),
        customer_id=customer.id,
        customer_number=str(customer.values["number"]),
        currency_code=customer.currency_code,
    )
    _set_customer(invoice, customer)
    invoice.currency_code = resolve_currency(company, parsed, invoice.currency_code)
    assign_plain(invoice, parsed, _PLAIN)
    invoice.values.setdefault("invoiceDate", today)
    invoice.values.setdefault("postingDate", invoice.values["invoiceDate"])
    invoice.values.setdefault("dueDate", invoice.values["invoiceDate"])
    invoice.values.setdefault("disputeStatusId", BLANK_GUID)
    return invoice
