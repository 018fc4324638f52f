"""Settings: defaults, environment overlay, validation that names the bad key."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings, settings_table_markdown


def test_defaults_are_the_embedded_setup():
    settings = Settings.from_env(environ={})
    assert settings.DATABASE_URL.startswith("sqlite:///") and settings.DATABASE_URL.endswith("var/permitflow.db")
    assert settings.job_mode == "thread" and settings.HRSS_URL == "http://127.0.0.1:5100/hrss"
    assert settings.SMS_URL == "http://127.0.0.1:5100/sms" and len(settings.SECRET_KEY) == 64


def test_environment_overrides_and_types():
    settings = Settings.from_env(
        environ={"REDIS_URL": "redis://x:6379/1", "WEB_PORT": "8080", "LOG_JSON": "no", "HTTP_READ_TIMEOUT": "2.5"}
    )
    assert settings.job_mode == "rq" and settings.WEB_PORT == 8080
    assert settings.LOG_JSON is False and settings.HTTP_READ_TIMEOUT == 2.5


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"LOG_JSON": "maybe"}, "LOG_JSON"),
        ({"JOB_MODE": "rq"}, "REDIS_URL"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"PERMITFLOW_ENV": "production"}, "SECRET_KEY"),
        ({"PERMITFLOW_ENV": "production", "SECRET_KEY": "x" * 40}, "postgresql"),
        ({"SERVICE_TASK_RETRY_OVERRIDES": "hrss.check_insurance=three"}, "SERVICE_TASK_RETRY_OVERRIDES"),
        ({"WEB_THREADS": "0"}, "WEB_THREADS"),
    ],
)
def test_invalid_settings_are_refused_with_the_key_named(environ, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ=environ)
    assert fragment in str(info.value)


def test_retry_overrides_parse():
    settings = Settings.from_env(environ={"SERVICE_TASK_RETRY_OVERRIDES": "a.b=4/1.5, c.d=1/0"})
    assert settings.retry_overrides == {"a.b": (4, 1.5), "c.d": (1, 0.0)}


def test_secrets_are_masked_and_every_key_is_documented():
    items = Settings.from_env(environ={"SECRET_KEY": "s" * 40}).public_items()
    assert dict((k, v) for k, v, _ in items)["SECRET_KEY"] == "********"
    assert all(doc for _, _, doc in items)
    assert settings_table_markdown().count("\n") == len(items) + 1
