"""Machinery for acceptance tests: the real ``inlet`` process and real SDK apps.

Every process is a child of the test process, listens on 127.0.0.1 only, writes its
output to a log file under the test's ``tmp_path`` and is stopped by PID (terminate,
then kill after a bounded wait). Waiting is always a bounded poll of a condition.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ports import free_port

from .apps.common import RECORD_FILE_ENV, read_records

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE_DIR = Path(__file__).resolve().parent

TERMINAL = frozenset({"Completed", "Failed", "Cancelled"})
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 30.0
SYNC_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns a truthy value, or fail after ``timeout`` seconds.

    Connection errors count as "not yet" (a process may be starting or restarting).
    The failure message carries ``describe()``, so a timeout says what was last seen.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except httpx.TransportError as exc:
            last_error = exc
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            seen = describe() if describe else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}"
                + (f"; last seen: {seen}" if seen else "")
                + (f"; last error: {last_error!r}" if last_error else "")
            )
        time.sleep(interval)


def migrate(database_url: str) -> None:
    """``inlet migrate`` on a PostgreSQL database, as an operator would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "inlet", "migrate", "--database-url", database_url],
        env=_clean_env({"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"),) if p)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"inlet migrate failed ({done.returncode}): {done.stderr}")


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "INLET_", "PYTEST_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _tail(path: Path, max_chars: int = 20_000) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    if len(text) > max_chars:
        return "...(truncated)...\n" + text[-max_chars:]
    return text


STARTED: list[ManagedProcess] = []
"""Every process the acceptance run started, for the end-of-run scan of their logs."""


class ManagedProcess:
    """One child process; each start gets a fresh log file ``<name>.<n>.log``."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_paths: list[Path] = []

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        log_path = self.log_dir / f"{self.name}.{len(self.log_paths)}.log"
        if not self.log_paths:
            STARTED.append(self)
        self.log_paths.append(log_path)
        with log_path.open("wb") as log:
            log.write(("$ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def assert_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with code {self.proc.returncode}; log:\n"
                + _tail(self.log_paths[-1], 5_000)
            )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate by PID, then kill if it has not exited after ``timeout`` seconds."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL by PID: the process gets no chance to clean up."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT)

    def logs(self) -> Iterator[tuple[str, str]]:
        for path in self.log_paths:
            yield path.name, _tail(path)


@dataclass
class InletServer:
    """The real ``inlet dev`` process plus an HTTP client for its APIs."""

    log_dir: Path = field(repr=False)
    database_url: str
    app_urls: list[str]
    port: int = field(default_factory=free_port)
    retry_interval: float = 0.2
    poll_interval: float | None = None
    use_api_threshold: int | None = None
    extra_args: tuple[str, ...] = ()
    process: ManagedProcess = field(init=False, repr=False)
    http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "inlet",
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database-url",
            self.database_url,
            "--no-discovery",
            "--retry-interval",
            str(self.retry_interval),
        ]
        for url in self.app_urls:
            argv += ["-u", url]
        if self.poll_interval is not None:
            argv += ["--poll-interval", str(self.poll_interval)]
        if self.use_api_threshold is not None:
            argv += ["--use-api-threshold", str(self.use_api_threshold)]
        argv += self.extra_args
        pythonpath = os.pathsep.join(
            p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
        )
        env = _clean_env({"PYTHONPATH": pythonpath})
        self.process = ManagedProcess("inlet", argv, env, self.log_dir)
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        self.process.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready() -> bool:
            self.process.assert_running()
            resp = self.http.get("/dev")
            if resp.status_code != 200:
                return False
            resp.json()
            return True

        wait_for(ready, timeout, f"inlet to answer GET {self.url}/dev with 200 JSON")

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        self.stop()
        self.http.close()

    # --- sync -----------------------------------------------------------------------------

    def dev_info(self) -> Any:
        resp = self.http.get("/dev")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def registered_ids(self) -> set[str]:
        """Every string found under ``functions`` of ``GET /dev`` (ids among them)."""
        info = self.dev_info()
        scope = info.get("functions", info) if isinstance(info, dict) else info
        return set(_strings(scope))

    def wait_functions(self, fn_ids: Iterable[str], timeout: float = SYNC_TIMEOUT) -> None:
        wanted = set(fn_ids)

        def synced() -> bool:
            self.process.assert_running()
            return wanted <= self.registered_ids()

        wait_for(
            synced,
            timeout,
            f"functions {sorted(wanted)} to appear in GET /dev",
            interval=0.2,
            describe=lambda: _safe(lambda: json.dumps(self.dev_info())[:2000]),
        )

    # --- events ---------------------------------------------------------------------------

    def post_events(self, body: Any, key: str = "acceptance-key") -> httpx.Response:
        return self.http.post(f"/e/{key}", json=body)

    def post_raw(self, content: bytes, key: str = "acceptance-key") -> httpx.Response:
        return self.http.post(
            f"/e/{key}", content=content, headers={"Content-Type": "application/json"}
        )

    def send(self, *events: dict[str, Any]) -> list[str]:
        """Send events as one array; return their ids (asserting the API accepted all)."""
        resp = self.post_events(list(events))
        assert resp.status_code == 200, f"POST /e answered {resp.status_code}: {resp.text}"
        body = resp.json()
        assert body.get("status") == 200, body
        ids = body["ids"]
        assert isinstance(ids, list) and len(ids) == len(events), body
        assert len(set(ids)) == len(ids), f"event ids are not distinct: {ids}"
        return [str(i) for i in ids]

    def send_one(self, name: str, data: dict[str, Any]) -> str:
        return self.send({"name": name, "data": data})[0]

    # --- runs -----------------------------------------------------------------------------

    def runs(self, event_id: str) -> list[dict[str, Any]]:
        resp = self.http.get(f"/v1/events/{event_id}/runs")
        assert resp.status_code == 200, f"GET runs of {event_id}: {resp.status_code} {resp.text}"
        data = resp.json()["data"]
        assert isinstance(data, list), data
        return data

    def run(self, run_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/v1/runs/{run_id}")
        assert resp.status_code == 200, f"GET run {run_id}: {resp.status_code} {resp.text}"
        data: dict[str, Any] = resp.json()["data"]
        return data

    def history(self, run_id: str) -> list[dict[str, Any]]:
        resp = self.http.get(f"/v1/runs/{run_id}/history")
        assert resp.status_code == 200, f"GET history {run_id}: {resp.status_code} {resp.text}"
        data = resp.json()["data"]
        assert isinstance(data, list), data
        return data

    def runs_for_event(
        self,
        event_id: str,
        count: int = 1,
        timeout: float = RUN_TIMEOUT,
        ended: bool = True,
    ) -> list[dict[str, Any]]:
        """Wait until ``event_id`` has ``count`` runs (all ended unless ``ended=False``)."""

        def done() -> list[dict[str, Any]] | None:
            self.process.assert_running()
            runs = self.runs(event_id)
            if len(runs) < count:
                return None
            if ended and not all(r.get("status") in TERMINAL for r in runs):
                return None
            return runs

        state = "ended " if ended else ""
        runs = wait_for(
            done,
            timeout,
            f"{count} {state}run(s) of event {event_id}",
            interval=0.2,
            describe=lambda: _safe(lambda: json.dumps(self.runs(event_id))[:3000]),
        )
        assert len(runs) == count, f"expected {count} runs of {event_id}, got {runs}"
        return runs

    def wait_run(
        self, run_id: str, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            self.process.assert_running()
            run = self.run(run_id)
            return run if predicate(run) else None

        return wait_for(
            check,
            timeout,
            f"run {run_id}: {what}",
            interval=0.2,
            describe=lambda: _safe(lambda: json.dumps(self.run(run_id))[:3000]),
        )

    def wait_history(
        self,
        run_id: str,
        predicate: Callable[[list[dict[str, Any]]], bool],
        what: str,
        timeout: float = RUN_TIMEOUT,
    ) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            self.process.assert_running()
            rows = self.history(run_id)
            return rows if predicate(rows) else None

        return wait_for(
            check,
            timeout,
            f"history of run {run_id}: {what}",
            interval=0.2,
            describe=lambda: _safe(lambda: json.dumps(self.history(run_id))[:4000]),
        )


@dataclass
class SdkApp:
    """An app built with the official SDK, served by uvicorn at ``/api/inngest``."""

    log_dir: Path = field(repr=False)
    module: str
    server_url: str
    record_file: Path = field(repr=False)
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    sdk: bool = True
    process: ManagedProcess | None = field(init=False, default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/inngest"

    @property
    def name(self) -> str:
        return "app-" + self.module.split(":")[0].rsplit(".", 1)[-1]

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            self.module,
            "--app-dir",
            str(ACCEPTANCE_DIR),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        env = _clean_env(
            {
                "INNGEST_DEV": self.server_url,
                RECORD_FILE_ENV: str(self.record_file),
                **self.env,
            }
        )
        if self.process is None:
            self.process = ManagedProcess(self.name, argv, env, self.log_dir)
        else:
            self.process.argv, self.process.env = argv, env
        self.process.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        assert self.process is not None

        def ready() -> bool:
            assert self.process is not None
            self.process.assert_running()
            resp = httpx.get(self.url, timeout=5.0)
            if resp.status_code != 200:
                return False
            return not self.sdk or "x-inngest-sdk" in resp.headers

        wait_for(ready, timeout, f"{self.name} to answer GET {self.url}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def logs(self) -> Iterator[tuple[str, str]]:
        if self.process is not None:
            yield from self.process.logs()


class Records:
    """The apps' side-effect journal (see ``apps/common.py``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        return read_records(self.path)

    def find(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.all()
            if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
        ]

    def count(self, kind: str, **match: Any) -> int:
        return len(self.find(kind, **match))


class Stack:
    """Everything one test starts; ``close`` stops it all, even after a failure."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url or f"sqlite:///{tmp_path / 'inlet.db'}"
        """Every server of the stack shares this database (several processes need
        PostgreSQL)."""
        self.log_dir = tmp_path / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.records = Records(tmp_path / "records.jsonl")
        self.servers: list[InletServer] = []
        self.apps: list[SdkApp] = []

    def server(
        self, app_urls: list[str], port: int | None = None, start: bool = True, **options: Any
    ) -> InletServer:
        server = InletServer(
            log_dir=self.log_dir,
            database_url=self.database_url,
            app_urls=app_urls,
            port=port if port is not None else free_port(),
            **options,
        )
        self.servers.append(server)
        if start:
            server.start()
        return server

    def app(
        self,
        module: str,
        server_url: str,
        port: int | None = None,
        env: dict[str, str] | None = None,
        sdk: bool = True,
        start: bool = True,
    ) -> SdkApp:
        app = SdkApp(
            log_dir=self.log_dir,
            module=module,
            server_url=server_url,
            record_file=self.records.path,
            port=port if port is not None else free_port(),
            env=env or {},
            sdk=sdk,
        )
        self.apps.append(app)
        if start:
            app.start()
        return app

    def log_sections(self) -> Iterator[tuple[str, str]]:
        for server in self.servers:
            yield from server.process.logs()
        for app in self.apps:
            yield from app.logs()
        if self.records.path.exists():
            yield "records.jsonl", _tail(self.records.path)

    def close(self) -> None:
        errors: list[BaseException] = []
        for app in reversed(self.apps):
            try:
                app.stop()
            except BaseException as exc:
                errors.append(exc)
        for server in reversed(self.servers):
            try:
                server.close()
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@dataclass
class CoreStack:
    """The inlet server with the ``accept`` app synced to it."""

    stack: Stack = field(repr=False)
    server: InletServer
    app: SdkApp

    @property
    def records(self) -> Records:
        return self.stack.records


CORE_FUNCTIONS = [
    "accept-fanout-a",
    "accept-fanout-b",
    "accept-expr",
    "accept-item",
    "accept-three-steps",
    "accept-parallel",
    "accept-flaky",
    "accept-no-retries",
    "accept-non-retriable",
    "accept-retry-after",
    "accept-with-failure",
    "accept-with-failure-failure",
    "accept-failure-watcher",
    "accept-big-state",
    "accept-durable",
    "accept-patient",
]


def start_core(stack: Stack, server_port: int | None = None, **server_options: Any) -> CoreStack:
    """Start the ``accept`` app first (it needs only the server's URL), then the server."""
    port = server_port if server_port is not None else free_port()
    app = stack.app("apps.core_app:app", server_url=f"http://127.0.0.1:{port}")
    server = stack.server([app.url], port=port, **server_options)
    server.wait_functions(CORE_FUNCTIONS)
    return CoreStack(stack, server, app)


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _safe(fn: Callable[[], str]) -> str:
    with contextlib.suppress(Exception):
        return fn()
    return "(unavailable)"


def start_app_stack(
    stack: Stack,
    module: str,
    fn_ids: Iterable[str],
    server_port: int | None = None,
    **server_options: Any,
) -> CoreStack:
    """Like ``start_core`` for any app module: start the app, then the server syncing it."""
    port = server_port if server_port is not None else free_port()
    app = stack.app(module, server_url=f"http://127.0.0.1:{port}")
    server = stack.server([app.url], port=port, **server_options)
    server.wait_functions(fn_ids)
    return CoreStack(stack, server, app)


SCHEDULED = "inngest/scheduled.timer"
DURABLE_STEPS = ("a", "b", "c")


def cron_fires(server: InletServer) -> list[dict[str, Any]]:
    """The scheduled-timer events so far, oldest first."""
    resp = server.http.get("/v1/events", params={"name": SCHEDULED, "limit": 1000})
    assert resp.status_code == 200, resp.text
    events: list[dict[str, Any]] = resp.json()["data"]
    return sorted(events, key=lambda e: instant(e["data"]["scheduledAt"]))


def instant(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()


def check_durable_runs(
    runs: dict[str, dict[str, Any]], executions: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Runs of ``accept-durable`` by key: each completed, each step's output is the result
    of one real execution of that run's step, every execution of a later step saw the one
    memoised earlier result, and no output is shared. Returns the executions by (key, step).
    """
    by_step: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in executions:
        by_step.setdefault((e["key"], e["step"]), []).append(e)
    outputs: list[str] = []
    for key, run in runs.items():
        assert run["status"] == "Completed", run
        out = run["output"]
        assert set(out) == set(DURABLE_STEPS), run
        outputs += [out[s] for s in DURABLE_STEPS]
        for step, previous in zip(DURABLE_STEPS, (None, "a", "b"), strict=True):
            tokens = [e["token"] for e in by_step.get((key, step), [])]
            assert out[step] in tokens, (key, step, out, tokens)
            if previous is not None:
                inputs = {e["input"] for e in by_step[(key, step)]}
                assert inputs == {out[previous]}, (key, step, out, inputs)
    assert len(set(outputs)) == len(outputs), "a step output is shared between runs"
    return by_step
