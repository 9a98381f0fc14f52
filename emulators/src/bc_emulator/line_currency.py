"""Currency and LCY amount of a Gen. Journal Line, derived from its accounts as table 81 does it.

Neither ``customerPayments`` nor ``journalLines`` has a ``currencyCode``: BC derives a line's
"Currency Code" from the accounts while the page code validates them one by one, so the order of
validations matters. This module mirrors those field triggers of table 81 "Gen. Journal Line"
(microsoft/BCApps, ``src/Layers/W1/BaseApp/Finance/GeneralLedger/Journal/GenJournalLine.Table.al``;
the same code is in StefanMaron/MSDyn365BC.Code.History,
``BaseApp/Source/Base Application/Finance/GeneralLedger/Journal/GenJournalLine.Table.al``):

* ``SetCurrencyCode(AccType, AccNo)`` sets "Currency Code" to the currency of the account when it
  is a bank account (blank otherwise) and returns whether that is non-blank.
* ``GetCustomerAccount``: ``if not SetCurrencyCode("Bal. Account Type", "Bal. Account No.") then
  "Currency Code" := Cust."Currency Code"`` -- a balancing bank account in a currency wins over
  the customer's currency, without any check against the customer.
* ``GetBankAccount``: a bank in LCY blanks the currency only when there is no balancing account;
  a bank in a currency takes the balancing bank's currency and ``TestField``\\s its own against it,
  or (no balancing bank currency) sets its own.
* ``GetBankBalAccount``: the same from the balancing side; a balancing bank in LCY blanks the
  currency when the line has no account yet, else runs ``ClearCurrencyCode``.
* ``GetGLAccount`` / ``GetGLBalAccount`` blank the currency when the other side is empty
  (G/L accounts here have no "Source Currency Code").
* "Currency Code" ``OnValidate`` ``TestField``\\s the balancing bank and the account bank (when they
  have a currency) against the line currency, sets "Currency Factor" with
  ``CurrExchRate.ExchangeRate`` and re-validates Amount.
* ``ValidateAmount``: "Amount (LCY)" := ``Round(CurrExchRate.ExchangeAmtFCYToLCY(..., Amount,
  "Currency Factor"))`` (``Amount / "Currency Factor"``, table 330, default precision = the LCY
  "Amount Rounding Precision") computed from the amount *as given*; then ``Amount :=
  Round(Amount, Currency."Amount Rounding Precision")``; ``UpdateLineBalance`` then sets "Amount
  (LCY)" := Amount for LCY lines.
* "Bal. Account No." ``OnValidate`` with a blank number runs ``ClearCurrencyCode`` (blank the
  currency when the previous balancing bank had this currency) and exits without re-validating
  the currency; "Bal. Account Type" ``OnValidate`` validates a blank "Bal. Account No.".

``xRec`` of a code-triggered ``Validate`` is the record just before the assignment, which is why
the callers pass the previous balancing account explicitly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN
from decimal import ROUND_HALF_UP
from decimal import Context
from decimal import Decimal

from bc_emulator.amounts import decimals_for
from bc_emulator.amounts import exchange_rate
from bc_emulator.errors import BCError
from bc_emulator.ledger import missing_account
from bc_emulator.models import BankAccount
from bc_emulator.models import Company
from bc_emulator.models import JournalLine

GL = "G/L Account"
CUSTOMER = "Customer"
BANK = "Bank Account"
ZERO = Decimal(0)
# "Amount Rounding Precision" of the LCY: Currency.InitRoundingPrecision takes the General Ledger
# Setup value (0.01 when blank); AL ``Round`` without a precision uses the same (System.Round docs).
LCY_PRECISION = Decimal("0.01")
# AL Decimal is .NET decimal (28-29 significant digits); divisions are done at that precision.
_AL_DECIMAL = Context(prec=28, rounding=ROUND_HALF_EVEN)


def al_round(value: Decimal, precision: Decimal = LCY_PRECISION) -> Decimal:
    """AL ``Round(value, precision)`` with direction '=': nearest, halves away from zero."""
    steps = (value / precision).to_integral_value(rounding=ROUND_HALF_UP)
    return (steps * precision).quantize(precision)


def amount_rounding_precision(company: Company, currency_code: str) -> Decimal:
    """Currency."Amount Rounding Precision" (LCY: 0.01).

    API v2.0 does not expose the field (its ``amountRoundingPrecision`` is "Invoice Rounding
    Precision", APIV2Currencies.Page.al); the emulator derives it from ``amountDecimalPlaces``.
    """
    if not currency_code:
        return LCY_PRECISION
    return Decimal(1).scaleb(-decimals_for(company, currency_code))


def currency_factor(company: Company, currency_code: str) -> Decimal:
    """``CurrExchRate.ExchangeRate``: foreign units per LCY unit (0 for a blank currency on a line).

    Table 330 returns "Exchange Rate Amount" / "Relational Exch. Rate Amount"; the emulator's
    ``exchangeRate`` is LCY per unit, i.e. an exchange rate amount of 1.
    """
    if not currency_code:
        return ZERO
    return _AL_DECIMAL.divide(Decimal(1), exchange_rate(company, currency_code))


def test_field_error(field: str, expected: str, table: str, ident: str, actual: str) -> BCError:
    """BC's ``TestField`` failure for a value mismatch."""
    return BCError(
        400,
        "Application_FieldValidationException",
        f"{field} must be equal to '{expected}'  in {table}: {ident}. Current value is '{actual}'.",
    )


def bank_account(company: Company, number: str) -> BankAccount:
    """``BankAcc.Get(No.)`` plus ``BankAcc.TestField(Blocked, false)``."""
    bank = company.bank_account_by_number(number)
    if bank is None:
        raise missing_account(BANK, number)
    if bank.values.get("blocked"):
        raise test_field_error("Blocked", "No", "Bank Account", f"No.={number}", "Yes")
    return bank


def _bank_must_have_line_currency(bank: BankAccount, line: JournalLine) -> None:
    """``BankAcc.TestField("Currency Code", "Currency Code")``."""
    if bank.currency_code != line.currency_code:
        raise test_field_error(
            "Currency Code",
            line.currency_code,
            "Bank Account",
            f"No.={bank.values['number']}",
            bank.currency_code,
        )


def set_currency_code(company: Company, line: JournalLine, kind: str, number: str) -> bool:
    """``SetCurrencyCode``: the currency of a bank account (blank for anything else)."""
    line.currency_code = ""
    if number and kind == BANK:
        bank = company.bank_account_by_number(number)
        if bank is not None:
            line.currency_code = bank.currency_code
    return line.currency_code != ""


def validate_amount(company: Company, line: JournalLine, amount: Decimal) -> None:
    """``ValidateAmount`` + ``UpdateLineBalance``: LCY from the amount as given, then rounding."""
    amount_lcy = amount
    if line.currency_code:
        factor = line.currency_factor or currency_factor(company, line.currency_code)
        amount_lcy = al_round(_AL_DECIMAL.divide(amount, factor))
    line.amount = al_round(amount, amount_rounding_precision(company, line.currency_code))
    line.amount_lcy = amount_lcy if line.currency_code else line.amount


def validate_currency_code(company: Company, line: JournalLine) -> None:
    """ "Currency Code" ``OnValidate``: bank currencies must match, new factor, Amount again."""
    if line.bal_account_type == BANK:
        bank = company.bank_account_by_number(line.bal_account_number)
        if bank is not None and bank.currency_code:
            _bank_must_have_line_currency(bank, line)
    if line.account_type == BANK:
        bank = company.bank_account_by_number(line.account_number)
        if bank is not None and bank.currency_code:
            _bank_must_have_line_currency(bank, line)
    # With one exchange rate per currency the factor BC recomputes is always this one.
    line.currency_factor = currency_factor(company, line.currency_code)
    validate_amount(company, line, line.amount)


def validate_account_no(company: Company, line: JournalLine, number: str) -> None:
    """ "Account No." ``OnValidate`` (currency part) for G/L, customer and bank accounts."""
    line.account_number = number
    if not number:
        return  # CleanLine: the currency is left as it is
    if line.account_type == GL:
        if not line.bal_account_number:
            line.currency_code = ""  # GetGLAccount
    elif line.account_type == CUSTOMER:
        customer = company.customer_by_number(number)
        if customer is None:
            raise missing_account(CUSTOMER, number)
        if not set_currency_code(company, line, line.bal_account_type, line.bal_account_number):
            line.currency_code = customer.currency_code  # GetCustomerAccount
    elif line.account_type == BANK:
        _get_bank_account(company, line, bank_account(company, number))
    validate_currency_code(company, line)


def _get_bank_account(company: Company, line: JournalLine, bank: BankAccount) -> None:
    if not bank.currency_code:
        if not line.bal_account_number:
            line.currency_code = ""
    elif set_currency_code(company, line, line.bal_account_type, line.bal_account_number):
        _bank_must_have_line_currency(bank, line)
    else:
        line.currency_code = bank.currency_code


def validate_bal_account_type(company: Company, line: JournalLine, kind: str) -> None:
    """ "Bal. Account Type" ``OnValidate``: ``Validate("Bal. Account No.", '')``.

    The nested validation's ``xRec`` already has the new type, so ``ClearCurrencyCode`` only acts
    when the new type is a bank account.
    """
    line.bal_account_type = kind
    validate_bal_account_no(company, line, "")


def validate_bal_account_no(company: Company, line: JournalLine, number: str) -> None:
    """ "Bal. Account No." ``OnValidate`` (currency part)."""
    previous_kind, previous_number = line.bal_account_type, line.bal_account_number
    line.bal_account_number = number
    if not number:
        if previous_number:
            _clear_currency_code(company, line, previous_kind, previous_number)
        return
    if line.bal_account_type == BANK:
        bank = bank_account(company, number)
        if not bank.currency_code:
            if not line.account_number:
                line.currency_code = ""
            else:
                _clear_currency_code(company, line, previous_kind, previous_number)
        elif set_currency_code(company, line, BANK, number):
            _bank_must_have_line_currency(bank, line)
        else:
            line.currency_code = bank.currency_code
    elif line.bal_account_type == GL and not line.account_number:
        line.currency_code = ""  # GetGLBalAccount
    validate_currency_code(company, line)


def _clear_currency_code(
    company: Company, line: JournalLine, previous_kind: str, previous_number: str
) -> None:
    """``ClearCurrencyCode``: drop the previous balancing bank's currency (no re-validation)."""
    if previous_kind == BANK and previous_number:
        bank = company.bank_account_by_number(previous_number)
        if bank is not None and bank.currency_code == line.currency_code:
            line.currency_code = ""
