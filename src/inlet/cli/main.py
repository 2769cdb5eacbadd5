"""``inlet dev``, ``inlet start``, ``inlet migrate``; the client commands live in their own
modules. Every flag has an ``INLET_*`` twin (see --help)."""

from __future__ import annotations

from typing import Any, Literal

import click

from inlet import __version__
from inlet.cli.apps import apps
from inlet.cli.doctor import doctor
from inlet.cli.events import events
from inlet.cli.functions import functions
from inlet.cli.options import server_options
from inlet.cli.runs import runs
from inlet.cli.send import send_event
from inlet.cli.tokens import tokens
from inlet.cli.users import users
from inlet.config import Settings
from inlet.errors import ConfigError, InletError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inlet")
def cli() -> None:
    """Inlet: durable, event-driven functions for apps written with the Inngest SDKs."""


@cli.command()
@server_options
@click.option(
    "--allow-remote-register",
    is_flag=True,
    envvar="INLET_ALLOW_REMOTE_REGISTER",
    show_envvar=True,
    help="Take POST /fn/register from other machines too (default: this machine only).",
)
def dev(
    allow_remote_register: bool,
    host: str,
    port: int,
    database_url: str,
    sdk_url: tuple[str, ...],
    app_host: tuple[str, ...],
    no_discovery: bool,
    poll_interval: float,
    retry_interval: float | None,
    use_api_threshold: int | None,
    max_event_size: int | None,
    concurrency: int,
    request_header_timeout: float,
    bulk_pace: float,
    stuck_after: float,
    retention: float,
    retention_for: tuple[tuple[str, float], ...],
    alert_webhook: tuple[str, ...],
    alert_rules: str | None,
    alert_interval: float | None,
    log_level: str,
    log_format: str,
) -> None:
    """Run the development server: no keys, app discovery, an embedded SQLite file."""
    settings = _settings(
        "dev",
        host=host,
        port=port,
        database_url=database_url,
        sdk_url=sdk_url,
        app_hosts=tuple(h for value in app_host for h in value.split()),
        discovery=not no_discovery,
        poll_interval=poll_interval,
        retry_interval=retry_interval,
        use_api_threshold=use_api_threshold,
        max_event_size=max_event_size,
        concurrency=concurrency,
        request_header_timeout=request_header_timeout,
        bulk_pace=bulk_pace,
        stuck_after=stuck_after,
        retention=retention,
        retention_for=retention_for,
        alert_webhooks=tuple(url for value in alert_webhook for url in value.split()),
        alert_rules=alert_rules,
        alert_interval=alert_interval,
        allow_remote_register=allow_remote_register,
    )
    from inlet.api.auth import exposure_warning

    if warning := exposure_warning(settings.host):
        click.echo(f"WARNING: {warning}", err=True)
    _serve(settings, log_level, log_format)


@cli.command()
@server_options
@click.option(
    "--signing-key",
    envvar="INLET_SIGNING_KEY",
    show_envvar=True,
    help="The key inlet signs calls with and apps sign requests with: signkey-<env>-<hex>. "
    "Prefer the env var or --signing-key-file: a flag's value shows in ps.",
)
@click.option(
    "--signing-key-file",
    envvar="INLET_SIGNING_KEY_FILE",
    show_envvar=True,
    help="Read the signing key from this file at start-up (instead of --signing-key).",
)
@click.option(
    "--signing-key-fallback",
    envvar="INLET_SIGNING_KEY_FALLBACK",
    show_envvar=True,
    help="The key being rotated out: still accepted from apps, never used to sign.",
)
@click.option(
    "--event-key",
    multiple=True,
    envvar="INLET_EVENT_KEY",
    show_envvar=True,
    help="A key accepted by POST /e/{key} (repeatable; env: space-separated).",
)
@click.option(
    "--event-key-file",
    envvar="INLET_EVENT_KEY_FILE",
    show_envvar=True,
    help="Read event keys (separated by whitespace) from this file at start-up.",
)
def start(
    host: str,
    port: int,
    database_url: str,
    sdk_url: tuple[str, ...],
    app_host: tuple[str, ...],
    no_discovery: bool,
    poll_interval: float,
    retry_interval: float | None,
    use_api_threshold: int | None,
    max_event_size: int | None,
    concurrency: int,
    request_header_timeout: float,
    bulk_pace: float,
    stuck_after: float,
    retention: float,
    retention_for: tuple[tuple[str, float], ...],
    alert_webhook: tuple[str, ...],
    alert_rules: str | None,
    alert_interval: float | None,
    log_level: str,
    log_format: str,
    signing_key: str | None,
    signing_key_file: str | None,
    signing_key_fallback: str | None,
    event_key: tuple[str, ...],
    event_key_file: str | None,
) -> None:
    """Run the production server: signed requests, event keys, SQLite or PostgreSQL.

    Several processes with the same postgresql:// URL share the work."""
    settings = _settings(
        "start",
        host=host,
        port=port,
        database_url=database_url,
        sdk_url=sdk_url,
        app_hosts=tuple(h for value in app_host for h in value.split()),
        discovery=False,
        poll_interval=poll_interval,
        retry_interval=retry_interval,
        use_api_threshold=use_api_threshold,
        max_event_size=max_event_size,
        concurrency=concurrency,
        request_header_timeout=request_header_timeout,
        bulk_pace=bulk_pace,
        stuck_after=stuck_after,
        retention=retention,
        retention_for=retention_for,
        alert_webhooks=tuple(url for value in alert_webhook for url in value.split()),
        alert_rules=alert_rules,
        alert_interval=alert_interval,
        **_keys(signing_key, signing_key_file, signing_key_fallback, event_key, event_key_file),
    )
    _serve(settings, log_level, log_format)


def _keys(
    signing_key: str | None,
    signing_key_file: str | None,
    fallback: str | None,
    event_key: tuple[str, ...],
    event_key_file: str | None,
) -> dict[str, Any]:
    """The keys of ``inlet start``, files read now, once; ``Settings.validate`` checks them."""
    from inlet.config import read_key_file

    try:
        if signing_key and signing_key_file:
            raise ConfigError(
                "both --signing-key (INLET_SIGNING_KEY) and --signing-key-file "
                "(INLET_SIGNING_KEY_FILE) are set; expected one of them: drop the other"
            )
        if signing_key_file:
            signing_key = read_key_file("--signing-key-file", signing_key_file)
        event_keys = [k for value in event_key for k in value.split()]
        if event_key_file:
            event_keys += read_key_file("--event-key-file", event_key_file).split()
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    return {
        "signing_key": signing_key.strip() if signing_key else None,
        "signing_key_fallback": fallback.strip() if fallback else None,
        "event_keys": tuple(event_keys),
    }


@cli.command()
@click.option(
    "--database-url",
    required=True,
    envvar="INLET_DATABASE_URL",
    show_envvar=True,
    help="postgresql://... (an SQLite file migrates itself when inlet opens it).",
)
def migrate(database_url: str) -> None:
    """Bring a PostgreSQL database's schema up to this version of inlet."""
    from inlet.config import DatabaseURL
    from inlet.redact import redact

    try:
        db = DatabaseURL.parse(database_url)
        if db.scheme != "postgresql":
            click.echo(f"{db.scheme} databases migrate themselves when inlet opens them", err=True)
            return
        from inlet.store.postgres import migrate as apply
        from inlet.store.postgres import redacted

        before, after = apply(db.raw)
    except InletError as exc:
        raise click.ClickException(redact(exc.message)) from None
    except Exception as exc:  # the driver's errors: unreachable server, bad credentials
        raise click.ClickException(redact(f"cannot migrate {database_url!r}: {exc}")) from None
    if before == after:
        click.echo(f"{redacted(db.raw)} is at schema version {after}; nothing to do", err=True)
    else:
        click.echo(f"{redacted(db.raw)} migrated from schema version {before} to {after}", err=True)


def _settings(
    profile: Literal["dev", "start"],
    *,
    sdk_url: tuple[str, ...],
    use_api_threshold: int | None,
    max_event_size: int | None,
    concurrency: int,
    **values: Any,
) -> Settings:
    extra: dict[str, Any] = {}
    if use_api_threshold is not None:
        extra["use_api_threshold"] = use_api_threshold
    if max_event_size is not None:
        extra["max_event_bytes"] = max_event_size
    return Settings(
        profile=profile,
        sdk_urls=tuple(url for value in sdk_url for url in value.split()),
        worker_concurrency=concurrency,
        **values,
        **extra,
    )


def _serve(settings: Settings, log_level: str, log_format: str) -> None:
    import uvicorn

    from inlet.cli.http_protocol import with_header_timeout
    from inlet.log import configure
    from inlet.server import create_app

    configure(log_level, log_format)
    try:
        app = create_app(settings)
    except InletError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"inlet {__version__} listening on {settings.base_url} ({settings.database.safe})", err=True
    )
    if settings.signing_key:
        # Fingerprints only: enough to check which key a process loaded, nothing to steal.
        from inlet.config import fingerprint

        names = ("signing key", "fallback signing key")
        shown = [
            f"{n} {fingerprint(k)}" for n, k in zip(names, settings.signing_keys, strict=False)
        ]
        click.echo(f"{', '.join(shown)}; {len(settings.event_keys)} event key(s)", err=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=with_header_timeout(settings.request_header_timeout),
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


cli.add_command(apps)
cli.add_command(doctor)
cli.add_command(events)
cli.add_command(functions)
cli.add_command(runs)
cli.add_command(send_event)
cli.add_command(tokens)
cli.add_command(users)


def main() -> None:
    cli(prog_name="inlet")
