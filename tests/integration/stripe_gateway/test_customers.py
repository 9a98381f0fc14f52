"""``POST /commands/customers/ensure``: hint, search, e-mail, create and update paths."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
import stripe
from factories import authorized
from factories import random_ref
from flask import Flask
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer

URL = "/commands/customers/ensure"


@pytest.fixture
def sdk(emu: EmulatorServer, kit: Any) -> stripe.StripeClient:
    """A plain SDK client for arranging the emulator's world (not the code under test)."""
    return stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})


def command(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bc_company_id": "company-" + random_ref("c"),
        "bc_customer_id": "cust-" + random_ref("b"),
        "bc_customer_number": "C0001",
        "name": "Fabrikam Ltd",
        "email": None,
    }
    body.update(overrides)
    return body


def ours(body: dict[str, Any]) -> dict[str, str]:
    return {
        "bc_company_id": body["bc_company_id"],
        "bc_customer_id": body["bc_customer_id"],
        "bc_customer_number": body["bc_customer_number"],
    }


def customers(emu: EmulatorServer) -> list[dict[str, Any]]:
    return [c for c in emu.admin("GET", "objects/customer")["data"] if not c.get("deleted")]


class TestCreate:
    def test_an_unknown_customer_is_created_with_the_bc_ids_in_metadata(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        body = command(email="billing@fabrikam.example")
        response = client.post(URL, json=body)

        assert response.status_code == 201, response.get_json()
        result = response.get_json()
        assert (result["created"], result["updated"], result["matched_by"]) == (
            True,
            False,
            "created",
        )
        assert result["metadata"] == ours(body)
        [stored] = customers(emu)
        assert stored["id"] == result["stripe_customer_id"]
        assert (stored["name"], stored["email"]) == ("Fabrikam Ltd", "billing@fabrikam.example")
        create = emu.requests(method="POST", path="/v1/customers")[0]
        assert create["idempotency_key"] == (
            f"mlc:{body['bc_company_id']}:{body['bc_customer_id']}:create-customer"
        )

    def test_twice_before_search_catches_up_still_one_customer(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        body = command()  # no e-mail: only search (lagging) and the idempotency key protect
        first = client.post(URL, json=body).get_json()
        second = client.post(URL, json=body).get_json()
        assert first["stripe_customer_id"] == second["stripe_customer_id"]
        assert len(customers(emu)) == 1

    def test_a_renamed_customer_before_search_catches_up_is_retried_later(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        body = command()
        created = client.post(URL, json=body).get_json()["stripe_customer_id"]

        # Same BC customer, other details, within Stripe's 24 h key window and before search
        # indexed it: the create key conflicts, so the caller is told to retry shortly.
        renamed = {**body, "name": "Fabrikam Holdings"}
        early = client.post(URL, json=renamed)
        assert early.status_code == 503
        assert early.get_json()["error"]["code"] == "customer_not_searchable_yet"
        assert early.headers["Retry-After"] == "60"

        emu.flush_search_index()
        later = client.post(URL, json=renamed)
        assert later.status_code == 200
        assert later.get_json()["stripe_customer_id"] == created
        assert (later.get_json()["matched_by"], later.get_json()["updated"]) == ("search", True)
        assert len(customers(emu)) == 1

    def test_three_at_once_make_one_customer(self, app: Flask, emu: EmulatorServer) -> None:
        body = command(email="ap@contoso.example")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(
                    lambda _: authorized(app.test_client(), "stripe-gateway").post(URL, json=body),
                    range(3),
                )
            )
        assert {r.status_code for r in results} <= {200, 201}
        assert len({r.get_json()["stripe_customer_id"] for r in results}) == 1
        assert len(customers(emu)) == 1


class TestMatch:
    def test_a_valid_link_hint_costs_one_call(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command()
        existing = sdk.v1.customers.create(params={"name": body["name"], "metadata": ours(body)})
        emu.clear_requests()

        response = client.post(URL, json={**body, "link_hint": existing.id})

        assert response.status_code == 200
        assert response.get_json()["stripe_customer_id"] == existing.id
        assert response.get_json()["matched_by"] == "hint"
        assert [(r["method"], r["route"]) for r in emu.requests()] == [
            ("GET", "/v1/customers/{customer_id}")
        ]

    @pytest.mark.parametrize("hint", ["other", "missing", "deleted"])
    def test_a_hint_that_is_not_ours_is_ignored(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        sdk: stripe.StripeClient,
        hint: str,
    ) -> None:
        body = command()
        if hint == "missing":
            hint_id = "cus_NoSuchCustomer"
        else:
            other = sdk.v1.customers.create(
                params={"name": "Other", "metadata": {**ours(body), "bc_customer_id": "x"}}
            )
            hint_id = other.id
            if hint == "deleted":
                sdk.v1.customers.delete(other.id)
        response = client.post(URL, json={**body, "link_hint": hint_id})
        assert response.status_code == 201
        assert response.get_json()["stripe_customer_id"] != hint_id
        assert response.get_json()["matched_by"] == "created"

    def test_metadata_search_finds_a_customer_without_a_hint(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command()
        existing = sdk.v1.customers.create(params={"name": body["name"], "metadata": ours(body)})
        emu.flush_search_index()

        response = client.post(URL, json=body)

        assert response.status_code == 200
        assert response.get_json()["stripe_customer_id"] == existing.id
        assert response.get_json()["matched_by"] == "search"
        search = emu.requests(path="/v1/customers/search")[0]
        assert search["status"] == 200
        assert len(customers(emu)) == 1

    def test_an_unlinked_customer_with_the_email_is_claimed(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command(email="finance@tailspin.example")
        existing = sdk.v1.customers.create(
            params={"name": body["name"], "email": body["email"], "metadata": {"crm": "42"}}
        )

        response = client.post(URL, json=body)

        result = response.get_json()
        assert (result["stripe_customer_id"], result["matched_by"], result["updated"]) == (
            existing.id,
            "email",
            True,
        )
        stored = emu.admin("GET", f"objects/customer/{existing.id}")
        assert stored["metadata"] == {"crm": "42", **ours(body)}

    def test_a_customer_with_the_email_but_another_bc_customer_is_not_taken(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command(email="shared@example.com")
        sdk.v1.customers.create(
            params={
                "name": "Sister company",
                "email": body["email"],
                "metadata": {**ours(body), "bc_customer_id": "someone-else"},
            }
        )
        response = client.post(URL, json=body)
        assert response.get_json()["matched_by"] == "created"
        assert len(customers(emu)) == 2


class TestUpdate:
    def test_a_bc_change_updates_the_linked_customer(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command(email="old@fabrikam.example")
        existing = sdk.v1.customers.create(
            params={"name": body["name"], "email": body["email"], "metadata": ours(body)}
        )
        changed = {
            **body,
            "name": "Fabrikam Holdings",
            "email": "ar@fabrikam.example",
            "bc_customer_number": "C0001-A",
            "link_hint": existing.id,
        }

        response = client.post(URL, json=changed)

        result = response.get_json()
        assert (response.status_code, result["updated"], result["matched_by"]) == (
            200,
            True,
            "hint",
        )
        stored = emu.admin("GET", f"objects/customer/{existing.id}")
        assert (stored["name"], stored["email"]) == ("Fabrikam Holdings", "ar@fabrikam.example")
        assert stored["metadata"]["bc_customer_number"] == "C0001-A"
        update = emu.requests(method="POST", path=f"/v1/customers/{existing.id}")[0]
        assert update["idempotency_key"].startswith(
            f"mlc:{body['bc_company_id']}:{body['bc_customer_id']}:update-customer:"
        )

    def test_an_unchanged_customer_is_not_written(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        body = command()
        existing = sdk.v1.customers.create(params={"name": body["name"], "metadata": ours(body)})
        emu.clear_requests()
        response = client.post(URL, json={**body, "link_hint": existing.id})
        assert response.get_json()["updated"] is False
        assert emu.requests(method="POST") == []

    def test_invalid_commands_are_422(self, client: FlaskClient, emu: EmulatorServer) -> None:
        for bad in ({"email": "not-an-email"}, {"name": ""}, {"link_hint": "in_123"}):
            response = client.post(URL, json=command(**bad))
            assert response.status_code == 422, bad
            assert response.get_json()["error"]["code"] == "validation_failed"
        assert emu.requests() == []
