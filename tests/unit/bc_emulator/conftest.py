"""Fixtures for the BC emulator's contract tests.

One emulator per test session runs as a real HTTPS server on 127.0.0.1 (``EmulatorServer``) and
is reset before every test. Clients are the real ones: msal for the token (``instance_discovery=
False`` and a ``requests.Session`` trusting only the emulator's test CA) and requests for the API.
Webhook receivers are real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from http import server as http_server
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from bc_emulator import jsonio
from bc_emulator.config import BC_SCOPE
from bc_emulator.server import EmulatorServer

TENANT = "7e0c4b2a-1f3d-4c5e-9a8b-0d1e2f3a4b5c"
CLIENT_ID = "3f2b1c0d-aaaa-bbbb-cccc-1234567890ab"
SECRET = "emulator-test-secret"
ENV = "production"


@pytest.fixture(scope="session")
def bc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """The emulator as a real HTTPS server for the whole session."""
    ca_file = tmp_path_factory.mktemp("bc-ca") / "bc-ca.pem"
    config = {
        "test_mode": True,
        "clients": [{"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": SECRET}],
    }
    with EmulatorServer(config, ca_file=ca_file) as server:
        yield server


@pytest.fixture
def http(bc: EmulatorServer) -> Iterator[requests.Session]:
    """A session that trusts only the emulator's CA and ignores CA environment variables."""
    session = requests.Session()
    session.verify = bc.ca_file
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _reset(bc: EmulatorServer) -> None:
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(f"{bc.admin}/reset", verify=bc.ca_file, timeout=10)
        assert response.status_code == 200


def msal_app(bc: EmulatorServer, http: requests.Session, secret: str = SECRET) -> Any:
    """A ConfidentialClientApplication pointed at the emulator."""
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=secret,
        authority=bc.authority(TENANT),
        instance_discovery=False,
        http_client=http,
    )


@pytest.fixture
def token(bc: EmulatorServer, http: requests.Session) -> str:
    """An access token acquired through msal."""
    result = msal_app(bc, http).acquire_token_for_client(scopes=[BC_SCOPE])
    assert "access_token" in result, result
    return str(result["access_token"])


def loads(response: requests.Response) -> Any:
    """Parse a JSON response with exact decimals."""
    return json.loads(response.text, parse_float=Decimal)


@dataclass
class Api:
    """Small helper around the company-scoped API."""

    bc: EmulatorServer
    http: requests.Session
    token: str
    company_id: str
    setup: dict[str, Any]

    @property
    def root(self) -> str:
        """``.../api/v2.0``."""
        return self.bc.api_base(TENANT, ENV)

    @property
    def company(self) -> str:
        """``.../companies(<id>)``."""
        return f"{self.root}/companies({self.company_id})"

    def url(self, path: str) -> str:
        """Absolute URL of a company-relative path (or an absolute URL unchanged)."""
        return path if path.startswith("https://") else f"{self.company}/{path}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Authenticated request."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 15)
        return self.http.request(method, self.url(path), headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET."""
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """POST a JSON body (or nothing)."""
        if body is not None:
            kwargs["data"] = jsonio.dumps(body)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, body: Any, etag: str | None, **kwargs: Any) -> requests.Response:
        """PATCH with If-Match (omitted when ``etag`` is None)."""
        headers = {"Content-Type": "application/json"}
        if etag is not None:
            headers["If-Match"] = etag
        return self.call("PATCH", path, data=jsonio.dumps(body), headers=headers)

    def renew_token(self) -> None:
        """Acquire a fresh token (after time travel expired the old one)."""
        result = msal_app(self.bc, self.http).acquire_token_for_client(scopes=[BC_SCOPE])
        self.token = str(result["access_token"])

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API and return parsed JSON (asserting success)."""
        data = None if body is None else jsonio.dumps(body)
        response = self.http.request(
            method,
            f"{self.bc.admin}/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code < 300, response.text
        return loads(response)

    def seed(self, path: str, body: Any) -> Any:
        """POST to the admin API for this company."""
        return self.admin("POST", f"companies/{self.company_id}/{path}", body)

    def seed_journal(self, template: str, code: str, bank: str | None = None) -> str:
        """Seed a journal batch, balanced by bank account ``bank`` when given; return its id.

        The API refuses a bank account as balancing account (it takes G/L accounts only), so a
        bank-balanced batch can only be set up through the admin seed, as in BC itself.
        """
        body = {"template": template, "code": code}
        if bank is not None:
            body |= {"balancingAccountType": "Bank Account", "balancingAccountNumber": bank}
        return str(self.seed("journals", body)["id"])

    def unposted_lines(self) -> dict[str, dict[str, Any]]:
        """Unposted journal lines by document number, read through the admin view.

        The admin view shows each line's currency and LCY amount, which the API pages do not.
        """
        rows = self.admin("GET", f"companies/{self.company_id}/journalLines")["value"]
        return {row["documentNumber"]: row for row in rows}


@pytest.fixture
def api(bc: EmulatorServer, http: requests.Session, token: str) -> Api:
    """A fresh company with the default chart, plus a customer ``C10000`` and EUR."""
    helper = Api(bc, http, token, "", {})
    setup = helper.admin("POST", "companies", {"tenant": TENANT, "environment": ENV})
    helper.company_id = setup["id"]
    helper.setup = setup
    helper.seed(
        "currencies", {"code": "EUR", "displayName": "Euro", "exchangeRate": Decimal("1.1")}
    )
    helper.seed("customers", {"number": "C10000", "displayName": "Adatum Corporation"})
    return helper


@dataclass
class Receiver:
    """A webhook receiver: records handshakes and notifications, answers as configured."""

    url: str = ""
    handshake_mode: str = "echo"  # echo | wrong | status400 | slow
    statuses: deque[int] = field(default_factory=deque)
    handshakes: list[str] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` notification POSTs were accepted or recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} notification posts, got {len(self.posts)}")


def _handler(receiver: Receiver) -> type[http_server.BaseHTTPRequestHandler]:
    class Handler(http_server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silence."""

        def _reply(self, status: int, text: str = "") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if "validationToken" in query:
                token = query["validationToken"][0]
                receiver.handshakes.append(token)
                mode = receiver.handshake_mode
                if mode == "slow":
                    time.sleep(1.5)
                if mode == "status400":
                    self._reply(400, "no")
                else:
                    self._reply(200, "wrong-token" if mode == "wrong" else token)
                return
            with receiver.lock:
                receiver.attempts += 1
                status = receiver.statuses.popleft() if receiver.statuses else 202
                if 200 <= status < 300:
                    receiver.posts.append(json.loads(body, parse_float=Decimal))
                    receiver.headers.append(dict(self.headers))
            self._reply(status)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP webhook receiver on 127.0.0.1."""
    state = Receiver()
    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_port}/bc/webhook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def ca_path(bc: EmulatorServer) -> Path:
    """The CA file as a Path."""
    return Path(bc.ca_file)


@dataclass(frozen=True)
class Kit:
    """Constants and helpers for test modules (conftest modules are not importable by name)."""

    tenant: str = TENANT
    client_id: str = CLIENT_ID
    secret: str = SECRET
    env: str = ENV

    @staticmethod
    def loads(response: requests.Response) -> Any:
        """Parse JSON with exact decimals."""
        return loads(response)

    @staticmethod
    def msal_app(bc: EmulatorServer, http: requests.Session, secret: str = SECRET) -> Any:
        """A msal app pointed at the emulator."""
        return msal_app(bc, http, secret)

    @staticmethod
    def error_message(response: requests.Response) -> str:
        """An error response's message without the ``  CorrelationId:  ...`` BC appends."""
        message: str = loads(response)["error"]["message"]
        return message.partition("  CorrelationId:  ")[0]


@pytest.fixture
def kit() -> Kit:
    """Shared constants and helpers."""
    return Kit()


@pytest.fixture
def foreign_banks(api: Api) -> dict[str, str]:
    """Stripe clearing bank accounts in EUR and GBP, and batches to book them; returns batch ids.

    The company is in USD with EUR at 1.1 (``api``); this adds GBP at 0.5, the bank accounts
    STRIPE-EUR and STRIPE-GBP with their own G/L accounts (10200, 10300) and customer C20000,
    who is billed in EUR. Batches by name: ``cash`` (CASHRCPT STRIPEEUR, balanced by STRIPE-EUR),
    ``plain`` (GENERAL PLAIN, no balancing account) and ``lcy_cash`` (CASHRCPT DEFAULT, balanced
    by CHECKING in USD).
    """
    api.seed("currencies", {"code": "GBP", "displayName": "Pound", "exchangeRate": "0.5"})
    api.seed(
        "accounts",
        [
            {"number": "10200", "displayName": "Stripe EUR", "category": "Assets"},
            {"number": "10300", "displayName": "Stripe GBP", "category": "Assets"},
        ],
    )
    api.seed(
        "bankAccounts",
        [
            {"number": "STRIPE-EUR", "currencyCode": "EUR", "glAccountNumber": "10200"},
            {"number": "STRIPE-GBP", "currencyCode": "GBP", "glAccountNumber": "10300"},
        ],
    )
    api.seed("customers", {"number": "C20000", "displayName": "Euro Kunde", "currencyCode": "EUR"})
    return {
        "cash": api.seed_journal("CASHRCPT", "STRIPEEUR", bank="STRIPE-EUR"),
        "plain": api.seed_journal("GENERAL", "PLAIN"),
        "lcy_cash": str(api.setup["journals"]["CASHRCPT/DEFAULT"]),
    }


@pytest.fixture
def stripe_batch(api: Any) -> str:
    """A dedicated cash-receipt batch balancing to the clearing account."""
    batch = api.seed(
        "journals",
        {
            "template": "CASHRCPT",
            "code": "stripe",
            "displayName": "Stripe",
            "balancingAccountType": "G/L Account",
            "balancingAccountNumber": "10900",
        },
    )
    return str(batch["id"])
