"""Small builders shared by tests: unique references, bus helpers, a whole local stack."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pika
from flask.testing import FlaskClient

from mlc_local.processes import bin_path  # noqa: F401 - shared with the tests
from mlc_local.processes import free_port  # noqa: F401 - shared with the tests
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlc_local.stack import delete_topology
from mlconnector.bus import Topology
from mlconnector.identity import SigningKey
from mlconnector.identity import jwks_document


def random_ref(prefix: str) -> str:
    """A unique, readable id so tests never collide on shared servers."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in a queue, read with a passive declare (list_queues lags for quorum)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def drain(amqp_url: str, queue: str, *, timeout_s: float = 3.0) -> list[tuple[Any, bytes]]:
    """Consume and ack everything currently in ``queue``; return (properties, body) pairs."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    out: list[tuple[Any, bytes]] = []
    try:
        channel = connection.channel()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                if out:
                    break
                time.sleep(0.05)
                continue
            out.append((properties, body))
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()
    return out


def wait_until(predicate: Any, *, timeout_s: float = 10.0, interval_s: float = 0.05) -> bool:
    """Poll ``predicate`` until it is truthy or the time is up; return its last verdict."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def join_threads_named(name: str, *, timeout_s: float = 30.0) -> list[str]:
    """Wait for this process's threads called ``name`` to end; return those still running.

    A connection check the gateway stopped waiting for (its deadline passed) goes on in its
    worker thread until BC or Stripe answers. Its calls land in the process-wide metrics, so a
    test that served a gateway in-process lets them finish before the next test measures.
    """
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name == name and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threading.enumerate() if t.name == name and t.is_alive()]


# The service identity of the tests: the reconciler's signing key and the published key set, as
# `mlc-secrets identity rotate` would write them (a fresh key per test session).
RECONCILER_KEY = SigningKey.generate("reconciler")
# A second, published caller that the default policy (``reconciler=*``) grants nothing: the
# "wrong caller" of the authorization tests. A key nobody published: the "wrong credential".
AUDITOR_KEY = SigningKey.generate("auditor")
UNPUBLISHED_KEY = SigningKey.generate("reconciler")
SERVICE_SECRETS = {
    "ml-connector/bc": {
        "client_id": "c0ffee00-0000-4000-8000-000000000001",
        "client_secret": "bc-client-secret-Zq8v1TbLr3",
        "client_state": "bc-client-state-Yw4nE6pXk9Qm",
    },
    "ml-connector/stripe": {
        "api_key": "sk_test_51TestKeyForTheEmulatorOnly",
        "webhook_secret": "whsec_TestSigningSecretForEmulator",
    },
    "ml-connector/reconciler": {
        "replay_token": "replay-token-Hn2Kc7Vd0Rf5",
        "identity_key": RECONCILER_KEY.to_json(),
    },
    "ml-connector/identity": {
        "jwks": jwks_document([RECONCILER_KEY.public_jwk(), AUDITOR_KEY.public_jwk()])
    },
}


def service_token(audience: str, key: SigningKey = RECONCILER_KEY, **claims: Any) -> str:
    """A token as the reconciler signs it for ``audience``; ``claims`` override or add claims
    (``exp=...``, ``aud=...``) to forge the broken ones."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": key.subject,
        "sub": key.subject,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None},
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )


def authorized(client: FlaskClient, audience: str) -> FlaskClient:
    """``client`` calling as the reconciler: every request carries a fresh service token."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {service_token(audience)}"
    return client


# Fast failure paths for tests: few gateway-internal retries, so the reconciler's own delayed
# retries (through the bus) are what a test observes.
E2E_ENV = {
    "MLC_MAX_RETRIES": "4",
    "MLC_BC_MAX_ATTEMPTS": "2",
    "MLC_BC_RETRY_BUDGET": "2",
    "MLC_STRIPE_MAX_NETWORK_RETRIES": "1",
    "MLC_GATEWAY_TIMEOUT": "20",
    # The poster's default 4 s saves BC calls; tests that wait for a post need not wait that long.
    "MLC_BATCH_POST_INTERVAL": "0.5",
}


@contextlib.contextmanager
def running_stack(
    workdir: Path, amqp_url: str, database_url: str, extra_env: dict[str, str]
) -> Iterator[LocalStack]:
    """A whole local stack on its own bus namespace, deleted with the stack."""
    namespace = random_ref("e2e")
    options = StackOptions(
        workdir=workdir,
        amqp_url=amqp_url,
        database_url=database_url,
        bus_namespace=namespace,
        extra_env=extra_env,
    )
    try:
        with LocalStack(options) as running:
            yield running
    finally:
        delete_topology(amqp_url, Topology.isolated(namespace))
