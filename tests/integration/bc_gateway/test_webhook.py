"""``/webhooks/bc``: handshake, clientState, confirmed publishing, 503 on internal failures."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import drain
from factories import queue_depth
from factories import wait_until

from bc_gateway import create_app
from bc_gateway.bootstrap import Dependencies
from bc_gateway.client_state import ClientStates
from bc_gateway.messages import notification_id
from bc_gateway.notifications import parse_notification
from bc_gateway.publishing import ConfirmedPublisher
from bc_gateway.subscriptions import renew_subscriptions
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import load_message
from mlconnector.secrets_file import EncryptedFileSecrets
from mlconnector.secrets_vault import TokenAuth
from mlconnector.secrets_vault import VaultSecrets

pytestmark = pytest.mark.rabbitmq

STATE = SERVICE_SECRETS["ml-connector/bc"]["client_state"]
URL = "/webhooks/bc"


def element(company_id: str, **overrides: Any) -> dict[str, Any]:
    value = {
        "subscriptionId": "c670ea73cacb459bb51dc1740da2f1db",
        "clientState": STATE,
        "expirationDateTime": "2026-11-27T12:50:30Z",
        "resource": f"api/v2.0/companies({company_id})/salesInvoices"
        "(130bbd17-dbb9-4790-9b12-2b0e9c9d22c3)",
        "changeType": "updated",
        "lastModifiedDateTime": "2026-11-24T12:54:26.057Z",
    }
    value.update(overrides)
    return value


def post(client: Any, *elements: dict[str, Any]) -> Any:
    return client.post(
        URL, data=json.dumps({"value": list(elements)}), content_type="application/json"
    )


@pytest.fixture
def exchange(topology: Topology) -> str:
    """Publish to this test's isolated topology."""
    return topology.exchange


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestHandshake:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_the_validation_token_is_echoed_as_plain_text(self, client: Any, method: str) -> None:
        response = client.open(f"{URL}?validationToken=abc123-XYZ", method=method)
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        assert response.get_data(as_text=True) == "abc123-XYZ"

    def test_an_overlong_token_is_refused(self, client: Any) -> None:
        response = client.get(f"{URL}?validationToken={'a' * 1025}")
        assert response.status_code == 400
        assert client.get(f"{URL}?validationToken={'a' * 1024}").status_code == 200


class TestClientState:
    @pytest.mark.parametrize("state", ["wrong-state-value", "", None])
    def test_a_wrong_or_missing_client_state_is_refused_and_nothing_published(
        self, client: Any, company: Any, topology: Topology, amqp_url: str, state: str | None
    ) -> None:
        forged = element(company.id, clientState=state)
        if state is None:
            del forged["clientState"]

        response = post(client, element(company.id), forged)

        assert response.status_code == 401
        time.sleep(0.2)
        assert queue_depth(amqp_url, topology.queue) == 0

    def test_the_previous_client_state_is_accepted_during_a_rotation(
        self, deps: Dependencies, company: Any, tmp_path: Path
    ) -> None:
        rotated = EncryptedFileSecrets(tmp_path / "rotated.enc", "rotation-master-key-123")
        rotated.write(
            "ml-connector/bc",
            {"client_state": "new-state-after-rotation", "client_state_previous": STATE},
        )
        deps.client_states = ClientStates(rotated, "ml-connector/bc", ttl_s=0)
        app = create_app(deps=deps).test_client()

        assert post(app, element(company.id)).status_code == 202
        assert (
            post(app, element(company.id, clientState="new-state-after-rotation")).status_code
            == 202
        )
        assert post(app, element(company.id, clientState="older-state")).status_code == 401


class TestPublishing:
    def test_each_notification_is_published_with_a_deterministic_id(
        self, client: Any, company: Any, topology: Topology, amqp_url: str
    ) -> None:
        first = element(company.id)
        second = element(
            company.id,
            resource=f"api/v2.0/companies({company.id})/customers({company.customer_id})",
            changeType="created",
        )

        response = post(client, first, second)

        assert response.status_code == 202
        assert response.get_json() == {"received": 2, "published": 2}
        messages = drain(amqp_url, topology.queue)
        by_type = {
            props.type or load_message(body).type: load_message(body) for props, body in messages
        }
        invoice = by_type["bc.notification.salesInvoices.updated"]
        assert invoice.id == notification_id(parse_notification(first))
        assert invoice.data["entity_id"] == "130bbd17-dbb9-4790-9b12-2b0e9c9d22c3"
        assert invoice.data["company_id"] == company.id
        customer = by_type["bc.notification.customers.created"]
        assert customer.data["entity_id"] == company.customer_id

    def test_a_retried_notification_gets_the_same_message_id(
        self, client: Any, company: Any, topology: Topology, amqp_url: str
    ) -> None:
        assert post(client, element(company.id)).status_code == 202
        assert post(client, element(company.id)).status_code == 202
        ids = [props.message_id for props, _ in drain(amqp_url, topology.queue)]
        assert len(ids) == 2
        assert len(set(ids)) == 1

    def test_an_element_that_cannot_be_read_is_skipped_not_refused(
        self, client: Any, company: Any, topology: Topology, amqp_url: str
    ) -> None:
        response = post(client, element(company.id), element(company.id, changeType="renamed"))
        assert response.status_code == 202
        assert response.get_json()["published"] == 1

    @pytest.mark.parametrize("body", [b"not json", b"{}", b'{"value": "x"}', b'{"value": [1]}'])
    def test_a_body_bc_cannot_have_sent_is_a_bad_request(self, client: Any, body: bytes) -> None:
        assert client.post(URL, data=body, content_type="application/json").status_code == 400


class TestInternalFailuresAnswer503:
    def test_broker_down(self, deps: Dependencies, company: Any, amqp_url: str) -> None:
        closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
        deps.publisher = Publisher(closed, exchange="mlc.events", connect_timeout_s=1)
        deps.publish = ConfirmedPublisher(deps.publisher)
        try:
            response = post(create_app(deps=deps).test_client(), element(company.id))
        finally:
            deps.publisher.close()
        assert response.status_code == 503
        assert response.headers["Retry-After"]

    def test_secret_store_down(self, deps: Dependencies, company: Any) -> None:
        down = VaultSecrets(
            f"http://127.0.0.1:{free_port()}", auth=TokenAuth("hvs.test-token-xyz-123"), timeout=1
        )
        deps.client_states = ClientStates(down, "ml-connector/bc", ttl_s=0)
        response = post(create_app(deps=deps).test_client(), element(company.id))
        assert response.status_code == 503

    def test_bc_failing_while_a_collection_is_expanded(
        self, make_deps: Any, admin: Any, company: Any
    ) -> None:
        client = create_app(deps=make_deps(MLC_BC_MAX_ATTEMPTS="2")).test_client()
        admin.fault(status=503, count=100, retryAfter=0)
        collection = element(
            company.id,
            resource=f"/api/v2.0/companies({company.id})/salesInvoices"
            "?$filter=lastModifiedDateTime%20gt%202026-11-24T12:00:00.000Z",
            changeType="collection",
        )
        assert post(client, collection).status_code == 503


class TestCollection:
    def test_a_collection_notification_publishes_every_changed_invoice(
        self,
        live_gateway: Any,
        deps: Dependencies,
        admin: Any,
        company: Any,
        topology: Topology,
        amqp_url: str,
    ) -> None:

        admin.config(collection_threshold=5)
        assert deps.bc is not None
        renew_subscriptions(
            deps.bc,
            notification_url=live_gateway.webhook_url,
            client_state=STATE,
            margin=dt.timedelta(hours=24),
            entities=("salesInvoices",),
        )
        seeded = company.seed(
            admin, "invoices/bulk", {"count": 12, "customerId": company.customer_id, "post": True}
        )

        admin.call("POST", "notifications/flush", {"timeout": 10})

        log = admin.call("GET", "notifications")["log"]
        assert [entry["notifications"][0]["changeType"] for entry in log] == ["collection"]
        assert log[0]["status"] == 202
        assert wait_until(lambda: queue_depth(amqp_url, topology.queue) >= 12, timeout_s=5)
        messages = [load_message(body) for _, body in drain(amqp_url, topology.queue)]
        assert {m.type for m in messages} == {"bc.invoice.observed"}
        assert sorted(m.data["entity_id"] for m in messages) == sorted(seeded["ids"])
