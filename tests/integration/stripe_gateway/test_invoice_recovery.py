"""Finding the invoice a push made for a BC invoice, and deleting a stray draft (issue 11, 3).

``GET /commands/invoices/by-bc`` and ``POST /commands/invoices/{id}/delete-draft`` against the
Stripe emulator; its request log shows which Stripe calls each answer cost.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer
from stripe_gateway.services import invoices as invoice_service

pytestmark = pytest.mark.rabbitmq

URL = "/commands/invoices"


def _find(client: FlaskClient, body: dict[str, Any], **extra: str) -> Any:
    query = {"bc_company_id": body["bc_company_id"], "bc_invoice_id": body["bc_invoice_id"]}
    return client.get(f"{URL}/by-bc", query_string={**query, **extra})


class TestFindByBc:
    def test_a_pushed_invoice_is_found_in_its_customers_list_with_one_call(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        pushed = client.post(URL, json=body).get_json()
        emu.clear_requests()

        response = _find(client, body, stripe_customer_id=customer)

        assert response.status_code == 200
        found = response.get_json()
        assert (found["matched_by"], found["candidates"]) == ("customer", 1)
        assert found["invoice"]["id"] == pushed["id"]
        assert found["invoice"]["status"] == "open"
        assert found["invoice"]["metadata"]["bc_invoice_id"] == body["bc_invoice_id"]
        assert [(r["method"], r["path"]) for r in emu.requests()] == [("GET", "/v1/invoices")]

    def test_an_invoice_of_the_same_bc_id_in_another_company_is_not_ours(
        self, client: FlaskClient, customer: str, kit: Any
    ) -> None:
        ours = kit.invoice_command(customer)
        other = {**kit.invoice_command(customer), "bc_invoice_id": ours["bc_invoice_id"]}
        assert client.post(URL, json=other).status_code == 201

        found = _find(client, ours, stripe_customer_id=customer).get_json()

        assert (found["invoice"], found["candidates"]) == (None, 0)

    def test_a_live_invoice_is_preferred_to_a_voided_one(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        first = client.post(URL, json=body).get_json()["id"]
        assert client.post(f"{URL}/{first}/void").status_code == 200
        emu.advance_clock(25 * 3600)  # the keys expire, so a second push makes a second invoice
        second = client.post(URL, json=body).get_json()["id"]
        assert second != first

        found = _find(client, body, stripe_customer_id=customer).get_json()

        assert (found["invoice"]["id"], found["candidates"]) == (second, 2)

    def test_without_a_customer_search_finds_it_once_stripe_has_indexed_it(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        emu.configure(search_index_delay=3600)
        body = kit.invoice_command(customer)
        pushed = client.post(URL, json=body).get_json()

        before = _find(client, body).get_json()
        emu.flush_search_index()
        after = _find(client, body).get_json()

        # Search is eventually consistent (stripe-api.md §4): a miss means "not yet".
        assert (before["matched_by"], before["invoice"]) == ("search", None)
        assert (after["matched_by"], after["invoice"]["id"]) == ("search", pushed["id"])

    def test_no_invoice_is_an_answer_not_a_404(self, client: FlaskClient, customer: str) -> None:
        response = client.get(
            f"{URL}/by-bc",
            query_string={
                "bc_company_id": "c0mpany",
                "bc_invoice_id": "never-pushed",
                "stripe_customer_id": customer,
            },
        )
        assert response.status_code == 200
        assert response.get_json() == {"invoice": None, "matched_by": "customer", "candidates": 0}

    @pytest.mark.parametrize(
        "query",
        [
            {"bc_company_id": "c"},
            {"bc_company_id": "c", "bc_invoice_id": "i", "stripe_customer_id": "in_123"},
            {"bc_company_id": "c", "bc_invoice_id": "i'] OR metadata['x"},
            {"bc_company_id": "c", "bc_invoice_id": "i", "status": "paid"},
        ],
    )
    def test_a_bad_query_is_422_before_any_stripe_call(
        self, client: FlaskClient, emu: EmulatorServer, query: dict[str, str]
    ) -> None:
        emu.clear_requests()
        response = client.get(f"{URL}/by-bc", query_string=query)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "validation_failed"
        assert emu.requests() == []


class TestDeleteDraft:
    def test_a_draft_is_deleted_and_deleting_it_again_is_a_no_op(
        self, app: Flask, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        draft, _ = invoice_service.create_draft(
            app.extensions["stripe_gateway"].stripe, kit.push_command(body), "usd"
        )

        first = client.post(f"{URL}/{draft.id}/delete-draft")
        again = client.post(f"{URL}/{draft.id}/delete-draft")

        assert (first.status_code, first.get_json()["deleted_now"]) == (200, True)
        assert (again.status_code, again.get_json()["deleted_now"]) == (200, False)
        found = _find(client, body, stripe_customer_id=customer).get_json()
        assert found["invoice"] is None

    def test_a_finalized_invoice_is_refused_and_left_as_it_is(
        self, client: FlaskClient, emu: EmulatorServer, customer: str, kit: Any
    ) -> None:
        invoice_id = client.post(URL, json=kit.invoice_command(customer)).get_json()["id"]

        response = client.post(f"{URL}/{invoice_id}/delete-draft")

        assert response.status_code == 409
        error = response.get_json()["error"]
        assert (error["code"], error["details"]["status"]) == ("invalid_state", "open")
        assert emu.admin("GET", f"objects/invoice/{invoice_id}")["status"] == "open"
