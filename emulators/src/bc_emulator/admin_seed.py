"""Admin API, seeding and inspection: ``/_emulator/companies...``.

Bodies are JSON (decimals exact). Entities that exist in the BC API (customers, currencies,
invoices, credit memos) take the same API-shaped bodies and go through the same validation;
G/L accounts, bank accounts, journal batches and company settings (tax rates, posting accounts,
"Appln. between Currencies") take the admin shapes documented in README.md. Inspection
endpoints show what the standard API hides: unposted lines of every batch, posted journal
lines, customer and bank ledger entries.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from bc_emulator.admin_common import PREFIX
from bc_emulator.admin_common import check_admin
from bc_emulator.admin_common import company_scope
from bc_emulator.admin_common import default_tenant
from bc_emulator.company_sets import add_currency
from bc_emulator.edm import Field
from bc_emulator.edm import T
from bc_emulator.edm import coerce
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import bad_request
from bc_emulator.http_utils import json_body
from bc_emulator.http_utils import json_response
from bc_emulator.jsonio import loads
from bc_emulator.models import SalesDocument
from bc_emulator.registry import Registry
from bc_emulator.sales_documents import SalesDocumentsSet
from bc_emulator.seeding import add_bank_account
from bc_emulator.seeding import add_batch_from_json
from bc_emulator.seeding import add_gl_account
from bc_emulator.seeding import bulk_invoices
from bc_emulator.seeding import create_company
from bc_emulator.seeding import create_credit_memo
from bc_emulator.seeding import create_invoice
from bc_emulator.state import current_emulator

bp = Blueprint("admin_seed", __name__, url_prefix=PREFIX)
_Create = Callable[[Registry, Scope, dict[str, Any]], SalesDocument]
bp.before_request(check_admin)


def _items() -> list[dict[str, Any]]:
    """A JSON object or an array of objects."""
    raw = request.get_data()
    body = loads(raw) if raw.strip() else {}
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(i, dict) for i in items):
        raise bad_request("Expected a JSON object or an array of objects.")
    return items


def _api_view(scope: Scope, set_name: str, rec: Any) -> dict[str, Any]:
    emu = current_emulator()
    return emu.registry.company_sets[set_name].serialize(scope, rec)


def _reply(results: list[dict[str, Any]], many: bool) -> Response:
    return json_response({"value": results} if many else results[0], 201)


@bp.post("/companies")
def companies() -> Response:
    """Create a company (tenant/environment default to the first app and ``production``)."""
    emu = current_emulator()
    body = json_body(allow_empty=True)
    tenant = str(body.get("tenant") or default_tenant(emu))
    env_name = str(body.get("environment") or emu.config.environments[0])
    with emu.store.lock:
        env = emu.store.ensure_environment(tenant, env_name)
        company = create_company(emu.store, env, emu.config, body)
        result = {
            "id": company.id,
            "name": company.values["name"],
            "tenant": env.tenant,
            "environment": env.name,
            "lcyCode": company.lcy_code,
            "accounts": {a.values["number"]: a.id for a in company.gl_accounts.values()},
            "bankAccounts": {b.values["number"]: b.id for b in company.bank_accounts.values()},
            "journals": {
                f"{b.template}/{b.values['code']}": b.id for b in company.batches.values()
            },
            "companyInformationId": company.info_id,
        }
    return json_response(result, 201)


def _seed(company_id: str, set_name: str) -> Response:
    emu = current_emulator()
    items = _items()
    entity_set = emu.registry.company_sets[set_name]
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = [_api_view(scope, set_name, entity_set.create(scope, i)) for i in items]
    return _reply(results, len(items) > 1)


@bp.post("/companies/<company_id>/customers")
def customers(company_id: str) -> Response:
    """Create customers (API body)."""
    return _seed(company_id, "customers")


@bp.post("/companies/<company_id>/currencies")
def currencies(company_id: str) -> Response:
    """Create currencies (API body plus ``exchangeRate``: LCY per unit)."""
    emu = current_emulator()
    items = _items()
    entity_set = emu.registry.company_sets["currencies"]
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = []
        for item in items:
            rate = item.pop("exchangeRate", None)
            parsed = entity_set.parse_body(scope, item)
            if not parsed.get("code"):
                raise bad_request('A "code" must be provided.')
            rec = add_currency(scope, parsed, None if rate is None else Decimal(rate))
            results.append(
                {**_api_view(scope, "currencies", rec), "exchangeRate": rec.exchange_rate}
            )
    return _reply(results, len(items) > 1)


@bp.post("/companies/<company_id>/accounts")
def accounts(company_id: str) -> Response:
    """Create G/L accounts."""
    emu = current_emulator()
    items = _items()
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = [_api_view(scope, "accounts", add_gl_account(scope, i)) for i in items]
    return _reply(results, len(items) > 1)


@bp.post("/companies/<company_id>/bankAccounts")
def bank_accounts(company_id: str) -> Response:
    """Create bank accounts (``glAccountNumber`` is the posting G/L account)."""
    emu = current_emulator()
    items = _items()
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = [_api_view(scope, "bankAccounts", add_bank_account(scope, i)) for i in items]
    return _reply(results, len(items) > 1)


@bp.post("/companies/<company_id>/journals")
def journals(company_id: str) -> Response:
    """Create journal batches (``template`` GENERAL or CASHRCPT)."""
    emu = current_emulator()
    items = _items()
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = [_api_view(scope, "journals", add_batch_from_json(scope, i)) for i in items]
    return _reply(results, len(items) > 1)


def _seed_documents(company_id: str, set_name: str, create: _Create) -> Response:
    emu = current_emulator()
    items = _items()
    documents = emu.registry.company_sets[set_name]
    assert isinstance(documents, SalesDocumentsSet)
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        results = []
        for item in items:
            document = create(emu.registry, scope, item)
            view = documents.serialize(scope, document)
            view[documents.lines.name] = [
                documents.lines.serialize(scope, x) for x in document.lines
            ]
            results.append(view)
    return _reply(results, len(items) > 1)


@bp.post("/companies/<company_id>/invoices")
def invoices(company_id: str) -> Response:
    """Create invoices (API body + ``lines`` + optional ``post``)."""
    return _seed_documents(company_id, "salesInvoices", create_invoice)


@bp.post("/companies/<company_id>/creditMemos")
def credit_memos(company_id: str) -> Response:
    """Create credit memos (API body + ``lines`` + ``invoiceId``/``invoiceNumber`` + ``post``)."""
    return _seed_documents(company_id, "salesCreditMemos", create_credit_memo)


@bp.post("/companies/<company_id>/invoices/bulk")
def invoices_bulk(company_id: str) -> Response:
    """Create ``count`` one-line invoices fast."""
    emu = current_emulator()
    body = json_body()
    with emu.store.lock:
        scope = company_scope(emu, company_id)
        created = bulk_invoices(emu.registry, scope, body)
    return json_response({"count": len(created), "ids": [i.id for i in created]}, 201)


@bp.patch("/companies/<company_id>/settings")
def settings(company_id: str) -> Response:
    """Tax rates, posting accounts, "Appln. between Currencies"."""
    emu = current_emulator()
    body = json_body()
    code = Field("code", T.CODE, max_length=20)
    with emu.store.lock:
        company = company_scope(emu, company_id).co
        for name, rate in (body.get("taxRates") or {}).items():
            company.tax_rates[coerce(code, name)] = Decimal(rate)
        if "applnBetweenCurrencies" in body:
            if body["applnBetweenCurrencies"] not in ("None", "EMU", "All"):
                raise bad_request("applnBetweenCurrencies must be None, EMU or All.")
            company.appln_between_currencies = body["applnBetweenCurrencies"]
        for key, attr in (
            ("receivablesAccount", "receivables_account"),
            ("salesAccount", "sales_account"),
            ("taxAccount", "tax_account"),
        ):
            if key in body:
                setattr(company, attr, coerce(code, body[key]))
        result = {
            "taxRates": company.tax_rates,
            "applnBetweenCurrencies": company.appln_between_currencies,
            "receivablesAccount": company.receivables_account,
            "salesAccount": company.sales_account,
            "taxAccount": company.tax_account,
        }
    return json_response(result)
