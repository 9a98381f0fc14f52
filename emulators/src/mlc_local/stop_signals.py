"""SIGINT and SIGTERM as one orderly stop for a process that started others (the demo).

Python's default SIGTERM ends the process on the spot, skipping every ``finally`` and
``__exit__``, so the processes it started live on, orphaned, holding their ports; SIGINT
raises ``KeyboardInterrupt`` wherever the main thread happens to be, including inside the clean
up of an earlier one. ``StopSignals`` makes both raise ``Stop`` once, in the main thread, so the
``with`` blocks unwind and stop what they started; from the moment a stop begins (that signal,
or ``hold()`` when the program stops on its own) further signals are only recorded: an
interrupted stop would leave processes behind.
"""

from __future__ import annotations

import signal
from types import FrameType


class Stop(BaseException):
    """A SIGINT or SIGTERM: unwind to ``main``, stopping what was started on the way.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` in the
    scenario or the stack mistakes it for a failure to retry or report."""


class StopSignals:
    """The first SIGINT/SIGTERM raises ``Stop`` in the main thread; once ``stopping`` is set
    (by that signal, or by ``hold()`` once the program stops on its own) later ones are only
    recorded, so nothing interrupts the stop itself."""

    def __init__(self) -> None:
        self.received: str | None = None
        self.stopping = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def hold(self) -> None:
        """From now on a signal is only recorded: the stop has begun."""
        self.stopping = True

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
        if not self.stopping:
            self.stopping = True
            raise Stop(self.received)
