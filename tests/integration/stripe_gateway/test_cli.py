"""The CronJob and operator commands: ``poll``, ``register-webhook``, ``ping`` (and ``--help``)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from typing import Any

import pytest
import stripe
from factories import drain

from mlconnector.bus import Topology
from mlconnector.contracts import load_message
from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_emulator.server import EmulatorServer
from stripe_gateway.cli import main
from stripe_gateway.events import HANDLED_EVENTS

pytestmark = pytest.mark.rabbitmq

DAY = 86400


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@pytest.fixture
def sdk(emu: EmulatorServer, kit: Any) -> stripe.StripeClient:
    return stripe.StripeClient(kit.API_KEY, base_addresses={"api": emu.base_url})


def open_invoice(sdk: stripe.StripeClient, total: int) -> str:
    customer = sdk.v1.customers.create(params={"name": "Wide World Importers"})
    invoice = sdk.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice",
                "days_until_due": 30, "currency": "usd"}
    )  # fmt: skip
    sdk.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": total}]})
    return sdk.v1.invoices.finalize_invoice(invoice.id).id


def published(amqp_url: str, topology: Topology) -> list[Any]:
    return [load_message(body) for _, body in drain(amqp_url, topology.queue)]


class TestPoll:
    def test_publishes_exactly_the_handled_events_of_the_window_across_pages(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        sdk: stripe.StripeClient,
        amqp_url: str,
        bus: tuple[str, Topology],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        emu.pay_invoice(open_invoice(sdk, 1000))  # before the window
        since = emu.advance_clock(600)
        invoice_id = open_invoice(sdk, 50 * 104)
        for _ in range(104):  # 104 charge.succeeded and then one invoice.paid: > 1 page
            charge = emu.pay_invoice(invoice_id, amount=50)["charge"]["id"]
        emu.refund(charge, 20)
        emu.payout("usd")
        until = emu.advance_clock(600)
        emu.pay_invoice(open_invoice(sdk, 2000))  # after the window
        expected = {
            e.id: e.type
            for e in sdk.v1.events.list(
                params={"created": {"gte": since, "lt": until}, "limit": 100}
            ).auto_paging_iter()
            if e.type in HANDLED_EVENTS
        }
        assert len(expected) > 100
        emu.clear_requests()

        code = main(["poll", "--since", iso(since), "--until", iso(until)])

        assert code == 0
        messages = published(amqp_url, bus[1])
        assert sorted(m.id for m in messages) == sorted(expected)
        assert {m.id: m.data["event_type"] for m in messages} == expected
        assert all(m.type == "stripe.event." + m.data["event_type"] for m in messages)
        assert len({m.correlation_id for m in messages}) == 1
        assert emu.request_count(path="/v1/events")["total"] == 2  # two pages of 100
        out = capsys.readouterr().out
        assert f"total: {len(expected)} published, 0 failed" in out
        assert "charge.succeeded: 104 published" in out

    def test_past_the_retention_objects_are_backfilled_with_deterministic_ids(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        sdk: stripe.StripeClient,
        amqp_url: str,
        bus: tuple[str, Topology],
    ) -> None:
        now = int(time.time())
        emu.advance_clock(-40 * DAY)
        invoice_id = open_invoice(sdk, 7000)
        paid = emu.pay_invoice(invoice_id)
        refund = emu.refund(paid["charge"]["id"], 700)
        [payout] = emu.payout("usd")
        emu.advance_clock(40 * DAY)
        emu.clear_requests()
        window = ["poll", "--since", iso(now - 41 * DAY), "--until", iso(now - 39 * DAY)]

        assert main(window) == 0
        first = published(amqp_url, bus[1])
        assert main(window) == 0
        second = published(amqp_url, bus[1])

        expected = {
            f"poll:invoice.paid:{invoice_id}",
            f"poll:charge.succeeded:{paid['charge']['id']}",
            f"poll:charge.refunded:{refund['id']}",
            f"poll:payout.paid:{payout['id']}",
            f"poll:payout.reconciliation_completed:{payout['id']}",
        }
        assert {m.id for m in first} == expected
        assert sorted(m.id for m in second) == sorted(m.id for m in first)
        by_id = {m.id: m for m in first}
        refunded = by_id[f"poll:charge.refunded:{refund['id']}"]
        assert refunded.data["object_id"] == paid["charge"]["id"]
        assert refunded.data["object"]["amount_refunded"] == 700
        assert refunded.data["event_id"] == f"evt_poll_charge_refunded_{refund['id']}"
        assert by_id[f"poll:invoice.paid:{invoice_id}"].data["object"]["status"] == "paid"
        assert emu.request_count(path="/v1/events")["total"] == 0

    def test_a_broker_outage_fails_the_run(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        sdk: stripe.StripeClient,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        emu.pay_invoice(open_invoice(sdk, 1000))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("MLC_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{port}/%2F")

        assert main(["poll", "--since-minutes", "5"]) == 1
        assert "total: 0 published, 2 failed" in capsys.readouterr().out

    def test_a_stripe_failure_is_one_clear_line_and_exit_1(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        emu.configure(revoked_keys=[kit.API_KEY])
        assert main(["poll", "--since-minutes", "5"]) == 1
        err = capsys.readouterr().err
        assert "stripe-gateway poll: Stripe call failed: list_events: authentication_failed" in err
        assert "Traceback" not in err
        assert kit.API_KEY not in err


class TestRegisterWebhook:
    URL = "https://connector.example/webhooks/stripe"

    def test_creates_the_endpoint_and_stores_the_secret_never_printing_it(
        self,
        gateway_env: dict[str, str],
        sdk: stripe.StripeClient,
        secret_store: EncryptedFileSecrets,
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert main(["register-webhook", "--url", self.URL]) == 0

        out = capsys.readouterr()
        [endpoint] = sdk.v1.webhook_endpoints.list().data
        assert endpoint.id in out.out
        stored = secret_store.read(kit.STRIPE_PATH)
        assert stored["webhook_secret"].startswith("whsec_")
        assert stored["webhook_secret"] != kit.WEBHOOK_SECRET
        assert stored["webhook_secret_previous"] == kit.WEBHOOK_SECRET
        assert stored["webhook_secret"] not in out.out + out.err
        assert endpoint.api_version == "2026-10-28.endive"
        assert sorted(endpoint.enabled_events) == sorted(HANDLED_EVENTS)
        assert endpoint.url == self.URL

    def test_refuses_a_second_endpoint_for_the_url_unless_forced(
        self,
        gateway_env: dict[str, str],
        sdk: stripe.StripeClient,
        secret_store: EncryptedFileSecrets,
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert main(["register-webhook", "--url", self.URL]) == 0
        first = secret_store.read(kit.STRIPE_PATH)["webhook_secret"]

        assert main(["register-webhook", "--url", self.URL]) == 1
        assert "already exists" in capsys.readouterr().err
        assert main(["register-webhook", "--url", self.URL, "--force"]) == 0

        stored = secret_store.read(kit.STRIPE_PATH)
        assert stored["webhook_secret_previous"] == first
        assert stored["webhook_secret"] not in (first, kit.WEBHOOK_SECRET)
        assert len(sdk.v1.webhook_endpoints.list().data) == 2


class TestPing:
    def test_a_valid_test_key(
        self, gateway_env: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["ping"]) == 0
        out = capsys.readouterr().out
        assert "key mode: test" in out
        assert "account: acct_emulator (Emulated Business)" in out
        assert "account mode: test" in out
        assert "OK: Stripe is reachable" in out

    def test_a_revoked_key(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        emu.configure(revoked_keys=[kit.API_KEY])
        assert main(["ping"]) == 3
        out = capsys.readouterr().out
        assert "rejected the API key (401): it is revoked or expired" in out
        assert kit.API_KEY not in out

    def test_an_unknown_key(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        emu.configure(api_keys=["sk_test_SomeOtherAccountsKey"])
        assert main(["ping"]) == 3
        assert "it is invalid" in capsys.readouterr().out

    def test_a_restricted_key_without_the_needed_permissions(
        self,
        gateway_env: dict[str, str],
        emu: EmulatorServer,
        secret_store: EncryptedFileSecrets,
        kit: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        restricted = "rk_test_51RestrictedKeyForPing"
        secret_store.write(kit.STRIPE_PATH, {"api_key": restricted})
        emu.configure(restricted_keys={restricted: ["customers", "invoices", "balance:read"]})

        assert main(["ping"]) == 4

        out = capsys.readouterr().out
        assert "account: this key may not read the account details" in out
        assert "may not read: invoice_payments, charges, refunds, payouts" in out
        assert restricted not in out

    def test_stripe_unreachable(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("MLC_STRIPE_API_BASE", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("MLC_STRIPE_MAX_NETWORK_RETRIES", "0")
        assert main(["ping"]) == 5
        assert "cannot reach Stripe (connection_failed" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["serve"], ["poll"], ["register-webhook"], ["ping"]])
def test_every_command_has_a_working_help(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: stripe-gateway")
    assert json.dumps(out)  # printable text, nothing else ran
