"""Serving the emulator over HTTPS on loopback, for the CLI and for other packages' tests.

:class:`EmulatorServer` starts a threaded Werkzeug server in a background thread with a test CA
from ``trustme`` (msal refuses non-https authorities), writes the CA's PEM where clients can
trust it, and stops cleanly::

    with EmulatorServer({"test_mode": True, "clients": [...]}, ca_file=tmp / "bc-ca.pem") as bc:
        app = msal.ConfidentialClientApplication(..., authority=bc.authority(tenant),
                                                 instance_discovery=False, http_client=session)
        requests.get(bc.api_base(tenant, "production") + "/companies", ...)
"""

from __future__ import annotations

import logging
import shutil
import ssl
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from bc_emulator import create_app
from bc_emulator.config import EmulatorConfig
from bc_emulator.state import EXTENSION
from bc_emulator.state import Emulator
from emulator_http.keepalive import KeepAliveRequestHandler


class QuietRequestHandler(KeepAliveRequestHandler):
    """Request handler that does not log every request to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip per-request access logging."""


def make_ssl_context(
    ca_file: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
) -> ssl.SSLContext:
    """A server TLS context with a fresh test CA; the CA PEM is written to ``ca_file``."""
    ca = trustme.CA()
    cert = ca.issue_cert(*hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(ca_file))
    return context


class EmulatorServer:
    """The emulator as a real HTTPS server in a background thread."""

    def __init__(
        self,
        config: Mapping[str, Any] | EmulatorConfig | None = None,
        *,
        ca_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.app = create_app(config)
        self._host = host
        self._port = port
        self._quiet = quiet
        self._tmpdir: str | None = None
        if ca_file is None:
            self._tmpdir = tempfile.mkdtemp(prefix="bc-emulator-")
            ca_file = Path(self._tmpdir) / "bc-emulator-ca.pem"
        self.ca_file = str(ca_file)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def emulator(self) -> Emulator:
        """The running emulator's state object (for in-process inspection)."""
        emulator: Emulator = self.app.extensions[EXTENSION]
        return emulator

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "server not started"
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}:{self.port}"

    def api_base(self, tenant: str, environment: str = "production") -> str:
        """``<base>/v2.0/<tenant>/<environment>/api/v2.0``."""
        return f"{self.base_url}/v2.0/{tenant}/{environment}/api/v2.0"

    def authority(self, tenant: str) -> str:
        """msal authority URL for ``tenant``."""
        return f"{self.base_url}/{tenant}"

    @property
    def admin(self) -> str:
        """Admin API root, ``<base>/_emulator``."""
        return f"{self.base_url}/_emulator"

    def start(self) -> EmulatorServer:
        """Bind, start serving in a daemon thread, return self."""
        context = make_ssl_context(Path(self.ca_file))
        handler = QuietRequestHandler if self._quiet else KeepAliveRequestHandler
        self._server = make_server(
            self._host,
            self._port,
            self.app,
            threaded=True,
            ssl_context=context,
            request_handler=handler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="bc-emulator", daemon=True
        )
        self._thread.start()
        logging.getLogger(__name__).info("bc_emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, stop the notifier, remove temporary files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.emulator.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
