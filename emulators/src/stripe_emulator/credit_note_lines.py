"""Credit note lines: what the `lines[]` parameter of a credit note credits, and for how much.

stripe-python 16.1.0 `CreditNoteCreateParamsLine`: `type` is `invoice_line_item` (with
`invoice_line_item` and `quantity` or `amount`) or `custom_line_item` (with `description`,
`quantity`, `unit_amount` or `unit_amount_decimal`); each field is "only valid" for its type.
Rules from docs.stripe.com/invoicing/dashboard/credit-notes ("Issue credit notes"):

- crediting a quantity credits "the discount quantity times the unit price of that line item";
- "You can't combine discount types on an invoice line item": once a line was credited by
  quantity, later credit notes credit it by quantity only, and likewise for amount;
- crediting negative line items is a private beta, and "You also can't credit a negative
  amount on a custom credit note line item": both are refused.

The emulator's readings (Stripe publishes no messages for these): a line can be credited up to
its quantity / amount less what issued credit notes already credited (voided ones give theirs
back), across earlier credit notes and the lines of the same request alike, and more is a 400
`invalid_request_error` naming `lines[i][quantity]` / `lines[i][amount]`; an unknown line id is
`resource_missing`, an existing line of another invoice a 400 naming
`lines[i][invoice_line_item]`; crediting the whole remaining quantity credits the whole
remaining amount (no rounding drift); taxes of an invoice line are credited in proportion to
the credited amount, rounded half-up per tax; a line credited by amount has `quantity`,
`unit_amount` and `unit_amount_decimal` null. `tax_rates` / `tax_amounts` on credit note
lines are refused (no TaxRate objects of one's own, as for invoice lines). The amounts on the
invoice (`amount_remaining`, `pre_payment_credit_notes_amount`,
`post_payment_credit_notes_amount`) follow from the credit note's total as for an `amount`
credit note (`credit_note_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal

from .errors import param_invalid
from .errors import resource_missing
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .lines import decimal_string
from .state import EmulatorState
from .store import Record
from .store import public

LINE_PARAMS = (
    "amount", "description", "invoice_line_item", "metadata", "quantity", "tax_amounts",
    "tax_rates", "type", "unit_amount", "unit_amount_decimal",
)  # fmt: skip
_INVOICE_LINE_ONLY = ("amount", "invoice_line_item")
_CUSTOM_ONLY = ("description", "unit_amount", "unit_amount_decimal")


@dataclass
class Credited:
    """What issued credit notes already credited on one invoice line."""

    mode: str  # "quantity" or "amount"
    quantity: int = 0
    amount: int = 0


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def credited_so_far(state: EmulatorState, invoice_id: str) -> dict[str, Credited]:
    """Per invoice line: how (and how much) the issued credit notes credited it."""
    done: dict[str, Credited] = {}
    for note in state.store.all("credit_note", newest_first=False):
        if note["invoice"] != invoice_id or note["status"] != "issued":
            continue
        for line_id in note["_line_ids"]:
            line = state.store.get("credit_note_line_item", line_id)
            if line is not None and line["invoice_line_item"]:
                _count(done, line)
    return done


def _count(done: dict[str, Credited], line: Record) -> None:
    entry = done.setdefault(line["invoice_line_item"], Credited(line["_mode"]))
    entry.quantity += int(line["quantity"] or 0)
    entry.amount += int(line["amount"])


def build_lines(state: EmulatorState, invoice: Record, entries: list[Params]) -> list[Record]:
    """Credit note line records (not stored) for the `lines[]` parameters."""
    done = credited_so_far(state, invoice["id"])
    built: list[Record] = []
    for params in entries:
        params.check_known(LINE_PARAMS)
        kind = params.string(
            "type", required=True, choices=("custom_line_item", "invoice_line_item")
        )
        for key in ("tax_rates", "tax_amounts"):
            if params.raw(key) not in (None, ""):
                raise param_invalid(
                    params.name(key),
                    f"{key} on credit note lines are not supported by the emulator.",
                )
        if kind == "invoice_line_item":
            _only_for(params, _CUSTOM_ONLY, "custom_line_item")
            line = _invoice_line_credit(state, invoice, params, done)
            _count(done, line)
        else:
            _only_for(params, _INVOICE_LINE_ONLY, "invoice_line_item")
            line = _custom_credit(params)
        built.append(line)
    return built


def _only_for(params: Params, keys: tuple[str, ...], kind: str) -> None:
    for key in keys:
        if key in params:
            raise param_invalid(
                params.name(key), f"{params.name(key)} is only valid when type is {kind}."
            )


def _base(kind: str, params: Params, amount: int) -> Record:
    return {
        "id": new_id("credit_note_line_item"), "object": "credit_note_line_item",
        "amount": amount, "description": None, "discount_amount": 0, "discount_amounts": [],
        "invoice_line_item": None, "livemode": False,
        "metadata": merge_metadata({}, params.metadata()), "pretax_credit_amounts": [],
        "quantity": None, "tax_rates": [], "taxes": [], "type": kind, "unit_amount": None,
        "unit_amount_decimal": None, "_mode": None,
    }  # fmt: skip


def _invoice_line_credit(
    state: EmulatorState, invoice: Record, params: Params, done: dict[str, Credited]
) -> Record:
    line_param = params.name("invoice_line_item")
    line_id = params.string("invoice_line_item", required=True) or ""
    source = state.store.get("line_item", line_id)
    if source is None:
        raise resource_missing("invoice line item", line_id, line_param)
    if line_id not in invoice["_line_ids"]:
        raise param_invalid(
            line_param,
            f"Invoice line item {line_id} does not belong to invoice {invoice['id']}; a credit "
            "note can only credit lines of its own invoice.",
        )
    if int(source["amount"]) < 0:
        raise param_invalid(line_param, "Crediting negative invoice line items is not supported.")
    quantity = params.integer("quantity", minimum=1)
    amount = params.integer("amount", minimum=1)
    if (quantity is None) == (amount is None):
        raise param_invalid(
            params.name("quantity"),
            "You must specify exactly one of quantity or amount for an invoice_line_item line.",
            "parameters_exclusive" if quantity is not None else None,
        )
    mode = "quantity" if quantity is not None else "amount"
    before = done.get(line_id, Credited(mode))
    if before.mode != mode:
        raise param_invalid(
            params.name(mode),
            f"Invoice line item {line_id} was already credited by {before.mode}; it can only "
            f"be credited by {before.mode}, not by {mode}.",
        )
    amount_left = int(source["amount"]) - before.amount
    line = _base("invoice_line_item", params, 0)
    line.update(
        description=source["description"], invoice_line_item=line_id, _mode=mode,
        tax_rates=_tax_rates(state, source),
    )  # fmt: skip
    if quantity is not None:
        quantity_left = int(source["quantity"]) - before.quantity
        if quantity > quantity_left:
            raise param_invalid(  # a validation error: no idempotent result is stored
                params.name("quantity"),
                f"The quantity to credit ({quantity}) exceeds the quantity of invoice line item "
                f"{line_id} that is left to credit ({quantity_left}).",
            )
        unit = Decimal(source["pricing"]["unit_amount_decimal"])
        credit = amount_left if quantity == quantity_left else round_half_up(unit * quantity)
        line.update(
            quantity=quantity,
            unit_amount=round_half_up(unit),
            unit_amount_decimal=decimal_string(unit),
        )
    else:
        assert amount is not None
        if amount > amount_left:
            raise param_invalid(
                params.name("amount"),
                f"The amount to credit ({amount}) exceeds the amount of invoice line item "
                f"{line_id} that is left to credit ({amount_left}).",
            )
        credit = amount
    line["amount"] = credit
    line["taxes"] = _taxes(source, credit)
    return line


def _tax_rates(state: EmulatorState, source: Record) -> list[Record]:
    rates = []
    for tax in source["taxes"]:
        rate = state.store.get("tax_rate", tax["tax_rate_details"]["tax_rate"])
        if rate is not None:
            rates.append(public(rate))
    return rates


def _taxes(source: Record, credit: int) -> list[Record]:
    """The invoice line's taxes scaled to the credited share."""
    whole = int(source["amount"])
    share = Decimal(credit) / Decimal(whole) if whole else Decimal(0)
    return [
        {
            **tax,
            "amount": round_half_up(Decimal(tax["amount"]) * share),
            "taxable_amount": round_half_up(Decimal(tax["taxable_amount"]) * share),
        }
        for tax in source["taxes"]
    ]


def _custom_credit(params: Params) -> Record:
    description = params.string("description", required=True)
    quantity = params.integer("quantity", minimum=1)
    quantity = 1 if quantity is None else quantity
    unit_int = params.integer("unit_amount", minimum=0)
    unit_decimal = params.decimal("unit_amount_decimal")
    if (unit_int is None) == (unit_decimal is None):
        raise param_invalid(
            params.name("unit_amount"),
            "You must specify exactly one of unit_amount or unit_amount_decimal.",
        )
    unit = unit_decimal if unit_decimal is not None else Decimal(unit_int or 0)
    if unit < 0:
        raise param_invalid(
            params.name("unit_amount_decimal"),
            "You can't credit a negative amount on a custom credit note line item.",
        )
    line = _base("custom_line_item", params, round_half_up(unit * quantity))
    line.update(
        description=description, quantity=quantity, unit_amount=round_half_up(unit),
        unit_amount_decimal=decimal_string(unit),
    )  # fmt: skip
    return line
