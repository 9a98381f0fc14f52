"""A private PostgreSQL cluster for outage tests and chaos runs, apart from the shared server.

``initdb`` and ``pg_ctl`` from the newest ``/usr/lib/postgresql/<version>/bin``, a data
directory and a socket directory inside ``base_dir``, a free port on 127.0.0.1, trust
authentication (loopback only, throwaway data), and fsync off: a commit still writes its WAL
before it returns (``synchronous_commit`` stays on), so a ``stop(mode="immediate")``, which is a
server crash, loses nothing and exercises recovery from the WAL; only an OS crash could.
PostgreSQL refuses to run as root, so when this process is root the cluster runs as the
``postgres`` system user and ``base_dir`` is handed to that user.

    with PrivatePostgres(Path(tmp) / "pg") as pg:
        url = pg.create_database("mlc")
        pg.stop()            # an outage: every connection drops, new ones are refused
        pg.start()
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path
from types import TracebackType

from mlc_local.processes import free_port

INSTALL_HINT = (
    "PostgreSQL server binaries are not installed under /usr/lib/postgresql: install Debian's "
    "postgresql package, as scripts/lib.sh ensure_postgres does"
)
SERVICE_USER = "postgres"


def postgres_bin_dir() -> Path:
    """The newest installed server version's ``bin`` directory; RuntimeError when none is."""
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError(INSTALL_HINT)
    return candidates[-1]


class PrivatePostgres:
    """One cluster in ``base_dir`` on its own port; ``stop`` and ``start`` keep its data."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir / "socket"
        self.log_path = base_dir / "postgres.log"
        self.port = free_port()
        self.bin = postgres_bin_dir()
        self.user = SERVICE_USER if os.geteuid() == 0 else None
        self.starts = 0

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database in this cluster (psycopg 3, superuser, no password)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> PrivatePostgres:
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

    def start(self, timeout: float = 60.0) -> PrivatePostgres:
        """Create the cluster on first use, start it and wait until it accepts connections."""
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        if self.running():
            return self
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        wait = ("-w", "-t", str(int(timeout)))
        self._pg_ctl("start", *wait, "-l", str(self.log_path), "-o", options)
        self.starts += 1
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (disconnect clients, clean shutdown) or ``immediate`` (as a
        crash: no checkpoint, recovery from the WAL on the next start)."""
        if self.running():
            self._pg_ctl("stop", "-w", "-m", mode)

    def close(self) -> None:
        """Stop the server for good (the files stay in ``base_dir`` for the caller to remove)."""
        if (self.data_dir / "PG_VERSION").is_file():
            self.stop()

    def running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").is_file():
            return False
        done = subprocess.run(  # noqa: S603 - the PostgreSQL tools, fixed arguments
            [str(self.bin / "pg_ctl"), "status", "-D", str(self.data_dir)],
            capture_output=True,
            check=False,
            user=self.user,
        )
        return done.returncode == 0

    def outage(self, seconds: float, mode: str = "fast") -> float:
        """Stop the server, stay down ``seconds``, start again; the seconds it was down."""
        began = time.monotonic()
        self.stop(mode)
        time.sleep(seconds)
        self.start()
        return time.monotonic() - began

    def create_database(self, name: str) -> str:
        """Create an empty database (owner ``postgres``); its SQLAlchemy URL."""
        self._run(
            str(self.bin / "createdb"),
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return self.url(name)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- internals ------------------------------------------------------------------------

    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # The user must be able to reach base_dir, whose parent (the caller's temporary
            # directory) a root process created: search permission only, no listing.
            parent = self.base_dir.parent
            os.chmod(parent, os.stat(parent).st_mode | 0o011)  # noqa: S103 - search, not read
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), args[0], "-D", str(self.data_dir), *args[1:])

    def _run(self, *argv: str) -> None:
        done = subprocess.run(  # noqa: S603 - the PostgreSQL tools, fixed arguments
            list(argv),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            user=self.user,
            cwd=self.base_dir if self.base_dir.exists() else None,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(argv[0]).name} {' '.join(argv[1:3])} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n{self.tail()}"
            )
