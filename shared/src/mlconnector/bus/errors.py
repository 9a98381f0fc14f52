"""Exceptions of the bus, shared by the publisher, the consumer runner and the services.

Publish failures all derive from ``PublishError``: a gateway catches that one type and answers
503, because none of them proves the broker holds the message. Handler outcomes are signalled
with ``TransientError`` (try again later, through a delayed retry queue) and ``PermanentError``
(retrying cannot help: dead-letter it and fail the record). ``RetryLater`` is a transient
outcome that is not a failure at all: the work is waiting on something else.
"""

from __future__ import annotations


class BusError(RuntimeError):
    """Base class for bus failures."""


class PublishError(BusError):
    """The message is not known to be durably queued; the caller must not report success."""


class BrokerUnavailable(PublishError):
    """No connection to the broker, or the connection dropped with the outcome unknown."""


class PublishNacked(PublishError):
    """The broker answered basic.nack: it could not take responsibility for the message."""


class Unroutable(PublishError):
    """The broker returned the message (mandatory flag): no queue is bound for its routing key."""


class PublishTimeout(PublishError):
    """No confirm arrived in time; the outcome is unknown and the sender should retry."""


class TransientError(Exception):
    """Raised by a handler when a later attempt may succeed (429, 503, timeouts, outages)."""


class RetryLater(TransientError):
    """Not a failure: the message must be looked at again, at the latest after ``delay_s``
    (another attempt holds the work it needs, say). The runner schedules it without counting a
    retry, sooner at first and backing off (a holder that is alive finishes quickly).
    """

    def __init__(self, message: str, *, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = max(0.0, delay_s)


class PermanentError(Exception):
    """Raised by a handler when no retry can succeed; the message is dead-lettered."""
