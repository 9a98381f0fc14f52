"""``/webhooks/bc``: a forged clientState is cut off with 429, BC's notifications never are.

BC deletes a subscription on any status but 2xx, 408, 429 and 5xx (bc-api.md §7.6), so the
limiter may add 429 and nothing else; every answer below the budget is the view's own.
"""

from __future__ import annotations

from typing import Any

import pika
import pytest
from factories import queue_depth

from mlconnector.bus import Topology

pytestmark = pytest.mark.rabbitmq

URL = "/webhooks/bc"
BC = "20.50.2.10"  # stands for BC's sending service
FORGER = "203.0.113.99"
BUDGET = 30  # the default: 30 refused requests a minute (and 300 an hour) per address


@pytest.fixture
def queue(amqp_url: str, base_env: dict[str, str]) -> str:
    """The gateway's queue, declared up front so a test can count what reached it."""
    topology = Topology.isolated(base_env["MLC_BUS_NAMESPACE"])
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        topology.declare(connection.channel())
    finally:
        connection.close()
    return topology.queue


def notify(client: Any, kit: Any, address: str, body: bytes) -> Any:
    return client.post(URL, data=body, content_type="application/json", **kit.from_address(address))


class TestForgedClientState:
    def test_is_refused_until_the_budget_then_answered_429_which_bc_retries(
        self, bc_gateway: Any, kit: Any, amqp_url: str, queue: str
    ) -> None:
        client = bc_gateway()

        responses = [
            notify(client, kit, FORGER, kit.bc_notification("forged-state")) for _ in range(300)
        ]

        statuses = [r.status_code for r in responses]
        assert statuses == [401] * BUDGET + [429] * (300 - BUDGET)
        assert 429 in kit.BC_RETRIES  # never a status that deletes a subscription
        assert responses[-1].get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(responses[-1].headers["Retry-After"]) <= 61
        assert queue_depth(amqp_url, queue) == 0

    def test_below_the_budget_every_answer_is_the_views_own(
        self, bc_gateway: Any, kit: Any
    ) -> None:
        client = bc_gateway(MLC_RATELIMIT_WEBHOOK_REFUSALS="5/minute")

        handshakes = [
            client.get(f"{URL}?validationToken=tok-{n}", **kit.from_address(FORGER))
            for n in range(50)
        ]
        refused = [
            notify(client, kit, FORGER, b"not json"),
            notify(client, kit, FORGER, kit.bc_notification(None)),
            notify(client, kit, FORGER, kit.bc_notification("forged-state")),
            client.get(f"{URL}?validationToken={'a' * 1025}", **kit.from_address(FORGER)),
            client.get(URL, **kit.from_address(FORGER)),
        ]

        # Handshakes succeed and cost nothing; the refusals keep their statuses.
        assert {r.status_code for r in handshakes} == {200}
        assert [r.status_code for r in refused] == [400, 401, 401, 400, 400]
        assert notify(client, kit, FORGER, kit.bc_notification()).status_code == 429


class TestBcNotifications:
    def test_valid_client_state_is_never_429_while_a_forger_is_blocked(
        self,
        bc_gateway: Any,
        kit: Any,
        redis_store: dict[str, str],
        amqp_url: str,
        queue: str,
    ) -> None:
        client = bc_gateway(**redis_store)
        for _ in range(BUDGET + 10):
            notify(client, kit, FORGER, kit.bc_notification("forged-state"))
        # A notification BC cannot have sent, from BC's own address, is still below the budget.
        assert notify(client, kit, BC, b"{}").status_code == 400

        statuses: dict[int, int] = {}
        for _ in range(1000):
            status = notify(client, kit, BC, kit.bc_notification()).status_code
            statuses[status] = statuses.get(status, 0) + 1

        assert statuses == {202: 1000}
        assert queue_depth(amqp_url, queue) == 1000
        assert notify(client, kit, FORGER, kit.bc_notification()).status_code == 429
