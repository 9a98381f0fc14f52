"""General journal lines (payout bookings) posted to generalLedgerEntries (bc-api.md §4.10-13)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture
def payout_batch(api: Any) -> str:
    """A general batch without balancing account."""
    return str(api.seed("journals", {"template": "GENERAL", "code": "PAYOUT"})["id"])


def _line(api: Any, batch: str, **body: Any) -> Any:
    return api.post(f"journals({batch})/journalLines", body)


class TestJournals:
    def test_general_journals_are_listed_and_template_filter_selects_cash_receipts(
        self, api: Any, kit: Any, payout_batch: str
    ) -> None:
        general = kit.loads(api.get("journals"))["value"]
        assert {j["code"] for j in general} == {"DEFAULT", "PAYOUT"}
        assert {j["templateDisplayName"] for j in general} == {"GENERAL"}
        cash = kit.loads(api.get("journals?$filter=templateDisplayName eq 'CASHRCPT'"))["value"]
        assert [j["id"] for j in cash] == [api.setup["journals"]["CASHRCPT/DEFAULT"]]
        by_id = api.get(f"journals({api.setup['journals']['CASHRCPT/DEFAULT']})")
        assert by_id.status_code == 200

    def test_create_journal_through_api(self, api: Any, kit: Any) -> None:
        response = api.post(
            "journals", {"code": "fees", "balancingAccountId": api.setup["accounts"]["10900"]}
        )
        assert response.status_code == 201
        body = kit.loads(response)
        assert body["code"] == "FEES"
        assert body["balancingAccountNumber"] == "10900"


class TestJournalLines:
    def test_payout_lines_post_to_gl_and_bank(self, api: Any, kit: Any, payout_batch: str) -> None:
        fee = _line(
            api,
            payout_batch,
            accountType="G_x002F_L_x0020_Account",
            accountNumber="60100",
            amount=Decimal("2.90"),
            documentNumber="PO-1",
            description="Stripe fees",
            balanceAccountType="G_x002F_L_x0020_Account",
            balancingAccountNumber="10900",
        )
        assert fee.status_code == 201, fee.text
        transfer = _line(
            api,
            payout_batch,
            accountType="Bank_x0020_Account",
            accountId=api.setup["bankAccounts"]["CHECKING"],
            amount=Decimal("97.10"),
            documentNumber="PO-1",
            balancingAccountNumber="10900",
        )
        assert transfer.status_code == 201, transfer.text
        assert kit.loads(transfer)["accountNumber"] == "CHECKING"
        assert api.post(f"journals({payout_batch})/Microsoft.NAV.post").status_code == 204
        entries = kit.loads(api.get("generalLedgerEntries?$filter=documentNumber eq 'PO-1'"))
        by_account: dict[str, Decimal] = {}
        for entry in entries["value"]:
            assert entry["documentType"] == "_x0020_"
            net = entry["debitAmount"] - entry["creditAmount"]
            by_account[entry["accountNumber"]] = by_account.get(entry["accountNumber"], 0) + net
        assert by_account == {
            "60100": Decimal("2.90"),
            "10100": Decimal("97.10"),
            "10900": Decimal("-100.00"),
        }
        bank = api.admin("GET", f"companies/{api.company_id}/bankLedgerEntries")["value"]
        assert [(b["bankAccountNumber"], b["amount"]) for b in bank] == [
            ("CHECKING", Decimal("97.10"))
        ]
        assert kit.loads(api.get(f"journals({payout_batch})/journalLines"))["value"] == []

    def test_lines_without_balancing_account_must_balance(
        self, api: Any, kit: Any, payout_batch: str
    ) -> None:
        _line(api, payout_batch, accountNumber="60100", amount=Decimal("5"), documentNumber="X1")
        response = api.post(f"journals({payout_batch})/Microsoft.NAV.post")
        assert response.status_code == 400
        assert "out of balance" in response.text
        _line(api, payout_batch, accountNumber="10900", amount=Decimal("-5"), documentNumber="X1")
        assert api.post(f"journals({payout_batch})/Microsoft.NAV.post").status_code == 204

    def test_customer_account_type_is_refused(self, api: Any, kit: Any, payout_batch: str) -> None:
        response = _line(
            api, payout_batch, accountType="Customer", accountNumber="C10000", amount=Decimal("1")
        )
        assert response.status_code == 400

    def test_unknown_account_is_refused(self, api: Any, kit: Any, payout_batch: str) -> None:
        response = _line(api, payout_batch, accountNumber="99999", amount=Decimal("1"))
        assert response.status_code == 400
        assert "G/L Account does not exist" in response.text

    def test_top_level_journal_lines_need_a_journal_filter(
        self, api: Any, kit: Any, payout_batch: str
    ) -> None:
        assert api.get("journalLines").status_code == 400
        _line(api, payout_batch, accountNumber="60100", amount=Decimal("1"), documentNumber="Q")
        rows = kit.loads(api.get(f"journalLines?$filter=journalId eq {payout_batch}"))["value"]
        assert len(rows) == 1
        created = api.post(
            "journalLines",
            {"journalId": payout_batch, "accountNumber": "60100", "amount": Decimal("-1")},
        )
        assert created.status_code == 201
        assert kit.loads(created)["documentNumber"] == "Q"  # from the previous line
        assert kit.loads(created)["lineNumber"] == 20000
