"""One invoice's story on one page, reached from any record that concerns it."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template

from reconciler.bootstrap import Dependencies
from reconciler.console.reasons import reason_for
from reconciler.console.story_data import load_story
from reconciler.models import RecordKind

bp = Blueprint("story", __name__)


@bp.get("/records/<int:record_id>")
def record(record_id: int) -> str:
    deps: Dependencies = current_app.extensions["reconciler"]
    with deps.session_factory() as session:
        story = load_story(session, record_id)
        if story is None:
            abort(404, description=f"There is no record {record_id}.")
        return render_template(
            "console/story.html",
            story=story,
            kinds=RecordKind,
            links=current_app.extensions["console.links"],
            reason_for=reason_for,
        )
