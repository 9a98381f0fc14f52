"""When the bytes received on a connection hold one whole HTTP/1.1 request.

The serving worker (``mlconnector.http_worker``) reads requests in its event loop, without a
thread, and hands a connection to a request thread only once ``Framer`` says the request is
complete: the head up to its empty line, then the body by ``Content-Length`` or, for a chunked
body, up to the last chunk and its trailers. A client that stalls halfway costs a buffer, not a
thread.

The framer does not validate HTTP; gunicorn's parser does that in the request thread. It only has
to be right about *when to stop waiting*, so every doubt resolves to "complete" and the parser
gets the bytes and refuses them itself: a head larger than the parser would ever buffer, a bare
LF, a line without a colon, an unreadable or repeated ``Content-Length``, a transfer coding other
than chunked, an ``Expect`` other than ``100-continue``, a chunk-size line that is not hex. A body
declared larger than ``Limits.max_body`` is also handed over at once, unread: the application
refuses it with 413 from the header alone, and a request thread that reads it anyway is bounded
by the read budget of ``mlconnector.client_socket``.
"""

from __future__ import annotations

import dataclasses
import enum
import re

_BARE_LF = re.compile(rb"(?<!\r)\n")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(rb"[0-9]{1,19}")
_MAX_CHUNK_LINE = 4096


@dataclasses.dataclass(frozen=True)
class Limits:
    """``max_head``: head bytes past which the parser refuses on its own; ``max_body``: the
    largest body buffered before a thread takes over."""

    max_head: int
    max_body: int


class _State(enum.Enum):
    HEAD = "head"
    LENGTH = "length"
    CHUNKS = "chunks"
    TRAILERS = "trailers"
    DONE = "done"


class Framer:
    """Accumulates one connection's bytes until they hold one whole request (or bytes the
    parser will refuse). Pipelined bytes after the request stay in the buffer."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._state = _State.HEAD
        self._scan = 0  # where the search for the end of the head resumes
        self._pos = 0  # chunked: the start of the next chunk-size line (or of the trailers)
        self._body_end = 0
        self._chunked_size = 0
        self._expect_continue = False
        self.request_line = b""

    @property
    def complete(self) -> bool:
        """The buffer holds a whole request: hand it to a request thread."""
        return self._state is _State.DONE

    @property
    def received(self) -> int:
        """Bytes buffered so far."""
        return len(self._buffer)

    @property
    def expects_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and waits for it before sending the body."""
        return self._expect_continue and not self.complete

    def feed(self, data: bytes) -> bool:
        """Add received bytes; True once the request is complete."""
        self._buffer += data
        if self._state is _State.HEAD:
            self._read_head()
        if self._state is _State.LENGTH and len(self._buffer) >= self._body_end:
            self._state = _State.DONE
        if self._state in (_State.CHUNKS, _State.TRAILERS):
            self._read_chunks()
        return self.complete

    def take(self) -> bytes:
        """Everything buffered (the request and any pipelined bytes after it)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def describe(self) -> str:
        """``METHOD /path`` of the request line, without the query string; "" if unknown."""
        method, _, rest = self.request_line.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0]
        if not method or not target:
            return ""
        return f"{method.decode('latin-1')} {target.decode('latin-1')}"

    def _read_head(self) -> None:
        buf = self._buffer
        # RFC 9112 section 2.2: one empty line before the request line is tolerated.
        start = 2 if buf[:2] == b"\r\n" else 0
        end = buf.find(b"\r\n\r\n", max(start, self._scan - 3))
        if _BARE_LF.search(buf, max(0, self._scan - 1), end if end >= 0 else len(buf)):
            self._state = _State.DONE  # the parser refuses a bare LF in the head at once
            return
        if end < 0:
            self._scan = len(buf)
            if len(buf) > self._limits.max_head:
                self._state = _State.DONE
            return
        lines = bytes(buf[start:end]).split(b"\r\n")
        self.request_line = lines[0]
        self._frame_body(lines, end + 4)

    def _frame_body(self, lines: list[bytes], body_start: int) -> None:
        lengths: set[bytes] = set()
        codings: list[bytes] = []
        expect: list[bytes] = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                self._state = _State.DONE
                return
            field = name.strip().lower()
            if field == b"content-length":
                lengths.add(value.strip())
            elif field == b"transfer-encoding":
                codings.extend(c.strip().lower() for c in value.split(b","))
            elif field == b"expect":
                expect.append(value.strip().lower())
        if expect and (expect != [b"100-continue"] or not self.request_line.endswith(b"/1.1")):
            self._state = _State.DONE  # gunicorn answers 417, or ignores it on HTTP/1.0
            return
        self._expect_continue = bool(expect)
        if codings:
            if lengths or codings[-1] != b"chunked":
                self._state = _State.DONE
                return
            self._state = _State.CHUNKS
            self._pos = body_start
            return
        if not lengths:
            self._state = _State.DONE  # no body
            return
        (length,) = lengths if len(lengths) == 1 else (b"",)
        if not _DIGITS.fullmatch(length) or int(length) > self._limits.max_body:
            self._state = _State.DONE
            return
        self._state = _State.LENGTH
        self._body_end = body_start + int(length)

    def _read_chunks(self) -> None:
        buf = self._buffer
        while self._state is _State.CHUNKS:
            line_end = buf.find(b"\r\n", self._pos)
            if line_end < 0:
                if len(buf) - self._pos > _MAX_CHUNK_LINE:
                    self._state = _State.DONE
                return
            size_field = bytes(buf[self._pos : line_end]).partition(b";")[0].strip()
            if not _HEX.fullmatch(size_field):
                self._state = _State.DONE
                return
            size = int(size_field, 16)
            if size == 0:
                self._pos = line_end + 2
                self._state = _State.TRAILERS
                break
            if self._chunked_size + size > self._limits.max_body:
                self._state = _State.DONE
                return
            chunk_end = line_end + 2 + size + 2
            if len(buf) < chunk_end:
                return  # the size line is read again when more bytes arrive
            self._chunked_size += size
            self._pos = chunk_end
        if self._state is _State.TRAILERS and (
            buf[self._pos : self._pos + 2] == b"\r\n"  # no trailers
            or buf.find(b"\r\n\r\n", self._pos) >= 0
            or len(buf) - self._pos > self._limits.max_head
        ):
            self._state = _State.DONE
