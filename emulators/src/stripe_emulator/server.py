"""`EmulatorServer`: the emulator on a real socket in a background thread, for other tests.

    with EmulatorServer({"rate_limit": 0}) as stripe_emu:
        client = stripe.StripeClient(
            "sk_test_example", base_addresses={"api": stripe_emu.base_url}, max_network_retries=0
        )
        ...
        stripe_emu.pay_invoice(invoice.id, amount=500)
        assert stripe_emu.request_count(method="POST", path="/v1/invoices")["total"] == 3

The admin helpers call the `/_emulator` control surface over HTTP, so they exercise the same
code path as any other client. What a person does in Stripe's Dashboard (void an invoice,
mark it uncollectible, edit a customer) needs no control route: the Dashboard drives the
same API, so `void_invoice`, `mark_uncollectible` and `update_customer` call the emulator's
own `/v1` routes with a test key (`dashboard()`); their requests are logged, rate-limited and
subject to injected faults like any other, and their events carry a request id.

Webhook retries default to `time_scale=0.001` here (a 600 s delay becomes 0.6 s) so retry
tests stay fast.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from emulator_http.keepalive import KeepAliveRequestHandler

from .app import create_app
from .forms import encode_form
from .state import EmulatorState
from .state import get_state

TEST_DEFAULTS: dict[str, Any] = {"time_scale": 0.001}
DASHBOARD_KEY = "sk_test_emulator_dashboard"


class QuietRequestHandler(KeepAliveRequestHandler):
    """A keep-alive handler without the per-request access log on stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class EmulatorError(RuntimeError):
    """A control-surface call failed; carries the status and the error envelope."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"emulator control call failed with {status}: {body}")
        self.status = status
        self.body = body


class EmulatorServer:
    """Start/stop the emulator on `host:port` (port 0 picks a free one)."""

    def __init__(
        self, config: Mapping[str, Any] | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = create_app({**TEST_DEFAULTS, **(config or {})})
        self.state: EmulatorState = get_state(self.app)
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._session: requests.Session | None = None
        self.base_url = ""

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=QuietRequestHandler
        )
        self.base_url = f"http://{self._host}:{self._server.server_port}"
        self.state.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="stripe-emulator", daemon=True
        )
        self._thread.start()
        self._session = requests.Session()
        return self

    def stop(self) -> None:
        if self.state.dispatcher is not None:
            self.state.dispatcher.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._session is not None:
            self._session.close()
        self._server = self._thread = self._session = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control surface ----------------------------------------------------------------
    def admin(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        """Call `/_emulator/<path>`; raises EmulatorError on a non-2xx answer."""
        assert self._session is not None, "server not started"
        response = self._session.request(
            method,
            f"{self.base_url}/_emulator/{path.lstrip('/')}",
            json=json,
            params=params,
            timeout=30,
        )
        payload = response.json()
        if response.status_code >= 300:
            raise EmulatorError(response.status_code, payload)
        return payload

    def reset(self, *, keep_config: bool = False) -> None:
        self.admin("POST", "reset", {"keep_config": keep_config})

    def configure(self, **settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("POST", "config", settings)
        return result

    def advance_clock(self, seconds: float) -> int:
        return int(self.admin("POST", "clock/advance", {"seconds": seconds})["now"])

    def pay_invoice(
        self, invoice_id: str, amount: int | None = None, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """Pay an open invoice by card; returns invoice, invoice_payment, charge, ...."""
        result: dict[str, Any] = self.admin(
            "POST",
            f"invoices/{invoice_id}/pay_by_card",
            {"amount": amount, "payment_method": payment_method},
        )
        return result

    def refund(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.admin(
            "POST", f"charges/{charge_id}/refund", {"amount": amount}
        )
        return result

    def dispute(
        self,
        charge_id: str,
        *,
        reason: str | None = None,
        amount: int | None = None,
        inquiry: bool = False,
    ) -> dict[str, Any]:
        """Open a dispute on a charge (the cardholder's bank); returns the Dispute."""
        spec = {"reason": reason, "amount": amount, "inquiry": inquiry}
        result: dict[str, Any] = self.admin("POST", f"charges/{charge_id}/dispute", spec)
        return result

    def close_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """The issuer's decision, `won` or `lost`; returns the Dispute."""
        result: dict[str, Any] = self.admin(
            "POST", f"disputes/{dispute_id}/close", {"outcome": outcome}
        )
        return result

    def payout(
        self, currency: str | None = None, *, reconcile: bool = True
    ) -> list[dict[str, Any]]:
        result = self.admin("POST", "payouts", {"currency": currency, "reconcile": reconcile})
        return list(result["data"])

    def fail_payout(self, payout_id: str, failure_code: str = "account_closed") -> dict[str, Any]:
        """The bank returns a payout (even a paid one); returns the Payout."""
        result: dict[str, Any] = self.admin(
            "POST", f"payouts/{payout_id}/fail", {"failure_code": failure_code}
        )
        return result

    def roll_secret(self, endpoint_id: str, expires_in: int = 86400) -> str:
        return str(
            self.admin(
                "POST", f"webhook_endpoints/{endpoint_id}/roll_secret", {"expires_in": expires_in}
            )["secret"]
        )

    def flush_deliveries(self, timeout: float = 10.0) -> int:
        return int(self.admin("POST", "deliveries/flush", {"timeout": timeout})["attempted"])

    def deliveries(
        self, event: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("event", event), ("endpoint", endpoint)) if v}
        return list(self.admin("GET", "deliveries", params=params)["deliveries"])

    def inject_fault(self, **spec: Any) -> None:
        self.admin("POST", "faults", spec)

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("method", method), ("path", path)) if v}
        return list(self.admin("GET", "requests", params=params)["requests"])

    def request_count(self, method: str | None = None, path: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("method", method), ("path", path)) if v}
        result: dict[str, Any] = self.admin("GET", "requests/count", params=params)
        return result

    def clear_requests(self) -> None:
        self.admin("DELETE", "requests")

    def flush_search_index(self) -> None:
        self.admin("POST", "search/flush")

    # -- a person in Stripe's Dashboard (the Dashboard uses the API) --------------------
    def dashboard(
        self, method: str, path: str, fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call `/v1/<path>` as the Dashboard would; raises EmulatorError on a non-2xx answer.

        The key is the first of `api_keys` (any `sk_test_` key when that list is empty)."""
        assert self._session is not None, "server not started"
        keys = self.state.config.api_keys
        pairs = encode_form(fields or {})
        response = self._session.request(
            method,
            f"{self.base_url}/v1/{path.lstrip('/')}",
            data=pairs if method.upper() != "GET" else None,
            params=pairs if method.upper() == "GET" else None,
            headers={"Authorization": f"Bearer {keys[0] if keys else DASHBOARD_KEY}"},
            timeout=30,
        )
        payload: dict[str, Any] = response.json()
        if response.status_code >= 300:
            raise EmulatorError(response.status_code, payload)
        return payload

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an open or uncollectible invoice (`invoice.voided`); returns the Invoice."""
        return self.dashboard("POST", f"invoices/{invoice_id}/void")

    def mark_uncollectible(self, invoice_id: str) -> dict[str, Any]:
        """Write an open invoice off (`invoice.marked_uncollectible`); returns the Invoice."""
        return self.dashboard("POST", f"invoices/{invoice_id}/mark_uncollectible")

    def update_customer(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        """Edit a customer (`customer.updated` when something changes); nested fields as
        dicts, e.g. `update_customer(id, email="new@example.com", metadata={"k": "v"})`."""
        return self.dashboard("POST", f"customers/{customer_id}", fields)
