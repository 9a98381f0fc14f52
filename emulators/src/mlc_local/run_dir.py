"""The demo's run directory, ``var/demo/<time>/``, its ``env`` file and the ``latest`` link.

Each run keeps its database, secrets file and logs in a directory of its own, so an earlier run
can still be read after the next one started. ``env`` is the stack's environment as a file a
shell can ``source`` (``export NAME='value'`` lines, values quoted with ``shlex.quote``), so a
newcomer can point the services' own CLIs and curl at the running stack. It holds the master
key of the secrets file and the reconciler API's token, so it is created readable by its owner
only (0600) and nothing prints its values. ``latest`` is a relative symlink to the newest run,
replaced atomically, so ``source var/demo/latest/env`` always means "the demo I just started".
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

LATEST = "latest"
ENV_FILE = "env"


def new_run_dir(base: Path) -> Path:
    """``base/<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... for runs started in the same second)."""
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 100):
        candidate = base / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free run directory for {stamp} under {base}")


def write_env_file(run_dir: Path, env: Mapping[str, str], header: str) -> Path:
    """Write ``run_dir/env`` (mode 0600): ``header`` as comments, then one export per name."""
    path = run_dir / ENV_FILE
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # also when the file existed with a wider mode
        out.write("\n".join(lines) + "\n")
    return path


def point_latest(run_dir: Path) -> Path:
    """Make ``<base>/latest`` a relative symlink to ``run_dir``; returns the link's path."""
    link = run_dir.parent / LATEST
    staging = run_dir.parent / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    staging.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(staging, link)  # atomic: a reader sees the old run or the new one, never none
    return link


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (what a person types
    from there: ``var/demo/latest/env``), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
