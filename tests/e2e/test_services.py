"""The three services as they run in production: console scripts, gunicorn, real broker.

Each test starts the real processes (``bc-gateway serve`` and friends) on free loopback ports
with the secrets in an encrypted file, and talks to them over HTTP.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import bin_path
from factories import free_port
from factories import wait_until

from mlc_local.processes import get_json

pytestmark = pytest.mark.rabbitmq

HTTP_SERVICES = {
    "bc-gateway": ["bc-gateway", "serve"],
    "stripe-gateway": ["stripe-gateway", "serve"],
    "reconciler": ["reconciler", "serve"],
}


def _get(url: str) -> tuple[int, Any]:
    return get_json(url, timeout=10)


class Service:
    """One service process with its log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}-{self.port}.log"
        env = dict(env, MLC_PORT=str(self.port), MLC_BIND_HOST="127.0.0.1", MLC_WEB_WORKERS="1")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [bin_path(argv[0]), *argv[1:]], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return _get(self.url + "/readyz")[0] == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    started: list[Service] = []

    def _start(name: str, env: dict[str, str], argv: list[str] | None = None) -> Service:
        service = Service(name, argv or HTTP_SERVICES[name], env, tmp_path)
        started.append(service)
        return service

    yield _start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(10)


class TestHealth:
    @pytest.mark.parametrize("name", sorted(HTTP_SERVICES))
    def test_service_is_alive_and_ready_with_each_dependency_reported(
        self, name: str, service_env: dict[str, str], start: object
    ) -> None:
        service = start(name, service_env)  # type: ignore[operator]
        assert wait_until(service.ready, timeout_s=30), service.log()

        status, body = _get(service.url + "/healthz")
        assert (status, body) == (200, {"status": "ok"})
        status, body = _get(service.url + "/readyz")
        assert status == 200
        expected = {"rabbitmq", "secrets"} | ({"database"} if name == "reconciler" else set())
        assert set(body["checks"]) == expected  # type: ignore[arg-type]
        assert service.stop() == 0

    def test_broker_down_makes_a_gateway_unready_but_alive(
        self, service_env: dict[str, str], start: object
    ) -> None:
        env = dict(service_env, MLC_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
        service = start("stripe-gateway", env)  # type: ignore[operator]
        assert wait_until(lambda: _probe(service.url + "/healthz") == 200, timeout_s=30)

        status, body = _get(service.url + "/readyz")
        assert status == 503
        checks = body["checks"]
        assert checks["rabbitmq"]["ok"] is False  # type: ignore[index]
        assert checks["secrets"] == {"ok": True}  # type: ignore[index]
        assert "guest:guest" not in json.dumps(body)

    def test_bad_configuration_stops_start_up_with_every_problem_listed(
        self, service_env: dict[str, str], start: object
    ) -> None:
        env = dict(
            service_env, MLC_LOG_LEVEL="LOUD", MLC_AMQP_URL="http://not-amqp", MLC_PREFETCH="x"
        )
        service = start("reconciler", env, ["reconciler", "consume"])  # type: ignore[operator]
        assert service.process.wait(timeout=30) == 2
        log = service.log()
        assert "MLC_LOG_LEVEL" in log
        assert "MLC_AMQP_URL" in log
        assert "MLC_PREFETCH" in log

    def test_missing_secrets_stop_start_up_naming_the_path_and_keys(
        self, service_env: dict[str, str], start: object
    ) -> None:
        env = dict(service_env, MLC_BC_SECRETS_PATH="ml-connector/nowhere")
        service = start("bc-gateway", env)  # type: ignore[operator]
        assert service.process.wait(timeout=30) == 2
        assert "ml-connector/nowhere" in service.log()


def _probe(url: str) -> int:
    try:
        return _get(url)[0]
    except (urllib.error.URLError, OSError):
        return 0


OWN_SECRETS = {
    "bc-gateway": "ml-connector/bc",
    "stripe-gateway": "ml-connector/stripe",
    "reconciler": "ml-connector/reconciler",
    "consumer": "ml-connector/reconciler",
}
# Secrets every service masks by their shape, even ones it never loaded itself.
PATTERN_SECRETS = [
    SERVICE_SECRETS["ml-connector/stripe"]["api_key"],
    SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"],
    "rk_live_51RestrictedKeyExample",
    "hvs.CAESIFakeVaultServiceToken0123",
]


def test_debug_logs_of_every_service_contain_no_secret(
    service_env: dict[str, str], start: object
) -> None:
    env = dict(service_env, MLC_LOG_LEVEL="DEBUG")
    services = [start(name, env) for name in sorted(HTTP_SERVICES)]  # type: ignore[operator]
    consumer = start("consumer", env, ["reconciler", "consume"])  # type: ignore[operator]

    def secrets_of(name: str) -> list[str]:
        own = list(SERVICE_SECRETS[OWN_SECRETS[name]].values())
        return [*own, *PATTERN_SECRETS, service_env["MLC_MASTER_KEY"]]

    for service in services:
        assert wait_until(service.ready, timeout_s=30), service.log()
        # Secrets where a careless log line would print them: the request line (access log),
        # the user agent, the referer, and a header that a debug dump would show.
        for value in secrets_of(service.name):
            _probe(f"{service.url}/healthz?leak={value}")
            request = urllib.request.Request(
                f"{service.url}/no-such-page",
                headers={
                    "User-Agent": value,
                    "Referer": f"https://user:{value}@example.invalid/",
                    "Authorization": f"Bearer {value}",
                },
            )
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=10)
            info.value.close()
            # Every service checks its credential before routing: 401 unless the probe value is
            # the service's own credential (the reconciler's replay token), then 404.
            assert info.value.code in (401, 404)
    for service in [*services, consumer]:
        assert service.stop() == 0

    for service in [*services, consumer]:
        log = service.log()
        assert log.strip(), f"{service.name} wrote no log at all"
        for value in secrets_of(service.name):
            assert value not in log, f"{service.name} logged a secret"
        if service is not consumer:
            # The requests did reach the log, masked: the check above is not vacuous.
            assert "leak=[REDACTED]" in log, f"{service.name} did not log the probes"
