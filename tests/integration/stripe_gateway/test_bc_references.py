"""``POST /commands/charges/<id>/bc-references``: a person's match written into Stripe.

The gateway is built as in production and talks to the Stripe emulator over real HTTP with the
stripe SDK; what it wrote is read back with the unmodified SDK. Covered: both objects written
(other keys kept, idempotency keys derived from the charge), the same request again writes
nothing, a half-done earlier call is completed, another BC invoice already named is a 409 that
writes nothing, the invoice a charge paid is reported and left alone, refusals (422 for the
body and the path, 404 for an unknown charge, 422 when Stripe refuses the metadata), and the
reconciler's adapter calling the gateway over a real socket.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from factories import random_ref
from factories import service_token
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.adapters.http import GatewayRejected
from stripe_emulator.server import EmulatorServer

pytestmark = pytest.mark.rabbitmq

KEYS = ("bc_company_id", "bc_invoice_id", "bc_invoice_number", "bc_matched_by")


@pytest.fixture
def sdk(emu: EmulatorServer, kit: Any) -> stripe.StripeClient:
    return stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})


def card_payment(sdk: stripe.StripeClient, **metadata: str) -> tuple[str, str]:
    """A succeeded card payment outside Stripe invoicing: (charge id, PaymentIntent id)."""
    intent = sdk.v1.payment_intents.create(
        params={
            "amount": 12500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": metadata,
        }
    )
    assert isinstance(intent.latest_charge, str)
    return intent.latest_charge, intent.id


def match(**overrides: str) -> dict[str, str]:
    body = {
        "bc_company_id": "c0mpany-" + random_ref("c"),
        "bc_invoice_id": "inv-" + random_ref("i"),
        "bc_invoice_number": "PSI-1042",
        "matched_by": "Alice Clerk",
    }
    body.update(overrides)
    return body


def written(body: dict[str, str]) -> dict[str, str]:
    """The metadata a match writes for ``body``."""
    return {
        "bc_company_id": body["bc_company_id"],
        "bc_invoice_id": body["bc_invoice_id"],
        "bc_invoice_number": body["bc_invoice_number"],
        "bc_matched_by": body["matched_by"],
    }


def metadata(obj: stripe.StripeObject) -> dict[str, str]:
    data: dict[str, str] = obj.to_dict()["metadata"]
    return data


def post(client: FlaskClient, charge_id: str, body: Any) -> Any:
    return client.post(f"/commands/charges/{charge_id}/bc-references", json=body)


def stripe_writes(emu: EmulatorServer) -> list[dict[str, Any]]:
    """The POSTs the gateway sent to Stripe since the log was last cleared."""
    return emu.requests(method="POST")


class TestWrite:
    def test_writes_the_charge_and_its_intent_keeping_their_other_keys(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = card_payment(sdk, order="W-1001")
        body = match()
        emu.clear_requests()

        response = post(client, charge_id, body)

        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {
            "charge": charge_id,
            "payment_intent": intent_id,
            "metadata": written(body),
            "unchanged": False,
            "invoice": None,
        }
        assert metadata(sdk.v1.charges.retrieve(charge_id)) == {
            "order": "W-1001",
            **written(body),
        }
        assert metadata(sdk.v1.payment_intents.retrieve(intent_id)) == {
            "order": "W-1001",
            **written(body),
        }
        writes = stripe_writes(emu)
        assert [w["path"] for w in writes] == [
            f"/v1/charges/{charge_id}",
            f"/v1/payment_intents/{intent_id}",
        ]
        keys = [str(w["idempotency_key"]) for w in writes]
        assert keys[0].startswith(f"mlc:{charge_id}:bc-references:charge:")
        assert keys[1].startswith(f"mlc:{charge_id}:bc-references:payment-intent:")

    def test_the_same_references_again_write_nothing(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        charge_id, _ = card_payment(sdk)
        body = match()
        assert post(client, charge_id, body).status_code == 200
        emu.clear_requests()

        again = post(client, charge_id, body)
        by_someone_else = post(client, charge_id, {**body, "matched_by": "Bob Other"})

        assert again.status_code == by_someone_else.status_code == 200
        assert again.get_json()["unchanged"] is True
        # The first person stays the one who matched it.
        assert by_someone_else.get_json()["unchanged"] is True
        assert by_someone_else.get_json()["metadata"] == written(body)
        assert stripe_writes(emu) == []

    def test_a_call_that_stopped_after_the_charge_is_completed_on_the_intent(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = card_payment(sdk)
        body = match()
        sdk.v1.charges.update(charge_id, params={"metadata": written(body)})
        emu.clear_requests()

        response = post(client, charge_id, body)

        assert response.status_code == 200
        assert response.get_json()["unchanged"] is False
        assert [w["path"] for w in stripe_writes(emu)] == [f"/v1/payment_intents/{intent_id}"]
        assert metadata(sdk.v1.payment_intents.retrieve(intent_id)) == written(body)

    def test_a_charge_that_paid_a_stripe_invoice_reports_it_and_leaves_it_alone(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        customer = sdk.v1.customers.create(params={"name": "Northwind"})
        draft = sdk.v1.invoices.create(
            params={
                "customer": customer.id,
                "collection_method": "send_invoice",
                "days_until_due": 14,
                "currency": "eur",
                "metadata": {"pushed_by": "someone else"},
            }
        )
        sdk.v1.invoices.add_lines(
            draft.id, params={"lines": [{"amount": 9900, "description": "Services"}]}
        )
        invoice_id = sdk.v1.invoices.finalize_invoice(draft.id).id
        paid = emu.pay_invoice(invoice_id)
        charge_id = paid["charge"]["id"]
        body = match()
        emu.clear_requests()

        response = post(client, charge_id, body)

        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        assert answer["invoice"]["id"] == invoice_id
        assert answer["invoice"]["status"] == "paid"
        assert answer["invoice"]["metadata"] == {"pushed_by": "someone else"}
        assert metadata(sdk.v1.invoices.retrieve(invoice_id)) == {"pushed_by": "someone else"}
        assert metadata(sdk.v1.charges.retrieve(charge_id)) == written(body)
        assert [w["path"] for w in stripe_writes(emu)] == [
            f"/v1/charges/{charge_id}",
            f"/v1/payment_intents/{paid['payment_intent']['id']}",
        ]


class TestConflict:
    def test_a_charge_naming_another_bc_invoice_is_409_and_nothing_is_written(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        first = match(matched_by="Alice Clerk")
        charge_id, intent_id = card_payment(sdk)
        assert post(client, charge_id, first).status_code == 200
        emu.clear_requests()

        response = post(client, charge_id, match(bc_invoice_number="PSI-2000"))

        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "already_matched"
        assert f"charge {charge_id} already names BC invoice PSI-1042" in error["message"]
        assert "matched by Alice Clerk" in error["message"]
        assert "not overwritten with BC invoice PSI-2000" in error["message"]
        assert error["details"]["object"] == "charge"
        assert error["details"]["current"] == written(first)
        assert stripe_writes(emu) == []
        assert metadata(sdk.v1.charges.retrieve(charge_id)) == written(first)
        assert metadata(sdk.v1.payment_intents.retrieve(intent_id)) == written(first)

    def test_an_intent_naming_another_bc_invoice_is_409_and_the_charge_is_left_alone(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = card_payment(sdk)
        sdk.v1.payment_intents.update(
            intent_id, params={"metadata": {"bc_company_id": "other-co", "bc_invoice_id": "x-1"}}
        )
        emu.clear_requests()

        response = post(client, charge_id, match())

        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "already_matched"
        assert error["details"]["object"] == "payment_intent"
        assert error["details"]["id"] == intent_id
        assert stripe_writes(emu) == []
        assert metadata(sdk.v1.charges.retrieve(charge_id)) == {}


class TestRefused:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"bc_invoice_id": "inv-1", "bc_invoice_number": "N1", "matched_by": "A"}, None),
            (match(matched_by="x" * 129), "matched_by"),
            (match(matched_by="   "), "matched_by"),
            (match(matched_by=""), "matched_by"),
            (match(bc_invoice_id="inv 1"), "bc_invoice_id"),
            (match(bc_company_id="c" * 101), "bc_company_id"),
            (match(bc_invoice_number="N" * 21), "bc_invoice_number"),
            (match(bc_invoice_number="PSI\x001"), "bc_invoice_number"),
            ({**match(), "bc_customer_number": "C1"}, "bc_customer_number"),
        ],
    )
    def test_an_invalid_body_is_422_naming_the_field_before_any_stripe_call(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        sdk: stripe.StripeClient,
        body: dict[str, str],
        field: str | None,
    ) -> None:
        charge_id, _ = card_payment(sdk)
        emu.clear_requests()

        response = post(client, charge_id, body)

        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert (field or "bc_company_id") in error["details"]["fields"]
        assert emu.requests() == []

    def test_a_body_with_a_non_string_value_is_422(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        response = post(client, "ch_x1", {**match(), "matched_by": 7})
        assert response.status_code == 422
        assert "matched_by" in response.get_json()["error"]["details"]["fields"]
        assert emu.requests() == []

    def test_a_path_that_is_no_charge_id_is_422(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        response = post(client, "in_123", match())
        assert response.status_code == 422
        assert "charge_id" in response.get_json()["error"]["details"]["fields"]
        assert emu.requests() == []

    def test_an_unknown_charge_is_404_in_the_gateways_error_shape(
        self, client: FlaskClient
    ) -> None:
        response = post(client, "ch_nope", match())

        assert response.status_code == 404
        error = response.get_json()["error"]
        assert error["code"] == "not_found"
        assert "No such charge: 'ch_nope'" in error["message"]
        assert error["details"]["stripe_case"] == "not_found"
        assert error["details"]["stripe_code"] == "resource_missing"

    def test_metadata_stripe_refuses_is_422_stripe_rejected(
        self, client: FlaskClient, emu: EmulatorServer, sdk: stripe.StripeClient
    ) -> None:
        # 47 keys of the firm's own: the four references would make 51, over Stripe's 50.
        charge_id, _ = card_payment(sdk, **{f"k{i:02d}": "v" for i in range(47)})

        response = post(client, charge_id, match())

        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "stripe_rejected"
        assert "Metadata can have up to 50 keys, but you've set 51" in error["message"]
        assert error["details"]["stripe_param"] == "metadata"
        assert not set(KEYS) & set(metadata(sdk.v1.charges.retrieve(charge_id)))


class LiveGateway:
    """The gateway app on a real socket, so the reconciler's adapter calls it over HTTP."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.daemon = True
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def gateway(app: Flask) -> Iterator[HttpStripeGateway]:
    """The reconciler's adapter pointed at the live gateway, with the reconciler's tokens."""
    live = LiveGateway(app)
    try:
        yield HttpStripeGateway(
            live.url, timeout_s=20, authorization=lambda aud: f"Bearer {service_token(aud)}"
        )
    finally:
        live.stop()


class TestReconcilerAdapter:
    def test_set_bc_references_writes_and_then_refuses_another_invoice(
        self, gateway: HttpStripeGateway, sdk: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = card_payment(sdk)
        body = match()
        references = {k: body[k] for k in ("bc_company_id", "bc_invoice_id")}
        references |= {"bc_invoice_number": "PSI-1042", "matched_by": "Alice Clerk"}

        answer = gateway.set_bc_references(charge_id, references)

        assert answer["unchanged"] is False
        assert answer["payment_intent"] == intent_id
        assert metadata(sdk.v1.charges.retrieve(charge_id)) == written(body)
        with pytest.raises(GatewayRejected) as refused:
            gateway.set_bc_references(charge_id, {**references, "bc_invoice_id": "inv-other"})
        assert refused.value.code == "already_matched"
        assert refused.value.details["current"]["bc_invoice_id"] == body["bc_invoice_id"]
