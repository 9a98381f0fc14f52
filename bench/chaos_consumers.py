"""Consumer processes for crash runs: armed consumers in a crash loop, and a process supervisor.

A consumer armed with ``MLC_KILL_POINT`` (honoured with ``MLC_ENVIRONMENT=test``, see
``reconciler.kill_points``) SIGKILLs itself when a message reaches that step. ``crash_loop``
restarts it at once each time it dies, like a crash-looping pod without back-off, for a number
of lives. A life in which no message reaches the point (nothing left that gets there) is ended
after a timeout and counted as such; when nothing waits in the queues any more the remaining
lives are skipped, since none of them could reach it.

``Supervisor`` plays Kubernetes for the chaos run: it restarts any of the stack's processes that
died (a random SIGKILL, a consumer that gave up on the broker), with a short back-off, unless the
process is held for a crash loop.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from mlc_local.processes import Process
from mlc_local.stack import LocalStack

SERVICES = ("bc-gateway", "stripe-gateway", "reconciler")


def consumer(stack: LocalStack, name: str, kill_point: str | None = None) -> Process:
    """A ``reconciler consume`` process on the stack's settings, logging to the stack's logs."""
    env = dict(stack.env, MLC_HEARTBEAT_FILE=str(stack.workdir / f"{name}.heartbeat"))
    if kill_point:
        env["MLC_KILL_POINT"] = kill_point
    return Process(name, ["reconciler", "consume"], env, stack.workdir / "log")


def service(stack: LocalStack, name: str) -> Process:
    """One of the stack's web services, started as ``LocalStack`` starts it."""
    env = dict(stack.env, MLC_PORT=str(stack.ports[name]))
    return Process(name, [name, "serve"], env, stack.workdir / "log")


@dataclass
class LoopResult:
    """What the lives of one armed consumer came to."""

    point: str
    kills: int = 0
    not_reached: int = 0  # lived out its timeout without reaching the point
    other_exits: Counter[int] = field(default_factory=Counter)  # exit code -> lives
    skipped: int = 0  # not started: nothing waited in the queues
    seconds: float = 0.0

    @property
    def lives(self) -> int:
        return self.kills + self.not_reached + sum(self.other_exits.values())


def crash_loop(
    stack: LocalStack,
    point: str,
    lives: int,
    *,
    life_timeout: float,
    waiting: Callable[[], int | None],
    give_up_after_misses: int = 2,
    stop: threading.Event | None = None,
) -> LoopResult:
    """Run ``lives`` consumers armed for ``point`` back to back; see the module docstring."""
    result = LoopResult(point)
    began = time.monotonic()
    misses = 0
    for life in range(lives):
        if stop is not None and stop.is_set():
            result.skipped += lives - life
            break
        depth = waiting()
        if depth == 0 or misses >= give_up_after_misses:
            result.skipped += lives - life
            break
        process = consumer(stack, f"crash-{point}", point)
        try:
            code = process.popen.wait(timeout=life_timeout)
        except subprocess.TimeoutExpired:
            result.not_reached += 1
            misses += 1
            continue
        finally:
            process.stop()  # a no-op for a dead process; never leave an armed one behind
        if code == -signal.SIGKILL:
            result.kills += 1
            misses = 0
        else:
            result.other_exits[code] += 1
    result.seconds = time.monotonic() - began
    return result


class Supervisor:
    """Keeps the stack's service and consumer processes running; see the module docstring."""

    def __init__(self, stack: LocalStack, consumers: list[str], interval: float = 0.5) -> None:
        self.stack = stack
        self.consumers = consumers
        self.interval = interval
        self.restarts: Counter[str] = Counter()
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._backoff: dict[str, float] = {}
        self._not_before: dict[str, float] = {}  # while a process is down: restart at
        self._started_at: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def hold(self, name: str) -> None:
        """Stop ``name`` and keep it stopped (a crash loop replaces it for a while)."""
        with self._lock:
            self.held.add(name)
            process = self.stack.processes.pop(name, None)
        if process is not None:
            process.stop()

    def release(self, name: str) -> None:
        """Start ``name`` again and look after it."""
        with self._lock:
            self.held.discard(name)
            self._start(name)

    def kill(self, name: str, wait: float = 30.0) -> bool:
        """SIGKILL ``name`` (the supervisor restarts it), waiting up to ``wait`` seconds for it
        to be running first (it may be between two lives); False if it never was."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                process = self.stack.processes.get(name)
                if process is not None and process.alive():
                    process.popen.kill()
                    process.popen.wait(10)
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def ensure_running(self) -> None:
        """Start every process that is down now, without back-off (before a drain)."""
        with self._lock:
            for name in (*SERVICES, *self.consumers):
                process = self.stack.processes.get(name)
                if name not in self.held and (process is None or not process.alive()):
                    self._start(name)
                    self.restarts[name] += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                for name in (*SERVICES, *self.consumers):
                    self._look_after(name)

    def _look_after(self, name: str) -> None:
        if name in self.held:
            return
        process = self.stack.processes.get(name)
        now = time.monotonic()
        if process is not None and process.alive():
            if now - self._started_at.get(name, 0.0) > 30:
                self._backoff[name] = 0.0  # it ran a while: the next crash restarts at once
            return
        # Immediately the first time, then after 1, 2, 4 ... 10 s while it keeps dying young.
        not_before = self._not_before.setdefault(name, now + self._backoff.get(name, 0.0))
        if now < not_before:
            return
        if process is not None:
            process.popen.wait(10)  # reap it
        self._start(name)
        self.restarts[name] += 1
        self._backoff[name] = min(10.0, max(1.0, self._backoff.get(name, 0.0) * 2))

    def _start(self, name: str) -> None:
        if name in SERVICES:
            self.stack.processes[name] = service(self.stack, name)
        else:
            self.stack.processes[name] = consumer(self.stack, name)
        self._started_at[name] = time.monotonic()
        self._not_before.pop(name, None)
