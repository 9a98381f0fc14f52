"""Connection parameters for pika, built from an ``amqp://`` URL with explicit safety settings.

pika's defaults suit a script, not a service: no blocked-connection timeout (a broker under a
memory or disk alarm then hangs publishers forever), several connection attempts with long
sleeps (a gateway must answer 503 quickly instead), and the server's heartbeat. Every process
builds its parameters here so the choices are made once.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pika

# pika ships no usable type information; channels are passed around as this alias.
Channel = Any

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def connection_parameters(
    url: str,
    *,
    heartbeat_s: int = 30,
    blocked_timeout_s: float = 30.0,
    connect_timeout_s: float = 5.0,
    client_name: str = "ml-connector",
) -> pika.URLParameters:
    """Parameters with heartbeats, a blocked-connection timeout and a single quick attempt."""
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat_s
    params.blocked_connection_timeout = blocked_timeout_s
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = connect_timeout_s
    params.stack_timeout = connect_timeout_s * 2
    params.client_properties = {"connection_name": client_name}
    return params


def redacted_url(url: str) -> str:
    """The URL with its password masked, for log lines and readiness reports."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def declare_topology(url: str, declare: Any) -> None:
    """Open a short-lived connection, run ``declare(channel)``, close: done once per process."""
    connection = pika.BlockingConnection(connection_parameters(url, client_name="mlc-declare"))
    try:
        declare(connection.channel())
    finally:
        if connection.is_open:
            connection.close()
