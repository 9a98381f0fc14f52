"""Admin API, control and inspection: reset, configuration, apps, clock, faults, webhooks.

Everything a test or the demo needs to steer the emulator without touching the BC surface:
``POST /_emulator/reset``, ``GET|PATCH /_emulator/config``, ``POST /_emulator/clients``,
``POST /_emulator/clock/advance``, ``GET|POST|DELETE /_emulator/faults``,
``POST /_emulator/notifications/flush``, ``GET /_emulator/notifications``,
``GET /_emulator/subscriptions``, ``GET /_emulator/stats`` and the per-company ledgers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint
from flask import Response

from bc_emulator.admin_common import PREFIX
from bc_emulator.admin_common import check_admin
from bc_emulator.admin_common import company_scope
from bc_emulator.config import ClientApp
from bc_emulator.errors import bad_request
from bc_emulator.faults import rule_from_json
from bc_emulator.http_utils import json_body
from bc_emulator.http_utils import json_response
from bc_emulator.state import current_emulator

bp = Blueprint("admin_control", __name__, url_prefix=PREFIX)
bp.before_request(check_admin)
# Passwords and secrets never leave the admin API; GET /_emulator/signin lists users and web apps.
_SECRET_FIELDS = {"admin_token", "clients", "users", "web_apps"}


def _config_view() -> dict[str, Any]:
    emu = current_emulator()
    values = dataclasses.asdict(emu.config)
    for name in _SECRET_FIELDS:
        values.pop(name, None)
    values["clients"] = [
        {"tenant": c.tenant, "clientId": c.client_id} for c in emu.knobs.all_clients()
    ]
    values["retry_delays_seconds"] = [str(d) for d in emu.config.retry_delays_seconds]
    return {k: (str(v) if isinstance(v, float) else v) for k, v in values.items()}


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    """snake_case dataclass fields -> the camelCase the rest of the API uses."""
    out = {}
    for key, value in values.items():
        head, *rest = key.split("_")
        out[head + "".join(part.title() for part in rest)] = value
    return out


@bp.post("/reset")
def reset() -> Response:
    """Empty the emulator: data, subscriptions, tokens, clock offset, faults, counters."""
    current_emulator().reset()
    return json_response({"reset": True})


@bp.get("/config")
def get_config() -> Response:
    """Current configuration (secrets omitted; floats as strings)."""
    return json_response(_config_view())


@bp.patch("/config")
def patch_config() -> Response:
    """Change knobs at run time, e.g. ``{"rate_limit_per_second": 20}``."""
    emu = current_emulator()
    body = json_body()
    try:
        emu.knobs.config = emu.config.with_changes(**body)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from exc
    emu.notifier.wake()
    return json_response(_config_view())


@bp.post("/clients")
def add_client() -> Response:
    """Register an app: ``{"tenant", "clientId", "clientSecret"}``."""
    body = json_body()
    try:
        app = ClientApp(str(body["tenant"]), str(body["clientId"]), str(body["clientSecret"]))
    except KeyError as exc:
        raise bad_request(f"missing {exc}") from exc
    current_emulator().knobs.extra_clients.append(app)
    return json_response({"tenant": app.tenant, "clientId": app.client_id}, 201)


@bp.get("/clock")
def clock() -> Response:
    """The emulated time and its offset."""
    emu = current_emulator()
    return json_response({"now": emu.clock.now(), "offsetSeconds": str(emu.clock.offset_seconds)})


@bp.post("/clock/advance")
def advance() -> Response:
    """Time travel: ``{"seconds": 259200}``."""
    emu = current_emulator()
    seconds = json_body().get("seconds", 0)
    now = emu.clock.advance(float(seconds))
    emu.notifier.wake()
    return json_response({"now": now, "offsetSeconds": str(emu.clock.offset_seconds)})


@bp.get("/faults")
def list_faults() -> Response:
    """Active fault rules."""
    emu = current_emulator()
    return json_response({"value": [r.describe() for r in emu.faults.rules]})


@bp.post("/faults")
def add_fault() -> Response:
    """Inject a fault, e.g. ``{"status": 503, "count": 2, "retryAfter": 1}``."""
    rule = current_emulator().faults.add(rule_from_json(json_body()))
    return json_response(rule.describe(), 201)


@bp.delete("/faults")
def clear_faults() -> Response:
    """Remove every fault rule."""
    current_emulator().faults.clear()
    return json_response({"value": []})


@bp.post("/notifications/flush")
def flush() -> Response:
    """Send every pending notification now and wait for the attempts."""
    emu = current_emulator()
    timeout = float(json_body(allow_empty=True).get("timeout", 10))
    emu.notifier.flush(timeout)
    return json_response({"log": emu.notifier.log, **emu.notifier.pending()})


@bp.get("/notifications")
def notifications() -> Response:
    """Delivery log and queued work."""
    emu = current_emulator()
    return json_response({"log": emu.notifier.log, **emu.notifier.pending()})


@bp.get("/subscriptions")
def subscriptions() -> Response:
    """Every subscription in every environment, with the emulator's internal fields."""
    emu = current_emulator()
    with emu.store.lock:
        value = [
            {
                **s.to_values(),
                "tenant": s.tenant,
                "environment": s.environment,
                "companyId": s.company_id,
                "entitySet": s.entity_set,
            }
            for env in emu.store.environments.values()
            for s in env.subscriptions.values()
        ]
    return json_response({"value": value})


@bp.get("/stats")
def stats() -> Response:
    """Request counters."""
    emu = current_emulator()
    return json_response(
        {
            "apiRequests": emu.api_requests,
            "batchOperations": emu.batch_operations,
            "throttled": emu.throttle.rejected,
            "faultsInjected": emu.faults.injected,
        }
    )


@bp.get("/companies/<company_id>/journalLines")
def journal_lines(company_id: str) -> Response:
    """Unposted lines of every batch (customer payments and general lines)."""
    emu = current_emulator()
    with emu.store.lock:
        company = company_scope(emu, company_id).co
        value = [
            {
                "id": x.id,
                "journalId": x.batch_id,
                "accountType": x.account_type,
                "accountNumber": x.account_number,
                "documentType": x.document_type,
                "amount": x.amount,
                "currencyCode": x.currency_code or company.lcy_code,
                "amountLcy": x.amount_lcy,
                "appliesToInvoiceId": x.applies_to_invoice_id,
                "balancingAccountType": x.bal_account_type,
                "balancingAccountNumber": x.bal_account_number,
                **x.values,
            }
            for x in company.journal_lines.values()
        ]
    return json_response({"value": value})


@bp.get("/companies/<company_id>/postedJournalLines")
def posted_lines(company_id: str) -> Response:
    """Every journal line posted so far (posted payments and general lines)."""
    emu = current_emulator()
    with emu.store.lock:
        value = list(company_scope(emu, company_id).co.posted_journal_lines)
    return json_response({"value": value})


@bp.get("/companies/<company_id>/customerLedgerEntries")
def customer_entries(company_id: str) -> Response:
    """Customer ledger entries (invoices and payments, with remaining amounts)."""
    emu = current_emulator()
    with emu.store.lock:
        entries = company_scope(emu, company_id).co.cust_entries
        value = [{**_camel(dataclasses.asdict(e)), "open": e.open} for e in entries]
    return json_response({"value": value})


@bp.get("/companies/<company_id>/bankLedgerEntries")
def bank_entries(company_id: str) -> Response:
    """Bank account ledger entries."""
    emu = current_emulator()
    with emu.store.lock:
        entries = company_scope(emu, company_id).co.bank_entries
        value = [_camel(dataclasses.asdict(e)) for e in entries]
    return json_response({"value": value})


@bp.post("/companies/<company_id>/touch")
def touch(company_id: str) -> Response:
    """Simulate a BC user editing a record: ``{"entitySet": "customers", "id": "..."}``."""
    emu = current_emulator()
    body = json_body()
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        entity_set = emu.registry.company_sets.get(str(body.get("entitySet")))
        rec = entity_set.find(scope, str(body.get("id", "")).lower()) if entity_set else None
        if entity_set is None or rec is None:
            raise bad_request("Unknown entitySet or id.")
        rec.touch(emu.clock.now())
        scope.emit(entity_set.name, entity_set.key_of(rec), "updated")
        view = entity_set.serialize(scope, rec)
    return json_response(view)
