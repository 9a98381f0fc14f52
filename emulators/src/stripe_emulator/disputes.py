"""The dispute lifecycle: open, stage/submit evidence, close (won, lost, accepted).

Statuses (stripe-python 16.1.0 `Dispute.status`): a chargeback goes `needs_response` ->
`under_review` (evidence submitted) -> `won` | `lost`; an inquiry goes
`warning_needs_response` -> `warning_under_review` -> `warning_closed` and never moves money.
Events (`charge.dispute.*` in `_event.py`), each with the Dispute as `data.object`:
`created` then `funds_withdrawn` on opening a chargeback (`created` alone for an inquiry),
`updated` on every evidence/metadata change (with `previous_attributes`), `closed` on closing,
then `funds_reinstated` on a win.

Evidence: `POST /v1/disputes/{id}` stages the given fields and submits them unless
`submit=false` ("... submitted to the bank by making another request with this attribute set to
`true` (the default)", `DisputeUpdateParams.submit`). Evidence can be changed only while the
dispute needs a response ("Typically, you may only submit evidence once",
`EvidenceDetails.submission_count`). Test mode outcome (docs.stripe.com/testing#disputes,
"Evidence"): submitted `uncategorized_text` `winning_evidence` closes the dispute as won,
`losing_evidence` as lost; an inquiry closes as `warning_closed` either way.
`POST /v1/disputes/{id}/close` accepts the dispute: "The status of the dispute will change from
needs_response to lost" (`Dispute.close`); an accepted inquiry becomes `warning_closed`.
"""

from __future__ import annotations

import copy
from typing import Any

from . import dispute_money
from .dispute_model import CLOSED
from .dispute_model import check_evidence_size
from .dispute_model import has_evidence
from .dispute_model import new_dispute
from .errors import invalid_transition
from .errors import param_invalid
from .events import emit
from .events import previous_attributes
from .forms import merge_metadata
from .state import EmulatorState
from .store import Record

WINNING, LOSING = "winning_evidence", "losing_evidence"


def disputes_of(state: EmulatorState, charge_id: str) -> list[Record]:
    return [d for d in state.store.all("dispute") if d["charge"] == charge_id]


def charged_back(state: EmulatorState, charge_id: str) -> bool:
    """True once a chargeback (not an inquiry) exists on the charge: refunds are then refused."""
    return any(not d["_inquiry"] for d in disputes_of(state, charge_id))


def open_dispute(
    state: EmulatorState,
    charge: Record,
    *,
    amount: int | None = None,
    reason: str = "general",
    inquiry: bool = False,
) -> Record:
    """Open a dispute on a succeeded charge (default amount: everything not refunded)."""
    if charge["status"] != "succeeded":
        raise invalid_transition(f"Charge {charge['id']} has not succeeded and cannot be disputed.")
    if any(d["status"] not in CLOSED for d in disputes_of(state, charge["id"])):
        raise invalid_transition(f"Charge {charge['id']} already has an open dispute.")
    disputable = int(charge["amount"]) - int(charge["amount_refunded"])
    amount = disputable if amount is None else amount
    if not 1 <= amount <= disputable:
        raise param_invalid(
            "amount", f"The disputed amount must be between 1 and {disputable} (the charge amount "
            "not refunded).",
        )  # fmt: skip
    dispute = new_dispute(state, charge, amount=amount, reason=reason, inquiry=inquiry)
    if not inquiry:
        dispute_money.withdraw(state, dispute, charge)
    charge["disputed"] = True
    emit(state, "charge.dispute.created", dispute)
    if not inquiry:
        emit(state, "charge.dispute.funds_withdrawn", dispute)
    return dispute


def dispute_if_test_card(state: EmulatorState, charge: Record) -> Record | None:
    """Open the dispute a dispute test card asks for (after the payment flow completed)."""
    trigger = charge.pop("_dispute_trigger", None)
    if trigger is None or charge["status"] != "succeeded":
        return None
    return open_dispute(state, charge, reason=trigger["reason"], inquiry=trigger["inquiry"])


def update_dispute(
    state: EmulatorState,
    dispute: Record,
    *,
    evidence: dict[str, Any] | None,
    metadata: dict[str, str] | None,
    submit: bool | None,
    submission_method: str | None = None,
) -> None:
    """Stage evidence and/or metadata, submit when asked (default with evidence)."""
    submitting = submit if submit is not None else evidence is not None
    if (evidence is not None or submitting) and dispute["status"] not in (
        "needs_response",
        "warning_needs_response",
    ):
        raise invalid_transition(
            f"Dispute {dispute['id']} has status {dispute['status']}; its evidence can no longer "
            "be changed or submitted."
        )
    staged = {**dispute["evidence"], **(evidence or {})}
    check_evidence_size(staged)
    if submitting and not has_evidence(staged):
        raise param_invalid("submit", "There is no evidence to submit for this dispute.")
    before = copy.deepcopy(dispute)
    dispute["metadata"] = merge_metadata(dispute["metadata"], metadata)
    if submission_method is not None:
        dispute["intended_submission_method"] = submission_method
    dispute["evidence"] = staged
    dispute["evidence_details"]["has_evidence"] = has_evidence(staged)
    if submitting:
        _submit(state, dispute)
    changes = previous_attributes(before, dispute)
    if changes:
        emit(state, "charge.dispute.updated", dispute, changes)
    text = staged["uncategorized_text"] if submitting else None
    if text in (WINNING, LOSING):
        close_dispute(state, dispute, "won" if text == WINNING else "lost")


def _submit(state: EmulatorState, dispute: Record) -> None:
    details = dispute["evidence_details"]
    details["submission_count"] += 1
    details["submission_method"] = "manual"
    details["past_due"] = state.clock.now() > int(details["due_by"])
    inquiry = dispute["_inquiry"]
    dispute["status"] = "warning_under_review" if inquiry else "under_review"
    if not inquiry:
        charge = state.store.require("charge", dispute["charge"])
        dispute_money.charge_countered_fee(state, dispute, charge)


def close_dispute(state: EmulatorState, dispute: Record, outcome: str) -> None:
    """Close with the issuer's decision: `won` or `lost` (an inquiry: `warning_closed`)."""
    if outcome not in ("won", "lost"):
        raise param_invalid("outcome", "outcome must be won or lost.")
    if dispute["status"] in CLOSED:
        raise invalid_transition(
            f"Dispute {dispute['id']} is already closed ({dispute['status']})."
        )
    won = outcome == "won" and not dispute["_inquiry"]
    dispute["status"] = "warning_closed" if dispute["_inquiry"] else outcome
    if won:
        dispute_money.reinstate(state, dispute, state.store.require("charge", dispute["charge"]))
    emit(state, "charge.dispute.closed", dispute)
    if won:
        emit(state, "charge.dispute.funds_reinstated", dispute)


def accept_dispute(state: EmulatorState, dispute: Record) -> None:
    """`POST /v1/disputes/{id}/close`: give up, the dispute is lost (an inquiry just closes)."""
    if dispute["status"] not in ("needs_response", "warning_needs_response"):
        raise invalid_transition(
            f"Dispute {dispute['id']} has status {dispute['status']} and cannot be closed; only "
            "disputes that need a response can be accepted."
        )
    close_dispute(state, dispute, "lost")
