"""``stripe-gateway ping`` as an operator runs it: the real console script, in its own process,
against the Stripe emulator over HTTP, configured only through ``MLC_*`` and the secrets file.

The success report is what a Connections page shows (key mode and type, the account, each
webhook endpoint with its events); a malformed key ends in a clear message and exit 3, and no
key or signing secret ever reaches the output.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import stripe
from factories import bin_path

from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_emulator.server import EmulatorServer
from stripe_gateway.adapters.stripe_client import key_problem
from stripe_gateway.adapters.stripe_client import key_type
from stripe_gateway.events import HANDLED_EVENTS

pytestmark = pytest.mark.rabbitmq

WEBHOOK_URL = "https://connector.example/webhooks/stripe"
# Every family ping reads, read-only: what a well-made restricted key for the gateway grants.
READ_ALL = [
    "account:read",
    "balance:read",
    "balance_transactions:read",
    "charges:read",
    "customers",
    "events:read",
    "invoice_payments:read",
    "invoices",
    "payouts:read",
    "refunds:read",
    "webhook_endpoints",
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """The console script with the test's ``MLC_*`` environment (set by ``gateway_env``)."""
    return subprocess.run(
        [bin_path("stripe-gateway"), *argv],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stored(secret_store: EncryptedFileSecrets, kit: Any) -> dict[str, str]:
    return secret_store.read(kit.STRIPE_PATH)


class TestSuccess:
    def test_a_secret_key_reports_the_account_and_the_registered_endpoint(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        secret_store: EncryptedFileSecrets,
        kit: Any,
    ) -> None:
        emu.configure(
            account={
                "business_profile": {"name": "Fabrikam"},
                "settings": {"dashboard": {"display_name": "Fabrikam, Inc."}},
            }
        )
        registered = run("register-webhook", "--url", WEBHOOK_URL)
        assert registered.returncode == 0, registered.stderr
        [endpoint] = emu.admin("GET", "objects/webhook_endpoint")["data"]

        done = run("ping")

        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[:4] == [
            "key mode: test (from the key prefix)",
            "key type: secret",
            "account: acct_emulator (Fabrikam, Inc.), country US, default currency USD, "
            "charges enabled, payouts enabled",
            "account mode: test",
        ]
        at = lines.index(
            f"webhook endpoint: {endpoint['id']} {WEBHOOK_URL} "
            "(enabled, API version 2026-10-28.endive)"
        )
        assert lines[at + 1] == f"  enabled events: {', '.join(HANDLED_EVENTS)}"
        assert not any("warning" in line for line in lines)
        assert lines[-1].startswith("OK: Stripe is reachable with this key")
        assert emu.request_count(method="GET", path="/v1/account")["total"] == 1
        output = done.stdout + done.stderr
        for secret in stored(secret_store, kit).values():
            assert secret not in output

    def test_a_restricted_key_with_read_access_is_reported_as_restricted(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        secret_store: EncryptedFileSecrets,
        kit: Any,
    ) -> None:
        restricted = "rk_test_51RestrictedReadEverything00"
        secret_store.write(kit.STRIPE_PATH, {"api_key": restricted})
        emu.configure(restricted_keys={restricted: READ_ALL})

        done = run("ping")

        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "key type: restricted (write permissions cannot be probed" in out
        assert "account: acct_emulator (Emulated Business)" in out
        assert "warning: no webhook endpoint is registered" in out
        assert restricted not in out + done.stderr

    def test_an_endpoint_without_every_handled_event_is_flagged(
        self, gateway_env: dict[str, str], emu: EmulatorServer, kit: Any
    ) -> None:
        sdk = stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})
        endpoint = sdk.v1.webhook_endpoints.create(
            params={"url": WEBHOOK_URL, "enabled_events": ["invoice.paid", "charge.succeeded"]}
        )

        done = run("ping")

        assert done.returncode == 0, done.stdout + done.stderr
        assert f"webhook endpoint: {endpoint.id} {WEBHOOK_URL} (enabled" in done.stdout
        assert "  enabled events: invoice.paid, charge.succeeded" in done.stdout
        assert "  warning: it does not send charge.refunded, " in done.stdout


class TestMalformedKey:
    @pytest.mark.parametrize(
        ("key", "why"),
        [
            ("sk_test_", "nothing after its sk_test_ prefix"),
            (
                "sk_test_4eC39HqLy jWDarjtT1zdp7dc",
                "characters no Stripe key has (spaces, quotes, dots or brackets)",
            ),
        ],
    )
    def test_a_clear_message_exit_3_and_no_key_printed(
        self,
        gateway_env: dict[str, str],
        secret_store: EncryptedFileSecrets,
        kit: Any,
        key: str,
        why: str,
    ) -> None:
        secret_store.write(kit.STRIPE_PATH, {"api_key": key})

        done = run("ping")

        assert done.returncode == 3
        assert done.stdout.splitlines()[-1] == (
            f"FAILED: Stripe rejected the API key (401): it is malformed: {why}. Copy the whole "
            "key from the Stripe Dashboard (Developers > API keys) and store it with: "
            "mlc-secrets set ml-connector/stripe api_key"
        )
        output = done.stdout + done.stderr
        assert "Traceback" not in output
        for fragment in key.removeprefix("sk_test_").split():
            assert fragment not in output


class TestKeyShape:
    """What ping derives from the key alone (no process needed)."""

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("sk_live_51HxAbCdEf0123", "secret"),
            ("rk_test_51RestrictedKey", "restricted"),
            ("pk_test_51Publishable", "publishable"),
            ("whsec_NotAnApiKey", "unknown"),
        ],
    )
    def test_key_type_from_the_prefix(self, key: str, expected: str) -> None:
        assert key_type(key) == expected

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", None),
            ("sk_test_4eC39Hq", "shorter than any Stripe key (7 characters after the prefix)"),
            ("rk_live_", "nothing after its rk_live_ prefix"),
            ("4eC39HqLyjWDarjtT1zdp7dc", "no sk_live_, sk_test_, rk_live_ or rk_test_ prefix"),
        ],
    )
    def test_key_problem_explains_a_refused_key(self, key: str, expected: str | None) -> None:
        assert key_problem(key) == expected
