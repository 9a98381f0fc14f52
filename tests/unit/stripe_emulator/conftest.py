"""Fixtures for the Stripe emulator contract tests.

One emulator per test session runs on a real socket (`EmulatorServer`, werkzeug in a thread)
and is reset before every test; the unmodified stripe SDK talks to it over HTTP. A small
webhook receiver (another real server on 127.0.0.1) records raw bodies and headers and
answers with a scripted list of status codes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
import stripe
from werkzeug.serving import make_server

from stripe_emulator.server import EmulatorServer
from stripe_emulator.server import QuietRequestHandler

TEST_KEY = "sk_test_emulator_contract"

Shape = dict[str, tuple[type, ...]]


def check_shape(obj: object, cls: type, spec: Shape) -> dict[str, Any]:
    """Assert `obj` is the SDK's typed class and every documented field has its JSON type."""
    assert isinstance(obj, cls), f"expected {cls.__name__}, got {type(obj).__name__}"
    assert isinstance(obj, stripe.StripeObject)
    data = obj.to_dict()
    missing = sorted(k for k in spec if k not in data)
    assert not missing, f"{cls.__name__} lacks documented fields {missing}"
    wrong = {
        key: type(data[key]).__name__
        for key, types in spec.items()
        if not isinstance(data[key], types) or (type(data[key]) is bool and bool not in types)
    }
    assert not wrong, f"{cls.__name__} fields with unexpected types: {wrong}"
    return data


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emu(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session emulator with a fresh world and default settings."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def assert_shape() -> Callable[[object, type, Shape], dict[str, Any]]:
    """The field/type contract check (a fixture, since test modules cannot import conftest)."""
    return check_shape


@pytest.fixture
def client(emu: EmulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        TEST_KEY, base_addresses={"api": emu.base_url}, max_network_retries=0
    )


@pytest.fixture
def make_client(emu: EmulatorServer) -> Callable[..., stripe.StripeClient]:
    def build(key: str = TEST_KEY, retries: int = 0) -> stripe.StripeClient:
        return stripe.StripeClient(
            key, base_addresses={"api": emu.base_url}, max_network_retries=retries
        )

    return build


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records webhook posts; answers with `statuses` in order (then 200), after `delays`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        with self.cond:
            self.received.append(Received(headers, body, time.monotonic()))
            status = self.statuses.pop(0) if self.statuses else 200
            delay = self.delays.pop(0) if self.delays else 0.0
            self.cond.notify_all()
        time.sleep(delay)
        start_response(f"{status} Scripted", [("Content-Type", "text/plain")])
        return [b"ok"]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"expected {count} webhook posts, got {len(self.received)}")
                self.cond.wait(remaining)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    server = make_server("127.0.0.1", 0, recv, threaded=True, request_handler=QuietRequestHandler)
    recv.url = f"http://127.0.0.1:{server.server_port}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
