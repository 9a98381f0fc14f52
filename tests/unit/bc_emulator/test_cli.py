"""``python -m bc_emulator`` as a real subprocess: port 0, CA file, admin token, demo data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msal
import pytest
import requests

TENANT = "cli-tenant"


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The emulator started from the command line; yields (base URL, CA file)."""
    ca_file = tmp_path / "ca.pem"
    env = {**os.environ, "BC_EMULATOR_CLIENT_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bc_emulator",
            "--port",
            "0",
            "--ca-file",
            str(ca_file),
            "--test-mode",
            "--tenant",
            TENANT,
            "--client-id",
            "cli-app",
            "--admin-token",
            "admin-t0ken",
            "--seed-demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("bc_emulator listening on https://127.0.0.1:"), first
        yield first.rsplit(" ", 1)[-1], ca_file
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_cli_serves_https_with_ca_file_admin_token_and_demo_data(
    cli: tuple[str, Path],
) -> None:
    base, ca_file = cli
    assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    with requests.Session() as session:
        session.verify = str(ca_file)
        session.trust_env = False
        assert session.post(f"{base}/_emulator/reset").status_code == 401
        stats = session.get(
            f"{base}/_emulator/stats", headers={"X-Emulator-Admin-Token": "admin-t0ken"}
        )
        assert stats.status_code == 200
        app = msal.ConfidentialClientApplication(
            "cli-app",
            client_credential="cli-secret",
            authority=f"{base}/{TENANT}",
            instance_discovery=False,
            http_client=session,
        )
        token = app.acquire_token_for_client(
            scopes=["https://api.businesscentral.dynamics.com/.default"]
        )["access_token"]
        companies = session.get(
            f"{base}/v2.0/{TENANT}/production/api/v2.0/companies",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["value"]
        assert [c["name"] for c in companies] == ["CRONUS USA, Inc."]
        invoices = session.get(
            f"{base}/v2.0/{TENANT}/production/api/v2.0/companies({companies[0]['id']})"
            "/salesInvoices",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["value"]
        assert sorted(i["status"] for i in invoices) == ["Draft", "Open", "Open"]
