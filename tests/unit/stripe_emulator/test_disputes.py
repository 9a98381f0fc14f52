"""Disputes: opening (test cards, control surface), evidence, closing, money, events, webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorError
from stripe_emulator.server import EmulatorServer

N = type(None)
Shape = dict[str, tuple[type, ...]]
CheckShape = Callable[[object, type, Shape], dict[str, Any]]

# Every field of stripe-python 16.1.0's `Dispute` (stripe/_dispute.py).
DISPUTE: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "balance_transactions": (list,),
    "charge": (str,), "created": (int,), "currency": (str,),
    "enhanced_eligibility_types": (list,), "evidence": (dict,), "evidence_details": (dict,),
    "intended_submission_method": (str, N), "is_charge_refundable": (bool,),
    "livemode": (bool,), "metadata": (dict,), "network_reason_code": (str, N),
    "payment_intent": (str, N), "payment_method_details": (dict, N), "reason": (str,),
    "status": (str,),
}  # fmt: skip
EVIDENCE_DETAILS = {
    "due_by", "enhanced_eligibility", "has_evidence", "past_due", "submission_count",
    "submission_method",
}  # fmt: skip
EVIDENCE_FIELDS = {
    "access_activity_log", "appeal", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "enhanced_evidence", "product_description", "receipt", "refund_policy",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date",
    "service_documentation", "shipping_address", "shipping_carrier", "shipping_date",
    "shipping_documentation", "shipping_tracking_number", "uncategorized_file",
    "uncategorized_text",
}  # fmt: skip
FEE = 2000 * 29 // 1000 + 30  # 2.9 % of 2000 + 30 = 88


def open_invoice(client: stripe.StripeClient, amount: int, currency: str = "usd") -> str:
    customer = client.v1.customers.create(params={"email": "d@example.com"})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": currency})
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    client.v1.invoices.finalize_invoice(invoice.id)
    return invoice.id


def charge_of(client: stripe.StripeClient, invoice_id: str) -> stripe.Charge:
    payments = client.v1.invoice_payments.list(params={"invoice": invoice_id, "status": "paid"})
    intent = client.v1.payment_intents.retrieve(str(payments.data[0].payment.payment_intent))
    return client.v1.charges.retrieve(str(intent.latest_charge))


def paid_charge(
    emu: EmulatorServer, client: stripe.StripeClient, amount: int = 2000, currency: str = "usd"
) -> str:
    return str(emu.pay_invoice(open_invoice(client, amount, currency))["charge"]["id"])


def only_dispute(client: stripe.StripeClient, charge_id: str) -> stripe.Dispute:
    [dispute] = client.v1.disputes.list(params={"charge": charge_id}).data
    return dispute


def event_types(client: stripe.StripeClient) -> list[str]:
    events = client.v1.events.list(params={"type": "charge.dispute.*", "limit": 100}).data
    return [e.type for e in reversed(events)]


class TestOpening:
    def test_test_payment_method_opens_a_fraudulent_chargeback(
        self, emu: EmulatorServer, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        invoice_id = open_invoice(client, 2000)
        paid = client.v1.invoices.pay(
            invoice_id, params={"payment_method": "pm_card_createDispute"}
        )
        assert paid.status == "paid"
        charge = charge_of(client, invoice_id)
        assert charge.disputed is True
        assert charge.payment_method_details is not None
        assert charge.payment_method_details.card is not None
        assert charge.payment_method_details.card.last4 == "0259"
        dispute = only_dispute(client, charge.id)
        data = assert_shape(dispute, stripe.Dispute, DISPUTE)
        assert dispute.id.startswith("du_")
        assert (dispute.amount, dispute.currency, dispute.reason) == (2000, "usd", "fraudulent")
        assert (dispute.status, dispute.is_charge_refundable) == ("needs_response", False)
        assert dispute.payment_intent == charge.payment_intent
        assert dispute.network_reason_code == "10.4"
        assert set(data["evidence"]) == EVIDENCE_FIELDS
        assert all(data["evidence"][k] is None for k in EVIDENCE_FIELDS - {"enhanced_evidence"})
        assert set(data["evidence_details"]) == EVIDENCE_DETAILS
        details = dispute.evidence_details
        assert (details.has_evidence, details.past_due, details.submission_count) == (
            False, False, 0,
        )  # fmt: skip
        assert details.due_by == dispute.created + 21 * 86400
        assert details.submission_method == "not_submitted"
        assert data["payment_method_details"]["card"]["case_type"] == "chargeback"
        [txn] = dispute.balance_transactions
        assert isinstance(txn, stripe.BalanceTransaction)
        assert (txn.type, txn.reporting_category, txn.status) == (
            "adjustment", "dispute", "available",
        )  # fmt: skip
        assert (txn.amount, txn.fee, txn.net, txn.currency) == (-2000, 1500, -3500, "usd")
        assert txn.source == dispute.id
        assert txn.description == f"Chargeback withdrawal for {charge.id}"
        assert [(f.type, f.description, f.amount) for f in txn.fee_details] == [
            ("stripe_fee", "Dispute fee", 1500)
        ]
        assert event_types(client) == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]

    @pytest.mark.parametrize(
        ("method", "reason", "status"),
        [
            ("pm_card_createDisputeProductNotReceived", "product_not_received", "needs_response"),
            ("4000000000002685", "product_not_received", "needs_response"),
            ("4000000000000259", "fraudulent", "needs_response"),
            ("pm_card_createDisputeInquiry", "fraudulent", "warning_needs_response"),
            ("4000000000001976", "fraudulent", "warning_needs_response"),
        ],
    )
    def test_every_dispute_test_method_on_every_payment_path(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        method: str,
        reason: str,
        status: str,
    ) -> None:
        via_admin = emu.pay_invoice(open_invoice(client, 1500), payment_method=method)["charge"]
        intent = client.v1.payment_intents.create(
            params={"amount": 1500, "currency": "usd", "payment_method": method, "confirm": True}
        )
        unconfirmed = client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"})
        client.v1.payment_intents.confirm(unconfirmed.id, params={"payment_method": method})
        for charge_id in (
            via_admin["id"],
            str(intent.latest_charge),
            str(client.v1.payment_intents.retrieve(unconfirmed.id).latest_charge),
        ):
            dispute = only_dispute(client, charge_id)
            assert (dispute.reason, dispute.status) == (reason, status)
        assert client.v1.disputes.list(params={"payment_intent": intent.id}).data[0].charge == (
            intent.latest_charge
        )

    def test_inquiry_moves_no_money(self, emu: EmulatorServer, client: stripe.StripeClient) -> None:
        charge_id = paid_charge(emu, client)
        dispute = emu.dispute(charge_id, inquiry=True, reason="general")
        assert (dispute["status"], dispute["balance_transactions"]) == (
            "warning_needs_response",
            [],
        )
        assert dispute["is_charge_refundable"] is True
        assert dispute["payment_method_details"]["card"]["case_type"] == "inquiry"
        assert event_types(client) == ["charge.dispute.created"]
        balance = client.v1.balance.retrieve()
        assert [(b.currency, b.amount) for b in balance.available] == [("usd", 2000 - FEE)]
        refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 100})
        assert refund.status == "succeeded"

    def test_admin_dispute_with_amount_and_reason(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        charge_id = paid_charge(emu, client, 5000)
        client.v1.refunds.create(params={"charge": charge_id, "amount": 1000})
        with pytest.raises(EmulatorError) as too_much:
            emu.dispute(charge_id, amount=4001)
        assert too_much.value.body["error"]["param"] == "amount"
        with pytest.raises(EmulatorError) as bad_reason:
            emu.dispute(charge_id, reason="because")
        assert bad_reason.value.body["error"]["param"] == "reason"
        dispute = emu.dispute(charge_id, amount=2500, reason="product_unacceptable")
        assert (dispute["amount"], dispute["reason"], dispute["network_reason_code"]) == (
            2500, "product_unacceptable", "13.3",
        )  # fmt: skip
        assert dispute["balance_transactions"][0]["net"] == -2500 - 1500
        with pytest.raises(EmulatorError) as second:
            emu.dispute(charge_id, amount=10)
        assert second.value.status == 400
        default = emu.dispute(paid_charge(emu, client, 700))
        assert (default["amount"], default["reason"]) == (700, "general")

    def test_chargeback_blocks_refunds(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        charge_id = paid_charge(emu, client)
        emu.dispute(charge_id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.refunds.create(params={"charge": charge_id})
        assert caught.value.code == "charge_disputed"


class TestListingAndUpdates:
    def test_list_filters_and_pagination(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        ids = [emu.dispute(paid_charge(emu, client, 1000 + i))["id"] for i in range(3)]
        listed = client.v1.disputes.list(params={"limit": 2})
        assert [d.id for d in listed.data] == ids[::-1][:2]
        assert listed.has_more is True
        rest = client.v1.disputes.list(params={"starting_after": listed.data[-1].id})
        assert [d.id for d in rest.data] == [ids[0]]
        assert [d.id for d in client.v1.disputes.list().auto_paging_iter()] == ids[::-1]
        first = client.v1.disputes.retrieve(ids[0], params={"expand": ["charge"]})
        assert isinstance(first.charge, stripe.Charge)
        assert client.v1.disputes.list(params={"created": {"gt": first.created + 1}}).data == []
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.disputes.retrieve("du_missing")
        assert missing.value.code == "resource_missing"
        txns = client.v1.balance_transactions.list(
            params={"source": ids[0], "expand": ["data.source"]}
        )
        assert isinstance(txns.data[0].source, stripe.Dispute)

    def test_staged_evidence_then_submission(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        staged = client.v1.disputes.update(
            dispute_id,
            params={
                "evidence": {
                    "customer_name": "Ada",
                    "product_description": "Consulting",
                    "enhanced_evidence": {"visa_compliance": {"fee_acknowledged": True}},
                },
                "metadata": {"case": "42"},
                "submit": False,
            },
        )
        assert staged.status == "needs_response"
        assert staged.evidence.customer_name == "Ada"
        compliance = staged.evidence.enhanced_evidence.visa_compliance
        assert compliance is not None
        assert compliance.fee_acknowledged is True
        assert staged.evidence_details.has_evidence is True
        assert staged.evidence_details.submission_count == 0
        assert staged.metadata is not None
        assert staged.metadata["case"] == "42"
        updated = client.v1.events.list(params={"type": "charge.dispute.updated"}).data[0]
        assert updated.data.object["evidence"]["customer_name"] == "Ada"
        assert updated.data.previous_attributes is not None
        assert updated.data.previous_attributes["evidence"]["customer_name"] is None
        submitted = client.v1.disputes.update(dispute_id, params={"submit": True})
        assert submitted.status == "under_review"
        assert submitted.evidence_details.submission_count == 1
        assert submitted.evidence_details.submission_method == "manual"
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.disputes.update(dispute_id, params={"evidence": {"customer_name": "B"}})
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.disputes.close(dispute_id)
        relabelled = client.v1.disputes.update(dispute_id, params={"metadata": {"case": "43"}})
        assert relabelled.metadata is not None
        assert relabelled.metadata["case"] == "43"

    def test_update_rejects_unknown_and_empty_submissions(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            client.v1.disputes.update(dispute_id, params={"evidence": {"colour": "red"}})  # type: ignore[arg-type]
        assert unknown.value.param == "evidence[colour]"
        with pytest.raises(stripe.InvalidRequestError) as empty:
            client.v1.disputes.update(dispute_id, params={"submit": True})
        assert empty.value.param == "submit"
        with pytest.raises(stripe.InvalidRequestError) as huge:
            client.v1.disputes.update(
                dispute_id, params={"evidence": {"uncategorized_text": "x" * 150_001}}
            )
        assert huge.value.param == "evidence"
        assert client.v1.disputes.retrieve(dispute_id).evidence_details.has_evidence is False


class TestClosing:
    def test_winning_evidence_wins_returns_amount_and_countered_fee_only(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        charge_id = paid_charge(emu, client)
        dispute_id = emu.dispute(charge_id)["id"]
        won = client.v1.disputes.update(
            dispute_id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
        )
        assert won.status == "won"
        assert won.evidence_details.submission_count == 1
        withdrawal, reversal = won.balance_transactions
        assert (reversal.type, reversal.reporting_category) == ("adjustment", "dispute_reversal")
        assert (reversal.amount, reversal.fee, reversal.net) == (2000, -1500, 3500)
        assert [(f.description, f.amount) for f in reversal.fee_details] == [
            ("Dispute countered fee", -1500)
        ]
        assert reversal.description == f"Chargeback reversal for {charge_id}"
        countered = client.v1.balance_transactions.list(params={"source": dispute_id}).data
        assert len(countered) == 3
        fee_row = next(t for t in countered if t.id not in (withdrawal.id, reversal.id))
        assert (fee_row.amount, fee_row.fee, fee_row.net, fee_row.reporting_category) == (
            0, 1500, -1500, "dispute",
        )  # fmt: skip
        # The dispute fee (received) is kept; the countered fee came back.
        assert sum(t.net for t in countered) == -1500
        balance = client.v1.balance.retrieve()
        assert [(b.currency, b.amount) for b in balance.available] == [("usd", 2000 - FEE - 1500)]
        assert event_types(client) == [
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_reinstated",
        ]
        closed = client.v1.events.list(params={"type": "charge.dispute.closed"}).data[0]
        assert closed.data.object["status"] == "won"
        assert len(closed.data.object["balance_transactions"]) == 2

    def test_legacy_rule_returns_the_dispute_fee_too(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(dispute_fee_refunded_on_win=True, dispute_countered_fees={})
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        won = client.v1.disputes.update(
            dispute_id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
        )
        reversal = won.balance_transactions[1]
        assert (reversal.amount, reversal.fee, reversal.net) == (2000, -1500, 3500)
        assert [f.description for f in reversal.fee_details] == ["Dispute fee"]
        txns = client.v1.balance_transactions.list(params={"source": dispute_id}).data
        assert sum(t.net for t in txns) == 0

    def test_losing_evidence_loses_and_keeps_everything(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        lost = client.v1.disputes.update(
            dispute_id,
            params={"evidence": {"uncategorized_text": "losing_evidence"}, "submit": True},
        )
        assert lost.status == "lost"
        assert len(lost.balance_transactions) == 1
        txns = client.v1.balance_transactions.list(params={"source": dispute_id}).data
        assert sum(t.net for t in txns) == -2000 - 1500 - 1500
        assert "charge.dispute.funds_reinstated" not in event_types(client)
        with pytest.raises(EmulatorError):
            emu.close_dispute(dispute_id, "won")

    def test_accepting_loses_without_countered_fee(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        accepted = client.v1.disputes.close(dispute_id)
        assert accepted.status == "lost"
        txns = client.v1.balance_transactions.list(params={"source": dispute_id}).data
        assert [t.net for t in txns] == [-3500]
        assert event_types(client)[-1] == "charge.dispute.closed"

    def test_admin_close_and_inquiries(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        won = emu.close_dispute(dispute_id, "won")
        assert won["status"] == "won"
        # No evidence was submitted, so no countered fee was billed or returned.
        assert [(t["amount"], t["fee"]) for t in won["balance_transactions"]] == [
            (-2000, 1500), (2000, 0),
        ]  # fmt: skip
        with pytest.raises(EmulatorError) as bad:
            emu.close_dispute(emu.dispute(paid_charge(emu, client))["id"], "draw")
        assert bad.value.body["error"]["param"] == "outcome"
        inquiry = emu.dispute(paid_charge(emu, client), inquiry=True)["id"]
        assert emu.close_dispute(inquiry, "won")["status"] == "warning_closed"
        other = emu.dispute(paid_charge(emu, client), inquiry=True)["id"]
        reviewed = client.v1.disputes.update(
            other, params={"evidence": {"uncategorized_text": "losing_evidence"}}
        )
        assert (reviewed.status, reviewed.balance_transactions) == ("warning_closed", [])
        third = emu.dispute(paid_charge(emu, client), inquiry=True)["id"]
        assert client.v1.disputes.close(third).status == "warning_closed"


class TestMoneyFlow:
    def test_payout_sweeps_dispute_adjustments(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        first = paid_charge(emu, client, 10000)
        disputed = paid_charge(emu, client)
        dispute_id = emu.dispute(disputed)["id"]
        [payout] = emu.payout("usd")
        fees = (10000 * 29 + 500) // 1000 + 30 + FEE
        assert payout["amount"] == 10000 + 2000 - fees - 2000 - 1500
        txns = client.v1.balance_transactions.list(
            params={"payout": payout["id"], "expand": ["data.source"]}
        ).data
        assert sum(t.net for t in txns) == 0
        by_category = {t.reporting_category for t in txns}
        assert by_category == {"charge", "dispute", "payout"}
        assert any(isinstance(t.source, stripe.Dispute) for t in txns)
        assert first in {t.source.id for t in txns if isinstance(t.source, stripe.Charge)}
        client.v1.disputes.update(
            dispute_id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
        )
        [second] = emu.payout("usd")
        assert second["amount"] == 2000  # reinstated 2000 + countered fee 1500 back - 1500 billed
        swept = client.v1.balance_transactions.list(params={"payout": second["id"]}).data
        assert {t.reporting_category for t in swept} == {"dispute", "dispute_reversal", "payout"}

    def test_negative_balance_is_not_paid_out(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.payout("usd")
        emu.dispute(paid_charge(emu, client, 1000))
        assert emu.payout("usd") == []  # net -1000+59-... is negative: nothing to pay out
        balance = client.v1.balance.retrieve()
        assert balance.available[0].amount == 1000 - (1000 * 29 // 1000 + 30) - 1000 - 1500

    def test_dispute_events_reach_webhooks(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        client.v1.webhook_endpoints.create(
            params={
                "url": receiver.url,
                "enabled_events": ["charge.dispute.created", "charge.dispute.funds_withdrawn"],
            }
        )
        dispute_id = emu.dispute(paid_charge(emu, client))["id"]
        emu.flush_deliveries()
        posts = receiver.wait_for(2)
        # Stripe does not promise the order deliveries arrive in (nor does the emulator, which
        # delivers concurrently): each event is found by its type.
        bodies = sorted((json.loads(p.body) for p in posts), key=lambda b: str(b["created"]))
        by_type = {b["type"]: b for b in bodies}
        assert sorted(by_type) == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
        assert all(b["data"]["object"]["id"] == dispute_id for b in bodies)
        withdrawn = by_type["charge.dispute.funds_withdrawn"]["data"]["object"]
        assert withdrawn["balance_transactions"][0]["fee"] == 1500
        event = stripe.Event.construct_from(by_type["charge.dispute.created"], "sk_test_x")
        assert isinstance(event.data.object, stripe.Dispute)
