"""One redactor for every URL and message Inlet shows."""

from __future__ import annotations

import pytest

from inlet.redact import redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://inlet:s3cr3t@db:5432/inlet", "postgresql://inlet:***@db:5432/inlet"),
        ("postgresql://db/inlet?password=s3cr3t&sslmode=require",
         "postgresql://db/inlet?password=***&sslmode=require"),
        ("host=db user=inlet password=s3cr3t dbname=inlet",
         "host=db user=inlet password=*** dbname=inlet"),
        ("host=db password='s p'", "host=db password='***'"),
        ("cannot migrate 'postgres://u:pw@h/d': timeout",
         "cannot migrate 'postgres://u:***@h/d': timeout"),
        ("https://app.example/api/inngest?token=abc", "https://app.example/api/inngest?token=***"),
        ("postgresql://inlet@db/inlet", "postgresql://inlet@db/inlet"),
        ("sqlite:///.inlet/inlet.db", "sqlite:///.inlet/inlet.db"),
        ("no secrets: monkey=1 password", "no secrets: monkey=1 password"),
    ],
)  # fmt: skip
def test_passwords_and_secret_parameters_are_masked_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert "s3cr3t" not in redact(text)


def test_a_database_url_is_shown_and_refused_without_its_password() -> None:
    from inlet.config import DatabaseURL
    from inlet.errors import ConfigError

    shown = DatabaseURL.parse("postgresql://inlet:s3cr3t@db/inlet?password=s3cr3t").safe
    assert shown == "postgresql://inlet:***@db/inlet?password=***"
    with pytest.raises(ConfigError) as refused:
        DatabaseURL.parse("mysql://inlet:s3cr3t@db/inlet")
    assert "s3cr3t" not in refused.value.message and "mysql://inlet:***@db" in refused.value.message
