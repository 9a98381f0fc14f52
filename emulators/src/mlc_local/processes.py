"""Starting, probing and stopping the service processes of a local stack."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Ports handed out below Linux's ephemeral range (32768-60999): a port the kernel picked for
# us (bind to 0) comes from that range, and until the service binds it, any outgoing connection
# on the machine may take it ("Address already in use"). Each pytest-xdist worker draws from its
# own slice, so two workers never hand out the same port; within a process none is reused.
_PORTS_LOW, _PORTS_HIGH, _SLICES = 20000, 32000, 4
_handed_out: set[int] = set()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) % _SLICES if worker[2:].isdigit() else _SLICES - 1
    width = (_PORTS_HIGH - _PORTS_LOW) // _SLICES
    low = _PORTS_LOW + index * width
    for _ in range(200):
        port = low + secrets.randbelow(width)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {low} and {low + width}")


def bin_path(name: str) -> str:
    """A console script of the running interpreter's virtual environment."""
    return str(Path(sys.executable).parent / name)


def get_json(url: str, timeout: float = 5.0) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


class Process:
    """One service process with its log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own console scripts
                [bin_path(argv[0]), *argv[1:]], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_ready(url: str, process: Process, timeout: float = 60.0) -> None:
    """Wait for ``/readyz`` to answer 200; raise with the log tail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited early:\n{process.tail()}")
        try:
            if get_json(url + "/readyz", timeout=3)[0] == 200:
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready after {timeout:.0f}s:\n{process.tail()}")


def run_cli(argv: list[str], env: dict[str, str], timeout: float = 120.0) -> str:
    """Run a service CLI command to completion; its output, or an error with the output."""
    done = subprocess.run(  # noqa: S603 - our own console scripts
        [bin_path(argv[0]), *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout
