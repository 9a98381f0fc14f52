"""The invoice commands' edges: exact amounts, total checks, Stripe errors, void, pay, read."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from factories import authorized
from flask import Flask
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.services import invoices as invoice_service

URL = "/commands/invoices"


class TestAmounts:
    def test_a_zero_decimal_jpy_invoice_carries_exact_yen(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        lines = [
            {"description": "Workshop", "amount_minor": 150000},
            {"description": "Materials", "amount_minor": 1234},
        ]
        response = client.post(
            URL,
            json=kit.invoice_command(
                customer, currency="jpy", lines=lines, expected_total_minor=151234
            ),
        )
        assert response.status_code == 201, response.get_json()
        result = response.get_json()
        assert (result["currency"], result["total"], result["amount_due"]) == (
            "jpy",
            151234,
            151234,
        )
        stored = emu.admin("GET", f"objects/invoice/{result['id']}")
        assert (stored["currency"], stored["total"]) == ("jpy", 151234)

    def test_a_three_decimal_kwd_invoice_carries_exact_fils(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        lines = [
            {"description": "Licence", "amount_minor": 12345},
            {"description": "Rounding", "amount_minor": 5},
        ]
        response = client.post(
            URL,
            json=kit.invoice_command(
                customer, currency="KWD", lines=lines, expected_total_minor=12350
            ),
        )
        assert response.status_code == 201, response.get_json()
        assert (response.get_json()["currency"], response.get_json()["total"]) == ("kwd", 12350)
        line_amounts = sorted(li["amount"] for li in emu.admin("GET", "objects/line_item")["data"])
        assert line_amounts == [5, 12345]

    def test_a_kwd_total_stripe_cannot_charge_is_refused_before_any_call(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        lines = [{"description": "Licence", "amount_minor": 12345}]
        response = client.post(
            URL,
            json=kit.invoice_command(
                customer, currency="kwd", lines=lines, expected_total_minor=12345
            ),
        )
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "validation_failed"
        assert "multiple of 10" in response.get_json()["error"]["message"]
        assert emu.requests() == []

    @pytest.mark.parametrize(
        "change",
        [
            {"currency": "XYZ"},
            {"expected_total_minor": 1680.5},
            {"expected_total_minor": "168050"},
            {"expected_total_minor": True},
            {"lines": []},
            {"lines": [{"description": "x", "amount_minor": 1.0}]},
            {"stripe_customer_id": "acct_123"},
            {"metadata": {"bad[key]": "v"}},
            {"unexpected": 1},
        ],
        ids=lambda c: next(iter(c)),
    )
    def test_invalid_commands_are_422_and_reach_no_stripe(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        customer: str,
        change: dict[str, Any],
        kit: Any,
    ) -> None:
        response = client.post(URL, json=kit.invoice_command(customer, **change))
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["error"]["code"] == "validation_failed"
        assert emu.requests() == []


class TestTotalMismatch:
    def test_lines_that_do_not_add_up_are_409_with_both_figures_and_no_call(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        response = client.post(URL, json=kit.invoice_command(customer, expected_total_minor=168051))
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "total_mismatch"
        assert "168051" in error["message"]
        assert "168050" in error["message"]
        assert error["details"]["expected_total_minor"] == 168051
        assert error["details"]["actual_total_minor"] == 168050
        assert emu.requests() == []

    def test_a_stripe_total_that_differs_leaves_the_invoice_unfinalized(
        self, app: Flask, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        draft, _ = invoice_service.create_draft(
            app.extensions["stripe_gateway"].stripe, kit.push_command(body), "usd"
        )
        # Someone edited the draft in the Dashboard before the retry: an extra line.
        sdk = stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})
        sdk.v1.invoices.add_lines(
            draft.id, params={"lines": [{"amount": 999, "description": "added by hand"}]}
        )

        response = client.post(URL, json=body)

        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "total_mismatch"
        assert error["details"] == {
            "expected_total_minor": 168050,
            "actual_total_minor": 999,
            "source": "stripe",
            "stripe_invoice_id": draft.id,
        }
        assert emu.admin("GET", f"objects/invoice/{draft.id}")["status"] == "draft"
        assert emu.request_count(path=f"/v1/invoices/{draft.id}/finalize")["total"] == 0


class TestErrors:
    def test_an_unknown_customer_is_404_not_found(
        self, client: FlaskClient, emu: EmulatorServer, kit: Any
    ) -> None:
        response = client.post(URL, json=kit.invoice_command("cus_DoesNotExist"))
        assert response.status_code == 404
        error = response.get_json()["error"]
        assert error["code"] == "not_found"
        assert error["details"]["stripe_code"] == "resource_missing"
        assert error["details"]["stripe_request_id"].startswith("req_")

    def test_a_rate_limited_stripe_is_retried_in_process_then_succeeds(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        emu.inject_fault(kind="rate_limit", status=429, count=2, method="POST", stage="edge")
        response = client.post(URL, json=kit.invoice_command(customer))
        assert response.status_code == 201, response.get_json()
        statuses = [r["status"] for r in emu.requests(method="POST")]
        assert statuses[:3] == [429, 429, 200]

    def test_a_persistently_rate_limited_stripe_is_503_with_retry_after(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        customer: str,
        kit: Any,
    ) -> None:
        monkeypatch.setenv("MLC_STRIPE_RATE_LIMIT_RETRIES", "1")
        app = create_app()
        emu.inject_fault(kind="rate_limit", status=429, count=None, stage="edge")
        response = authorized(app.test_client(), "stripe-gateway").post(
            URL, json=kit.invoice_command(customer)
        )
        assert response.status_code == 503
        assert response.get_json()["error"]["details"]["stripe_case"] == "rate_limited"
        assert response.headers["Retry-After"] == "1"
        assert len(emu.requests()) == 2  # the first try and one in-process retry
        app.extensions["stripe_gateway"].publisher.close()


class TestStateCommands:
    def _pushed(self, client: FlaskClient, customer: str, kit: Any) -> str:
        response = client.post(URL, json=kit.invoice_command(customer))
        assert response.status_code == 201
        return str(response.get_json()["id"])

    def test_void_and_void_again(self, client: FlaskClient, customer: str, kit: Any) -> None:
        invoice_id = self._pushed(client, customer, kit)
        first = client.post(f"{URL}/{invoice_id}/void")
        again = client.post(f"{URL}/{invoice_id}/void")
        assert (first.status_code, first.get_json()["status"]) == (200, "void")
        assert (again.status_code, again.get_json()["status"]) == (200, "void")

    def test_voiding_a_draft_is_409_invalid_state(
        self, app: Flask, client: FlaskClient, customer: str, kit: Any
    ) -> None:
        draft, _ = invoice_service.create_draft(
            app.extensions["stripe_gateway"].stripe,
            kit.push_command(kit.invoice_command(customer)),
            "usd",
        )
        response = client.post(f"{URL}/{draft.id}/void")
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "invalid_state"

    def test_mark_paid_out_of_band_twice(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        invoice_id = self._pushed(client, customer, kit)
        first = client.post(f"{URL}/{invoice_id}/mark-paid-out-of-band")
        again = client.post(f"{URL}/{invoice_id}/mark-paid-out-of-band")
        assert first.get_json()["status"] == again.get_json()["status"] == "paid"
        assert first.get_json()["amount_paid"] == 168050
        stored = emu.admin("GET", f"objects/invoice/{invoice_id}")
        assert stored["amount_paid_off_stripe"] == 168050

    def test_read_an_invoice_with_its_payments(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        invoice_id = self._pushed(client, customer, kit)
        partial = emu.pay_invoice(invoice_id, amount=50000)
        rest = emu.pay_invoice(invoice_id)

        response = client.get(f"{URL}/{invoice_id}")

        assert response.status_code == 200
        result = response.get_json()
        assert (result["status"], result["amount_paid"], result["amount_remaining"]) == (
            "paid",
            168050,
            0,
        )
        paid = sorted(
            (p for p in result["payments"] if p["status"] == "paid"),
            key=lambda p: p["amount_paid"],
        )
        assert [(p["amount_paid"], p["currency"]) for p in paid] == [
            (50000, "usd"),
            (118050, "usd"),
        ]
        assert {p["charge"] for p in paid} == {partial["charge"]["id"], rest["charge"]["id"]}
        assert {p["payment_intent"] for p in paid} == {
            partial["payment_intent"]["id"],
            rest["payment_intent"]["id"],
        }
        assert all(p["payment_type"] == "payment_intent" and p["paid_at"] for p in paid)

    def test_reading_an_unknown_invoice_is_404(self, client: FlaskClient) -> None:
        response = client.get(f"{URL}/in_nope")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
