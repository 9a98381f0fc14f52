"""Running the emulator: `python -m stripe_emulator` and the `EmulatorServer` helper."""

from __future__ import annotations

import socket
import subprocess
import sys

import requests
import stripe

from stripe_emulator.__main__ import _parser
from stripe_emulator.__main__ import config_from_args
from stripe_emulator.server import EmulatorServer


def test_cli_prints_the_bound_url_and_serves_the_sdk() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--port", "0", "--api-key", "sk_test_cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("stripe_emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        client = stripe.StripeClient(
            "sk_test_cli", base_addresses={"api": url}, max_network_retries=0
        )
        customer = client.v1.customers.create(params={"email": "cli@example.com"})
        assert isinstance(customer, stripe.Customer)
        missing = requests.get(
            f"{url}/nowhere", headers={"Authorization": "Bearer sk_test_cli"}, timeout=5
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "invalid_request_error"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_cli_options_map_to_settings() -> None:
    args = _parser().parse_args(
        ["--port", "0", "--rate-limit", "0", "--fee-percent", "1.4", "--fee-fixed", "25",
         "--retry-delays", "1,2.5", "--shuffle", "--search-delay", "0"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config["rate_limit"] == 0
    assert config["fees"] == {"default": {"percent": "1.4", "fixed": 25}}
    assert config["retry_delays"] == [1.0, 2.5]
    assert (config["shuffle"], config["search_index_delay"]) == (True, 0)


def test_emulator_server_starts_on_a_free_port_and_stops_cleanly() -> None:
    with EmulatorServer({"rate_limit": 0}) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        response = requests.get(
            f"{server.base_url}/v1/balance",
            headers={"Authorization": "Bearer sk_test_serverhelper"},
            timeout=5,
        )
        assert response.json()["object"] == "balance"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
