"""``customers`` (page 30009, bc-api.md §4.4).

``displayName`` is required on POST and cannot be blanked; ``number`` comes from the customer
No. Series when omitted; ``currencyCode`` reads as the LCY code when the customer has no
currency and writing the LCY code stores blank. ``balanceDue`` sums the open customer ledger
entries. Creates, updates and deletes raise webhook notifications.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import dialog
from bc_emulator.lookups import currency_id_of
from bc_emulator.lookups import duplicate_key
from bc_emulator.lookups import resolve_currency
from bc_emulator.models import Customer

_PLAIN = tuple(
    f.name
    for f in schemas.CUSTOMER
    if not f.read_only
    and f.name not in ("number", "currencyId", "currencyCode", "lastModifiedDateTime")
)


class CustomersSet(EntitySet):
    """Customer cards of a company."""

    name = "customers"
    entity_type = "customer"
    caption = "Customer"
    fields = schemas.CUSTOMER
    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "currencyCode": lambda s, r: r.currency_code or s.co.lcy_code,
            "currencyId": lambda s, r: currency_id_of(s.co, r.currency_code),
            "balanceDue": _balance_due,
            "taxAreaDisplayName": lambda s, r: "",
        }

    def rows(self, scope: Scope) -> Iterable[Customer]:
        """All customers of the company."""
        return list(scope.co.customers.values())

    def find(self, scope: Scope, key: str) -> Customer | None:
        """Look up by id."""
        return scope.co.customers.get(key)

    def create(self, scope: Scope, body: dict[str, Any]) -> Customer:
        """POST a customer."""
        parsed = self.parse_body(scope, body)
        if not str(parsed.get("displayName", "")).strip():
            raise dialog('A "displayName" must be provided.')
        company = scope.co
        number = parsed.get("number") or ""
        if number:
            if company.customer_by_number(number) is not None:
                raise duplicate_key("Customer", "No.", number)
        else:
            number = company.customer_series.take()
            while company.customer_by_number(number) is not None:
                number = company.customer_series.take()
        now = scope.store.clock.now()
        customer = Customer(
            id=new_guid(),
            seq=scope.store.next_seq(),
            created_at=now,
            last_modified=now,
            currency_code=resolve_currency(company, parsed, ""),
        )
        customer.values = {"number": number, "type": "Company", "blocked": " "}
        assign_plain(customer, parsed, _PLAIN)
        company.customers[customer.id] = customer
        scope.emit(self.name, customer.id, "created")
        return customer

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a customer (``number`` renames it)."""
        customer: Customer = rec
        parsed = self.parse_body(scope, body, customer)
        if "displayName" in parsed and not str(parsed["displayName"]).strip():
            raise dialog('A "displayName" must be provided.')
        number = parsed.get("number")
        if number is not None and number != customer.values["number"]:
            if not number:
                raise dialog('A "number" must be provided.')
            if scope.co.customer_by_number(number) is not None:
                raise duplicate_key("Customer", "No.", number)
            customer.values["number"] = number
        customer.currency_code = resolve_currency(scope.co, parsed, customer.currency_code)
        assign_plain(customer, parsed, _PLAIN)
        customer.touch(scope.store.clock.now())
        scope.emit(self.name, customer.id, "updated")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a customer without documents or ledger entries."""
        customer: Customer = rec
        number = customer.values["number"]
        if any(inv.customer_id == customer.id for inv in scope.co.invoices.values()):
            raise dialog(
                f"You cannot delete Customer {number} because there is at least one outstanding "
                "Sales Invoice for this customer."
            )
        if any(memo.customer_id == customer.id for memo in scope.co.credit_memos.values()):
            raise dialog(
                f"You cannot delete Customer {number} because there is at least one outstanding "
                "Sales Credit Memo for this customer."
            )
        if any(e.customer_id == customer.id for e in scope.co.cust_entries):
            raise dialog(
                f"You cannot delete Customer {number} because there are one or more ledger "
                "entries for this customer."
            )
        del scope.co.customers[customer.id]
        scope.emit(self.name, customer.id, "deleted")


def _balance_due(scope: Scope, rec: Any) -> Decimal:
    return sum(
        (e.remaining for e in scope.co.cust_entries if e.customer_id == rec.id),
        Decimal(0),
    )
