"""Webhook subscriptions: create the missing ones, renew those about to expire.

BC deletes a subscription three days after its creation or last renewal (bc-api.md §7.3), so a
daily CronJob runs ``bc-gateway renew-subscriptions``. For each entity set the connector follows
(sales invoices and customers) it looks for a subscription with our notification URL on that
company's resource. Missing -> ``POST subscriptions``; expiring within the margin (24 h by
default), or carrying an old clientState after a rotation -> ``PATCH subscriptions('<id>')`` with
``If-Match``. Both make BC call the notification URL with a ``validationToken`` first, so the
gateway's webhook endpoint must be up.

"Expiring" is measured on BC's clock (the ``Date`` header of BC's answer) when BC sends one: the
expiry is BC's timestamp, and a skewed pod clock must not postpone a renewal past it.

The same reading of BC's list serves the renewal job, the expiry metrics, the connection report
and the console's subscription list (``GET /commands/subscriptions``): ``list_subscriptions``,
``is_ours``, ``expiry_of`` and ``subscription_row`` are public so that none of them keeps its own
idea of which subscription is ours or when it is due.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.odata import odata_string
from bc_gateway.notifications import parse_resource
from bc_gateway.notifications import parse_timestamp

logger = logging.getLogger(__name__)

ENTITIES = ("salesInvoices", "salesCreditMemos", "customers")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one subscription."""

    entity: str
    action: str  # created | renewed | ok
    subscription_id: str
    expires: dt.datetime | None

    def describe(self, now: dt.datetime) -> str:
        left = ""
        if self.expires is not None:
            hours = (self.expires - now).total_seconds() / 3600
            left = f", expires {self.expires.isoformat(timespec='seconds')} (in {hours:.1f} h)"
        return f"{self.entity}: {self.action} subscription {self.subscription_id}{left}"


def resource_for(company_id: str, entity: str) -> str:
    """The ``resource`` the connector subscribes to (the documented relative form)."""
    return f"/api/v2.0/companies({company_id})/{entity}"


def list_subscriptions(bc: BCClient) -> list[Entity]:
    """Every webhook subscription BC holds for the app, across pages: one ``GET subscriptions``.

    ``subscriptions`` is tenant-level, not company-scoped, and its list answer is
    ``{"value": [...]}`` (bc-api.md §2.1, §7.1). Online BC keeps at most 200 of them per
    environment (§7.8), so one page in practice; the client still follows ``@odata.nextLink``
    (§6.2) should BC page the answer, since a subscription of ours left on a second page would
    look missing and be created twice.
    """
    return [sub for page in bc.pages("subscriptions") for sub in page if isinstance(sub, dict)]


def is_ours(sub: Mapping[str, Any], url: str, company_id: str, entity: str) -> bool:
    """Whether ``sub`` is the connector's subscription to ``entity`` of the configured company.

    Ours means our notification URL on the company's whole entity set (the ``resource`` form
    ``resource_for`` creates, read back by ``notifications.parse_resource``, which accepts the
    relative and absolute forms BC echoes). A subscription of another app, another company or
    another URL is left alone by the renewal job and never counted as ours.
    """
    if sub.get("notificationUrl") != url:
        return False
    try:
        target = parse_resource(str(sub.get("resource") or ""))
    except ValueError:
        return False
    return (
        target.entity == entity
        and target.entity_id is None
        and (target.company_id or "").lower() == company_id.lower()
    )


def expiry_of(sub: Mapping[str, Any]) -> dt.datetime | None:
    """BC's ``expirationDateTime`` of a subscription; None when absent or unreadable."""
    try:
        return parse_timestamp(sub.get("expirationDateTime"))
    except ValueError:
        return None


def subscription_row(
    sub: Mapping[str, Any],
    notification_url: str | None,
    company_id: str,
    now: dt.datetime,
    margin: dt.timedelta,
) -> dict[str, Any]:
    """One BC subscription as the gateway shows it to the console, judged at BC's ``now``.

    BC's subscription object (bc-api.md §7.1) has ``subscriptionId``, ``notificationUrl``,
    ``resource``, ``expirationDateTime`` and ``clientState``, among others. The row keeps the
    first four and never ``clientState``: it is the secret BC echoes in every notification, the
    webhook's only proof of origin. ``entity`` is the entity set the subscription watches: the
    one it is ours for, else whatever its ``resource`` names (None when that cannot be read).
    ``expiring_soon`` means within the renewal margin, so the renewal job renews it on its next
    run; an unknown expiry counts as due, as it does for the job.
    """
    entity = next(
        (e for e in ENTITIES if notification_url and is_ours(sub, notification_url, company_id, e)),
        None,
    )
    resource = str(sub.get("resource") or "")
    named: str | None
    try:
        named = parse_resource(resource).entity
    except ValueError:
        named = None
    expires = expiry_of(sub)
    return {
        "id": str(sub.get("subscriptionId") or ""),
        "entity": entity or named,
        "resource": resource,
        "notification_url": str(sub.get("notificationUrl") or ""),
        "expires_at": expires,
        "ours": entity is not None,
        "expired": expires is not None and expires <= now,
        "expiring_soon": expires is None or expires - now <= margin,
    }


def read_subscriptions(
    bc: BCClient, notification_url: str | None, margin: dt.timedelta
) -> tuple[list[dict[str, Any]], dt.datetime]:
    """BC's subscriptions as rows, and the "now" they were judged at (BC's clock if it told).

    One BC call (``list_subscriptions``). A ``BCError`` propagates: the subscriptions command
    answers it with the command API's error mapping, the connection report as a failed check.
    """
    found = list_subscriptions(bc)
    # Expiry is BC's timestamp: judge it on BC's clock, as the renewal job does.
    now = bc.server_time() or dt.datetime.now(dt.UTC)
    rows = [subscription_row(sub, notification_url, bc.company_id, now, margin) for sub in found]
    return rows, now


def subscription_expiries(
    bc: BCClient, *, notification_url: str, entities: Sequence[str] = ENTITIES
) -> dict[str, list[dt.datetime | None]]:
    """The expiry of each of our subscriptions, per entity set (an empty list: none left)."""
    subscriptions = list_subscriptions(bc)
    return {
        entity: [
            expiry_of(sub)
            for sub in subscriptions
            if is_ours(sub, notification_url, bc.company_id, entity)
        ]
        for entity in entities
    }


def renew_subscriptions(
    bc: BCClient,
    *,
    notification_url: str,
    client_state: str,
    margin: dt.timedelta,
    entities: Sequence[str] = ENTITIES,
) -> tuple[list[Outcome], dt.datetime]:
    """Create or renew our subscriptions; return the outcomes and the "now" they were judged at."""
    subscriptions = list_subscriptions(bc)
    now = bc.server_time() or dt.datetime.now(dt.UTC)
    outcomes: list[Outcome] = []
    for entity in entities:
        ours = [s for s in subscriptions if is_ours(s, notification_url, bc.company_id, entity)]
        body = {
            "notificationUrl": notification_url,
            "resource": resource_for(bc.company_id, entity),
            "clientState": client_state,
        }
        if not ours:
            created = bc.create("subscriptions", body)
            outcomes.append(
                Outcome(entity, "created", str(created.get("subscriptionId")), expiry_of(created))
            )
            continue
        for sub in ours:
            expires = expiry_of(sub)
            stale_state = not hmac.compare_digest(
                str(sub.get("clientState") or "").encode(), client_state.encode()
            )
            due = expires is None or expires - now <= margin
            sub_id = str(sub.get("subscriptionId"))
            if not (due or stale_state):
                outcomes.append(Outcome(entity, "ok", sub_id, expires))
                continue
            path = f"subscriptions({odata_string(sub_id)})"
            renewed = bc.update(path, {**body, "resource": sub["resource"]}, sub["@odata.etag"])
            outcomes.append(Outcome(entity, "renewed", sub_id, expiry_of(renewed)))
    for outcome in outcomes:
        logger.info("%s", outcome.describe(now))
    return outcomes, now
