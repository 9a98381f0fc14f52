"""The BC notification use case: check every clientState, then publish with confirms.

Order matters. The body is parsed first (a body BC cannot have sent is refused, and so is hostile
JSON, through ``mlconnector.jsonbody``); then *every*
element's clientState is checked before anything is published, so one forged element refuses the
whole request and nothing reaches the bus. Each accepted element becomes one
``bc.notification.<entity>.<changeType>`` message. A ``collection`` element for sales invoices or
customers is expanded instead: the gateway pages through that entity set with the element's
``lastModifiedDateTime`` filter (built from the parsed filter, never fetched from the URL in the
payload) and publishes one observed message per record. The caller answers 202 only when this
function returns, i.e. when every message is confirmed.

An element with a valid clientState that still cannot be understood (an unknown changeType from a
newer BC, say) is logged and skipped: a 4xx would make BC delete the subscription, a 5xx would
make BC retry something that can never succeed, and the scheduled poll backfills what it named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.client_state import ClientStates
from bc_gateway.messages import OBSERVED_TYPES
from bc_gateway.messages import notification_envelope
from bc_gateway.notifications import MalformedNotification
from bc_gateway.notifications import Notification
from bc_gateway.notifications import parse_notification
from bc_gateway.notifications import parse_payload
from bc_gateway.observe import modified_filter
from bc_gateway.observe import publish_observed
from bc_gateway.publishing import Publish
from mlconnector.config import ConfigError

logger = logging.getLogger(__name__)


class ForgedNotification(Exception):
    """At least one element lacks the right clientState: nothing was published."""


@dataclasses.dataclass(frozen=True)
class Accepted:
    """What one notification request led to."""

    received: int
    published: int
    skipped: int


def accept_notifications(
    body: bytes,
    *,
    client_states: ClientStates,
    publish: Publish,
    bc: BCClient | None,
    correlation_id: str,
) -> Accepted:
    """Validate and publish one notification request (see the module docstring)."""
    elements = parse_payload(body)  # the safe loader: hostile JSON is a MalformedPayload
    if not client_states.all_match(element.get("clientState") for element in elements):
        raise ForgedNotification("a notification carries a missing or wrong clientState")
    notifications: list[Notification] = []
    skipped = 0
    for element in elements:
        try:
            notifications.append(parse_notification(element))
        except MalformedNotification as exc:
            skipped += 1
            logger.warning("skipped a notification BC sent that cannot be read: %s", exc)
    received_at = dt.datetime.now(dt.UTC)
    singles = [n for n in notifications if not _expandable(n)]
    published = publish(
        notification_envelope(n, correlation_id=correlation_id, received_at=received_at)
        for n in singles
    )
    for notification in notifications:
        if _expandable(notification):
            published += _expand(notification, bc, publish, correlation_id)
    return Accepted(received=len(elements), published=published, skipped=skipped)


def _expandable(notification: Notification) -> bool:
    return (
        notification.change_type == "collection"
        and notification.target.entity in OBSERVED_TYPES
        and notification.target.company_id is not None
    )


def _expand(
    notification: Notification, bc: BCClient | None, publish: Publish, correlation_id: str
) -> int:
    if bc is None:
        raise ConfigError(["a collection notification needs the BC connection (MLC_BC_*)"])
    target = notification.target
    assert target.company_id is not None
    logger.info(
        "expanding a %s collection notification changed since %s",
        target.entity,
        target.changed_since,
    )
    return publish_observed(
        bc,
        publish,
        entity=target.entity,
        company_id=target.company_id,
        filter_text=modified_filter(target.changed_since),
        correlation_id=correlation_id,
    )
