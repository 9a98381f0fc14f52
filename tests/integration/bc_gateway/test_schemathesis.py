"""Schemathesis against bc-gateway, built as production builds it, on the BC emulator (case 34).

The description is the one the app serves (``bc_gateway.api.openapi``); every generated request
goes to the gateway in-process, and the gateway talks to the BC emulator over real HTTPS and
publishes to a real, isolated RabbitMQ topology (this directory's fixtures). Two runs:

- with credentials: a fresh service token of the reconciler on every command, and on webhook
  notifications the subscription's real ``clientState`` in every element, so generated
  notifications reach the broker;
- without any: every command must be 401, and the webhook must refuse forged notifications.

Pass: no 5xx, and every answer (status, content type, headers, body) as described. A request
valid by its JSON Schema may still be refused where the description says so (``x-also-refused``:
BC's state, rules across fields, the webhook's proof). Generation is bounded and derandomized;
a failure prints a curl command that replays it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import service_token
from flask import Flask
from schemathesis_support import SETTINGS
from schemathesis_support import Case
from schemathesis_support import schemas
from schemathesis_support import undeclared_method

from bc_gateway import create_app
from bc_gateway.api.openapi import document
from bc_gateway.bootstrap import Dependencies
from mlconnector.bus import Topology

pytestmark = pytest.mark.rabbitmq


AUDIENCE = "bc-gateway"
CLIENT_STATE = SERVICE_SECRETS["ml-connector/bc"]["client_state"]
WEBHOOK = "/webhooks/bc"
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json", "/metrics", WEBHOOK)
NEGATIVE_STATUSES = [
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "409",
    "415",
    "422",
    "428",
    "429",
    "5xx",
]
# A POST carrying ``validationToken`` is BC's handshake: answered 200 with the token whatever the
# body holds (the body is not read). A notification element with the right clientState that
# cannot be read is skipped (202), not refused: a 4xx would make BC delete the subscription.
# Both are in the description; Schemathesis' negative check is told so for this operation.
HANDSHAKE = {
    "include-operation-id": "bc_webhook_post",
    "checks": {
        "negative_data_rejection": {"expected-statuses": [*NEGATIVE_STATUSES, "200", "202"]}
    },
}

schema, anonymous_schema, CURRENT = schemas(document(), [HANDSHAKE])


@pytest.fixture
def exchange(topology: Topology) -> str:
    """Notifications are published to this test's isolated topology (it must exist: 202)."""
    return topology.exchange


@pytest.fixture
def current(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The gateway of this test, where generated requests go.

    The webhook's budget of refused requests is raised far above a run's: at the production
    30 a minute, the generated forgeries would test the limiter (429, which the description
    allows) instead of the webhook.
    """
    monkeypatch.setenv("MLC_RATELIMIT_WEBHOOK_REFUSALS", "100000/minute")
    CURRENT.app = create_app(deps=deps)
    yield CURRENT.app
    CURRENT.app = None


def credentials() -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token(AUDIENCE)}"}


def with_client_state(case: Case) -> None:
    """Give every notification element the subscription's clientState (BC's proof)."""
    body = case.body
    if case.path != WEBHOOK or not isinstance(body, dict):
        return
    elements = body.get("value")
    if isinstance(elements, list):
        for element in elements:
            if isinstance(element, dict):
                element["clientState"] = CLIENT_STATE


@schema.parametrize()
@SETTINGS
def test_with_credentials(case: Case, current: Flask) -> None:
    with_client_state(case)
    case.call_and_validate(headers=credentials())


@anonymous_schema.parametrize()
@SETTINGS
def test_without_credentials(case: Case, current: Flask) -> None:
    response = case.call_and_validate()
    if undeclared_method(case):
        return
    if case.path not in OPEN_PATHS:
        assert response.status_code == 401, case.as_curl_command()


class TestSeeded:
    """Answers about BC records that exist, checked against the description."""

    def test_reads_of_existing_records_conform(
        self, current: Flask, admin: Any, company: Any
    ) -> None:
        seeded = company.seed(
            admin,
            "invoices",
            {
                "customerId": company.customer_id,
                "externalDocumentNumber": "in_1Schemathesis",
                "lines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "description": "Consulting",
                        "quantity": 2,
                        "unitPrice": Decimal("150.25"),
                    }
                ],
                "post": True,
            },
        )
        calls: list[tuple[str, str, dict[str, Any]]] = [
            (
                "/commands/invoices/{invoice_id}",
                "GET",
                {"path_parameters": {"invoice_id": seeded["id"]}},
            ),
            ("/commands/invoices", "GET", {"query": {"status": "Open"}}),
            (
                "/commands/customers/{customer_id}",
                "GET",
                {"path_parameters": {"customer_id": company.customer_id}},
            ),
            ("/healthz", "GET", {}),
            ("/readyz", "GET", {}),
            (WEBHOOK, "GET", {"query": {"validationToken": "handshake-1"}}),
        ]
        statuses = []
        for path, method, parts in calls:
            case = schema[path][method].Case(**parts)
            statuses.append(case.call_and_validate(headers=credentials()).status_code)

        assert statuses == [200, 200, 200, 200, 200, 200]
