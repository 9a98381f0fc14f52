"""The bus messages bc-gateway publishes, with deterministic message ids.

Ids are hashes of what identifies the signal, so a BC retry, a second poll or a collection that
overlaps a poll produces the *same* id and the reconciler's inbox drops the repeat:

- ``bc.notification.<entity>.<changeType>``: sha256 of (subscriptionId, resource, changeType,
  lastModifiedDateTime) (ARCHITECTURE §3).
- ``bc.invoice.observed`` / ``bc.customer.observed``: sha256 of (message type, company id, entity
  id, lastModifiedDateTime) -- the same for the webhook's collection path and the poll.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from bc_gateway.notifications import Notification
from mlconnector.contracts import BC_CUSTOMER_OBSERVED
from mlconnector.contracts import BC_INVOICE_OBSERVED
from mlconnector.contracts import BC_NOTIFICATION_PREFIX
from mlconnector.contracts import Envelope

SOURCE = "bc"
# Entity sets whose records are announced as "observed" messages (collection and poll paths).
OBSERVED_TYPES = {"salesInvoices": BC_INVOICE_OBSERVED, "customers": BC_CUSTOMER_OBSERVED}


def _digest(*parts: str) -> str:
    # A separator that cannot occur inside the parts keeps ("a|b", "c") apart from ("a", "b|c").
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def notification_id(notification: Notification) -> str:
    """The message id of one notification element."""
    return _digest(
        notification.subscription_id,
        notification.resource,
        notification.change_type,
        _iso(notification.last_modified),
    )


def observed_id(message_type: str, company_id: str, entity_id: str, modified: dt.datetime) -> str:
    """The message id of an observed record (same on the poll and the collection path)."""
    return _digest(message_type, company_id.lower(), entity_id.lower(), _iso(modified))


def notification_envelope(
    notification: Notification, *, correlation_id: str, received_at: dt.datetime
) -> Envelope:
    """``bc.notification.<entity>.<changeType>`` for one element."""
    target = notification.target
    return Envelope(
        id=notification_id(notification),
        type=f"{BC_NOTIFICATION_PREFIX}{target.entity}.{notification.change_type}",
        source=SOURCE,
        occurred_at=notification.last_modified,
        received_at=received_at,
        correlation_id=correlation_id,
        data={
            "subscription_id": notification.subscription_id,
            "resource": notification.resource,
            "change_type": notification.change_type,
            "last_modified": notification.last_modified,
            "entity": target.entity,
            "company_id": target.company_id,
            "entity_id": target.entity_id,
        },
    )


def observed_envelope(
    message_type: str,
    *,
    company_id: str,
    entity_id: str,
    number: str | None,
    modified: dt.datetime,
    correlation_id: str,
    received_at: dt.datetime,
    amounts: dict[str, str] | None = None,
) -> Envelope:
    """``bc.invoice.observed`` or ``bc.customer.observed`` for one record."""
    return Envelope(
        id=observed_id(message_type, company_id, entity_id, modified),
        type=message_type,
        source=SOURCE,
        occurred_at=modified,
        received_at=received_at,
        correlation_id=correlation_id,
        data={
            "company_id": company_id.lower(),
            "entity_id": entity_id.lower(),
            "number": number,
            "last_modified": modified,
            **({"amounts": amounts} if amounts else {}),
        },
    )
