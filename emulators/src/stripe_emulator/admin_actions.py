"""Control surface, part 1: test helpers that move money or inspect objects.

Stripe has no API for "the customer paid this invoice by card" or "the payout happened", so
tests trigger them here (never from product code). All JSON in, JSON out, Stripe error
envelope on failure:

- `POST /_emulator/invoices/<id>/pay_by_card` `{amount?, payment_method?}`
- `POST /_emulator/charges/<id>/refund` `{amount?, reason?}`
- `POST /_emulator/charges/<id>/dispute` `{reason?="general", amount? (default: all not
  refunded), inquiry?=false}`: the cardholder's bank opens a dispute (what a dispute test card
  does, on any charge) -> the Dispute
- `POST /_emulator/disputes/<id>/close` `{outcome: "won" | "lost"}`: the issuer decides
  (an inquiry closes as `warning_closed`) -> the Dispute
- `POST /_emulator/payouts` `{currency?, reconcile?}`; `POST /_emulator/payouts/<id>/reconcile`
- `POST /_emulator/payouts/<id>/fail` `{failure_code?="account_closed"}`: the bank returns it
- `POST /_emulator/webhook_endpoints/<id>/roll_secret` `{expires_in?}`
- `POST /_emulator/events/<id>/resend`
- `GET /_emulator/objects/<kind>`, `GET /_emulator/objects/<kind>/<id>` (with the includable
  fields in `render.INSPECTED`, e.g. an invoice's `amount_paid_off_stripe`)
- `GET /_emulator/credit_notes/<id>/pdf`: the credit note PDF stand-in.
- `GET /_emulator/i/<invoice id>` (+ `/pdf`): the hosted invoice page stand-in.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import request

from .dispute_model import REASONS
from .disputes import close_dispute
from .disputes import open_dispute
from .errors import param_invalid
from .events import subscribed
from .invoice_payments import pay_by_card
from .payouts import complete_reconciliation
from .payouts import fail_payout
from .payouts import pay_out_balance
from .refunds import refund_charge
from .render import INSPECTED
from .render import render
from .state import get_state
from .store import Record
from .store import public
from .webhook_endpoints import roll_secret

bp = Blueprint("admin_actions", __name__, url_prefix="/_emulator")


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise param_invalid("body", "The control surface expects a JSON object.")
    return data


def _int_or_none(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_invalid(key, f"{key} must be an integer (minor units).")
    return value


@bp.post("/invoices/<invoice_id>/pay_by_card")
def pay_invoice_by_card(invoice_id: str) -> Record:
    state, data = get_state(), body()
    with state.lock:
        invoice = state.store.require("invoice", invoice_id, "invoice")
        payment = pay_by_card(
            state,
            invoice,
            _int_or_none(data, "amount"),
            str(data.get("payment_method") or "pm_card_visa"),
        )
        intent = state.store.require("payment_intent", payment["payment"]["payment_intent"])
        charge = state.store.require("charge", intent["latest_charge"])
        return {
            "invoice": render(state, invoice),
            "invoice_payment": render(state, payment),
            "payment_intent": render(state, intent),
            "charge": render(state, charge),
            "balance_transaction": render(
                state, state.store.require("balance_transaction", charge["balance_transaction"])
            ),
        }


@bp.post("/charges/<charge_id>/refund")
def refund(charge_id: str) -> Record:
    state, data = get_state(), body()
    with state.lock:
        charge = state.store.require("charge", charge_id, "charge")
        reason = data.get("reason")
        created = refund_charge(
            state, charge, _int_or_none(data, "amount"), reason=str(reason) if reason else None
        )
        return render(state, created)


@bp.post("/charges/<charge_id>/dispute")
def dispute(charge_id: str) -> Record:
    state, data = get_state(), body()
    reason = str(data.get("reason") or "general")
    if reason not in REASONS:
        raise param_invalid("reason", f"reason must be one of {', '.join(REASONS)}.")
    inquiry = data.get("inquiry", False)
    if not isinstance(inquiry, bool):
        raise param_invalid("inquiry", "inquiry must be a boolean.")
    with state.lock:
        charge = state.store.require("charge", charge_id, "charge")
        opened = open_dispute(
            state, charge, amount=_int_or_none(data, "amount"), reason=reason, inquiry=inquiry
        )
        return render(state, opened)


@bp.post("/disputes/<dispute_id>/close")
def decide_dispute(dispute_id: str) -> Record:
    state, data = get_state(), body()
    with state.lock:
        target = state.store.require("dispute", dispute_id, "dispute")
        close_dispute(state, target, str(data.get("outcome") or ""))
        return render(state, target)


@bp.post("/payouts")
def payout_balance() -> Record:
    state, data = get_state(), body()
    with state.lock:
        currency = data.get("currency")
        payouts = pay_out_balance(
            state,
            str(currency).lower() if currency else None,
            reconcile=bool(data.get("reconcile", True)),
        )
        return {"object": "list", "data": [render(state, p) for p in payouts]}


@bp.post("/payouts/<payout_id>/reconcile")
def reconcile(payout_id: str) -> Record:
    state = get_state()
    with state.lock:
        payout = state.store.require("payout", payout_id, "payout")
        complete_reconciliation(state, payout)
        return render(state, payout)


@bp.post("/payouts/<payout_id>/fail")
def fail(payout_id: str) -> Record:
    state, data = get_state(), body()
    with state.lock:
        payout = state.store.require("payout", payout_id, "payout")
        fail_payout(state, payout, str(data.get("failure_code") or "account_closed"))
        return render(state, payout)


@bp.post("/webhook_endpoints/<endpoint_id>/roll_secret")
def roll(endpoint_id: str) -> Record:
    state, data = get_state(), body()
    with state.lock:
        expires_in = _int_or_none(data, "expires_in")
        secret = roll_secret(state, endpoint_id, 86400 if expires_in is None else expires_in)
        return {"id": endpoint_id, "secret": secret}


@bp.post("/events/<event_id>/resend")
def resend(event_id: str) -> Record:
    state = get_state()
    with state.lock:
        event = state.store.require("event", event_id, "event")
        count = 0
        for endpoint in state.store.all("webhook_endpoint", newest_first=False):
            if endpoint.get("deleted") or endpoint["status"] != "enabled":
                continue
            if not subscribed(endpoint, event["type"]) or state.dispatcher is None:
                continue
            payload = public(event)
            payload["api_version"] = endpoint["api_version"] or state.config.api_version
            body_bytes = json.dumps(payload, indent=2).encode()
            state.dispatcher.enqueue(
                event_id, event["type"], endpoint["id"], endpoint["url"], body_bytes
            )
            count += 1
        return {"id": event_id, "queued": count}


@bp.get("/objects/<kind>")
def list_objects(kind: str) -> Record:
    state = get_state()
    with state.lock:
        shown = INSPECTED.get(kind)
        return {
            "object": "list",
            "data": [render(state, r, shown) for r in state.store.all(kind)],
        }


@bp.get("/objects/<kind>/<object_id>")
def get_object(kind: str, object_id: str) -> Record:
    state = get_state()
    with state.lock:
        record = state.store.get(kind, object_id)
        if record is None:
            record = state.store.require(kind, object_id)
        return render(state, record, INSPECTED.get(kind))


@bp.get("/i/<invoice_id>")
def hosted_invoice(invoice_id: str) -> Record:
    state = get_state()
    with state.lock:
        invoice = state.store.require("invoice", invoice_id)
        return {
            "hosted_invoice": invoice_id,
            "number": invoice["number"],
            "status": invoice["status"],
            "amount_due": invoice["amount_due"],
            "amount_remaining": invoice["amount_remaining"],
            "currency": invoice["currency"],
        }


@bp.get("/i/<invoice_id>/pdf")
def invoice_pdf(invoice_id: str) -> Record:
    return hosted_invoice(invoice_id)


@bp.get("/credit_notes/<note_id>/pdf")
def credit_note_pdf(note_id: str) -> Record:
    state = get_state()
    with state.lock:
        note = state.store.require("credit_note", note_id)
        return {
            "credit_note": note_id,
            "number": note["number"],
            "invoice": note["invoice"],
            "status": note["status"],
            "total": note["total"],
            "currency": note["currency"],
        }
