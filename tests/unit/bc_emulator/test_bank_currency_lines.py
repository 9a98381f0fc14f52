"""Journal line currency from bank accounts, as table 81 derives it (line_currency.py).

A company in USD with EUR at 1.1 and GBP at 0.5; Stripe clearing bank accounts in EUR and GBP
with their own G/L accounts, and batches balanced by the EUR one (conftest's ``foreign_banks``,
plus the ``banks`` below). The line currency is read back through the admin view of unposted
lines (the API pages have no currency field).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

import pytest

PAYMENTS = "customerPaymentJournals({})/customerPayments"
LINES = "journals({})/journalLines"
BANK = "Bank_x0020_Account"
GL = "G_x002F_L_x0020_Account"
BY_GL = {"balanceAccountType": GL, "balancingAccountNumber": "10900"}
BY_STRIPE_EUR = {"balanceAccountType": BANK, "balancingAccountNumber": "STRIPE-EUR"}
NOT_EUR = (
    "Currency Code must be equal to 'EUR'  in Bank Account: No.=STRIPE-GBP. Current value is 'GBP'."
)


@pytest.fixture
def banks(api: Any, foreign_banks: dict[str, str]) -> dict[str, str]:
    """The conftest banks, plus BANK-EUR (currency code in lower case) and EURGEN.

    EURGEN is a general batch balanced by STRIPE-EUR; returns batch ids by name.
    """
    api.seed("accounts", {"number": "10210", "displayName": "Bank EUR", "category": "Assets"})
    api.seed(
        "bankAccounts", {"number": "BANK-EUR", "currencyCode": "eur", "glAccountNumber": "10210"}
    )
    return {**foreign_banks, "general": api.seed_journal("GENERAL", "EURGEN", bank="STRIPE-EUR")}


@dataclass(frozen=True)
class Line:
    """A line sent to ``path`` in batch ``batch`` and what must read back from it.

    ``created`` is checked against the API's answer, ``row`` against the admin view of the line;
    each only in the fields it names.
    """

    path: str
    batch: str
    body: dict[str, Any]
    created: dict[str, Any] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Patch:
    """A PATCH of a line's ``body`` fields and the admin view it must leave (``row``'s fields)."""

    body: dict[str, Any]
    row: dict[str, Any]


def payment(batch: str, customer: str, amount: str, document: str, **expected: Any) -> Line:
    """A customer payment of ``amount`` with its document number."""
    body = {"customerNumber": customer, "amount": Decimal(amount), "documentNumber": document}
    return Line(PAYMENTS, batch, body, **expected)


def bank_line(
    batch: str,
    bank: str,
    amount: str,
    document: str,
    balancing: dict[str, str] | None = None,
    **expected: Any,
) -> Line:
    """A journal line on bank account ``bank``, with the ``balancing`` fields if given."""
    body = {"accountType": BANK, "accountNumber": bank, "amount": Decimal(amount)}
    return Line(LINES, batch, {**body, "documentNumber": document, **(balancing or {})}, **expected)


def gl_line(
    batch: str,
    amount: str,
    document: str | None = None,
    balancing: dict[str, str] | None = None,
    **expected: Any,
) -> Line:
    """A journal line on G/L account 60100 (Stripe fees), its account type left to the default."""
    body: dict[str, Any] = {"accountNumber": "60100", "amount": Decimal(amount)}
    if document is not None:
        body["documentNumber"] = document
    return Line(LINES, batch, {**body, **(balancing or {})}, **expected)


def eur(**fields: Any) -> dict[str, Any]:
    """The admin view of a EUR line, in the ``fields`` given."""
    return {"currencyCode": "EUR", **fields}


def picked(record: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` that ``expected`` names."""
    return {key: record[key] for key in expected}


def create(api: Any, kit: Any, banks: dict[str, str], line: Line) -> dict[str, Any]:
    """Send ``line``, check it was created as expected and return the API's answer."""
    response = api.post(line.path.format(banks[line.batch]), line.body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = kit.loads(response)
    assert picked(created, line.created) == line.created
    row = api.unposted_lines()[created["documentNumber"]]
    assert picked(row, line.row) == line.row
    return created


class TestLineCurrency:
    @pytest.mark.parametrize(
        "line",
        [
            pytest.param(
                payment(
                    "cash",
                    "C20000",
                    "-100",
                    "P1",
                    created={"amount": Decimal("-100")},
                    row=eur(
                        amount=Decimal("-100"),
                        amountLcy=Decimal("-110"),
                        balancingAccountType="Bank Account",
                        balancingAccountNumber="STRIPE-EUR",
                    ),
                ),
                id="eur_customer_in_eur_bank_batch_is_a_eur_line",
            ),
            # GetCustomerAccount: "if not SetCurrencyCode(Bal. Account) then Currency := Cust's" --
            # the balancing bank's EUR wins and BC raises no error for the LCY customer.
            pytest.param(
                payment("cash", "C10000", "-20", "P2", row=eur(amountLcy=Decimal("-22"))),
                id="lcy_customer_in_eur_bank_batch_takes_the_bank_currency",
            ),
            pytest.param(
                payment("lcy_cash", "C20000", "-10", "P3", row=eur(amountLcy=Decimal("-11"))),
                id="eur_customer_in_lcy_bank_batch_keeps_the_customer_currency",
            ),
            pytest.param(
                bank_line(
                    "plain",
                    "BANK-EUR",
                    "50",
                    "J1",
                    BY_GL,
                    row=eur(amount=Decimal("50"), amountLcy=Decimal("55")),
                ),
                id="line_to_a_eur_bank_against_gl_is_a_eur_line",
            ),
            pytest.param(
                bank_line("plain", "CHECKING", "10", "J2", BY_STRIPE_EUR, row=eur()),
                id="lcy_bank_against_a_eur_bank_is_a_eur_line",
            ),
            # SetJournalLineValues compares the body's "Bal. Account Type" (G/L Account when
            # left out) with the batch's and validates it: the batch's bank is dropped, its
            # currency kept.
            pytest.param(
                gl_line(
                    "general",
                    "1",
                    "J3",
                    created={"balanceAccountType": GL, "balancingAccountNumber": ""},
                    row=eur(),
                ),
                id="bank_balanced_batch_drops_its_bank_without_balance_account_type_in_the_body",
            ),
            pytest.param(
                gl_line(
                    "general",
                    "1",
                    "J4",
                    {"balanceAccountType": BANK},
                    created=BY_STRIPE_EUR,
                    row=eur(),
                ),
                id="bank_balanced_batch_keeps_its_bank_with_balance_account_type_in_the_body",
            ),
        ],
    )
    def test_new_line_takes_its_currency_from_the_bank_or_customer(
        self, api: Any, kit: Any, banks: dict[str, str], line: Line
    ) -> None:
        create(api, kit, banks, line)

    @pytest.mark.parametrize(
        ("line", "patch"),
        [
            pytest.param(
                payment("lcy_cash", "C10000", "-10", "P4", row={"currencyCode": "USD"}),
                Patch({"customerNumber": "C20000"}, eur(amountLcy=Decimal("-11"))),
                id="patching_the_customer_follows_the_balancing_bank",
            ),
            pytest.param(
                bank_line("plain", "BANK-EUR", "10", "J5", row=eur()),
                Patch(
                    {"accountType": GL, "accountNumber": "60100"},
                    {"currencyCode": "USD", "amountLcy": Decimal("10")},
                ),
                id="patching_the_account_to_a_gl_account_without_balancing_is_lcy",
            ),
        ],
    )
    def test_patching_derives_the_currency_again(
        self, api: Any, kit: Any, banks: dict[str, str], line: Line, patch: Patch
    ) -> None:
        created = create(api, kit, banks, line)
        entity_set = line.path.rpartition("/")[2]
        patched = api.patch(f"{entity_set}({created['id']})", patch.body, created["@odata.etag"])
        assert patched.status_code == 200, patched.text
        row = api.unposted_lines()[line.body["documentNumber"]]
        assert picked(row, patch.row) == patch.row

    @pytest.mark.parametrize(
        ("batch", "balancing"),
        [
            pytest.param("plain", BY_STRIPE_EUR, id="balancing_bank_in_the_body"),
            pytest.param("general", {}, id="batch_balanced_by_the_eur_bank"),
        ],
    )
    def test_banks_in_two_currencies_are_refused_with_bcs_testfield_error(
        self, api: Any, kit: Any, banks: dict[str, str], batch: str, balancing: dict[str, str]
    ) -> None:
        body = {"accountType": BANK, "accountNumber": "STRIPE-GBP", "amount": Decimal("10")}
        response = api.post(LINES.format(banks[batch]), {**body, **balancing})
        assert response.status_code == 400
        assert kit.loads(response)["error"]["code"] == "Application_FieldValidationException"
        assert kit.error_message(response) == NOT_EUR


class TestAmountRounding:
    @pytest.mark.parametrize(
        "line",
        [
            # ValidateAmount: LCY = Round(10.045 / factor) = Round(11.0495) = 11.05, then Amount is
            # rounded to EUR's precision (10.05). Nothing validates this line again.
            pytest.param(
                bank_line(
                    "plain",
                    "BANK-EUR",
                    "10.045",
                    "R1",
                    created={"amount": Decimal("10.05")},
                    row={"amountLcy": Decimal("11.05")},
                ),
                id="lcy_comes_from_the_amount_as_sent_when_nothing_validates_the_line_again",
            ),
            # SetPaymentsValues validates the balancing bank after Amount: "Currency Code" is
            # validated again, and with it Amount, now from the rounded -10.05 (-11.055 -> -11.06).
            pytest.param(
                payment(
                    "cash",
                    "C20000",
                    "-10.045",
                    "R2",
                    row={"amount": Decimal("-10.05"), "amountLcy": Decimal("-11.06")},
                ),
                id="lcy_comes_from_the_rounded_amount_when_the_line_is_validated_again",
            ),
            pytest.param(
                gl_line("plain", "1.005", created={"amount": Decimal("1.01")}),
                id="lcy_lines_round_to_two_decimals",
            ),
        ],
    )
    def test_amounts_round_as_bc_rounds_them(
        self, api: Any, kit: Any, banks: dict[str, str], line: Line
    ) -> None:
        create(api, kit, banks, line)
