"""The reconciler's reads: a charge with refunds and its invoice, payouts and their transactions."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer


@pytest.fixture
def sdk(emu: EmulatorServer, kit: Any) -> stripe.StripeClient:
    return stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})


def open_invoice(sdk: stripe.StripeClient, total: int, **metadata: str) -> str:
    customer = sdk.v1.customers.create(params={"name": "Northwind"})
    invoice = sdk.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "currency": "eur",
            "metadata": metadata,
        }
    )
    sdk.v1.invoices.add_lines(
        invoice.id, params={"lines": [{"amount": total, "description": "Services"}]}
    )
    return sdk.v1.invoices.finalize_invoice(invoice.id).id


class TestCharge:
    def test_a_charge_with_refunds_its_invoice_and_fee(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        invoice_id = open_invoice(sdk, 20000, bc_invoice_id="inv-1", bc_company_id="co-1")
        paid = emu.pay_invoice(invoice_id)
        charge_id = paid["charge"]["id"]
        first = emu.refund(charge_id, 1500)
        second = emu.refund(charge_id, 500)

        response = client.get(f"/commands/charges/{charge_id}")

        assert response.status_code == 200
        charge = response.get_json()
        assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (
            20000,
            2000,
            False,
        )
        assert (charge["currency"], charge["status"]) == ("eur", "succeeded")
        assert charge["payment_intent"] == paid["payment_intent"]["id"]
        refunds = {r["id"]: r for r in charge["refunds"]}
        assert set(refunds) == {first["id"], second["id"]}
        assert refunds[first["id"]]["amount"] == 1500
        assert refunds[first["id"]]["balance_transaction"].startswith("txn_")
        assert charge["invoice"]["id"] == invoice_id
        assert charge["invoice"]["metadata"] == {"bc_invoice_id": "inv-1", "bc_company_id": "co-1"}
        assert charge["invoice_payment"]["id"] == paid["invoice_payment"]["id"]
        assert charge["invoice_payment"]["charge"] == charge_id
        txn = charge["balance_transaction"]
        assert txn["id"] == paid["balance_transaction"]["id"]
        assert txn["fee"] == paid["balance_transaction"]["fee"] > 0
        assert txn["net"] == 20000 - txn["fee"]

    def test_an_unknown_charge_is_404(self, client: FlaskClient) -> None:
        response = client.get("/commands/charges/ch_nope")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


class TestPayout:
    def test_a_payout_and_all_its_balance_transactions_across_pages(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        payments = 104  # with the payout's own transaction: 105, more than one page of 100
        invoice_id = open_invoice(sdk, 100 * payments)
        charges = {emu.pay_invoice(invoice_id, amount=100)["charge"]["id"] for _ in range(payments)}
        [payout] = emu.payout("eur")
        emu.clear_requests()

        read = client.get(f"/commands/payouts/{payout['id']}")
        listed = client.get(f"/commands/payouts/{payout['id']}/balance-transactions")

        assert read.status_code == 200
        assert read.get_json()["status"] == "paid"
        assert read.get_json()["reconciliation_status"] == "completed"
        assert read.get_json()["amount"] == payout["amount"]
        assert listed.status_code == 200
        body = listed.get_json()
        assert body["count"] == len(body["data"]) == payments + 1
        by_type: dict[str, list[dict[str, Any]]] = {}
        for txn in body["data"]:
            by_type.setdefault(txn["type"], []).append(txn)
        assert {t["source"] for t in by_type["charge"]} == charges
        assert len(by_type["payout"]) == 1
        assert sum(t["net"] for t in by_type["charge"]) == payout["amount"]
        pages = emu.requests(path="/v1/balance_transactions")
        assert len(pages) == 2

    def test_transactions_before_reconciliation_are_409_not_reconciled(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        emu.pay_invoice(open_invoice(sdk, 5000))
        [payout] = emu.payout("eur", reconcile=False)

        response = client.get(f"/commands/payouts/{payout['id']}/balance-transactions")

        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "payout_not_reconciled"
        assert int(response.headers["Retry-After"]) == 60
