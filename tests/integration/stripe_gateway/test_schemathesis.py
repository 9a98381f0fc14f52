"""Schemathesis against stripe-gateway, built as in production, on the Stripe emulator (case 34).

The description is the one the app serves (``stripe_gateway.api.openapi``); every generated
request goes to the gateway in-process, and the gateway talks to the Stripe emulator over real
HTTP with the stripe SDK and publishes to a real, isolated RabbitMQ topology (this directory's
fixtures). Two runs:

- with credentials: a fresh service token of the reconciler on every command, and every webhook
  body signed as Stripe signs it (``t=...,v1=HMAC``) with the endpoint secret, so generated
  events of a handled type reach the broker;
- without any: every command must be 401 and every webhook delivery 400 (unsigned).

Pass: no 5xx, and every answer (status, content type, headers, body) as described. A request
valid by its JSON Schema may still be refused where the description says so (``x-also-refused``).
Generation is bounded and derandomized; a failure prints a curl command that replays it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import service_token
from flask import Flask
from schemathesis.core import NotSet
from schemathesis_support import SETTINGS
from schemathesis_support import Case
from schemathesis_support import schemas
from schemathesis_support import undeclared_method

from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.api.openapi import document

pytestmark = pytest.mark.rabbitmq


AUDIENCE = "stripe-gateway"
WEBHOOK_SECRET = SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"]
WEBHOOK = "/webhooks/stripe"
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json", "/metrics")

schema, anonymous_schema, CURRENT = schemas(document())


@pytest.fixture
def current(
    gateway_env: dict[str, str], emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The gateway of this test (emulator, isolated bus, file secrets), where requests go.

    The webhook's budget of refused requests is raised far above a run's: at the production
    30 a minute, the unsigned deliveries would test the limiter (429, which the description
    allows) instead of the webhook. The emulator's search index is made current at once:
    generated commands reuse the same BC ids within milliseconds, and Stripe's search lag
    would answer them with the documented 503 ``customer_not_searchable_yet`` (covered by
    test_customers.py) instead of reaching the rest of the logic.
    """
    monkeypatch.setenv("MLC_RATELIMIT_WEBHOOK_REFUSALS", "100000/minute")
    emu.configure(search_index_delay=0)
    app = create_app()
    CURRENT.app = app
    yield app
    CURRENT.app = None
    app.extensions["stripe_gateway"].publisher.close()


def credentials() -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token(AUDIENCE)}"}


def signed(case: Case) -> dict[str, Any]:
    """The body as the bytes to send, and a Stripe-Signature over exactly those bytes."""
    body = case.body
    if isinstance(body, NotSet):
        payload = b""
    elif isinstance(body, bytes):
        payload = body  # a negative case: raw bytes, sent as they are
    else:
        payload = json.dumps(body).encode()
    timestamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return {
        "data": payload,
        "headers": {
            **credentials(),
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={timestamp},v1={digest}",
        },
    }


@schema.parametrize()
@SETTINGS
def test_with_credentials(case: Case, current: Flask) -> None:
    if case.path == WEBHOOK:
        case.call_and_validate(**signed(case))
    else:
        case.call_and_validate(headers=credentials())


@anonymous_schema.parametrize()
@SETTINGS
def test_without_credentials(case: Case, current: Flask) -> None:
    response = case.call_and_validate()
    if undeclared_method(case):
        return
    if case.path == WEBHOOK:
        assert response.status_code in (400, 413), case.as_curl_command()
    elif case.path not in OPEN_PATHS:
        assert response.status_code == 401, case.as_curl_command()


class TestSeeded:
    """Answers about Stripe objects that exist, checked against the description."""

    def test_an_invoice_pushed_read_and_voided_conforms(
        self, current: Flask, customer: str, kit: Any
    ) -> None:
        body = kit.invoice_command(customer)
        push = schema["/commands/invoices"]["POST"].Case(body=body)
        pushed = push.call_and_validate(headers=credentials())
        invoice_id = pushed.json()["id"]
        again = schema["/commands/invoices"]["POST"].Case(body=body)
        path = {"invoice_id": invoice_id}
        read = schema["/commands/invoices/{invoice_id}"]["GET"].Case(path_parameters=path)
        void = schema["/commands/invoices/{invoice_id}/void"]["POST"].Case(path_parameters=path)
        ensure = schema["/commands/customers/ensure"]["POST"].Case(
            body={
                "bc_company_id": "c0mpany-1",
                "bc_customer_id": "cust-1",
                "bc_customer_number": "C10000",
                "name": "Adatum Corporation",
                "email": "ap@adatum.example",
            }
        )

        statuses = [pushed.status_code]
        for case in (again, read, void, ensure):
            statuses.append(case.call_and_validate(headers=credentials()).status_code)

        assert statuses == [201, 200, 200, 200, 201]
