"""Finding the Stripe invoice the connector made for a BC invoice, and removing a stray draft.

A push whose answer was lost leaves the reconciler without the Stripe invoice's id, but the
invoice carries the BC ids in its metadata (``bc_company_id``, ``bc_invoice_id``), so it can be
found again, from the strongest evidence to the weakest:

- by listing the Stripe customer's invoices, when the caller names the customer (the reconciler
  does: it links the customer before any push). A list is strongly consistent, so an invoice
  created a moment ago is in it (the push's own resume uses the same list);
- otherwise through the Search API, ``metadata['bc_invoice_id']:'…' AND
  metadata['bc_company_id']:'…'``. Search is eventually consistent: an object is normally
  searchable within a minute, up to an hour during outages (stripe-api.md §4), so a miss there
  means "not found yet", and the answer says which way was used.

Replaying the push's ``create-draft`` idempotency key is no lookup: it is a POST that creates a
draft when no earlier attempt got as far, it must carry exactly the first request's parameters
(``days_until_due`` changes from one day to the next), and Stripe forgets keys after 24 hours
(stripe-api.md §11).

Every match is checked on both BC ids; among several (a voided invoice and its successor) a
non-void one wins, then the oldest.

A draft found this way for a BC invoice that no longer wants a push (paid or canceled in BC
meanwhile) is deleted, not voided: Stripe voids finalized invoices only and deletes drafts only
(stripe-api.md §5). A draft has no number and was never sent (no hosted page, no PDF until it is
finalized), so deleting it leaves nothing the client saw; and Stripe refuses the delete once the
invoice is finalized, so a finalize racing with it can never be undone by it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

import stripe

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import metadata_of
from stripe_gateway.services.customers import quote
from stripe_gateway.stripe_errors import Disposition

logger = logging.getLogger(__name__)

BY_CUSTOMER = "customer"
BY_SEARCH = "search"


@dataclasses.dataclass(frozen=True)
class FoundInvoice:
    invoice: stripe.Invoice | None  # the preferred match, if any
    matched_by: str  # BY_CUSTOMER (strongly consistent) or BY_SEARCH (eventually consistent)
    candidates: int  # how many invoices carry the BC ids


def is_ours(invoice: stripe.Invoice, bc_company_id: str, bc_invoice_id: str) -> bool:
    metadata = metadata_of(invoice)
    return (
        metadata.get("bc_invoice_id") == bc_invoice_id
        and metadata.get("bc_company_id") == bc_company_id
    )


def preferred(invoices: Iterable[stripe.Invoice]) -> stripe.Invoice | None:
    """A non-void invoice before a void one, then the oldest (then the smallest id)."""
    ranked = sorted(invoices, key=lambda inv: (inv.status == "void", inv.created, inv.id))
    return ranked[0] if ranked else None


def find_bc_invoice(
    client: StripeClient,
    *,
    bc_company_id: str,
    bc_invoice_id: str,
    stripe_customer_id: str | None = None,
) -> FoundInvoice:
    """The Stripe invoice carrying these BC ids: the customer's list, or search without one."""
    if stripe_customer_id:
        listed = client.list_invoices({"customer": stripe_customer_id})
        how, candidates = BY_CUSTOMER, list(listed)
    else:
        query = (
            f"metadata['bc_invoice_id']:{quote(bc_invoice_id)} AND "
            f"metadata['bc_company_id']:{quote(bc_company_id)}"
        )
        how, candidates = BY_SEARCH, client.search_invoices(query)
    ours = [i for i in candidates if is_ours(i, bc_company_id, bc_invoice_id)]
    if len(ours) > 1:
        logger.warning(
            "%d Stripe invoices carry BC invoice %s; preferring a non-void one",
            len(ours),
            bc_invoice_id,
        )
    return FoundInvoice(preferred(ours), matched_by=how, candidates=len(ours))


def delete_draft(client: StripeClient, invoice_id: str) -> bool:
    """Delete a draft invoice; ``False`` when it was already gone.

    An invoice that is no longer a draft is refused with 409 ``invalid_state`` naming its
    status, so the caller re-reads it rather than assuming it vanished.
    """
    try:
        client.delete_invoice(invoice_id)
    except StripeCallError as exc:
        if exc.verdict.case.name == "not_found":
            return False  # deleted by an earlier attempt (a DELETE is idempotent)
        if exc.verdict.disposition is not Disposition.PERMANENT:
            raise
        status = client.retrieve_invoice(invoice_id).status
        if status == "draft":
            raise
        raise ApiError(
            f"invoice {invoice_id} is {status}, no longer a draft; it was not deleted",
            status_code=409,
            code="invalid_state",
            details={"status": status},
        ) from exc
    logger.info("deleted draft invoice %s", invoice_id)
    return True
