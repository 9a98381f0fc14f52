"""Demo data for ``python -m bc_emulator --seed-demo``.

One company per configured tenant's first environment with the default chart, a EUR currency,
two customers (USD and EUR), a dedicated ``STRIPE`` cash-receipts batch balancing to the
payment-clearing account, a ``PAYOUT`` general batch, and a few draft and posted invoices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bc_emulator.company_sets import add_currency
from bc_emulator.entity_sets import Scope
from bc_emulator.seeding import add_batch_from_json
from bc_emulator.seeding import create_company
from bc_emulator.seeding import create_invoice

if TYPE_CHECKING:
    from bc_emulator.server import EmulatorServer


def seed_demo(server: EmulatorServer) -> str:
    """Create the demo company; returns its id."""
    emu = server.emulator
    clients = emu.knobs.all_clients()
    tenant = clients[0].tenant if clients else "demo"
    with emu.store.lock:
        env = emu.store.ensure_environment(tenant, emu.config.environments[0])
        company = create_company(
            emu.store, env, emu.config, {"name": "CRONUS USA, Inc.", "lcyCode": emu.config.lcy_code}
        )
        scope = Scope(emu.store, env, emu.config, company=company)
        add_currency(scope, {"code": "EUR", "displayName": "Euro", "symbol": "€"})
        customers = emu.registry.company_sets["customers"]
        customers.create(scope, {"number": "C10000", "displayName": "Adatum Corporation"})
        customers.create(
            scope, {"number": "C20000", "displayName": "Trey Research", "currencyCode": "EUR"}
        )
        add_batch_from_json(
            scope,
            {
                "template": "CASHRCPT",
                "code": "STRIPE",
                "displayName": "Stripe payments",
                "balancingAccountType": "G/L Account",
                "balancingAccountNumber": "10900",
            },
        )
        add_batch_from_json(scope, {"template": "GENERAL", "code": "PAYOUT"})
        line = {"lineType": "Account", "lineObjectNumber": "40100", "quantity": 2, "unitPrice": 150}
        create_invoice(emu.registry, scope, {"customerNumber": "C10000", "lines": [dict(line)]})
        create_invoice(
            emu.registry, scope, {"customerNumber": "C10000", "lines": [dict(line)], "post": True}
        )
        create_invoice(
            emu.registry, scope, {"customerNumber": "C20000", "lines": [dict(line)], "post": True}
        )
    return company.id
