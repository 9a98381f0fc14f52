"""Tests for mlconnector.serving: the gunicorn settings every HTTP service starts with."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlconnector.config import ConfigError
from mlconnector.serving import ClientLimits
from mlconnector.serving import gunicorn_config


@pytest.fixture(autouse=True)
def _no_mlc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("MLC_") or n == "PORT"]:
        monkeypatch.delenv(name)


ROOT = Path(__file__).resolve().parents[3]


class TestBind:
    def test_one_listener_on_loopback_by_default(self) -> None:
        # Issue 10: services bound to every interface by default; only the images open them.
        assert gunicorn_config("svc", default_port=8081)["bind"] == ["127.0.0.1:8081"]

    def test_the_images_listen_on_every_interface(self) -> None:
        for service in ("bc-gateway", "stripe-gateway", "reconciler"):
            dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
            assert "MLC_BIND_HOST=0.0.0.0" in dockerfile, service

    def test_a_command_port_adds_a_second_listener_on_the_same_host(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MLC_BIND_HOST", "127.0.0.1")
        monkeypatch.setenv("MLC_PORT", "9000")
        monkeypatch.setenv("MLC_COMMAND_PORT", "9001")
        assert gunicorn_config("svc", default_port=8081)["bind"] == [
            "127.0.0.1:9000",
            "127.0.0.1:9001",
        ]

    @pytest.mark.parametrize("value", ["0", "70000", "http", "8081"])
    def test_a_bad_command_port_stops_the_start(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("MLC_COMMAND_PORT", value)  # 8081: the main port again
        with pytest.raises(ConfigError, match="MLC_COMMAND_PORT"):
            gunicorn_config("svc", default_port=8081)


class TestWorker:
    def test_the_edge_worker_is_the_default(self) -> None:
        config = gunicorn_config("svc", default_port=8081)
        assert config["worker_class"] == "mlconnector.http_worker.EdgeWorker"
        assert config["limit_request_fields"] == 50

    def test_stock_gthread_can_be_chosen(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MLC_WEB_WORKER_CLASS", "gthread")
        assert gunicorn_config("svc", default_port=8081)["worker_class"] == "gthread"

    def test_an_unknown_worker_class_stops_the_start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MLC_WEB_WORKER_CLASS", "gevent")
        with pytest.raises(ConfigError, match="MLC_WEB_WORKER_CLASS"):
            gunicorn_config("svc", default_port=8081)

    def test_the_worker_class_can_be_imported(self) -> None:
        from mlconnector.http_worker import EdgeWorker

        assert EdgeWorker.__name__ == "EdgeWorker"


class TestClientLimits:
    def test_defaults(self) -> None:
        assert ClientLimits.from_env({}) == ClientLimits(read_timeout_s=5.0, buffer_bytes=1048576)

    def test_set_by_environment(self) -> None:
        limits = ClientLimits.from_env(
            {"MLC_CLIENT_READ_TIMEOUT": "2.5", "MLC_CLIENT_BUFFER_BYTES": "65536"}
        )
        assert limits == ClientLimits(read_timeout_s=2.5, buffer_bytes=65536)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("MLC_CLIENT_READ_TIMEOUT", "0"),
            ("MLC_CLIENT_READ_TIMEOUT", "soon"),
            ("MLC_CLIENT_BUFFER_BYTES", "100"),
        ],
    )
    def test_out_of_range_values_are_refused_at_start(self, name: str, value: str) -> None:
        with pytest.raises(ConfigError, match=name):
            ClientLimits.from_env({name: value})
