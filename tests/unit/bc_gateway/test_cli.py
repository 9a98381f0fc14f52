"""The ``bc-gateway`` console script: every command has a working --help; bad setup exits 2."""

from __future__ import annotations

import os
import subprocess

import pytest
from factories import bin_path

from bc_gateway.cli import main

COMMANDS = ["serve", "renew-subscriptions", "poll-invoices", "ping"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_path("bc-gateway"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_the_top_level_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"bc-gateway {command}" in capsys.readouterr().out


def test_poll_needs_a_window(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["poll-invoices"])
    assert info.value.code == 2
    assert "--since-minutes" in capsys.readouterr().err


def test_a_job_without_bc_configuration_exits_2_naming_the_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update({"MLC_SECRETS_BACKEND": "file", "MLC_MASTER_KEY": "unit-test-master-key"})
    result = run("ping", env=env)
    assert result.returncode == 2
    assert "MLC_BC_TENANT_ID" in result.stderr
