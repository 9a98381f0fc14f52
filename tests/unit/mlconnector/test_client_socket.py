"""Tests for mlconnector.client_socket, over real connected socket pairs.

Budgets are short and the bounds generous: a test asserts that a read *gives up* (and, loosely,
that it did not give up absurdly early or late), never a precise duration.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mlconnector.client_socket import ClientSocket
from mlconnector.client_socket import ClientTooSlow


@pytest.fixture
def pair() -> Iterator[tuple[ClientSocket, socket.socket]]:
    """(server side as a ClientSocket, client side)."""
    server, client = socket.socketpair()
    adopted = ClientSocket.adopt(server)
    yield adopted, client
    adopted.close()
    client.close()


class TestAdopt:
    def test_adopting_keeps_the_connection_and_its_blocking_mode(self) -> None:
        server, client = socket.socketpair()
        server.setblocking(False)
        adopted = ClientSocket.adopt(server)
        try:
            assert server.fileno() == -1  # detached, not closed: the descriptor moved
            assert adopted.gettimeout() == 0.0
            client.sendall(b"hi")
            time.sleep(0.05)
            assert adopted.recv(10) == b"hi"
        finally:
            adopted.close()
            client.close()


class TestUnarmed:
    def test_without_a_request_it_is_an_ordinary_socket(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        server.setblocking(True)
        assert server.gettimeout() is None
        client.sendall(b"abc")
        assert server.recv(10) == b"abc"


class TestBudget:
    def test_a_silent_client_exhausts_the_budget(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, _client = pair
        server.start_request(0.3)
        server.setblocking(True)
        started = time.monotonic()
        with pytest.raises(ClientTooSlow, match="did not arrive within 0.3 s"):
            server.recv(10)
        assert 0.2 < time.monotonic() - started < 5

    def test_the_budget_is_a_total_so_trickling_does_not_extend_it(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        stop = threading.Event()

        def trickle() -> None:
            while not stop.is_set():
                client.send(b"x")
                stop.wait(0.1)

        sender = threading.Thread(target=trickle)
        sender.start()
        server.start_request(0.5)
        server.setblocking(True)
        received = 0
        gave_up = False
        try:
            for _ in range(200):  # 20 s of trickle if each read restarted the clock
                try:
                    received += len(server.recv(1))
                except ClientTooSlow:
                    gave_up = True
                    break
        finally:
            stop.set()
            sender.join()
        assert gave_up
        assert 0 < received < 50

    def test_a_prompt_client_is_read_whole_and_a_timeout_bounds_writes(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        server.start_request(2.0)
        server.setblocking(True)
        assert server.gettimeout() == 2.0  # blocking means "bounded" while armed
        client.sendall(b"x" * 100)
        assert len(server.recv(1000)) == 100

    def test_a_shorter_timeout_of_the_caller_stays_a_plain_timeout(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, _client = pair
        server.start_request(30.0)
        server.settimeout(0.2)  # gunicorn's own drain deadline, say
        with pytest.raises(TimeoutError) as raised:
            server.recv(10)
        assert not isinstance(raised.value, ClientTooSlow)
        assert server.gettimeout() == 0.2  # the caller's timeout is left as it was

    def test_ending_the_request_disarms_the_budget(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        server.start_request(0.1)
        server.end_request()
        server.setblocking(True)
        assert server.gettimeout() is None
        client.sendall(b"late")
        assert server.recv(10) == b"late"

    def test_non_blocking_reads_are_not_charged(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        server.start_request(0.2)
        server.setblocking(False)
        for _ in range(5):
            with pytest.raises(BlockingIOError):
                server.recv(10)
        client.sendall(b"ok")
        time.sleep(0.05)
        assert server.recv(10) == b"ok"


class TestStopWaiting:
    def test_after_stop_waiting_reads_take_what_is_there_and_never_wait(
        self, pair: tuple[ClientSocket, socket.socket]
    ) -> None:
        server, client = pair
        client.sendall(b"left over")
        time.sleep(0.05)
        server.stop_waiting()
        server.settimeout(10)  # what gunicorn's graceful close asks for
        assert server.recv(100) == b"left over"
        started = time.monotonic()
        with pytest.raises(BlockingIOError):
            server.recv(100)
        assert time.monotonic() - started < 5
        assert server.gettimeout() == 10

    def test_a_new_request_waits_again(self, pair: tuple[ClientSocket, socket.socket]) -> None:
        server, client = pair
        server.stop_waiting()
        server.start_request(5.0)
        server.setblocking(True)
        threading.Timer(0.1, client.sendall, args=(b"next",)).start()
        assert server.recv(10) == b"next"
