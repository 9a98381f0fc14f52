"""Who may use which bc-gateway command: the permission each endpoint needs.

One table, read by the guard (``mlconnector.service_auth``) and by the authorization tests, so
the answer to "who can write to our books?" is in one place. Reading BC (``bc:read``) is kept
apart from writing journal lines (``bc:write``) and from posting a batch (``bc:post``), the step
that makes entries final in the ledger. The connection report and the list of BC's webhook
subscriptions (``bc:diagnose``) show how the gateway is set up (tenant, app, notification URL,
the tenant's other subscribers) rather than the books, so a reader of the books is not granted
them by ``bc:read``. An endpoint missing here is refused to every caller.
"""

from __future__ import annotations

READ = "bc:read"
WRITE = "bc:write"
POST = "bc:post"
DIAGNOSE = "bc:diagnose"

PERMISSIONS: dict[str, str] = {
    "invoices.get_invoice": READ,
    "credit_memos.get_credit_memo": READ,
    "credit_memos.credit_memos_of": READ,
    "invoices.list_invoices": READ,
    "invoices.open_invoices": READ,
    "customers.get_customer": READ,
    "payments.create_payment": WRITE,
    "payments.create_refund": WRITE,
    "journals.general_journal_lines": WRITE,
    "journals.lcy_amounts": READ,
    "journals.account_balance": READ,
    "journals.post_payment_journal": POST,
    "connection.connection": DIAGNOSE,
    "subscriptions.list_subscriptions": DIAGNOSE,
}
