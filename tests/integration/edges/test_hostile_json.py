"""Hostile JSON is a 400 naming the reason on every kind of endpoint, never a 500.

100,000 nested ``[`` make the standard parser raise ``RecursionError``, which no
``except ValueError`` catches. Each kind of endpoint that parses a request body is hit with it
(and with a document deep enough to refuse but shallow enough to parse) on the real services
under gunicorn: BC's webhook (no credential), bc-gateway's and stripe-gateway's command APIs
(service token), the signed Stripe webhook, and the reconciler's replay (bearer token). Each
answer is a 400 with a reason, each refusal one WARNING with its correlation id, and no service
logs an ERROR.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from factories import random_ref
from factories import service_token

pytestmark = pytest.mark.rabbitmq

BOMB = b"[" * 100_000
DEEP = b'{"a":' * 70 + b"1" + b"}" * 70  # parses, but 70 levels is more than 64


@pytest.fixture(scope="module")
def services(start_service: Any) -> dict[str, Any]:
    return {
        "bc-gateway": start_service("bc-gateway"),
        "stripe-gateway": start_service("stripe-gateway"),
        # The replay body limit is 64 KiB by default; raised so the bomb reaches the parser.
        "reconciler": start_service("reconciler", MLC_RECONCILER_MAX_BODY_BYTES="262144"),
    }


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def request_for(endpoint: str, body: bytes, kit: Any) -> tuple[str, str, dict[str, str]]:
    """(service, path, headers) of a request to ``endpoint`` carrying ``body``."""
    json_type = {"Content-Type": "application/json"}
    if endpoint == "bc webhook":
        return "bc-gateway", "/webhooks/bc", json_type
    if endpoint == "bc-gateway command":
        token = service_token("bc-gateway")
        return "bc-gateway", "/commands/payments", {**json_type, "Authorization": f"Bearer {token}"}
    if endpoint == "stripe-gateway command":
        token = service_token("stripe-gateway")
        headers = {**json_type, "Authorization": f"Bearer {token}"}
        return "stripe-gateway", "/commands/customers/ensure", headers
    if endpoint == "stripe webhook":
        return "stripe-gateway", "/webhooks/stripe", kit.signed_delivery(body)
    assert endpoint == "reconciler replay"
    headers = {**json_type, "Authorization": f"Bearer {kit.REPLAY_TOKEN}"}
    return "reconciler", "/records/1/replay", headers


ENDPOINTS = [
    "bc webhook",
    "bc-gateway command",
    "stripe-gateway command",
    "stripe webhook",
    "reconciler replay",
]


@pytest.mark.parametrize("shape", ["bomb", "deep"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_nested_json_is_a_400_with_the_reason_and_one_warning(
    services: dict[str, Any], kit: Any, endpoint: str, shape: str
) -> None:
    body = BOMB if shape == "bomb" else DEEP
    service, path, headers = request_for(endpoint, body, kit)
    cid = random_ref("hostile")

    status, answer = post(services[service].port, path, body, {**headers, "X-Correlation-Id": cid})

    assert status == 400, answer
    assert "nested deeper than 64 levels" in answer["error"]["message"]
    lines = services[service].wait_for_line(cid)
    assert [line["level"] for line in lines] == ["WARNING"], lines
    assert "400" in lines[0]["message"]
    assert "nested deeper than 64 levels" in lines[0]["message"]


def test_no_service_logged_an_error_or_a_traceback(services: dict[str, Any], kit: Any) -> None:
    for endpoint in ENDPOINTS:
        service, path, headers = request_for(endpoint, BOMB, kit)
        assert post(services[service].port, path, BOMB, headers)[0] == 400
    for served in services.values():
        errors = [line for line in served.log_lines() if line.get("level") in ("ERROR", "RAW")]
        assert errors == []
        assert "Traceback" not in served.process.log_path.read_text()
