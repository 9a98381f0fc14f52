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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
from collections.abc import Sequence

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


def _ours(sub: Entity, url: str, company_id: str, entity: str) -> bool:
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


def _expiry(sub: Entity) -> dt.datetime | None:
    try:
        return parse_timestamp(sub.get("expirationDateTime"))
    except ValueError:
        return None


def subscription_expiries(
    bc: BCClient, *, notification_url: str, entities: Sequence[str] = ENTITIES
) -> dict[str, list[dt.datetime | None]]:
    """The expiry of each of our subscriptions, per entity set (an empty list: none left)."""
    subscriptions = bc.get("subscriptions").get("value") or []
    return {
        entity: [
            _expiry(sub)
            for sub in subscriptions
            if _ours(sub, notification_url, bc.company_id, entity)
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
    subscriptions = bc.get("subscriptions").get("value") or []
    now = bc.server_time() or dt.datetime.now(dt.UTC)
    outcomes: list[Outcome] = []
    for entity in entities:
        ours = [s for s in subscriptions if _ours(s, notification_url, bc.company_id, entity)]
        body = {
            "notificationUrl": notification_url,
            "resource": resource_for(bc.company_id, entity),
            "clientState": client_state,
        }
        if not ours:
            created = bc.create("subscriptions", body)
            outcomes.append(
                Outcome(entity, "created", str(created.get("subscriptionId")), _expiry(created))
            )
            continue
        for sub in ours:
            expires = _expiry(sub)
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
            outcomes.append(Outcome(entity, "renewed", sub_id, _expiry(renewed)))
    for outcome in outcomes:
        logger.info("%s", outcome.describe(now))
    return outcomes, now
