"""Session-wide fixtures: the real servers the suite talks to, and unique names per test.

Servers are never optional: a test that needs RabbitMQ or PostgreSQL and cannot reach it fails
with a message saying what to start, it never skips (style.md §5).
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from _pytest.nodeid import coerce_node_id
from factories import SERVICE_SECRETS
from factories import delete_topology
from factories import random_ref
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from mlconnector.bus import Topology

NewDatabase = Callable[[], str]

AMQP_URL = os.environ.get("MLC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DATABASE_URL = os.environ.get(
    "MLC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _reachable(url: str, default_port: int) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The test broker's URL; fails the test run when RabbitMQ is not reachable."""
    if not _reachable(AMQP_URL, 5672):
        pytest.fail(
            f"RabbitMQ is not reachable at {AMQP_URL.split('@')[-1]}: start it "
            "(rabbitmq-server -detached) or set MLC_TEST_AMQP_URL"
        )
    return AMQP_URL


@pytest.fixture
def topology(amqp_url: str) -> Iterator[Topology]:
    """An isolated, declared topology (fast retry tiers), deleted after the test."""
    topo = Topology.isolated(random_ref("t"), retry_tiers_s=(1, 2), delivery_limit=5)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        topo.declare(connection.channel())
    finally:
        connection.close()
    yield topo
    delete_topology(amqp_url, topo)


@pytest.fixture
def service_env(tmp_path: Path, amqp_url: str) -> Iterator[dict[str, str]]:
    """Environment for running the real services: secrets file, SQLite DB, isolated bus names."""
    from mlconnector.secrets_file import EncryptedFileSecrets
    from reconciler.migrate import upgrade

    master_key = "test-master-key-" + random_ref("k")
    secrets_file = tmp_path / "secrets.enc"
    store = EncryptedFileSecrets(secrets_file, master_key)
    for path, values in SERVICE_SECRETS.items():
        store.write(path, values)
    database_url = f"sqlite:///{tmp_path / 'reconciler.db'}"
    upgrade(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update(
        {
            "MLC_ENVIRONMENT": "test",
            "MLC_AMQP_URL": amqp_url,
            "MLC_BUS_NAMESPACE": random_ref("ns"),
            "MLC_SECRETS_BACKEND": "file",
            "MLC_SECRETS_FILE": str(secrets_file),
            "MLC_MASTER_KEY": master_key,
            "MLC_DATABASE_URL": database_url,
            # A consumer's metrics exporter on any free port: tests share this host.
            "MLC_METRICS_PORT": "0",
        }
    )
    yield env
    # The services declared quorum queues under this namespace: remove them, or every test run
    # leaves a Raft cluster per queue behind in the broker.
    delete_topology(amqp_url, Topology.isolated(env["MLC_BUS_NAMESPACE"]))


def pg_base_url() -> URL:
    """The PostgreSQL server under test (tests replace the database part)."""
    url = make_url(DATABASE_URL)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """AUTOCOMMIT engine on the ``postgres`` database, for CREATE/DROP DATABASE."""
    url = pg_base_url().set(database="postgres")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}). Start it or set "
            "MLC_TEST_DATABASE_URL; these tests never skip.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_databases(pg_admin: Engine) -> Iterator[NewDatabase]:
    """Factory of empty, uniquely named PostgreSQL databases, dropped when the module ends."""
    created: list[str] = []

    def create() -> str:
        name = random_ref("mlc_test").replace("-", "_")
        with pg_admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return pg_base_url().set(database=name).render_as_string(hide_password=False)

    yield create
    with pg_admin.connect() as connection:
        for name in created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_skipped: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One node id per test: Schemathesis names each operation's item ``test[GET /x]`` but
    leaves every one of them the function's node id. pytest-xdist tells tests apart by node id,
    so without this it would report (and account for) one operation per test function."""
    for item in items:
        if "[" in item.name and not item.nodeid.endswith("]"):
            item._id = coerce_node_id(item.nodeid.rsplit("::", 1)[0] + "::" + item.name)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: fail the run (style.md §5), never hide it."""
    if _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\n{len(_skipped)} test(s) skipped; skips are not allowed:", *_skipped, sep="\n  ")
