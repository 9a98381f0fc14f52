"""PaymentIntents and card charges: how money enters the balance.

A confirmed PaymentIntent creates a succeeded Charge and a `charge` balance transaction
(ledger.py: settled amount, fee from the fee schedule, `available_on` after
`available_after_days`). Test payment methods follow Stripe's names: `pm_card_visa` (and any
other `pm_` id) succeeds; `pm_card_chargeDeclined` and
`pm_card_chargeDeclinedInsufficientFunds` fail with a 402 `card_declined`. At this API
version neither object has an `invoice` field (stripe-api.md §5).

Dispute test methods (docs.stripe.com/testing#disputes, "Card numbers" and "PaymentMethods"
tabs), each "charge succeeds, only to be disputed as":
- `pm_card_createDispute` / 4000000000000259: fraudulent;
- `pm_card_createDisputeProductNotReceived` / 4000000000002685: product not received;
- `pm_card_createDisputeInquiry` / 4000000000001976: an inquiry (reason `fraudulent`: the
  docs name no reason for it; the emulator's reading).

The emulator also takes the bare test card number wherever it takes a payment method id (its
shorthand for `payment_method_data[card][number]`). The charge is marked with
`_dispute_trigger`; the caller opens the dispute once the whole payment (and invoice) flow is
done (disputes.py), as Stripe opens it after the payment.

Updates (`POST /v1/charges/{id}`, `POST /v1/payment_intents/{id}`) change `metadata` the way
Stripe does (`updated_metadata`), and a changed charge is announced as `charge.updated`
(`announce_charge_update`). A PaymentIntent update is announced by nothing: Stripe has no
`payment_intent.updated` event (the `enabled_events` Literal of stripe-python 16.1.0
`params/_webhook_endpoint_create_params.py` lists `payment_intent.created`, `.succeeded`,
`.canceled`, ... and no `.updated`), whereas "`charge.updated`: Occurs whenever a charge
description or metadata is updated, or upon an asynchronous capture" (Stripe's event
description, as generated into pub.dev `client_stripe` `ChargeUpdatedEvent`).
"""

from __future__ import annotations

from typing import Any

from .currency import validate_charge_amount
from .errors import CARD_ERROR
from .errors import StripeError
from .errors import param_invalid
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .ids import random_token
from .ledger import charge_transaction
from .settlement import settle
from .state import EmulatorState
from .store import Record

DECLINES = {
    "pm_card_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "insufficient_funds", "Your card has insufficient funds.",
    ),
}  # fmt: skip
_DECLINE_SELLER_MESSAGE = "The bank did not return any further details with this decline."

# payment method / card number -> (dispute reason, inquiry?, last4 of the test card)
_FRAUDULENT = ("fraudulent", False, "0259")
_NOT_RECEIVED = ("product_not_received", False, "2685")
_INQUIRY = ("fraudulent", True, "1976")
DISPUTE_TRIGGERS: dict[str, tuple[str, bool, str]] = {
    "pm_card_createDispute": _FRAUDULENT,
    "4000000000000259": _FRAUDULENT,
    "pm_card_createDisputeProductNotReceived": _NOT_RECEIVED,
    "4000000000002685": _NOT_RECEIVED,
    "pm_card_createDisputeInquiry": _INQUIRY,
    "4000000000001976": _INQUIRY,
}


def create_intent(
    state: EmulatorState,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Record:
    """A PaymentIntent awaiting a payment method (event `payment_intent.created`)."""
    intent_id = new_id("payment_intent")
    intent: Record = {
        "id": intent_id, "object": "payment_intent", "allowed_payment_method_types": None,
        "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": 0, "application": None, "application_fee_amount": None,
        "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
        "capture_method": "automatic", "client_secret": f"{intent_id}_secret_{random_token(24)}",
        "confirmation_method": "automatic", "created": state.clock.now(), "currency": currency,
        "customer": customer, "customer_account": None, "description": description,
        "excluded_payment_method_types": None, "hooks": None, "last_payment_error": None,
        "latest_charge": None, "livemode": False, "managed_payments": None,
        "metadata": dict(metadata or {}), "next_action": None, "on_behalf_of": None,
        "payment_details": None, "payment_method": None,
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "payment_record": None, "presentment_details": None,
        "processing": None, "receipt_email": None, "review": None, "setup_future_usage": None,
        "shipping": None, "source": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "requires_payment_method",
        "transfer_data": None, "transfer_group": None,
    }  # fmt: skip
    state.store.add("payment_intent", intent)
    emit(state, "payment_intent.created", intent)
    return intent


def _charge(
    state: EmulatorState, intent: Record, method: str, decline: tuple[str, str] | None
) -> Record:
    charge_id = new_id("charge")
    ok = decline is None
    charge: Record = {
        "id": charge_id, "object": "charge", "amount": intent["amount"],
        "amount_captured": intent["amount"] if ok else 0, "amount_refunded": 0,
        "application": None, "application_fee": None, "application_fee_amount": None,
        "authorization_code": "123456" if ok else None, "balance_transaction": None,
        "billing_details": {"address": {"city": None, "country": None, "line1": None,
                                        "line2": None, "postal_code": None, "state": None},
                            "email": None, "name": None, "phone": None, "tax_id": None},
        "calculated_statement_descriptor": "STRIPE EMULATOR", "captured": ok,
        "created": state.clock.now(), "currency": intent["currency"],
        "customer": intent["customer"], "description": intent["description"],
        "disputed": False, "failure_balance_transaction": None,
        "failure_code": "card_declined" if decline else None,
        "failure_message": decline[1] if decline else None, "fraud_details": {},
        "livemode": False, "metadata": dict(intent["metadata"]), "on_behalf_of": None,
        "outcome": {
            "advice_code": None, "network_advice_code": None, "network_decline_code": None,
            "network_status": "approved_by_network" if ok else "declined_by_network",
            "reason": decline[0] if decline else None, "risk_level": "normal", "risk_score": 20,
            "seller_message": "Payment complete." if ok else _DECLINE_SELLER_MESSAGE,
            "type": "authorized" if ok else "issuer_declined",
        },
        "paid": ok, "payment_intent": intent["id"], "payment_method": method,
        "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 12,
                                            "exp_year": 2034, "funding": "credit",
                                            "last4": "4242", "network": "visa"},
                                   "type": "card"},
        "presentment_details": None, "radar_options": {},
        "receipt_email": intent.get("receipt_email"), "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/emulator/{charge_id}",
        "refunded": False, "review": None, "shipping": None, "source": None,
        "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "succeeded" if ok else "failed",
        "transfer_data": None, "transfer_group": None,
    }  # fmt: skip
    return state.store.add("charge", charge)


def confirm_intent(state: EmulatorState, intent: Record, payment_method: str) -> Record:
    """Charge the card; returns the succeeded Charge or raises a 402 card error."""
    validate_charge_amount(intent["amount"], intent["currency"])
    settle(state.config, intent["amount"], intent["currency"])  # fails early without a rate
    test_method = payment_method.startswith("pm_card_") or payment_method in DISPUTE_TRIGGERS
    method = new_id("payment_method") if test_method else payment_method
    decline = DECLINES.get(payment_method)
    charge = _charge(state, intent, method, decline)
    trigger = DISPUTE_TRIGGERS.get(payment_method)
    if trigger is not None:
        charge["payment_method_details"]["card"]["last4"] = trigger[2]
        charge["_dispute_trigger"] = {"reason": trigger[0], "inquiry": trigger[1]}
    intent["latest_charge"] = charge["id"]
    if decline is not None:
        intent["status"] = "requires_payment_method"
        error: dict[str, Any] = {
            "charge": charge["id"], "code": "card_declined", "decline_code": decline[0],
            "message": decline[1], "payment_method": {"id": method, "object": "payment_method"},
            "type": CARD_ERROR,
        }  # fmt: skip
        intent["last_payment_error"] = error
        emit(state, "charge.failed", charge)
        emit(state, "payment_intent.payment_failed", intent)
        raise StripeError(
            402,
            decline[1],
            type_=CARD_ERROR,
            code="card_declined",
            extra={
                "decline_code": decline[0],
                "charge": charge["id"],
                "payment_intent": {"id": intent["id"], "object": "payment_intent"},
            },
        )
    charge["balance_transaction"] = charge_transaction(state, charge)["id"]
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        payment_method=method,
        last_payment_error=None,
    )
    emit(state, "charge.succeeded", charge)
    emit(state, "payment_intent.succeeded", intent)
    return charge


def cancel_intent(state: EmulatorState, intent: Record, reason: str | None) -> None:
    if intent["status"] in ("succeeded", "canceled"):
        return
    intent.update(status="canceled", canceled_at=state.clock.now(), cancellation_reason=reason)
    emit(state, "payment_intent.canceled", intent)


# -- updates: metadata as Stripe merges and limits it ------------------------------------------

# docs.stripe.com/metadata, "Data": "You can add 50 total key-value pairs", key "40-character
# limit", value "500-character limit" (stripe-api.md §4, "Metadata").
METADATA_MAX_KEYS = 50
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500


def updated_metadata(params: Params, current: dict[str, str]) -> dict[str, str]:
    """The object's metadata after an update's `metadata[...]`, or Stripe's 400 for it.

    Stripe merges (keys not sent are kept), `""` unsets one key and `metadata=""` all of them
    (stripe-python 16.1.0 `ChargeUpdateParams.metadata` / `PaymentIntentUpdateParams.metadata`:
    "Individual keys can be unset by posting an empty value to them. All keys can be unset by
    posting an empty value to `metadata`"). The limits are checked on what the request asks,
    and the key count on the *result*: an object that already has 50 keys takes no new one.
    The messages are the ones Stripe answers with (its `invalid_request_error`, `param`
    `metadata`), as reported from live responses: "Invalid key: ... must be a string under 40
    characters" (github.com/stripe/stripe-php/issues/246, a Stripe engineer giving the format;
    github.com/Automattic/camptix/issues/228), "Invalid val: ... must be a string under 500
    characters" (github.com/houndci/hound/pull/817, github.com/lukec/stripe-perl/issues/190,
    also for a value that is not a string), and "Metadata can have up to 50 keys, but you've set
    51. Email us at support+metadata@stripe.com for more information."
    (github.com/FlowFuse/flowfuse/issues/1948, keys accumulated over several updates). Nothing
    is changed when the request is refused: the caller assigns the result only on success.
    """
    raw = params.raw("metadata")
    if not isinstance(raw, dict):
        # Absent (no change), "" (clear all) or not a hash (`forms` refuses it).
        return merge_metadata(current, params.metadata())
    for key, value in raw.items():
        if len(key) > METADATA_KEY_LENGTH:
            raise param_invalid(
                "metadata",
                f"Invalid key: {key} must be a string under {METADATA_KEY_LENGTH} characters",
            )
        if not isinstance(value, str) or len(value) > METADATA_VALUE_LENGTH:
            raise param_invalid(
                "metadata",
                f"Invalid val: {value} must be a string under {METADATA_VALUE_LENGTH} characters",
            )
    merged = merge_metadata(current, raw)
    if len(merged) > METADATA_MAX_KEYS:
        raise param_invalid(
            "metadata",
            f"Metadata can have up to {METADATA_MAX_KEYS} keys, but you've set {len(merged)}. "
            "Email us at support+metadata@stripe.com for more information.",
        )
    return merged


def announce_charge_update(state: EmulatorState, charge: Record, before: Record) -> None:
    """`charge.updated` with the fields that changed, when an update changed anything (as
    `customer.updated` and `invoice.updated` are announced); an update that sets what is
    already there announces nothing."""
    changed = previous_attributes(before, charge)
    if changed:
        emit(state, "charge.updated", charge, changed)
