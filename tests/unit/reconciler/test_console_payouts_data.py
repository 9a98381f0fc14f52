"""The console's Payouts data: keyset pages, filters, one payout's reconciliation, and CSV.

Against a real SQLite file built with the project's migrations (``template_db`` in this
folder's conftest), with Payout, SyncRecord, Posting and AuditEvent rows written directly, the
way the payout handler leaves them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from factories import random_ref
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from reconciler.console import payouts_data
from reconciler.console.payouts_data import FilterError
from reconciler.console.payouts_data import PayoutFilter
from reconciler.console.payouts_data import RowStatus
from reconciler.console.payouts_data import all_payouts
from reconciler.console.payouts_data import csv_filename
from reconciler.console.payouts_data import decimal_text
from reconciler.console.payouts_data import load_reconciliation
from reconciler.console.payouts_data import payouts_csv
from reconciler.console.payouts_data import payouts_page
from reconciler.console.payouts_data import reconciliation_csv
from reconciler.models import AuditOutcome
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import PayoutTransaction
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)
CRLF = "\r\n"


def _record(seed: Any, payout_id: str, **fields: Any) -> SyncRecord:
    """The payout's record, keyed as ``handlers.payouts`` keys it."""
    fields.setdefault("state", RecordState.SUCCEEDED)
    record: SyncRecord = seed.record(
        kind=RecordKind.PAYOUT,
        business_key=f"stripe:payout:{payout_id}",
        stripe_ref=payout_id,
        with_source=False,
        **fields,
    )
    return record


def _payout(seed: Any, payout_id: str | None = None, **fields: Any) -> Payout:
    """A booked payout: 10.00 gross, 0.59 fees, 9.41 net in USD unless told otherwise."""
    values: dict[str, Any] = {
        "stripe_payout_id": payout_id or random_ref("po"),
        "amount_minor": 941,
        "net_minor": 941,
        "fee_minor": 59,
        "fx_minor": 0,
        "currency": "usd",
        "state": PayoutState.POSTED,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    payout: Payout = seed.payout(**values)
    return payout


def _ids(rows: list[Any]) -> list[str]:
    return [r.payout_id for r in rows]


class TestPayoutFilter:
    def test_parses_every_filter_into_typed_values(self) -> None:
        flt = PayoutFilter.parse(
            {
                "currency": " EUR ",
                "state": "Posted",
                "from": "2026-11-01",
                "to": "2026-11-30",
                "q": "po_123",
                "before": "42",
            }
        )

        assert flt == PayoutFilter(
            currency="eur",
            state=PayoutState.POSTED,
            date_from=dt.date(2026, 11, 1),
            date_to=dt.date(2026, 11, 30),
            q="po_123",
            before=42,
        )
        assert flt.narrowed

    def test_empty_arguments_are_no_filter(self) -> None:
        flt = PayoutFilter.parse({"currency": "", "state": " ", "q": ""})

        assert flt == PayoutFilter()
        assert not flt.narrowed

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ({"currency": "EURO"}, "currency is longer than 3 characters"),
            ({"currency": "E1R"}, "currency must be a three-letter code like EUR"),
            ({"state": "lost"}, "state must be one of pending, posted, failed"),
            ({"from": "24/11/2026"}, "from must be a date like 2026-12-31"),
            ({"from": "2026-11-30", "to": "2026-11-01"}, "from must not be after to"),
            ({"before": "po_1"}, "before must be a payout number"),
            ({"q": "p" * 256}, "q is longer than 255 characters"),
        ],
    )
    def test_refuses_what_cannot_be_used_and_says_how_to_fix_it(
        self, args: dict[str, str], message: str
    ) -> None:
        with pytest.raises(FilterError, match=message):
            PayoutFilter.parse(args)

    def test_args_link_to_the_same_filter_with_changes(self) -> None:
        flt = PayoutFilter(currency="jpy", state=PayoutState.FAILED, before=7)

        assert flt.args() == {"currency": "JPY", "state": "failed", "before": "7"}
        assert flt.args(before=None) == {"currency": "JPY", "state": "failed"}
        assert PayoutFilter.parse(flt.args()) == flt


class TestPayoutsPage:
    def test_keyset_pages_newest_first_until_the_oldest(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        made = [_payout(seed) for _ in range(5)]
        newest_first = [p.stripe_payout_id for p in reversed(made)]

        with sessions() as session:
            first = payouts_page(session, PayoutFilter(), size=2)
            second = payouts_page(session, PayoutFilter(before=first.next_before), size=2)
            third = payouts_page(session, PayoutFilter(before=second.next_before), size=2)

        assert _ids(first.rows) == newest_first[:2]
        assert first.next_before == made[3].id
        assert _ids(second.rows) == newest_first[2:4]
        assert _ids(third.rows) == newest_first[4:]
        assert third.next_before is None

    def test_a_page_exactly_full_has_no_next_page(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        _payout(seed)
        _payout(seed)

        with sessions() as session:
            page = payouts_page(session, PayoutFilter(), size=2)

        assert len(page.rows) == 2
        assert page.next_before is None

    def test_filters_by_currency_state_arrival_dates_and_payout_id(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        eur_early = _payout(seed, currency="eur", arrival_date=dt.date(2026, 11, 2))
        eur_late = _payout(seed, currency="eur", arrival_date=dt.date(2026, 11, 20))
        eur_pending = _payout(seed, currency="eur", state=PayoutState.PENDING, fee_minor=None)
        usd = _payout(seed, currency="usd", arrival_date=dt.date(2026, 11, 10))

        def ids(**filters: Any) -> list[str]:
            with sessions() as session:
                return _ids(payouts_page(session, PayoutFilter(**filters)).rows)

        assert ids(currency="eur") == [
            eur_pending.stripe_payout_id,
            eur_late.stripe_payout_id,
            eur_early.stripe_payout_id,
        ]
        assert ids(state=PayoutState.PENDING) == [eur_pending.stripe_payout_id]
        # Both ends are included; a payout with no arrival date is outside any range.
        assert ids(date_from=dt.date(2026, 11, 10)) == [
            usd.stripe_payout_id,
            eur_late.stripe_payout_id,
        ]
        assert ids(date_to=dt.date(2026, 11, 10)) == [
            usd.stripe_payout_id,
            eur_early.stripe_payout_id,
        ]
        assert ids(date_from=dt.date(2026, 11, 3), date_to=dt.date(2026, 11, 19)) == [
            usd.stripe_payout_id
        ]
        assert ids(q=usd.stripe_payout_id) == [usd.stripe_payout_id]
        assert ids(q=usd.stripe_payout_id, currency="eur") == []
        assert ids(currency="eur", before=eur_late.id) == [eur_early.stripe_payout_id]

    def test_rows_carry_gross_fees_fx_net_and_the_unmatched_count(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        record = _record(seed, "po_figures")
        _payout(
            seed,
            "po_figures",
            record_id=record.id,
            amount_minor=941,
            net_minor=941,
            fee_minor=59,
            fx_minor=-3,
            unmatched=[
                {"balance_transaction": "txn_a", "reason": "type topup is not booked"},
                {"balance_transaction": "txn_b", "reason": "charge ch_b has no BC posting"},
            ],
        )
        # As ``store.claim_payout`` leaves a payout whose lines are being written.
        _payout(
            seed,
            "po_waiting",
            state=PayoutState.PENDING,
            amount_minor=500,
            net_minor=None,
            fee_minor=None,
            fx_minor=None,
        )

        with sessions() as session:
            waiting, booked = payouts_page(session, PayoutFilter()).rows

        assert (booked.gross_minor, booked.fee_minor, booked.fx_minor, booked.net_minor) == (
            1000,
            59,
            -3,
            941,
        )
        assert booked.unmatched == 2
        assert booked.record_id == record.id
        # Not booked yet: Stripe's amount is the net, and there is no gross without the fees.
        assert (waiting.gross_minor, waiting.fee_minor, waiting.net_minor) == (None, None, 500)
        assert waiting.unmatched == 0

    def test_all_payouts_walks_every_chunk_of_the_filter_whatever_the_page(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        jpy = [_payout(seed, currency="jpy") for _ in range(5)]
        _payout(seed, currency="usd")

        with sessions() as session:
            rows = all_payouts(session, PayoutFilter(currency="jpy", before=jpy[1].id), chunk=2)

        assert _ids(rows) == [p.stripe_payout_id for p in reversed(jpy)]


def _world(seed: Any, currency: str = "eur", **payout_fields: Any) -> dict[str, Any]:
    """A booked payout (EUR unless told) of five transactions: payment, dispute, a dispute's fee
    alone, topup, itself.

    The dispute's withdrawal is booked under its balance transaction's id (as
    ``handlers.disputes`` books it), the payment under its charge id (the transaction's source,
    kept as a ``PayoutTransaction`` as ``handlers.payouts`` keeps it); the fee alone and the
    transfer are booked by the payout itself; the topup could not be placed.
    """
    payout_id = random_ref("po")
    record = _record(
        seed,
        payout_id,
        amount_minor=7500,
        currency=currency,
        flags={
            "unmatched_transactions": 1,
            "needs_person": "payout_unmatched",
            "todo": "Book the unmatched balance transactions of this payout by hand.",
        },
    )
    dispute_record = seed.record(kind=RecordKind.DISPUTE, with_source=False)
    payment_record = seed.record(kind=RecordKind.PAYMENT, with_source=False)
    txn_payment, txn_dispute, txn_topup, txn_own = (random_ref(f"txn_{n}") for n in "abcd")
    txn_fee = random_ref("txn_e")
    charge = random_ref("ch")
    seed.posting(
        payment_record,
        charge,
        kind=PostingKind.PAYMENT,
        state=PostingState.POSTED,
        bc_company_id="c1",
        bc_line_id="L-PAY",
        amount=Decimal("-100"),
        amount_minor=10000,
        currency=currency,
    )
    dispute = seed.posting(
        dispute_record,
        txn_dispute,
        kind=PostingKind.DISPUTE,
        state=PostingState.POSTED,
        bc_company_id="c1",
        bc_line_id="L-DSP",
        amount=Decimal("25"),
        amount_minor=-2500,
        currency=currency,
        posted_at=T0,
        batch_posted_at=T0 + dt.timedelta(minutes=5),
    )
    fields: dict[str, Any] = {
        "record_id": record.id,
        "currency": currency,
        "amount_minor": 7500,
        "net_minor": 7500,
        "fee_minor": 320,
        "fx_minor": 0,
        "fee_line_id": "L-FEE",
        "bank_line_id": "L-BANK",
        "transactions": [txn_payment, txn_dispute, txn_fee, txn_topup, txn_own],
        "unmatched": [{"balance_transaction": txn_topup, "reason": "type topup is not booked"}],
    }
    keep_details = payout_fields.pop("keep_details", True)
    fields.update(payout_fields)
    payout = _payout(seed, payout_id, **fields)
    if keep_details:
        seed.add(
            *(
                kept(payout, position, *row)
                for position, row in enumerate(
                    [
                        (txn_payment, "charge", charge, 10000, 290),
                        (txn_dispute, "adjustment", "dp_1", -2500, 1500, "dispute"),
                        (txn_fee, "adjustment", "dp_1", 0, 1500, "dispute"),
                        (txn_topup, "topup", "tu_1", 500, 0),
                        (txn_own, "payout", payout_id, -7500, 0),
                    ]
                )
            )
        )
    seed.audit(record, "received", "payout.paid", T0)
    seed.audit(record, "decided", "4 transaction(s), 1 unmatched", T0 + dt.timedelta(seconds=2))
    seed.audit(
        record,
        "called",
        "listed the balance transactions",
        T0 + dt.timedelta(seconds=1),
        outcome=AuditOutcome.OK,
    )
    return {
        "payout": payout,
        "record": record,
        "dispute": dispute,
        "dispute_record": dispute_record,
        "txns": (txn_payment, txn_dispute, txn_topup, txn_own),
        "txn_fee": txn_fee,
        "charge": charge,
        "payment_record": payment_record,
    }


def kept(
    payout: Payout,
    position: int,
    txn: str,
    kind: str,
    source: str,
    amount: int,
    fee: int,
    category: str | None = None,
) -> PayoutTransaction:
    """A balance transaction as ``handlers.payouts`` keeps it."""
    return PayoutTransaction(
        payout_id=payout.id,
        position=position,
        balance_transaction=txn,
        type=kind,
        reporting_category=category or kind,
        source=source,
        amount_minor=amount,
        fee_minor=fee,
        net_minor=amount - fee,
    )


class TestReconciliation:
    def test_each_transaction_against_what_the_connector_booked(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed)
        txn_payment, txn_dispute, txn_topup, txn_own = world["txns"]

        with sessions() as session:
            recon = load_reconciliation(session, world["payout"].stripe_payout_id)

        assert recon is not None
        assert [(r.balance_transaction, r.status) for r in recon.rows] == [
            (txn_payment, RowStatus.BOOKED),
            (txn_dispute, RowStatus.BOOKED),
            (world["txn_fee"], RowStatus.PAYOUT),
            (txn_topup, RowStatus.UNMATCHED),
            (txn_own, RowStatus.PAYOUT),
        ]
        payment = recon.rows[0].posting
        assert payment is not None
        assert (payment.stripe_id, payment.kind, payment.bc_line_id, payment.record_id) == (
            world["charge"],
            "payment",
            "L-PAY",
            world["payment_record"].id,
        )
        figures = recon.rows[0].stripe
        assert figures is not None
        assert (figures.type, figures.source, figures.amount_minor, figures.fee_minor) == (
            "charge",
            world["charge"],
            10000,
            290,
        )
        assert figures.net_minor == 9710
        assert recon.rows[2].note == "a dispute's fee alone, booked with the payout's fees"
        assert recon.rows[4].note == "the payout's transfer to the bank (its net line)"
        assert recon.details_kept
        booked = recon.rows[1].posting
        assert booked is not None
        assert (booked.kind, booked.state, booked.bc_line_id, booked.amount_minor) == (
            "dispute",
            "posted",
            "L-DSP",
            -2500,
        )
        assert booked.record_id == world["dispute_record"].id
        unmatched = recon.rows[3]
        assert recon.unmatched == [unmatched]
        assert unmatched.reason == "type topup is not booked"
        assert unmatched.action == (
            "Book it by hand in BC's payout journal against the Stripe clearing account of EUR, "
            "then mark the payout as handled."
        )
        assert recon.rows[4].posting is None
        assert recon.transactions_kept
        assert recon.reversal is None

    def test_the_record_says_a_person_is_due_until_it_is_marked_handled(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed)
        payout_id = world["payout"].stripe_payout_id

        with sessions() as session:
            before = load_reconciliation(session, payout_id)
        with sessions.begin() as session:
            record = session.get_one(SyncRecord, world["record"].id)
            record.flags = {**record.flags, "handled": {"what": "payout_unmatched"}}
        with sessions() as session:
            after = load_reconciliation(session, payout_id)

        assert before is not None
        assert before.record is not None
        assert before.record.id == world["record"].id
        assert before.record.needs_person == "payout_unmatched"
        assert before.record.todo == (
            "Book the unmatched balance transactions of this payout by hand."
        )
        assert not before.record.handled
        assert after is not None
        assert after.record is not None
        assert after.record.needs_person is None
        assert after.record.handled
        # The unmatched transaction stays on the page: handling it happened in BC.
        assert len(after.unmatched) == 1

    def test_the_audit_trail_is_the_records_oldest_first(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed)

        with sessions() as session:
            recon = load_reconciliation(session, world["payout"].stripe_payout_id)

        assert recon is not None
        assert [e.action for e in recon.events] == ["received", "called", "decided"]
        assert recon.events[0].actor == "reconciler"
        assert not recon.events_truncated

    def test_a_long_trail_is_cut_and_says_so(
        self, seed: Any, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(payouts_data, "MAX_EVENTS", 2)
        world = _world(seed)

        with sessions() as session:
            recon = load_reconciliation(session, world["payout"].stripe_payout_id)

        assert recon is not None
        assert [e.action for e in recon.events] == ["received", "called"]
        assert recon.events_truncated

    def test_a_payout_booked_before_details_were_kept_names_only_keyed_postings(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed, keep_details=False)
        txn_payment, txn_dispute, txn_topup, txn_own = world["txns"]

        with sessions() as session:
            recon = load_reconciliation(session, world["payout"].stripe_payout_id)

        assert recon is not None
        assert recon.transactions_kept
        assert not recon.details_kept
        assert [(r.balance_transaction, r.status) for r in recon.rows] == [
            (txn_payment, RowStatus.MATCHED),
            (txn_dispute, RowStatus.BOOKED),
            (world["txn_fee"], RowStatus.MATCHED),
            (txn_topup, RowStatus.UNMATCHED),
            (txn_own, RowStatus.MATCHED),
        ]
        assert all(r.stripe is None for r in recon.rows)

    def test_a_posting_of_another_kind_under_the_key_is_not_claimed(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed)
        txn_payment = world["txns"][0]
        with sessions() as session:
            row = session.scalars(
                select(PayoutTransaction).where(
                    PayoutTransaction.balance_transaction == txn_payment
                )
            ).one()
            row.type = "refund"
            session.commit()
            recon = load_reconciliation(session, world["payout"].stripe_payout_id)

        assert recon is not None
        assert recon.rows[0].status is RowStatus.MATCHED
        assert recon.rows[0].posting is None

    def test_a_payout_booked_before_transactions_were_kept_lists_its_unmatched_only(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        payout = _payout(
            seed,
            transactions=[],
            unmatched=[{"balance_transaction": "txn_old", "reason": "charge ch_1 has no posting"}],
        )

        with sessions() as session:
            recon = load_reconciliation(session, payout.stripe_payout_id)

        assert recon is not None
        assert not recon.transactions_kept
        assert [(r.balance_transaction, r.status) for r in recon.rows] == [
            ("txn_old", RowStatus.UNMATCHED)
        ]
        assert recon.record is None
        assert recon.events == []

    def test_a_payout_announced_but_not_paid_shows_its_record_and_trail(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        payout_id = random_ref("po")
        record = _record(seed, payout_id, state=RecordState.PENDING)
        seed.audit(record, "decided", "payout is in_transit; waiting for paid", T0)

        with sessions() as session:
            recon = load_reconciliation(session, payout_id)

        assert recon is not None
        assert recon.payout is None
        assert recon.rows == []
        assert recon.record is not None
        assert recon.record.id == record.id
        assert recon.record.needs_person is None
        assert [e.summary for e in recon.events] == ["payout is in_transit; waiting for paid"]
        assert recon.transactions_kept

    def test_a_payout_the_bank_returned_shows_the_reversal(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(seed, state=PayoutState.POSTED)
        payout_id = world["payout"].stripe_payout_id
        seed.posting(
            world["record"],
            payout_id,
            kind=PostingKind.PAYOUT_FAILURE,
            state=PostingState.POSTED,
            bc_company_id="c1",
            bc_line_id="L-REV",
            amount=Decimal("75.00"),
            amount_minor=7500,
            currency="eur",
        )

        with sessions() as session:
            recon = load_reconciliation(session, payout_id)

        assert recon is not None
        assert recon.reversal is not None
        assert (recon.reversal.bc_line_id, recon.reversal.amount_minor) == ("L-REV", 7500)

    def test_unknown_or_impossible_payout_ids_have_no_reconciliation(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        _payout(seed)

        with sessions() as session:
            assert load_reconciliation(session, "po_nobody") is None
            assert load_reconciliation(session, "") is None
            assert load_reconciliation(session, "po_" + "x" * 300) is None


class TestCsv:
    def test_decimal_text_keeps_each_currencys_own_places(self) -> None:
        assert decimal_text(12000, "jpy") == "12000"
        assert decimal_text(5125, "kwd") == "5.125"
        assert decimal_text(-50, "usd") == "-0.50"
        assert decimal_text(None, "usd") == ""
        assert decimal_text(100, "xyz") == "100 minor units"

    def test_the_list_export_in_jpy_and_kwd_is_exact(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        record = _record(seed, "po_kwd1")
        _payout(
            seed,
            "po_jpy1",
            currency="jpy",
            amount_minor=11640,
            net_minor=11640,
            fee_minor=360,
            fx_minor=0,
            arrival_date=dt.date(2026, 11, 26),
            fee_line_id="L1",
            bank_line_id="L2",
        )
        _payout(
            seed,
            "po_kwd1",
            currency="kwd",
            amount_minor=5125,
            net_minor=5125,
            fee_minor=155,
            fx_minor=-7,
            record_id=record.id,
            unmatched=[{"balance_transaction": "txn_1", "reason": "x"}],
        )

        with sessions() as session:
            body = payouts_csv(all_payouts(session, PayoutFilter()))

        assert body == CRLF.join(
            [
                "payout,arrival_date,state,currency,gross,fees,fx_difference,net,unmatched,"
                "bc_fee_line,bc_bank_line,record,booked_at",
                f"po_kwd1,,posted,KWD,5.280,0.155,-0.007,5.125,1,,,{record.id},"
                "2026-11-24T10:00:00+00:00",
                "po_jpy1,2026-11-26,posted,JPY,12000,360,0,11640,0,L1,L2,,"
                "2026-11-24T10:00:00+00:00",
                "",
            ]
        )

    def test_one_payouts_reconciliation_export_is_exact(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        world = _world(
            seed,
            "kwd",
            amount_minor=74990,
            net_minor=74990,
            fee_minor=1235,
            fx_minor=5,
        )
        txn_payment, txn_dispute, txn_topup, txn_own = world["txns"]
        payout_id = world["payout"].stripe_payout_id
        record_id = world["record"].id
        dispute_record_id = world["dispute_record"].id

        with sessions() as session:
            recon = load_reconciliation(session, payout_id)
        assert recon is not None
        body = reconciliation_csv(recon)

        todo = (
            "Book it by hand in BC's payout journal against the Stripe clearing account of KWD, "
            "then mark the payout as handled."
        )
        charge, payment_record_id, txn_fee = (
            world["charge"],
            world["payment_record"].id,
            world["txn_fee"],
        )
        assert body.split(CRLF) == [
            "payout,item,balance_transaction,type,status,stripe_amount,stripe_fee,stripe_net,"
            "amount,currency,bc_line,posting,record,reason,what_to_do",
            f"{payout_id},gross,,,posted,,,,76.225,KWD,,,{record_id},,",
            f"{payout_id},fees,,,posted,,,,1.235,KWD,L-FEE,,{record_id},,",
            f"{payout_id},fx_difference,,,posted,,,,0.005,KWD,,,{record_id},,",
            f"{payout_id},net,,,posted,,,,74.990,KWD,L-BANK,,{record_id},,",
            f"{payout_id},balance_transaction,{txn_payment},charge,booked,10.000,0.290,9.710,"
            f"10.000,KWD,L-PAY,{charge},{payment_record_id},,",
            f"{payout_id},balance_transaction,{txn_dispute},adjustment,booked,-2.500,1.500,"
            f"-4.000,-2.500,KWD,L-DSP,{txn_dispute},{dispute_record_id},,",
            f"{payout_id},balance_transaction,{txn_fee},adjustment,booked_with_payout,0.000,"
            "1.500,-1.500,,,,,,\"a dispute's fee alone, booked with the payout's fees\",",
            f"{payout_id},balance_transaction,{txn_topup},topup,unmatched,0.500,0.000,0.500,"
            f',,,,,type topup is not booked,"{todo}"',
            f"{payout_id},balance_transaction,{txn_own},payout,booked_with_payout,-7.500,"
            "0.000,-7.500,,,,,,the payout's transfer to the bank (its net line),",
            "",
        ]

    def test_a_jpy_reconciliation_shows_whole_yen(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        payout = _payout(
            seed, currency="jpy", amount_minor=11640, net_minor=11640, fee_minor=360, fx_minor=12
        )

        with sessions() as session:
            recon = load_reconciliation(session, payout.stripe_payout_id)
        assert recon is not None

        lines = reconciliation_csv(recon).split(CRLF)
        columns = lines[0].split(",")
        picked = [columns.index(c) for c in ("item", "status", "amount", "currency")]
        assert [[line.split(",")[i] for i in picked] for line in lines[1:5]] == [
            ["gross", "posted", "12000", "JPY"],
            ["fees", "posted", "360", "JPY"],
            ["fx_difference", "posted", "12", "JPY"],
            ["net", "posted", "11640", "JPY"],
        ]

    def test_text_cells_never_run_as_spreadsheet_formulas(
        self, seed: Any, sessions: sessionmaker[Session]
    ) -> None:
        payout = _payout(
            seed,
            unmatched=[{"balance_transaction": "=txn", "reason": '=HYPERLINK("http://x")'}],
        )

        with sessions() as session:
            recon = load_reconciliation(session, payout.stripe_payout_id)
        assert recon is not None

        last = reconciliation_csv(recon).split(CRLF)[-2]
        assert ",'=txn,,unmatched," in last
        assert '"\'=HYPERLINK(""http://x"")"' in last
        # Amounts stay numbers: a negative one keeps its minus sign.
        assert decimal_text(-7, "kwd") == "-0.007"

    def test_the_download_name_is_safe_whatever_the_id(self) -> None:
        assert csv_filename("po_1Abc") == "payout-po_1Abc.csv"
        assert csv_filename('po_"x"\r\n;y') == "payout-po_xy.csv"
        assert csv_filename("\u00e9") == "payout-unknown.csv"
