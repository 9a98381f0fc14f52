"""The faults of a chaos run: a seeded plan, carried out by a thread while the workload runs.

The plan is a shuffled list of actions, each after a seeded pause: a crash loop at every kill
point (the stack's consumer held while ``kills`` armed consumers die one after the other), random
SIGKILLs of the consumer (the supervisor restarts it), broker restarts (graceful and hard in
turn) and one PostgreSQL outage. The same seed gives the same plan; when each action lands in
the workload depends on the machine, as it would in production.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from chaos_consumers import LoopResult
from chaos_consumers import Supervisor
from chaos_consumers import crash_loop

from mlc_local.private_postgres import PrivatePostgres
from mlc_local.private_rabbitmq import PrivateRabbitMQ
from mlc_local.stack import LocalStack

KILL_POINTS = ("after_claim", "after_bc_write", "before_commit", "after_commit")
CONSUMER = "consumer-1"


@dataclass(frozen=True)
class Action:
    kind: str  # crash_loop | random_kill | broker_restart | pg_outage
    pause_s: float = 0.0  # before the action
    point: str = ""
    hard: bool = False
    seconds: float = 0.0
    mode: str = ""

    def describe(self) -> str:
        if self.kind == "crash_loop":
            return f"crash loop at {self.point}"
        if self.kind == "broker_restart":
            return f"broker restart ({'kill -9' if self.hard else 'graceful stop'})"
        if self.kind == "pg_outage":
            return f"PostgreSQL down {self.seconds:.0f}s (stop -m {self.mode})"
        return "SIGKILL the consumer"


def plan(
    rng: random.Random, *, random_kills: int, broker_restarts: int, pg_outage_s: float
) -> list[Action]:
    """Every fault of the run, shuffled, with pauses of 2 to 8 seconds before each."""
    actions = [Action("crash_loop", point=p) for p in KILL_POINTS]
    actions += [Action("random_kill") for _ in range(random_kills)]
    actions += [Action("broker_restart", hard=n % 2 == 1) for n in range(broker_restarts)]
    if pg_outage_s > 0:
        mode = rng.choice(["fast", "immediate"])
        actions.append(Action("pg_outage", seconds=pg_outage_s, mode=mode))
    rng.shuffle(actions)
    return [dataclasses.replace(a, pause_s=round(rng.uniform(2.0, 8.0), 1)) for a in actions]


def expected_duration(actions: list[Action], kills_per_point: int) -> float:
    """A rough length of the plan in seconds (the traffic is spread over it)."""
    cost = {"crash_loop": 3.0 * kills_per_point, "broker_restart": 8.0, "random_kill": 0.5}
    return sum(a.pause_s + cost.get(a.kind, 0.0) + a.seconds for a in actions)


class Chaos:
    """Carries out a plan on a thread; what happened is kept for the report."""

    def __init__(
        self,
        actions: list[Action],
        *,
        stack: LocalStack,
        broker: PrivateRabbitMQ,
        pg: PrivatePostgres,
        supervisor: Supervisor,
        kills_per_point: int,
        life_timeout: float,
    ) -> None:
        self.actions = actions
        self.stack = stack
        self.broker = broker
        self.pg = pg
        self.supervisor = supervisor
        self.kills_per_point = kills_per_point
        self.life_timeout = life_timeout
        self.done: Counter[str] = Counter()
        self.loops: list[LoopResult] = []
        self.broker_down_s: list[float] = []
        self.pg_down_s: list[float] = []
        self.errors: list[str] = []
        self._began = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def start(self) -> Chaos:
        self._began = time.monotonic()
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the plan to finish; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Abandon the rest of the plan (the current action finishes) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _say(self, text: str) -> None:
        print(f"  [chaos {time.monotonic() - self._began:5.0f}s] {text}", flush=True)

    def _run(self) -> None:
        for action in self.actions:
            if self._stop.wait(action.pause_s):
                self._say("plan abandoned")
                return
            self._say(action.describe())
            try:
                self._do(action)
                self.done[action.kind] += 1
            except Exception as exc:  # a failed fault is reported, the run goes on
                self.errors.append(f"{action.describe()}: {type(exc).__name__}: {exc}")
                self._say(f"  failed: {exc}")
        self._say("plan finished")

    def _do(self, action: Action) -> None:
        if action.kind == "crash_loop":
            self._crash_loop(action.point)
        elif action.kind == "random_kill":
            if not self.supervisor.kill(CONSUMER):
                raise RuntimeError("the consumer was not running for 30 s")
        elif action.kind == "broker_restart":
            self.broker_down_s.append(self.broker.restart(hard=action.hard))
        elif action.kind == "pg_outage":
            self.pg_down_s.append(self.pg.outage(action.seconds, mode=action.mode))
        else:
            raise ValueError(f"unknown action {action.kind}")

    def _crash_loop(self, point: str) -> None:
        # Traffic keeps arriving during the run: an empty queue now is no reason to skip a life
        # (a life that meets no message in its time counts as "not reached").
        self.supervisor.hold(CONSUMER)
        try:
            result = crash_loop(
                self.stack,
                point,
                self.kills_per_point,
                life_timeout=self.life_timeout,
                waiting=lambda: None,
                stop=self._stop,
            )
        finally:
            self.supervisor.release(CONSUMER)
        self.loops.append(result)
        self._say(
            f"  {result.kills} kills, {result.not_reached} not reached, {result.skipped} "
            f"skipped, other exits {dict(result.other_exits)}"
        )
