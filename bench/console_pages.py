"""The review console's pages on 100,000 records, on SQLite and PostgreSQL: p95 under 200 ms.

Run with ``.venv/bin/python bench/console_pages.py [--records 100000]`` (PostgreSQL on
127.0.0.1:5432, or ``--postgres-url``). A firm's reconciler holds months of history, and a clerk
opens the queue, searches it and reads a story while it grows: the pages must answer from
indexes, not from scans that grow with the table. So the run builds the same data set twice,
migrated with the shipped migrations: a SQLite file in a temp dir and a throwaway PostgreSQL
database (``mlc_bench_<random>``, analysed after the load, dropped at the end).

The data set, loaded with Core ``insert()`` executemany (``attention`` computed with
``reconciler.attention.attention_of``, as the ORM hook would): ~2,000 customers with their links
(names and e-mails included); invoices with their links, the payments posted against them and
refunds of those (postings), credit memos, disputes, daily payouts and drift checks, created over
90 days; about 5 % need a person (unmatched payments, most of them with their payer's facts as
``reconciler.payers`` keeps them, failed records, ``needs_person`` flags of every kind, some of
them marked handled); 3 to 8 audit events per record and one consumed message (inbox) per record.

The pages are served by the real app (``reconciler.api.create_app`` with the console on) through
Flask's test client, signed in by writing the server-side session: each timing is the whole view,
its queries and its template. Per database, 20 warm-ups then 200 timed requests each: the
queue's first page, pages 2-51 by following the ``before`` cursors, the queue of one reason,
searches by BC invoice number, Stripe id, customer number, part of a customer's name (two words
shared by ~10 customers' names), e-mail (a customer's or an unmatched payment's payer's) and
amount (terms of queued items), an invoice's story (payments, refunds, ~20 audit rows) and Today.

Printed: the record, audit and queue counts, each database's load time, and per page and database
p50, p95 and max in ms, the rows the page showed, and PASS/FAIL against p95 < 200 ms. Queue,
search and story must pass (the exit status says whether they did); Today is reported.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import html
import itertools
import math
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import make_url
from sqlalchemy import select
from sqlalchemy import text

from mlconnector.bus import Publisher
from mlconnector.db import Base
from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from mlconnector.money import from_minor
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.api import create_app
from reconciler.attention import attention_of
from reconciler.bootstrap import Dependencies
from reconciler.console.roles import Person
from reconciler.migrate import upgrade
from reconciler.models import AuditEvent
from reconciler.models import CustomerLink
from reconciler.models import InboxMessage
from reconciler.models import InvoiceLink
from reconciler.models import Payout
from reconciler.models import PayoutTransaction
from reconciler.models import Posting
from reconciler.models import SyncRecord
from reconciler.payers import payer_of
from reconciler.rules import HandlerDeps
from reconciler.rules import Rules

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 200.0
WARMUP = 20
REQUESTS = 200
DEEP_PAGES = 50
DAYS = 90
CUSTOMERS = 2000
COMPANY = "9a0c4d2e-6b1f-4e8a-9c3d-5f7e2a1b0c4d"
ZONE = "Europe/Paris"
BATCH = 10_000
# Rates per group of an invoice (and what hangs off it); tuned so that ~5 % need a person.
UNMATCHED_PER_INVOICE = 0.045
FAILED_INVOICE = 0.012
FAILED_PAYMENT = 0.022
REFUND_RATE = 0.04
CREDIT_MEMO_RATE = 0.03
DISPUTE_RATE = 0.006
# Items older than three weeks: this share of them a clerk has marked handled.
HANDLED_AFTER = timedelta(days=21)
HANDLED_SHARE = 0.5
REQUIRED = ("queue", "search", "story")
# Customer names: every combination of these is one customer ("Fabrikam Lyon Trading"), so a
# search for two words of a name finds about ten customers, and one word about a hundred.
NAME_FIRST = (
    "Fabrikam", "Contoso", "Northwind", "Adventure Works", "Tailspin", "Wingtip", "Litware",
    "Proseware", "Fourth Coffee", "Alpine Ski", "Coho", "Woodgrove", "Lucerne", "Margie's",
    "Trey Research", "Wide World", "Blue Yonder", "Graphic Design", "Humongous", "Southridge",
)  # fmt: skip
NAME_PLACE = ("Lyon", "Oslo", "Porto", "Graz", "Leeds", "Turin", "Ghent", "Bern", "Cork", "Brno")
NAME_FORM = ("Inc.", "Ltd", "GmbH", "SARL", "LLC", "Trading", "Holdings", "& Co", "BV", "AG")
# Of the unmatched payments: paid by the customer's Stripe customer, by someone known only by
# e-mail; the rest carry no payer details.
PAYER_IS_CUSTOMER = 0.4
PAYER_BY_EMAIL = 0.3

Row = dict[str, Any]


# --- the data set ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Probes:
    """What the clerk asks for: terms of queued items, invoices whose story has ~20 steps."""

    stories: list[int]
    invoice_numbers: list[str]
    stripe_ids: list[str]
    customer_numbers: list[str]
    customer_names: list[str]
    emails: list[str]
    amounts: list[str]
    reasons: list[str]


@dataclasses.dataclass
class DataSet:
    """Every table's rows (ids assigned), and what the measured requests ask for."""

    records: list[Row]
    customers: list[Row]
    invoice_links: list[Row]
    postings: list[Row]
    payouts: list[Row]
    audit_counts: list[int]
    probes: Probes
    payout_transactions: list[Row] = dataclasses.field(default_factory=list)

    def summary(self) -> list[str]:
        kinds = Counter(r["kind"] for r in self.records)
        queued = sum(1 for r in self.records if r["attention"])
        return [
            "  records: "
            + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
            + f"; {len(self.customers):,} customers, {len(self.invoice_links):,} invoice links, "
            f"{len(self.postings):,} postings, {len(self.payout_transactions):,} payout "
            f"transactions, {sum(self.audit_counts):,} audit events",
            f"  need a person: {queued:,} ({queued / len(self.records):.1%}) in "
            f"{len(self.probes.reasons)} reasons",
        ]


class Builder:
    """Generates the records of a firm's 90 days; ids follow creation time, as in production."""

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=DAYS)
        self.records: list[Row] = []
        self.links: list[Row] = []
        # (record, posting fields) for payments and refunds written to BC.
        self.postings: list[tuple[Row, Row]] = []
        self.payouts: list[tuple[Row, Row]] = []
        self.numbers = itertools.count(103001)

    def ref(self, prefix: str, bits: int = 96) -> str:
        return f"{prefix}{self.rng.getrandbits(bits):0{bits // 4}x}"

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def at(self, low: datetime) -> datetime:
        """A moment between ``low`` and now."""
        span = (self.now - low).total_seconds()
        return low + timedelta(seconds=self.rng.uniform(0, max(span, 1.0)))

    def record(self, kind: str, key: str, state: str, created: datetime, **fields: Any) -> Row:
        flags: dict[str, Any] = fields.pop("flags", None) or {}
        need = flags.get("needs_person")
        if need and self.now - created > HANDLED_AFTER and self.rng.random() < HANDLED_SHARE:
            flags["handled"] = {"what": need, "by": "Ada Lovelace", "note": "done in BC"}
        row: Row = {
            "kind": kind,
            "business_key": key,
            "state": state,
            "bc_company_id": COMPANY,
            "bc_ref": None,
            "bc_number": None,
            "stripe_ref": None,
            "amount_minor": None,
            "currency": None,
            "attempts": 1,
            "last_error": None,
            "flags": flags,
            "source_message_id": self.ref("evt_"),
            "correlation_id": self.ref("corr-", 64),
            "created_at": created,
            "updated_at": created + timedelta(seconds=self.rng.uniform(0.2, 6.0)),
        }
        row.update(fields)
        if state == "failed":
            row["attempts"] = 8
            row["last_error"] = row["last_error"] or "bc-gateway: BC answered 503 (retried 8 times)"
        row["attention"] = attention_of(state, flags)
        self.records.append(row)
        return row

    def customer(self, index: int) -> Row:
        bc_id, stripe_id = self.guid(), self.ref("cus_", 56)
        number = f"C{10000 + index}"
        first = NAME_FIRST[index % len(NAME_FIRST)]
        place = NAME_PLACE[index // len(NAME_FIRST) % len(NAME_PLACE)]
        form = NAME_FORM[index // (len(NAME_FIRST) * len(NAME_PLACE)) % len(NAME_FORM)]
        name = f"{first} {place} {form}"
        domain = first.lower().replace(" ", "-").replace("'", "")
        email = f"ap{index}@{domain}.example"
        created = self.start + timedelta(seconds=self.rng.uniform(0, 10 * 86400))
        self.record(
            "customer",
            f"bc:{COMPANY}:customer:{bc_id}",
            "succeeded",
            created,
            bc_ref=bc_id,
            bc_number=number,
            stripe_ref=stripe_id,
        )
        return {
            "bc_company_id": COMPANY,
            "bc_customer_id": bc_id,
            "bc_customer_number": number,
            "stripe_customer_id": stripe_id,
            "synced_digest": self.ref("", 256),
            # Core inserts skip the model's validator: the search forms are written here.
            "name": name,
            "email": email,
            "name_key": CustomerLink.search_key(name, CustomerLink.NAME_LENGTH),
            "email_key": CustomerLink.search_key(email, CustomerLink.EMAIL_LENGTH),
            "search_term": f"{first} {place}",
            "created_at": created,
            "updated_at": created,
            "currency": "eur" if self.rng.random() < 0.2 else "usd",
        }

    def invoice_group(self, customer: Row) -> None:
        """An invoice, its link, and what followed: payments, refunds, memos, disputes."""
        rng = self.rng
        currency = customer["currency"]
        bc_id, stripe_id = self.guid(), self.ref("in_1", 92)
        number = f"S-INV-{next(self.numbers)}"
        total = rng.randint(40, 9000) * 50
        created = self.at(self.start + timedelta(days=2))
        state, flags = "succeeded", {"payment_link": f"https://invoice.stripe.com/i/{stripe_id}"}
        roll = rng.random()
        if roll < FAILED_INVOICE:
            state, flags = "failed", {}
        elif roll < FAILED_INVOICE + 0.003:
            flags["needs_person"] = "changed_in_stripe"
        elif roll < FAILED_INVOICE + 0.004:
            flags["needs_person"] = "cancelled_but_paid"
        common = {"bc_ref": bc_id, "amount_minor": total, "currency": currency}
        if state == "failed":
            self.record("invoice", f"bc:{COMPANY}:invoice:{bc_id}", state, created, **common)
            return
        self.record(
            "invoice",
            f"bc:{COMPANY}:invoice:{bc_id}",
            state,
            created,
            bc_number=number,
            stripe_ref=stripe_id,
            flags=flags,
            **common,
        )
        self.links.append(
            {
                "bc_company_id": COMPANY,
                "bc_invoice_id": bc_id,
                "bc_invoice_number": number,
                "stripe_invoice_id": stripe_id,
                "currency": currency,
                "total_minor": total,
                "bc_customer_id": customer["bc_customer_id"],
                "bc_open_minor": total,
                "bc_modified_at": created,
                "bc_changed_at": None,
                "paid_elsewhere_minor": 0,
                "created_at": created,
                "updated_at": created,
            }
        )
        parts = rng.choices((0, 1, 2, 3), weights=(10, 78, 9, 3))[0]
        paid = created
        for part in range(parts):
            paid = paid + timedelta(days=rng.expovariate(1 / 6))
            if paid >= self.now:
                break
            share = total // parts if part < parts - 1 else total - (total // parts) * part
            self.payment(bc_id, number, share, currency, paid)
        if rng.random() < CREDIT_MEMO_RATE:
            memo_at = self.at(created)
            need = "credit_after_payment" if rng.random() < 0.15 else None
            self.record(
                "credit_memo",
                f"bc:{COMPANY}:credit_memo:{self.guid()}",
                "succeeded",
                memo_at,
                bc_ref=self.guid(),
                bc_number=f"S-CR-{next(self.numbers)}",
                stripe_ref=stripe_id,
                amount_minor=total // 4,
                currency=currency,
                flags={"needs_person": need} if need else {},
            )
        if rng.random() < UNMATCHED_PER_INVOICE:
            charge = self.ref("ch_3", 92)
            who = rng.random()
            paid_by: dict[str, Any] = {}
            if who < PAYER_IS_CUSTOMER:
                billing = {"email": customer["email"], "name": customer["name"]}
                paid_by = {"customer": customer["stripe_customer_id"], "billing_details": billing}
            elif who < PAYER_IS_CUSTOMER + PAYER_BY_EMAIL:
                paid_by = {"receipt_email": f"payer-{self.ref('', 32)}@walk-in.example"}
            payer = payer_of(paid_by)
            self.record(
                "payment",
                f"stripe:payment:{charge}",
                "unmatched",
                self.at(self.start),
                stripe_ref=charge,
                amount_minor=rng.randint(10, 5000) * 100,
                currency=currency,
                bc_company_id=None,
                last_error="charge carries no BC invoice in its metadata",
                flags={"payer": payer} if payer else {},
            )

    def payment(self, bc_id: str, number: str, amount: int, currency: str, at: datetime) -> None:
        rng = self.rng
        intent = self.ref("pi_3", 92)
        failed = rng.random() < FAILED_PAYMENT
        flags = {"needs_person": "paid_twice"} if rng.random() < 0.003 else {}
        row = self.record(
            "payment",
            f"stripe:payment:{intent}",
            "failed" if failed else "succeeded",
            at,
            bc_ref=bc_id,
            bc_number=None if failed else number,
            stripe_ref=intent,
            amount_minor=amount,
            currency=currency,
            flags=flags,
        )
        posting = self._posting("payment", intent, bc_id, -amount, currency, at)
        if failed:
            # Claimed before the BC call that kept failing: no line, nothing posted.
            posting.update(state="claimed", bc_line_id=None, posted_at=None, batch_posted_at=None)
            self.postings.append((row, posting))
            return
        self.postings.append((row, posting))
        if rng.random() < REFUND_RATE:
            back = at + timedelta(days=rng.expovariate(1 / 8))
            if back < self.now:
                refund_id = self.ref("re_3", 92)
                part = amount if rng.random() < 0.6 else amount // 2
                todo = f"Refund to the client for BC invoice {number}: post a credit memo"
                refund = self.record(
                    "refund",
                    f"stripe:refund:{refund_id}",
                    "succeeded",
                    back,
                    bc_ref=bc_id,
                    bc_number=number,
                    stripe_ref=refund_id,
                    amount_minor=part,
                    currency=currency,
                    # Every refund leaves the customer's side of it to a person.
                    flags={"needs_person": "refund_customer_side", "todo": todo},
                )
                # Its cash leg goes to G/L (``handlers.cash_moves``): no invoice on the posting.
                posting = self._posting("refund", refund_id, None, part, currency, back)
                self.postings.append((refund, posting))
        if rng.random() < DISPUTE_RATE:
            dispute = self.ref("dp_1", 92)
            opened = self.at(at)
            need = rng.choices((None, "dispute_evidence", "dispute_lost"), weights=(2, 1, 1))[0]
            self.record(
                "dispute",
                f"stripe:dispute:{dispute}",
                "succeeded",
                opened,
                bc_ref=bc_id,
                stripe_ref=dispute,
                amount_minor=amount,
                currency=currency,
                flags={"needs_person": need} if need else {},
            )

    def _posting(
        self, kind: str, stripe_id: str, bc_id: str | None, signed: int, currency: str, at: datetime
    ) -> Row:
        return {
            "stripe_id": stripe_id,
            "kind": kind,
            "state": "posted",
            "bc_company_id": COMPANY,
            "bc_invoice_id": bc_id,
            "bc_journal_id": "STRIPE" if kind == "payment" else "STRIPE-REF",
            "bc_line_id": self.guid(),
            "amount": from_minor(signed, currency),
            "amount_minor": abs(signed),
            "currency": currency,
            "claimed_at": at,
            "posted_at": at + timedelta(seconds=1),
            "batch_posted_at": at + timedelta(seconds=5),
            "claimed_by": None,
            "lease_expires_at": None,
            "write_attempts": 1,
        }

    def daily(self) -> None:
        """One payout and one drift check per currency and day."""
        for offset in range(DAYS):
            day = (self.start + timedelta(days=offset)).date()
            for currency in ("usd", "eur"):
                at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=6)
                payout_id = self.ref("po_1", 92)
                amount = self.rng.randint(1000, 90000) * 100
                roll = self.rng.random()
                need = (
                    "payout_unmatched" if roll < 0.06 else "payout_failed" if roll < 0.08 else None
                )
                row = self.record(
                    "payout",
                    f"stripe:payout:{payout_id}",
                    "succeeded",
                    at,
                    stripe_ref=payout_id,
                    amount_minor=amount,
                    currency=currency,
                    flags={"needs_person": need} if need else {},
                )
                self.payouts.append((row, self._payout(payout_id, amount, currency, day)))
                drift_ok = self.rng.random() > 0.05
                self.record(
                    "drift",
                    f"drift:{currency}:{day.isoformat()}",
                    "succeeded" if drift_ok else "failed",
                    at + timedelta(hours=1),
                    currency=currency,
                    last_error=None if drift_ok else "clearing account differs by 12.00",
                    flags={
                        "figures": {"bc_clearing": "1200.00", "stripe_balance": "1200.00"},
                        **({} if drift_ok else {"needs_person": "clearing_drift"}),
                    },
                )

    def _payout(self, payout_id: str, amount: int, currency: str, day: date) -> Row:
        fee = amount // 40
        return {
            "stripe_payout_id": payout_id,
            "bc_company_id": COMPANY,
            "amount_minor": amount,
            "fee_minor": fee,
            "net_minor": amount - fee,
            "currency": currency,
            "state": "posted",
            "arrival_date": day + timedelta(days=2),
            "fee_line_id": self.guid(),
            "bank_line_id": self.guid(),
            "unmatched": [],
            "transactions": [],
            "fx_minor": None,
            "claimed_by": None,
            "lease_expires_at": None,
            "created_at": datetime.combine(day, datetime.min.time(), UTC),
            "updated_at": datetime.combine(day, datetime.min.time(), UTC),
        }

    def build(self) -> DataSet:
        customers = [self.customer(i) for i in range(CUSTOMERS)]
        weights = [self.rng.paretovariate(1.2) for _ in customers]
        self.daily()
        while len(self.records) < self.count:
            self.invoice_group(self.rng.choices(customers, weights)[0])
        del self.records[self.count :]
        kept = {id(r) for r in self.records}
        self.records.sort(key=lambda r: r["created_at"])
        for number, row in enumerate(self.records, start=1):
            row["id"] = number
        # A trailing group may have been cut: links and postings only for the records kept.
        invoices = {r["bc_ref"] for r in self.records if r["kind"] == "invoice"}
        links = [li for li in self.links if li["bc_invoice_id"] in invoices]
        postings = [p | {"record_id": r["id"]} for r, p in self.postings if id(r) in kept]
        payouts = [p | {"record_id": r["id"]} for r, p in self.payouts if id(r) in kept]
        for rows in (customers, links, postings, payouts):
            for index, row in enumerate(rows, start=1):
                row["id"] = index
        terms = {row["bc_customer_id"]: row.pop("search_term") for row in customers}
        for row in customers:
            del row["currency"]
        counts = [self.rng.randint(3, 8) for _ in self.records]
        data = self._terms(customers, terms, links, postings, payouts, counts)
        data.payout_transactions = self._paid_out(postings, payouts)
        return data

    def _paid_out(self, postings: list[Row], payouts: list[Row]) -> list[Row]:
        """Each posted payment and refund settled by the next day's payout of its currency, as
        ``handlers.payouts`` keeps it: what an invoice's story reads to name its payouts."""
        by_day = {(p["currency"], p["created_at"].date()): p for p in payouts}
        positions: Counter[int] = Counter()
        rows: list[Row] = []
        for posting in postings:
            if posting["kind"] not in ("payment", "refund") or posting["state"] != "posted":
                continue
            day = posting["posted_at"].date() + timedelta(days=1)
            payout = by_day.get((posting["currency"], day))
            if payout is None:
                continue
            sign = 1 if posting["kind"] == "payment" else -1
            amount = sign * posting["amount_minor"]
            fee = amount * 3 // 100 if sign > 0 else 0
            rows.append(
                {
                    "id": len(rows) + 1,
                    "payout_id": payout["id"],
                    "position": positions[payout["id"]],
                    "balance_transaction": self.ref("txn_3", 92),
                    "type": "charge" if sign > 0 else "refund",
                    "reporting_category": "charge" if sign > 0 else "refund",
                    "source": posting["stripe_id"],
                    "amount_minor": amount,
                    "fee_minor": fee,
                    "net_minor": amount - fee,
                }
            )
            positions[payout["id"]] += 1
        return rows

    def _terms(
        self,
        customers: list[Row],
        terms: dict[str, str],
        links: list[Row],
        postings: list[Row],
        payouts: list[Row],
        counts: list[int],
    ) -> DataSet:
        """What a clerk types, taken from queued items; invoices whose story has ~20 steps."""
        rng = self.rng
        queued = [r for r in self.records if r["attention"]]
        by_invoice = {li["bc_invoice_id"]: li for li in links}
        numbers = sorted(
            {
                by_invoice[r["bc_ref"]]["bc_invoice_number"]
                for r in queued
                if r["bc_ref"] in by_invoice
            }
        )
        customer_of = {c["bc_customer_id"]: c["bc_customer_number"] for c in customers}
        owners = sorted(
            {
                customer_of[by_invoice[r["bc_ref"]]["bc_customer_id"]]
                for r in queued
                if r["bc_ref"] in by_invoice
            }
        )
        owner_ids = {
            by_invoice[r["bc_ref"]]["bc_customer_id"] for r in queued if r["bc_ref"] in by_invoice
        }
        # Two words of the name, typed as a clerk would (any case): about ten customers each.
        names = sorted({terms[c] for c in owner_ids})
        names = [name.upper() if i % 2 else name for i, name in enumerate(names)]
        email_of = {c["bc_customer_id"]: c["email"] for c in customers}
        payers = {r["flags"].get("payer", {}).get("email") for r in queued} - {None}
        emails = sorted({email_of[c] for c in owner_ids} | payers)
        amounts = sorted(
            {
                str(from_minor(r["amount_minor"], r["currency"]))
                for r in queued
                if r["amount_minor"] and r["currency"]
            }
        )
        stripe_ids = sorted({r["stripe_ref"] for r in queued if r["stripe_ref"]})
        # The story's records: the payments posted against the invoice, and the refunds and
        # credit memos that name it.
        per_invoice: dict[str, list[int]] = {}
        for posting in postings:
            if posting["bc_invoice_id"]:
                per_invoice.setdefault(posting["bc_invoice_id"], []).append(posting["record_id"])
        by_stripe = {li["stripe_invoice_id"]: li["bc_invoice_id"] for li in links}
        for row in self.records:
            if row["kind"] == "refund" and row["bc_ref"]:
                per_invoice.setdefault(row["bc_ref"], []).append(row["id"])
            elif row["kind"] == "credit_memo" and row["stripe_ref"] in by_stripe:
                per_invoice.setdefault(by_stripe[row["stripe_ref"]], []).append(row["id"])
        stories = []
        for row in self.records:
            if row["kind"] != "invoice" or row["bc_ref"] not in by_invoice:
                continue
            related = per_invoice.get(row["bc_ref"], [])
            steps = counts[row["id"] - 1] + sum(counts[i - 1] for i in related)
            if len(related) >= 2 and 18 <= steps <= 24:
                stories.append(row["id"])
        reasons = sorted(Counter(r["attention"] for r in queued))

        def sample(values: Sequence[Any], n: int = 50) -> list[Any]:
            return rng.sample(list(values), min(n, len(values)))

        return DataSet(
            records=self.records,
            customers=customers,
            invoice_links=links,
            postings=postings,
            payouts=payouts,
            audit_counts=counts,
            probes=Probes(
                stories=sample(stories, 20),
                invoice_numbers=sample(numbers),
                stripe_ids=sample(stripe_ids),
                customer_numbers=sample(owners),
                customer_names=sample(names),
                emails=sample(emails),
                amounts=sample(amounts),
                reasons=reasons,
            ),
        )


ACTIONS = ("received", "fetched", "decided", "called", "result", "waiting", "retried", "called")


def audit_rows(data: DataSet) -> Iterator[list[Row]]:
    """3 to 8 steps per record, in batches; the same rows every time (a seeded generator)."""
    rng = random.Random(7)
    batch: list[Row] = []
    for record, count in zip(data.records, data.audit_counts, strict=True):
        at: datetime = record["created_at"]
        failed = record["state"] in ("failed", "unmatched")
        about = record["stripe_ref"] or record["bc_ref"] or record["business_key"]
        for step in range(count):
            last = step == count - 1
            action = ACTIONS[step] if not last else ("failed" if failed else "result")
            called = action == "called"
            at = at + timedelta(milliseconds=rng.randint(20, 1500))
            batch.append(
                {
                    "record_id": record["id"],
                    "message_id": record["source_message_id"] if step == 0 else None,
                    "action": action,
                    "summary": f"{action} {record['kind']} {about}",
                    "request_summary": {"method": "POST", "path": "/v1/payments"}
                    if called
                    else None,
                    "response_summary": {"status": 201} if called else None,
                    "outcome": "error" if last and failed else "ok",
                    "duration_ms": rng.randint(40, 900) if called else None,
                    "actor": "reconciler",
                    "correlation_id": record["correlation_id"],
                    "error": record["last_error"] if last and failed else None,
                    "created_at": at,
                }
            )
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def inbox_rows(data: DataSet) -> Iterator[list[Row]]:
    """The message each record came from, as the consumer stored it."""
    batch: list[Row] = []
    for record in data.records:
        source = "bc" if record["kind"] in ("invoice", "customer", "credit_memo") else "stripe"
        batch.append(
            {
                "message_id": record["source_message_id"],
                "message_type": f"{source}.event.{record['kind']}",
                "source": source,
                "routing_key": f"{source}.event.{record['kind']}",
                "correlation_id": record["correlation_id"],
                "payload": {"id": record["source_message_id"], "object": record["stripe_ref"]},
                "first_seen_at": record["created_at"],
                "processed_at": record["updated_at"],
                "attempts": record["attempts"],
                "last_error": record["last_error"],
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load(engine: Engine, data: DataSet) -> float:
    """Bulk-insert the data set (Core executemany, one transaction); seconds taken."""
    started = time.perf_counter()
    tables: list[tuple[Table, Iterator[list[Row]]]] = [
        (_table(SyncRecord), _batches(data.records)),
        (_table(CustomerLink), _batches(data.customers)),
        (_table(InvoiceLink), _batches(data.invoice_links)),
        (_table(Posting), _batches(data.postings)),
        (_table(Payout), _batches(data.payouts)),
        (_table(PayoutTransaction), _batches(data.payout_transactions)),
        (_table(InboxMessage), inbox_rows(data)),
        (_table(AuditEvent), audit_rows(data)),
    ]
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for table, batches in tables:
            for batch in batches:
                connection.execute(insert(table), batch)
        if postgres:
            for table, _ in tables:
                # Ids were given explicitly: the sequences must carry on after them.
                last = select(func.max(table.c.id)).scalar_subquery()
                connection.execute(
                    select(func.setval(func.pg_get_serial_sequence(table.name, "id"), last))
                )
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _batches(rows: list[Row]) -> Iterator[list[Row]]:
    for offset in range(0, len(rows), BATCH):
        yield rows[offset : offset + BATCH]


# --- the console ----------------------------------------------------------------------------


def console_client(engine: Engine, workdir: Path) -> FlaskClient:
    """The reconciler's app with the console on, over ``engine``, and a signed-in Clerk."""
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        del os.environ[name]
    os.environ.update(
        {
            "MLC_LOG_LEVEL": "WARNING",
            # Settings insist on a secret store; the dependencies below bring their own.
            "MLC_SECRETS_FILE": str(workdir / "secrets.enc"),
            "MLC_MASTER_KEY": "bench-master-key",
            "MLC_CONSOLE_AUTHORITY": "https://login.example/bench-tenant",
            "MLC_CONSOLE_CLIENT_ID": "bench-client",
            "MLC_CONSOLE_SESSION_STORE": (workdir / "sessions").as_uri(),
            "MLC_CONSOLE_COOKIE_SECURE": "false",
            "MLC_CONSOLE_TIMEZONE": ZONE,
            # Thousands of requests from one address in a minute: not what is measured here.
            "MLC_RATELIMIT_API": "1000000/minute",
        }
    )
    deps = Dependencies(
        engine=engine,
        session_factory=make_session_factory(engine),
        # No page measured here publishes or calls a gateway: nothing listens on port 9.
        publisher=Publisher("amqp://guest:guest@127.0.0.1:9/%2F", exchange="mlc.bench"),
        secret_store=EncryptedFileSecrets(workdir / "secrets.enc", "bench-master-key"),
        handler_deps=HandlerDeps(
            stripe=HttpStripeGateway("http://127.0.0.1:9"),
            bc=HttpBcGateway("http://127.0.0.1:9"),
            rules=Rules(),
        ),
        secrets={
            "replay_token": "bench-replay-token",
            "console_client_secret": "bench-client-secret",
            "console_secret_key": "bench-console-secret-key-0123456789",
        },
    )
    client = create_app({"TESTING": True}, deps).test_client()
    now = time.time()
    with client.session_transaction() as session:
        person = Person("Ada Lovelace", "ada@firm.example", "oid-1", "bench-tenant", ("Clerk",))
        session["person"] = person.to_session()
        session["signed_in_at"] = now
        session["seen_at"] = now
    return client


@dataclasses.dataclass(frozen=True)
class Page:
    group: str
    name: str
    urls: list[str]


def pages(client: FlaskClient, probes: Probes) -> list[Page]:
    def queue(**args: str) -> str:
        return "/console/queue?" + urlencode(args)

    return [
        Page("queue", "queue: first page", ["/console/queue"]),
        Page("queue", f"queue: pages 2-{DEEP_PAGES + 1} (before=)", deep_pages(client)),
        Page("queue", "queue: one reason", [queue(kind=k) for k in probes.reasons]),
        Page("search", "search: BC invoice no.", [queue(q=n) for n in probes.invoice_numbers]),
        Page("search", "search: Stripe id", [queue(q=s) for s in probes.stripe_ids]),
        Page("search", "search: customer no.", [queue(q=c) for c in probes.customer_numbers]),
        Page("search", "search: customer name", [queue(q=n) for n in probes.customer_names]),
        Page("search", "search: e-mail", [queue(q=e) for e in probes.emails]),
        Page("search", "search: amount", [queue(amount=a) for a in probes.amounts]),
        Page(
            "story", "story: invoice (~20 steps)", [f"/console/records/{i}" for i in probes.stories]
        ),
        Page("today", "Today", ["/console/today"]),
    ]


NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
COUNT = re.compile(r'data-count="(\d+)"')


def deep_pages(client: FlaskClient) -> list[str]:
    """The queue's pages after the first, by following each page's "Older items" link."""
    urls: list[str] = []
    body = _get(client, "/console/queue")
    while len(urls) < DEEP_PAGES:
        found = NEXT.search(body)
        if found is None:
            break
        urls.append(html.unescape(found.group(1)))
        body = _get(client, urls[-1])
    return urls or ["/console/queue"]


def _get(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response.get_data(as_text=True)


@dataclasses.dataclass(frozen=True)
class Timing:
    page: Page
    database: str
    ms: list[float]
    rows: list[int]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def passed(self) -> bool:
        return self.quantile(0.95) < TARGET_MS


def measure(client: FlaskClient, page: Page, database: str) -> Timing:
    urls = itertools.cycle(page.urls)
    for _ in range(WARMUP):
        _get(client, next(urls))
    urls = itertools.cycle(page.urls)
    ms: list[float] = []
    rows: list[int] = []
    for _ in range(REQUESTS):
        url = next(urls)
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data(as_text=True)
        ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        found = COUNT.search(body)
        if found:
            rows.append(int(found.group(1)))
    return Timing(page, database, ms, rows)


# --- the run ---------------------------------------------------------------------------------


def measure_all(name: str, url: str, probes: Probes, workdir: Path) -> list[Timing]:
    engine = make_engine(url)
    try:
        client = console_client(engine, workdir)
        return [measure(client, page, name) for page in pages(client, probes)]
    finally:
        engine.dispose()


def migrate_and_load(url: str, data: DataSet) -> float:
    upgrade(url)
    engine = make_engine(url)
    try:
        return load(engine, data)
    finally:
        engine.dispose()


def postgres_version(admin: Engine) -> str:
    with admin.connect() as connection:
        return str(connection.execute(text("SHOW server_version")).scalar_one()).split()[0]


def report(
    records: int,
    summary: list[str],
    build_s: float,
    loads: dict[str, float],
    timings: list[Timing],
    versions: str,
) -> list[str]:
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    lines = [
        f"console pages on {records:,} records ({versions}); "
        f"{REQUESTS} requests per page after {WARMUP} warm-ups; target p95 < {TARGET_MS:.0f} ms",
        f"  {os.cpu_count()} CPUs, load average at the end {load} (other work on the machine "
        "shows in p95 and max)",
        *summary,
        f"  data set built in {build_s:.1f} s; loaded in "
        + ", ".join(f"{db} {s:.1f} s" for db, s in loads.items()),
        "",
        f"  {'page':<30} {'database':<11} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'rows':>5}  result",
    ]
    for timing in timings:
        rows = f"{sorted(timing.rows)[len(timing.rows) // 2]}" if timing.rows else "-"
        verdict = "PASS" if timing.passed else "FAIL"
        if timing.page.group not in REQUIRED:
            verdict += " (reported)"
        lines.append(
            f"  {timing.page.name:<30} {timing.database:<11} {timing.quantile(0.5):8.1f} "
            f"{timing.quantile(0.95):8.1f} {max(timing.ms):8.1f} {rows:>5}  {verdict}"
        )
    by_page: dict[str, dict[str, Timing]] = {}
    for timing in timings:
        by_page.setdefault(timing.page.name, {})[timing.database] = timing
    ratios = []
    for name, both in by_page.items():
        if {"sqlite", "postgresql"} <= both.keys():
            ratio = both["postgresql"].quantile(0.95) / both["sqlite"].quantile(0.95)
            ratios.append(f"{name.split(' (')[0]} {ratio:.2f}")
    lines += ["", "  p95 PostgreSQL / SQLite: " + "; ".join(ratios)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="sync records (100000)")
    parser.add_argument("--seed", type=int, default=12, help="data set seed (12)")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="any database of the PostgreSQL server; the bench creates and drops its own",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = Builder(args.records, args.seed).build()
    build_s = time.perf_counter() - started
    summary, probes = data.summary(), data.probes
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    database = f"mlc_bench_{uuid.uuid4().hex[:10]}"
    loads: dict[str, float] = {}
    timings: list[Timing] = []
    try:
        versions = f"SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres_version(admin)}"
        with tempfile.TemporaryDirectory(prefix="mlc-bench-console-") as tmp:
            workdir = Path(tmp)
            urls = {
                "sqlite": f"sqlite:///{workdir / 'reconciler.db'}",
                "postgresql": make_url(args.postgres_url)
                .set(database=database)
                .render_as_string(hide_password=False),
            }
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            for name, url in urls.items():
                loads[name] = migrate_and_load(url, data)
            # A server does not hold 100,000 records' rows in memory: without them, the
            # collector's full passes stop landing in the timings (300-400 ms each).
            del data
            gc.collect()
            for name, url in urls.items():
                timings += measure_all(name, url, probes, workdir)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
    order: dict[str, int] = {}
    for timing in timings:
        order.setdefault(timing.page.name, len(order))
    timings.sort(key=lambda t: (order[t.page.name], t.database != "sqlite"))
    for line in report(args.records, summary, build_s, loads, timings, versions):
        print(line)
    failed = [t for t in timings if t.page.group in REQUIRED and not t.passed]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
