"""A BC credit memo's lines as the ``lines[]`` of a Stripe credit note: the Stripe half.

**Why the mapping is split, and why this half lives here.** Matching a credit memo line to the
BC invoice line it credits needs both BC documents, which only the reconciler reads
(``reconciler.credit_note_lines``). Everything after that needs the Stripe invoice: which Stripe
line carries that BC line (the push puts ``bc_line_id`` in each line's metadata), its quantity
and unit amount, and what earlier credit notes already took from it and *how* (by quantity or by
amount). Only stripe-gateway sees those, and it reads them in the same command that creates the
credit note, so the plan is made against Stripe's current state rather than a copy the
reconciler fetched earlier. The functions here are pure: they take the invoice and its credit
notes as plain dicts (``StripeObject.to_dict()``) and return the ``lines[]`` parameters.

**Stripe's rules** (API ``2026-10-28.endive``: stripe-python 16.1.0
``stripe/params/_credit_note_create_params.py`` ``CreditNoteCreateParamsLine``, and
docs.stripe.com/invoicing/integration/programmatic-credit-notes, "Generate credit notes
programmatically"):

- ``type`` is ``invoice_line_item`` (with ``invoice_line_item`` and ``quantity`` or ``amount``;
  ``amount`` is "The line item amount to credit. Only valid when ``type`` is
  ``invoice_line_item``") or ``custom_line_item`` (``description``, ``quantity`` and
  ``unit_amount``, which "will be multiplied by the quantity to get the full amount to credit").
- "Discount a quantity from an invoice line item. The total discount is the discount quantity
  times the unit price of that line item." So a quantity is used only when that product is the
  memo line's amount *exactly* in minor units; otherwise the line is credited by amount. Nothing
  is ever rounded.
- "You can't combine discount types on an invoice line item. For example, if you discount a line
  item quantity, then a future credit note can only discount that line item by quantity, not by
  amount." A line already credited one way is only ever credited that way again here; when that
  cannot be exact, the memo line becomes a custom line.
- ``metadata`` is accepted on every line (``CreditNoteCreateParamsLine.metadata``);
  ``description`` only on custom lines ("Only valid when the ``type`` is
  ``custom_line_item``"). So each line carries the BC line's sequence in its metadata
  (``bc_line_sequence``), and custom lines also carry the BC description.
- ``tax_rates`` / ``tax_amounts`` are never sent: the push puts BC's tax on a line of its own
  (description ``Tax``, no ``bc_line_id``), so the memo's tax credits that line by amount. An
  invoice line with Stripe-computed taxes or discounts is not credited as an invoice line (Stripe
  would add its share of tax to the credit, and the total would no longer be BC's); an invoice
  with ``automatic_tax[enabled]=true`` gets no lines at all ("``custom_line_item`` is not valid
  when the invoice is set up with ``automatic_tax[enabled]=true``").

**The rules, per memo line, in order:**

1. The Stripe line: the one whose metadata ``bc_line_id`` is the BC invoice line the reconciler
   matched (for the memo's tax, the push's ``Tax`` line). None, or one Stripe cannot credit
   (not positive, taxed, discounted): a custom line.
2. By quantity when the reconciler says the unit price is the invoice line's, the BC quantity
   scales to a whole Stripe quantity (``memo quantity x Stripe quantity / BC invoice quantity``)
   that is still left on the line, the line was never credited by amount, and that quantity
   times the line's ``unit_amount_decimal`` is the memo line's amount exactly.
3. Otherwise by amount, when the line was never credited by quantity and has that much left.
4. Otherwise a custom line: the BC description, quantity 1, ``unit_amount`` = the amount.

Each memo line becomes exactly one credit note line crediting exactly its amount, so the lines
always sum to the credit memo's total.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

QUANTITY = "quantity"
AMOUNT = "amount"
#: The description of the line the push adds for BC's tax (``reconciler.translate``).
TAX_DESCRIPTION = "Tax"
#: The credit note line metadata key naming the BC credit memo line (its ``sequence``).
SEQUENCE_KEY = "bc_line_sequence"
_CUSTOM_DESCRIPTION_MAX = 500  # what the gateway accepts as a Stripe description


class LinesUnknown(Exception):
    """The invoice's lines, or what its credit notes took from them, are not all known."""


@dataclasses.dataclass(frozen=True)
class CreditLine:
    """One credited line of a BC credit memo, as the reconciler sends it.

    ``bc_invoice_line_id`` is the BC invoice line it credits (None: no invoice line matched);
    ``invoice_tax`` marks the memo's tax, which credits the invoice's tax line.
    ``bc_quantity`` / ``bc_invoice_quantity`` are the memo line's and the invoice line's BC
    quantities, sent only when both lines have the same unit price and line discount.
    """

    description: str
    amount_minor: int
    sequence: int | None = None
    bc_invoice_line_id: str | None = None
    invoice_tax: bool = False
    bc_quantity: Decimal | None = None
    bc_invoice_quantity: Decimal | None = None


@dataclasses.dataclass
class InvoiceLineState:
    """A Stripe invoice line and what issued credit notes already credited on it."""

    id: str
    amount: int
    quantity: int
    unit_amount_decimal: Decimal | None
    description: str
    bc_line_id: str | None
    creditable: bool = True  # False: taxed or discounted by Stripe, or not positive
    credited_by: str | None = None  # QUANTITY or AMOUNT once a credit note credited it
    credited_quantity: int = 0
    credited_amount: int = 0

    @property
    def amount_left(self) -> int:
        return self.amount - self.credited_amount

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.credited_quantity


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list_data(obj: Mapping[str, Any], field: str, what: str) -> list[Mapping[str, Any]]:
    listing = obj.get(field) or {}
    if listing.get("has_more"):
        raise LinesUnknown(f"{what} has more lines than one read of it returns")
    data: list[Mapping[str, Any]] = list(listing.get("data") or [])
    return data


def invoice_line_states(
    invoice: Mapping[str, Any], credit_notes: Iterable[Mapping[str, Any]]
) -> list[InvoiceLineState]:
    """The invoice's lines with what its issued credit notes credited on each.

    Raises ``LinesUnknown`` when a list is cut short (Stripe embeds the first lines of an
    invoice or credit note only) or the invoice computes its tax automatically.
    """
    if (invoice.get("automatic_tax") or {}).get("enabled"):
        raise LinesUnknown(
            f"invoice {invoice.get('id')} computes its tax automatically, which custom credit "
            "note lines do not allow"
        )
    states: dict[str, InvoiceLineState] = {}
    for line in _list_data(invoice, "lines", f"invoice {invoice.get('id')}"):
        metadata = line.get("metadata") or {}
        pricing = line.get("pricing") or {}
        amount = _int(line.get("amount"))
        states[str(line["id"])] = InvoiceLineState(
            id=str(line["id"]),
            amount=amount,
            quantity=_int(line.get("quantity")),
            unit_amount_decimal=_decimal(pricing.get("unit_amount_decimal")),
            description=str(line.get("description") or ""),
            bc_line_id=str(metadata["bc_line_id"]) if metadata.get("bc_line_id") else None,
            creditable=amount > 0
            and not line.get("taxes")
            and not line.get("discount_amounts")
            and not line.get("discounts"),
        )
    for note in credit_notes:
        if note.get("status") != "issued":
            continue  # a void credit note gave its credit back
        for credited in _list_data(note, "lines", f"credit note {note.get('id')}"):
            state = states.get(str(credited.get("invoice_line_item") or ""))
            if state is None:
                continue
            quantity = credited.get("quantity")
            state.credited_by = state.credited_by or (AMOUNT if quantity is None else QUANTITY)
            state.credited_quantity += _int(quantity)
            state.credited_amount += _int(credited.get("amount"))
    return list(states.values())


def _target(line: CreditLine, states: Sequence[InvoiceLineState]) -> InvoiceLineState | None:
    if line.invoice_tax:
        found = [s for s in states if s.bc_line_id is None and s.description == TAX_DESCRIPTION]
    elif line.bc_invoice_line_id:
        found = [s for s in states if s.bc_line_id == line.bc_invoice_line_id]
    else:
        return None
    usable = [s for s in found if s.creditable]
    # Prefer a line with room for the whole amount (two lines can share a bc_line_id only if
    # someone edited the invoice in Stripe).
    usable.sort(key=lambda s: s.amount_left < line.amount_minor)
    return usable[0] if usable else None


def stripe_quantity(line: CreditLine, state: InvoiceLineState) -> int | None:
    """The whole Stripe quantity the memo line credits at the invoice line's price, if any."""
    if line.bc_quantity is None or not line.bc_invoice_quantity or state.quantity < 1:
        return None
    if line.bc_quantity <= 0 or line.bc_invoice_quantity <= 0:
        return None
    scaled = line.bc_quantity * state.quantity / line.bc_invoice_quantity
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def _by_quantity(line: CreditLine, state: InvoiceLineState) -> int | None:
    """The quantity to credit when Stripe's "quantity times the unit price" is exact."""
    if state.credited_by == AMOUNT or state.unit_amount_decimal is None:
        return None
    quantity = stripe_quantity(line, state)
    if quantity is None or not 1 <= quantity <= state.quantity_left:
        return None
    if state.unit_amount_decimal * quantity != line.amount_minor:
        return None
    if quantity == state.quantity_left and line.amount_minor != state.amount_left:
        return None  # the last units must take exactly what is left of the line
    return quantity


def _metadata(line: CreditLine) -> dict[str, str]:
    if line.invoice_tax:
        return {"bc_amount": "total_tax_amount"}
    return {SEQUENCE_KEY: str(line.sequence)} if line.sequence is not None else {}


def _custom(line: CreditLine) -> dict[str, Any]:
    params: dict[str, Any] = {
        "type": "custom_line_item",
        "description": (line.description or "Credit")[:_CUSTOM_DESCRIPTION_MAX],
        "quantity": 1,
        "unit_amount": line.amount_minor,
    }
    metadata = _metadata(line)
    if metadata:
        params["metadata"] = metadata
    return params


def plan_lines(
    lines: Sequence[CreditLine], invoice_lines: Sequence[InvoiceLineState]
) -> list[dict[str, Any]]:
    """The ``lines[]`` parameters crediting each memo line exactly (see the module's rules)."""
    states = [dataclasses.replace(s) for s in invoice_lines]  # credited as this note goes
    planned: list[dict[str, Any]] = []
    for line in lines:
        if line.amount_minor <= 0:
            raise ValueError(f"a credit note line must credit a positive amount: {line}")
        state = _target(line, states)
        if state is None:
            planned.append(_custom(line))
            continue
        entry: dict[str, Any] = {"type": "invoice_line_item", "invoice_line_item": state.id}
        quantity = _by_quantity(line, state)
        if quantity is not None:
            entry[QUANTITY] = quantity
            state.credited_by = QUANTITY
            state.credited_quantity += quantity
        elif state.credited_by != QUANTITY and line.amount_minor <= state.amount_left:
            entry[AMOUNT] = line.amount_minor
            state.credited_by = AMOUNT
        else:
            planned.append(_custom(line))
            continue
        state.credited_amount += line.amount_minor
        metadata = _metadata(line)
        if metadata:
            entry["metadata"] = metadata
        planned.append(entry)
    return planned


def planned_amount(entry: Mapping[str, Any], invoice_lines: Sequence[InvoiceLineState]) -> int:
    """What Stripe credits for one planned line (quantity x unit price, amount, or custom)."""
    if entry["type"] == "custom_line_item":
        return int(entry["quantity"]) * int(entry["unit_amount"])
    if AMOUNT in entry:
        return int(entry[AMOUNT])
    [state] = [s for s in invoice_lines if s.id == entry["invoice_line_item"]]
    assert state.unit_amount_decimal is not None
    credit = state.unit_amount_decimal * int(entry[QUANTITY])
    if credit != credit.to_integral_value():
        raise ValueError(f"quantity {entry[QUANTITY]} of {state.id} is not a whole minor unit")
    return int(credit)
