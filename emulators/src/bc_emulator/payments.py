"""``customerPayments`` (page 30055, bc-api.md §4.9): unposted cash-receipt journal lines.

Document Type is Payment and Account Type Customer. ``amount`` is not negated -- a positive amount
is accepted here and refused only at posting -- but it is rounded to the line currency's "Amount
Rounding Precision" like every Gen. Journal Line amount (``line_currency.validate_amount``).
``appliesToInvoiceId`` / ``appliesToInvoiceNumber`` must name a *posted* invoice (BC's
messages), and an empty customer is taken from that invoice. The lines are not webhook-capable
(§7.7), so they raise no notifications.

The line's currency follows codeunit 5478 "Graph Mgt - Journal Lines" ``SetPaymentsValues``
(microsoft/BCApps, ``src/Layers/W1/BaseApp/Integration/Graph/GraphMgtJournalLines.Codeunit.al``):
the batch's balancing account is set up first (``SetUpNewLine``), then ``Validate("Account No.")``
(``GetCustomerAccount``: a balancing bank account with a currency gives the line that currency,
otherwise the customer's currency applies), ``Validate(Amount)``, ``Validate("Bal. Account No.",
'')`` and finally the batch's "Bal. Account Type"/"Bal. Account No." validated again. So in a
batch balanced by a EUR bank account every payment line is a EUR line -- also for a customer in
LCY, which BC does not refuse here (posting later needs "Appln. between Currencies" to apply it to
an LCY invoice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import dialog
from bc_emulator.journal_batches import CASHRCPT
from bc_emulator.journal_lines import JournalLineSet
from bc_emulator.journal_lines import new_line
from bc_emulator.journal_lines import rename_line
from bc_emulator.journal_lines import set_document_number
from bc_emulator.line_currency import GL
from bc_emulator.line_currency import validate_account_no
from bc_emulator.line_currency import validate_amount
from bc_emulator.line_currency import validate_bal_account_no
from bc_emulator.line_currency import validate_bal_account_type
from bc_emulator.lookups import customer_name
from bc_emulator.lookups import posted_invoice
from bc_emulator.lookups import resolve_customer
from bc_emulator.models import Company
from bc_emulator.models import Customer
from bc_emulator.models import JournalLine

_PLAIN = ("externalDocumentNumber", "description", "comment", "postingDate")


def _applies_number(scope: Scope, line: JournalLine) -> str:
    invoice = scope.co.invoices.get(line.applies_to_invoice_id)
    return invoice.number if invoice is not None else ""


class CustomerPaymentsSet(JournalLineSet):
    """Customer payment lines of cash-receipt batches."""

    name = "customerPayments"
    entity_type = "customerPayment"
    caption = "Gen. Journal Line"
    fields = schemas.CUSTOMER_PAYMENT

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "journalId": lambda s, r: r.batch_id,
            "journalDisplayName": lambda s, r: s.co.batches[r.batch_id].values["code"],
            "customerId": lambda s, r: r.account_id,
            "customerNumber": lambda s, r: r.account_number,
            "amount": lambda s, r: r.amount,
            "appliesToInvoiceId": lambda s, r: r.applies_to_invoice_id,
            "appliesToInvoiceNumber": _applies_number,
        }

    def belongs(self, line: JournalLine) -> bool:
        """Document Type Payment, Account Type Customer."""
        return line.account_type == "Customer" and line.document_type == "Payment"

    def create(self, scope: Scope, body: dict[str, Any]) -> JournalLine:
        """POST a payment line."""
        parsed = self.parse_body(scope, body)
        batch = self.batch_for_insert(scope, parsed)
        if batch.template != CASHRCPT:
            # The page only sees batches of the default cash-receipts template.
            raise dialog(f"The General Journal Batch with ID {batch.id} cannot be found.")
        line = new_line(scope, batch, parsed, "Customer")
        line.document_type = "Payment"
        self._apply(scope, line, parsed, creating=True)
        # SetPaymentsValues ends by validating the balancing account again.
        company = scope.co
        validate_bal_account_no(company, line, "")
        validate_bal_account_type(company, line, batch.bal_account_type or GL)
        validate_bal_account_no(company, line, batch.bal_account_number)
        company.journal_lines[line.id] = line
        return line

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a payment line."""
        line: JournalLine = rec
        parsed = self.parse_body(scope, body, line)
        self.check_journal_unchanged(line, parsed)
        rename_line(scope, line, parsed)
        set_document_number(line, parsed)
        self._apply(scope, line, parsed, creating=False)
        line.touch(scope.store.clock.now())

    def _apply(
        self, scope: Scope, line: JournalLine, parsed: dict[str, Any], creating: bool
    ) -> None:
        company = scope.co
        customer = resolve_customer(company, parsed)
        if "appliesToInvoiceId" in parsed or "appliesToInvoiceNumber" in parsed:
            applies_id = parsed.get("appliesToInvoiceId")
            applies_no = parsed.get("appliesToInvoiceNumber")
            if (applies_id in (None, BLANK_GUID)) and not applies_no:
                line.applies_to_invoice_id = BLANK_GUID
            else:
                invoice = posted_invoice(company, applies_id, applies_no)
                line.applies_to_invoice_id = invoice.id
                if customer is None and not line.account_number:
                    customer = company.customers.get(
                        str(invoice.values.get("billToCustomerId", invoice.customer_id))
                    )
        if customer is not None:
            _set_customer(company, line, customer)
        if creating or "amount" in parsed:
            validate_amount(company, line, parsed.get("amount", Decimal(0)))
        assign_plain(line, parsed, _PLAIN)
        if creating and not line.values.get("description") and customer is not None:
            line.values["description"] = customer_name(customer)


def _set_customer(company: Company, line: JournalLine, customer: Customer) -> None:
    """``Validate("Account No.")``: ``GetCustomerAccount`` decides the line currency."""
    line.account_id = customer.id
    validate_account_no(company, line, str(customer.values["number"]))
