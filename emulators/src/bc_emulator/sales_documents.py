"""Headers of sales documents: what ``salesInvoices`` and ``salesCreditMemos`` share.

Both pages (30012 and 30038) sit on a buffer table that shows the draft Sales Header and, after
posting, the posted header under the draft's ``id``; both resolve the customer and the currency
the same way, take ``discountAmount`` as an invoice discount on the draft, refuse changes once
posted and accept a deep insert of their lines. The subclasses add their own properties
(``remainingAmount`` and the posted-only fields on invoices; ``invoiceId``/``invoiceNumber`` and
``customerReturnReasonId`` on credit memos), dates and messages.

``status`` is XML-encoded (``Draft``, ``In_x0020_Review``, ``Open``, ``Paid``, ...);
``currencyCode`` reads as the LCY code for LCY documents and writing the LCY code stores blank
(bc-api.md §4.5, "currencyCode semantics", which names ``salesCreditMemos`` as well).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from typing import Generic
from typing import TypeVar

from bc_emulator.amounts import check_discount
from bc_emulator.amounts import compute_totals
from bc_emulator.customers import CustomersSet
from bc_emulator.document_lines import DocumentLinesSet
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.lookups import currency_id_of
from bc_emulator.lookups import customer_name
from bc_emulator.lookups import resolve_currency
from bc_emulator.lookups import resolve_customer
from bc_emulator.models import Company
from bc_emulator.models import Customer
from bc_emulator.models import NoSeries
from bc_emulator.models import SalesDocument

D = TypeVar("D", bound=SalesDocument)

LOGIC_FIELDS = frozenset(
    {
        "customerId",
        "customerNumber",
        "billToCustomerId",
        "billToCustomerNumber",
        "currencyId",
        "currencyCode",
        "discountAmount",
        "lastModifiedDateTime",
    }
)
ADDRESS_MAP = {
    "AddressLine1": "addressLine1",
    "AddressLine2": "addressLine2",
    "City": "city",
    "Country": "country",
    "State": "state",
    "PostCode": "postalCode",
}
_CUSTOMERS = CustomersSet()


class SalesDocumentsSet(EntitySet, Generic[D]):
    """Drafts and posted documents of one kind; subclasses name the kind and its rules."""

    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})
    record_type: type[D]
    #: the document date property (``invoiceDate`` / ``creditMemoDate``)
    date_field = ""
    posted_message = ""
    delete_posted_message = ""
    #: properties a posted document still accepts
    posted_editable: frozenset[str] = frozenset()
    #: properties with their own logic in a subclass (kept out of the plain copy)
    extra_logic: frozenset[str] = frozenset()

    def __init__(self, lines: DocumentLinesSet) -> None:
        super().__init__()
        self.lines = lines
        self.children = {lines.name: lines}
        self.deep_insert = frozenset({lines.name})
        skip = LOGIC_FIELDS | self.extra_logic
        self.plain = tuple(f.name for f in self.fields if not f.read_only and f.name not in skip)
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
            "totalAmountExcludingTax": lambda s, r: total(s.co, r).total_excluding_tax,
            "totalTaxAmount": lambda s, r: total(s.co, r).total_tax,
            "totalAmountIncludingTax": lambda s, r: total(s.co, r).total_including_tax,
        }
        self.expansions = {
            lines.name: lambda s, r, sel: [lines.serialize(s, line, sel) for line in r.lines],
            "customer": _expand_customer,
        }

    # -- where the documents live ------------------------------------------------------
    def documents(self, company: Company) -> dict[str, D]:
        """The company's documents of this kind by id."""
        raise NotImplementedError

    def draft_series(self, company: Company) -> NoSeries:
        """The No. Series of drafts ("Invoice Nos." / "Credit Memo Nos.")."""
        raise NotImplementedError

    def rows(self, scope: Scope) -> Iterable[D]:
        """Drafts and posted documents, in creation order."""
        return list(self.documents(scope.co).values())

    def find(self, scope: Scope, key: str) -> D | None:
        """Look up by the stable id."""
        return self.documents(scope.co).get(key)

    # -- hooks -------------------------------------------------------------------------
    def apply_extra(self, scope: Scope, document: D, parsed: dict[str, Any]) -> None:
        """Apply the subclass's own properties from a parsed body (create and update)."""

    def check_update(self, scope: Scope, document: D, parsed: dict[str, Any]) -> None:
        """Refuse what a PATCH may not change; posted documents take ``posted_editable`` only."""
        if document.posted and set(parsed) - self.posted_editable:
            raise dialog(self.posted_message)

    # -- writing -----------------------------------------------------------------------
    def create(self, scope: Scope, body: dict[str, Any]) -> D:
        """POST a draft, optionally with its lines (deep insert)."""
        parsed = self.parse_body(scope, body)
        customer = resolve_customer(scope.co, parsed)
        if customer is None:
            raise dialog('A "customerNumber" or a "customerId" must be provided.')
        lines = body.get(self.lines.name, [])
        if not isinstance(lines, list):
            raise BCError(400, "BadRequest", f"The '{self.lines.name}' value must be an array.")
        document = self.new_draft(scope, customer, parsed)
        for line_body in lines:
            if not isinstance(line_body, dict):
                raise BCError(
                    400, "BadRequest", f"Each {self.lines.caption.lower()} must be a JSON object."
                )
            self.lines.add(scope, document, self.lines.parse_body(scope, line_body), emit=False)
        if "discountAmount" in parsed:
            check_discount(scope.co, document, parsed["discountAmount"])
            document.discount_amount = parsed["discountAmount"]
            document.version += 1
        self.register(scope, document)
        return document

    def register(self, scope: Scope, document: D) -> None:
        """Store a new draft and announce it."""
        self.documents(scope.co)[document.id] = document
        scope.emit(self.name, document.id, "created")

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH header fields of a draft (or the few posted-only fields)."""
        document: D = rec
        parsed = self.parse_body(scope, body, document)
        self.check_update(scope, document, parsed)
        customer = resolve_customer(scope.co, parsed)
        if customer is not None and customer.id != document.customer_id:
            self.set_customer(document, customer)
            document.currency_code = customer.currency_code
        document.currency_code = resolve_currency(scope.co, parsed, document.currency_code)
        if "discountAmount" in parsed:
            check_discount(scope.co, document, parsed["discountAmount"])
            document.discount_amount = parsed["discountAmount"]
        self.apply_extra(scope, document, parsed)
        assign_plain(document, parsed, self.plain)
        document.touch(scope.store.clock.now())
        scope.emit(self.name, document.id, "updated")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a draft; posted documents cannot be deleted."""
        document: D = rec
        if document.posted:
            raise dialog(self.delete_posted_message)
        del self.documents(scope.co)[document.id]
        scope.emit(self.name, document.id, "deleted")

    def set_customer(self, document: D, customer: Customer) -> None:
        """Copy the sell-to (and, where the page stores it, bill-to) data of ``customer``."""
        document.customer_id = customer.id
        document.customer_number = str(customer.values["number"])
        document.values["customerName"] = customer_name(customer)
        document.values["billToName"] = customer_name(customer)
        for suffix, source in ADDRESS_MAP.items():
            value = customer.values.get(source, "")
            document.values[f"sellTo{suffix}"] = value
            bill_to = self.by_name.get(f"billTo{suffix}")
            if bill_to is not None and not bill_to.read_only:
                document.values[f"billTo{suffix}"] = value
        document.values["email"] = customer.values.get("email", "")
        document.values["phoneNumber"] = customer.values.get("phoneNumber", "")

    def new_draft(self, scope: Scope, customer: Customer, parsed: dict[str, Any]) -> D:
        """Build (not yet register) a draft for ``customer`` from a parsed body."""
        company = scope.co
        now = scope.store.clock.now()
        today: date = scope.store.clock.today()
        document = self.record_type(
            id=new_guid(),
            seq=scope.store.next_seq(),
            created_at=now,
            last_modified=now,
            number=self.draft_series(company).take(),
            customer_id=customer.id,
            customer_number=str(customer.values["number"]),
            currency_code=customer.currency_code,
        )
        self.set_customer(document, customer)
        document.currency_code = resolve_currency(company, parsed, document.currency_code)
        self.apply_extra(scope, document, parsed)
        assign_plain(document, parsed, self.plain)
        document.values.setdefault(self.date_field, today)
        document.values.setdefault("postingDate", document.values[self.date_field])
        document.values.setdefault("dueDate", document.values[self.date_field])
        return document


def _expand_customer(scope: Scope, doc: SalesDocument, select: tuple[str, ...] | None) -> Any:
    customer = scope.co.customers.get(doc.customer_id)
    return _CUSTOMERS.serialize(scope, customer, select) if customer else None
