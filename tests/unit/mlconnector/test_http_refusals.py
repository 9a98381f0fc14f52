"""Tests for mlconnector.http_refusals: gunicorn's parse errors as JSON answers."""

from __future__ import annotations

import io
import json

import pytest
from gunicorn.http import errors as http_errors
from gunicorn.http.body import Body
from gunicorn.http.body import ChunkedReader
from gunicorn.http.unreader import IterUnreader

from mlconnector.client_socket import ClientTooSlow
from mlconnector.http_refusals import GuardedBody
from mlconnector.http_refusals import MalformedBody
from mlconnector.http_refusals import json_error
from mlconnector.http_refusals import refusal_for


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (http_errors.LimitRequestHeaders("limit request headers fields size"), 431),
        (http_errors.LimitRequestLine(5000, 4094), 414),
        (http_errors.InvalidHeader("X-BAD"), 400),
        (http_errors.InvalidHeaderName("X BAD"), 400),
        (http_errors.InvalidRequestLine("GET /\x00"), 400),
        (http_errors.InvalidChunkSize(b"zz"), 400),
        (http_errors.ExpectationFailed("teapot"), 417),
        (http_errors.UnsupportedTransferCoding("gzip"), 501),
        (ClientTooSlow("slow"), 408),
        # The application's own faults, and anything unknown, stay 500s.
        (http_errors.InvalidResponseHeader("X-Out"), 500),
        (RuntimeError("boom"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_each_parse_error_has_its_status(exc: BaseException, status: int) -> None:
    assert refusal_for(exc)[0] == status


def test_messages_never_quote_the_offending_bytes() -> None:
    status, message = refusal_for(http_errors.InvalidHeader("sk_live_secretvalue"))
    assert (status, message) == (400, "a request header is malformed")


def test_the_answer_is_a_complete_json_response_that_closes() -> None:
    raw = json_error(431, "the request headers are too large", "cid-1")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    assert set(lines[1:]) == {
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-Correlation-Id: cid-1",
    }
    assert json.loads(body) == {
        "error": {
            "code": "request_header_fields_too_large",
            "message": "the request headers are too large",
        }
    }


def test_a_server_fault_says_nothing_about_itself() -> None:
    body = json_error(500, "ignored detail", "cid-2").partition(b"\r\n\r\n")[2]
    assert json.loads(body)["error"] == {
        "code": "internal_error",
        "message": "internal error; see the service log",
    }


class _Request:
    """What gunicorn's ChunkedReader needs of a request: trailers go here."""

    trailers: list[tuple[str, str]] = []


def chunked_body(raw: bytes) -> Body:
    return Body(ChunkedReader(_Request(), IterUnreader([raw])))


class TestGuardedBody:
    def test_a_good_chunked_body_reads_as_usual(self) -> None:
        body = GuardedBody(chunked_body(b"2\r\n{}\r\n0\r\n\r\n"))
        assert body.read() == b"{}"

    def test_broken_framing_is_a_value_error(self) -> None:
        body = GuardedBody(chunked_body(b"zz\r\n{}\r\n0\r\n\r\n"))
        with pytest.raises(MalformedBody, match="InvalidChunkSize"):
            body.read()
        assert isinstance(MalformedBody("x"), ValueError)

    def test_lines_and_iteration_pass_through(self) -> None:
        class Plain:
            def __init__(self) -> None:
                self.stream = io.BytesIO(b"a\nb\n")

            def read(self, size: int | None = None) -> bytes:
                return self.stream.read(size)

            def readline(self, size: int | None = None) -> bytes:
                return self.stream.readline(size)

            def readlines(self, size: int | None = None) -> list[bytes]:
                return self.stream.readlines(size)

        assert list(GuardedBody(Plain())) == [b"a\n", b"b\n"]
        assert GuardedBody(Plain()).readlines() == [b"a\n", b"b\n"]
