"""The review console: signed-in, server-rendered pages where the billing clerk works exceptions.

``install_console`` adds it to the reconciler's web app when an Entra ID app registration is
configured (``console.settings``). Everything under ``/console`` is the console's own: people
sign in with Microsoft Entra ID (``identity``), hold a server-side session, send a CSRF token
with every form, and get pages under a Content-Security-Policy without inline script
(``security``). The bearer-token guard of the JSON API leaves these blueprints alone; the
console's own guard denies by default instead: every view needs a signed-in person, and every
view that changes something names the role it needs (``roles``).

One blueprint per area, as the style guide asks: today, the queue of what needs a person, one
invoice's story, the actions on a record (replay, mark handled, apply an unmatched payment),
payouts, and connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint
from flask import Flask
from flask import redirect
from flask import url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from mlconnector.runtime import MissingSecrets
from reconciler.console.settings import CONSOLE_SECRETS

if TYPE_CHECKING:
    # Settings import this package's settings module; bootstrap imports settings.
    from reconciler.bootstrap import Dependencies
    from reconciler.console.settings import ConsoleSettings

CONSOLE_BLUEPRINT = "console"


def install_console(app: Flask, deps: Dependencies, settings: ConsoleSettings) -> None:
    """Register the console under ``/console``; a no-op when no app registration is set."""
    if not settings.enabled:
        return
    missing = [key for key in CONSOLE_SECRETS if not deps.secrets.get(key)]
    if missing:
        raise MissingSecrets(
            "the console is configured (MLC_CONSOLE_AUTHORITY, MLC_CONSOLE_CLIENT_ID) but the "
            f"secret store lacks {', '.join(missing)}; set them with: mlc-secrets set "
            f"ml-connector/reconciler {' '.join(missing)}"
        )
    from reconciler.console import actions
    from reconciler.console import assets
    from reconciler.console import connections
    from reconciler.console import identity
    from reconciler.console import payouts
    from reconciler.console import queue
    from reconciler.console import security
    from reconciler.console import story
    from reconciler.console import today
    from reconciler.console.formatting import install_filters
    from reconciler.console.links import Links
    from reconciler.console.roles import Role

    app.secret_key = deps.secrets["console_secret_key"]
    app.extensions["console"] = settings
    app.extensions["console.links"] = Links.from_settings(settings)
    security.install_sessions(app, settings)
    install_filters(app, settings)
    app.jinja_env.globals.update(roles=Role, url_endpoints=app.view_functions)
    missing = assets.missing_assets(settings)
    if missing:
        raise RuntimeError(
            "the console's front-end files are not installed (" + ", ".join(missing) + "): run "
            "npm ci in services/reconciler/assets, or set MLC_CONSOLE_ASSETS_DIR"
        )

    console = Blueprint(
        CONSOLE_BLUEPRINT,
        __name__,
        url_prefix="/console",
        template_folder="templates",
        static_folder=None,
    )
    security.guard(console, settings)
    console.register_blueprint(assets.bp)
    console.register_blueprint(identity.build_blueprint(settings, deps))
    console.register_blueprint(today.bp)
    console.register_blueprint(queue.bp)
    console.register_blueprint(story.bp)
    console.register_blueprint(actions.bp)
    console.register_blueprint(payouts.bp)
    console.register_blueprint(connections.bp)

    @console.get("/")
    def home() -> WerkzeugResponse:
        return redirect(url_for("console.today.page"))

    app.register_blueprint(console)
