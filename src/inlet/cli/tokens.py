"""``inlet tokens create|ls|revoke``: API tokens, made on the database itself (no server
needed), so an operator can make the first one before ``inlet start`` ever runs."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import click

from inlet.config import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from inlet.store import Store
    from inlet.store.tokens import ApiToken

T = TypeVar("T")

database_option = click.option(
    "--database-url",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    envvar="INLET_DATABASE_URL",
    show_envvar=True,
    help="The database inlet start uses: sqlite:///PATH or postgresql://...",
)


@click.group()
def tokens() -> None:
    """API tokens for inlet start, on its database (no server needs to run)."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]))
@click.option("--name", default="", help="A label shown by inlet tokens ls.")
@database_option
def create(role: Literal["admin", "viewer"], name: str, database_url: str) -> None:
    """Make a token and print it once (only its SHA-256 is stored). A viewer reads; an
    admin also cancels, syncs and deletes."""
    from inlet.api.auth import hash_token, new_token
    from inlet.clock import SystemClock
    from inlet.ids import new_ulid
    from inlet.store.tokens import ApiToken

    secret = new_token()

    async def work(store: Store) -> ApiToken:
        now = SystemClock().now()
        token = ApiToken(new_ulid(now), name, role, hash_token(secret), now)
        await store.create_token(token)
        return token

    token = _on_store(database_url, work)
    label = f" ({name})" if name else ""
    click.echo(
        f"created {role} token {token.id}{label}; it is shown only now, keep it secret:",
        err=True,
    )
    click.echo(secret)


@tokens.command("ls")
@database_option
def list_tokens(database_url: str) -> None:
    """Every token: id, name, role, created, last used, revoked."""
    found = _on_store(database_url, lambda store: store.list_tokens())
    if not found:
        click.echo("no tokens; make one with: inlet tokens create --role viewer", err=True)
        return
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")]
    rows += [
        (
            t.id,
            t.name or "-",
            t.role,
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.revoked_at),
        )
        for t in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@tokens.command("revoke")
@click.argument("token_id")
@database_option
def revoke(token_id: str, database_url: str) -> None:
    """Revoke a token for good: requests with it get 401."""
    from inlet.clock import SystemClock

    now = SystemClock().now()
    if not _on_store(database_url, lambda store: store.revoke_token(token_id, now)):
        raise click.ClickException(
            f"no unrevoked token has id {token_id!r}; expected an ID from: inlet tokens ls"
        )
    click.echo(f"revoked token {token_id}; requests with it now get 401", err=True)


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _on_store(database_url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    from inlet.errors import DatabaseLocked, InletError
    from inlet.store import open_store

    async def run() -> T:
        store = open_store(database_url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except DatabaseLocked as exc:
        raise click.ClickException(
            f"{exc.message}. An SQLite file belongs to one process: stop inlet start to "
            "manage its tokens (PostgreSQL has no such limit)"
        ) from None
    except InletError as exc:
        raise click.ClickException(exc.message) from None
