"""A throwaway PostgreSQL server, started from the machine's binaries, for tests and benchmarks.

The server listens on 127.0.0.1 only and keeps its data directory, socket directory and log
under the base directory it is given. TCP connections need the ``inlet`` role's password, a
random one per server that only ``url()`` shows, so a test that looks for leaked database
passwords has one to look for; the local socket (under the base directory) stays trusted.

``initdb`` and ``postgres`` refuse to run as root, so as root every binary runs as the
``postgres`` system user (``subprocess``'s ``user=``); the base directory is chowned to that
user and must be reachable by it.

Used by ``tests/conftest.py`` and by ``bench/`` scripts, so it must not import pytest::

    with PostgresServer(Path(tmp), fast=True) as pg:
        url = pg.create_database("demo")
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

from ports import free_port

BINDIR_ENV = "INLET_PG_BINDIR"
OS_USER = "postgres"
DB_USER = "inlet"
HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0

# Durability traded for speed: a crashed test server is thrown away, never recovered.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresError(RuntimeError):
    """The PostgreSQL test server could not be found, started or stopped."""


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: compare 9.6 < 10 < 15 as numbers, not strings.
    parts = bindir.parent.name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (-1,)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie counts as gone."""
    # The postmaster is not our child: after it exits, os.kill(pid, 0) still succeeds until
    # PID 1 reaps it, which in a container can take a while.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False
    else:
        return state not in ("Z", "X")
    try:  # no procfs (macOS)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])


class PostgresServer:
    """One PostgreSQL cluster under ``base_dir``: ``data/``, ``socket/`` and ``postgresql.log``.

    ``fast=True`` turns off fsync, synchronous commit and full-page writes (tests);
    ``fast=False`` keeps PostgreSQL's durable defaults (benchmarks). The port is fixed for
    the object's life, so ``restart()`` comes back at the same ``url()``.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        fast: bool = False,
        bindir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        found = bindir or self.find_bindir()
        if found is None:
            raise PostgresError(
                "no PostgreSQL server binaries found (initdb in $INLET_PG_BINDIR, "
                "`pg_config --bindir` or /usr/lib/postgresql/*/bin); install them with "
                "scripts/bootstrap (as root) or `apt-get install postgresql`, "
                f"or set {BINDIR_ENV} to the directory holding initdb"
            )
        for tool in ("initdb", "pg_ctl"):
            if not (found / tool).is_file():
                source = "bindir" if bindir else BINDIR_ENV
                raise PostgresError(
                    f"{source}={str(found)!r} has no {tool}; expected the directory of "
                    "PostgreSQL's server binaries, e.g. /usr/lib/postgresql/15/bin"
                )
        self.bindir = found
        self.base_dir = base_dir.resolve()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_path = self.base_dir / "postgresql.log"
        self.port = port if port is not None else free_port()
        self.fast = fast
        self.settings = dict(settings or {})
        """Extra server settings (``-c name=value``), e.g. shared_preload_libraries."""
        self.password = secrets.token_urlsafe(24)
        """The ``inlet`` role's password over TCP, random per server; URL-safe as it is."""
        self._password_set = False
        self._as_user = _os_user() if os.geteuid() == 0 else None

    @staticmethod
    def find_bindir() -> Path | None:
        """The directory of initdb: ``$INLET_PG_BINDIR``, ``pg_config --bindir``, or the
        highest ``/usr/lib/postgresql/*/bin``; None when PostgreSQL is not installed."""
        env = os.environ.get(BINDIR_ENV)
        if env:
            return Path(env)
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
                ).stdout.strip()
                if out and (Path(out) / "initdb").is_file():
                    return Path(out)
        candidates = [
            p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if p.is_file()
        ]
        return max(candidates, key=_version_key, default=None)

    @property
    def pid(self) -> int | None:
        """The postmaster's PID from ``postmaster.pid``, or None when it is not running."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except FileNotFoundError:
            return None
        pid = int(first) if first.strip().isdigit() else None
        return pid if pid is not None and process_alive(pid) else None

    def url(self, dbname: str = "inlet") -> str:
        """The TCP URL of database ``dbname``, with the password."""
        return f"postgresql://{DB_USER}:{self.password}@{HOST}:{self.port}/{dbname}"

    def start(self) -> None:
        """Create the cluster on first use, start it and wait until it accepts connections."""
        running = self.pid
        if running is not None:
            raise PostgresError(f"PostgreSQL in {self.data_dir} is already running (pid {running})")
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        settings = {
            "listen_addresses": HOST,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            **(FAST_SETTINGS if self.fast else {}),
            **self.settings,
        }
        options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
        try:
            self._pg_ctl("start", READY_TIMEOUT, "-l", str(self.log_path), "-o", options)
            if not self._password_set:  # a cluster another object made has another password
                self._set_password()
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended); a no-op when the server is not running."""
        pid = self.pid
        if pid is None:
            return
        try:
            self._pg_ctl("stop", STOP_TIMEOUT, "-m", "fast")
        except PostgresError:
            self.kill()
            raise
        self._wait_gone(pid, STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same port and data directory."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """Immediate shutdown, as after a crash: no checkpoint, the next start recovers.

        SIGQUIT lets the postmaster take its backends down with it; SIGKILL follows if it
        is still alive after a bounded wait.
        """
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        try:
            self._wait_gone(pid, STOP_TIMEOUT)
        except PostgresError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 5.0)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (optionally as a copy of ``template``); return its url."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, first ending every session connected to it."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PostgresServer({str(self.base_dir)!r}, port={self.port}, fast={self.fast})"

    def _initdb(self) -> None:
        # The password goes through a file, never the command line; the file lives only as
        # long as initdb runs.
        pwfile = self.base_dir / "pwfile"
        pwfile.touch(mode=0o600)
        try:
            if self._as_user is not None:
                os.chown(pwfile, self._as_user.uid, self._as_user.gid)
            pwfile.write_text(self.password + "\n")
            self._run(
                "initdb",
                *("-D", str(self.data_dir), "-U", DB_USER, "-E", "UTF8"),
                # initdb also sets password_encryption to the method, so the password is
                # stored as SCRAM on every version from PostgreSQL 10.
                *("--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"),
                # C locale: nothing to install, and the same sort order on every machine.
                *("--locale=C", "--no-sync"),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._password_set = True

    def _set_password(self) -> None:
        query = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(DB_USER), sql.Literal(self.password)
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                with psycopg.connect(
                    host=str(self.socket_dir), port=self.port, user=DB_USER, dbname="postgres",
                    connect_timeout=2, autocommit=True,
                ) as conn:  # fmt: skip
                    conn.execute(query)
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise PostgresError(
                        f"PostgreSQL in {self.data_dir} did not accept a socket connection "
                        f"within {READY_TIMEOUT:.0f}s ({exc}); server log ({self.log_path}):\n"
                        f"{_tail(self.log_path)}"
                    ) from exc
            time.sleep(0.1)
        self._password_set = True

    def _prepare_dirs(self) -> None:
        for path in (self.base_dir, self.data_dir, self.socket_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._as_user is not None:
                os.chown(path, self._as_user.uid, self._as_user.gid)
        if self._as_user is not None:
            _check_reachable(self.base_dir, self._as_user)

    def _pg_ctl(self, action: str, timeout: float, *args: str) -> None:
        self._run("pg_ctl", action, "-w", "-t", str(int(timeout)), "-D", str(self.data_dir), *args)

    def _run(self, tool: str, *args: str) -> None:
        # PG* variables (PGDATA, PGPORT, PGHOST...) would override what we pass.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        user = self._as_user
        argv = [str(self.bindir / tool), *args]
        try:
            result = subprocess.run(
                argv,
                cwd=self.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=user.groups if user else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(
                f"{tool} did not finish within {COMMAND_TIMEOUT:.0f}s: {shlex.join(argv)}\n"
                f"server log ({self.log_path}):\n{_tail(self.log_path)}"
            ) from exc
        if result.returncode != 0:
            raise PostgresError(
                f"{tool} exited with {result.returncode}: {shlex.join(argv)}\n"
                f"{result.stdout}{result.stderr}"
                f"server log ({self.log_path}):\n{_tail(self.log_path)}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise PostgresError(
                        f"PostgreSQL on {HOST}:{self.port} did not accept connections within "
                        f"{READY_TIMEOUT:.0f}s ({exc}); server log ({self.log_path}):\n"
                        f"{_tail(self.log_path)}"
                    ) from exc
            time.sleep(0.1)

    def _wait_gone(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while process_alive(pid):
            if time.monotonic() >= deadline:
                raise PostgresError(
                    f"postmaster pid {pid} still alive {timeout:.0f}s after shutdown; "
                    f"server log ({self.log_path}):\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int
    groups: list[int]


def _os_user() -> _OsUser:
    try:
        entry = pwd.getpwnam(OS_USER)
    except KeyError:
        raise PostgresError(
            f"running as root, but there is no {OS_USER!r} user to run PostgreSQL as "
            "(initdb and postgres refuse root); create it with "
            f"`useradd --system {OS_USER}` or run as a non-root user"
        ) from None
    groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    return _OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


def _check_reachable(path: Path, user: _OsUser) -> None:
    # A root-only parent (e.g. pytest's /tmp/pytest-of-root, mode 0700) would make initdb
    # fail with a bare "Permission denied"; name the directory instead.
    for parent in path.parents:
        st = parent.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if st.st_uid == user.uid and st.st_mode & stat.S_IXUSR:
            continue
        if st.st_gid in user.groups and st.st_mode & stat.S_IXGRP:
            continue
        raise PostgresError(
            f"{parent} (mode {stat.filemode(st.st_mode)}, uid {st.st_uid}, gid {st.st_gid}) "
            "cannot be entered by "
            f"the {user.name!r} user PostgreSQL runs as, so it cannot reach {path}; "
            "use a base directory under a world-traversable one such as tempfile.gettempdir()"
        )
