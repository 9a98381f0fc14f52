"""Property lists of the emulated API pages, transcribed from bc-api.md §4 and §7.1.

One tuple of :class:`~bc_emulator.edm.Field` per entity set, in page order. Serialisation, input
validation, ``$filter``/``$select`` type checks and the contract tests all read these tables, so
a field documented in the reference exists here exactly once (documents and journals are in
``schemas_documents.py``, re-exported here). Max lengths are the [SPEC] values the reference
quotes.
"""

from __future__ import annotations

from bc_emulator.edm import Field
from bc_emulator.edm import T
from bc_emulator.schemas_documents import ACCOUNT_TYPES as ACCOUNT_TYPES
from bc_emulator.schemas_documents import CREDIT_MEMO_STATUS as CREDIT_MEMO_STATUS
from bc_emulator.schemas_documents import CUSTOMER_PAYMENT as CUSTOMER_PAYMENT
from bc_emulator.schemas_documents import CUSTOMER_PAYMENT_JOURNAL as CUSTOMER_PAYMENT_JOURNAL
from bc_emulator.schemas_documents import DOCUMENT_TYPES as DOCUMENT_TYPES
from bc_emulator.schemas_documents import GENERAL_LEDGER_ENTRY as GENERAL_LEDGER_ENTRY
from bc_emulator.schemas_documents import INVOICE_STATUS as INVOICE_STATUS
from bc_emulator.schemas_documents import JOURNAL as JOURNAL
from bc_emulator.schemas_documents import JOURNAL_LINE as JOURNAL_LINE
from bc_emulator.schemas_documents import LINE_TYPES as LINE_TYPES
from bc_emulator.schemas_documents import SALES_CREDIT_MEMO as SALES_CREDIT_MEMO
from bc_emulator.schemas_documents import SALES_CREDIT_MEMO_LINE as SALES_CREDIT_MEMO_LINE
from bc_emulator.schemas_documents import SALES_INVOICE as SALES_INVOICE
from bc_emulator.schemas_documents import SALES_INVOICE_LINE as SALES_INVOICE_LINE

G = T.GUID
S = T.STRING
C = T.CODE
D = T.DECIMAL
DT = T.DATETIME
DA = T.DATE
B = T.BOOL
E = T.ENUM

BLOCKED = (" ", "Ship", "Invoice", "All")
CONTACT_TYPES = ("Company", "Person")
GL_CATEGORY = (" ", "Assets", "Liabilities", "Equity", "Income", "Cost of Goods Sold", "Expense")
GL_ACCOUNT_TYPE = ("Posting", "Heading", "Total", "Begin-Total", "End-Total")


def _id() -> Field:
    return Field("id", G, read_only=True)


def _modified(read_only: bool = True) -> Field:
    return Field("lastModifiedDateTime", DT, read_only=read_only)


COMPANY = (
    _id(),
    Field("systemVersion", S, read_only=True),
    Field("timestamp", T.INT64, read_only=True),
    Field("name", S, read_only=True, max_length=30),
    Field("displayName", S, read_only=True, max_length=250),
    Field("businessProfileId", S, read_only=True, max_length=250),
    Field("systemCreatedAt", DT, read_only=True),
    Field("systemCreatedBy", G, read_only=True),
    Field("systemModifiedAt", DT, read_only=True),
    Field("systemModifiedBy", G, read_only=True),
)

_ADDRESS = ("addressLine1", "addressLine2", "city", "state", "country", "postalCode")

COMPANY_INFORMATION = (
    _id(),
    Field("displayName", S, max_length=100),
    *(Field(name, S) for name in _ADDRESS),
    Field("phoneNumber", S, max_length=30),
    Field("faxNumber", S, max_length=30),
    Field("email", S, max_length=80),
    Field("website", S, max_length=80),
    Field("taxRegistrationNumber", S, max_length=20),
    Field("currencyCode", C, read_only=True),
    Field("currentFiscalYearStartDate", DA, read_only=True),
    Field("industry", S),
    Field("experience", S),
    _modified(),
)

GENERAL_LEDGER_SETUP = (
    _id(),
    Field("allowPostingFrom", DA, read_only=True),
    Field("allowPostingTo", DA, read_only=True),
    Field("additionalReportingCurrency", C, read_only=True),
    Field("localCurrencyCode", C, read_only=True),
    Field("localCurrencySymbol", S, read_only=True),
    _modified(),
    Field("allowQueryFromConsolidation", B, read_only=True),
    *(Field(f"shortcutDimension{n}Code", C, read_only=True) for n in range(1, 9)),
)

CUSTOMER = (
    _id(),
    Field("number", C, max_length=20),
    Field("displayName", S, max_length=100),
    Field("type", E, members=CONTACT_TYPES),
    Field("addressLine1", S, max_length=100),
    Field("addressLine2", S, max_length=50),
    Field("city", S, max_length=30),
    Field("state", S, max_length=30),
    Field("country", C, max_length=10),
    Field("postalCode", C, max_length=20),
    Field("phoneNumber", S, max_length=30),
    Field("email", S, max_length=80),
    Field("website", S, max_length=80),
    Field("salespersonCode", C, max_length=20),
    Field("balanceDue", D, read_only=True),
    Field("creditLimit", D),
    Field("taxLiable", B),
    Field("taxAreaId", G),
    Field("taxAreaDisplayName", S, read_only=True),
    Field("taxRegistrationNumber", S, max_length=20),
    Field("currencyId", G),
    Field("currencyCode", C, max_length=10),
    Field("paymentTermsId", G),
    Field("shipmentMethodId", G),
    Field("paymentMethodId", G),
    Field("blocked", E, members=BLOCKED),
    _modified(read_only=False),
)

CURRENCY = (
    _id(),
    Field("code", C, max_length=10),
    Field("displayName", S, max_length=30),
    Field("symbol", S, max_length=10),
    Field("amountDecimalPlaces", S, max_length=5),
    Field("amountRoundingPrecision", D),
    _modified(),
)

ACCOUNT = (
    _id(),
    Field("number", C, read_only=True, max_length=20),
    Field("displayName", S, read_only=True, max_length=100),
    Field("category", E, read_only=True, members=GL_CATEGORY),
    Field("subCategory", S, read_only=True),
    Field("blocked", B, read_only=True),
    Field("accountType", E, read_only=True, members=GL_ACCOUNT_TYPE),
    Field("directPosting", B, read_only=True),
    Field("netChange", D, read_only=True),
    Field("consolidationTranslationMethod", S, read_only=True),
    Field("consolidationDebitAccount", C, read_only=True),
    Field("consolidationCreditAccount", C, read_only=True),
    Field("excludeFromConsolidation", B, read_only=True),
    _modified(),
)

BANK_ACCOUNT = (
    _id(),
    Field("number", C, read_only=True, max_length=20),
    Field("displayName", S, read_only=True, max_length=100),
    _modified(),
    Field("bankAccountNumber", S, read_only=True, max_length=30),
    Field("blocked", B, read_only=True),
    Field("currencyCode", C, read_only=True),
    Field("currencyId", G, read_only=True),
    Field("iban", C, read_only=True, max_length=50),
    Field("intercompanyEnabled", B, read_only=True),
)

SUBSCRIPTION = (
    Field("subscriptionId", S, read_only=True, max_length=150),
    Field("notificationUrl", S),
    Field("resource", S),
    Field("timestamp", T.INT64, read_only=True),
    Field("userId", G, read_only=True),
    Field("lastModifiedDateTime", DT, read_only=True),
    Field("clientState", S, max_length=2048),
    Field("expirationDateTime", DT, read_only=True),
    Field("systemCreatedAt", DT, read_only=True),
    Field("systemCreatedBy", G, read_only=True),
    Field("systemModifiedAt", DT, read_only=True),
    Field("systemModifiedBy", G, read_only=True),
)


def by_name(fields: tuple[Field, ...]) -> dict[str, Field]:
    """Index a schema by property name."""
    return {f.name: f for f in fields}
