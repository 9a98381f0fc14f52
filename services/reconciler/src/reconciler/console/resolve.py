"""Applying an unmatched Stripe payment to the BC invoice a clerk chose.

Nothing is applied until a Clerk confirms. Applying does not write to BC from here: it writes
the BC references into the Stripe charge's metadata (stripe-gateway, which refuses to overwrite
a different match) and replays the payment record, so the payment takes the same path as an
automatic one, with the same checks (open amount, currency), the same idempotency (one posting
per charge) and the same audit trail; and every later event for that charge matches by itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from reconciler.adapters.open_invoices import OpenInvoice
from reconciler.adapters.open_invoices import OpenInvoiceQuery
from reconciler.rules import HandlerDeps
from reconciler.suggestions import PaymentFacts
from reconciler.suggestions import Suggestion
from reconciler.suggestions import candidate_queries
from reconciler.suggestions import invoice_hints
from reconciler.suggestions import rank


@dataclasses.dataclass(frozen=True)
class Candidates:
    facts: PaymentFacts
    charge: dict[str, Any]
    suggestions: list[Suggestion]
    more: bool


def payment_facts(record_amount: int, currency: str, charge: dict[str, Any]) -> PaymentFacts:
    """What the Stripe charge tells about who paid what, for ranking the invoices."""
    billing = charge.get("billing_details") or {}
    created = charge.get("created")
    paid_on = (
        dt.datetime.fromtimestamp(int(created), dt.UTC).date()
        if isinstance(created, int)
        else dt.datetime.now(dt.UTC).date()
    )
    metadata = charge.get("metadata") or {}
    return PaymentFacts(
        amount_minor=int(record_amount),
        currency=currency,
        paid_on=paid_on,
        customer_email=str(billing.get("email") or charge.get("receipt_email") or ""),
        customer_name=str(billing.get("name") or ""),
        invoice_hints=invoice_hints(
            charge.get("description"), charge.get("statement_descriptor"), *metadata.values()
        ),
    )


def _search(
    deps: HandlerDeps, queries: Iterable[OpenInvoiceQuery]
) -> tuple[list[OpenInvoice], bool]:
    found: dict[str, OpenInvoice] = {}
    more = False
    for query in queries:
        answer = deps.bc.search_open_invoices(query)
        more = more or answer.more
        for invoice in answer.invoices:
            found.setdefault(invoice.id, invoice)
    return list(found.values()), more


def candidates(
    deps: HandlerDeps, charge_id: str, amount_minor: int, currency: str, typed: str | None
) -> Candidates:
    """Suggestions for the payment, plus what the clerk searched for, most likely first."""
    charge = deps.stripe.get_charge(charge_id)
    facts = payment_facts(amount_minor, currency, charge)
    queries = list(candidate_queries(facts))
    if typed:
        queries.insert(0, OpenInvoiceQuery(q=typed))
    invoices, more = _search(deps, queries)
    return Candidates(facts, charge, rank(facts, invoices), more)
