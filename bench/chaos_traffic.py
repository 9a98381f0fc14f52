"""The chaos run's business traffic, planned from the seed and played in waves over the faults.

``make_plan`` fixes everything that is decided: each invoice's customer and price (ten invoices
per draw), the order payments are made in, and which charges are refunded and by how much (a
quarter in full, the rest by a seeded share). ``Traffic`` plays the plan in ``waves`` spread over
``span_s`` seconds, so the faults land while money moves: each wave posts its invoices in BC
(announced ``copies`` times), pays every invoice the connector has pushed to Stripe since the
last wave, and refunds the planned charges paid in earlier waves. Webhooks of a wave are held
and then released together with their extra copies, shuffled. When an action happens depends on
the machine; what happens does not.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from chaos_workload import Charge
from chaos_workload import Deliveries
from chaos_workload import Refund
from chaos_workload import add_customers
from chaos_workload import pay
from chaos_workload import post_invoices
from chaos_workload import pushed_invoices
from chaos_workload import refund
from chaos_workload import touch_invoices
from chaos_workload import wait_for
from sqlalchemy.exc import SQLAlchemyError

from mlc_local.stack import LocalStack

CHUNK = 10


@dataclass(frozen=True)
class Chunk:
    customer: str
    count: int
    unit_price: Decimal


@dataclass(frozen=True)
class TrafficPlan:
    customers: list[str]
    chunks: list[Chunk]
    pay_order: list[int]  # invoice indexes
    refunds: dict[int, int]  # invoice index -> per mille of its charge refunded (1000: in full)


def make_plan(rng: random.Random, invoices: int, refunds: int) -> TrafficPlan:
    customers = [f"X{10000 + n}" for n in range(max(1, invoices // 100))]
    chunks = []
    for start in range(0, invoices, CHUNK):
        price = Decimal(rng.randrange(1000, 300000)) / 100  # 10.00 to 2,999.99 USD
        chunks.append(Chunk(rng.choice(customers), min(CHUNK, invoices - start), price))
    pay_order = list(range(invoices))
    rng.shuffle(pay_order)
    picked = rng.sample(range(invoices), min(refunds, invoices))
    per_mille = {i: 1000 if n % 4 == 0 else rng.randrange(50, 950) for n, i in enumerate(picked)}
    return TrafficPlan(customers, chunks, pay_order, per_mille)


@dataclass
class Traffic:
    stack: LocalStack
    database_url: str
    deliveries: Deliveries
    plan: TrafficPlan
    copies: int
    waves: int
    span_s: float
    phase_timeout: float
    bc_ids: list[str] = field(default_factory=list)  # by invoice index
    pushed: dict[str, str] = field(default_factory=dict)  # BC id -> Stripe invoice id
    charges: dict[int, Charge] = field(default_factory=dict)  # by invoice index
    refunds: list[Refund] = field(default_factory=list)

    def run(self) -> None:
        add_customers(self.stack, self.plan.customers)
        waves = max(1, min(self.waves, len(self.plan.chunks)))
        per_wave = -(-len(self.plan.chunks) // waves)
        for wave in range(waves):
            began = time.monotonic()
            chunks = self.plan.chunks[wave * per_wave : (wave + 1) * per_wave]
            self._post(chunks)
            self._move_money()
            print(
                f"  wave {wave + 1}/{waves}: {len(self.bc_ids)} invoices, "
                f"{len(self.charges)} paid, {len(self.refunds)} refunds",
                flush=True,
            )
            time.sleep(max(0.0, self.span_s / waves - (time.monotonic() - began)))
        wanted = {i.lower() for i in self.bc_ids}
        try:
            wait_for(
                "the last invoices in Stripe",
                lambda: wanted <= set(self._pushed()),
                self.phase_timeout,
                progress=lambda: f"{len(wanted & set(self.pushed))}/{len(wanted)}",
            )
        except TimeoutError as exc:
            print(f"    {exc}; going on without them", flush=True)
        self._move_money()  # pays the rest
        self._move_money()  # refunds what that paid

    def _post(self, chunks: list[Chunk]) -> None:
        ids: list[str] = []
        for chunk in chunks:
            ids += post_invoices(self.stack, chunk.customer, chunk.count, chunk.unit_price)
        self.bc_ids += ids
        for _ in range(self.copies - 1):
            time.sleep(0.2)  # past BC's notification batching: each touch is its own notice
            touch_invoices(self.stack, ids)

    def _pushed(self) -> dict[str, str]:
        # While the database is down on purpose, what is known so far will do.
        with contextlib.suppress(SQLAlchemyError):
            self.pushed.update(pushed_invoices(self.database_url))
        return self.pushed

    def _move_money(self) -> None:
        """Pay what was pushed; refund the planned charges paid before this call."""
        pushed = self._pushed()
        refundable = [
            i
            for i in self.plan.refunds
            if i in self.charges and self.charges[i].id not in {r.charge for r in self.refunds}
        ]
        created = len(self.bc_ids)
        to_pay = [
            i
            for i in self.plan.pay_order
            if i < created and i not in self.charges and self.bc_ids[i].lower() in pushed
        ]
        self.deliveries.hold()
        try:
            for index in to_pay:
                [self.charges[index]] = pay(self.stack, [pushed[self.bc_ids[index].lower()]])
            for index in refundable:
                charge = self.charges[index]
                amount = max(1, charge.amount_minor * self.plan.refunds[index] // 1000)
                self.refunds.append(refund(self.stack, charge, amount))
        finally:
            self.deliveries.release()
