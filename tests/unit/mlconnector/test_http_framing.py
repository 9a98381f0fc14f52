"""Tests for mlconnector.http_framing: when buffered bytes hold one whole request."""

from __future__ import annotations

import pytest

from mlconnector.http_framing import Framer
from mlconnector.http_framing import Limits

LIMITS = Limits(max_head=4096, max_body=1000)
POST = b"POST /webhooks/stripe?x=1 HTTP/1.1\r\nHost: g\r\n"


def framer() -> Framer:
    return Framer(LIMITS)


def fed_bytewise(data: bytes) -> list[bool]:
    """``complete`` after each byte, as if every byte arrived in its own packet."""
    f = framer()
    return [f.feed(data[i : i + 1]) for i in range(len(data))]


class TestContentLength:
    def test_complete_exactly_when_the_last_body_byte_arrives(self) -> None:
        request = POST + b"Content-Length: 5\r\n\r\nhello"
        states = fed_bytewise(request)
        assert states == [False] * (len(request) - 1) + [True]

    def test_a_request_without_a_body_is_complete_at_the_end_of_its_head(self) -> None:
        request = b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n"
        assert fed_bytewise(request)[-1] is True
        assert fed_bytewise(request)[-2] is False

    def test_a_body_with_newlines_and_blank_lines_is_waited_for(self) -> None:
        body = b'{\n  "id": "evt_1"\n\r\n\r\n}'
        f = framer()
        assert not f.feed(POST + b"Content-Length: %d\r\n\r\n" % len(body) + body[:-1])
        assert f.feed(body[-1:])

    def test_pipelined_bytes_stay_in_the_buffer(self) -> None:
        first = POST + b"Content-Length: 2\r\n\r\n{}"
        second = b"GET /healthz HTTP/1.1\r\n\r\n"
        f = framer()
        assert f.feed(first + second)
        assert f.take() == first + second
        assert f.received == 0

    def test_header_names_are_case_insensitive(self) -> None:
        f = framer()
        assert not f.feed(POST + b"content-LENGTH:  3 \r\n\r\nab")
        assert f.feed(b"c")

    @pytest.mark.parametrize(
        "header",
        [
            b"Content-Length: 1001\r\n",  # larger than the buffer: a thread takes it
            b"Content-Length: abc\r\n",
            b"Content-Length: -1\r\n",
            b"Content-Length: 5\r\nContent-Length: 6\r\n",
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            b"Transfer-Encoding: gzip\r\n",
            b"Expect: teapot\r\nContent-Length: 5\r\n",
            b"No colon here\r\nContent-Length: 5\r\n",
        ],
    )
    def test_anything_doubtful_is_handed_over_at_once_for_the_parser_to_judge(
        self, header: bytes
    ) -> None:
        assert framer().feed(POST + header + b"\r\n")

    def test_the_same_length_twice_is_one_length(self) -> None:
        f = framer()
        assert not f.feed(POST + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n")
        assert f.feed(b"{}")


class TestHead:
    def test_an_unfinished_head_is_waited_for(self) -> None:
        f = framer()
        assert not f.feed(POST + b"X-Slow: ")
        assert not f.feed(b"still coming")
        assert f.feed(b"\r\n\r\n")

    def test_a_head_larger_than_the_parser_ever_buffers_is_handed_over(self) -> None:
        f = framer()
        assert not f.feed(POST + b"X-Big: " + b"a" * 4000)
        assert f.feed(b"a" * 100)

    def test_a_bare_lf_in_the_head_is_handed_over_at_once(self) -> None:
        assert framer().feed(b"GET / HTTP/1.1\nHost: g")

    def test_one_empty_line_before_the_request_line_is_tolerated(self) -> None:
        f = framer()
        assert not f.feed(b"\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n")
        assert f.feed(b"x")
        assert f.describe() == "POST /"

    def test_describe_names_method_and_path_without_the_query(self) -> None:
        f = framer()
        assert f.describe() == ""
        f.feed(POST + b"Content-Length: 9\r\n\r\n")
        assert f.describe() == "POST /webhooks/stripe"


class TestExpectContinue:
    def test_the_client_waits_for_100_continue_until_its_body_is_complete(self) -> None:
        f = framer()
        assert not f.feed(POST + b"Expect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
        assert f.expects_continue
        assert f.feed(b"{}")
        assert not f.expects_continue

    def test_http_1_0_has_no_100_continue(self) -> None:
        head = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        assert framer().feed(head)  # the parser ignores it; nothing to wait for here


class TestChunked:
    HEAD = POST + b"Transfer-Encoding: chunked\r\n\r\n"

    def test_complete_after_the_last_chunk_and_the_empty_trailer(self) -> None:
        body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        states = fed_bytewise(self.HEAD + body)
        assert states[-1] is True
        assert not any(states[:-1])

    def test_trailers_are_waited_for(self) -> None:
        f = framer()
        assert not f.feed(self.HEAD + b"2\r\n{}\r\n0\r\nX-Trailer: 1\r\n")
        assert f.feed(b"\r\n")

    def test_a_chunk_data_crlf_inside_a_chunk_is_data(self) -> None:
        f = framer()
        assert not f.feed(self.HEAD + b"8\r\n0\r\n\r\n\r\n\r\n")  # 8 data bytes: "0\r\n\r\n\r\n"
        assert f.feed(b"0\r\n\r\n")

    @pytest.mark.parametrize(
        "body",
        [b"zz\r\n", b"400\r\n", b"1" * 5000],  # not hex; over the body limit; endless size line
    )
    def test_doubtful_or_oversized_chunks_are_handed_over(self, body: bytes) -> None:
        assert framer().feed(self.HEAD + body)

    def test_the_body_limit_counts_every_chunk(self) -> None:
        f = framer()
        chunk = b"1f4\r\n" + b"x" * 500 + b"\r\n"
        assert not f.feed(self.HEAD + chunk + chunk)
        assert f.feed(b"1\r\n")  # 1001 bytes announced: over the 1000-byte buffer
