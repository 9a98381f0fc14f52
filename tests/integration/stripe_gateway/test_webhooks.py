"""``POST /webhooks/stripe`` against the real broker: reliability.md §7 items 13-20 and 23-25.

Every failure case also checks that nothing reached the (isolated) queue; every success case
drains it and validates the envelope with the shared contract.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import drain
from factories import queue_depth
from flask.testing import FlaskClient

from mlconnector.bus import Topology
from mlconnector.contracts import load_message
from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_gateway import create_app

pytestmark = pytest.mark.rabbitmq

URL = "/webhooks/stripe"
STRIPE_PATH = "ml-connector/stripe"
WEBHOOK_SECRET = SERVICE_SECRETS[STRIPE_PATH]["webhook_secret"]
OTHER_SECRET = "whsec_AnotherEndpointsSecret000"


def post(client: FlaskClient, body: bytes, header: str | None, **headers: str) -> Any:
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(URL, data=body, headers=headers, content_type="application/json")


def assert_rejected(response: Any, status: int = 400) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["message"] in ("invalid signature", "invalid payload")
    assert WEBHOOK_SECRET not in response.get_data(as_text=True)


class TestValidDelivery:
    def test_is_published_once_with_the_event_id_and_a_valid_envelope(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        event = kit.make_event("invoice.paid")
        body = kit.body_of(event)

        response = post(client, body, kit.sign(body, WEBHOOK_SECRET))

        assert response.status_code == 200
        assert response.get_json() == {"received": True, "published": True, "id": event["id"]}
        messages = drain(amqp_url, bus[1].queue)
        assert len(messages) == 1
        properties, raw = messages[0]
        assert properties.message_id == event["id"]
        assert properties.delivery_mode == 2
        envelope = load_message(raw)
        assert envelope.id == event["id"]
        assert envelope.type == "stripe.event.invoice.paid"
        assert envelope.source == "stripe"
        assert envelope.correlation_id == response.headers["X-Correlation-Id"]
        assert properties.correlation_id == envelope.correlation_id
        assert envelope.data["event_id"] == event["id"]
        assert envelope.data["object_id"] == event["data"]["object"]["id"]
        assert envelope.data["object_type"] == "invoice"
        assert envelope.data["object"] == event["data"]["object"]
        assert envelope.data["livemode"] is False
        assert int(envelope.occurred_at.timestamp()) == event["created"]

    @pytest.mark.parametrize(
        "event_type",
        [
            "invoice.paid",
            "charge.succeeded",
            "charge.refunded",
            "payout.paid",
            "payout.reconciliation_completed",
        ],
    )
    def test_every_handled_type_is_routed_by_its_type(
        self,
        client: FlaskClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        event_type: str,
        kit: Any,
    ) -> None:
        body = kit.body_of(kit.make_event(event_type))
        assert post(client, body, kit.sign(body, WEBHOOK_SECRET)).status_code == 200
        [(_, raw)] = drain(amqp_url, bus[1].queue)
        assert load_message(raw).type == f"stripe.event.{event_type}"

    def test_a_replay_inside_the_window_is_accepted_and_published_again(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        # De-duplication is the reconciler's job (inbox keyed on the event id): the gateway
        # republishes, with the same message id, and the copies are indistinguishable by id.
        body = kit.body_of(kit.make_event())
        header = kit.sign(body, WEBHOOK_SECRET)
        assert post(client, body, header).status_code == 200
        assert post(client, body, header).status_code == 200
        messages = drain(amqp_url, bus[1].queue)
        assert len(messages) == 2
        assert messages[0][0].message_id == messages[1][0].message_id

    @pytest.mark.parametrize("skew", [-299, 299])
    def test_timestamps_just_inside_the_window_are_accepted(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], skew: int, kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event())
        header = kit.sign(body, WEBHOOK_SECRET, int(time.time()) + skew)
        assert post(client, body, header).status_code == 200
        assert len(drain(amqp_url, bus[1].queue)) == 1

    def test_a_live_event_under_a_test_key_is_published_with_its_flag_and_logged(
        self,
        client: FlaskClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        # The gateway ingests; the reconciler (which owns decisions) can park a live event
        # that reached a test-mode installation.
        body = kit.body_of(kit.make_event(livemode=True))
        with caplog.at_level(logging.WARNING, logger="stripe_gateway"):
            response = post(client, body, kit.sign(body, WEBHOOK_SECRET))
        assert response.status_code == 200
        [(_, raw)] = drain(amqp_url, bus[1].queue)
        assert load_message(raw).data["livemode"] is True
        assert any("livemode=True" in r.getMessage() for r in caplog.records)


class TestUnhandledTypes:
    @pytest.mark.parametrize("event_type", ["customer.created", "invoice.finalized", "x.y.z"])
    def test_are_acknowledged_and_not_published(
        self,
        client: FlaskClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        event_type: str,
        caplog: pytest.LogCaptureFixture,
        kit: Any,
    ) -> None:
        body = kit.body_of(kit.make_event(event_type))
        with caplog.at_level(logging.INFO, logger="stripe_gateway"):
            response = post(client, body, kit.sign(body, WEBHOOK_SECRET))
        assert response.status_code == 200
        assert response.get_json() == {"received": True, "published": False}
        assert queue_depth(amqp_url, bus[1].queue) == 0
        assert any(event_type in r.getMessage() for r in caplog.records)


def _flip(signature_header: str) -> str:
    t, v1 = signature_header.split(",")
    last = v1[-1]
    return f"{t},{v1[:-1]}{'0' if last != '0' else '1'}"


BAD_SIGNATURE_CASES = [
    "flipped hex character",
    "wrong secret",
    "too old (now-301)",
    "in the future (now+301)",
    "missing header",
    "empty header",
    "no t=",
    "no v1=",
    "only v0",
    "non-integer t",
    "t not a number",
    "v1 not hex",
    "garbage",
    "10 KB header",
]


def _bad_signatures(kit: Any, body: bytes) -> dict[str, str | None]:
    now = int(time.time())
    good = kit.sign(body, WEBHOOK_SECRET)
    v1 = good.split(",")[1]
    return {
        "flipped hex character": _flip(good),
        "wrong secret": kit.sign(body, OTHER_SECRET),
        "too old (now-301)": kit.sign(body, WEBHOOK_SECRET, now - 301),
        "in the future (now+301)": kit.sign(body, WEBHOOK_SECRET, now + 301),
        "missing header": None,
        "empty header": "",
        "no t=": v1,
        "no v1=": f"t={now}",
        "only v0": f"t={now},v0={v1.split('=')[1]}",
        "non-integer t": f"t={now}.5,{v1}",
        "t not a number": f"t=abc,{v1}",
        "v1 not hex": f"t={now},v1=zz{v1[5:]}",
        "garbage": "this is not a signature",
        "10 KB header": good + ",v1=" + "a" * 10 * 1024,
    }


class TestRejectedDeliveries:
    @pytest.mark.parametrize("case", BAD_SIGNATURE_CASES)
    def test_bad_signature_headers_are_400_and_nothing_is_published(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], case: str, kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event())
        response = post(client, body, _bad_signatures(kit, body)[case])
        assert_rejected(response)
        assert response.get_json()["error"]["code"] == "invalid_signature"
        assert queue_depth(amqp_url, bus[1].queue) == 0

    def test_tampered_bodies_are_400(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        event = kit.make_event()
        body = kit.body_of(event)
        header = kit.sign(body, WEBHOOK_SECRET)
        one_byte = body.replace(b'"total": 1000', b'"total": 9000')
        assert one_byte != body
        tampered = {
            "one byte changed": one_byte,
            "whitespace added": body + b"\n",
            "re-serialised JSON": json.dumps(event, separators=(",", ":")).encode(),
        }
        for name, variant in tampered.items():
            response = post(client, variant, header)
            assert response.status_code == 400, name
            assert_rejected(response)
        assert queue_depth(amqp_url, bus[1].queue) == 0

    @pytest.mark.parametrize(
        "payload",
        [b"{not json", b"[1, 2]", b'{"id": "evt_1"}', b'"text"', b"\xff\xfe", b""],
        ids=["broken", "array", "no type", "string", "not utf-8", "empty"],
    )
    def test_payloads_that_are_not_events_are_400_even_when_signed(
        self,
        client: FlaskClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        payload: bytes,
        kit: Any,
    ) -> None:
        header = kit.sign(payload, WEBHOOK_SECRET)
        response = post(client, payload, header)
        assert response.status_code == 400
        assert queue_depth(amqp_url, bus[1].queue) == 0

    def test_a_handled_event_missing_its_object_is_400(
        self, client: FlaskClient, amqp_url: str, bus: tuple[str, Topology], kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event(data={"object": "in_123"}))
        response = post(client, body, kit.sign(body, WEBHOOK_SECRET))
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_payload"
        assert queue_depth(amqp_url, bus[1].queue) == 0

    def test_an_oversized_body_is_413_before_verification(
        self,
        client: FlaskClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        caplog: pytest.LogCaptureFixture,
        kit: Any,
    ) -> None:
        limit = client.application.config["MAX_CONTENT_LENGTH"]
        event = kit.make_event()
        event["data"]["object"]["padding"] = "x" * limit
        body = kit.body_of(event)
        with caplog.at_level(logging.WARNING):
            response = post(client, body, kit.sign(body, WEBHOOK_SECRET))
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "request_entity_too_large"
        assert queue_depth(amqp_url, bus[1].queue) == 0
        # Refused before the signature check ran: no "webhook rejected" line.
        assert not [r for r in caplog.records if "webhook rejected" in r.getMessage()]

    def test_the_log_names_the_reason_and_request_never_the_body_header_or_secret(
        self, client: FlaskClient, caplog: pytest.LogCaptureFixture, kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event())
        header = kit.sign(body, WEBHOOK_SECRET, int(time.time()) - 301)
        with caplog.at_level(logging.DEBUG):
            response = post(client, body, header, **{"X-Correlation-Id": "req-abc-123"})
        assert response.status_code == 400
        lines = [r.getMessage() for r in caplog.records if "webhook rejected" in r.getMessage()]
        assert len(lines) == 1
        assert "too old" in lines[0]
        assert "req-abc-123" in lines[0]
        everything = "\n".join(r.getMessage() for r in caplog.records)
        assert header.split(",")[1] not in everything
        assert WEBHOOK_SECRET not in everything
        assert body.decode() not in everything
        # The response does not say which check failed.
        assert "too old" not in response.get_data(as_text=True)


class TestSecretRotation:
    @pytest.fixture
    def rotating_client(
        self, monkeypatch: pytest.MonkeyPatch, gateway_env: dict[str, str]
    ) -> Iterator[FlaskClient]:
        # TTL 0: every delivery re-reads the store, so a removed secret stops working at once.
        monkeypatch.setenv("MLC_STRIPE_WEBHOOK_SECRET_TTL", "0")
        app = create_app()
        yield app.test_client()
        app.extensions["stripe_gateway"].publisher.close()

    def test_old_and_new_signatures_pass_while_both_are_configured_old_fails_after(
        self,
        rotating_client: FlaskClient,
        secret_store: EncryptedFileSecrets,
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
    ) -> None:
        new = "whsec_NewRotatedSecretValue123"
        secret_store.write(
            STRIPE_PATH, {"webhook_secret": new, "webhook_secret_previous": WEBHOOK_SECRET}
        )
        body = kit.body_of(kit.make_event())
        assert post(rotating_client, body, kit.sign(body, [new, WEBHOOK_SECRET])).status_code == 200
        assert post(rotating_client, body, kit.sign(body, [WEBHOOK_SECRET])).status_code == 200
        assert post(rotating_client, body, kit.sign(body, [new])).status_code == 200

        secret_store.write(STRIPE_PATH, {"webhook_secret_previous": ""})

        assert post(rotating_client, body, kit.sign(body, [WEBHOOK_SECRET])).status_code == 400
        assert post(rotating_client, body, kit.sign(body, [new, WEBHOOK_SECRET])).status_code == 200
        assert len(drain(amqp_url, bus[1].queue)) == 4

    def test_several_comma_separated_current_secrets_are_all_active(
        self, rotating_client: FlaskClient, secret_store: EncryptedFileSecrets, kit: Any
    ) -> None:
        secret_store.write(STRIPE_PATH, {"webhook_secret": f"{WEBHOOK_SECRET}, {OTHER_SECRET}"})
        body = kit.body_of(kit.make_event())
        assert post(rotating_client, body, kit.sign(body, OTHER_SECRET)).status_code == 200
        assert post(rotating_client, body, kit.sign(body, WEBHOOK_SECRET)).status_code == 200

    def test_a_secret_written_after_start_up_is_honoured_without_waiting_for_the_ttl(
        self, client: FlaskClient, secret_store: EncryptedFileSecrets, kit: Any
    ) -> None:
        body = kit.body_of(kit.make_event())
        assert post(client, body, kit.sign(body, WEBHOOK_SECRET)).status_code == 200  # cache warm
        secret_store.write(STRIPE_PATH, {"webhook_secret": OTHER_SECRET})
        assert post(client, body, kit.sign(body, OTHER_SECRET)).status_code == 200

    def test_an_unreadable_secret_store_is_503_and_nothing_is_published(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        secret_store: EncryptedFileSecrets,
        amqp_url: str,
        bus: tuple[str, Topology],
        kit: Any,
    ) -> None:
        monkeypatch.setenv("MLC_STRIPE_WEBHOOK_SECRET_TTL", "0")
        monkeypatch.setenv("MLC_STRIPE_WEBHOOK_SECRET_MAX_STALE", "0")
        app = create_app()
        client = app.test_client()
        secret_store.path.write_bytes(b"corrupted")
        body = kit.body_of(kit.make_event())
        response = post(client, body, kit.sign(body, WEBHOOK_SECRET))
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert queue_depth(amqp_url, bus[1].queue) == 0
        app.extensions["stripe_gateway"].publisher.close()
