"""Sessions, the sign-in guard, CSRF and the response headers of every console page.

- **Sessions** live on the server (Flask-Session): in Redis in a cluster (``redis://``, shared by
  every replica; each key expires with the session) or in a directory on one machine
  (``file://``, the demo). The browser holds only a random id, in a cookie that is HttpOnly,
  SameSite=Lax and, unless turned off for plain-http development, Secure with the ``__Host-``
  prefix (no Domain, Path=/). The id is replaced at sign-in, so a planted id is worth nothing.
- **The guard** denies by default: every console view but the sign-in pages and the static
  assets needs a signed-in person. A session idle for longer than ``MLC_CONSOLE_IDLE_MINUTES``
  or older than ``MLC_CONSOLE_SESSION_HOURS`` ends; a cookie the server does not know (expired,
  tampered with, forged) is simply no session.
- **CSRF**: every POST carries Flask-WTF's token (a form field, or the ``X-CSRFToken`` header htmx
  sends); a request without a valid one is refused with 400 before any view runs.
- **Headers**: a Content-Security-Policy without inline script or style, no framing, no
  sniffing, no referrer to other sites, and no caching of pages that show business data.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cachelib.file import FileSystemCache
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from mlconnector.ratelimit import vouch_for_request
from reconciler.console.roles import Person
from reconciler.console.settings import ConsoleSettings

# Views anyone may reach: the sign-in pages and the files every page loads.
PUBLIC_ENDPOINTS = frozenset(
    {
        "console.assets.file",
        "console.identity.sign_in",
        "console.identity.start",
        "console.identity.redirected",
        "console.identity.signed_out",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
csrf = CSRFProtect()


def install_sessions(app: Flask, settings: ConsoleSettings) -> None:
    """Server-side sessions and CSRF protection (checked by the console's guard only)."""
    lifetime = timedelta(hours=settings.absolute_hours)
    app.permanent_session_lifetime = lifetime
    secure = settings.cookie_secure
    app.config.update(
        SESSION_COOKIE_NAME="__Host-mlc-console" if secure else "mlc-console",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        # The JSON API keeps its bearer tokens; only the console's guard asks for the token.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A token is good for the session's life: a clerk may read a long page before acting.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=secure,
    )
    store = settings.session_store
    if store.startswith("file://"):
        directory = Path(urlsplit(store).path)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        cache = FileSystemCache(str(directory), threshold=5000, mode=0o600)
        app.session_interface = CacheLibSessionInterface(
            app, client=cache, key_prefix="mlc-console:"
        )
    else:
        client = Redis.from_url(store, socket_connect_timeout=2, socket_timeout=2)
        app.session_interface = RedisSessionInterface(app, client=client, key_prefix="mlc-console:")
    csrf.init_app(app)


def content_security_policy(settings: ConsoleSettings) -> str:
    """Scripts, styles and images from the console itself only; forms may go to the IdP too."""
    parts = urlsplit(settings.authority or "")
    idp = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            f"form-action 'self' {idp}".strip(),
        ]
    )


def guard(console: Blueprint, settings: ConsoleSettings) -> None:
    """Sign-in, session age and CSRF checks before every console view; headers after it."""
    policy = content_security_policy(settings)
    idle = settings.idle_minutes * 60
    absolute = settings.absolute_hours * 3600

    @console.before_request
    def _check() -> WerkzeugResponse | None:
        if request.method not in SAFE_METHODS:
            csrf.protect()
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        data = session.get("person")
        now = time.time()
        ended = None
        if data is None:
            ended = None
        elif now - float(session.get("seen_at", 0)) > idle:
            ended = "idle"
        elif now - float(session.get("signed_in_at", 0)) > absolute:
            ended = "expired"
        if data is None or ended:
            session.clear()
            if request.method in SAFE_METHODS and not request.headers.get("HX-Request"):
                return redirect(
                    url_for("console.identity.sign_in", next=request.full_path, ended=ended)
                )
            return Response("Sign in first.", status=401, mimetype="text/plain")
        g.person = Person.from_session(data)
        vouch_for_request(g.person.oid)  # a 403 after this is a role's refusal, not a bad login
        session["seen_at"] = now
        return None

    @console.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "console.assets.file":
            response.headers["Cache-Control"] = "no-store"
        return response

    @console.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        current_app.logger.warning("console: form refused: %s", error.description)
        return render_template(
            "console/error.html",
            title="This form has expired",
            message="The form did not carry a valid security token (it may be older than your "
            "session, or it did not come from this site). Nothing was changed. Go back, reload "
            "the page and try again.",
        ), 400

    @console.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed", 409: "Not done"}
        return render_template(
            "console/error.html",
            title=titles.get(status, error.name),
            message=error.description or error.name,
        ), status
