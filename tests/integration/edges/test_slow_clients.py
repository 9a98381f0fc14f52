"""Slow and stalled clients must not starve the request threads of a real stripe-gateway.

The gateway runs under gunicorn with one worker of 4 threads, so ten stalled connections
outnumber its threads: with stock ``gthread`` every signed webhook then waits until a stalled
client gives up. Latency bounds are generous and relative to a baseline measured in the same
test; the server that must not be starved waits 20 s for a request to arrive, so a regression
(a stalled client holding a thread) shows as a 20 s delay, far past any bound here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.rabbitmq

STALLED = 10
HEAD = b"POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
# What a slow client sends before it stops: every way of being "not done yet".
STALLS = {
    "body": HEAD + b"Content-Length: 100000\r\n\r\n{",
    "head": HEAD + b"Content-Length: 10\r\nX-Trickle: ",
    "nothing": b"",
    "expect-continue": HEAD + b"Expect: 100-continue\r\nContent-Length: 50000\r\n\r\n",
    "chunked": HEAD + b"Transfer-Encoding: chunked\r\n\r\n400\r\n{",
}


@pytest.fixture(scope="module")
def patient(start_service: Any) -> Any:
    """A gateway that gives each request 20 s to arrive."""
    return start_service("stripe-gateway", MLC_WEB_THREADS="4", MLC_CLIENT_READ_TIMEOUT="20")


@pytest.fixture(scope="module")
def strict(start_service: Any) -> Any:
    """A gateway that gives each request 1 s, and buffers at most 16 KiB of body per request."""
    return start_service(
        "stripe-gateway",
        MLC_WEB_THREADS="4",
        MLC_CLIENT_READ_TIMEOUT="1",
        MLC_CLIENT_BUFFER_BYTES="16384",
    )


def webhook_seconds(port: int, kit: Any) -> float:
    """Time for one signed, handled event to be verified, published, confirmed and answered."""
    body = kit.stripe_event()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("POST", "/webhooks/stripe", body, kit.signed_delivery(body))
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    assert response.status == 200
    return elapsed


@contextlib.contextmanager
def stalled(port: int, prefix: bytes, count: int = STALLED) -> Iterator[list[socket.socket]]:
    """``count`` connections that send ``prefix`` and then nothing, closed afterwards."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            if prefix:
                sock.sendall(prefix)
            sockets.append(sock)
        time.sleep(0.3)  # the server has accepted and read them
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def read_all(sock: socket.socket) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


class TestStalledClientsDoNotStarveTheThreads:
    @pytest.mark.parametrize("kind", list(STALLS))
    def test_ten_stalled_connections_leave_a_signed_webhook_at_its_normal_latency(
        self, patient: Any, kit: Any, kind: str
    ) -> None:
        webhook_seconds(patient.port, kit)  # warm: imports, the publisher's connection
        baseline = max(webhook_seconds(patient.port, kit) for _ in range(3))

        with stalled(patient.port, STALLS[kind]):
            attacked = max(webhook_seconds(patient.port, kit) for _ in range(3))

        assert attacked < max(3.0, 10 * baseline), (kind, baseline, attacked)

    def test_fifty_stalled_bodies_leave_a_signed_webhook_at_its_normal_latency(
        self, patient: Any, kit: Any
    ) -> None:
        baseline = max(webhook_seconds(patient.port, kit) for _ in range(3))
        with stalled(patient.port, STALLS["body"], count=50):
            attacked = max(webhook_seconds(patient.port, kit) for _ in range(3))
        assert attacked < max(3.0, 10 * baseline), (baseline, attacked)

    def test_clients_that_never_close_after_their_answer_do_not_stall_the_worker(
        self, patient: Any, kit: Any
    ) -> None:
        # An HTTP/1.0 request is answered with "Connection: close"; stock gthread then waits up
        # to 2 s, on its event loop, for the client's FIN.
        baseline = max(webhook_seconds(patient.port, kit) for _ in range(3))
        with stalled(patient.port, b"GET /healthz HTTP/1.0\r\n\r\n", count=5):
            attacked = max(webhook_seconds(patient.port, kit) for _ in range(3))
        assert attacked < max(3.0, 10 * baseline), (baseline, attacked)


class TestTooSlowIsA408:
    def test_a_request_that_stops_arriving_gets_a_json_408_and_one_warning(
        self, strict: Any, kit: Any
    ) -> None:
        with stalled(strict.port, HEAD + b"Content-Length: 1000\r\n\r\n{", count=1) as (sock,):
            raw = read_all(sock)

        status, headers, body = kit.parse_response(raw)
        assert status == 408
        assert headers["content-type"] == "application/json"
        assert headers["connection"] == "close"
        assert json.loads(body)["error"]["code"] == "request_timeout"
        cid = headers["x-correlation-id"]
        (line,) = strict.wait_for_line(cid)
        assert line["level"] == "WARNING"
        assert "408" in line["message"]
        assert "POST /webhooks/stripe" in line["message"]

    def test_a_trickling_client_is_cut_off_however_steadily_it_sends(
        self, strict: Any, kit: Any
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", strict.port), timeout=30)
        sock.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
        started = time.monotonic()
        # One byte every 0.2 s, until the server answers (then stop, or our bytes would meet
        # a closed socket and the reset could destroy the answer before we read it).
        while time.monotonic() - started < 15 and not select.select([sock], [], [], 0.2)[0]:
            sock.sendall(b" ")
        raw = read_all(sock)
        sock.close()
        assert kit.parse_response(raw)[0] == 408
        assert time.monotonic() - started < 15

    def test_a_body_read_by_a_request_thread_is_bounded_by_the_budget_too(
        self, strict: Any, kit: Any
    ) -> None:
        # 100,000 bytes is over this server's 16 KiB buffer: a request thread reads the body,
        # through the socket's read budget, and the application answers the 408.
        request = HEAD + b"X-Correlation-Id: big-body-1\r\nContent-Length: 100000\r\n\r\n{"
        with stalled(strict.port, request, count=1) as (sock,):
            raw = read_all(sock)
        status, headers, body = kit.parse_response(raw)
        assert status == 408
        assert headers["x-correlation-id"] == "big-body-1"
        assert json.loads(body)["error"]["code"] == "request_timeout"
        lines = strict.wait_for_line("big-body-1")
        assert [line["level"] for line in lines] == ["WARNING"]
        assert not [line for line in strict.log_lines() if line.get("level") == "ERROR"]


class TestRequestsStillWork:
    def test_keep_alive_pipelining_expect_continue_and_chunked_bodies(
        self, patient: Any, kit: Any
    ) -> None:
        first, second = kit.stripe_event(), kit.stripe_event()
        connection = http.client.HTTPConnection("127.0.0.1", patient.port, timeout=30)
        for body in (first, second):  # two requests on one kept-alive connection
            connection.request("POST", "/webhooks/stripe", body, kit.signed_delivery(body))
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())["published"]) == (200, True)
        connection.close()

        def request(body: bytes, **extra: str) -> bytes:
            headers = {**kit.signed_delivery(body), "Host": "gateway", **extra}
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            return b"POST /webhooks/stripe HTTP/1.1\r\n" + lines.encode() + b"\r\n"

        pipelined = (
            request(first, **{"Content-Length": str(len(first))})
            + first
            + request(second, **{"Content-Length": str(len(second)), "Connection": "close"})
            + second
        )
        raw = kit.exchange(patient.port, pipelined)
        assert raw.count(b"HTTP/1.1 200 OK") == 2

        with socket.create_connection(("127.0.0.1", patient.port), timeout=30) as sock:
            head = request(
                first,
                **{
                    "Content-Length": str(len(first)),
                    "Expect": "100-continue",
                    "Connection": "close",
                },
            )
            sock.sendall(head)
            assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(first)
            assert b"HTTP/1.1 200 OK" in read_all(sock)

        chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (first[:50], first[50:]))
        raw = kit.exchange(
            patient.port,
            request(first, **{"Transfer-Encoding": "chunked", "Connection": "close"})
            + chunked
            + b"0\r\n\r\n",
        )
        assert raw.startswith(b"HTTP/1.1 200 OK")
