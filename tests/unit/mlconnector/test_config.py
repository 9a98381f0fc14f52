"""Tests for mlconnector.config: typed ``MLC_*`` settings and the single start-up error."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from mlconnector.config import PREFIX
from mlconnector.config import ConfigError
from mlconnector.config import Environment
from mlconnector.config import EnvReader
from mlconnector.config import parse_bool
from mlconnector.config import parse_list


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    """Shaped like a service's Settings: built by one EnvReader, checked once by finish()."""

    environment: Environment
    amqp_url: str
    prefetch: int
    debug: bool
    allowed_hosts: list[str]
    master_key: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SampleSettings:
        env = EnvReader(environ)
        settings = cls(
            environment=env("ENVIRONMENT", Environment, Environment.PRODUCTION),
            amqp_url=env("AMQP_URL"),
            prefetch=env("PREFETCH", int, 10),
            debug=env("DEBUG", parse_bool, False),
            allowed_hosts=env("ALLOWED_HOSTS", parse_list, []),
            master_key=env("MASTER_KEY"),
        )
        env.finish()
        return settings


class TestEnvReader:
    def test_reads_the_prefixed_variable_as_a_string(self) -> None:
        env = EnvReader({"MLC_BC_TENANT_ID": "tenant-1", "BC_TENANT_ID": "unprefixed"})
        assert env("BC_TENANT_ID") == "tenant-1"
        env.finish()

    def test_prefix_is_mlc(self) -> None:
        assert PREFIX == "MLC_"

    def test_coerces_with_the_given_function(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "25", "MLC_DEBUG": "yes"})
        assert env("PREFETCH", int) == 25
        assert env("DEBUG", parse_bool) is True
        assert env.problems == []

    def test_returns_the_default_when_unset(self) -> None:
        env = EnvReader({})
        assert env("PREFETCH", int, 10) == 10
        assert env("REGION", default="eu") == "eu"
        env.finish()

    def test_an_empty_value_counts_as_unset(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "", "MLC_AMQP_URL": ""})
        assert env("PREFETCH", int, 10) == 10
        assert env("AMQP_URL") is None
        assert env.problems == ["MLC_AMQP_URL is required but not set"]

    def test_the_default_is_not_coerced(self) -> None:
        env = EnvReader({})
        assert env("TIMEOUT", float, 2) == 2
        assert type(env("TIMEOUT", float, 2)) is int

    def test_a_missing_required_variable_is_recorded_not_raised(self) -> None:
        env = EnvReader({})
        assert env("AMQP_URL") is None
        assert env.problems == ["MLC_AMQP_URL is required but not set"]

    def test_an_invalid_value_is_recorded_and_the_default_returned(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "ten"})
        assert env("PREFETCH", int, 10) == 10
        assert len(env.problems) == 1
        assert env.problems[0].startswith("MLC_PREFETCH='ten' is invalid: ")

    def test_an_invalid_required_value_returns_none(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "ten"})
        assert env("PREFETCH", int) is None
        assert len(env.problems) == 1

    def test_a_type_error_from_the_coercer_is_recorded_too(self) -> None:
        def needs_digits(raw: str) -> int:
            if not raw.isdigit():
                raise TypeError("digits only")
            return int(raw)

        env = EnvReader({"MLC_PORT": "80a"})
        assert env("PORT", needs_digits, 80) == 80
        assert env.problems == ["MLC_PORT='80a' is invalid: digits only"]

    def test_finish_raises_one_error_listing_every_problem(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "many", "MLC_DEBUG": "perhaps"})
        env("AMQP_URL")
        env("PREFETCH", int, 10)
        env("DEBUG", parse_bool, False)
        env("DATABASE_URL")
        with pytest.raises(ConfigError) as caught:
            env.finish()
        error = caught.value
        assert len(error.problems) == 4
        text = str(error)
        assert text.startswith("invalid configuration (4 problem(s)):\n")
        for name in ("MLC_AMQP_URL", "MLC_PREFETCH", "MLC_DEBUG", "MLC_DATABASE_URL"):
            assert name in text
        assert "'many'" in text
        assert "'perhaps'" in text
        assert text.count("\n  - ") == 4

    def test_finish_is_silent_when_everything_is_valid(self) -> None:
        env = EnvReader({"MLC_AMQP_URL": "amqp://127.0.0.1"})
        env("AMQP_URL")
        env.finish()
        assert env.problems == []

    def test_the_error_keeps_its_own_copy_of_the_problems(self) -> None:
        env = EnvReader({})
        env("AMQP_URL")
        with pytest.raises(ConfigError) as caught:
            env.finish()
        env("DATABASE_URL")
        assert caught.value.problems == ["MLC_AMQP_URL is required but not set"]

    def test_a_custom_prefix_is_honoured(self) -> None:
        env = EnvReader({"EMU_PORT": "8080", "MLC_PORT": "1"}, prefix="EMU_")
        assert env("PORT", int) == 8080
        env("HOST")
        assert env.problems == ["EMU_HOST is required but not set"]

    def test_reads_the_process_environment_by_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MLC_UNIT_TEST_SETTING", "from-os-environ")
        assert EnvReader()("UNIT_TEST_SETTING") == "from-os-environ"


class TestOptional:
    def test_returns_none_when_unset(self) -> None:
        env = EnvReader({})
        assert env.optional("STRIPE_API_BASE", str) is None
        env.finish()

    def test_returns_the_coerced_value_when_set(self) -> None:
        env = EnvReader({"MLC_RETRY_LIMIT": "7"})
        assert env.optional("RETRY_LIMIT", int) == 7

    def test_an_invalid_value_is_still_a_problem(self) -> None:
        env = EnvReader({"MLC_RETRY_LIMIT": "seven"})
        assert env.optional("RETRY_LIMIT", int) is None
        with pytest.raises(ConfigError, match="MLC_RETRY_LIMIT='seven' is invalid"):
            env.finish()


class TestSecretValuesInErrors:
    @pytest.mark.parametrize(
        "name",
        ["MASTER_KEY", "DB_PASSWORD", "BC_CLIENT_SECRET", "VAULT_TOKEN", "stripe_api_key"],
    )
    def test_the_value_of_a_secret_named_variable_is_hidden(self, name: str) -> None:
        value = "Zq8-very-secret-value"
        env = EnvReader({PREFIX + name: value})
        env(name, int)
        with pytest.raises(ConfigError) as caught:
            env.finish()
        text = str(caught.value)
        assert value not in text
        assert f"{PREFIX}{name}=(value hidden) is invalid" in text

    def test_the_coercers_own_message_does_not_leak_the_secret(self) -> None:
        # int() and parse_bool() both quote the raw value in their messages.
        env = EnvReader({"MLC_MASTER_KEY": "hunter2-master", "MLC_DB_PASSWORD": " on-and-off "})
        env("MASTER_KEY", int)
        env("DB_PASSWORD", parse_bool)
        with pytest.raises(ConfigError) as caught:
            env.finish()
        text = str(caught.value)
        assert "hunter2-master" not in text
        assert "on-and-off" not in text
        assert "expected a boolean" in text  # the reason survives, only the value is hidden

    def test_a_secret_with_quotes_is_hidden_in_its_repr_form(self) -> None:
        env = EnvReader({"MLC_API_TOKEN": "it's-a-token"})
        env("API_TOKEN", int)
        assert "it's-a-token" not in env.problems[0]
        assert "-a-token" not in env.problems[0]

    def test_a_non_secret_value_is_shown_for_diagnosis(self) -> None:
        env = EnvReader({"MLC_PREFETCH": "12x"})
        env("PREFETCH", int)
        assert "MLC_PREFETCH='12x'" in env.problems[0]

    def test_a_secret_looking_value_in_an_ordinary_variable_is_redacted(self) -> None:
        env = EnvReader({"MLC_AMQP_PORT": "amqp://mlc:s3cr3t-pw@rabbit/%2F"})
        env("AMQP_PORT", int)
        with pytest.raises(ConfigError) as caught:
            env.finish()
        text = str(caught.value)
        assert "s3cr3t-pw" not in text
        assert "amqp://mlc:[REDACTED]@rabbit" in text


class TestSettingsFromEnv:
    def test_builds_typed_settings_with_defaults(self) -> None:
        settings = SampleSettings.from_env(
            {"MLC_AMQP_URL": "amqp://127.0.0.1:5672/%2F", "MLC_MASTER_KEY": "k" * 32}
        )
        assert settings == SampleSettings(
            environment=Environment.PRODUCTION,
            amqp_url="amqp://127.0.0.1:5672/%2F",
            prefetch=10,
            debug=False,
            allowed_hosts=[],
            master_key="k" * 32,
        )

    def test_builds_typed_settings_from_every_variable(self) -> None:
        settings = SampleSettings.from_env(
            {
                "MLC_ENVIRONMENT": "test",
                "MLC_AMQP_URL": "amqp://127.0.0.1",
                "MLC_PREFETCH": "3",
                "MLC_DEBUG": "on",
                "MLC_ALLOWED_HOSTS": "a.example, b.example",
                "MLC_MASTER_KEY": "k" * 32,
            }
        )
        assert settings.environment is Environment.TEST
        assert settings.prefetch == 3
        assert settings.debug is True
        assert settings.allowed_hosts == ["a.example", "b.example"]

    def test_reports_every_bad_setting_at_once(self) -> None:
        with pytest.raises(ConfigError) as caught:
            SampleSettings.from_env(
                {"MLC_ENVIRONMENT": "staging", "MLC_PREFETCH": "-", "MLC_DEBUG": "2"}
            )
        problems = caught.value.problems
        assert [p.split("=")[0].split(" ")[0] for p in problems] == [
            "MLC_ENVIRONMENT",
            "MLC_AMQP_URL",
            "MLC_PREFETCH",
            "MLC_DEBUG",
            "MLC_MASTER_KEY",
        ]


class TestParseBool:
    @pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " true "])
    def test_accepts_true_spellings(self, raw: str) -> None:
        assert parse_bool(raw) is True

    @pytest.mark.parametrize("raw", ["0", "false", "False", "NO", "off", " off\n"])
    def test_accepts_false_spellings(self, raw: str) -> None:
        assert parse_bool(raw) is False

    @pytest.mark.parametrize("raw", ["", "2", "enabled", "t", "nope"])
    def test_rejects_anything_else_instead_of_guessing(self, raw: str) -> None:
        with pytest.raises(ValueError, match="expected a boolean"):
            parse_bool(raw)


class TestParseList:
    def test_splits_on_commas_and_strips_blanks(self) -> None:
        assert parse_list("a, b ,c") == ["a", "b", "c"]

    def test_drops_empty_items(self) -> None:
        assert parse_list("a,,b, ,") == ["a", "b"]

    @pytest.mark.parametrize("raw", ["", " ", " , ,"])
    def test_an_empty_list_is_empty(self, raw: str) -> None:
        assert parse_list(raw) == []

    def test_keeps_the_order(self) -> None:
        assert parse_list("z,y,x") == ["z", "y", "x"]


class TestEnvironment:
    def test_has_the_three_deployment_kinds(self) -> None:
        assert {e.value for e in Environment} == {"development", "test", "production"}

    def test_parses_from_its_value_and_compares_as_a_string(self) -> None:
        assert Environment("production") is Environment.PRODUCTION
        assert Environment.TEST == "test"
        assert f"{Environment.DEVELOPMENT}" == "development"

    def test_an_unknown_environment_is_a_config_problem(self) -> None:
        env = EnvReader({"MLC_ENVIRONMENT": "staging"})
        assert env("ENVIRONMENT", Environment, Environment.DEVELOPMENT) is Environment.DEVELOPMENT
        with pytest.raises(ConfigError, match="MLC_ENVIRONMENT='staging' is invalid"):
            env.finish()
