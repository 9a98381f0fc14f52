"""Each kind of item in the queue, in the clerk's words: what happened and what resolves it.

The kinds are the ``needs_person`` flags the handlers set (docs/accounting.md says why each is
left to a person) and the two states that wait for one, ``failed`` and ``unmatched``. A record's
own ``todo`` flag, when a handler wrote one, is the precise action and wins over these texts.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Reason:
    title: str
    action: str


REASONS: dict[str, Reason] = {
    "unmatched": Reason(
        "Payment not matched to an invoice",
        "Apply it to the BC invoice it pays, or mark it handled with the reason.",
    ),
    "failed": Reason(
        "Could not be completed",
        "Fix the cause shown, then replay; or mark it handled with the reason.",
    ),
    "refund_customer_side": Reason(
        "Refund to finish in BC",
        "Post a sales credit memo and a customer refund against 20700 in BC, then mark handled.",
    ),
    "dispute_evidence": Reason(
        "Dispute: evidence due",
        "Submit evidence in Stripe's Dashboard before the deadline.",
    ),
    "dispute_lost": Reason(
        "Dispute lost",
        "Decide with the client what happens to the invoice, then mark handled.",
    ),
    "payout_failed": Reason(
        "Payout returned by the bank",
        "Check the bank account in Stripe; the connector reversed the booking.",
    ),
    "payout_unmatched": Reason(
        "Payout to book by hand",
        "Book the lines it could not match in BC's payout journal, then mark handled.",
    ),
    "clearing_drift": Reason(
        "Stripe clearing account does not agree",
        "Find the entry in BC that Stripe does not know, then mark handled.",
    ),
    "cancelled_but_paid": Reason(
        "Cancelled in BC, paid in Stripe",
        "Refund the client in Stripe or re-invoice in BC, then mark handled.",
    ),
    "credit_after_payment": Reason(
        "Credit memo on a paid invoice",
        "Approve the refund in Stripe, or keep the credit for the client, then mark handled.",
    ),
    "paid_twice": Reason(
        "Paid twice",
        "Refund the second payment in Stripe, then mark handled.",
    ),
    "changed_in_stripe": Reason(
        "Changed in Stripe's Dashboard",
        "Make the same change in BC if it is right, then mark handled.",
    ),
}


def reason_for(kind: str | None) -> Reason:
    if kind and kind in REASONS:
        return REASONS[kind]
    return Reason((kind or "item").replace("_", " ").capitalize(), "Look at it, then mark handled.")
