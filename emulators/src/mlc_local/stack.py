"""``LocalStack``: the emulators in this process, the services as real processes around them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import requests

from bc_emulator.server import EmulatorServer as BcEmulator
from bc_emulator.signin_seed import SigninSeed
from bc_emulator.signin_seed import seed_signin
from mlc_local.processes import Process
from mlc_local.processes import free_port
from mlc_local.processes import run_cli
from mlc_local.processes import wait_ready
from mlconnector.bus import Topology
from mlconnector.bus import declare_topology
from stripe_emulator.server import EmulatorServer as StripeEmulator

TENANT = "00000000-0000-0000-0000-0000000000a1"
CLIENT_ID = "00000000-0000-0000-0000-0000000000c1"
ENVIRONMENT = "production"


_DECIMAL_MARK = "\u0000decimal:"


def exact_json(value: Any) -> str:
    """JSON text in which every ``Decimal`` is a number with exactly its digits (BC wants numbers,
    and a float would change them)."""
    text = json.dumps(value, default=lambda d: _DECIMAL_MARK + format(d, "f"))
    return re.sub(r'"\\u0000decimal:(-?[0-9.]+)"', r"\1", text)


def delete_topology(amqp_url: str, topology: Topology) -> None:
    """Delete a bus namespace's queues and exchanges once its processes have stopped: each
    quorum queue left behind is a Raft cluster the broker keeps running (the demo's, a test's)."""
    # mlconnector's short-lived "connect, run this on a channel, close", used here to delete.
    declare_topology(amqp_url, topology.delete)


@dataclasses.dataclass
class StackOptions:
    workdir: Path
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    database_url: str | None = None
    bus_namespace: str | None = None
    log_level: str = "INFO"
    ports: dict[str, int] | None = None  # bc-gateway, stripe-gateway, reconciler; free if None
    bc_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    stripe_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    consumers: int = 1


FOREIGN = ("EUR", "JPY", "KWD")
CURRENCY_CLEARING = ",".join(f"{c.lower()}=STRIPE{c}/STRIPE-{c}" for c in FOREIGN)
PAYOUT_BANKS = ",".join(f"{c.lower()}=BANK-{c}" for c in FOREIGN)
STRIPE_GL = {"EUR": "10910", "JPY": "10920", "KWD": "10930"}
BANK_GL = {"EUR": "10110", "JPY": "10120", "KWD": "10130"}
# The accounts of docs/accounting.md beyond the emulator's default chart.
EXTRA_ACCOUNTS = (
    ("10110", "Bank EUR", "Assets"),
    ("10120", "Bank JPY", "Assets"),
    ("10130", "Bank KWD", "Assets"),
    ("10910", "Stripe balance EUR", "Assets"),
    ("10920", "Stripe balance JPY", "Assets"),
    ("10930", "Stripe balance KWD", "Assets"),
    ("11600", "Disputed payments", "Assets"),
    ("20700", "Stripe refunds to settle", "Liabilities"),
    ("60110", "Tax on Stripe fees", "Expense"),
    ("60120", "Dispute fees", "Expense"),
    ("79100", "FX gains and losses", "Expense"),
)


class LocalStack:
    """Both emulators, a seeded BC company, and the three services wired to them."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.workdir = options.workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log").mkdir(exist_ok=True)
        ports = options.ports or {}
        self.ports = {
            name: ports.get(name) or free_port()
            for name in ("bc-gateway", "stripe-gateway", "reconciler")
        }
        self.bc_secret = secrets.token_urlsafe(24)
        self.stripe_key = "sk_test_" + secrets.token_hex(16)
        self.replay_token = secrets.token_urlsafe(24)
        self.master_key = secrets.token_urlsafe(24)
        self.bc = BcEmulator(
            {
                "test_mode": True,
                "clients": [
                    {"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": self.bc_secret}
                ],
                **options.bc_config,
            },
            ca_file=self.workdir / "bc-ca.pem",
        )
        self.stripe = StripeEmulator(
            {"rate_limit": 0, "search_rate_limit": 0, **options.stripe_config}
        )
        self.processes: dict[str, Process] = {}
        # The review console's app registration and people (seeded at start).
        self.signin: SigninSeed | None = None
        self.console_key = secrets.token_urlsafe(32)
        self.company_id = ""
        self.env: dict[str, str] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def operator_env(self) -> dict[str, str]:
        """The ``MLC_*`` variables a person needs to use this stack from a shell: those the
        services run with (database, secrets backend, file and master key, broker URL and bus
        namespace, the emulators, the gateways' URLs), plus the reconciler API's URL and its
        bearer token (``MLC_RECONCILER_URL``, ``MLC_REPLAY_TOKEN``), which no service reads,
        with logs at WARNING."""
        env = {name: value for name, value in self.env.items() if name.startswith("MLC_")}
        # A person reads the CLIs' own output; their JSON logs (stderr) only when it matters.
        env["MLC_LOG_LEVEL"] = "WARNING"
        env["MLC_RECONCILER_URL"] = self.url("reconciler")
        env["MLC_REPLAY_TOKEN"] = self.replay_token
        return env

    def console_url(self) -> str:
        return self.url("reconciler") + "/console/"

    def start(self) -> None:
        self.bc.start()
        self.stripe.start()
        self.company_id = self.seed_bc_company()
        console = self.url("reconciler") + "/console"
        self.signin = seed_signin(
            self.bc.emulator,
            [console + "/signed-in", console + "/signed-out"],
            tenant=TENANT,
        )
        self.env = self._environment()
        self._write_secrets()
        run_cli(["reconciler", "migrate"], self.env)
        run_cli(
            [
                "stripe-gateway",
                "register-webhook",
                "--url",
                self.url("stripe-gateway") + "/webhooks/stripe",
            ],
            self.env,
        )
        self._start_service("bc-gateway", ["bc-gateway", "serve"])
        self._start_service("stripe-gateway", ["stripe-gateway", "serve"])
        self._start_service("reconciler", ["reconciler", "serve"])
        for index in range(self.options.consumers):
            name = f"consumer-{index + 1}"
            env = dict(self.env, MLC_HEARTBEAT_FILE=str(self.workdir / f"{name}.heartbeat"))
            self.processes[name] = Process(
                name, ["reconciler", "consume"], env, self.workdir / "log"
            )
        for name in ("bc-gateway", "stripe-gateway", "reconciler"):
            wait_ready(self.url(name), self.processes[name])
        run_cli(["bc-gateway", "renew-subscriptions"], self.env)

    def stop(self) -> None:
        """Stop the services, then the emulators. Every service gets its SIGTERM at once, so
        their graceful stops (gunicorn's workers, the consumer's last message) overlap instead
        of adding up; ``Process.stop`` then waits for each (and kills one that hangs)."""
        processes = list(reversed(self.processes.values()))
        for process in processes:
            if process.alive():
                process.popen.terminate()
        for process in processes:
            process.stop()
        self.processes.clear()
        self.stripe.stop()
        self.bc.stop()

    def _start_service(self, name: str, argv: list[str]) -> None:
        env = dict(self.env, MLC_PORT=str(self.ports[name]))
        self.processes[name] = Process(name, argv, env, self.workdir / "log")

    # -- configuration --------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        database = self.options.database_url or f"sqlite:///{self.workdir / 'reconciler.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        env.update(
            {
                "MLC_ENVIRONMENT": "test",
                "MLC_LOG_LEVEL": self.options.log_level,
                "MLC_AMQP_URL": self.options.amqp_url,
                "MLC_SECRETS_BACKEND": "file",
                "MLC_SECRETS_FILE": str(self.workdir / "secrets.enc"),
                "MLC_MASTER_KEY": self.master_key,
                "MLC_DATABASE_URL": database,
                "MLC_BIND_HOST": "127.0.0.1",
                "MLC_WEB_WORKERS": "1",
                # Each consumer's metrics exporter on a free port: consumers share this host.
                "MLC_METRICS_PORT": "0",
                "MLC_BC_TENANT_ID": TENANT,
                "MLC_BC_ENVIRONMENT": ENVIRONMENT,
                "MLC_BC_COMPANY_ID": self.company_id,
                "MLC_BC_API_BASE": self.bc.base_url,
                "MLC_BC_AUTHORITY_HOST": self.bc.base_url,
                "MLC_BC_CA_BUNDLE": self.bc.ca_file,
                "MLC_BC_NOTIFICATION_URL": self.url("bc-gateway") + "/webhooks/bc",
                "MLC_BC_PAYMENT_JOURNAL": "STRIPE",
                "MLC_BC_REFUND_JOURNAL": "STRIPEREF",
                "MLC_BC_GENERAL_JOURNAL": "PAYOUT",
                "MLC_BC_CLEARING_ACCOUNT": "10900",
                "MLC_STRIPE_API_BASE": self.stripe.base_url,
                "MLC_STRIPE_GATEWAY_URL": self.url("stripe-gateway"),
                "MLC_BC_GATEWAY_URL": self.url("bc-gateway"),
                "MLC_PAYMENT_JOURNAL": "STRIPE",
                "MLC_REFUND_JOURNAL": "STRIPEREF",
                "MLC_PAYOUT_JOURNAL": "PAYOUT",
                "MLC_FEE_ACCOUNT": "60100",
                "MLC_BANK_ACCOUNT": "CHECKING",
                "MLC_CLEARING_ACCOUNT": "10900",
                # docs/accounting.md: EUR, JPY and KWD settle in Stripe as charged, each on
                # its own Stripe bank account in BC, paid out to the firm's bank in it.
                "MLC_CURRENCY_CLEARING": CURRENCY_CLEARING,
                "MLC_PAYOUT_BANKS": PAYOUT_BANKS,
                "MLC_REFUND_ACCOUNT": "20700",
                "MLC_DISPUTE_ACCOUNT": "11600",
                "MLC_DISPUTE_FEE_ACCOUNT": "60120",
                "MLC_FEE_TAX_ACCOUNT": "60110",
                "MLC_FX_ACCOUNT": "79100",
            }
        )
        if self.signin is not None:
            # The review console signs people in at the BC emulator's Entra endpoints.
            env.update(
                {
                    "MLC_CONSOLE_AUTHORITY": f"{self.bc.base_url}/{TENANT}",
                    "MLC_CONSOLE_CLIENT_ID": self.signin.client_id,
                    "MLC_CONSOLE_CA_BUNDLE": str(self.bc.ca_file),
                    "MLC_CONSOLE_SESSION_STORE": f"file://{self.workdir / 'console-sessions'}",
                    # Plain http on loopback: a Secure cookie would not come back.
                    "MLC_CONSOLE_COOKIE_SECURE": "false",
                    "MLC_CONSOLE_BC_COMPANY": "CRONUS USA, Inc.",
                }
            )
        if self.options.bus_namespace:
            env["MLC_BUS_NAMESPACE"] = self.options.bus_namespace
        env.update(self.options.extra_env)
        return env

    def _write_secrets(self) -> None:
        """Through the operator command, as a user would (throwaway values, loopback only)."""
        values = {
            "ml-connector/bc": {
                "client_id": CLIENT_ID,
                "client_secret": self.bc_secret,
                "client_state": secrets.token_urlsafe(32),
            },
            # Replaced by `register-webhook` with the endpoint's real secret.
            "ml-connector/stripe": {
                "api_key": self.stripe_key,
                "webhook_secret": "whsec_" + secrets.token_hex(16),
            },
            "ml-connector/reconciler": {
                "replay_token": self.replay_token,
                **(
                    {
                        "console_client_secret": self.signin.client_secret,
                        "console_secret_key": self.console_key,
                    }
                    if self.signin is not None
                    else {}
                ),
            },
        }
        for path, pairs in values.items():
            run_cli(["mlc-secrets", "set", path, *(f"{k}={v}" for k, v in pairs.items())], self.env)
        # The reconciler's service identity: its signing key, and the public key the gateways
        # check its calls with.
        run_cli(["mlc-secrets", "identity", "rotate"], self.env)

    # -- BC seeding -----------------------------------------------------------------------

    def bc_admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the BC emulator's admin API; ``Decimal`` values travel as exact JSON numbers."""
        response = requests.request(
            method,
            self.bc.admin + path,
            data=None if body is None else exact_json(body),
            headers={"Content-Type": "application/json"},
            verify=self.bc.ca_file,
            timeout=60,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"BC emulator {method} {path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def _bc_token(self) -> str:
        token: str = requests.post(
            f"{self.bc.base_url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": self.bc_secret,
                "scope": "https://api.businesscentral.dynamics.com/.default",
            },
            verify=self.bc.ca_file,
            timeout=30,
        ).json()["access_token"]
        return token

    def _bc_company_url(self, path: str) -> str:
        return f"{self.bc.api_base(TENANT, ENVIRONMENT)}/companies({self.company_id})/{path}"

    def bc_api_get(self, entity_set: str, params: dict[str, str] | None = None) -> list[Any]:
        """Every row of a company entity set, read through BC's own API like any client."""
        token = self._bc_token()
        url: str | None = self._bc_company_url(entity_set)
        rows: list[Any] = []
        query = params
        while url:
            response = requests.get(
                url,
                params=query,
                headers={"Authorization": f"Bearer {token}"},
                verify=self.bc.ca_file,
                timeout=30,
            )
            response.raise_for_status()
            body = response.json()
            rows.extend(body["value"])
            url, query = body.get("@odata.nextLink"), None
        return rows

    def bc_api(self, method: str, path: str, body: Any = None, etag: str | None = None) -> Any:
        """One write through BC's own API, as a person's other BC client would make it.

        ``path`` is relative to the company (``customers(<id>)``); an ``etag`` goes in If-Match.
        """
        headers = {"Authorization": f"Bearer {self._bc_token()}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if etag:
            headers["If-Match"] = etag
        response = requests.request(
            method,
            self._bc_company_url(path),
            data=None if body is None else exact_json(body),
            headers=headers,
            verify=self.bc.ca_file,
            timeout=30,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"BC API {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def seed_bc_company(self) -> str:
        """A US company (LCY USD) with EUR, JPY and KWD, the connector's batches and settings."""
        company = self.bc_admin(
            "POST",
            "/companies",
            {
                "tenant": TENANT,
                "environment": ENVIRONMENT,
                "name": "CRONUS USA, Inc.",
                "lcyCode": "USD",
                "defaults": True,
            },
        )
        company_id = str(company["id"])
        base = f"/companies/{company_id}"
        self.bc_admin(
            "POST",
            base + "/currencies",
            [
                {"code": "EUR", "displayName": "Euro", "exchangeRate": "1.08"},
                {"code": "JPY", "displayName": "Japanese Yen", "exchangeRate": "0.0067"},
                {"code": "KWD", "displayName": "Kuwaiti Dinar", "exchangeRate": "3.25"},
            ],
        )
        self.bc_admin("PATCH", base + "/settings", {"applnBetweenCurrencies": "All"})
        self.bc_admin("POST", base + "/accounts", [
            {"number": n, "displayName": name, "category": category}
            for n, name, category in EXTRA_ACCOUNTS
        ])  # fmt: skip
        for code in FOREIGN:
            self.bc_admin("POST", base + "/bankAccounts", [
                {"number": f"STRIPE-{code}", "displayName": f"Stripe balance {code}",
                 "currencyCode": code, "glAccountNumber": STRIPE_GL[code]},
                {"number": f"BANK-{code}", "displayName": f"Bank account {code}",
                 "currencyCode": code, "glAccountNumber": BANK_GL[code]},
            ])  # fmt: skip
            self.bc_admin("POST", base + "/journals", {
                "template": "CASHRCPT", "code": f"STRIPE{code}",
                "displayName": f"Stripe payments {code}",
                "balancingAccountType": "Bank Account",
                "balancingAccountNumber": f"STRIPE-{code}",
            })  # fmt: skip
        for batch in (
            {
                "template": "CASHRCPT",
                "code": "STRIPE",
                "displayName": "Stripe payments",
                "balancingAccountType": "G/L Account",
                "balancingAccountNumber": "10900",
            },
            {
                "template": "CASHRCPT",
                "code": "STRIPEREF",
                "displayName": "Stripe refunds",
                "balancingAccountType": "G/L Account",
                "balancingAccountNumber": "10900",
            },
            {"template": "GENERAL", "code": "PAYOUT", "displayName": "Stripe payouts"},
        ):
            self.bc_admin("POST", base + "/journals", batch)
        return company_id
