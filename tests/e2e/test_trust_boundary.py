"""Forged and unauthenticated commands against the running stack change nothing in BC or Stripe.

Issue 10's finding 1, replayed over real sockets against the gateways under gunicorn: with no
credential, a wrong one, or a published caller without a grant, the calls that once wrote a
payment line to an open BC invoice, posted the batch, posted a 12,345.67 G/L line, created a
made-up batch, and voided or marked paid a real Stripe invoice. The test reads both systems'
own state before and after (not only the status codes), and ends with the same payment command
as the reconciler, which is accepted: the refused bodies were valid commands, refused for who
sent them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests
from authorization_matrix import wrong_credentials
from e2e_helpers import bc_invoice
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import stripe_object
from factories import wait_until

from mlc_local.processes import run_cli
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.identity import SigningKey
from mlconnector.secrets_file import EncryptedFileSecrets

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _secrets(stack: LocalStack) -> EncryptedFileSecrets:
    return EncryptedFileSecrets(Path(stack.env["MLC_SECRETS_FILE"]), stack.env["MLC_MASTER_KEY"])


def _token(key: SigningKey, audience: str) -> str:
    import time
    import uuid

    import jwt

    now = int(time.time())
    claims = {"iss": key.subject, "sub": key.subject, "aud": audience, "iat": now}
    claims.update({"nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex})
    return "Bearer " + jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid}
    )


def _bc_state(stack: LocalStack, invoice_id: str) -> dict[str, Any]:
    company = f"/companies/{stack.company_id}"
    invoice = bc_invoice(stack, invoice_id)
    return {
        "journals": sorted(j["code"] for j in stack.bc_api_get("journals")),
        "payment_journals": sorted(j["code"] for j in stack.bc_api_get("customerPaymentJournals")),
        "journal_lines": stack.bc_admin("GET", company + "/journalLines")["value"],
        "posted_lines": stack.bc_admin("GET", company + "/postedJournalLines")["value"],
        "gl_entries": len(stack.bc_api_get("generalLedgerEntries")),
        "invoice": (invoice["status"], invoice["remainingAmount"]),
    }


def _stripe_state(stack: LocalStack, invoice_id: str) -> tuple[Any, ...]:
    invoice = stripe_object(stack, "invoice", invoice_id)
    return invoice["status"], invoice["amount_remaining"], invoice["amount_paid"]


class TestForgedCommandsChangeNothing:
    def test_no_credential_wrong_credential_or_wrong_caller_moves_no_money(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "500.00"})
        stripe_invoice = pushed(connector, invoice)["stripe_ref"]
        today = dt.date.today().isoformat()
        bc, stripe = stack.url("bc-gateway"), stack.url("stripe-gateway")
        payment = {
            "kind": "payment",
            "bc_invoice_id": invoice["id"],
            "amount": "-100.00",
            "currency": "USD",
            "external_document_number": "PI_FORGED0000000000000001",
            "posting_date": today,
        }
        gl_line = {
            "account_type": "G/L Account",
            "account_number": "60100",
            "amount": "12345.67",
            "posting_date": today,
            "document_number": "FORGED1",
            "external_document_number": "FORGED1",
            "balancing_account_type": "G/L Account",
            "balancing_account_number": "10900",
        }
        attacks: list[tuple[str, str, dict[str, Any] | None]] = [
            ("bc-gateway", f"{bc}/commands/payments", payment),
            ("bc-gateway", f"{bc}/commands/payment-journals/STRIPE/post", None),
            ("bc-gateway", f"{bc}/commands/payment-journals/MADEUP/post", None),
            (
                "bc-gateway",
                f"{bc}/commands/general-journal-lines",
                {"journal": "PAYOUT", "post": True, "lines": [gl_line]},
            ),
            ("stripe-gateway", f"{stripe}/commands/invoices/{stripe_invoice}/void", {}),
            (
                "stripe-gateway",
                f"{stripe}/commands/invoices/{stripe_invoice}/mark-paid-out-of-band",
                {},
            ),
        ]
        # A second caller the stack's policy (reconciler=*) grants nothing.
        run_cli(
            [
                "mlc-secrets",
                "identity",
                "rotate",
                "--caller",
                "auditor",
                "--path",
                "ml-connector/auditor",
            ],
            stack.env,
        )
        auditor = SigningKey.from_json(_secrets(stack).read("ml-connector/auditor")["identity_key"])
        bc_before = _bc_state(stack, invoice["id"])
        stripe_before = _stripe_state(stack, stripe_invoice)

        refused = 0
        for audience, url, body in attacks:
            other = "stripe-gateway" if audience == "bc-gateway" else "bc-gateway"
            headers: list[dict[str, str]] = [{}]
            headers += [{"Authorization": v} for v in wrong_credentials(audience, other).values()]
            for header in headers:
                response = requests.post(url, json=body, headers=header, timeout=30)
                assert response.status_code == 401, (url, header, response.text)
                assert response.json()["error"]["code"] == "unauthorized"
                refused += 1

            def forbidden(url: str = url, body: Any = body, audience: str = audience) -> bool:
                # The gateway learns of the new key on its first use (a re-read of the key set,
                # at most every few seconds): until then the key is unknown (401).
                answer = requests.post(
                    url, json=body, headers={"Authorization": _token(auditor, audience)}, timeout=30
                )
                assert answer.status_code in (401, 403), answer.text
                return answer.status_code == 403

            assert wait_until(forbidden, timeout_s=20), url
            refused += 1

        assert refused == len(attacks) * (len(wrong_credentials("a", "b")) + 2)
        assert _bc_state(stack, invoice["id"]) == bc_before
        assert _stripe_state(stack, stripe_invoice) == stripe_before
        assert "MADEUP" not in bc_before["journals"] + bc_before["payment_journals"]

        # The same payment command, as the reconciler: accepted, so the refusals were about the
        # caller and not about the body.
        reconciler = SigningKey.from_json(
            _secrets(stack).read("ml-connector/reconciler")["identity_key"]
        )
        accepted = requests.post(
            attacks[0][1],
            json=payment,
            headers={"Authorization": _token(reconciler, "bc-gateway")},
            timeout=30,
        )
        assert accepted.status_code == 201, accepted.text
        lines = _bc_state(stack, invoice["id"])["journal_lines"]
        assert [
            line for line in lines if line["externalDocumentNumber"] == "PI_FORGED0000000000000001"
        ]
