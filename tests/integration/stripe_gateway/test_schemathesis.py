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
from collections.abc import Mapping
from typing import Any

import pytest
import schemathesis
from factories import SERVICE_SECRETS
from factories import service_token
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.core import NotSet
from schemathesis.schemas import APIOperation

from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.api.openapi import document

pytestmark = pytest.mark.rabbitmq

Case = schemathesis.Case[APIOperation[Any, Any, Any, Any]]

AUDIENCE = "stripe-gateway"
WEBHOOK_SECRET = SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"]
WEBHOOK = "/webhooks/stripe"
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json")
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def schemathesis_config(document: Mapping[str, Any], *, anonymous: bool) -> schemathesis.Config:
    """Bounded, reproducible generation; per operation, the refusals its description declares.

    The tests send the credentials themselves (or none), so Schemathesis generates neither the
    Authorization nor the Stripe-Signature header. Without credentials every unrouted request
    is 401 by design (the guard never tells an anonymous caller which routes exist), so the
    check that expects 405 for an undeclared method is off in that run.
    """
    declared = [
        {
            "include-operation-id": op["operationId"],
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*POSITIVE_STATUSES, *op["x-also-refused"]]
                }
            },
        }
        for item in document["paths"].values()
        for op in item.values()
        if op.get("x-also-refused")
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": 34,
            "generation": {
                "mode": "all",
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"unsupported_method": {"enabled": not anonymous}},
            "operations": declared,
        }
    )


class CurrentApp:
    """The WSGI app of the running test.

    Schemathesis builds its tests when this module is imported, from the description alone;
    each test builds its own gateway from fixtures. Generated requests (and the ones its checks
    send again) go through this to the gateway of the test that is running.
    """

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "no app for this test"
        return self.app(environ, start_response)


CURRENT = CurrentApp()
schema = schemathesis.openapi.from_dict(
    dict(document()), config=schemathesis_config(document(), anonymous=False)
)
anonymous_schema = schemathesis.openapi.from_dict(
    dict(document()), config=schemathesis_config(document(), anonymous=True)
)
schema.app = anonymous_schema.app = CURRENT


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
    if case.method.upper() != case.operation.method.upper():
        return  # an undeclared method (Flask answers OPTIONS itself); checked by Schemathesis
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
