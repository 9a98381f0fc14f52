"""The demo's business day: invoices in BC, card payments and a refund in Stripe, a payout.

Each step drives only the outside world (the BC and Stripe emulators, as the firm and its
clients would) and then waits for the connector to do its job, observed through the
reconciler's API. The same steps serve the end-to-end tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
import stripe

from mlc_local.processes import run_cli
from mlc_local.stack import FOREIGN
from mlc_local.stack import LocalStack

CUSTOMERS = [
    {"number": "C10000", "displayName": "Adatum Corporation", "email": "ap@adatum.example"},
    {
        "number": "C20000",
        "displayName": "Trey Research GmbH",
        "email": "billing@trey.example",
        "currencyCode": "EUR",
    },
    {
        "number": "C30000",
        "displayName": "Kobayashi Design KK",
        "email": "keiri@kobayashi.example",
        "currencyCode": "JPY",
    },
    {
        "number": "C40000",
        "displayName": "Gulf Trading Co.",
        "email": "accounts@gulf.example",
        "currencyCode": "KWD",
    },
]

INVOICES = [
    {
        "customerNumber": "C10000",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Advisory, November",
                "quantity": 12,
                "unitPrice": "185.00",
                "taxPercent": "8.25",
            },
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Travel",
                "quantity": 1,
                "unitPrice": "412.37",
            },
        ],
    },
    {
        "customerNumber": "C10000",
        "discountAmount": "50.00",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Workshop",
                "quantity": 2,
                "unitPrice": "1250.00",
            }
        ],
    },
    {
        "customerNumber": "C20000",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Beratung",
                "quantity": 8,
                "unitPrice": "210.00",
            }
        ],
    },
    {
        "customerNumber": "C30000",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Design review",
                "quantity": 3,
                "unitPrice": "48500",
            }
        ],
    },
    {
        "customerNumber": "C40000",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Market study",
                "quantity": 1,
                "unitPrice": "1240.250",
            }
        ],
    },
]


NUMERIC_KEYS = {"unitPrice", "taxPercent", "discountAmount", "quantity"}


def exact_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """The invoice body with its amounts as ``Decimal`` (written here as strings for exactness)."""
    out = {
        k: Decimal(v) if k in NUMERIC_KEYS and isinstance(v, str) else v for k, v in body.items()
    }
    if "lines" in body:
        out["lines"] = [exact_numbers(line) for line in body["lines"]]
    return out


class Connector:
    """What the demo and the tests observe: the reconciler API and the emulators."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._auth = {"Authorization": f"Bearer {stack.replay_token}"}

    def records(self, **filters: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 200, **filters}
        while True:
            response = requests.get(
                self.stack.url("reconciler") + "/records",
                params=params,
                headers=self._auth,
                timeout=10,
            )
            response.raise_for_status()
            body = response.json()
            out.extend(body["data"])
            if not body.get("next_cursor"):
                return out
            params["cursor"] = body["next_cursor"]

    def record(self, record_id: int) -> dict[str, Any]:
        response = requests.get(
            self.stack.url("reconciler") + f"/records/{record_id}", headers=self._auth, timeout=10
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def payout_view(self, payout_id: str) -> dict[str, Any]:
        response = requests.get(
            self.stack.url("reconciler") + f"/payouts/{payout_id}", headers=self._auth, timeout=10
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def replay(self, record_id: int, *, actor: str, reason: str) -> dict[str, Any]:
        response = requests.post(
            self.stack.url("reconciler") + f"/records/{record_id}/replay",
            json={"actor": actor, "reason": reason},
            headers=self._auth,
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def check_clearing(self, actor: str) -> list[dict[str, Any]]:
        """Run the drift check now (as the morning CronJob does): each currency's figures."""
        response = requests.post(
            self.stack.url("reconciler") + "/drift-checks",
            json={"actor": actor},
            headers=self._auth,
            timeout=60,
        )
        response.raise_for_status()
        currencies: list[dict[str, Any]] = response.json()["currencies"]
        return currencies

    def wait_for(
        self,
        what: str,
        done: Callable[[], bool],
        *,
        timeout: float = 60.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return
            if progress:
                progress(what)
            time.sleep(0.25)
        raise TimeoutError(f"timed out waiting for {what}")

    def settled(self, kind: str, count: int) -> bool:
        records = self.records(kind=kind)
        return len(records) >= count and all(r["state"] != "pending" for r in records)

    # -- BC side ---------------------------------------------------------------------------

    def create_customers(self) -> None:
        self.stack.bc_admin("POST", f"/companies/{self.stack.company_id}/customers", CUSTOMERS)

    def post_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.stack.bc_admin(
            "POST",
            f"/companies/{self.stack.company_id}/invoices",
            {**exact_numbers(body), "post": True},
        )
        return result

    def credit_memo(self, invoice: dict[str, Any], amount: str, text: str) -> dict[str, Any]:
        """The firm posts a credit memo applied to a posted invoice (one G/L line)."""
        result: dict[str, Any] = self.stack.bc_admin(
            "POST",
            f"/companies/{self.stack.company_id}/creditMemos",
            exact_numbers(
                {
                    "customerNumber": invoice["customerNumber"],
                    "invoiceId": invoice["id"],
                    "lines": [
                        {
                            "lineType": "Account",
                            "lineObjectNumber": "40100",
                            "description": text,
                            "quantity": "1",
                            "unitPrice": amount,
                        }
                    ],
                    "post": True,
                }
            ),
        )
        return result

    def pay_in_bc(self, invoice: dict[str, Any], amount: Decimal, reference: str) -> None:
        """A bank transfer the clerk applies to the invoice in BC (default cash receipts)."""
        [batch] = self.stack.bc_api_get("customerPaymentJournals", {"$filter": "code eq 'DEFAULT'"})
        self.stack.bc_api(
            "POST",
            f"customerPaymentJournals({batch['id']})/customerPayments",
            {
                "customerNumber": invoice["customerNumber"],
                "amount": -amount,
                "appliesToInvoiceId": invoice["id"],
                "postingDate": invoice["postingDate"],
                "documentNumber": reference,
                "description": f"Bank transfer {reference}",
            },
        )
        self.stack.bc_api("POST", f"journals({batch['id']})/Microsoft.NAV.post")

    def poll_bc(self) -> str:
        """What the 15-minute CronJob does: publish the invoices changed in the last 30 minutes."""
        return run_cli(["bc-gateway", "poll-invoices", "--since-minutes", "30"], self.stack.env)

    # -- Stripe side -----------------------------------------------------------------------

    def pay(self, stripe_invoice_id: str, amount: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.stack.stripe.pay_invoice(stripe_invoice_id, amount=amount)
        return result

    def pay_by_link(self, amount: int, currency: str, email: str, description: str) -> str:
        """A card payment taken outside Stripe invoicing (a payment link): it names no BC
        invoice in its metadata, so the connector leaves it to a person. Returns the charge."""
        client = stripe.StripeClient(
            self.stack.stripe_key,
            base_addresses={"api": self.stack.stripe.base_url},
            max_network_retries=0,
        )
        intent = client.v1.payment_intents.create(
            {
                "amount": amount,
                "currency": currency,
                "description": description,
                "receipt_email": email,
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        return str(intent.latest_charge)

    def refund(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.stack.stripe.refund(charge_id, amount=amount)
        return result

    def payout(self, currency: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.stack.stripe.payout(currency)
        return result

    def clearing_balance(self, account: str = "10900") -> Decimal:
        """Balance of the Stripe clearing account from BC's G/L entries: zero once paid out."""
        return self.gl_balance(account)

    def gl_balance(self, account: str) -> Decimal:
        """A G/L account's balance (LCY) from BC's G/L entries, through BC's API."""
        entries = self.stack.bc_api_get(
            "generalLedgerEntries", {"$filter": f"accountNumber eq '{account}'"}
        )
        return sum(
            (Decimal(str(e["debitAmount"])) - Decimal(str(e["creditAmount"])) for e in entries),
            Decimal(0),
        )

    def bank_balance(self, number: str) -> tuple[Decimal, Decimal]:
        """A bank account's balance in its currency and in LCY (the emulator's ledger)."""
        body = self.stack.bc_admin(
            "GET", f"/companies/{self.stack.company_id}/bankAccounts/{number}/balance"
        )
        return Decimal(str(body["balance"])), Decimal(str(body["balanceLcy"]))

    def clearing_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each currency's Stripe clearing account: (balance in the currency, in LCY)."""
        lcy = self.gl_balance("10900")
        out = {"USD": (lcy, lcy)}
        for code in FOREIGN:
            out[code] = self.bank_balance(f"STRIPE-{code}")
        return out

    def needing_a_person(self) -> list[dict[str, Any]]:
        """Records a person must look at: failed, unmatched, or flagged with what to do."""
        return [
            r
            for r in self.records()
            if r["state"] in ("failed", "unmatched") or (r.get("flags") or {}).get("needs_person")
        ]
