"""Credit notes: how much one credits, how the credit is split, and what it does to the
invoice, the customer balance and the payments (stripe-api.md §6).

Sources: the `CreditNote.create` docstring of stripe-python 16.1.0 (`_credit_note.py`) and
docs.stripe.com/api/credit_notes/create at `2025-11-17.clover` and later:

- "A credit note will first reduce the invoice's amount_remaining (and amount_due), but not
  below zero. This amount is indicated by the credit note's pre_payment_amount. The excess
  amount is indicated by post_payment_amount", split into refunds (`refund_amount` creates a
  refund "for the charge associated with the invoice", `refunds[]` links existing ones), a
  customer balance credit (`credit_amount`) and an outside-of-Stripe credit
  (`out_of_band_amount`): "The sum of refunds, customer balance credits, and outside of Stripe
  credits must equal the post_payment_amount". Since 2019-12-03 nothing is allocated
  implicitly (docs.stripe.com/changelog/2019-12-03/post-payment-credit-note-requirement).
- `type` is `pre_payment`, `post_payment` or `mixed` (docs.stripe.com/changelog/basil/
  2025-05-28/partial-payments); the invoice's `pre_payment_credit_notes_amount` and
  `post_payment_credit_notes_amount` grow by the two parts.
- docs.stripe.com/invoicing/dashboard/credit-notes: credit notes are for `open` or `paid`
  invoices; "if a credit note reduces the balance of an open invoice to 0, the invoice status
  changes to paid" (without recording a payment: `amount_paid` is unchanged); "The sum of all
  credit notes issued for an invoice can't exceed the total amount of the invoice"; "You can
  void a credit note only if it's on an open invoice. Voiding a credit note reverses its
  adjustment, increasing the amount due on the invoice by the amount of the credit note."
- Refunds made through the Refund API outside any credit note lower the creditable amount
  (`CreditNote.create` docstring).

Events, in the order Stripe sent them for a post-payment credit note with a refund and a
balance credit (`charge.refunded`, `invoice.updated`, `customer.updated`,
`credit_note.created`, as recorded against Stripe in a public test timeline): here
`refund.created` + `charge.refunded` per refund, `invoice.updated`, `invoice.paid` +
`invoice.payment_succeeded` when a pre-payment credit settles the invoice,
`customer.updated`, `credit_note.created`; voiding: `invoice.updated`, `credit_note.voided`.

The emulator's readings (Stripe publishes no exact messages or codes for these): validation
errors are 400 `invalid_request_error` without a code, except `parameters_exclusive`;
`refund_amount` is refunded from the invoice's paid charges, oldest first, skipping charges
that were charged back; an `amount`-only credit note has no lines; `number` is the invoice
number + `-CN-` + a two-digit sequence per invoice (as in Stripe's API reference example
`C9E0C52C-0036-CN-01`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from .credit_note_lines import build_lines
from .currency import exponent
from .customer_balance import record_balance_change
from .disputes import charged_back
from .errors import invalid_transition
from .errors import param_invalid
from .errors import resource_missing
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .invoice_payments import mark_paid
from .invoice_payments import sync_default_payment
from .refunds import refund_charge
from .state import EmulatorState
from .store import Record

CREATE_PARAMS = (
    "amount", "credit_amount", "effective_at", "email_type", "expand", "invoice", "lines",
    "memo", "metadata", "out_of_band_amount", "reason", "refund_amount", "refunds",
    "shipping_cost",
)  # fmt: skip
REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
_REFUND_REASONS = {"duplicate": "duplicate", "fraudulent": "fraudulent"}
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


@dataclass
class Plan:
    """A validated credit note, before anything has happened."""

    invoice: Record
    lines: list[Record]
    subtotal: int
    total: int
    inclusive_tax: int
    exclusive_tax: int
    total_taxes: list[Record]
    pre: int
    post: int
    credit: int
    out_of_band: int | None
    new_refunds: list[tuple[Record, int]] = field(default_factory=list)
    linked_refunds: list[tuple[Record, int]] = field(default_factory=list)
    memo: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    effective_at: int | None = None


def display(amount: int, currency: str) -> str:
    """An amount for messages, Stripe-style ("£1.00"; other currencies "1.00 SEK")."""
    digits = exponent(currency)
    text = f"{Decimal(amount).scaleb(-digits):.{digits}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def invoice_charges(state: EmulatorState, invoice: Record) -> list[Record]:
    """Succeeded charges of the invoice's paid PaymentIntent payments, oldest first."""
    charges: list[Record] = []
    for payment in state.store.all("invoice_payment", newest_first=False):
        intent_id = payment["payment"].get("payment_intent")
        if payment["invoice"] != invoice["id"] or payment["status"] != "paid" or not intent_id:
            continue
        intent = state.store.get("payment_intent", intent_id)
        charge_id = intent["latest_charge"] if intent is not None else None
        charge = state.store.get("charge", charge_id) if charge_id else None
        if charge is not None and charge["status"] == "succeeded":
            charges.append(charge)
    return charges


def issued_notes(state: EmulatorState, invoice_id: str) -> list[Record]:
    return [
        n
        for n in state.store.all("credit_note", newest_first=False)
        if n["invoice"] == invoice_id and n["status"] == "issued"
    ]


def _linked(state: EmulatorState, invoice_id: str) -> dict[str, int]:
    """Refund id -> amount already tied to issued credit notes of the invoice."""
    linked: dict[str, int] = {}
    for note in issued_notes(state, invoice_id):
        for entry in note["refunds"]:
            linked[entry["refund"]] = linked.get(entry["refund"], 0) + int(entry["amount_refunded"])
    return linked


def creditable(state: EmulatorState, invoice: Record) -> int:
    """The invoice total less issued credit notes and refunds made outside credit notes."""
    linked = _linked(state, invoice["id"])
    charge_ids = {c["id"] for c in invoice_charges(state, invoice)}
    outside = sum(
        int(r["amount"]) - linked.get(r["id"], 0)
        for r in state.store.all("refund")
        if r["charge"] in charge_ids and r["status"] == "succeeded"
    )
    credited = sum(int(n["amount"]) for n in issued_notes(state, invoice["id"]))
    return int(invoice["total"]) - credited - outside


def plan_credit_note(state: EmulatorState, params: Params) -> Plan:
    """Validate create/preview parameters and compute the credit note's amounts."""
    invoice_id = params.string("invoice", required=True) or ""
    invoice = state.store.require("invoice", invoice_id, "invoice")
    if invoice["status"] not in ("open", "paid"):
        raise param_invalid(
            "invoice",
            f"Credit notes can only be issued for open or paid invoices; invoice {invoice_id} "
            f"is {invoice['status']}.",
        )
    currency = invoice["currency"]
    lines = build_lines(state, invoice, params.objects("lines"))
    _refuse_shipping(params)
    subtotal = sum(int(line["amount"]) for line in lines)
    inclusive, exclusive, totals = _tax_totals(lines)
    amount = params.integer("amount")
    if lines:
        total = subtotal + exclusive
        if amount is not None and amount != total:
            raise param_invalid(
                "amount",
                f"The amount ({display(amount, currency)}) must equal the total of the credit "
                f"note lines ({display(total, currency)}).",
            )
    elif amount is not None:
        subtotal = total = amount
    else:
        raise param_invalid("amount", "One of amount, lines, or shipping_cost must be provided.")
    if total <= 0:
        raise param_invalid("amount", "The credit note amount must be greater than 0.")
    limit = creditable(state, invoice)
    if total > limit:
        raise param_invalid(
            "amount" if not lines else "lines",
            f"The credit note amount ({display(total, currency)}) exceeds the amount that can "
            f"still be credited on invoice {invoice_id} ({display(max(limit, 0), currency)}).",
        )
    remaining = int(invoice["amount_remaining"]) if invoice["status"] == "open" else 0
    pre = min(total, max(remaining, 0))
    plan = Plan(
        invoice=invoice, lines=lines, subtotal=subtotal, total=total, inclusive_tax=inclusive,
        exclusive_tax=exclusive, total_taxes=totals, pre=pre, post=total - pre,
        credit=params.integer("credit_amount", minimum=0) or 0,
        out_of_band=params.integer("out_of_band_amount", minimum=0),
        memo=params.text("memo"), metadata=merge_metadata({}, params.metadata()),
        reason=params.string("reason", choices=REASONS),
        effective_at=params.integer("effective_at"),
    )  # fmt: skip
    params.string("email_type", choices=("credit_note", "none"))
    _plan_refunds(state, params, plan)
    return plan


def _refuse_shipping(params: Params) -> None:
    shipping = params.sub("shipping_cost")
    if shipping is None:
        return
    shipping.check_known(("shipping_rate",))
    rate = shipping.string("shipping_rate")
    if rate:
        raise resource_missing("shipping rate", rate, "shipping_cost[shipping_rate]")


def _tax_totals(lines: list[Record]) -> tuple[int, int, list[Record]]:
    inclusive = exclusive = 0
    per_rate: dict[str, Record] = {}
    for line in lines:
        for tax in line["taxes"]:
            if tax["tax_behavior"] == "inclusive":
                inclusive += tax["amount"]
            else:
                exclusive += tax["amount"]
            key = tax["tax_rate_details"]["tax_rate"]
            summed = per_rate.setdefault(key, {**tax, "amount": 0, "taxable_amount": 0})
            summed["amount"] += tax["amount"]
            summed["taxable_amount"] += tax["taxable_amount"]
    return inclusive, exclusive, list(per_rate.values())


def _plan_refunds(state: EmulatorState, params: Params, plan: Plan) -> None:
    """Check the post-payment split and find the money for `refund_amount` and `refunds[]`."""
    invoice, currency = plan.invoice, plan.invoice["currency"]
    charges = invoice_charges(state, invoice)
    linked = _linked(state, invoice["id"])
    for entry in params.objects("refunds"):
        entry.check_known(("amount_refunded", "payment_record_refund", "refund", "type"))
        if entry.string("type", choices=("payment_record_refund", "refund")) == (
            "payment_record_refund"
        ):
            raise param_invalid(
                entry.name("type"), "Payment record refunds are not supported by the emulator."
            )
        refund_id = entry.string("refund", required=True) or ""
        refund = state.store.require("refund", refund_id, entry.name("refund"))
        if refund["charge"] not in {c["id"] for c in charges}:
            raise param_invalid(
                entry.name("refund"),
                f"Refund {refund_id} is not a refund of a payment of invoice {invoice['id']}.",
            )
        wanted = entry.integer("amount_refunded", minimum=1)
        wanted = int(refund["amount"]) if wanted is None else wanted
        free = int(refund["amount"]) - linked.get(refund_id, 0)
        if wanted > free:
            raise param_invalid(
                entry.name("amount_refunded"),
                f"Only {display(free, currency)} of refund {refund_id} can still be linked to "
                "a credit note.",
            )
        linked[refund_id] = linked.get(refund_id, 0) + wanted
        plan.linked_refunds.append((refund, wanted))
    refund_amount = params.integer("refund_amount", minimum=0) or 0
    refunds_total = refund_amount + sum(amount for _, amount in plan.linked_refunds)
    split = plan.credit + refunds_total + (plan.out_of_band or 0)
    if split != plan.post:
        target = "credit note amount" if plan.pre == 0 else "credit note's post-payment amount"
        given = [
            name
            for name, value in (
                ("refund_amount", refunds_total),
                ("credit_amount", plan.credit),
                ("out_of_band_amount", plan.out_of_band),
            )
            if value
        ]
        raise param_invalid(
            given[0] if given else "out_of_band_amount",
            f"The sum of credit amount, refund amount and out of band amount "
            f"({display(split, currency)}) must equal the {target} "
            f"({display(plan.post, currency)}).",
        )
    still = refund_amount
    for charge in charges:
        available = int(charge["amount"]) - int(charge["amount_refunded"])
        if still <= 0 or available <= 0 or charged_back(state, charge["id"]):
            continue
        take = min(still, available)
        plan.new_refunds.append((charge, take))
        still -= take
    if still > 0:
        refundable = refund_amount - still
        raise param_invalid(
            "refund_amount",
            f"The refund amount ({display(refund_amount, currency)}) exceeds what can still be "
            f"refunded on the payments of invoice {invoice['id']} "
            f"({display(refundable, currency)}).",
        )


def _next_number(state: EmulatorState, invoice: Record) -> str:
    count = sum(1 for n in state.store.all("credit_note") if n["invoice"] == invoice["id"])
    return f"{invoice['number']}-CN-{count + 1:02d}"


def build_record(state: EmulatorState, plan: Plan, refunds: list[Record]) -> Record:
    """The credit note object for `plan` (`refunds` = the entries of its `refunds` list)."""
    invoice, now = plan.invoice, state.clock.now()
    note_id = new_id("credit_note")
    kind = "mixed" if plan.pre and plan.post else ("pre_payment" if plan.pre else "post_payment")
    taxes = plan.inclusive_tax + plan.exclusive_tax
    return {
        "id": note_id, "object": "credit_note", "amount": plan.total, "amount_shipping": 0,
        "created": now, "currency": invoice["currency"], "customer": invoice["customer"],
        "customer_account": None, "customer_balance_transaction": None, "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": plan.effective_at if plan.effective_at is not None else now,
        "invoice": invoice["id"], "livemode": False, "memo": plan.memo,
        "metadata": plan.metadata, "number": _next_number(state, invoice),
        "out_of_band_amount": plan.out_of_band,
        "pdf": f"{state.base_url}/_emulator/credit_notes/{note_id}/pdf",
        "post_payment_amount": plan.post, "pre_payment_amount": plan.pre,
        "pretax_credit_amounts": [], "reason": plan.reason, "refunds": refunds,
        "shipping_cost": None, "status": "issued", "subtotal": plan.subtotal,
        "subtotal_excluding_tax": plan.subtotal - plan.inclusive_tax, "total": plan.total,
        "total_excluding_tax": plan.total - taxes, "total_taxes": plan.total_taxes,
        "type": kind, "voided_at": None, "_line_ids": [],
    }  # fmt: skip


def _refund_entry(refund: Record, amount: int) -> Record:
    return {
        "amount_refunded": amount,
        "payment_record_refund": None,
        "refund": refund["id"],
        "type": "refund",
    }


def preview(state: EmulatorState, plan: Plan) -> Record:
    """The credit note `plan` would create, without creating anything."""
    note = build_record(state, plan, [_refund_entry(r, a) for r, a in plan.linked_refunds])
    note["_preview_lines"] = plan.lines
    return note


def issue(state: EmulatorState, plan: Plan) -> Record:
    """Create the credit note: refunds, invoice amounts, customer balance, events."""
    invoice = plan.invoice
    entries = [_refund_entry(r, a) for r, a in plan.linked_refunds]
    for charge, amount in plan.new_refunds:
        refund = refund_charge(state, charge, amount, reason=_REFUND_REASONS.get(plan.reason or ""))
        entries.append(_refund_entry(refund, amount))
    note = build_record(state, plan, entries)
    for line in plan.lines:
        state.store.add("credit_note_line_item", line)
        note["_line_ids"].append(line["id"])
    state.store.add("credit_note", note)
    before = copy.deepcopy(invoice)
    invoice["amount_due"] -= plan.pre
    invoice["amount_remaining"] -= plan.pre
    invoice["pre_payment_credit_notes_amount"] += plan.pre
    invoice["post_payment_credit_notes_amount"] += plan.post
    state.store.touch("invoice", invoice)
    emit(state, "invoice.updated", invoice, previous_attributes(before, invoice))
    if invoice["status"] == "open" and invoice["amount_remaining"] <= 0:
        mark_paid(state, invoice)
    else:
        sync_default_payment(state, invoice)
    if plan.credit:
        customer = state.store.require("customer", invoice["customer"], "customer")
        customer_before = copy.deepcopy(customer)
        entry = record_balance_change(
            state,
            customer,
            -plan.credit,
            "credit_note",
            currency=invoice["currency"],
            invoice=invoice["id"],
            credit_note=note["id"],
        )
        note["customer_balance_transaction"] = entry["id"]
        emit(state, "customer.updated", customer, previous_attributes(customer_before, customer))
    emit(state, "credit_note.created", note)
    return note


def void(state: EmulatorState, note: Record) -> None:
    """Void an issued credit note of an open invoice, giving its amount back to collect."""
    if note["status"] != "issued":
        raise invalid_transition(f"Credit note {note['id']} is already void.")
    invoice = state.store.require("invoice", note["invoice"], "invoice")
    if invoice["status"] != "open":
        raise invalid_transition(
            "You can only void a credit note if the associated invoice is open; invoice "
            f"{invoice['id']} is {invoice['status']}."
        )
    before = copy.deepcopy(invoice)
    pre = int(note["pre_payment_amount"])
    invoice["amount_due"] += pre
    invoice["amount_remaining"] += pre
    invoice["pre_payment_credit_notes_amount"] -= pre
    invoice["post_payment_credit_notes_amount"] -= int(note["post_payment_amount"])
    sync_default_payment(state, invoice)
    state.store.touch("invoice", invoice)
    note.update(status="void", voided_at=state.clock.now())
    emit(state, "invoice.updated", invoice, previous_attributes(before, invoice))
    emit(state, "credit_note.voided", note)
