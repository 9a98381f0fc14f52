"""A private RabbitMQ node for restart tests and chaos runs, with its own name, ports and data.

The machine's shared broker (``rabbit@localhost`` on 5672, reliability.md §3.9) is never
touched: this node is ``<name>@localhost`` with its own AMQP and distribution ports, a config
file of its own (so ``/etc/rabbitmq/rabbitmq.conf``, which binds 5672, is not read), an empty
plugin list (no management plugin), and ``HOME`` pointing into its directory so Erlang makes a
fresh ``.erlang.cookie`` there. It registers with the machine's epmd like any node; epmd is
shared and left running.

Restarts keep the data directory, so durable quorum queues and the persistent messages in them
survive: ``restart()`` stops the node gracefully (SIGTERM to the foreground ``rabbitmq-server``
script, which stops the node the way ``rabbitmqctl stop`` does), ``restart(hard=True)`` SIGKILLs
the node's process group (a crashed pod). Used by ``bench/chaos.py`` and by
``tests/integration/bus/test_chaos_broker.py``::

    with PrivateRabbitMQ(Path(tmp) / "rabbit") as broker:
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))
        ...
        broker.restart(hard=True)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pika
import pika.exceptions

from mlc_local.processes import free_port

# Debian installs the real scripts here; /usr/sbin holds wrappers that switch to the rabbitmq
# user with `su`, which would reset HOME (and with it the cookie this node must own).
SCRIPT_DIRS = (Path("/usr/lib/rabbitmq/bin"),)
INSTALL_HINT = (
    "rabbitmq-server is not installed: install Debian's package (apt-get install "
    "rabbitmq-server), as scripts/test.sh does through scripts/lib.sh ensure_rabbitmq"
)


def rabbitmq_script(name: str) -> str:
    """Path of a RabbitMQ script (``rabbitmq-server``, ``rabbitmqctl``); RuntimeError if absent."""
    for directory in SCRIPT_DIRS:
        candidate = directory / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


class PrivateRabbitMQ:
    """One single-node broker in ``base_dir``; ports are fixed for its whole life."""

    def __init__(self, base_dir: Path, *, name: str = "mlcchaos") -> None:
        self.base_dir = base_dir
        self.node = f"{name}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.ctl_port = free_port()
        self.log_path = base_dir / "server.log"
        self.starts = 0
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The AMQP URL of this node (guest is allowed on loopback only)."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> PrivateRabbitMQ:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self, timeout: float = 120.0) -> PrivateRabbitMQ:
        """Start the node (reusing its data directory) and wait for an AMQP handshake."""
        if self.running():
            return self
        self._write_files()
        with self.log_path.open("ab") as log:
            # A session of its own: a hard kill takes the script, beam and its helpers together.
            self._popen = subprocess.Popen(  # noqa: S603 - RabbitMQ's scripts, fixed arguments
                [rabbitmq_script("rabbitmq-server")],
                env=self.environment(),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self._wait_ready(timeout)
        return self

    def stop(self, timeout: float = 90.0) -> None:
        """Stop gracefully; a node that does not stop in time is killed."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        popen.wait()
        self._popen = None

    def kill(self) -> None:
        """SIGKILL the node's whole process group, as a crash would."""
        popen = self._popen
        if popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(30)
        self._popen = None

    def restart(self, *, hard: bool = False, down_s: float = 0.0, timeout: float = 120.0) -> float:
        """Stop (or kill) the node, stay down ``down_s`` seconds, start it; seconds unreachable."""
        began = time.monotonic()
        if hard:
            self.kill()
        else:
            self.stop()
        if down_s > 0:
            time.sleep(down_s)
        self.start(timeout)
        return time.monotonic() - began

    def close(self) -> None:
        """Stop the node for good (its files stay in ``base_dir`` for the caller to remove)."""
        self.stop()

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    # -- probing and tools ----------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the node completes an AMQP handshake now."""
        params = pika.URLParameters(
            self.url + "?socket_timeout=3&stack_timeout=10&connection_attempts=1"
        )
        try:
            pika.BlockingConnection(params).close()
        except (pika.exceptions.AMQPError, OSError):
            return False
        return True

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n <node> <args>`` against this node; its standard output."""
        done = subprocess.run(  # noqa: S603 - RabbitMQ's scripts, fixed arguments
            [rabbitmq_script("rabbitmqctl"), "-n", self.node, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def environment(self) -> dict[str, str]:
        """The variables that make this node private (nothing inherited from the shared one)."""
        base = self.base_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        loopback = "-kernel inet_dist_use_interface {127,0,0,1}"
        env.update(
            {
                "HOME": str(base / "home"),
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.amqp_port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_port),
                "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_port),
                "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": loopback,
                "RABBITMQ_CTL_ERL_ARGS": loopback,
                "ERL_EPMD_ADDRESS": "127.0.0.1",
            }
        )
        return env

    def _write_files(self) -> None:
        base = self.base_dir
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\n"
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("# empty: everything comes from the environment\n")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen is None or self._popen.poll() is not None:
                raise RuntimeError(f"RabbitMQ node {self.node} exited early:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(
            f"RabbitMQ node {self.node} not ready after {timeout:.0f}s:\n{self.tail()}"
        )

    def tail(self, lines: int = 20) -> str:
        """The end of the node's output and of its own log file."""
        out: list[str] = []
        for path in (self.log_path, *sorted((self.base_dir / "log").glob("*.log"))):
            try:
                out += path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
        return "\n".join(out)
