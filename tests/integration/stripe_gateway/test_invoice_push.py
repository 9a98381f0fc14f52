"""``POST /commands/invoices``: three calls, one invoice under concurrency, resumable retries.

The emulator's request log is the evidence: it counts the calls the gateway made and shows the
idempotency keys it used, so "one Stripe invoice" and "exactly three calls" are measured, not
inferred.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
from factories import authorized
from flask import Flask
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.services import invoices as invoice_service

URL = "/commands/invoices"


class TestPush:
    def test_an_already_linked_customer_costs_exactly_three_calls(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        response = client.post(URL, json=body)

        assert response.status_code == 201, response.get_json()
        result = response.get_json()
        assert result["status"] == "open"
        assert result["total"] == 168050
        assert result["amount_due"] == 168050
        assert result["currency"] == "usd"
        assert result["number"]
        assert (result["created_now"], result["finalized_now"], result["resumed"]) == (
            True,
            True,
            False,
        )
        assert result["metadata"] == {
            "bc_environment": "production",
            "bc_company_id": body["bc_company_id"],
            "bc_invoice_id": body["bc_invoice_id"],
            "bc_invoice_number": "PSI-1001",
            "bc_customer_number": "C0001",
        }
        log = emu.requests()
        assert [(r["method"], r["route"]) for r in log] == [
            ("POST", "/v1/invoices"),
            ("POST", "/v1/invoices/{invoice_id}/add_lines"),
            ("POST", "/v1/invoices/{invoice_id}/finalize"),
        ]
        prefix = f"mlc:{body['bc_company_id']}:{body['bc_invoice_id']}:"
        keys = [r["idempotency_key"] for r in log]
        assert keys == [prefix + "create-draft", prefix + "add-lines", prefix + "finalize"]

    def test_the_stripe_invoice_is_a_send_invoice_with_the_lines_and_due_days(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        response = client.post(URL, json=kit.invoice_command(customer))
        invoice = emu.admin("GET", f"objects/invoice/{response.get_json()['id']}")
        assert invoice["collection_method"] == "send_invoice"
        assert invoice["auto_advance"] is False
        lines = emu.admin("GET", "objects/line_item")["data"]
        assert sorted(line["amount"] for line in lines) == [-5000, 23050, 150000]

    def test_the_same_command_three_times_at_once_makes_one_invoice(
        self, app: Flask, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)

        def send(_: int) -> Any:
            return authorized(app.test_client(), "stripe-gateway").post(URL, json=body)

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            responses = list(pool.map(send, range(3)))

        assert [r.status_code for r in responses].count(201) == 1
        assert {r.status_code for r in responses} <= {200, 201}
        ids = {r.get_json()["id"] for r in responses}
        assert len(ids) == 1
        assert len(kit.stripe_invoices(emu)) == 1
        assert {r.get_json()["status"] for r in responses} == {"open"}
        assert len(emu.admin("GET", "objects/line_item")["data"]) == 3
        executed = [r for r in emu.requests(method="POST") if not r["replayed"]]
        assert sum(r["status"] == 200 for r in executed) == 3  # create, add_lines, finalize once

    def test_a_retry_after_a_crash_between_draft_and_finalize_resumes_the_draft(
        self, app: Flask, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        draft = kit.crash_after_lines(app, body)

        response = client.post(URL, json=body)

        assert response.status_code == 200
        result = response.get_json()
        assert result["id"] == draft.id
        assert (result["status"], result["resumed"], result["finalized_now"]) == (
            "open",
            True,
            True,
        )
        assert len(kit.stripe_invoices(emu)) == 1
        assert len(emu.admin("GET", "objects/line_item")["data"]) == 3

    def test_a_retry_after_a_crash_before_the_lines_adds_them_once(
        self, app: Flask, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        stripe_client = app.extensions["stripe_gateway"].stripe
        draft, _ = invoice_service.create_draft(stripe_client, kit.push_command(body), "usd")

        first = client.post(URL, json=body)
        again = client.post(URL, json=body)

        assert first.get_json()["id"] == again.get_json()["id"] == draft.id
        assert again.get_json()["status"] == "open"
        assert len(emu.admin("GET", "objects/line_item")["data"]) == 3

    def test_a_server_error_stored_for_finalize_is_survived_by_the_next_key_generation(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        customer: str,
        kit: Any,
    ) -> None:
        # Stripe stores a 500 under the idempotency key and replays it for 24 h, so retrying
        # the same key can never succeed; the gateway re-reads the invoice and moves on to
        # ":g1". SDK retries are off so the first 500 reaches the caller as a 503.
        monkeypatch.setenv("MLC_STRIPE_MAX_NETWORK_RETRIES", "0")
        app = create_app()
        client = authorized(app.test_client(), "stripe-gateway")
        body = kit.invoice_command(customer)
        draft = kit.crash_after_lines(app, body)
        path = f"/v1/invoices/{draft.id}/finalize"
        emu.inject_fault(status=500, count=1, method="POST", stage="endpoint", path=path)

        failed = client.post(URL, json=body)
        assert failed.status_code == 503
        assert failed.get_json()["error"]["code"] == "stripe_unavailable"
        assert int(failed.headers["Retry-After"]) >= 1
        assert kit.stripe_invoices(emu)[0]["status"] == "draft"

        retried = client.post(URL, json=body)

        assert retried.status_code == 200, retried.get_json()
        assert retried.get_json()["status"] == "open"
        assert len(kit.stripe_invoices(emu)) == 1
        finalize_calls = [
            (r["idempotency_key"].rsplit(":", 1)[-1], r["status"], r["replayed"])
            for r in emu.requests(method="POST", path=path)
        ]
        assert finalize_calls == [
            ("finalize", 500, False),
            ("finalize", 500, True),
            ("g1", 200, False),
        ]
        app.extensions["stripe_gateway"].publisher.close()

    def test_a_failure_stripe_did_not_store_is_retried_under_the_same_key(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        customer: str,
        kit: Any,
    ) -> None:
        monkeypatch.setenv("MLC_STRIPE_MAX_NETWORK_RETRIES", "0")
        app = create_app()
        client = authorized(app.test_client(), "stripe-gateway")
        body = kit.invoice_command(customer)
        draft = kit.crash_after_lines(app, body)
        path = f"/v1/invoices/{draft.id}/finalize"
        emu.inject_fault(status=503, count=1, method="POST", stage="edge", path=path)

        assert client.post(URL, json=body).status_code == 503
        retried = client.post(URL, json=body)

        assert retried.get_json()["status"] == "open"
        keys = {r["idempotency_key"] for r in emu.requests(method="POST", path=path)}
        assert len(keys) == 1
        app.extensions["stripe_gateway"].publisher.close()

    def test_a_retry_after_the_keys_expired_finds_the_draft_by_metadata(
        self, app: Flask, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        stripe_client = app.extensions["stripe_gateway"].stripe
        invoice_service.create_draft(stripe_client, kit.push_command(body), "usd")
        emu.advance_clock(25 * 3600)  # Stripe prunes keys after 24 h

        response = client.post(URL, json={**body, "attempt": 2})

        assert response.status_code == 200
        assert response.get_json()["status"] == "open"
        assert len(kit.stripe_invoices(emu)) == 1
