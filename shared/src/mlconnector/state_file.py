"""A small JSON state file, replaced atomically: what a resumable job remembers between runs.

The gateways hold no database (style.md §7), and a poll's position is a few hundred bytes that
only the next run of the same job reads, so it lives in a file. Each write goes to a temporary
sibling, is flushed to disk, and is renamed over the old file (``os.replace`` is atomic on
POSIX), so a job killed at any instant leaves either the previous state or the new one, never a
torn mix. The file is created private (0600, ``mkstemp``): it names records and times, no
secrets, but nobody else needs to read it. Both gateways carry the same module: each service
stands alone, and the shared package has no use for it yet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class StateFileError(RuntimeError):
    """The state file exists but cannot be read as a JSON object, or cannot be written."""


def read_state(path: Path) -> dict[str, Any] | None:
    """The stored object, or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{path} is not a JSON state file ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise StateFileError(f"{path} is not a JSON state file (not an object)")
    return data


def write_state(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the file with ``data`` in one atomic step (temp file, fsync, rename)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StateFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def add_cursor_arguments(parser: argparse.ArgumentParser, *, setting: str, window: str) -> None:
    """``--cursor FILE`` and ``--resume`` for a poll, the same in both gateways."""
    parser.add_argument(
        "--cursor",
        type=Path,
        metavar="FILE",
        help="save the position in FILE after every page, and continue an unfinished run of "
        f"the same window from it (default: {setting}, else no cursor)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the unfinished run saved in the cursor file, with its window (give no "
        f"{window})",
    )
