"""The message bus over RabbitMQ: topology, a confirmed publisher, and the consumer runner.

See ``topology`` for the exchanges and queues, ``publisher`` for how a message is known to be
durably queued before a gateway answers 2xx, and ``consumer`` for the ack, retry and dead-letter
rules of the reconciler.
"""

from mlconnector.bus.consumer import ConsumerRunner
from mlconnector.bus.consumer import Delivery
from mlconnector.bus.consumer import RetryPolicy
from mlconnector.bus.errors import BrokerUnavailable
from mlconnector.bus.errors import BusError
from mlconnector.bus.errors import PermanentError
from mlconnector.bus.errors import PublishError
from mlconnector.bus.errors import PublishNacked
from mlconnector.bus.errors import PublishTimeout
from mlconnector.bus.errors import RetryLater
from mlconnector.bus.errors import TransientError
from mlconnector.bus.errors import Unroutable
from mlconnector.bus.params import DEFAULT_URL
from mlconnector.bus.params import connection_parameters
from mlconnector.bus.params import declare_topology
from mlconnector.bus.params import redacted_url
from mlconnector.bus.publisher import Publisher
from mlconnector.bus.topology import Topology

__all__ = [
    "DEFAULT_URL",
    "BrokerUnavailable",
    "BusError",
    "ConsumerRunner",
    "Delivery",
    "PermanentError",
    "PublishError",
    "PublishNacked",
    "PublishTimeout",
    "Publisher",
    "RetryLater",
    "RetryPolicy",
    "Topology",
    "TransientError",
    "Unroutable",
    "connection_parameters",
    "declare_topology",
    "redacted_url",
]
