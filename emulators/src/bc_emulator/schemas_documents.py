"""Property lists of the document and journal pages (bc-api.md §4.5-4.11, §4.13).

Sales invoices and their lines, payment journals and customer payments, journals and journal
lines, G/L entries -- transcribed from the reference in page order, with the enum members the
reference lists (serialised XML-encoded, e.g. ``In_x0020_Review``, ``G_x002F_L_x0020_Account``).
Sales credit memos and their lines, which the reference only sketches (§4.7), are transcribed
from the AL pages in microsoft/ALAppExtensions, ``Apps/W1/APIV2/app/src/pages/``: page 30038
``APIV2SalesCreditMemos.Page.al`` and page 30046 ``APIV2SalesCreditMemLines.Page.al``.
"""

from __future__ import annotations

from bc_emulator.edm import Field
from bc_emulator.edm import T

G = T.GUID
S = T.STRING
C = T.CODE
D = T.DECIMAL
DT = T.DATETIME
DA = T.DATE
B = T.BOOL
E = T.ENUM


def _id() -> Field:
    return Field("id", G, read_only=True)


def _modified(read_only: bool = True) -> Field:
    return Field("lastModifiedDateTime", DT, read_only=read_only)


INVOICE_STATUS = (" ", "Draft", "In Review", "Open", "Paid", "Canceled", "Corrective")
# enum 5507 "Sales Cr. Memo Entity Buffer Status" (microsoft/BCApps, src/Layers/W1/BaseApp/
# Integration/Entity/SalesCrMemoEntityBufferStatus.Enum.al): no blank member, Paid last.
CREDIT_MEMO_STATUS = ("Draft", "In Review", "Open", "Canceled", "Corrective", "Paid")
LINE_TYPES = (
    "Comment",
    "Account",
    "Item",
    "Resource",
    "Fixed Asset",
    "Charge",
    "Allocation Account",
)
ACCOUNT_TYPES = (
    "G/L Account",
    "Customer",
    "Vendor",
    "Bank Account",
    "Fixed Asset",
    "IC Partner",
    "Employee",
)
DOCUMENT_TYPES = (
    " ",
    "Payment",
    "Invoice",
    "Credit Memo",
    "Finance Charge Memo",
    "Reminder",
    "Refund",
)

_INVOICE_HEAD = (
    _id(),
    Field("number", C, read_only=True, max_length=20),
    Field("externalDocumentNumber", C, max_length=35),
    Field("invoiceDate", DA),
    Field("postingDate", DA),
    Field("dueDate", DA),
    Field("promisedPayDate", DA),
    Field("customerPurchaseOrderReference", S, max_length=35),
    Field("customerId", G),
    Field("customerNumber", C, max_length=20),
    Field("customerName", S, read_only=True, max_length=100),
    Field("billToName", S, read_only=True, max_length=100),
    Field("billToCustomerId", G),
    Field("billToCustomerNumber", C, max_length=20),
    Field("shipToName", S, max_length=100),
    Field("shipToContact", S, max_length=100),
)
_SELL_TO = tuple(
    Field(f"sellTo{suffix}", S)
    for suffix in ("AddressLine1", "AddressLine2", "City", "Country", "State", "PostCode")
)
_BILL_TO = tuple(
    Field(f"billTo{suffix}", S, read_only=True)
    for suffix in ("AddressLine1", "AddressLine2", "City", "Country", "State", "PostCode")
)
_SHIP_TO = tuple(
    Field(f"shipTo{suffix}", S)
    for suffix in ("AddressLine1", "AddressLine2", "City", "Country", "State", "PostCode")
)

SALES_INVOICE = (
    *_INVOICE_HEAD,
    *_SELL_TO,
    *_BILL_TO,
    *_SHIP_TO,
    Field("currencyId", G),
    Field("currencyCode", C, max_length=10),
    Field("shortcutDimension1Code", C, max_length=20),
    Field("shortcutDimension2Code", C, max_length=20),
    Field("orderId", G, read_only=True),
    Field("orderNumber", C, read_only=True, max_length=20),
    Field("paymentTermsId", G),
    Field("shipmentMethodId", G),
    Field("salesperson", C, max_length=20),
    Field("disputeStatusId", G),
    Field("disputeStatus", S),
    Field("pricesIncludeTax", B, read_only=True),
    Field("remainingAmount", D, read_only=True),
    Field("discountAmount", D),
    Field("discountAppliedBeforeTax", B, read_only=True),
    Field("totalAmountExcludingTax", D, read_only=True),
    Field("totalTaxAmount", D, read_only=True),
    Field("totalAmountIncludingTax", D, read_only=True),
    Field("status", E, read_only=True, members=INVOICE_STATUS),
    _modified(),
    Field("phoneNumber", S, max_length=30),
    Field("email", S, max_length=80),
)

SALES_INVOICE_LINE = (
    _id(),
    Field("documentId", G),
    Field("sequence", T.INT),
    Field("itemId", G),
    Field("accountId", G),
    Field("lineType", E, members=LINE_TYPES),
    Field("lineObjectNumber", C, max_length=20),
    Field("description", S, max_length=100),
    Field("description2", S, max_length=50),
    Field("unitOfMeasureId", G),
    Field("unitOfMeasureCode", C, max_length=10),
    Field("quantity", D),
    Field("unitPrice", D),
    Field("discountAmount", D),
    Field("discountPercent", D),
    Field("discountAppliedBeforeTax", B, read_only=True),
    Field("amountExcludingTax", D, read_only=True),
    Field("taxCode", C, max_length=50),
    Field("taxPercent", D, read_only=True),
    Field("totalTaxAmount", D, read_only=True),
    Field("amountIncludingTax", D, read_only=True),
    Field("invoiceDiscountAllocation", D, read_only=True),
    Field("netAmount", D, read_only=True),
    Field("netTaxAmount", D, read_only=True),
    Field("netAmountIncludingTax", D, read_only=True),
    Field("shipmentDate", DA),
    Field("itemVariantId", G),
    Field("locationId", G),
)

# Page 30038: no ship-to, promised-pay or dispute fields and no remainingAmount; the bill-to
# address is writable here (each field has an OnValidate), unlike on page 30012.
SALES_CREDIT_MEMO = (
    _id(),
    Field("number", C, read_only=True, max_length=20),
    Field("externalDocumentNumber", C, max_length=35),
    Field("creditMemoDate", DA),
    Field("postingDate", DA),
    Field("dueDate", DA),
    Field("customerId", G),
    Field("customerNumber", C, max_length=20),
    Field("customerName", S, read_only=True, max_length=100),
    Field("billToName", S, read_only=True, max_length=100),
    Field("billToCustomerId", G),
    Field("billToCustomerNumber", C, max_length=20),
    *_SELL_TO,
    *(Field(f.name, S) for f in _BILL_TO),
    Field("shortcutDimension1Code", C, max_length=20),
    Field("shortcutDimension2Code", C, max_length=20),
    Field("currencyId", G),
    Field("currencyCode", C, max_length=10),
    Field("paymentTermsId", G),
    Field("shipmentMethodId", G),
    Field("salesperson", C, max_length=20),
    Field("pricesIncludeTax", B, read_only=True),
    Field("discountAmount", D),
    Field("discountAppliedBeforeTax", B, read_only=True),
    Field("totalAmountExcludingTax", D, read_only=True),
    Field("totalTaxAmount", D, read_only=True),
    Field("totalAmountIncludingTax", D, read_only=True),
    Field("status", E, read_only=True, members=CREDIT_MEMO_STATUS),
    _modified(),
    Field("invoiceId", G),
    Field("invoiceNumber", C, max_length=20),
    Field("phoneNumber", S, max_length=30),
    Field("email", S, max_length=80),
    Field("customerReturnReasonId", G),
)

# Page 30046 has the invoice line page's properties with unitPrice before quantity.
_LINE_ORDER = [f.name for f in SALES_INVOICE_LINE]
_LINE_ORDER.insert(_LINE_ORDER.index("quantity"), _LINE_ORDER.pop(_LINE_ORDER.index("unitPrice")))
SALES_CREDIT_MEMO_LINE = tuple(
    next(f for f in SALES_INVOICE_LINE if f.name == name) for name in _LINE_ORDER
)

CUSTOMER_PAYMENT_JOURNAL = (
    _id(),
    Field("code", C, max_length=10),
    Field("displayName", S, max_length=100),
    _modified(),
    Field("balancingAccountId", G),
    Field("balancingAccountNumber", C, read_only=True, max_length=20),
)

JOURNAL = (
    _id(),
    Field("code", C, max_length=10),
    Field("displayName", S, max_length=100),
    Field("templateDisplayName", C, read_only=True, max_length=10),
    _modified(),
    Field("balancingAccountId", G),
    Field("balancingAccountNumber", C, read_only=True, max_length=20),
)

CUSTOMER_PAYMENT = (
    _id(),
    Field("journalId", G),
    Field("journalDisplayName", C, max_length=10),
    Field("lineNumber", T.INT),
    Field("customerId", G),
    Field("customerNumber", C, max_length=20),
    Field("postingDate", DA),
    Field("documentNumber", C, max_length=20),
    Field("externalDocumentNumber", C, max_length=35),
    Field("amount", D),
    Field("appliesToInvoiceId", G),
    Field("appliesToInvoiceNumber", C, max_length=20),
    Field("description", S, max_length=100),
    Field("comment", S, max_length=250),
    _modified(),
)

JOURNAL_LINE = (
    _id(),
    Field("journalId", G),
    Field("journalDisplayName", C, read_only=True, max_length=10),
    Field("lineNumber", T.INT),
    Field("accountType", E, members=ACCOUNT_TYPES),
    Field("accountId", G),
    Field("accountNumber", C, max_length=20),
    Field("postingDate", DA),
    Field("documentNumber", C, max_length=20),
    Field("externalDocumentNumber", C, max_length=35),
    Field("amount", D),
    Field("description", S, max_length=100),
    Field("comment", S, max_length=250),
    Field("taxCode", C, max_length=20),
    Field("balanceAccountType", E, members=ACCOUNT_TYPES),
    Field("balancingAccountId", G),
    Field("balancingAccountNumber", C, max_length=20),
    _modified(),
)

GENERAL_LEDGER_ENTRY = (
    _id(),
    Field("entryNumber", T.INT, read_only=True),
    Field("postingDate", DA, read_only=True),
    Field("documentNumber", C, read_only=True),
    Field("documentType", E, read_only=True, members=DOCUMENT_TYPES),
    Field("accountId", G, read_only=True),
    Field("accountNumber", C, read_only=True),
    Field("description", S, read_only=True),
    Field("debitAmount", D, read_only=True),
    Field("creditAmount", D, read_only=True),
    Field("additionalCurrencyDebitAmount", D, read_only=True),
    Field("additionalCurrencyCreditAmount", D, read_only=True),
    _modified(),
)
