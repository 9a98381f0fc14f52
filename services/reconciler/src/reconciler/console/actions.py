"""What a Clerk does to a record: replay it, mark it handled, apply an unmatched payment.

Each action is a preview first (a GET that changes nothing and says what would happen), then a
POST carrying the CSRF token and, where the audit trail needs one, the person's reason. Every
action writes an audit row naming the person; history is only ever added to.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from mlconnector.bus import PublishError
from mlconnector.db import utcnow
from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.attention import raw_attention
from reconciler.bootstrap import Dependencies
from reconciler.console.audit import person_event
from reconciler.console.previews import replay_preview
from reconciler.console.reasons import reason_for
from reconciler.console.resolve import candidates
from reconciler.console.roles import Role
from reconciler.console.roles import current_person
from reconciler.console.roles import requires
from reconciler.console.settings import ConsoleSettings
from reconciler.models import AuditAction
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.replay import ReplayError
from reconciler.replay import replay_record

bp = Blueprint("actions", __name__)
MAX_REASON = 500


def _deps() -> Dependencies:
    deps: Dependencies = current_app.extensions["reconciler"]
    return deps


def _reason() -> str:
    reason = " ".join((request.form.get("reason") or "").split())
    if not reason:
        abort(422, description="Say why: the reason is kept in the audit trail.")
    if len(reason) > MAX_REASON:
        abort(422, description=f"The reason is longer than {MAX_REASON} characters.")
    return reason


def _record_or_404(session: Any, record_id: int) -> SyncRecord:
    record = session.get(SyncRecord, record_id)
    if record is None:
        abort(404, description=f"There is no record {record_id}.")
    return record  # type: ignore[no-any-return]


@bp.get("/records/<int:record_id>/replay")
@requires(Role.CLERK)
def replay(record_id: int) -> str:
    with _deps().session_factory() as session:
        record = _record_or_404(session, record_id)
        return render_template("console/replay.html", preview=replay_preview(session, record))


@bp.post("/records/<int:record_id>/replay")
@requires(Role.CLERK)
def do_replay(record_id: int) -> WerkzeugResponse:
    reason = _reason()
    person = current_person()
    deps = _deps()
    try:
        result = replay_record(
            deps.session_factory, deps.publisher, record_id, actor=person.actor, reason=reason
        )
    except ReplayError as exc:
        abort(409, description=str(exc))
    except PublishError:
        abort(
            503, description="The message bus did not take the replay; nothing changed. Try again."
        )
    flash(
        f"Record {record_id} was replayed as message {result.message_id}."
        + (f" {result.note}." if result.note else ""),
        "success",
    )
    return redirect(url_for("console.story.record", record_id=record_id))


@bp.get("/records/<int:record_id>/handled")
@requires(Role.CLERK)
def handled(record_id: int) -> str:
    with _deps().session_factory() as session:
        record = _record_or_404(session, record_id)
        return render_template(
            "console/handled.html",
            record=record,
            reason=reason_for(raw_attention(record.state.value, record.flags)),
            what=raw_attention(record.state.value, record.flags),
        )


@bp.post("/records/<int:record_id>/handled")
@requires(Role.CLERK)
def do_handled(record_id: int) -> WerkzeugResponse:
    reason = _reason()
    person = current_person()
    with _deps().session_factory.begin() as session:
        record = _record_or_404(session, record_id)
        what = raw_attention(record.state.value, record.flags)
        if what is None or record.attention is None:
            abort(409, description=f"Record {record_id} does not need a person any more.")
        record.flags = {
            **(record.flags or {}),
            "handled": {
                "what": what,
                "by": person.name,
                "oid": person.oid,
                "at": utcnow().isoformat(),
                "reason": reason,
            },
        }
        session.add(
            person_event(
                person,
                AuditAction.RESOLVED.value,
                f"marked handled by {person.name}: {reason}",
                record_id=record_id,
                details={"reason": reason, "what": what},
            )
        )
    flash(f"Record {record_id} is marked as handled.", "success")
    return redirect(url_for("console.queue.page"))


def _unmatched_payment(session: Any, record_id: int) -> SyncRecord:
    record = _record_or_404(session, record_id)
    if record.kind is not RecordKind.PAYMENT or record.state is not RecordState.UNMATCHED:
        abort(409, description=f"Record {record_id} is not an unmatched payment.")
    if not (record.stripe_ref or "").startswith(("ch_", "py_")):
        abort(409, description=f"Record {record_id} does not name a Stripe charge.")
    if record.amount_minor is None or not record.currency:
        abort(409, description=f"Record {record_id} has no amount to apply.")
    return record


@bp.get("/records/<int:record_id>/resolve")
@requires(Role.CLERK)
def resolve(record_id: int) -> tuple[str, int] | str:
    typed = (request.args.get("q") or "").strip()[:100] or None
    with _deps().session_factory() as session:
        record = _unmatched_payment(session, record_id)
        charge_id, amount, currency = (
            str(record.stripe_ref),
            int(record.amount_minor or 0),
            str(record.currency),
        )
        try:
            found = candidates(_deps().handler_deps, charge_id, amount, currency, typed)
        except (GatewayUnavailable, GatewayRejected) as exc:
            return render_template(
                "console/resolve.html", record=record, found=None, typed=typed, error=str(exc)
            ), 503
        return render_template(
            "console/resolve.html", record=record, found=found, typed=typed, error=None
        )


def _company_id(session: Any) -> str | None:
    settings: ConsoleSettings = current_app.extensions["console"]
    if settings.bc_company_id:
        return settings.bc_company_id
    found: str | None = session.scalar(
        select(InvoiceLink.bc_company_id).order_by(InvoiceLink.id.desc()).limit(1)
    )
    return found


@bp.get("/records/<int:record_id>/resolve/<invoice_id>")
@requires(Role.CLERK)
def confirm(record_id: int, invoice_id: str) -> tuple[str, int] | str:
    with _deps().session_factory() as session:
        record = _unmatched_payment(session, record_id)
        try:
            invoice = _deps().handler_deps.bc.get_invoice(invoice_id)
        except GatewayRejected as exc:
            abort(404, description=f"BC has no such invoice ({exc}).")
        except GatewayUnavailable as exc:
            abort(503, description=f"Business Central could not be asked: {exc}")
        return render_template("console/resolve_confirm.html", record=record, invoice=invoice)


@bp.post("/records/<int:record_id>/resolve/<invoice_id>")
@requires(Role.CLERK)
def apply(record_id: int, invoice_id: str) -> WerkzeugResponse:
    person = current_person()
    deps = _deps()
    with deps.session_factory() as session:
        record = _unmatched_payment(session, record_id)
        charge_id = str(record.stripe_ref)
        company = _company_id(session)
    if not company:
        abort(409, description="The BC company is not known yet: set MLC_BC_COMPANY_ID.")
    try:
        invoice = deps.handler_deps.bc.get_invoice(invoice_id)
    except GatewayRejected as exc:
        abort(404, description=f"BC has no such invoice ({exc}).")
    except GatewayUnavailable as exc:
        abort(503, description=f"Business Central could not be asked: {exc}")
    number = str(invoice.get("number") or invoice_id)
    references = {
        "bc_company_id": company,
        "bc_invoice_id": invoice_id,
        "bc_invoice_number": number,
        "matched_by": person.name[:128],
    }
    try:
        written = deps.handler_deps.stripe.set_bc_references(charge_id, references)
    except GatewayRejected as exc:
        abort(409, description=f"Stripe refused the match: {exc}")
    except GatewayUnavailable as exc:
        abort(503, description=f"Stripe could not be reached; nothing was applied: {exc}")
    with deps.session_factory.begin() as session:
        session.add(
            person_event(
                person,
                AuditAction.RESOLVED.value,
                f"{person.name} applied the payment to BC invoice {number}; the BC references "
                f"are now in Stripe charge {charge_id}'s metadata",
                record_id=record_id,
                details={
                    "bc_invoice_id": invoice_id,
                    "bc_invoice_number": number,
                    "unchanged": bool(written.get("unchanged")),
                },
            )
        )
    try:
        replay_record(
            deps.session_factory,
            deps.publisher,
            record_id,
            actor=person.actor,
            reason=f"applied by hand to BC invoice {number}",
        )
    except (ReplayError, PublishError) as exc:
        flash(
            f"The match is saved in Stripe, but the payment was not posted yet ({exc}). "
            "Replay the record to post it.",
            "error",
        )
        return redirect(url_for("console.story.record", record_id=record_id))
    flash(
        f"Applied to invoice {number}. The payment is being posted through the usual path; "
        "this page shows the result in a moment.",
        "success",
    )
    return redirect(url_for("console.story.record", record_id=record_id))
