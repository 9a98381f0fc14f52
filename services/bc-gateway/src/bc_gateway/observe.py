"""Announce BC records on the bus: every page of a filtered collection, confirmed page by page.

Used by the webhook for a ``collection`` notification (more than 1,000 changes in BC's batching
window) and by ``poll-invoices``: both read the entity set through every ``@odata.nextLink`` with
a ``lastModifiedDateTime`` filter and publish one ``bc.invoice.observed`` (or
``bc.customer.observed``) per record, with the same deterministic message ids, so overlapping
windows and retries cost nothing downstream. Only the few fields the message needs are selected.

Memory is one page at a time: ``bc.pages`` yields each page as it is read, its messages are
published and confirmed, and only then is the next page requested. ``poll-invoices`` reads the
same records in change order so that it can resume after an interruption (``invoice_poll.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.odata import odata_datetime
from bc_gateway.adapters.odata import odata_string
from bc_gateway.enums import decode_enum
from bc_gateway.messages import OBSERVED_TYPES
from bc_gateway.messages import observed_envelope
from bc_gateway.notifications import parse_timestamp
from bc_gateway.publishing import Publish
from mlconnector.contracts import Envelope

logger = logging.getLogger(__name__)

SELECT = {
    # The amounts let the reconciler see an invoice paid another way in BC without a read of
    # its own (``handlers.paid_elsewhere``): the poll reads them anyway.
    "salesInvoices": "id,number,status,lastModifiedDateTime,remainingAmount,"
    "totalAmountIncludingTax,currencyCode",
    "customers": "id,number,lastModifiedDateTime",
}


def modified_filter(since: dt.datetime | None, *, status: str | None = None) -> str | None:
    """``lastModifiedDateTime gt <since>`` (and ``status eq '<status>'``), or None for all."""
    clauses = []
    if status is not None:
        clauses.append(f"status eq {odata_string(status)}")
    if since is not None:
        clauses.append(f"lastModifiedDateTime gt {odata_datetime(since)}")
    return " and ".join(clauses) or None


def publish_observed(
    bc: BCClient,
    publish: Publish,
    *,
    entity: str,
    company_id: str,
    filter_text: str | None,
    correlation_id: str,
    page_size: int | None = None,
) -> int:
    """Publish one observed message per record of ``entity`` matching ``filter_text``."""
    message_type = OBSERVED_TYPES[entity]
    query = {"$select": SELECT[entity]}
    if filter_text:
        query["$filter"] = filter_text
    published = 0
    path = bc.company_path(entity, company_id)
    for page in bc.pages(path, query, page_size=page_size):
        published += publish(observed_envelopes(entity, page, company_id, correlation_id))
    logger.info("published %d %s messages (filter %s)", published, message_type, filter_text)
    return published


def observed_envelopes(
    entity: str, records: Sequence[Mapping[str, Any]], company_id: str, correlation_id: str
) -> list[Envelope]:
    """The observed messages of one page of ``entity`` records (selected as ``SELECT``)."""
    message_type = OBSERVED_TYPES[entity]
    received_at = dt.datetime.now(dt.UTC)
    return [
        observed_envelope(
            message_type,
            company_id=company_id,
            entity_id=str(record["id"]),
            number=str(record["number"]) if record.get("number") else None,
            modified=parse_timestamp(record.get("lastModifiedDateTime")),
            correlation_id=correlation_id,
            received_at=received_at,
            amounts=_amounts(record),
        )
        for record in records
    ]


def _amounts(record: Mapping[str, Any]) -> dict[str, str] | None:
    """An invoice's status and open amount as the message carries them (decimal strings)."""
    if "remainingAmount" not in record:
        return None
    return {
        "status": decode_enum(record.get("status")),
        "remaining_amount": str(record.get("remainingAmount")),
        "total_amount": str(record.get("totalAmountIncludingTax")),
        "currency_code": str(record.get("currencyCode") or ""),
    }
