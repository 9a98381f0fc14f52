"""The two gateway ports the handlers use, and their HTTP implementations.

Handlers depend on the ``StripeGateway`` and ``BcGateway`` protocols only; ``bootstrap`` picks
the HTTP implementations with the URLs from settings. Each method is one command of a gateway's
internal API and returns its JSON body as a dict (amounts as ``Decimal`` or int minor units),
except the open-invoice search, whose query and rows are dataclasses (``open_invoices``).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol
from urllib.parse import quote

from reconciler.adapters.http import Authorization
from reconciler.adapters.http import GatewayUnavailable
from reconciler.adapters.http import JsonGateway
from reconciler.adapters.open_invoices import MalformedAnswer
from reconciler.adapters.open_invoices import OpenInvoiceQuery
from reconciler.adapters.open_invoices import OpenInvoices
from reconciler.adapters.open_invoices import parse_open_invoices

Json = dict[str, Any]
# How long a gateway may take over its connection report: a person is waiting on a page.
CONNECTION_TIMEOUT_S = 8.0
# How long the subscription list may take: one BC call, asked while a page is being rendered.
SUBSCRIPTIONS_TIMEOUT_S = 6.0


class StripeGateway(Protocol):
    def ensure_customer(self, command: Mapping[str, Any]) -> Json:
        """Find or create the Stripe customer for a BC customer; update it when it differs."""

    def create_invoice(self, command: Mapping[str, Any]) -> Json:
        """Create (or resume) and finalize the Stripe invoice for a BC invoice."""

    def get_invoice(self, invoice_id: str) -> Json:
        """An invoice with its payments."""

    def find_invoice_for_bc(
        self, bc_company_id: str, bc_invoice_id: str, stripe_customer_id: str | None
    ) -> Json:
        """The invoice a push made for a BC invoice, by its metadata: ``{"invoice": {...} or
        None, "matched_by": "customer" | "search", "candidates": n}``. With the customer its
        invoices are listed (strongly consistent); without, Stripe's search (may lag)."""

    def delete_draft_invoice(self, invoice_id: str) -> Json:
        """Delete a draft invoice (``invalid_state`` once it is finalized); idempotent."""

    def get_charge(self, charge_id: str) -> Json:
        """A charge with its refunds, payment intent and invoice."""

    def get_charge_invoice_payment(self, charge_id: str, payment_intent: str) -> Json:
        """The invoice a charge paid (``invoice``, ``invoice_payment``; nulls if none), in one
        Stripe call."""

    def set_bc_references(self, charge_id: str, references: Mapping[str, str]) -> Json:
        """Write a person's match (``bc_company_id``, ``bc_invoice_id``, ``bc_invoice_number``,
        ``matched_by``) into the charge's and its PaymentIntent's metadata: ``{charge,
        payment_intent, metadata, unchanged, invoice}``. ``GatewayRejected`` with code
        ``already_matched`` when the payment names another BC invoice (nothing written)."""

    def void_invoice(self, invoice_id: str) -> Json:
        """Void an open invoice (voiding a void one answers with it)."""

    def send_invoice(self, invoice_id: str) -> Json:
        """Stripe e-mails the invoice to the client (once)."""

    def pay_elsewhere(self, invoice_id: str, command: Mapping[str, Any]) -> Json:
        """Record money paid outside Stripe (``invoice``, ``how``); idempotent on ``key``."""

    def credit_invoice(self, invoice_id: str, command: Mapping[str, Any]) -> Json:
        """A credit note (``invoice``, ``credit_note``), idempotent on the command's ``key``."""

    def get_dispute(self, dispute_id: str) -> Json:
        """A dispute with its reason, evidence deadline and every balance transaction it moved."""

    def get_payout(self, payout_id: str) -> Json:
        """A payout."""

    def payout_balance_transactions(self, payout_id: str) -> list[Json]:
        """Every balance transaction settled by a payout."""

    def balance(self) -> Json:
        """Stripe's balance: ``available`` and ``pending`` minor units by currency."""

    def balance_transactions_since(self, created_gte: int) -> list[Json]:
        """Every balance transaction created since a unix time."""

    def payouts_since(self, created_gte: int) -> list[Json]:
        """Every payout created since a unix time."""

    def connection(self, timeout_s: float = CONNECTION_TIMEOUT_S) -> Json:
        """The gateway's connection report (key, account, webhook endpoints, read access), each
        check ``{ok, detail, ...}``; the gateway answers within ``timeout_s`` seconds."""


class BcGateway(Protocol):
    def get_invoice(self, invoice_id: str) -> Json:
        """A sales invoice with its lines and its customer."""

    def get_customer(self, customer_id: str) -> Json:
        """A customer."""

    def get_credit_memo(self, memo_id: str) -> Json:
        """A sales credit memo with its lines; ``posted`` and the ``invoice_id`` it applies to."""

    def credit_memos_of(self, invoice_id: str) -> list[Json]:
        """The credit memos naming an invoice (headers, ``posted`` says which are posted)."""

    def search_open_invoices(self, query: OpenInvoiceQuery) -> OpenInvoices:
        """Open invoices matching every criterion of ``query``, by due date, at most ``top``:
        the candidates a clerk chooses from for a payment the connector could not match."""

    def create_payment(self, command: Mapping[str, Any]) -> Json:
        """A customer payment (or refund) line, idempotent on the external document number.

        A payment above the invoice's remaining amount is refused (``amount_exceeds_remaining``)
        unless the command carries ``"overpayment": true``.
        """

    def post_journal(self, journal: str, check: Sequence[Mapping[str, Any]] = ()) -> Json:
        """Post the connector's own payment batch; ``check``: payment lines to hold against
        their invoices' open amounts first (those that overpay come back in ``overpaid``)."""

    def create_general_journal_lines(self, command: Mapping[str, Any]) -> Json:
        """General journal lines (payout fees and transfers), idempotent per line.

        The command's ``limit`` bounds every line's absolute amount (what the payout settled);
        its ``currency`` is what BC must book every line in.
        """

    def lcy_amounts(self, currency: str, posting_date: str, amounts: Sequence[str]) -> Json:
        """BC's local-currency value of amounts in ``currency`` posted on ``posting_date``."""

    def gl_balance(self, number: str) -> Json:
        """A G/L account's balance in the local currency (``balance`` as a decimal string)."""

    def connection(self, timeout_s: float = CONNECTION_TIMEOUT_S) -> Json:
        """The gateway's connection report (token, company, permissions, webhook
        subscriptions), each check ``{ok, detail, ...}``; answered within ``timeout_s``."""

    def subscriptions(self, timeout_s: float = SUBSCRIPTIONS_TIMEOUT_S) -> Json:
        """BC's webhook subscriptions (one BC call): ``value`` rows with ``entity``,
        ``expires_at``, ``ours``, ``expired`` and ``expiring_soon`` (the connection report's
        rows), plus ``notification_url`` and ``checked_at``; ``GatewayUnavailable`` when no
        answer comes within ``timeout_s``."""


class HttpStripeGateway:
    def __init__(
        self, base_url: str, timeout_s: float = 60.0, *, authorization: Authorization | None = None
    ) -> None:
        self._http = JsonGateway(
            base_url, name="stripe-gateway", timeout_s=timeout_s, authorization=authorization
        )

    def ensure_customer(self, command: Mapping[str, Any]) -> Json:
        return self._http.post("/commands/customers/ensure", command)

    def create_invoice(self, command: Mapping[str, Any]) -> Json:
        return self._http.post("/commands/invoices", command)

    def get_invoice(self, invoice_id: str) -> Json:
        return self._http.get(f"/commands/invoices/{quote(invoice_id, safe='')}")

    def find_invoice_for_bc(
        self, bc_company_id: str, bc_invoice_id: str, stripe_customer_id: str | None
    ) -> Json:
        params = {"bc_company_id": bc_company_id, "bc_invoice_id": bc_invoice_id}
        if stripe_customer_id:
            params["stripe_customer_id"] = stripe_customer_id
        return self._http.get("/commands/invoices/by-bc", params)

    def delete_draft_invoice(self, invoice_id: str) -> Json:
        return self._http.post(f"/commands/invoices/{quote(invoice_id, safe='')}/delete-draft")

    def get_charge(self, charge_id: str) -> Json:
        return self._http.get(f"/commands/charges/{quote(charge_id, safe='')}")

    def get_charge_invoice_payment(self, charge_id: str, payment_intent: str) -> Json:
        return self._http.get(
            f"/commands/charges/{quote(charge_id, safe='')}/invoice-payment",
            {"payment_intent": payment_intent},
        )

    def set_bc_references(self, charge_id: str, references: Mapping[str, str]) -> Json:
        return self._http.post(
            f"/commands/charges/{quote(charge_id, safe='')}/bc-references", dict(references)
        )

    def void_invoice(self, invoice_id: str) -> Json:
        return self._http.post(f"/commands/invoices/{quote(invoice_id, safe='')}/void")

    def send_invoice(self, invoice_id: str) -> Json:
        return self._http.post(f"/commands/invoices/{quote(invoice_id, safe='')}/send")

    def pay_elsewhere(self, invoice_id: str, command: Mapping[str, Any]) -> Json:
        return self._http.post(
            f"/commands/invoices/{quote(invoice_id, safe='')}/paid-elsewhere", command
        )

    def credit_invoice(self, invoice_id: str, command: Mapping[str, Any]) -> Json:
        return self._http.post(
            f"/commands/invoices/{quote(invoice_id, safe='')}/credit-notes", command
        )

    def get_dispute(self, dispute_id: str) -> Json:
        return self._http.get(f"/commands/disputes/{quote(dispute_id, safe='')}")

    def get_payout(self, payout_id: str) -> Json:
        return self._http.get(f"/commands/payouts/{quote(payout_id, safe='')}")

    def payout_balance_transactions(self, payout_id: str) -> list[Json]:
        body = self._http.get(f"/commands/payouts/{quote(payout_id, safe='')}/balance-transactions")
        data: list[Json] = body.get("data", [])
        return data

    def balance(self) -> Json:
        return self._http.get("/commands/balance")

    def balance_transactions_since(self, created_gte: int) -> list[Json]:
        body = self._http.get("/commands/balance-transactions", {"created_gte": str(created_gte)})
        data: list[Json] = body.get("data", [])
        return data

    def payouts_since(self, created_gte: int) -> list[Json]:
        body = self._http.get("/commands/payouts", {"created_gte": str(created_gte)})
        data: list[Json] = body.get("data", [])
        return data

    def connection(self, timeout_s: float = CONNECTION_TIMEOUT_S) -> Json:
        return self._http.get("/commands/connection", {"timeout": f"{timeout_s:g}"})


class HttpBcGateway:
    def __init__(
        self, base_url: str, timeout_s: float = 60.0, *, authorization: Authorization | None = None
    ) -> None:
        self._http = JsonGateway(
            base_url, name="bc-gateway", timeout_s=timeout_s, authorization=authorization
        )

    def get_invoice(self, invoice_id: str) -> Json:
        return self._http.get(f"/commands/invoices/{quote(invoice_id, safe='')}")

    def get_customer(self, customer_id: str) -> Json:
        return self._http.get(f"/commands/customers/{quote(customer_id, safe='')}")

    def get_credit_memo(self, memo_id: str) -> Json:
        return self._http.get(f"/commands/credit-memos/{quote(memo_id, safe='')}")

    def credit_memos_of(self, invoice_id: str) -> list[Json]:
        body = self._http.get(f"/commands/invoices/{quote(invoice_id, safe='')}/credit-memos")
        data: list[Json] = body.get("value", [])
        return data

    def search_open_invoices(self, query: OpenInvoiceQuery) -> OpenInvoices:
        body = self._http.get("/commands/invoices/open", query.params())
        try:
            return parse_open_invoices(body)
        except MalformedAnswer as exc:
            # As for any answer the client cannot read (``http``): a gateway mid-upgrade.
            raise GatewayUnavailable(f"bc-gateway's open invoices cannot be read: {exc}") from exc

    def create_payment(self, command: Mapping[str, Any]) -> Json:
        return self._http.post("/commands/payments", command)

    def post_journal(self, journal: str, check: Sequence[Mapping[str, Any]] = ()) -> Json:
        # The poster knows its lines from its own records: no listing first (one BC call).
        return self._http.post(
            f"/commands/payment-journals/{quote(journal, safe='')}/post?report=false",
            {"check": list(check)},
        )

    def create_general_journal_lines(self, command: Mapping[str, Any]) -> Json:
        return self._http.post("/commands/general-journal-lines", command)

    def gl_balance(self, number: str) -> Json:
        return self._http.get(f"/commands/gl-accounts/{quote(number, safe='')}/balance")

    def lcy_amounts(self, currency: str, posting_date: str, amounts: Sequence[str]) -> Json:
        return self._http.post(
            "/commands/lcy-amounts",
            {"currency": currency, "posting_date": posting_date, "amounts": list(amounts)},
        )

    def connection(self, timeout_s: float = CONNECTION_TIMEOUT_S) -> Json:
        return self._http.get("/commands/connection", {"timeout": f"{timeout_s:g}"})

    def subscriptions(self, timeout_s: float = SUBSCRIPTIONS_TIMEOUT_S) -> Json:
        # The gateway's command has no deadline of its own (BC's retry budget bounds it):
        # the HTTP timeout is what keeps a page from waiting on a slow BC.
        return self._http.get("/commands/subscriptions", timeout_s=timeout_s)
