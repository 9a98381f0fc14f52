"""Payment lines written at the same moment share one ``$batch`` request (issue 15).

Against the BC emulator over HTTPS: many first writes at once (the reconciler vouching for
each) become far fewer BC requests than lines, each line exactly once, each caller with its own
line; a line BC refuses fails alone; and a line alone goes as a plain POST.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.postings import PAYMENT
from bc_gateway.postings import CustomerLine
from bc_gateway.postings import KnownInvoice
from bc_gateway.postings import record_customer_line

pytestmark = pytest.mark.rabbitmq


def seeded_invoice(admin: Any, company: Any) -> Any:
    line = {"lineType": "Account", "lineObjectNumber": "40100", "quantity": 1}
    return company.seed(
        admin,
        "invoices",
        {
            "customerId": company.customer_id,
            "lines": [{**line, "unitPrice": Decimal("10.00")}],
            "post": True,
        },
    )


def first_write(invoice: Any, customer_id: str, key: str) -> CustomerLine:
    return CustomerLine(
        kind=PAYMENT,
        bc_invoice_id=str(invoice["id"]),
        amount=Decimal("-10.00"),
        currency="USD",
        external_document_number=key,
        posting_date=dt.date.today(),
        known=KnownInvoice(
            customer_id=customer_id,
            invoice_number=str(invoice["number"]),
            invoice_currency="USD",
        ),
    )


def write_all(deps: Any, lines: list[CustomerLine]) -> list[Any]:
    def one(line: CustomerLine) -> Any:
        try:
            return record_customer_line(
                line, bc=deps.bc, books=deps.books, lcy=deps.lcy, batches=deps.batches
            )
        except BCError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, lines))


def test_lines_written_together_share_requests_and_each_is_written_once(
    deps: Any, admin: Any, company: Any
) -> None:
    invoices = [seeded_invoice(admin, company) for _ in range(40)]
    # The batch exists and is remembered, so only the lines' writes are counted below.
    write_all(deps, [first_write(seeded_invoice(admin, company), company.customer_id, "pi_warm")])
    lines = [
        first_write(invoice, company.customer_id, f"pi_together_{i}")
        for i, invoice in enumerate(invoices)
    ]
    before = admin.call("GET", "stats")

    results = write_all(deps, lines)

    after = admin.call("GET", "stats")
    requests = after["apiRequests"] - before["apiRequests"]
    assert all(isinstance(r, dict) and r["created"] for r in results), results
    assert requests < len(lines)  # some of them shared a $batch
    assert after["batchOperations"] > before["batchOperations"]
    written = admin.call("GET", f"companies/{company.id}/journalLines")["value"]
    mine = {
        w["externalDocumentNumber"]: w for w in written if "TOGETHER" in w["externalDocumentNumber"]
    }
    assert len(mine) == len(lines)  # each exactly once
    for line, result in zip(lines, results, strict=True):
        assert mine[line.external_document_number.upper()]["id"] == result["line_id"]


def test_in_one_batch_a_line_bc_refuses_fails_alone(deps: Any, admin: Any, company: Any) -> None:
    invoices = [seeded_invoice(admin, company) for _ in range(3)]
    write_all(deps, [first_write(invoices[0], company.customer_id, "pi_w3")])
    batch_id = deps.batches.ensure(deps.bc, "customerPaymentJournals", "STRIPE", None)["id"]
    path = deps.bc.company_path(f"customerPaymentJournals({batch_id})/customerPayments")
    bodies = [
        {
            "customerId": company.customer_id,
            "postingDate": dt.date.today(),
            "documentNumber": f"SPMIXED{i}",
            "externalDocumentNumber": f"PI_MIXED_{i}",
            "amount": Decimal("-10.00"),
            "appliesToInvoiceId": invoices[i]["id"],
        }
        for i in range(3)
    ]
    # A customer BC does not have: BC refuses that line, and only that one.
    bodies[1]["customerId"] = "00000000-0000-0000-0000-00000000beef"
    before = admin.call("GET", "stats")

    results = deps.bc.create_many(path, bodies)

    after = admin.call("GET", "stats")
    assert after["apiRequests"] - before["apiRequests"] == 1
    assert after["batchOperations"] - before["batchOperations"] == 3
    assert isinstance(results[1], BCError)
    assert results[1].status is not None
    assert 400 <= results[1].status < 500
    assert [r["externalDocumentNumber"] for r in (results[0], results[2])] == [
        "PI_MIXED_0",
        "PI_MIXED_2",
    ]


def test_a_line_alone_is_a_plain_post(deps: Any, admin: Any, company: Any) -> None:
    invoice = seeded_invoice(admin, company)
    write_all(deps, [first_write(seeded_invoice(admin, company), company.customer_id, "pi_w2")])
    before = admin.call("GET", "stats")
    [result] = write_all(deps, [first_write(invoice, company.customer_id, "pi_alone")])
    after = admin.call("GET", "stats")
    assert result["created"] is True
    assert after["apiRequests"] - before["apiRequests"] == 1
    assert after["batchOperations"] == before["batchOperations"]
