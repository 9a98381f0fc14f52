"""The entity-set graph: which sets exist, their navigations and bound actions.

``companies`` is the only root (``subscriptions`` is handled separately); every business set
hangs below ``companies({id})`` and some have their own navigations (``salesInvoices({id})/
salesInvoiceLines``, ``salesCreditMemos({id})/salesCreditMemoLines``,
``customerPaymentJournals({id})/customerPayments``, ``journals({id})/journalLines``).
``WEBHOOK_SETS`` lists the implemented sets that BC's webhook documentation supports
(bc-api.md §7.7, which names ``salesCreditMemos``) -- not customerPayments, journalLines or
lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from bc_emulator.company_sets import AccountsSet
from bc_emulator.company_sets import BankAccountsSet
from bc_emulator.company_sets import CompaniesSet
from bc_emulator.company_sets import CompanyInformationSet
from bc_emulator.company_sets import CurrenciesSet
from bc_emulator.company_sets import GeneralLedgerEntriesSet
from bc_emulator.company_sets import GeneralLedgerSetupSet
from bc_emulator.credit_memo_posting import post_credit_memo
from bc_emulator.credit_memos import SalesCreditMemosSet
from bc_emulator.customers import CustomersSet
from bc_emulator.entity_sets import EntitySet
from bc_emulator.exchange_rates import CurrencyExchangeRatesSet
from bc_emulator.general_lines import JournalLinesSet
from bc_emulator.invoice_cancel import cancel_invoice
from bc_emulator.invoice_posting import post_invoice
from bc_emulator.invoices import SalesInvoicesSet
from bc_emulator.journal_batches import CustomerPaymentJournalsSet
from bc_emulator.journal_batches import JournalsSet
from bc_emulator.journal_posting import post_batch
from bc_emulator.payments import CustomerPaymentsSet

WEBHOOK_SETS = frozenset(
    {
        "accounts",
        "companyInformation",
        "currencies",
        "customerPaymentJournals",
        "customers",
        "generalLedgerEntries",
        "journals",
        "salesCreditMemos",
        "salesInvoices",
    }
)


@dataclass(frozen=True)
class Registry:
    """Root sets and the company-scoped sets by name."""

    companies: CompaniesSet
    company_sets: dict[str, EntitySet]


def build_registry() -> Registry:
    """Wire up every entity set."""
    companies = CompaniesSet()
    invoices = SalesInvoicesSet()
    invoices.actions = {
        "post": post_invoice,
        "postAndSend": post_invoice,
        "cancel": cancel_invoice,
    }
    credit_memos = SalesCreditMemosSet()
    credit_memos.actions = {"post": post_credit_memo, "postAndSend": post_credit_memo}
    payment_journals = CustomerPaymentJournalsSet()
    payments = CustomerPaymentsSet()
    payment_journals.children = {"customerPayments": payments}
    journals = JournalsSet()
    journal_lines = JournalLinesSet()
    journals.children = {"journalLines": journal_lines}
    journals.actions = {"post": post_batch}
    sets: list[EntitySet] = [
        CompanyInformationSet(),
        GeneralLedgerSetupSet(),
        CurrenciesSet(),
        CurrencyExchangeRatesSet(),
        AccountsSet(),
        BankAccountsSet(),
        GeneralLedgerEntriesSet(),
        CustomersSet(),
        invoices,
        invoices.lines,
        credit_memos,
        credit_memos.lines,
        payment_journals,
        payments,
        journals,
        journal_lines,
    ]
    companies.children = {s.name: s for s in sets}
    return Registry(companies=companies, company_sets=companies.children)
