"""Links from the console into Business Central's web client and Stripe's Dashboard.

Built from configuration only, never from data a webhook sent: the BC tenant, environment and
company (``MLC_BC_TENANT_ID``, ``MLC_BC_ENVIRONMENT``, ``MLC_CONSOLE_BC_COMPANY``) and Stripe's
mode (``MLC_CONSOLE_STRIPE_MODE``). BC's web client opens a page by number with a filter:
``https://businesscentral.dynamics.com/<tenant>/<environment>/?company=<name>&page=<id>&filter=
'No.' IS '<number>'`` (learn.microsoft.com/dynamics365/business-central/dev-itpro/developer/
devenv-web-client-urls); page 132 is Posted Sales Invoice, 134 Posted Sales Credit Memo, 21 the
Customer Card. Stripe's Dashboard addresses carry ``/test`` in test mode
(docs.stripe.com/dashboard/basics).
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote
from urllib.parse import urlencode

from reconciler.console.settings import ConsoleSettings

BC_WEB_CLIENT = "https://businesscentral.dynamics.com"
STRIPE_DASHBOARD = "https://dashboard.stripe.com"
BC_PAGES = {"invoice": 132, "credit_memo": 134, "customer": 21}
STRIPE_PATHS = {
    "in_": "invoices",
    "ch_": "payments",
    "pi_": "payments",
    "py_": "payments",
    "re_": "refunds",
    "du_": "disputes",
    "dp_": "disputes",
    "po_": "payouts",
    "cus_": "customers",
    "cn_": "credit-notes",
}


@dataclasses.dataclass(frozen=True)
class Links:
    bc_tenant: str | None
    bc_environment: str
    bc_company: str | None
    stripe_mode: str

    @classmethod
    def from_settings(cls, settings: ConsoleSettings) -> Links:
        return cls(
            settings.bc_tenant,
            settings.bc_environment,
            settings.bc_company_name,
            settings.stripe_mode,
        )

    def bc(self, what: str, number: str | None) -> str | None:
        """The BC web client page of a document or card, by its number."""
        page = BC_PAGES.get(what)
        if not (self.bc_tenant and self.bc_company and page and number):
            return None
        query = urlencode(
            {"company": self.bc_company, "page": page, "filter": f"'No.' IS '{number}'"},
            quote_via=quote,
        )
        return f"{BC_WEB_CLIENT}/{self.bc_tenant}/{quote(self.bc_environment)}/?{query}"

    def stripe(self, object_id: str | None) -> str | None:
        """The Stripe Dashboard page of an object, by its id prefix."""
        if not object_id:
            return None
        for prefix, path in STRIPE_PATHS.items():
            if object_id.startswith(prefix):
                mode = "/test" if self.stripe_mode == "test" else ""
                return f"{STRIPE_DASHBOARD}{mode}/{path}/{quote(object_id)}"
        return None
