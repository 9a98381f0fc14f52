"""How long the BC webhook subscriptions have left, as Prometheus sees it.

BC deletes a subscription three days after its last renewal, and at once after a notification
answered with a status it does not retry (bc-api.md §7.3, §7.6); either way the connector goes
deaf without an error anywhere. So the figures come from BC itself, not from the renewal job's
memory: ``GET subscriptions`` filtered to ours, as ``renew-subscriptions`` reads them. Prometheus
scrapes every few seconds and BC counts every call, so the answer is kept for five minutes and
refreshed in the background: a scrape never waits for BC, and a BC outage leaves the last known
expiry in place (an expiry time stays true) with ``mlc_scrape_error{collector="bc_subscriptions"}``
at 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.subscriptions import subscription_expiries
from mlconnector import metrics
from mlconnector import metrics_export

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

REFRESH_S = 300.0


class SubscriptionExpiry(metrics_export.ScrapeTimeCollector):
    """``mlc_bc_subscription_expiry_timestamp_seconds`` and ``mlc_bc_subscriptions`` per entity."""

    def __init__(self, bc: BCClient, notification_url: str, *, ttl_s: float = REFRESH_S) -> None:
        super().__init__("bc_subscriptions", ttl_s=ttl_s, background=True)
        self._bc = bc
        self._url = notification_url

    def compute(self) -> list[Metric]:
        expiry = metrics.BC_SUBSCRIPTION_EXPIRY.family()
        count = metrics.BC_SUBSCRIPTIONS.family()
        for entity, expiries in subscription_expiries(self._bc, notification_url=self._url).items():
            count.add_metric([entity], float(len(expiries)))
            known = [when for when in expiries if when is not None]
            if known:
                # The first to go is the one that matters.
                expiry.add_metric([entity], min(known).timestamp())
        return [expiry, count]
