"""``salesInvoices({id})/Microsoft.NAV.cancel``: cancel a posted invoice with a credit memo.

Page 30012 ``Cancel`` (microsoft/ALAppExtensions
``Apps/W1/APIV2/app/src/pages/APIV2SalesInvoices.Page.al``): a draft is refused ("The action can
be applied to a posted invoice only."), so is a canceled invoice ("The invoice cannot be canceled
because it has already been canceled."); then ``TestCorrectInvoiceIsAllowed`` of codeunit 1303
"Correct Posted Sales Invoice" (microsoft/BCApps
``src/Layers/W1/BaseApp/Sales/History/CorrectPostedSalesInvoice.Codeunit.al``) runs, of which
the emulator checks

* ``TestIfInvoiceIsPaid``: "Amount Including VAT" must equal "Remaining Amount", else "You cannot
  cancel this posted sales invoice because it is fully or partially paid.\\To reverse a paid
  sales invoice, you must manually create a sales credit memo.";
* ``TestIfCustomerIsBlocked`` (Invoice or All): "You cannot cancel this posted sales invoice
  because customer <name> is blocked.";
* the receivables, tax and (for lines that are not G/L account lines) sales G/L accounts
  (``TestCustomerPostingGroup``, ``TestVATPostingSetup``, ``TestGenPostingSetup``): each must
  exist (``GLAccount.Get``) and not be blocked, "You cannot cancel this posted sales invoice
  because G/L Account <no.> is blocked.".

Codeunit 1303 ``OnRun`` then creates a credit memo as a copy of the invoice
(``CreateCopyDocument`` -> "Copy Document Mgt." ``CopySalesDocForInvoiceCancelling``: same
customer, currency, lines and invoice discount, "Applies-to Doc. Type" = Invoice and
"Applies-to Doc. No." = the invoice), posts it with Sales-Post -- which applies it to the
invoice and closes both entries -- and ``SetTrackInfoForCancellation`` inserts the Cancelled
Document that makes the invoice ``Canceled`` and the credit memo ``Corrective``. So afterwards
the credit memo is in ``salesCreditMemos`` with ``invoiceId`` = the invoice and
``status`` = ``Corrective``, and the invoice reads ``Canceled`` with ``remainingAmount`` 0.
A failure while making the credit memo is reported as "Canceling the invoice failed because of
the following error: \\<error>." (``CancelingInvoiceFailedNothingCreatedErr``); the emulator
checks the credit memo completely before creating it, so nothing is left behind. Its dates are
the emulated today (BC: the work date of the new Sales Header).
"""

from __future__ import annotations

from bc_emulator.amounts import compute_totals
from bc_emulator.credit_memo_posting import complete_posting
from bc_emulator.credit_memo_posting import prepare_posting
from bc_emulator.credit_memos import SalesCreditMemosSet
from bc_emulator.document_lines import copy_line
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.ledger import invoice_entry
from bc_emulator.ledger import missing_account
from bc_emulator.lookups import customer_name
from bc_emulator.models import SalesCreditMemo
from bc_emulator.models import SalesInvoice

_CREDIT_MEMOS = SalesCreditMemosSet()
_CANNOT = "You cannot cancel this posted sales invoice because"
# Header values the copy takes over from the posted invoice (dates and numbers are new).
_COPIED = (
    "externalDocumentNumber",
    "customerName",
    "billToName",
    "sellToAddressLine1",
    "sellToAddressLine2",
    "sellToCity",
    "sellToCountry",
    "sellToState",
    "sellToPostCode",
    "shortcutDimension1Code",
    "shortcutDimension2Code",
    "paymentTermsId",
    "shipmentMethodId",
    "salesperson",
    "phoneNumber",
    "email",
)


def _check_allowed(scope: Scope, invoice: SalesInvoice) -> None:
    company = scope.co
    entry = invoice_entry(scope, invoice.cust_entry_no)
    if entry is None or entry.remaining != entry.amount:
        raise dialog(
            f"{_CANNOT} it is fully or partially paid."
            "\\To reverse a paid sales invoice, you must manually create a sales credit memo."
        )
    customer = company.customers.get(invoice.customer_id)
    if customer is not None and customer.values.get("blocked") in ("Invoice", "All"):
        raise dialog(f"{_CANNOT} customer {customer_name(customer)} is blocked.")
    accounts = [company.receivables_account]
    if any(line.line_type not in ("Account", "Comment") for line in invoice.lines):
        accounts.append(company.sales_account)
    if compute_totals(company, invoice).total_tax:
        accounts.append(company.tax_account)
    for number in accounts:
        account = company.gl_account_by_number(number)
        if account is None:
            raise missing_account("G/L Account", number)
        if account.values.get("blocked"):
            raise dialog(f"{_CANNOT} G/L Account {number} is blocked.")


def _corrective_copy(scope: Scope, invoice: SalesInvoice) -> SalesCreditMemo:
    """The credit memo codeunit 1303 copies from the invoice (not yet registered)."""
    customer = scope.co.customers[invoice.customer_id]
    memo = _CREDIT_MEMOS.new_draft(scope, customer, {})
    memo.currency_code = invoice.currency_code
    memo.applies_to_number = invoice.number
    memo.corrective = True
    memo.discount_amount = invoice.discount_amount
    for name in _COPIED:
        if name in invoice.values:
            memo.values[name] = invoice.values[name]
    memo.lines = [copy_line(scope, line, memo.id) for line in invoice.lines]
    return memo


def cancel_invoice(scope: Scope, invoice: SalesInvoice) -> None:
    """``salesInvoices({id})/Microsoft.NAV.cancel``: create and post a corrective credit memo."""
    if not invoice.posted:
        raise dialog("The action can be applied to a posted invoice only.")
    if invoice.status == "Canceled":
        raise dialog("The invoice cannot be canceled because it has already been canceled.")
    _check_allowed(scope, invoice)
    if invoice.customer_id not in scope.co.customers:
        raise dialog(f"The customer {invoice.customer_number} does not exist.")
    memo = _corrective_copy(scope, invoice)
    try:
        posting = prepare_posting(scope, memo)
    except BCError as error:
        raise dialog(
            f"Canceling the invoice failed because of the following error: \\{error.message}."
        ) from error
    _CREDIT_MEMOS.register(scope, memo)
    complete_posting(scope, posting)
    invoice.status = "Canceled"
    invoice.touch(scope.store.clock.now())
    scope.emit("salesInvoices", invoice.id, "updated")
