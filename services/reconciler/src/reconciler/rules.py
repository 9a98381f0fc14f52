"""The firm's posting rules and the ports handlers use, gathered in one object per process."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from collections.abc import Mapping

from mlconnector.clearing import CurrencyClearing
from reconciler.adapters.gateways import BcGateway
from reconciler.adapters.gateways import StripeGateway
from reconciler.kill_points import KillSwitch

GL = "G/L Account"
BANK = "Bank Account"


@dataclasses.dataclass(frozen=True)
class Rules:
    """Where the connector posts in BC, and what it posts without a person's review."""

    payment_journal: str = "STRIPE"
    refund_journal: str = "STRIPEREF"
    payout_journal: str = "PAYOUT"
    auto_post_payments: bool = True
    auto_post_refunds: bool = False
    fee_account: str = "60100"
    bank_account: str = "CHECKING"
    clearing_account: str = "10900"
    # BC's local currency: the clearing G/L account and CHECKING book in it.
    lcy_currency: str = "usd"
    # The other accounts of docs/accounting.md ("Entries").
    refund_account: str = "20700"
    dispute_account: str = "11600"
    dispute_fee_account: str = "60120"
    fee_tax_account: str | None = None
    fx_account: str = "79100"
    # Currencies Stripe settles as charged, and the firm's bank account for their payouts.
    currency_clearing: Mapping[str, CurrencyClearing] = dataclasses.field(default_factory=dict)
    payout_banks: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # What a BC credit memo does to what the client already paid in Stripe (handlers.credit_memos).
    credit_after_payment: str = "customer_balance"
    # How the client learns of a pushed invoice: the firm sends its own BC document (``firm``,
    # the Stripe payment link kept on the record), or Stripe e-mails it (``stripe_email``).
    invoice_delivery: str = "firm"

    def clearing_for(self, currency: str) -> tuple[str, str]:
        """The clearing account of Stripe's money in ``currency``: (account type, number).

        A currency Stripe settles as charged sits on its bank account in that currency;
        everything else (the LCY, and currencies Stripe converts) on the clearing G/L account.
        """
        clearing = self.currency_clearing.get(currency.lower())
        if clearing is not None:
            return BANK, clearing.bank_account
        return GL, self.clearing_account

    def payment_journal_for(self, currency: str) -> str:
        """The payment batch whose balancing account is that clearing account."""
        clearing = self.currency_clearing.get(currency.lower())
        return clearing.journal if clearing is not None else self.payment_journal

    def settles_as_charged(self, currency: str) -> bool:
        """Whether Stripe keeps ``currency`` as it is (the LCY, or a configured clearing)."""
        return currency.lower() == self.lcy_currency or currency.lower() in self.currency_clearing

    def payout_bank(self, currency: str) -> str | None:
        """The firm's bank account for payouts in ``currency``; None when none is set."""
        if currency.lower() == self.lcy_currency:
            return self.bank_account
        return self.payout_banks.get(currency.lower())

    @property
    def tax_on_fee_account(self) -> str:
        return self.fee_tax_account or self.fee_account


@dataclasses.dataclass(frozen=True)
class HandlerDeps:
    stripe: StripeGateway
    bc: BcGateway
    rules: Rules
    today: Callable[[], dt.date] = dt.date.today
    # How long a posting or payout claim keeps rivals out (longer than any gateway call).
    claim_lease_s: float = 120.0
    # Crash tests only (``kill_points``): called at each named step, kills when armed for it.
    kill: Callable[[str], None] = KillSwitch()
