"""The console's front-end files, served by the console itself (no CDN at run time).

htmx and Pico CSS come from npm, pinned in ``services/reconciler/assets/package.json`` and its
lock file, installed by the project's set-up (``scripts/lib.sh``) or the image build into
``node_modules``; the console's own stylesheet and script sit in the package's ``static``
folder. Only the files named here are served: a request cannot walk into ``node_modules``.
Responses are cacheable for a day: the pinned versions change only with a new release.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import send_file
from werkzeug.wrappers import Response as WerkzeugResponse

from reconciler.console.settings import ConsoleSettings

HERE = Path(__file__).parent
# In a checkout: services/reconciler/assets/node_modules (src/reconciler/console -> up three).
DEFAULT_NODE_MODULES = HERE.parents[2] / "assets" / "node_modules"

VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "pico.min.css": "@picocss/pico/css/pico.min.css",
}
OWN = {"console.css", "console.js"}

bp = Blueprint("assets", __name__)


def node_modules(settings: ConsoleSettings) -> Path:
    return settings.assets_dir or DEFAULT_NODE_MODULES


def missing_assets(settings: ConsoleSettings) -> list[str]:
    """The pinned files that are not installed (start-up names them instead of serving 404s)."""
    base = node_modules(settings)
    return [str(base / rel) for rel in VENDOR.values() if not (base / rel).is_file()]


@bp.get("/assets/<name>")
def file(name: str) -> WerkzeugResponse:
    settings: ConsoleSettings = current_app.extensions["console"]
    if name in VENDOR:
        path = node_modules(settings) / VENDOR[name]
    elif name in OWN:
        path = HERE / "static" / name
    else:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=86400)
