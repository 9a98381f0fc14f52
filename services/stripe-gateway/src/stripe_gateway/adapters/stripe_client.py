"""The Stripe adapter: the only code that calls the stripe SDK (style.md §3.11).

One ``stripe.StripeClient`` per process, built in bootstrap from settings: the API base comes
from ``MLC_STRIPE_API_BASE`` (the emulator in tests, https://api.stripe.com in production), the
API version is pinned to the one stripe-python 16.1.0 was generated for, ``max_network_retries``
is explicit (the client's default is zero retries), and the HTTP timeout is bounded.

Every write takes an explicit ``idempotency_key``: the SDK's automatic key is random and only
protects its own in-process retries, whereas ours are derived from BC data by the services, so a
crashed and restarted command replays instead of acting twice (stripe-api.md §11).

Every call goes through ``StripeCalls.call`` (``calls.py``): bounded retries with full jitter
for 429s, classified failures (``StripeCallError``), and page-by-page listing.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import cast

import stripe

from stripe_gateway.adapters.calls import PAGE_SIZE
from stripe_gateway.adapters.calls import StripeCallError
from stripe_gateway.adapters.calls import StripeCalls

__all__ = [
    "API_VERSION",
    "StripeCallError",
    "StripeClient",
    "key_mode",
    "key_problem",
    "key_type",
    "metadata_of",
    "replayed",
]

#: The API version stripe-python 16.1.0 was generated for; its typed objects describe it.
API_VERSION = "2026-10-28.endive"


class StripeClient(StripeCalls):
    """Typed, retried, idempotent access to the Stripe calls the connector makes."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str,
        max_network_retries: int,
        timeout_s: float,
        rate_limit_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            rate_limit_retries=rate_limit_retries,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            sleep=sleep,
        )
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            stripe_version=API_VERSION,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_s),
        )
        # What `ping` reports about the key, derived once: the key itself is kept by the SDK.
        self.api_key_mode = key_mode(api_key)
        self.api_key_type = key_type(api_key)
        self.api_key_problem = key_problem(api_key)

    # -- customers --------------------------------------------------------------------------

    def retrieve_customer(self, customer_id: str) -> stripe.Customer:
        return self.call(
            "retrieve_customer", lambda: self._client.v1.customers.retrieve(customer_id)
        )

    def search_customers(self, query: str) -> list[stripe.Customer]:
        """All search results (eventually consistent: never for read-after-write)."""
        found: list[stripe.Customer] = self._search(
            "search_customers", self._client.v1.customers.search, query
        )
        return found

    def list_customers(self, params: Mapping[str, Any]) -> Iterator[stripe.Customer]:
        return self._pages(
            "list_customers", lambda p: self._client.v1.customers.list(params=cast(Any, p)), params
        )

    def create_customer(
        self, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.Customer:
        return self.call(
            "create_customer",
            lambda: self._client.v1.customers.create(
                params=cast(Any, dict(params)), options={"idempotency_key": idempotency_key}
            ),
        )

    def update_customer(
        self, customer_id: str, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.Customer:
        return self.call(
            "update_customer",
            lambda: self._client.v1.customers.update(
                customer_id,
                params=cast(Any, dict(params)),
                options={"idempotency_key": idempotency_key},
            ),
        )

    # -- invoices ---------------------------------------------------------------------------

    def create_invoice(
        self, params: Mapping[str, Any], *, idempotency_key: str
    ) -> tuple[stripe.Invoice, bool]:
        """Create an invoice; also say whether Stripe replayed an earlier result for the key."""
        invoice = self.call(
            "create_invoice",
            lambda: self._client.v1.invoices.create(
                params=cast(Any, dict(params)), options={"idempotency_key": idempotency_key}
            ),
        )
        return invoice, replayed(invoice)

    def add_invoice_lines(
        self, invoice_id: str, lines: list[dict[str, Any]], *, idempotency_key: str
    ) -> stripe.Invoice:
        return self.call(
            "add_invoice_lines",
            lambda: self._client.v1.invoices.add_lines(
                invoice_id,
                params=cast(Any, {"lines": lines}),
                options={"idempotency_key": idempotency_key},
            ),
        )

    def finalize_invoice(self, invoice_id: str, *, idempotency_key: str) -> stripe.Invoice:
        return self.call(
            "finalize_invoice",
            lambda: self._client.v1.invoices.finalize_invoice(
                invoice_id,
                params={"auto_advance": False},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> stripe.Invoice:
        return self.call(
            "void_invoice",
            lambda: self._client.v1.invoices.void_invoice(
                invoice_id, options={"idempotency_key": idempotency_key}
            ),
        )

    def pay_invoice_out_of_band(self, invoice_id: str, *, idempotency_key: str) -> stripe.Invoice:
        return self.call(
            "pay_invoice_out_of_band",
            lambda: self._client.v1.invoices.pay(
                invoice_id,
                params={"paid_out_of_band": True},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def send_invoice(self, invoice_id: str, *, idempotency_key: str) -> stripe.Invoice:
        return self.call(
            "send_invoice",
            lambda: self._client.v1.invoices.send_invoice(
                invoice_id, options={"idempotency_key": idempotency_key}
            ),
        )

    def create_credit_note(
        self, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.CreditNote:
        return self.call(
            "create_credit_note",
            lambda: self._client.v1.credit_notes.create(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            ),
        )

    def list_credit_notes(self, params: Mapping[str, Any]) -> Iterator[stripe.CreditNote]:
        return self._pages(
            "list_credit_notes",
            lambda p: self._client.v1.credit_notes.list(params=cast(Any, p)),
            params,
        )

    def report_payment(
        self, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.PaymentRecord:
        return self.call(
            "report_payment",
            lambda: self._client.v1.payment_records.report_payment(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            ),
        )

    def attach_payment_record(
        self, invoice_id: str, record_id: str, *, idempotency_key: str
    ) -> stripe.Invoice:
        return self.call(
            "attach_payment",
            lambda: self._client.v1.invoices.attach_payment(
                invoice_id,
                params={"payment_record": record_id},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def retrieve_invoice(self, invoice_id: str, expand: list[str] | None = None) -> stripe.Invoice:
        params: dict[str, Any] = {"expand": expand} if expand else {}
        return self.call(
            "retrieve_invoice",
            lambda: self._client.v1.invoices.retrieve(invoice_id, params=cast(Any, params)),
        )

    def search_invoices(self, query: str) -> list[stripe.Invoice]:
        """All search results (eventually consistent: never for read-after-write)."""
        found: list[stripe.Invoice] = self._search(
            "search_invoices", self._client.v1.invoices.search, query
        )
        return found

    def delete_invoice(self, invoice_id: str) -> stripe.Invoice:
        """Delete a draft (Stripe refuses any other status); a DELETE needs no key (§11)."""
        return self.call("delete_invoice", lambda: self._client.v1.invoices.delete(invoice_id))

    def list_invoices(self, params: Mapping[str, Any]) -> Iterator[stripe.Invoice]:
        return self._pages(
            "list_invoices", lambda p: self._client.v1.invoices.list(params=cast(Any, p)), params
        )

    def list_invoice_payments(self, params: Mapping[str, Any]) -> Iterator[stripe.InvoicePayment]:
        return self._pages(
            "list_invoice_payments",
            lambda p: self._client.v1.invoice_payments.list(params=cast(Any, p)),
            params,
        )

    # -- charges, refunds, payouts, balance transactions ----------------------------------------

    def retrieve_charge(self, charge_id: str, expand: list[str] | None = None) -> stripe.Charge:
        params: dict[str, Any] = {"expand": expand} if expand else {}
        return self.call(
            "retrieve_charge",
            lambda: self._client.v1.charges.retrieve(charge_id, params=cast(Any, params)),
        )

    def update_charge(
        self, charge_id: str, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.Charge:
        """``ChargeService.update`` (``POST /v1/charges/{id}``): metadata merges (16.1.0)."""
        return self.call(
            "update_charge",
            lambda: self._client.v1.charges.update(
                charge_id,
                params=cast(Any, dict(params)),
                options={"idempotency_key": idempotency_key},
            ),
        )

    def update_payment_intent(
        self, intent_id: str, params: Mapping[str, Any], *, idempotency_key: str
    ) -> stripe.PaymentIntent:
        """``PaymentIntentService.update`` (``POST /v1/payment_intents/{id}``), no confirm."""
        return self.call(
            "update_payment_intent",
            lambda: self._client.v1.payment_intents.update(
                intent_id,
                params=cast(Any, dict(params)),
                options={"idempotency_key": idempotency_key},
            ),
        )

    def list_charges(self, params: Mapping[str, Any]) -> Iterator[stripe.Charge]:
        return self._pages(
            "list_charges", lambda p: self._client.v1.charges.list(params=cast(Any, p)), params
        )

    def list_refunds(self, params: Mapping[str, Any]) -> Iterator[stripe.Refund]:
        return self._pages(
            "list_refunds", lambda p: self._client.v1.refunds.list(params=cast(Any, p)), params
        )

    def retrieve_dispute(self, dispute_id: str) -> stripe.Dispute:
        return self.call("retrieve_dispute", lambda: self._client.v1.disputes.retrieve(dispute_id))

    def retrieve_payout(self, payout_id: str) -> stripe.Payout:
        return self.call("retrieve_payout", lambda: self._client.v1.payouts.retrieve(payout_id))

    def list_payouts(self, params: Mapping[str, Any]) -> Iterator[stripe.Payout]:
        return self._pages(
            "list_payouts", lambda p: self._client.v1.payouts.list(params=cast(Any, p)), params
        )

    def list_balance_transactions(
        self, params: Mapping[str, Any]
    ) -> Iterator[stripe.BalanceTransaction]:
        return self._pages(
            "list_balance_transactions",
            lambda p: self._client.v1.balance_transactions.list(params=cast(Any, p)),
            params,
        )

    # -- events, webhook endpoints, account -------------------------------------------------------

    def list_events(self, params: Mapping[str, Any]) -> Iterator[stripe.Event]:
        return self._pages(
            "list_events", lambda p: self._client.v1.events.list(params=cast(Any, p)), params
        )

    def create_webhook_endpoint(
        self, url: str, events: list[str], *, idempotency_key: str
    ) -> stripe.WebhookEndpoint:
        return self.call(
            "create_webhook_endpoint",
            lambda: self._client.v1.webhook_endpoints.create(
                params=cast(
                    Any,
                    {
                        "url": url,
                        "enabled_events": events,
                        "api_version": API_VERSION,
                        "description": "ml-connector stripe-gateway",
                    },
                ),
                options={"idempotency_key": idempotency_key},
            ),
        )

    def list_webhook_endpoints(self) -> Iterator[stripe.WebhookEndpoint]:
        return self._pages(
            "list_webhook_endpoints",
            lambda p: self._client.v1.webhook_endpoints.list(params=cast(Any, p)),
            {},
        )

    def retrieve_account(self) -> stripe.Account:
        return self.call("retrieve_account", lambda: self._client.v1.accounts.retrieve_current())

    def retrieve_balance(self) -> stripe.Balance:
        return self.call("retrieve_balance", lambda: self._client.v1.balance.retrieve())

    def _search(self, operation: str, search: Callable[..., Any], query: str) -> list[Any]:
        """Every page of a search (``next_page`` cursors), each page through ``call``."""
        found: list[Any] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"query": query, "limit": PAGE_SIZE}
            if page:
                params["page"] = page
            result = self.call(operation, functools.partial(search, params=cast(Any, params)))
            found.extend(result.data)
            if not result.has_more or not result.next_page:
                return found
            page = result.next_page

    def probe(self, resource: str) -> None:
        """A one-item list of ``resource`` (``customers``, ``payouts``...): can the key read it?"""
        service = getattr(self._client.v1, resource)
        self.call(f"probe_{resource}", lambda: service.list(params={"limit": 1}))


def replayed(obj: stripe.StripeObject) -> bool:
    """True when the response was Stripe replaying a stored result for the Idempotency-Key."""
    response = obj.last_response
    if response is None:
        return False
    return str(response.headers.get("Idempotent-Replayed", "")).lower() == "true"


def metadata_of(obj: stripe.StripeObject) -> dict[str, str]:
    """An object's metadata as a plain dict (a StripeObject is not a dict: no ``.get``)."""
    raw = getattr(obj, "metadata", None)
    if raw is None:
        return {}
    data = raw.to_dict() if isinstance(raw, stripe.StripeObject) else dict(raw)
    return {str(k): str(v) for k, v in data.items()}


def key_mode(api_key: str) -> str:
    """``live``, ``test`` or ``unknown`` from the key's prefix (sk_/rk_ live or test)."""
    if api_key.startswith(("sk_live_", "rk_live_")):
        return "live"
    if api_key.startswith(("sk_test_", "rk_test_")):
        return "test"
    return "unknown"


_KEY_TYPES = {"sk": "secret", "rk": "restricted", "pk": "publishable"}
_KEY_PREFIX = re.compile(r"(sk|rk|pk)_(test|live)_")
_KEY_BODY = re.compile(r"[A-Za-z0-9_]*")
# Stripe's keys carry 24 (older) to about 99 base62 characters after the prefix.
_SHORTEST_KEY_BODY = 24


def key_type(api_key: str) -> str:
    """``secret``, ``restricted``, ``publishable`` or ``unknown`` from the key's prefix."""
    match = _KEY_PREFIX.match(api_key)
    return _KEY_TYPES[match.group(1)] if match else "unknown"


def key_problem(api_key: str) -> str | None:
    """Why the key cannot be one Stripe issued, or None: a hint for a person once Stripe has
    refused it (401), never a reason to refuse it first (Stripe decides what a key is)."""
    match = _KEY_PREFIX.match(api_key)
    if match is None:
        return "no sk_live_, sk_test_, rk_live_ or rk_test_ prefix"
    body = api_key[match.end() :]
    if not body:
        return f"nothing after its {match.group(0)} prefix"
    if _KEY_BODY.fullmatch(body) is None:
        return "characters no Stripe key has (spaces, quotes, dots or brackets)"
    if len(body) < _SHORTEST_KEY_BODY:
        return f"shorter than any Stripe key ({len(body)} characters after the prefix)"
    return None
