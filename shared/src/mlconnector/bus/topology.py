"""The broker topology, declared idempotently by every process that uses it.

Layout (names are the defaults; tests derive isolated copies with ``Topology.isolated``):

- ``mlc.events``: durable topic exchange every gateway publishes to.
- ``reconciler.events``: quorum queue bound to the routing-key families the reconciler handles,
  with an explicit ``x-delivery-limit`` (RabbitMQ 3.10 has no default limit; 4.x defaults to 20),
  set high because it punishes innocent prefetched messages when a consumer dies
  and at-least-once dead-lettering into ``mlc.dead`` so a poison message is parked, never dropped
  (at-least-once needs ``overflow=reject-publish``; see reliability.md §3.5).
- ``mlc.dead`` / ``reconciler.dead``: where rejected and over-limit messages wait for a person.
- ``mlc.retry`` and one wait queue per delay tier (``reconciler.retry.5s`` ...): a queue-level TTL
  and a dead-letter route straight back to ``reconciler.events``. This is the classic TTL + DLX
  delayed retry, which works on 3.10 as well as 4.x. Each message also carries its own jittered
  expiration no longer than its tier, so retries of a burst do not come back in lock-step, and
  head-of-line blocking inside a tier is bounded by the tier's length.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mlconnector.bus.params import Channel


@dataclasses.dataclass(frozen=True)
class Topology:
    """Names and limits of the exchanges and queues; one instance per deployment (or test)."""

    exchange: str = "mlc.events"
    queue: str = "reconciler.events"
    bindings: tuple[str, ...] = ("stripe.event.#", "bc.#", "reconciler.#")
    dead_exchange: str = "mlc.dead"
    dead_queue: str = "reconciler.dead"
    retry_exchange: str = "mlc.retry"
    retry_tiers_s: tuple[int, ...] = (1, 5, 30, 120, 600)
    # A backstop only, far above any crash loop: with prefetch > 1 a consumer's death counts
    # against every message it held, not just the one it died on (reliability.md §3.4). The
    # reconciler counts each message's own failures in its inbox; see docs/reliability.md.
    delivery_limit: int = 1000

    @classmethod
    def isolated(cls, suffix: str, **overrides: Any) -> Topology:
        """A copy with every name suffixed, so concurrent tests never share a queue."""
        base = cls(**overrides)
        return dataclasses.replace(
            base,
            exchange=f"{base.exchange}.{suffix}",
            queue=f"{base.queue}.{suffix}",
            dead_exchange=f"{base.dead_exchange}.{suffix}",
            dead_queue=f"{base.dead_queue}.{suffix}",
            retry_exchange=f"{base.retry_exchange}.{suffix}",
        )

    def retry_queue(self, tier_s: int) -> str:
        return f"{self.queue}.retry.{tier_s}s"

    def tier_for(self, delay_s: float) -> int:
        """The smallest tier that can hold ``delay_s`` (the largest one when none can)."""
        for tier in self.retry_tiers_s:
            if delay_s <= tier:
                return tier
        return self.retry_tiers_s[-1]

    def declare(self, channel: Channel) -> None:
        """Declare everything; safe to call from any number of processes at any time."""
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.dead_exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.retry_exchange, exchange_type="direct", durable=True)

        channel.queue_declare(self.dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(self.dead_queue, self.dead_exchange, routing_key="#")

        channel.queue_declare(
            self.queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self.dead_exchange,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for pattern in self.bindings:
            channel.queue_bind(self.queue, self.exchange, routing_key=pattern)

        for tier in self.retry_tiers_s:
            name = self.retry_queue(tier)
            channel.queue_declare(
                name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": tier * 1000,
                    # Back to the work queue directly, through the default exchange, so a retry
                    # never reaches other queues bound to mlc.events a second time.
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.queue,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
            channel.queue_bind(name, self.retry_exchange, routing_key=name)

    def delete(self, channel: Channel) -> None:
        """Remove everything (tests only)."""
        for tier in self.retry_tiers_s:
            channel.queue_delete(self.retry_queue(tier))
        channel.queue_delete(self.queue)
        channel.queue_delete(self.dead_queue)
        for exchange in (self.exchange, self.dead_exchange, self.retry_exchange):
            channel.exchange_delete(exchange)
