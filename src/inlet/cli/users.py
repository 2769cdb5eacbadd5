"""``inlet users create|ls|remove``: people who log in to the dashboard of ``inlet start``
with a password, made on the database itself (no server needed), as API tokens are."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import click

from inlet.cli.tokens import _on_store as _on_store_for_tokens
from inlet.cli.tokens import database_option

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from inlet.store import Store
    from inlet.store.users import User

T = TypeVar("T")


@click.group()
def users() -> None:
    """Dashboard users for inlet start, on its database (no server needs to run)."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]))
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the password from this file's first line instead of prompting for it.",
)
@database_option
def create(
    name: str, role: Literal["admin", "viewer"], password_file: Path | None, database_url: str
) -> None:
    """Make a user who logs in to the dashboard with NAME and a password (prompted, or
    from --password-file). A viewer reads; an admin also cancels and syncs."""
    from inlet.clock import SystemClock
    from inlet.ids import new_ulid
    from inlet.store.users import User
    from inlet.ui.passwords import MIN_LENGTH, hash_password

    if not name.strip() or name != name.strip() or len(name) > 100:
        raise click.ClickException(
            f"user name {name!r} is not usable; expected 1 to 100 characters without leading "
            "or trailing spaces"
        )
    if password_file is not None:
        lines = password_file.read_text().splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_LENGTH:
        where = f"the first line of {password_file}" if password_file else "the password"
        raise click.ClickException(
            f"{where} has {len(password)} characters; expected at least {MIN_LENGTH}"
        )
    hashed = hash_password(password)

    async def work(store: Store) -> User:
        existing = await store.user_by_name(name)
        if existing is not None:
            raise click.ClickException(
                f"user {name!r} already exists ({existing.role}); remove it first with: "
                f"inlet users remove {name}"
            )
        now = SystemClock().now()
        user = User(new_ulid(now), name, role, hashed, now)
        await store.create_user(user)
        return user

    user = _on_store(database_url, work)
    click.echo(f"created {user.role} user {user.name}; they log in at /ui/login", err=True)


@users.command("ls")
@database_option
def list_users(database_url: str) -> None:
    """Every user: name, role, created."""
    found = _on_store(database_url, lambda store: store.list_users())
    if not found:
        click.echo("no users; make one with: inlet users create NAME --role viewer", err=True)
        return
    rows = [("NAME", "ROLE", "CREATED")]
    rows += [(u.name, u.role, _when(u.created_at)) for u in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@users.command("remove")
@click.argument("name")
@database_option
def remove(name: str, database_url: str) -> None:
    """Remove a user; their dashboard sessions end at once."""
    if not _on_store(database_url, lambda store: store.remove_user(name)):
        raise click.ClickException(
            f"no user is named {name!r}; expected a NAME from: inlet users ls"
        )
    click.echo(f"removed user {name}; their sessions have ended", err=True)


def _on_store(database_url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    try:
        return _on_store_for_tokens(database_url, work)
    except click.ClickException as exc:
        # The shared opener speaks of tokens when an SQLite file is held by inlet start.
        raise click.ClickException(exc.message.replace("its tokens", "its users")) from None


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
