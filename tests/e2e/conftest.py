"""One local stack per e2e module: both emulators, the three services, RabbitMQ, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator

import pytest
from factories import delete_topology
from factories import random_ref

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlconnector.bus import Topology

# Fast failure paths for tests: few gateway-internal retries, so the reconciler's own delayed
# retries (through the bus) are what a test observes.
E2E_ENV = {
    "MLC_MAX_RETRIES": "4",
    "MLC_BC_MAX_ATTEMPTS": "2",
    "MLC_BC_RETRY_BUDGET": "2",
    "MLC_STRIPE_MAX_NETWORK_RETRIES": "1",
    "MLC_GATEWAY_TIMEOUT": "20",
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    amqp_url: str,
    pg_databases: Callable[[], str],
) -> Iterator[LocalStack]:
    namespace = random_ref("e2e")
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"),
        amqp_url=amqp_url,
        database_url=pg_databases(),
        bus_namespace=namespace,
        extra_env=E2E_ENV,
    )
    with LocalStack(options) as running:
        yield running
    delete_topology(amqp_url, Topology.isolated(namespace))


@pytest.fixture(scope="module")
def connector(stack: LocalStack) -> Connector:
    return Connector(stack)
