"""What the stripe-gateway benchmarks share: an isolated bus, a secrets file and the settings.

``slow_clients.py`` and ``webhook_ingest.py`` both start stripe-gateway under gunicorn as
production does, publishing to a throwaway topology on the local broker; the caller deletes the
topology when it is done (``setup.topology.delete``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import uuid
from pathlib import Path

import pika

from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets

SECRET = "whsec_BenchmarkSigningSecret0000"  # noqa: S105 - a throwaway benchmark secret


@dataclasses.dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    workdir: Path
    topology: Topology


def prepare(amqp_url: str, *, workers: int, threads: int, prefix: str) -> Setup:
    """Declare an isolated topology, write the gateway's secrets, and build its ``MLC_*``
    environment (loopback only, WARNING logs)."""
    namespace = "bench-" + uuid.uuid4().hex[:8]
    topology = Topology.isolated(namespace)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    topology.declare(connection.channel())
    connection.close()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    master_key = "bench-master-key-" + uuid.uuid4().hex
    EncryptedFileSecrets(workdir / "secrets.enc", master_key).write(
        "ml-connector/stripe", {"api_key": "sk_test_bench", "webhook_secret": SECRET}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update(
        MLC_ENVIRONMENT="test",
        MLC_AMQP_URL=amqp_url,
        MLC_BUS_NAMESPACE=namespace,
        MLC_SECRETS_FILE=str(workdir / "secrets.enc"),
        MLC_MASTER_KEY=master_key,
        MLC_BIND_HOST="127.0.0.1",
        MLC_WEB_WORKERS=str(workers),
        MLC_WEB_THREADS=str(threads),
        MLC_LOG_LEVEL="WARNING",
    )
    return Setup(env, workdir, topology)
