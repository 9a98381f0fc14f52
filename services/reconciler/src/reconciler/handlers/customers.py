"""Customers: find or create the Stripe customer for a BC customer, and keep it up to date.

The link table is the first place to look; the stripe-gateway then checks the hint, searches
Stripe by the BC ids in metadata, then by email, and only then creates a customer. A linked
customer whose details are what was last sent (``synced_digest``) costs no call at all, so an
invoice for a known customer is three Stripe calls (issue 15). A change to a
linked BC customer (a notification or a poll) updates the Stripe customer; an unlinked one is
left for the first invoice to bring over. Every sync also keeps the BC customer's name and
e-mail on the link, Stripe call or not: the review console finds a customer by them (issue 12).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from reconciler.adapters.http import GatewayNotFound
from reconciler.models import AuditOutcome
from reconciler.models import CustomerLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def _link(unit: Unit, company_id: str, customer_id: str) -> CustomerLink | None:
    return unit.read(
        lambda s: s.scalar(
            select(CustomerLink).where(
                CustomerLink.bc_company_id == company_id,
                CustomerLink.bc_customer_id == customer_id,
            )
        )
    )


def ensure_stripe_customer(
    unit: Unit,
    record_id: int,
    company_id: str,
    customer: Mapping[str, Any],
    *,
    verify: bool = False,
) -> str:
    """The Stripe customer id for a BC customer, linking the two if they were not yet.

    ``verify``: ask the stripe-gateway even when nothing changed (a retry of a record that
    failed before: the Stripe customer may be what failed it).
    """
    deps: HandlerDeps = unit.deps
    customer_id = str(customer["id"])
    link = _link(unit, company_id, customer_id)
    command = {
        "bc_company_id": company_id,
        "bc_customer_id": customer_id,
        "bc_customer_number": str(customer.get("number", "")),
        "name": str(customer.get("displayName") or customer.get("name") or ""),
        "email": customer.get("email") or None,
        "link_hint": link.stripe_customer_id if link else None,
    }
    digest = customer_digest(command)
    if not verify and link is not None and link.synced_digest == digest:
        unit.step(
            record_id,
            "decided",
            f"Stripe customer {link.stripe_customer_id} already has BC customer "
            f"{command['bc_customer_number']}'s details as they are now; no Stripe call",
            outcome=AuditOutcome.SKIPPED,
        )
        if not _names_as(link, command):
            # A link made before it kept names (migration 0010): nothing to tell Stripe, but
            # the console's search needs them. No later step reads them: the closing
            # transaction writes them.
            link_id = link.id
            unit.later(lambda session: keep_names(session.get_one(CustomerLink, link_id), command))
        return link.stripe_customer_id
    result = unit.call(
        record_id,
        f"ensured the Stripe customer for BC customer {command['bc_customer_number']}",
        deps.stripe.ensure_customer,
        command,
        request={"bc_customer_number": command["bc_customer_number"], "hint": command["link_hint"]},
    )
    stripe_customer_id = str(result["stripe_customer_id"])
    with unit.tx() as session:
        existing = session.scalar(
            select(CustomerLink).where(
                CustomerLink.bc_company_id == company_id,
                CustomerLink.bc_customer_id == customer_id,
            )
        )
        if existing is None:
            existing = CustomerLink(
                bc_company_id=company_id,
                bc_customer_id=customer_id,
                bc_customer_number=command["bc_customer_number"],
            )
            session.add(existing)
        existing.stripe_customer_id = stripe_customer_id
        existing.synced_digest = digest
        keep_names(existing, command)
    return stripe_customer_id


def _names_as(link: CustomerLink, command: Mapping[str, Any]) -> bool:
    """Whether the link already keeps the name and e-mail the command carries.

    A value the link keeps trimmed reads as different here: its write then changes nothing.
    """
    return (link.name, link.email) == (command["name"] or None, command["email"] or None)


def keep_names(link: CustomerLink, details: Mapping[str, Any]) -> None:
    """The BC customer's ``name`` and ``email`` (from ``details``) on its link.

    Every sync writes them, whether or not Stripe needed a call: the link is where the
    console finds a customer by what a clerk knows them as (``console.queue_data``). Values
    the link already holds make no UPDATE (the ORM writes changed columns only).
    """
    link.name = str(details.get("name") or "") or None
    link.email = str(details.get("email") or "") or None


def customer_digest(command: Mapping[str, Any]) -> str:
    """What the stripe-gateway made the Stripe customer match: the same digest, nothing to do.

    The hint is left out: it is where to look, not what the customer is. A change made in
    Stripe (a Dashboard edit) is not seen here; it comes as a Stripe event of its own.
    """
    details = {k: v for k, v in command.items() if k != "link_hint"}
    return hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()


def on_customer_notification(unit: Unit) -> None:
    data = unit.envelope.data
    if not data.get("entity_id") or not data.get("company_id"):
        unit.step(
            None, "ignored", "notification names no single customer", outcome=AuditOutcome.SKIPPED
        )
        return
    sync_customer(unit, str(data["company_id"]), str(data["entity_id"]))


def on_customer_observed(unit: Unit) -> None:
    data = unit.envelope.data
    sync_customer(unit, str(data["company_id"]), str(data["entity_id"]))


def sync_customer(unit: Unit, company_id: str, customer_id: str) -> None:
    deps: HandlerDeps = unit.deps
    if _link(unit, company_id, customer_id) is None:
        unit.step(
            None,
            "ignored",
            f"BC customer {customer_id} is not linked to Stripe yet; its first invoice links it",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    record_id = unit.record(
        RecordKind.CUSTOMER,
        f"bc:{company_id}:customer:{customer_id}",
        bc_company_id=company_id,
        bc_ref=customer_id,
    )
    try:
        customer = unit.call(
            record_id, f"fetched BC customer {customer_id}", deps.bc.get_customer, customer_id
        )
    except GatewayNotFound:
        unit.update(record_id, state=RecordState.SKIPPED, last_error="BC customer not found")
        return
    stripe_id = ensure_stripe_customer(unit, record_id, company_id, customer)
    unit.step(
        record_id,
        "result",
        f"Stripe customer {stripe_id} matches BC customer {customer.get('number')}",
    )
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        stripe_ref=stripe_id,
        bc_number=str(customer.get("number", "")),
        last_error=None,
    )
