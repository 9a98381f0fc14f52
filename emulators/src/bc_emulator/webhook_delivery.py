"""Webhook payloads and the HTTP POST that delivers them (bc-api.md §7.4-7.6).

Each element carries exactly ``subscriptionId``, ``clientState``, ``expirationDateTime``,
``resource``, ``changeType`` and ``lastModifiedDateTime`` -- never entity data. A single-entity
resource is the subscription's ``resource`` string followed by ``(<key>)``; more than
``collection_threshold`` notifications for one subscription become one ``collection`` element
whose resource filters ``lastModifiedDateTime`` greater than the first change minus 50 ms (the
bare resource when the batch contains a deletion). The POST is UTF-8 JSON without BOM with
``clientRequestId`` and ``x-ms-correlation-id`` headers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

import requests

from bc_emulator import jsonio
from bc_emulator.config import EmulatorConfig
from bc_emulator.store import Subscription


@dataclass
class PendingBatch:
    """Changes collected for one subscription, keyed by entity key."""

    subscription: Subscription
    first: datetime
    due: datetime
    items: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    has_delete: bool = False


@dataclass
class Delivery:
    """One POST to one notification URL, possibly for several subscriptions."""

    url: str
    elements: list[dict[str, Any]]
    subscriptions: list[Subscription]
    due: datetime
    attempt: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def is_retryable(status: int | None) -> bool:
    """408, 429, 5xx and no answer at all are retried; anything else is final."""
    return status is None or status in (408, 429) or status >= 500


def build_elements(batch: PendingBatch, threshold: int) -> list[dict[str, Any]]:
    """The notification elements for one subscription's batch."""
    sub = batch.subscription
    base = {
        "subscriptionId": sub.id,
        "clientState": sub.client_state,
        "expirationDateTime": sub.expiration,
    }
    if len(batch.items) > threshold:
        resource = sub.resource
        if not batch.has_delete:
            since = jsonio.format_datetime(batch.first - timedelta(milliseconds=50))
            resource = f"{resource}?$filter=lastModifiedDateTime%20gt%20{since}"
        return [
            {
                **base,
                "resource": resource,
                "changeType": "collection",
                "lastModifiedDateTime": batch.first,
            }
        ]
    return [
        {
            **base,
            "resource": f"{sub.resource}({key})",
            "changeType": change,
            "lastModifiedDateTime": at,
        }
        for key, (change, at) in batch.items.items()
    ]


def post_notifications(delivery: Delivery, config: EmulatorConfig) -> tuple[int | None, str]:
    """POST the delivery; returns (status or None, error name)."""
    correlation = str(uuid.uuid4())
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                delivery.url,
                data=jsonio.dumps({"value": delivery.elements}).encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "clientRequestId": correlation,
                    "x-ms-correlation-id": correlation,
                },
                timeout=config.notification_timeout_seconds,
                verify=config.notification_ca_file or True,
            )
            return response.status_code, ""
    except requests.RequestException as exc:
        return None, type(exc).__name__
