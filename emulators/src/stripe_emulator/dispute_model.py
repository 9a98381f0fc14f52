"""The Dispute object as stripe-python 16.1.0 types it (`stripe/_dispute.py`), and its evidence.

Fields: `id` (`du_...`), `object`, `amount`, `balance_transactions` (full BalanceTransaction
objects, rendered on read from `_balance_transaction_ids`: "zero, one, or two balance
transactions that show funds withdrawn and reinstated"), `charge`, `created`, `currency`,
`enhanced_eligibility_types`, `evidence` (every field null until staged, plus `appeal` and
`enhanced_evidence`), `evidence_details` (`due_by`, `enhanced_eligibility`, `has_evidence`,
`past_due`, `submission_count`, `submission_method`), `intended_submission_method`,
`is_charge_refundable`, `livemode`, `metadata`, `network_reason_code`, `payment_intent`,
`payment_method_details` (card: `brand`, `case_type` `chargeback` | `inquiry`, `network`,
`network_reason_code`), `reason`, `status`.

`is_charge_refundable` is false for a chargeback (the funds are already withdrawn) and true for
an inquiry (nothing moved; a refund is still possible). `network_reason_code` follows Visa's
codes for the reasons the emulator opens (10.4 card-absent fraud, 13.1 not received, ...; the
map Stripe points to is docs.stripe.com/disputes/categories#network-code-map); other reasons
and inquiries have none.
"""

from __future__ import annotations

from typing import Any

from .errors import param_invalid
from .forms import Params
from .ids import new_id
from .state import EmulatorState
from .store import Record

DAY = 86400

# stripe-python 16.1.0 `_dispute.py`, `Dispute.reason`.
REASONS = (
    "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
    "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
    "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
    "subscription_canceled", "unrecognized",
)  # fmt: skip
VISA_REASON_CODES = {
    "fraudulent": "10.4",
    "product_not_received": "13.1",
    "subscription_canceled": "13.2",
    "product_unacceptable": "13.3",
    "credit_not_processed": "13.6",
    "duplicate": "12.6.1",
}

# `DisputeUpdateParamsEvidence` (params/_dispute_update_params.py): free text, then file ids.
TEXT_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text",
)  # fmt: skip
FILE_FIELDS = (
    "cancellation_policy", "customer_communication", "customer_signature",
    "duplicate_charge_documentation", "receipt", "refund_policy", "service_documentation",
    "shipping_documentation", "uncategorized_file",
)  # fmt: skip
STRUCTURED_FIELDS = ("appeal", "enhanced_evidence")
MAX_EVIDENCE_CHARS = 150_000  # "The combined character count of all fields is limited to 150,000."

OPEN = frozenset(
    {"warning_needs_response", "warning_under_review", "needs_response", "under_review"}
)
CLOSED = frozenset({"warning_closed", "won", "lost"})


def blank_evidence() -> Record:
    evidence: Record = {name: None for name in sorted((*TEXT_FIELDS, *FILE_FIELDS))}
    evidence["appeal"] = None
    evidence["enhanced_evidence"] = {}
    return dict(sorted(evidence.items()))


def new_dispute(
    state: EmulatorState, charge: Record, *, amount: int, reason: str, inquiry: bool
) -> Record:
    """A freshly opened dispute (no money moved yet; see dispute_money.py)."""
    now = state.clock.now()
    network_code = None if inquiry else VISA_REASON_CODES.get(reason)
    record: Record = {
        "id": new_id("dispute"), "object": "dispute", "amount": amount,
        "balance_transactions": [],  # filled on read from _balance_transaction_ids
        "charge": charge["id"], "created": now, "currency": charge["currency"],
        "enhanced_eligibility_types": [], "evidence": blank_evidence(),
        "evidence_details": {
            "due_by": now + state.config.dispute_response_days * DAY,
            "enhanced_eligibility": {}, "has_evidence": False, "past_due": False,
            "submission_count": 0, "submission_method": "not_submitted",
        },
        "intended_submission_method": None, "is_charge_refundable": inquiry,
        "livemode": False, "metadata": {}, "network_reason_code": network_code,
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "amazon_pay": None,
            "card": {"brand": "visa", "case_type": "inquiry" if inquiry else "chargeback",
                     "network": "visa", "network_reason_code": network_code},
            "klarna": None, "paypal": None, "type": "card",
        },
        "reason": reason,
        "status": "warning_needs_response" if inquiry else "needs_response",
        "_balance_transaction_ids": [], "_countered_fee_transaction": None, "_inquiry": inquiry,
    }  # fmt: skip
    return state.store.add("dispute", record)


def parse_evidence(params: Params) -> dict[str, Any]:
    """The evidence fields a request sets; "" clears a field (Stripe's unset convention)."""
    params.check_known((*TEXT_FIELDS, *FILE_FIELDS, *STRUCTURED_FIELDS))
    changes: dict[str, Any] = {}
    for name in (*TEXT_FIELDS, *FILE_FIELDS):
        if name in params:
            changes[name] = params.text(name)
    for name in STRUCTURED_FIELDS:
        if name in params:
            raw = params.raw(name)
            if raw != "" and not isinstance(raw, dict):
                raise param_invalid(params.name(name), f"Invalid hash: {params.name(name)}")
            changes[name] = (None if name == "appeal" else {}) if raw == "" else _typed(raw)
    return changes


def _typed(value: Any) -> Any:
    """Form values are strings; `fee_acknowledged` is the one boolean in these hashes."""
    if isinstance(value, dict):
        return {
            key: (item == "true") if key == "fee_acknowledged" else _typed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return value


def check_evidence_size(evidence: Record, param: str = "evidence") -> None:
    total = sum(len(evidence[name] or "") for name in TEXT_FIELDS)
    if total > MAX_EVIDENCE_CHARS:
        raise param_invalid(
            param, f"The combined character count of all evidence fields ({total}) exceeds "
            f"{MAX_EVIDENCE_CHARS}.",
        )  # fmt: skip


def has_evidence(evidence: Record) -> bool:
    staged = (evidence[name] for name in (*TEXT_FIELDS, *FILE_FIELDS, "appeal"))
    return any(value is not None for value in staged) or bool(evidence["enhanced_evidence"])
