"""The demo as a person runs it: ``python -m mlc_local.demo --keep-running``, then a signal.

The demo runs in its own session, as a job started from a terminal, with its run directory in
a temporary folder and the services on free ports. Once it is up, the environment file it wrote
is used exactly as its summary says (``source`` it, run the printed ``reconciler records list``)
and for an authenticated GET of the reconciler API. Then a signal stops it, and what it started
must be gone: no process of its session (gunicorn masters and workers, the consumer), no
listener on the services' ports, no queue or exchange of its bus namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest
from factories import delete_topology

from mlconnector.bus import Topology

pytestmark = pytest.mark.rabbitmq

STARTUP_S = 240.0  # the stack's start-up on a busy two-core machine, with room to spare
# 2-4 s alone; up to ~30 s beside other tests (gunicorn lets in-flight requests finish).
STOP_S = 60.0
SERVICE_URLS = ("MLC_BC_GATEWAY_URL", "MLC_STRIPE_GATEWAY_URL", "MLC_RECONCILER_URL")


def session_members(sid: int) -> set[int]:
    """Live (non-zombie) processes whose session is ``sid``: the demo and all it started,
    including any child re-parented to init after its parent died (it keeps the session)."""
    members: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Fields after "(comm)", which may itself hold spaces: state ppid pgrp session ...
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.add(int(entry.name))
    return members


def read_env(path: Path) -> dict[str, str]:
    """The ``export NAME='value'`` lines of the demo's env file, unquoted as a shell would."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            [assignment] = shlex.split(line.removeprefix("export "))
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


def bus_names(topology: Topology) -> tuple[list[str], list[str]]:
    queues = [topology.queue, topology.dead_queue]
    queues += [topology.retry_queue(tier) for tier in topology.retry_tiers_s]
    return queues, [topology.exchange, topology.dead_exchange, topology.retry_exchange]


def existing_bus_objects(amqp_url: str, namespace: str) -> list[str]:
    """The namespace's queues and exchanges the broker still has (passive declares: a 404
    closes the channel, so each check gets its own)."""
    queues, exchanges = bus_names(Topology.isolated(namespace))
    found: list[str] = []
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for name in [*queues, *exchanges]:
            channel = connection.channel()
            try:
                if name in queues:
                    channel.queue_declare(name, passive=True)
                else:
                    channel.exchange_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:  # anything but "not found" is the test's problem
                    raise
                continue
            found.append(name)
            channel.close()
    finally:
        connection.close()
    return found


def port_is_free(port: int) -> bool:
    """Nothing listens on it: a server (with SO_REUSEADDR, as gunicorn binds) could bind it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Demo:
    """The demo process in a session of its own, its output collected line by line."""

    def __init__(self, cwd: Path, amqp_url: str) -> None:
        self.cwd = cwd
        self.workdir = cwd / "demo"
        self.amqp_url = amqp_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlc_local.demo", "--workdir", "demo", "--amqp-url",
             amqp_url, "--free-ports", "--keep-running"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if self.process.poll() is not None:
                pytest.fail(f"the demo exited ({self.process.returncode}):\n{self.output}")
            time.sleep(0.1)
        pytest.fail(f"no line {prefix!r} after {timeout_s:.0f}s:\n{self.output}")

    @property
    def env_file(self) -> Path:
        return self.workdir / "latest" / "env"

    def stop(self, signum: int, *, group: bool = False) -> tuple[int, float]:
        """Send ``signum`` (to the whole process group, as Ctrl-C does, when ``group``);
        the exit status and how long the demo took to exit."""
        began = time.monotonic()
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the demo did not exit within 60 s:\n{self.output}")
        took = time.monotonic() - began
        self._reader.join(timeout=5)
        return code, took

    def kill_leftovers(self) -> None:
        """After a failed test: nothing of this demo may outlive it."""
        for pid in session_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        if self.env_file.exists():
            namespace = read_env(self.env_file).get("MLC_BUS_NAMESPACE")
            if namespace:
                delete_topology(self.amqp_url, Topology.isolated(namespace))


@pytest.fixture
def demo(tmp_path: Path, amqp_url: str) -> Iterator[Demo]:
    running = Demo(tmp_path, amqp_url)
    try:
        yield running
    finally:
        running.kill_leftovers()


def assert_all_gone(demo: Demo, before: set[int], env: dict[str, str]) -> None:
    """No process of the demo's session, no listener on its ports, nothing of its bus."""
    time.sleep(0.2)  # let init reap what it adopted
    # Covers every pid seen before the stop, and any child re-parented to init meanwhile.
    assert before
    assert session_members(demo.process.pid) == set(), demo.output
    ports = [urllib.parse.urlsplit(env[name]).port for name in SERVICE_URLS]
    assert all(port is not None and port_is_free(port) for port in ports), ports
    assert existing_bus_objects(demo.amqp_url, env["MLC_BUS_NAMESPACE"]) == []


def test_sigterm_after_the_summary_stops_everything_and_the_env_file_works(demo: Demo) -> None:
    demo.wait_for_line("Still running;", STARTUP_S)
    before = session_members(demo.process.pid)
    # The demo, three gunicorn masters with a worker each, the consumer.
    assert len(before) >= 8, before

    # The summary says what to type, from where the demo was started; it shows no secret.
    assert "  source demo/latest/env" in demo.lines
    [records_list] = [line for line in demo.lines if line.endswith(" records list --limit 10")]
    env_file = demo.env_file
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.parent.resolve().parent == demo.workdir.resolve()
    env = read_env(env_file)
    for secret in (env["MLC_REPLAY_TOKEN"], env["MLC_MASTER_KEY"]):
        assert secret not in demo.output
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    listed = subprocess.run(
        ["bash", "-c", f"source demo/latest/env && {records_list.strip()} --json"],
        cwd=demo.cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["data"]) == 10
    request = urllib.request.Request(
        env["MLC_RECONCILER_URL"] + "/records?kind=payout",
        headers={"Authorization": f"Bearer {env['MLC_REPLAY_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        payouts = json.loads(response.read())["data"]
    assert {p["state"] for p in payouts} == {"succeeded"}
    namespace = env["MLC_BUS_NAMESPACE"]
    assert len(existing_bus_objects(demo.amqp_url, namespace)) == 10  # 7 queues, 3 exchanges

    code, took = demo.stop(signal.SIGTERM)

    assert code == 0, demo.output
    assert took < STOP_S, f"took {took:.1f}s"
    assert demo.lines[-1].startswith("ml-connector demo stopped (SIGTERM): ")
    assert f"bus namespace {namespace} is deleted" in demo.lines[-1]
    assert "Traceback" not in demo.output
    assert_all_gone(demo, before, env)


def test_ctrl_c_during_the_business_day_stops_everything(demo: Demo) -> None:
    demo.wait_for_line("[2/10] ", STARTUP_S)  # the stack is up, its env file written
    before = session_members(demo.process.pid)
    env = read_env(demo.env_file)

    code, took = demo.stop(signal.SIGINT, group=True)  # what Ctrl-C in a terminal sends

    assert code == 0, demo.output
    assert took < STOP_S, f"took {took:.1f}s"
    assert "Still running;" not in demo.output
    assert demo.lines[-1].startswith("ml-connector demo stopped (SIGINT): ")
    assert "Traceback" not in demo.output
    assert_all_gone(demo, before, env)
