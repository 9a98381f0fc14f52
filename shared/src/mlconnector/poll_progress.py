"""How far a long poll has got: a live ``rich`` display at a terminal, log lines in a CronJob.

A backfill over months can run for many minutes, and a person watching it wants to see it move;
but a CronJob's stderr goes line by line into the log pipeline, where a redrawn bar would be
thousands of lines of control codes. So ``auto`` draws the bar only when stderr is a terminal and
otherwise logs one line every N pages; ``bar`` forces the display (a terminal that does not say it
is one, or a test), ``log`` forces the lines. The figures are the same in both: the source being
listed, messages published (a resumed run counts those published before the interruption too),
pages read and the rate of this run. Nobody knows the total in advance (Stripe and BC lists do
not count), so the bar pulses instead of filling. Both gateways' polls use it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from types import TracebackType
from typing import Any
from typing import Literal
from typing import TextIO

logger = logging.getLogger(__name__)

Mode = Literal["bar", "log"]
CHOICES = ("auto", "bar", "log")


def resolve_mode(choice: str, stream: TextIO | None = None) -> Mode:
    """``bar`` or ``log`` for a ``--progress`` choice (``auto``: a bar only on a terminal)."""
    if choice == "bar":
        return "bar"
    if choice == "log":
        return "log"
    target = stream if stream is not None else sys.stderr
    isatty = getattr(target, "isatty", None)
    return "bar" if callable(isatty) and isatty() else "log"


class PollProgress:
    """Reports each page; use as a context manager around the poll."""

    def __init__(
        self,
        mode: Mode,
        *,
        every_pages: int = 10,
        already: int = 0,
        stream: TextIO | None = None,
    ) -> None:
        self._mode = mode
        self._every = max(1, every_pages)
        self._already = already
        self._stream = stream if stream is not None else sys.stderr
        self._pages = 0
        self._published = already
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> PollProgress:
        self._started = time.monotonic()
        if self._mode == "bar":
            # Imported here: a CronJob run never draws, and rich costs memory and start-up time.
            from rich.console import Console
            from rich.progress import BarColumn
            from rich.progress import Progress
            from rich.progress import SpinnerColumn
            from rich.progress import TextColumn
            from rich.progress import TimeElapsedColumn

            console = Console(file=self._stream, force_terminal=True)
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,} published"),
                TextColumn("{task.fields[pages]:,} pages"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=console,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "starting", total=None, completed=self._already, pages=0, rate=""
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._pages:
            self._log("finished")

    def page(self, source: str, published: int) -> None:
        """One more page of ``source`` read; ``published`` is the running total."""
        self._pages += 1
        self._published = published
        if self._bar is not None:
            self._bar.update(
                self._task,
                description=source,
                completed=published,
                pages=self._pages,
                rate=f"{self.rate():,.0f}/s",
            )
        elif self._pages % self._every == 0:
            self._log(source)

    def rate(self) -> float:
        """Messages per second published by this run (not counting a resumed run's past)."""
        elapsed = time.monotonic() - self._started
        return (self._published - self._already) / elapsed if elapsed > 0 else 0.0

    def _log(self, source: str) -> None:
        logger.info(
            "poll progress: %s: %d published, %d pages, %.0f/s",
            source,
            self._published,
            self._pages,
            self.rate(),
        )


def _pages(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of pages")
    return value


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` and ``--progress-every``, the same for both gateways' polls."""
    parser.add_argument(
        "--progress",
        choices=CHOICES,
        default="auto",
        help="a live display on stderr (bar), a log line every few pages (log), or a display "
        "only when stderr is a terminal (auto, the default)",
    )
    parser.add_argument(
        "--progress-every",
        type=_pages,
        default=10,
        metavar="PAGES",
        help="pages between two progress log lines (default 10)",
    )
