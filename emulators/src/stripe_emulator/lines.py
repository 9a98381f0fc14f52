"""Invoice items and the invoice line items they produce.

One pricing style per item (stripe-api.md §6): `amount` (line total, may be negative),
`price_data{currency, product|product_data, unit_amount|unit_amount_decimal}`, or (invoice
items only) top-level `unit_amount_decimal`; `pricing[price]` needs a Price object, which
the emulator does not model, so it answers `resource_missing`. Quantities are `quantity` or
`quantity_decimal`; a line amount is unit x quantity rounded half-up to a minor unit.
`tax_amounts[]` (add_lines/update_lines) attach caller-computed taxes through auto-created,
archived TaxRate objects, reused when the `tax_rate_data` is identical.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from .currency import validate_currency
from .errors import StripeError
from .errors import param_invalid
from .errors import resource_missing
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .state import EmulatorState
from .store import Record

LINE_FIELDS = (
    "amount",
    "description",
    "discountable",
    "discounts",
    "invoice_item",
    "metadata",
    "period",
    "price_data",
    "pricing",
    "quantity",
    "quantity_decimal",
    "tax_amounts",
    "tax_rates",
)


def decimal_string(value: Decimal) -> str:
    """Stripe's decimal-string form: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _quantity(params: Params) -> Decimal:
    quantity = params.integer("quantity", minimum=0)
    quantity_decimal = params.decimal("quantity_decimal")
    if quantity is not None and quantity_decimal is not None:
        raise param_invalid(
            params.name("quantity_decimal"),
            "You may only specify one of these parameters: quantity, quantity_decimal.",
            "parameters_exclusive",
        )
    if quantity_decimal is not None and quantity_decimal < 0:
        raise param_invalid(params.name("quantity_decimal"), "Quantity must be non-negative.")
    return quantity_decimal if quantity_decimal is not None else Decimal(quantity or 1)


def _pricing(
    state: EmulatorState, params: Params, currency: str, quantity: Decimal
) -> tuple[int, Record]:
    """(line amount, pricing object) from the item's pricing parameters."""
    amount = params.integer("amount")
    price_data = params.sub("price_data")
    unit_decimal = params.decimal("unit_amount_decimal")
    pricing = params.sub("pricing")
    if pricing is not None:
        price = pricing.string("price", required=True) or ""
        raise resource_missing("price", price, pricing.name("price"))
    chosen = [x for x in (amount, price_data, unit_decimal) if x is not None]
    if len(chosen) != 1:
        raise param_invalid(
            params.name("amount"),
            "You must specify exactly one of amount, price_data or unit_amount_decimal.",
        )
    price_details: Record | None = None
    if price_data is not None:
        price_data.check_known(
            (
                "currency",
                "product",
                "product_data",
                "tax_behavior",
                "unit_amount",
                "unit_amount_decimal",
            )
        )
        data_currency = validate_currency(
            price_data.string("currency", required=True) or "", price_data.name("currency")
        )
        if data_currency != currency:
            raise param_invalid(
                price_data.name("currency"),
                f"The price currency ({data_currency}) must match the invoice "
                f"currency ({currency}).",
            )
        product = price_data.string("product")
        if product is None:
            product_data = price_data.sub("product_data", required=True)
            assert product_data is not None
            product_data.string("name", required=True)
            product = new_id("product")
        unit_int = price_data.integer("unit_amount", minimum=0)
        unit_decimal = price_data.decimal("unit_amount_decimal")
        if (unit_int is None) == (unit_decimal is None):
            raise param_invalid(
                price_data.name("unit_amount"),
                "You must specify exactly one of unit_amount or unit_amount_decimal.",
            )
        unit_decimal = unit_decimal if unit_decimal is not None else Decimal(unit_int or 0)
        price_details = {"price": new_id("price"), "product": product}
    if amount is not None:
        unit = Decimal(amount) / quantity if quantity else Decimal(amount)
        line_amount = amount
    else:
        assert unit_decimal is not None
        unit = unit_decimal
        line_amount = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    pricing_obj = {
        "price_details": price_details,
        "type": "price_details",
        "unit_amount_decimal": decimal_string(unit),
    }
    return line_amount, pricing_obj


def _taxes(state: EmulatorState, params: Params) -> list[Record]:
    taxes: list[Record] = []
    for entry in params.objects("tax_amounts"):
        entry.check_known(("amount", "tax_rate_data", "taxability_reason", "taxable_amount"))
        amount = entry.integer("amount", required=True)
        taxable = entry.integer("taxable_amount", required=True)
        data = entry.sub("tax_rate_data", required=True)
        assert data is not None
        assert amount is not None
        rate = _tax_rate(state, data)
        taxes.append(
            {
                "amount": amount,
                "tax_behavior": "inclusive" if rate["inclusive"] else "exclusive",
                "tax_rate_details": {"tax_rate": rate["id"]},
                "taxability_reason": entry.string("taxability_reason") or "standard_rated",
                "taxable_amount": taxable,
                "type": "tax_rate_details",
            }
        )
    return taxes


def _tax_rate(state: EmulatorState, data: Params) -> Record:
    keys = (
        "country",
        "description",
        "display_name",
        "inclusive",
        "jurisdiction",
        "jurisdiction_level",
        "percentage",
        "state",
        "tax_type",
    )
    data.check_known(keys)
    data.string("display_name", required=True)
    data.string("percentage", required=True)
    inclusive = data.boolean("inclusive")
    if inclusive is None:
        raise param_invalid(
            data.name("inclusive"), f"Missing required param: {data.name('inclusive')}."
        )
    fingerprint = tuple((k, data.string(k) if k != "inclusive" else str(inclusive)) for k in keys)
    for rate in state.store.all("tax_rate"):
        if rate["_fingerprint"] == fingerprint:
            return rate
    percentage = data.decimal("percentage") or Decimal(0)
    rate = {
        "id": new_id("tax_rate"), "object": "tax_rate", "active": False,
        "country": data.string("country"), "created": state.clock.now(),
        "description": data.string("description"), "display_name": data.string("display_name"),
        "effective_percentage": float(percentage), "flat_amount": None, "inclusive": inclusive,
        "jurisdiction": data.string("jurisdiction"),
        "jurisdiction_level": data.string("jurisdiction_level"), "livemode": False,
        "metadata": {}, "percentage": float(percentage), "rate_type": "percentage",
        "state": data.string("state"), "tax_type": data.string("tax_type"),
        "_fingerprint": fingerprint,
    }  # fmt: skip
    return state.store.add("tax_rate", rate)


def build_item(
    state: EmulatorState, params: Params, *, customer: str, currency: str, invoice: str | None
) -> Record:
    """A new invoice item record from create/add_lines parameters."""
    if params.raw("tax_rates") not in (None, ""):
        raise StripeError(
            400,
            "tax_rates are not supported by the emulator; use tax_amounts.",
            param=params.name("tax_rates"),
        )
    quantity = _quantity(params)
    amount, pricing = _pricing(state, params, currency, quantity)
    now = state.clock.now()
    period = params.sub("period")
    discountable = params.boolean("discountable")
    item: Record = {
        "id": new_id("invoiceitem"), "object": "invoiceitem", "amount": amount,
        "currency": currency, "customer": customer, "customer_account": None, "date": now,
        "description": params.text("description"),
        "discountable": discountable if discountable is not None else amount >= 0,
        "discounts": [], "invoice": invoice, "livemode": False,
        "metadata": merge_metadata({}, params.metadata()), "net_amount": amount,
        "parent": None,
        "period": {
            "start": period.integer("start", required=True) if period else now,
            "end": period.integer("end", required=True) if period else now,
        },
        "pricing": pricing, "proration": False, "proration_details": {"credited_items": None},
        "quantity": int(quantity), "quantity_decimal": decimal_string(quantity),
        "tax_rates": [], "test_clock": None,
        "_taxes": _taxes(state, params), "_line": None,
    }  # fmt: skip
    return state.store.add("invoiceitem", item)


def update_item(state: EmulatorState, item: Record, params: Params) -> None:
    """Apply update_lines / invoiceitem update parameters to an existing item."""
    if any(
        k in params
        for k in ("amount", "price_data", "unit_amount_decimal", "quantity", "quantity_decimal")
    ):
        quantity = (
            _quantity(params)
            if ("quantity" in params or "quantity_decimal" in params)
            else Decimal(item["quantity_decimal"])
        )
        if any(k in params for k in ("amount", "price_data", "unit_amount_decimal")):
            amount, pricing = _pricing(state, params, item["currency"], quantity)
        else:
            unit = Decimal(item["pricing"]["unit_amount_decimal"])
            amount = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            pricing = item["pricing"]
        item.update(
            amount=amount,
            net_amount=amount,
            pricing=pricing,
            quantity=int(quantity),
            quantity_decimal=decimal_string(quantity),
        )
    if "description" in params:
        item["description"] = params.text("description")
    if "tax_amounts" in params:
        item["_taxes"] = _taxes(state, params)
    item["metadata"] = merge_metadata(item["metadata"], params.metadata())


def sync_line(state: EmulatorState, item: Record) -> Record:
    """Create or refresh the invoice line item mirroring `item`."""
    line = state.store.get("line_item", item["_line"]) if item["_line"] else None
    fields: dict[str, Any] = {
        "amount": item["amount"], "currency": item["currency"],
        "description": item["description"], "discountable": item["discountable"],
        "invoice": item["invoice"], "metadata": dict(item["metadata"]),
        "period": dict(item["period"]), "pricing": item["pricing"],
        "quantity": item["quantity"], "quantity_decimal": item["quantity_decimal"],
        "subtotal": item["amount"], "taxes": [dict(t) for t in item["_taxes"]],
    }  # fmt: skip
    if line is None:
        line = {
            "id": new_id("line_item"), "object": "line_item", "discount_amounts": [],
            "discounts": [], "livemode": False, "pretax_credit_amounts": [],
            "subscription": None, "_item": item["id"],
            "parent": {
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": item["id"], "proration": False,
                    "proration_details": {"credited_items": None}, "subscription": None,
                },
                "subscription_item_details": None,
            },
        }  # fmt: skip
        line.update(fields)
        state.store.add("line_item", line)
        item["_line"] = line["id"]
    else:
        line.update(fields)
    return line
