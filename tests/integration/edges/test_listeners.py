"""``MLC_COMMAND_PORT``: gunicorn listens on the main port and on the command port."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from mlc_local.processes import free_port

pytestmark = pytest.mark.rabbitmq


def status_of(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_both_listeners_serve_through_the_edge_worker(start_service: Any, kit: Any) -> None:
    command_port = free_port()
    gateway = start_service("stripe-gateway", MLC_COMMAND_PORT=str(command_port))

    assert status_of(gateway.port, "GET", "/healthz") == 200
    assert status_of(command_port, "GET", "/healthz") == 200
    body = kit.stripe_event()
    assert (
        status_of(gateway.port, "POST", "/webhooks/stripe", body, **kit.signed_delivery(body))
        == 200
    )
    # gunicorn's own refusals are JSON on either listener.
    raw = kit.exchange(command_port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n")
    status, headers, _body = kit.parse_response(raw)
    assert (status, headers["content-type"]) == (414, "application/json")
