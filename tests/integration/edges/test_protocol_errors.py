"""Requests gunicorn refuses before the application sees them still get the JSON error shape.

Raw sockets against a real stripe-gateway: oversized headers (431), an over-long request line
(414), a NUL or an invalid character in a header (400), an unsupported ``Expect`` (417) and a
malformed chunked body (400). Each answer is ``application/json`` with
``{"error": {"code", "message"}}`` and an ``X-Correlation-Id``, and each refusal is one WARNING
line carrying that id, never the offending header's value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.rabbitmq

SECRETISH = "sk_live_ThisMustNeverBeLogged0000"

CASES = {
    "oversized header": (
        b"GET /healthz HTTP/1.1\r\nHost: g\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        431,
        "request_header_fields_too_large",
    ),
    "too many headers": (
        b"GET /healthz HTTP/1.1\r\nHost: g\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(60))
        + b"\r\n",
        431,
        "request_header_fields_too_large",
    ),
    "over-long request line": (
        b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: g\r\n\r\n",
        414,
        "request_uri_too_long",
    ),
    "NUL in a header value": (
        b"GET /healthz HTTP/1.1\r\nHost: g\r\nX-Bad: " + SECRETISH.encode() + b"\x00x\r\n\r\n",
        400,
        "bad_request",
    ),
    "invalid header name": (
        b"GET /healthz HTTP/1.1\r\nHost: g\r\nX Bad" + b": v\r\n\r\n",
        400,
        "bad_request",
    ),
    "unsupported Expect": (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: g\r\nExpect: teapot\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        417,
        "expectation_failed",
    ),
    "malformed chunk size": (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
        400,
        "bad_request",
    ),
}


@pytest.fixture(scope="module")
def gateway(start_service: Any) -> Any:
    return start_service("stripe-gateway")


@pytest.mark.parametrize("case", list(CASES))
def test_a_refusal_by_gunicorn_is_a_json_error_with_a_correlation_id(
    gateway: Any, kit: Any, case: str
) -> None:
    request, expected_status, expected_code = CASES[case]

    status, headers, body = kit.parse_response(kit.exchange(gateway.port, request))

    assert status == expected_status
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == expected_code
    assert isinstance(error["message"], str)
    assert error["message"]
    cid = headers["x-correlation-id"]
    assert 0 < len(cid) <= 64
    (line,) = gateway.wait_for_line(cid)
    assert line["level"] == "WARNING"
    assert str(expected_status) in line["message"]


def test_no_refused_header_value_reaches_the_log(gateway: Any, kit: Any) -> None:
    for request, _status, _code in CASES.values():
        kit.exchange(gateway.port, request)
    log = gateway.process.log_path.read_text()
    assert SECRETISH not in log
    assert "a" * 100 not in log  # neither the big header nor the long request line
    assert "Traceback" not in log
