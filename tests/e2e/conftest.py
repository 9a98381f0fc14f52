"""One local stack per e2e module: both emulators, the three services, RabbitMQ, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator

import pytest
from factories import E2E_ENV
from factories import running_stack

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    amqp_url: str,
    pg_databases: Callable[[], str],
) -> Iterator[LocalStack]:
    """The module's stack; a module may set ``STACK_ENV`` to run it with other settings."""
    env = getattr(request.module, "STACK_ENV", E2E_ENV)
    with running_stack(tmp_path_factory.mktemp("stack"), amqp_url, pg_databases(), env) as running:
        yield running


@pytest.fixture(scope="module")
def connector(stack: LocalStack) -> Connector:
    return Connector(stack)
