"""Connection reports: named checks against BC or Stripe, run in order, answered in bounded time.

The gateways' ``GET /commands/connection`` is what the console's Connections page shows an
administrator setting the connector up: is the token issued, is the company there, may the key
read what the connector reads. Each check ends as data (``ok``, a ``detail`` a person can act
on, and the facts it found); a failing check is the answer, not an error, so the command always
answers 200.

Why a worker thread and a deadline: the gateways' adapters retry with back-off within budgets
meant for the reconciler's commands (tens of seconds), while a person is waiting on a page. The
checks run in a daemon thread and the answer waits at most ``timeout_s``; a check still waiting
then is reported as "did not answer within N s" and the ones after it as not checked. At most
``max_running`` reports run at once per process, so reloading the page while BC hangs does not
pile up threads: a report that cannot start in time says an earlier one is still waiting.

Checks that depend on an earlier one are marked ``skipped`` with the reason (no token, so no
company), rather than run to fail again with a less useful message.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: How long a report may take when the caller does not say (``?timeout=``), in seconds.
DEFAULT_TIMEOUT_S = 10.0

#: Reserved keys of a check's JSON: facts may not use them.
_RESERVED = frozenset({"ok", "detail", "skipped"})


@dataclasses.dataclass(frozen=True)
class Check:
    """One check's outcome: ``ok``, what a person should know or do, and the facts found."""

    ok: bool
    detail: str
    skipped: bool = False
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = _RESERVED & set(self.facts)
        if clash:
            raise ValueError(f"facts may not be named {', '.join(sorted(clash))}")

    def to_json(self) -> dict[str, Any]:
        """The facts with ``ok``, ``detail`` and ``skipped`` (what the command's schema dumps)."""
        return {**self.facts, "ok": self.ok, "detail": self.detail, "skipped": self.skipped}


def passed(detail: str, /, **facts: Any) -> Check:
    return Check(True, detail, facts=facts)


def failed(detail: str, /, **facts: Any) -> Check:
    return Check(False, detail, facts=facts)


def not_checked(reason: str, /, **facts: Any) -> Check:
    """A check that did not run because one it depends on failed; ``reason`` says which."""
    return Check(False, reason, skipped=True, facts=facts)


class Abandoned(Exception):
    """The answer has gone out without this worker's results: it stops asking."""


class Recorder:
    """Where the worker puts each check as it ends; closed when the answer is taken.

    ``begin`` names the check now waiting on the remote side (with the facts already known,
    from configuration), so a deadline or a crash is reported against that check. Once closed,
    ``begin`` raises ``Abandoned``: a worker that missed the deadline stops at its next check
    instead of asking BC or Stripe for answers nobody will read.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)
        self._lock = threading.Lock()
        self._results: dict[str, Check] = {}
        self._current: str | None = None
        self._current_facts: dict[str, Any] = {}
        self._closed = False

    def begin(self, name: str, /, **facts: Any) -> None:
        self._check_name(name)
        with self._lock:
            if self._closed:
                raise Abandoned(name)
            self._current, self._current_facts = name, dict(facts)

    def put(self, name: str, check: Check) -> None:
        self._check_name(name)
        with self._lock:
            if self._closed:
                return  # the answer has gone out; a late result changes nothing
            self._results[name] = check
            if self._current == name:
                self._current, self._current_facts = None, {}

    def skip_rest(self, reason: str) -> None:
        """Mark every check without a result as not checked, for ``reason``."""
        for name in self._names:
            if name not in self.results():
                self.put(name, not_checked(reason))

    def results(self) -> dict[str, Check]:
        with self._lock:
            return dict(self._results)

    def fail_rest(self, detail: str, rest: str) -> None:
        """The check in progress (or the first without a result) failed with ``detail``; the
        ones after it are not checked, for ``rest``."""
        with self._lock:
            if not self._closed:
                self._results = self._filled(detail, rest)

    def close(self, detail: str, rest: str) -> dict[str, Check]:
        """Stop taking results and answer: every check in order, those without a result filled
        in as by ``fail_rest``."""
        with self._lock:
            self._closed = True
            return self._filled(detail, rest)

    def _filled(self, detail: str, rest: str) -> dict[str, Check]:
        results = dict(self._results)
        missing = [name for name in self._names if name not in results]
        first = self._current if self._current in missing else (missing[0] if missing else None)
        for name in missing:
            if name == first:
                facts = self._current_facts if name == self._current else {}
                results[name] = failed(detail, **facts)
            else:
                results[name] = not_checked(rest)
        return {name: results[name] for name in self._names}

    def _check_name(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(f"no check named {name!r}")


Steps = Callable[[Recorder], None]


class CheckRunner:
    """Runs one system's checks in a worker thread and answers within a deadline."""

    def __init__(self, system: str, names: Sequence[str], *, max_running: int = 2) -> None:
        self.system = system
        self.names = tuple(names)
        self._slots = threading.BoundedSemaphore(max_running)

    def run(self, steps: Steps, timeout_s: float) -> dict[str, Check]:
        """Every check by name, in order: its result, or why there is none (deadline, crash)."""
        deadline = time.monotonic() + timeout_s
        recorder = Recorder(self.names)
        if not self._slots.acquire(timeout=timeout_s):
            busy = (
                f"not checked: an earlier connection check is still waiting for {self.system}; "
                "try again in a minute"
            )
            return {name: not_checked(busy) for name in self.names}
        worker = threading.Thread(
            target=self._work, args=(steps, recorder), name="connection-check", daemon=True
        )
        try:
            worker.start()
        except BaseException:
            self._slots.release()
            raise
        worker.join(max(0.0, deadline - time.monotonic()))
        late = f"{self.system} did not answer within {timeout_s:g} s"
        return recorder.close(late, f"not checked: {late}")

    def _work(self, steps: Steps, recorder: Recorder) -> None:
        try:
            steps(recorder)
        except Abandoned:
            pass
        except Exception as exc:
            # A bug must not turn the report into a 500: the check in progress says what broke.
            logger.exception("connection check against %s failed unexpectedly", self.system)
            problem = f"the check itself failed ({type(exc).__name__}); see the gateway's log"
            recorder.fail_rest(problem, f"not checked: {problem}")
        finally:
            self._slots.release()
