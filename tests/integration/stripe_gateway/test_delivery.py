"""The webhook on a real socket: the emulator's own sender, chunked bodies, a broker outage."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from factories import drain
from factories import free_port
from factories import queue_depth
from flask import Flask
from werkzeug.serving import make_server

from mlconnector.bus import Topology
from mlconnector.runtime import build_publisher
from stripe_emulator.server import EmulatorServer
from stripe_emulator.server import QuietRequestHandler
from stripe_gateway import create_app
from stripe_gateway.cli import main
from stripe_gateway.settings import Settings

pytestmark = pytest.mark.rabbitmq


class Served:
    """A gateway app on 127.0.0.1:<free port>, in a thread (werkzeug, threaded)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler
        )
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/stripe"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.app.extensions["stripe_gateway"].publisher.close()


@pytest.fixture
def served(gateway_env: dict[str, str]) -> Iterator[Served]:
    running = Served(create_app())
    yield running
    running.stop()


class TestEmulatorDeliveries:
    def test_every_subscribed_event_lands_on_the_bus_once(
        self,
        served: Served,
        emu: EmulatorServer,
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        # The endpoint is registered the way an operator would, which also stores its secret.
        assert main(["register-webhook", "--url", served.url]) == 0
        assert "whsec_" not in capsys.readouterr().out
        sdk = stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})
        customer = sdk.v1.customers.create(params={"name": "Adatum"})
        invoice = sdk.v1.invoices.create(
            params={"customer": customer.id, "collection_method": "send_invoice",
                    "days_until_due": 7, "currency": "usd"}
        )  # fmt: skip
        sdk.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 4200}]})
        sdk.v1.invoices.finalize_invoice(invoice.id)
        paid = emu.pay_invoice(invoice.id)
        emu.refund(paid["charge"]["id"], 200)
        emu.payout("usd")
        emu.flush_deliveries()

        handled = {
            e.id: e.type
            for e in sdk.v1.events.list(params={"limit": 100}).auto_paging_iter()
            if e.type in {"invoice.paid", "charge.succeeded", "charge.refunded", "payout.paid",
                          "payout.reconciliation_completed"}
        }  # fmt: skip
        assert set(handled.values()) == {
            "invoice.paid",
            "charge.succeeded",
            "charge.refunded",
            "payout.paid",
            "payout.reconciliation_completed",
        }
        messages = drain(amqp_url, bus[1].queue)
        ids = [properties.message_id for properties, _ in messages]
        assert sorted(ids) == sorted(handled)
        attempts = [a for d in emu.deliveries() for a in d["attempts"]]
        assert len(attempts) == len(handled)
        assert {a.get("response_status") for a in attempts} == {200}

    def test_a_delivery_answered_503_is_retried_by_stripe_and_then_queued(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
    ) -> None:
        # Broker down: the gateway answers 503 and queues nothing; Stripe (the emulator) keeps
        # the delivery pending and retries; once the broker is back the retry is queued.
        monkeypatch.setenv("MLC_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
        served = Served(create_app())
        try:
            assert main(["register-webhook", "--url", served.url]) == 0
            emu.configure(paused=True)
            sdk = stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})
            _paid_invoice(sdk, emu)
            emu.flush_deliveries()
            [first] = [d for d in emu.deliveries() if d["type"] == "invoice.paid"]
            assert [a.get("response_status") for a in first["attempts"]] == [503]
            assert first["status"] == "pending"
            assert queue_depth(amqp_url, bus[1].queue) == 0

            deps = served.app.extensions["stripe_gateway"]
            deps.publisher.close()
            monkeypatch.setenv("MLC_AMQP_URL", amqp_url)
            deps.publisher = build_publisher(Settings.from_env().common, "stripe-gateway")
            emu.flush_deliveries()
        finally:
            served.stop()
        [delivery] = [d for d in emu.deliveries() if d["type"] == "invoice.paid"]
        assert [a.get("response_status") for a in delivery["attempts"]] == [503, 200]
        assert delivery["status"] == "succeeded"
        ids = [m[0].message_id for m in drain(amqp_url, bus[1].queue)]
        assert ids.count(delivery["event"]) == 1


def _paid_invoice(sdk: stripe.StripeClient, emu: EmulatorServer) -> str:
    customer = sdk.v1.customers.create(params={"name": "Litware"})
    invoice = sdk.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice",
                "days_until_due": 7, "currency": "usd"}
    )  # fmt: skip
    sdk.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 990}]})
    sdk.v1.invoices.finalize_invoice(invoice.id)
    emu.pay_invoice(invoice.id)
    return invoice.id


class TestBodyLimitOnTheWire:
    def _post_chunked(self, served: Served, chunks: list[bytes], signature: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        try:
            connection.putrequest("POST", "/webhooks/stripe")
            connection.putheader("Transfer-Encoding", "chunked")
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Stripe-Signature", signature)
            connection.endheaders()
            for chunk in chunks:
                connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    @pytest.fixture
    def small_limit(
        self, monkeypatch: pytest.MonkeyPatch, gateway_env: dict[str, str]
    ) -> Iterator[Served]:
        monkeypatch.setenv("MLC_STRIPE_MAX_BODY_BYTES", "4096")
        running = Served(create_app())
        yield running
        running.stop()

    def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_published(
        self, small_limit: Served, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        event = kit.make_event()
        event["data"]["object"]["padding"] = "x" * 8192
        body = kit.body_of(event)
        status = self._post_chunked(
            small_limit, [body[i : i + 1000] for i in range(0, len(body), 1000)],
            kit.sign(body, kit.WEBHOOK_SECRET),
        )  # fmt: skip
        assert status == 413
        assert queue_depth(amqp_url, bus[1].queue) == 0

    def test_a_chunked_body_under_the_limit_is_verified_and_published(
        self, small_limit: Served, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event())
        status = self._post_chunked(
            small_limit, [body[:100], body[100:]], kit.sign(body, kit.WEBHOOK_SECRET)
        )
        assert status == 200
        assert len(drain(amqp_url, bus[1].queue)) == 1

    def test_a_declared_length_over_the_limit_is_413(
        self, small_limit: Served, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        body = b"{" + b" " * 5000 + b"}"
        connection = http.client.HTTPConnection("127.0.0.1", small_limit.port, timeout=10)
        try:
            connection.request(
                "POST",
                "/webhooks/stripe",
                body=body,
                headers={"Stripe-Signature": kit.sign(body, kit.WEBHOOK_SECRET)},
            )
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == 413
        assert queue_depth(amqp_url, bus[1].queue) == 0


class TestBrokerDown:
    def test_503_then_the_same_delivery_succeeds_once_the_broker_is_back(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
    ) -> None:
        body = kit.body_of(kit.make_event("charge.succeeded"))
        header = kit.sign(body, kit.WEBHOOK_SECRET)
        monkeypatch.setenv("MLC_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
        down = create_app()
        response = down.test_client().post("/webhooks/stripe", data=body,
                                           headers={"Stripe-Signature": header})  # fmt: skip
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "not_queued"
        assert response.headers["Retry-After"]
        assert "guest:guest" not in response.get_data(as_text=True)
        down.extensions["stripe_gateway"].publisher.close()
        assert queue_depth(amqp_url, bus[1].queue) == 0

        monkeypatch.setenv("MLC_AMQP_URL", amqp_url)
        up = create_app()
        again = up.test_client().post("/webhooks/stripe", data=body,
                                      headers={"Stripe-Signature": header})  # fmt: skip
        up.extensions["stripe_gateway"].publisher.close()
        assert again.status_code == 200
        assert len(drain(amqp_url, bus[1].queue)) == 1
