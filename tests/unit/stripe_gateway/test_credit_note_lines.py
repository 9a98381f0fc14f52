"""A BC credit memo's lines as Stripe credit note lines: the pure plan (with a property that it
always credits exactly the memo's amount and never breaks Stripe's line rules), the command
schema, and ``credit_invoice`` against the Stripe emulator through the unmodified SDK."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import stripe
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from mlconnector.web import ApiError
from stripe_emulator.server import EmulatorServer
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.api.schemas import CreditInvoiceSchema
from stripe_gateway.services.credit_note_lines import AMOUNT
from stripe_gateway.services.credit_note_lines import QUANTITY
from stripe_gateway.services.credit_note_lines import CreditLine
from stripe_gateway.services.credit_note_lines import InvoiceLineState
from stripe_gateway.services.credit_note_lines import LinesUnknown
from stripe_gateway.services.credit_note_lines import invoice_line_states
from stripe_gateway.services.credit_note_lines import plan_lines
from stripe_gateway.services.credit_note_lines import planned_amount
from stripe_gateway.services.invoice_changes import credit_invoice

KEY = "sk_test_gateway_credit_lines"


def state(
    line_id: str,
    amount: int,
    *,
    quantity: int = 1,
    unit: str | None = None,
    bc: str | None = None,
    description: str = "Work",
    **more: Any,
) -> InvoiceLineState:
    unit_amount = Decimal(unit) if unit is not None else Decimal(amount) / quantity
    return InvoiceLineState(line_id, amount, quantity, unit_amount, description, bc, **more)


WORK = state("il_work", 30000, bc="work")  # pushed as an amount: quantity 1
TRAVEL = state("il_travel", 4550, bc="travel")
TAX = state("il_tax", 3000, description="Tax")
WIDGETS = state("il_widgets", 1000, quantity=4, unit="250", bc="widgets")


def ask(amount: int, **fields: Any) -> CreditLine:
    return CreditLine(description=fields.pop("description", "Work"), amount_minor=amount, **fields)


class TestPlan:
    def test_a_whole_line_is_credited_by_quantity_and_part_of_one_by_amount(self) -> None:
        planned = plan_lines(
            [
                ask(4550, sequence=20000, bc_invoice_line_id="travel",
                    bc_quantity=Decimal(1), bc_invoice_quantity=Decimal(1)),
                ask(10000, sequence=10000, bc_invoice_line_id="work",
                    bc_quantity=Decimal(1), bc_invoice_quantity=Decimal(3)),
            ],
            [WORK, TRAVEL, TAX],
        )  # fmt: skip
        assert planned == [
            {"type": "invoice_line_item", "invoice_line_item": "il_travel", "quantity": 1,
             "metadata": {"bc_line_sequence": "20000"}},
            {"type": "invoice_line_item", "invoice_line_item": "il_work", "amount": 10000,
             "metadata": {"bc_line_sequence": "10000"}},
        ]  # fmt: skip

    def test_quantities_scale_to_the_stripe_line_when_it_has_them(self) -> None:
        [entry] = plan_lines(
            [ask(500, bc_invoice_line_id="widgets", bc_quantity=Decimal("2"),
                 bc_invoice_quantity=Decimal("4"))],
            [WIDGETS],
        )  # fmt: skip
        assert (entry["invoice_line_item"], entry[QUANTITY]) == ("il_widgets", 2)

    def test_a_quantity_whose_price_is_not_a_whole_minor_unit_is_credited_by_amount(self) -> None:
        thirds = state("il_thirds", 1000, quantity=3, unit="333.3333333333", bc="thirds")
        [entry] = plan_lines(
            [ask(333, bc_invoice_line_id="thirds", bc_quantity=Decimal(1),
                 bc_invoice_quantity=Decimal(3))],
            [thirds],
        )  # fmt: skip
        assert entry[AMOUNT] == 333
        assert QUANTITY not in entry

    def test_another_price_is_credited_by_amount_even_for_the_whole_quantity(self) -> None:
        [entry] = plan_lines([ask(25000, bc_invoice_line_id="work")], [WORK])
        assert entry[AMOUNT] == 25000

    def test_the_tax_credits_the_tax_line_by_amount(self) -> None:
        [entry] = plan_lines([ask(1000, description="Tax", invoice_tax=True)], [WORK, TAX])
        assert entry == {
            "type": "invoice_line_item", "invoice_line_item": "il_tax", "amount": 1000,
            "metadata": {"bc_amount": "total_tax_amount"},
        }  # fmt: skip

    def test_a_line_matching_nothing_is_a_custom_line_of_the_exact_amount(self) -> None:
        [entry] = plan_lines([ask(1234, description="Goodwill", sequence=30000)], [WORK])
        assert entry == {
            "type": "custom_line_item", "description": "Goodwill", "quantity": 1,
            "unit_amount": 1234, "metadata": {"bc_line_sequence": "30000"},
        }  # fmt: skip

    def test_more_than_is_left_becomes_a_custom_line(self) -> None:
        used = dataclasses.replace(WORK, credited_by=AMOUNT, credited_amount=25000)
        [entry] = plan_lines([ask(10000, bc_invoice_line_id="work")], [used])
        assert entry["type"] == "custom_line_item"

    def test_a_line_once_credited_by_amount_is_credited_by_amount_again(self) -> None:
        used = dataclasses.replace(WIDGETS, credited_by=AMOUNT, credited_amount=100)
        [entry] = plan_lines(
            [ask(250, bc_invoice_line_id="widgets", bc_quantity=Decimal(1),
                 bc_invoice_quantity=Decimal(4))],
            [used],
        )  # fmt: skip
        assert entry[AMOUNT] == 250

    def test_a_line_once_credited_by_quantity_takes_no_amount(self) -> None:
        used = dataclasses.replace(
            WIDGETS, credited_by=QUANTITY, credited_quantity=1, credited_amount=250
        )
        quantity, partial = plan_lines(
            [
                ask(250, bc_invoice_line_id="widgets", bc_quantity=Decimal(1),
                    bc_invoice_quantity=Decimal(4)),
                ask(100, bc_invoice_line_id="widgets"),
            ],
            [used],
        )  # fmt: skip
        assert quantity[QUANTITY] == 1
        assert partial["type"] == "custom_line_item"

    def test_two_memo_lines_on_one_invoice_line_share_what_is_left(self) -> None:
        first, second = plan_lines(
            [ask(20000, bc_invoice_line_id="work"), ask(20000, bc_invoice_line_id="work")], [WORK]
        )
        assert first[AMOUNT] == 20000
        assert second["type"] == "custom_line_item"

    def test_the_last_units_must_take_exactly_what_is_left(self) -> None:
        used = dataclasses.replace(
            WIDGETS, credited_by=QUANTITY, credited_quantity=3, credited_amount=749
        )
        [entry] = plan_lines(
            [ask(250, bc_invoice_line_id="widgets", bc_quantity=Decimal(1),
                 bc_invoice_quantity=Decimal(4))],
            [used],
        )  # fmt: skip
        assert entry["type"] == "custom_line_item"  # Stripe would credit 251 (what is left)

    def test_taxed_or_discounted_lines_are_not_credited_as_invoice_lines(self) -> None:
        taxed = dataclasses.replace(WORK, creditable=False)
        [entry] = plan_lines([ask(100, bc_invoice_line_id="work")], [taxed])
        assert entry["type"] == "custom_line_item"


def invoice_dict(*lines: dict[str, Any], has_more: bool = False) -> dict[str, Any]:
    return {"id": "in_1", "lines": {"data": list(lines), "has_more": has_more}}


def stripe_line(line_id: str, amount: int, bc: str | None = None, **more: Any) -> dict[str, Any]:
    return {
        "id": line_id, "amount": amount, "quantity": 1, "description": "x",
        "metadata": {"bc_line_id": bc} if bc else {},
        "pricing": {"unit_amount_decimal": Decimal(amount)}, "taxes": [], **more,
    }  # fmt: skip


class TestStates:
    def test_issued_credit_notes_count_and_void_ones_do_not(self) -> None:
        notes = [
            {"status": "issued", "lines": {"data": [
                {"invoice_line_item": "il_a", "quantity": None, "amount": 100},
                {"invoice_line_item": None, "quantity": 1, "amount": 50},
            ]}},
            {"status": "void", "lines": {"data": [
                {"invoice_line_item": "il_b", "quantity": 1, "amount": 200},
            ]}},
            {"status": "issued", "lines": {"data": [
                {"invoice_line_item": "il_b", "quantity": 1, "amount": 200},
            ]}},
        ]  # fmt: skip
        a, b = invoice_line_states(
            invoice_dict(stripe_line("il_a", 1000, "a"), stripe_line("il_b", 400)), notes
        )
        assert (a.bc_line_id, a.credited_by, a.credited_amount, a.credited_quantity) == (
            "a", AMOUNT, 100, 0,
        )  # fmt: skip
        assert (b.bc_line_id, b.credited_by, b.credited_amount, b.credited_quantity) == (
            None, QUANTITY, 200, 1,
        )  # fmt: skip
        assert a.unit_amount_decimal == Decimal(1000)

    def test_taxed_discounted_and_negative_lines_are_not_creditable(self) -> None:
        states = invoice_line_states(
            invoice_dict(
                stripe_line("il_t", 100, taxes=[{"amount": 20}]),
                stripe_line("il_d", 100, discount_amounts=[{"amount": 5}]),
                stripe_line("il_n", -100),
                stripe_line("il_ok", 100),
            ),
            [],
        )
        assert [s.creditable for s in states] == [False, False, False, True]

    def test_a_cut_short_list_or_automatic_tax_leaves_the_lines_unknown(self) -> None:
        with pytest.raises(LinesUnknown, match="more lines"):
            invoice_line_states(invoice_dict(stripe_line("il_a", 1), has_more=True), [])
        note = {"id": "cn_1", "status": "issued", "lines": {"data": [], "has_more": True}}
        with pytest.raises(LinesUnknown, match="cn_1"):
            invoice_line_states(invoice_dict(stripe_line("il_a", 1)), [note])
        with pytest.raises(LinesUnknown, match="automatically"):
            invoice_line_states({**invoice_dict(), "automatic_tax": {"enabled": True}}, [])


# -- the property -----------------------------------------------------------------------------


@st.composite
def invoice_states(draw: st.DrawFn) -> list[InvoiceLineState]:
    states = []
    for i in range(draw(st.integers(0, 6))):
        quantity = draw(st.integers(1, 12))
        unit = draw(
            st.one_of(
                st.integers(1, 50_000).map(Decimal),
                st.integers(1, 10**9).map(lambda n: Decimal(n).scaleb(-4)),  # fractional
            )
        )
        amount = int(unit * quantity) or 1
        credited_by = draw(st.sampled_from([None, AMOUNT, QUANTITY]))
        credited_quantity = draw(st.integers(0, quantity)) if credited_by == QUANTITY else 0
        credited_amount = (
            draw(st.integers(0, amount))
            if credited_by == AMOUNT
            else min(amount, int(unit * credited_quantity))
        )
        states.append(
            InvoiceLineState(
                f"il_{i}", amount, quantity, unit, draw(st.sampled_from(["Work", "Tax"])),
                draw(st.sampled_from([None, f"bc{i}", "bc0"])),
                creditable=draw(st.booleans()), credited_by=credited_by,
                credited_quantity=credited_quantity, credited_amount=credited_amount,
            )
        )  # fmt: skip
    return states


@st.composite
def credit_lines(draw: st.DrawFn) -> list[CreditLine]:
    lines = []
    for i in range(draw(st.integers(1, 8))):
        lines.append(
            CreditLine(
                description=draw(st.text(max_size=10)), amount_minor=draw(st.integers(1, 10**6)),
                sequence=i * 10000, invoice_tax=(tax := draw(st.booleans())),
                bc_invoice_line_id=None if tax else draw(st.sampled_from([None, "bc0", "bc1"])),
                bc_quantity=draw(st.one_of(st.none(), st.integers(1, 12).map(Decimal))),
                bc_invoice_quantity=draw(st.one_of(st.none(), st.integers(1, 12).map(Decimal))),
            )
        )  # fmt: skip
    return lines


@settings(max_examples=400, deadline=None)
@given(credit_lines(), invoice_states())
def test_the_plan_credits_exactly_each_memo_line_and_keeps_stripes_rules(
    lines: list[CreditLine], states: list[InvoiceLineState]
) -> None:
    planned = plan_lines(lines, states)
    assert len(planned) == len(lines)
    for entry, line in zip(planned, lines, strict=True):
        assert planned_amount(entry, states) == line.amount_minor  # exact, never rounded
    assert sum(planned_amount(e, states) for e in planned) == sum(x.amount_minor for x in lines)
    by_id = {s.id: dataclasses.replace(s) for s in states}
    for entry in planned:
        if entry["type"] != "invoice_line_item":
            continue
        target = by_id[entry["invoice_line_item"]]
        mode = QUANTITY if QUANTITY in entry else AMOUNT
        assert target.creditable
        assert target.credited_by in (None, mode)  # "You can't combine discount types"
        target.credited_by = mode
        target.credited_amount += planned_amount(entry, states)
        target.credited_quantity += int(entry.get(QUANTITY, 0))
        assert target.credited_amount <= target.amount
        assert target.credited_quantity <= target.quantity


class TestSchema:
    BODY: dict[str, Any] = {
        "key": "bc-creditmemo-1", "amount_minor": 1500, "bc_credit_memo_id": "cm-1",
        "bc_credit_memo_number": "PCM-1", "bc_invoice_id": "inv-1",
    }  # fmt: skip

    def test_lines_load_as_credit_lines_with_exact_quantities(self) -> None:
        command = CreditInvoiceSchema().load(
            {
                **self.BODY,
                "lines": [
                    {"description": "Work", "amount_minor": 1000, "sequence": 10000,
                     "bc_invoice_line_id": "bc-line-1", "bc_quantity": "1.5",
                     "bc_invoice_quantity": "3"},
                    {"description": "Tax", "amount_minor": 500, "invoice_tax": True},
                ],
            }
        )  # fmt: skip
        work, tax = command["lines"]
        assert work == CreditLine(
            "Work", 1000, 10000, "bc-line-1", False, Decimal("1.5"), Decimal(3)
        )
        assert tax.invoice_tax
        assert tax.bc_quantity is None

    def test_no_lines_is_the_amount_only_command(self) -> None:
        assert CreditInvoiceSchema().load(self.BODY)["lines"] == []

    @pytest.mark.parametrize(
        "lines",
        [
            [{"description": "Work", "amount_minor": 1000}],  # misses the amount
            [{"description": "Work", "amount_minor": 1500.0}],
            [{"description": "W", "amount_minor": 0}, {"description": "W", "amount_minor": 1500}],
            [{"description": "Work", "amount_minor": 1500, "bc_quantity": "-1"}],
            [{"description": "Work", "amount_minor": 1500, "bc_quantity": 1.5}],
            [{"description": "", "amount_minor": 1500}],
            [{"description": "Tax", "amount_minor": 1500, "invoice_tax": True,
              "bc_invoice_line_id": "x"}],
            [{"description": "W", "amount_minor": 1500, "unexpected": 1}],
        ],
    )  # fmt: skip
    def test_rejects(self, lines: list[dict[str, Any]]) -> None:
        with pytest.raises(ValidationError):
            CreditInvoiceSchema().load({**self.BODY, "lines": lines})


# -- credit_invoice against the emulator ------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emu(emulator: EmulatorServer) -> EmulatorServer:
    emulator.reset()
    return emulator


@pytest.fixture
def sdk(emu: EmulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": emu.base_url}, max_network_retries=0)


@pytest.fixture
def gateway(emu: EmulatorServer) -> StripeClient:
    return StripeClient(KEY, api_base=emu.base_url, max_network_retries=0, timeout_s=10)


def pushed(sdk: stripe.StripeClient, *lines: dict[str, Any]) -> stripe.Invoice:
    """An invoice as the push makes it: amount lines with the BC line id, tax on its own."""
    customer = sdk.v1.customers.create(params={"name": "Lines", "email": "lines@example.com"})
    invoice = sdk.v1.invoices.create(
        params={"customer": customer.id, "currency": "usd", "collection_method": "send_invoice",
                "days_until_due": 14}
    )  # fmt: skip
    sdk.v1.invoices.add_lines(invoice.id, params={"lines": list(lines)})  # type: ignore[arg-type]
    return sdk.v1.invoices.finalize_invoice(invoice.id)


PUSHED = (
    {"amount": 30000, "description": "Work (3 x 100.00)", "metadata": {"bc_line_id": "work"}},
    {"amount": 4550, "description": "Travel", "metadata": {"bc_line_id": "travel"}},
    {"amount": 3000, "description": "Tax", "metadata": {}},
)
MEMO_LINES = [
    ask(10000, sequence=10000, bc_invoice_line_id="work",
        bc_quantity=Decimal(1), bc_invoice_quantity=Decimal(3)),
    ask(4550, description="Travel", sequence=20000, bc_invoice_line_id="travel",
        bc_quantity=Decimal(1), bc_invoice_quantity=Decimal(1)),
    ask(1000, description="Goodwill", sequence=30000),
    ask(1000, description="Tax", invoice_tax=True),
]  # fmt: skip
METADATA = {"bc_credit_memo_id": "cm-1", "bc_credit_memo_number": "PCM-1", "bc_invoice_id": "i"}


def credit(gateway: StripeClient, invoice_id: str, lines: list[CreditLine], **more: Any) -> Any:
    params: dict[str, Any] = {
        "key": "bc-creditmemo-cm-1", "amount_minor": sum(x.amount_minor for x in lines),
        "memo": "BC credit memo PCM-1", "metadata": METADATA, "after_payment": "customer_balance",
        "lines": lines, **more,
    }  # fmt: skip
    return credit_invoice(gateway, invoice_id, **params)


class TestCreditInvoice:
    def test_line_by_line_once_however_often_it_is_asked(
        self, sdk: stripe.StripeClient, gateway: StripeClient
    ) -> None:
        invoice = pushed(sdk, *PUSHED)
        work, travel, tax = (line.id for line in invoice.lines.data)
        made = credit(gateway, invoice.id, MEMO_LINES)
        assert made.created
        assert made.amount_only_why is None
        note = made.note
        assert (note.amount, note.total, note.pre_payment_amount) == (16550, 16550, 16550)
        assert note.metadata is not None
        assert note.metadata.to_dict() == {**METADATA, "mlc_key": "bc-creditmemo-cm-1"}
        got = [
            (x.type, x.invoice_line_item, x.quantity, x.amount, x.metadata.to_dict())
            for x in note.lines.data
        ]
        assert got == [
            ("invoice_line_item", work, None, 10000, {"bc_line_sequence": "10000"}),
            ("invoice_line_item", travel, 1, 4550, {"bc_line_sequence": "20000"}),
            ("custom_line_item", None, 1, 1000, {"bc_line_sequence": "30000"}),
            ("invoice_line_item", tax, None, 1000, {"bc_amount": "total_tax_amount"}),
        ]
        assert note.lines.data[2].description == "Goodwill"
        after = sdk.v1.invoices.retrieve(invoice.id)
        assert (after.amount_remaining, after.pre_payment_credit_notes_amount) == (21000, 16550)
        again = credit(gateway, invoice.id, MEMO_LINES)  # a redelivered message
        assert (again.created, again.note.id) == (False, note.id)
        assert len(sdk.v1.credit_notes.list(params={"invoice": invoice.id}).data) == 1

    def test_a_second_memo_knows_what_the_first_took(
        self, sdk: stripe.StripeClient, gateway: StripeClient
    ) -> None:
        invoice = pushed(sdk, *PUSHED)
        credit(gateway, invoice.id, MEMO_LINES)
        # 200.00 of Work is left; a second memo crediting 201.00 of it cannot go on the invoice
        # line (Stripe would refuse) and is a custom line; one crediting 200.00 fits.
        second = credit(
            gateway, invoice.id, [ask(20100, sequence=10000, bc_invoice_line_id="work")],
            key="bc-creditmemo-cm-2",
        )  # fmt: skip
        [line] = second.note.lines.data
        assert (line.type, line.amount) == ("custom_line_item", 20100)
        sdk.v1.credit_notes.void_credit_note(second.note.id)
        third = credit(
            gateway, invoice.id, [ask(20000, sequence=10000, bc_invoice_line_id="work")],
            key="bc-creditmemo-cm-3",
        )  # fmt: skip
        [line] = third.note.lines.data
        assert (line.type, line.amount, line.invoice_line_item) == (
            "invoice_line_item", 20000, invoice.lines.data[0].id,
        )  # fmt: skip

    def test_on_a_paid_invoice_the_lines_are_credited_after_payment(
        self, emu: EmulatorServer, sdk: stripe.StripeClient, gateway: StripeClient
    ) -> None:
        invoice = pushed(sdk, *PUSHED)
        emu.pay_invoice(invoice.id)
        made = credit(gateway, invoice.id, MEMO_LINES)
        note = made.note
        assert (note.type, note.post_payment_amount) == ("post_payment", 16550)
        assert len(note.lines.data) == 4
        after = sdk.v1.invoices.retrieve(invoice.id)
        assert after.post_payment_credit_notes_amount == 16550
        customer = sdk.v1.customers.retrieve(str(after.customer))
        assert customer.balance == -16550

    def test_an_invoice_with_more_lines_than_one_read_gives_gets_an_amount_only_note(
        self, sdk: stripe.StripeClient, gateway: StripeClient
    ) -> None:
        many = [
            {"amount": 100, "description": f"L{i}", "metadata": {"bc_line_id": f"l{i}"}}
            for i in range(11)
        ]
        invoice = pushed(sdk, *many)
        made = credit(gateway, invoice.id, [ask(100, bc_invoice_line_id="l0")])
        assert made.note.amount == 100
        assert not made.note.lines.data
        assert made.amount_only_why is not None
        assert "more lines" in made.amount_only_why

    def test_lines_that_miss_the_amount_are_refused_before_stripe_is_asked(
        self, sdk: stripe.StripeClient, gateway: StripeClient
    ) -> None:
        invoice = pushed(sdk, *PUSHED)
        with pytest.raises(ApiError) as refused:
            credit(gateway, invoice.id, MEMO_LINES, amount_minor=100)
        assert refused.value.status_code == 422
        assert not sdk.v1.credit_notes.list(params={"invoice": invoice.id}).data
