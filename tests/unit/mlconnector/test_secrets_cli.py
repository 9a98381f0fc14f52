"""``mlc-secrets`` in process (file backend), plus the settings and factory it relies on."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from mlconnector.config import ConfigError
from mlconnector.config import EnvReader
from mlconnector.secrets import SecretsBackend
from mlconnector.secrets import SecretsSettings
from mlconnector.secrets import VaultAuthMethod
from mlconnector.secrets import build_secret_store
from mlconnector.secrets_cli import main
from mlconnector.secrets_cli import redacted
from mlconnector.secrets_file import EncryptedFileSecrets
from mlconnector.secrets_vault import KubernetesAuth
from mlconnector.secrets_vault import VaultSecrets

MASTER_KEY = "operator passphrase 2024"
STRIPE_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"  # 32 characters
_ADDR_PROBLEM = "expected http(s)://host:port without credentials"


@pytest.fixture
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at a fresh encrypted file; no Vault variable leaks in from the host."""
    path = tmp_path / "secrets.enc"
    for name in ("MLC_VAULT_ADDR", "MLC_VAULT_TOKEN", "MLC_VAULT_AUTH", "MLC_VAULT_ROLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLC_SECRETS_BACKEND", "file")
    monkeypatch.setenv("MLC_SECRETS_FILE", str(path))
    monkeypatch.setenv("MLC_MASTER_KEY", MASTER_KEY)
    return path


def _stored(path: Path, secret_path: str) -> dict[str, str]:
    return EncryptedFileSecrets(path, MASTER_KEY).read(secret_path)


class TestRedactedPreview:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (STRIPE_KEY, "sk_t…(32 chars)"),
            ("twelve-chars", "twel…(12 chars)"),
            ("eleven-char", "…(11 chars)"),
            ("abc", "…(3 chars)"),
            ("", "…(0 chars)"),
        ],
    )
    def test_preview_reveals_at_most_four_characters(self, value: str, expected: str) -> None:
        assert redacted(value) == expected


class TestSetShowList:
    def test_set_then_show_prints_only_redacted_values(
        self, secrets_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["set", "ml-connector/stripe", f"api_key={STRIPE_KEY}", "account=acct_1"])
        assert code == 0
        set_out = capsys.readouterr()
        assert set_out.out == "ml-connector/stripe: set account, api_key\n"

        assert main(["show", "ml-connector/stripe"]) == 0
        shown = capsys.readouterr()

        assert shown.out.splitlines() == [
            "ml-connector/stripe",
            "  account  …(6 chars)",
            "  api_key  sk_t…(32 chars)",
        ]
        for output in (set_out.out, set_out.err, shown.out, shown.err):
            assert STRIPE_KEY not in output
            assert "acct_1" not in output
        assert _stored(secrets_file, "ml-connector/stripe") == {
            "api_key": STRIPE_KEY,
            "account": "acct_1",
        }

    def test_set_merges_by_default_and_replace_drops_other_keys(self, secrets_file: Path) -> None:
        assert main(["set", "ml-connector/bc", "client_id=abc", "client_secret=s3cr3t-1"]) == 0
        assert main(["set", "ml-connector/bc", "client_secret=s3cr3t-2"]) == 0
        assert _stored(secrets_file, "ml-connector/bc") == {
            "client_id": "abc",
            "client_secret": "s3cr3t-2",
        }

        assert main(["set", "--replace", "ml-connector/bc", "tenant_id=t-1"]) == 0
        assert _stored(secrets_file, "ml-connector/bc") == {"tenant_id": "t-1"}

    def test_bare_key_reads_one_line_from_stdin_when_not_a_terminal(
        self,
        secrets_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{STRIPE_KEY}\nwhsec_from_line_two\n"))

        code = main(["set", "ml-connector/stripe", "api_key", "webhook_secret"])

        assert code == 0
        assert _stored(secrets_file, "ml-connector/stripe") == {
            "api_key": STRIPE_KEY,
            "webhook_secret": "whsec_from_line_two",
        }
        assert STRIPE_KEY not in capsys.readouterr().out

    def test_bare_key_prompts_without_echo_on_a_terminal(
        self, secrets_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        prompts: list[str] = []

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        def fake_getpass(prompt: str) -> str:
            prompts.append(prompt)
            return "typed-in-secret-value"

        monkeypatch.setattr(sys, "stdin", Terminal())
        monkeypatch.setattr("getpass.getpass", fake_getpass)

        assert main(["set", "ml-connector/bc", "client_secret"]) == 0

        assert prompts == ["value for client_secret at ml-connector/bc: "]
        assert _stored(secrets_file, "ml-connector/bc") == {
            "client_secret": "typed-in-secret-value"
        }

    @pytest.mark.parametrize("stdin", ["", "\n"])
    def test_missing_or_empty_value_on_stdin_is_a_usage_error(
        self,
        secrets_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        stdin: str,
    ) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))

        assert main(["set", "ml-connector/stripe", "api_key"]) == 2
        assert "'api_key'" in capsys.readouterr().err
        assert not secrets_file.exists()

    def test_list_prints_every_path(
        self, secrets_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main(["set", "ml-connector/stripe", "api_key=sk_test_x"])
        main(["set", "ml-connector/bc", "client_secret=y"])
        capsys.readouterr()

        assert main(["list"]) == 0
        assert capsys.readouterr().out == "ml-connector/bc\nml-connector/stripe\n"

    def test_delete_removes_only_the_named_keys(
        self, secrets_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main(["set", "ml-connector/bc", "client_id=abc", "client_secret=def"])

        assert main(["delete", "ml-connector/bc", "client_secret"]) == 0
        assert _stored(secrets_file, "ml-connector/bc") == {"client_id": "abc"}
        assert main(["delete", "ml-connector/bc", "client_secret"]) == 1
        assert "client_secret" in capsys.readouterr().err

    def test_check_reports_a_ready_store(
        self, secrets_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check"]) == 0
        assert "ready" in capsys.readouterr().out


class TestExitCodes:
    def test_unknown_path_exits_1(
        self, secrets_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["show", "ml-connector/nothing"]) == 1
        assert "ml-connector/nothing" in capsys.readouterr().err

    def test_wrong_master_key_exits_3_without_showing_any_key(
        self,
        secrets_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        main(["set", "ml-connector/stripe", f"api_key={STRIPE_KEY}"])
        monkeypatch.setenv("MLC_MASTER_KEY", "a different passphrase")
        capsys.readouterr()

        assert main(["show", "ml-connector/stripe"]) == 3

        err = capsys.readouterr().err
        assert "wrong master key or the file was modified" in err
        for secret in (MASTER_KEY, "a different passphrase", STRIPE_KEY):
            assert secret not in err

    def test_missing_master_key_exits_2_with_the_configuration_problem(
        self,
        secrets_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.delenv("MLC_MASTER_KEY")

        assert main(["list"]) == 2
        assert "MLC_MASTER_KEY is required when MLC_SECRETS_BACKEND=file" in capsys.readouterr().err

    def test_vault_without_address_or_token_exits_2_naming_both(
        self,
        secrets_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("MLC_SECRETS_BACKEND", "vault")

        assert main(["list"]) == 2
        err = capsys.readouterr().err
        assert "MLC_VAULT_ADDR is required" in err
        assert "MLC_VAULT_TOKEN is required" in err

    @pytest.mark.parametrize(
        "argv",
        [[], ["frobnicate"], ["set", "ml-connector/bc"], ["show"]],
    )
    def test_usage_errors_exit_2(self, secrets_file: Path, argv: list[str]) -> None:
        assert main(argv) == 2

    @pytest.mark.parametrize(
        "argv",
        [["show", "../etc/passwd"], ["set", "ml-connector/bc", "bad key=v"]],
    )
    def test_invalid_path_or_key_exits_2(
        self, secrets_file: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(argv) == 2
        assert "invalid secret" in capsys.readouterr().err

    def test_help_exits_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--help"]) == 0
        assert "MLC_SECRETS_BACKEND" in capsys.readouterr().out


class TestConsoleScript:
    def test_installed_command_reads_the_value_from_a_pipe(self, secrets_file: Path) -> None:
        command = Path(sys.executable).parent / "mlc-secrets"

        result = subprocess.run(
            [str(command), "set", "ml-connector/stripe", "api_key"],
            input=f"{STRIPE_KEY}\n",
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

        assert result.returncode == 0, result.stderr
        assert _stored(secrets_file, "ml-connector/stripe") == {"api_key": STRIPE_KEY}


class TestSettings:
    def test_defaults_to_the_file_backend(self) -> None:
        settings = SecretsSettings.from_env({"MLC_MASTER_KEY": MASTER_KEY})

        assert settings.backend is SecretsBackend.FILE
        assert settings.file_path == Path("var/secrets.enc")
        assert isinstance(build_secret_store(settings), EncryptedFileSecrets)

    def test_secrets_never_appear_in_repr(self) -> None:
        settings = SecretsSettings.from_env(
            {"MLC_MASTER_KEY": MASTER_KEY, "MLC_VAULT_TOKEN": "hvs.do-not-print-me"}
        )

        assert MASTER_KEY not in repr(settings)
        assert "hvs.do-not-print-me" not in repr(settings)

    def test_short_master_key_is_a_problem_that_hides_the_value(self) -> None:
        with pytest.raises(ConfigError) as caught:
            SecretsSettings.from_env({"MLC_MASTER_KEY": "short"})

        assert "MLC_MASTER_KEY=(value hidden) is invalid" in str(caught.value)
        assert "short" not in str(caught.value).replace("MLC_MASTER_KEY", "")

    def test_kubernetes_auth_needs_a_role(self) -> None:
        env = {
            "MLC_SECRETS_BACKEND": "vault",
            "MLC_VAULT_ADDR": "https://vault.example:8200",
            "MLC_VAULT_AUTH": "kubernetes",
        }
        with pytest.raises(ConfigError, match="MLC_VAULT_ROLE is required"):
            SecretsSettings.from_env(env)

    def test_vault_kubernetes_settings_build_a_store_without_network(self, tmp_path: Path) -> None:
        settings = SecretsSettings.from_env(
            {
                "MLC_SECRETS_BACKEND": "Vault",
                "MLC_VAULT_ADDR": "http://127.0.0.1:1/",
                "MLC_VAULT_AUTH": "kubernetes",
                "MLC_VAULT_ROLE": "stripe-gateway",
                "MLC_VAULT_K8S_JWT_PATH": str(tmp_path / "token"),
                "MLC_VAULT_MOUNT": "kv",
            }
        )

        store = build_secret_store(settings)

        assert settings.vault_auth is VaultAuthMethod.KUBERNETES
        assert settings.vault_addr == "http://127.0.0.1:1"
        assert isinstance(store, VaultSecrets)
        assert "role='stripe-gateway'" in repr(store)
        assert repr(KubernetesAuth("r")).startswith("KubernetesAuth(role='r'")

    @pytest.mark.parametrize(
        ("name", "value", "problem"),
        [
            ("MLC_SECRETS_BACKEND", "s3", "expected one of: file, vault"),
            ("MLC_VAULT_AUTH", "ldap", "expected one of: token, kubernetes"),
            ("MLC_VAULT_ADDR", "vault:8200", _ADDR_PROBLEM),
            ("MLC_VAULT_ADDR", "https://vault:8200@evil", _ADDR_PROBLEM),
            ("MLC_VAULT_TIMEOUT", "0", "expected a positive number of seconds"),
        ],
    )
    def test_invalid_values_are_reported(self, name: str, value: str, problem: str) -> None:
        env = {
            "MLC_SECRETS_BACKEND": "vault",
            "MLC_VAULT_ADDR": "http://127.0.0.1:8200",
            "MLC_VAULT_TOKEN": "hvs.token-value",
            name: value,
        }
        with pytest.raises(ConfigError) as caught:
            SecretsSettings.from_env(env)

        [reported] = caught.value.problems  # exactly one problem: no knock-on "required"
        assert reported.startswith(f"{name}=")
        assert reported.endswith(f"is invalid: {problem}")

    def test_from_reader_adds_problems_to_a_services_own_reader(self) -> None:
        env = EnvReader({"MLC_SECRETS_BACKEND": "vault"})
        env("BC_TENANT_ID")

        SecretsSettings.from_reader(env)

        assert env.problems == [
            "MLC_BC_TENANT_ID is required but not set",
            "MLC_VAULT_ADDR is required when MLC_SECRETS_BACKEND=vault",
            "MLC_VAULT_TOKEN is required when MLC_VAULT_AUTH=token",
        ]
