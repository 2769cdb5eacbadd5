"""``inlet start`` keys: misconfiguration fails at start-up, naming the flag, its env twin and
the expected format, and never the key itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inlet.api.events import _known_key
from inlet.cli.main import cli
from inlet.config import Settings, fingerprint, read_key_file
from inlet.errors import ConfigError

HEX = "7c" * 32
KEY = f"signkey-prod-{HEX}"
OLD = "signkey-prod-" + "a0" * 32


def start(**values: object) -> Settings:
    base: dict[str, object] = {
        "profile": "start",
        "database_url": "memory://",
        "signing_key": KEY,
        "event_keys": ("ek",),
    }
    return Settings(**{**base, **values})  # type: ignore[arg-type]


def test_a_prefixed_or_bare_hex_key_with_a_fallback_is_accepted() -> None:
    settings = start(signing_key=HEX, signing_key_fallback=OLD).validate()

    assert settings.signing_keys == (HEX, OLD)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("hunter2-not-hex", "is not hexadecimal"),
        ("signkey-prod-abc", "has 3 hex digits"),
        ("signkey-prod-" + "ab" * 4, "has 8 hex digits"),
        (" " + KEY, "whitespace"),
    ],
)
def test_a_malformed_signing_key_names_the_flag_the_env_var_and_the_format(
    key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        start(signing_key=key).validate()

    message = caught.value.message
    assert "--signing-key (INLET_SIGNING_KEY" in message
    assert problem in message
    assert "signkey-<env>-<hex>" in message
    assert key.strip() not in message
    assert fingerprint(key) in message


def test_a_malformed_fallback_key_is_named_as_the_fallback() -> None:
    with pytest.raises(ConfigError, match=r"--signing-key-fallback \(INLET_SIGNING_KEY_FALLBACK"):
        start(signing_key_fallback="nope").validate()


def test_start_without_a_signing_key_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match="INLET_SIGNING_KEY_FILE"):
        start(signing_key=None).validate()


def test_start_without_an_event_key_fails_instead_of_refusing_every_event() -> None:
    with pytest.raises(ConfigError) as caught:
        start(event_keys=()).validate()

    assert "--event-key-file (INLET_EVENT_KEY_FILE)" in caught.value.message
    assert "INLET_EVENT_KEY" in caught.value.message


def test_dev_needs_no_keys() -> None:
    Settings(database_url="memory://").validate()


def test_a_key_file_is_read_once_with_whitespace_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"\n  {KEY}  \n")

    assert read_key_file("--signing-key-file", str(path)) == KEY


def test_a_missing_key_file_names_the_flag_and_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent"

    with pytest.raises(ConfigError, match=r"--signing-key-file '.*absent' cannot be read"):
        read_key_file("--signing-key-file", str(path))


def test_an_empty_key_file_names_the_flag_and_the_path(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_text(" \n")

    with pytest.raises(ConfigError, match=r"--event-key-file '.*empty' is empty"):
        read_key_file("--event-key-file", str(path))


def test_the_cli_refuses_a_key_given_both_on_the_command_line_and_in_a_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "key"
    path.write_text(KEY)

    result = CliRunner().invoke(
        cli, ["start", "--signing-key", KEY, "--signing-key-file", str(path)], env={}
    )

    assert result.exit_code != 0
    assert "expected one of them" in result.output
    assert HEX not in result.output


def test_the_cli_reports_an_unreadable_event_key_file_before_starting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["start", "--signing-key", KEY, "--event-key-file", str(tmp_path / "nope")],
        env={},
    )

    assert result.exit_code != 0
    assert "--event-key-file" in result.output and "cannot be read" in result.output


def test_a_fingerprint_tells_keys_apart_without_showing_them() -> None:
    assert fingerprint(KEY) != fingerprint(OLD)
    assert HEX not in fingerprint(KEY) and fingerprint(KEY).startswith("sha256:")


def test_event_keys_match_only_exactly() -> None:
    keys = ("first-key", "second-key")

    assert _known_key("second-key", keys)
    assert not _known_key("second-ke", keys)
    assert not _known_key("", keys)
    assert not _known_key("first-key ", keys)


def test_settings_repr_shows_no_key() -> None:
    text = repr(start(signing_key_fallback=OLD, event_keys=("secret-event-key",)))

    assert HEX not in text and OLD not in text and "secret-event-key" not in text
