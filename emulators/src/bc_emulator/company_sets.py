"""Company-level and reference entity sets: companies, companyInformation, generalLedgerSetup,
currencies, accounts, bankAccounts and generalLedgerEntries (bc-api.md §4.1-4.3, 4.12-4.15).

Most are read-only through the API (the admin API seeds them). ``companyInformation`` is PATCHable
and reports the LCY code as ``currencyCode``; ``currencies`` supports full CRUD. The LCY itself is
never a currency row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import blank
from bc_emulator.edm import new_guid
from bc_emulator.edm import to_json_value
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.models import Company
from bc_emulator.models import Currency
from bc_emulator.models import GLEntry


class CompaniesSet(EntitySet):
    """``companies``: read-only system entity."""

    name = "companies"
    entity_type = "company"
    caption = "Company"
    fields = schemas.COMPANY

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "systemCreatedAt": lambda s, r: r.created_at,
            "systemModifiedAt": lambda s, r: r.last_modified,
            "systemCreatedBy": lambda s, r: BLANK_GUID,
            "systemModifiedBy": lambda s, r: BLANK_GUID,
            "timestamp": lambda s, r: r.version,
        }

    def rows(self, scope: Scope) -> Iterable[Company]:
        """Every company of the environment."""
        return list(scope.env.companies.values())

    def find(self, scope: Scope, key: str) -> Company | None:
        """Look up by id."""
        return scope.env.companies.get(key)


class CompanyInformationSet(EntitySet):
    """``companyInformation``: one row per company; PATCH only."""

    name = "companyInformation"
    entity_type = "companyInformation"
    caption = "Company Information"
    fields = schemas.COMPANY_INFORMATION
    methods = frozenset({"GET", "PATCH"})

    def rows(self, scope: Scope) -> Iterable[Company]:
        """The company itself carries its information record."""
        return [scope.co]

    def key_of(self, rec: Any) -> str:
        """The Company Information SystemId."""
        return str(rec.info_id)

    def version_of(self, rec: Any) -> int:
        """Versioned separately from the company."""
        return int(rec.info_version)

    def get(self, scope: Scope, rec: Any, name: str) -> Any:
        """Read from ``info_values``; ``currencyCode`` is the LCY code."""
        company: Company = rec
        if name == "id":
            return company.info_id
        if name == "lastModifiedDateTime":
            return company.info_modified or company.last_modified
        if name == "currencyCode":
            return company.lcy_code
        if name == "currentFiscalYearStartDate":
            return date(scope.store.clock.today().year, 1, 1)
        spec = self.by_name[name]
        default = company.values.get("name", "") if name == "displayName" else ""
        return to_json_value(spec, company.info_values.get(name, default))

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """Store the writable address/contact fields."""
        company: Company = rec
        parsed = self.parse_body(scope, body, company)
        company.info_values.update(parsed)
        company.info_version += 1
        company.info_modified = scope.store.clock.now()
        scope.emit(self.name, company.info_id, "updated")


class GeneralLedgerSetupSet(EntitySet):
    """``generalLedgerSetup``: read-only, exposes ``localCurrencyCode``."""

    name = "generalLedgerSetup"
    entity_type = "generalLedgerSetup"
    caption = "General Ledger Setup"
    fields = schemas.GENERAL_LEDGER_SETUP

    def rows(self, scope: Scope) -> Iterable[Company]:
        """One row per company."""
        return [scope.co]

    def key_of(self, rec: Any) -> str:
        """The setup record's id."""
        return str(rec.setup_id)

    def get(self, scope: Scope, rec: Any, name: str) -> Any:
        """LCY code and symbol from the company; everything else blank."""
        company: Company = rec
        if name == "id":
            return company.setup_id
        if name == "localCurrencyCode":
            return company.lcy_code
        if name == "localCurrencySymbol":
            return company.lcy_symbol
        if name == "lastModifiedDateTime":
            return company.last_modified
        return to_json_value(self.by_name[name], blank(self.by_name[name]))


class CurrenciesSet(EntitySet):
    """``currencies``: full CRUD."""

    name = "currencies"
    entity_type = "currency"
    caption = "Currency"
    fields = schemas.CURRENCY
    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})
    plain = ("code", "displayName", "symbol", "amountDecimalPlaces", "amountRoundingPrecision")

    def rows(self, scope: Scope) -> Iterable[Currency]:
        """Currency rows of the company."""
        return list(scope.co.currencies.values())

    def find(self, scope: Scope, key: str) -> Currency | None:
        """Look up by id."""
        return scope.co.currencies.get(key)

    def create(self, scope: Scope, body: dict[str, Any]) -> Currency:
        """Insert a currency; ``code`` is the key and must be unique."""
        parsed = self.parse_body(scope, body)
        code = parsed.get("code", "")
        if not code:
            raise dialog('A "code" must be provided.')
        return add_currency(scope, parsed)

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """Change description, symbol or rounding."""
        parsed = self.parse_body(scope, body, rec)
        if "code" in parsed and parsed["code"] != rec.values["code"]:
            _check_unique(scope.co, parsed["code"])
        assign_plain(rec, parsed, self.plain)
        rec.touch(scope.store.clock.now())
        scope.emit(self.name, rec.id, "updated")

    def delete(self, scope: Scope, rec: Any) -> None:
        """Remove a currency no document uses."""
        code = rec.values["code"]
        documents = [*scope.co.invoices.values(), *scope.co.credit_memos.values()]
        if any(doc.currency_code == code for doc in documents):
            raise dialog(f"You cannot delete Currency {code} because it is used on documents.")
        del scope.co.currencies[rec.id]
        scope.emit(self.name, rec.id, "deleted")


def _check_unique(company: Company, code: str) -> None:
    if company.currency_by_code(code) is not None:
        raise BCError(
            409,
            "Internal_EntityWithSameKeyExists",
            f"The record in table Currency already exists. Identification fields and values: "
            f"Code='{code}'",
        )


def add_currency(scope: Scope, parsed: dict[str, Any], rate: Decimal | None = None) -> Currency:
    """Insert a currency row (API POST and admin seeding)."""
    _check_unique(scope.co, parsed["code"])
    now = scope.store.clock.now()
    currency = Currency(
        id=parsed.get("id") or new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        exchange_rate=rate if rate is not None else Decimal(1),
    )
    currency.values = {
        "code": parsed["code"],
        "displayName": parsed.get("displayName", parsed["code"]),
        "symbol": parsed.get("symbol", ""),
        "amountDecimalPlaces": parsed.get("amountDecimalPlaces", "2:2"),
        "amountRoundingPrecision": parsed.get("amountRoundingPrecision", Decimal("0.01")),
    }
    scope.co.currencies[currency.id] = currency
    scope.emit("currencies", currency.id, "created")
    return currency


class AccountsSet(EntitySet):
    """``accounts`` (G/L accounts): read-only; ``netChange`` sums the G/L entries."""

    name = "accounts"
    entity_type = "account"
    caption = "G/L Account"
    fields = schemas.ACCOUNT

    def __init__(self) -> None:
        super().__init__()
        self.computed = {"netChange": _net_change}

    def rows(self, scope: Scope) -> Iterable[Any]:
        """G/L accounts of the company."""
        return list(scope.co.gl_accounts.values())

    def find(self, scope: Scope, key: str) -> Any | None:
        """Look up by id."""
        return scope.co.gl_accounts.get(key)


def _net_change(scope: Scope, rec: Any) -> Decimal:
    number = rec.values["number"]
    return sum(
        (e.amount for e in scope.co.gl_entries.values() if e.account_number == number),
        Decimal(0),
    )


class BankAccountsSet(EntitySet):
    """``bankAccounts``: read-only here; seeded through the admin API."""

    name = "bankAccounts"
    entity_type = "bankAccount"
    caption = "Bank Account"
    fields = schemas.BANK_ACCOUNT

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "currencyCode": lambda s, r: r.currency_code or s.co.lcy_code,
            "currencyId": lambda s, r: _currency_id(s.co, r.currency_code),
        }

    def rows(self, scope: Scope) -> Iterable[Any]:
        """Bank accounts of the company."""
        return list(scope.co.bank_accounts.values())

    def find(self, scope: Scope, key: str) -> Any | None:
        """Look up by id."""
        return scope.co.bank_accounts.get(key)


def _currency_id(company: Company, code: str) -> str:
    currency = company.currency_by_code(code) if code else None
    return currency.id if currency else BLANK_GUID


class GeneralLedgerEntriesSet(EntitySet):
    """``generalLedgerEntries``: read-only; debit/credit split of the signed LCY amount."""

    name = "generalLedgerEntries"
    entity_type = "generalLedgerEntry"
    caption = "G/L Entry"
    fields = schemas.GENERAL_LEDGER_ENTRY

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "entryNumber": lambda s, r: r.entry_number,
            "postingDate": lambda s, r: r.posting_date,
            "documentNumber": lambda s, r: r.document_number,
            "documentType": lambda s, r: r.document_type,
            "accountId": lambda s, r: r.account_id,
            "accountNumber": lambda s, r: r.account_number,
            "description": lambda s, r: r.description,
            "debitAmount": lambda s, r: r.amount if r.amount > 0 else Decimal(0),
            "creditAmount": lambda s, r: -r.amount if r.amount < 0 else Decimal(0),
            "additionalCurrencyDebitAmount": lambda s, r: Decimal(0),
            "additionalCurrencyCreditAmount": lambda s, r: Decimal(0),
        }

    def rows(self, scope: Scope) -> Iterable[GLEntry]:
        """All G/L entries of the company, by entry number."""
        return list(scope.co.gl_entries.values())

    def find(self, scope: Scope, key: str) -> GLEntry | None:
        """Look up by id."""
        return scope.co.gl_entries.get(key)
