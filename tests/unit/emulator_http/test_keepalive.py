"""The emulators' keep-alive request handler, on a real loopback socket (plain and TLS)."""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask import request
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from bc_emulator.server import make_ssl_context
from emulator_http.keepalive import KeepAliveRequestHandler


def _app() -> Flask:
    app = Flask(__name__)

    @app.post("/ignore-body")
    def ignore_body() -> dict[str, object]:
        return {"port": request.environ["REMOTE_PORT"]}  # the body is never read

    @app.post("/echo")
    def echo() -> dict[str, object]:
        return {"port": request.environ["REMOTE_PORT"], "body": request.get_data(as_text=True)}

    @app.get("/port")
    def port() -> dict[str, object]:
        return {"port": request.environ["REMOTE_PORT"]}

    return app


class Served:
    def __init__(self, server: BaseWSGIServer, context: ssl.SSLContext | None) -> None:
        self.server = server
        self.context = context

    def connect(self) -> http.client.HTTPConnection:
        host, port = "127.0.0.1", self.server.server_port
        if self.context is None:
            return http.client.HTTPConnection(host, port, timeout=5)
        return http.client.HTTPSConnection(host, port, timeout=5, context=self.context)


@pytest.fixture(params=["http", "https"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    server_context = client_context = None
    if request.param == "https":
        ca_file = tmp_path / "ca.pem"
        server_context = make_ssl_context(ca_file)
        client_context = ssl.create_default_context(cafile=str(ca_file))
    server = make_server(
        "127.0.0.1",
        0,
        _app(),
        threaded=True,
        ssl_context=server_context,
        request_handler=KeepAliveRequestHandler,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield Served(server, client_context)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[http.client.HTTPResponse, dict[str, object]]:
    conn.request(method, path, body=body, headers={"Content-Type": "text/plain"})
    response = conn.getresponse()
    return response, json.loads(response.read())


class TestKeepAlive:
    def test_several_requests_share_one_connection(self, served: Served) -> None:
        conn = served.connect()
        ports = []
        for _ in range(3):
            response, body = _call(conn, "GET", "/port")
            assert response.status == 200
            assert response.getheader("Connection") is None
            assert not response.will_close
            ports.append(body["port"])
        conn.close()
        assert len(set(ports)) == 1

    def test_an_unread_body_does_not_spill_into_the_next_request(self, served: Served) -> None:
        conn = served.connect()
        first, _ = _call(conn, "POST", "/ignore-body", b"x" * 70_000)
        second, echoed = _call(conn, "POST", "/echo", b"hello")
        conn.close()
        assert (first.status, second.status) == (200, 200)
        assert echoed["body"] == "hello"

    def test_a_client_asking_to_close_gets_the_connection_closed(self, served: Served) -> None:
        conn = served.connect()
        conn.request("GET", "/port", headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.getheader("Connection") == "close"
        assert response.will_close

    def test_an_http_1_0_client_gets_the_connection_closed(self, served: Served) -> None:
        conn = served.connect()
        conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"  # type: ignore[attr-defined]
        conn.request("GET", "/port")
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.will_close


def test_an_idle_connection_is_closed_quietly_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class ShortIdle(KeepAliveRequestHandler):
        timeout = 0.2

    server = make_server("127.0.0.1", 0, _app(), threaded=True, request_handler=ShortIdle)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        with caplog.at_level(logging.DEBUG, logger="werkzeug"):
            response, _ = _call(conn, "GET", "/port")
            assert response.status == 200
            time.sleep(0.5)  # the server gives up on the idle connection
            conn.request("GET", "/port")
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                conn.getresponse()
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert [r.getMessage() for r in caplog.records if "timed out" in r.getMessage()] == []
