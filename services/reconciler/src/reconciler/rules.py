"""The firm's posting rules and the ports handlers use, gathered in one object per process."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from reconciler.adapters.gateways import BcGateway
from reconciler.adapters.gateways import StripeGateway
from reconciler.kill_points import KillSwitch


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
    # BC's local currency: standard journal lines post in it only (bc-api.md §4.11).
    lcy_currency: str = "usd"


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
