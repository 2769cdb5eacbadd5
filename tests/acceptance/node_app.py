"""TypeScript SDK apps (``tests/node/apps``) as child processes of the acceptance tests.

Each app runs one SDK line (``inngest@3`` or ``inngest@4``, installed side by side under npm
aliases by ``scripts/bootstrap``) under Node (``app.js``, the ``node:http`` adapter) or
Deno (``edge.js``, the fetch-style ``inngest/edge`` handler), is configured only through the
SDK's own ``INNGEST_*`` variables, listens on 127.0.0.1 and is stopped by PID like every
other process of a stack.

Without Node, npm's install or Deno the Node tests skip locally and fail in CI (``CI`` set),
so a CI machine that lost its Node tier cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ports import free_port

from .apps.common import RECORD_FILE_ENV
from .harness import READY_TIMEOUT, ROOT, ManagedProcess, SdkApp, Stack, _clean_env, wait_for

NODE_DIR = ROOT / "tests" / "node"
APPS_DIR = NODE_DIR / "apps"
MODULES = NODE_DIR / "node_modules"
DENO = MODULES / ".bin" / "deno"
LINES = ("3", "4")


def require_node(deno: bool = False) -> None:
    """Skip (locally) or fail (in CI) when the Node tier cannot run on this machine."""
    missing = []
    if shutil.which("node") is None:
        missing.append("node is not on PATH (install Node 20 or newer)")
    for alias in ("inngest3", "inngest4"):
        if not (MODULES / alias / "package.json").is_file():
            missing.append(f"{MODULES / alias} is missing (run scripts/bootstrap: npm ci)")
    if deno and not DENO.exists():
        missing.append(f"{DENO} is missing (run scripts/bootstrap: npm ci)")
    if not missing:
        return
    reason = "the Node tier cannot run: " + "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class NodeApp:
    """One TypeScript SDK app: ``line`` picks the SDK, ``app_set`` its functions, and
    ``runtime`` how it is served: ``node`` (``app.js``, ``node:http``), ``node-fetch``
    (``edge.js`` under Node), ``deno`` (``edge.js`` under Deno) or ``hono`` (``hono.js``)."""

    log_dir: Path = field(repr=False)
    record_file: Path = field(repr=False)
    line: str
    app_id: str
    app_set: str = "core"
    runtime: str = "node"
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = field(init=False, default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/inngest"

    def argv(self) -> list[str]:
        if self.runtime == "deno":
            # Deno resolves the SDK from the node_modules npm ci made (package.json beside
            # it); it may reach nothing but loopback and never writes a lock file.
            return [
                str(DENO),
                "run",
                "--no-lock",
                "--allow-net=127.0.0.1",
                "--allow-env",
                "--allow-read",
                "--allow-write",
                str(APPS_DIR / "edge.js"),
            ]
        scripts = {"node": "app.js", "node-fetch": "edge.js", "hono": "hono.js"}
        return ["node", str(APPS_DIR / scripts[self.runtime])]

    def start(self, timeout: float = READY_TIMEOUT, signed_only: bool = False) -> None:
        env = _clean_env(
            {
                "NODE_SDK": self.line,
                "PORT": str(self.port),
                "APP_ID": self.app_id,
                "APP_SET": self.app_set,
                RECORD_FILE_ENV: str(self.record_file),
                "DENO_NO_UPDATE_CHECK": "1",
                # Deno's own cache stays with the test's files, not in the user's home.
                "DENO_DIR": str(self.log_dir / "deno-cache"),
                "NO_COLOR": "1",
                **self.env,
            }
        )
        if self.process is None:
            self.process = ManagedProcess(self.app_id, self.argv(), env, self.log_dir, NODE_DIR)
        else:
            self.process.env = env
        self.process.start()
        self.wait_ready(timeout, signed_only)

    def start_unsigned(self, timeout: float = READY_TIMEOUT) -> None:
        """Start an app in production mode, which may answer an unsigned GET with 401."""
        self.start(timeout, signed_only=True)

    def wait_ready(self, timeout: float = READY_TIMEOUT, signed_only: bool = False) -> None:
        def ready() -> bool:
            assert self.process is not None
            self.process.assert_running()
            resp = httpx.get(self.url, timeout=5.0)
            if signed_only and resp.status_code == 401:
                # Production mode: a bare 401, marked as the SDK's own answer.
                return "x-inngest-sdk-handled" in resp.headers
            return resp.status_code == 200 and "x-inngest-sdk" in resp.headers

        wait_for(ready, timeout, f"{self.app_id} to answer GET {self.url}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def logs(self) -> list[tuple[str, str]]:
        return list(self.process.logs()) if self.process is not None else []


@dataclass
class PythonApp(SdkApp):
    """A Python SDK app kept beside the TypeScript ones (``tests/node/apps``)."""

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        argv = [sys.executable, "-m", "uvicorn", self.module, "--app-dir", str(APPS_DIR)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        env = _clean_env(
            {"INNGEST_DEV": self.server_url, RECORD_FILE_ENV: str(self.record_file), **self.env}
        )
        if self.process is None:
            self.process = ManagedProcess(self.name, argv, env, self.log_dir)
        self.process.start()
        self.wait_ready(timeout)


def dev_env(server_url: str) -> dict[str, str]:
    """Dev mode as the SDKs document it: INNGEST_DEV names the dev server."""
    return {"INNGEST_DEV": server_url}


def prod_env(server_url: str, signing_key: str, event_key: str) -> dict[str, str]:
    """Production mode: keys, and the base URL of the server the app talks to."""
    return {
        "INNGEST_DEV": "0",
        "INNGEST_BASE_URL": server_url,
        "INNGEST_SIGNING_KEY": signing_key,
        "INNGEST_EVENT_KEY": event_key,
    }


class NodeStack(Stack):
    """A ``Stack`` that also starts TypeScript apps and stops them first."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        super().__init__(tmp_path, database_url)
        self.node_apps: list[NodeApp] = []

    def node_app(
        self,
        line: str,
        app_id: str,
        env: dict[str, str],
        app_set: str = "core",
        runtime: str = "node",
        port: int | None = None,
        start: bool = True,
    ) -> NodeApp:
        app = NodeApp(
            log_dir=self.log_dir,
            record_file=self.records.path,
            line=line,
            app_id=app_id,
            app_set=app_set,
            runtime=runtime,
            port=port if port is not None else free_port(),
            env=env,
        )
        self.node_apps.append(app)
        if start:
            app.start()
        return app

    def python_app(self, module: str, server_url: str) -> PythonApp:
        app = PythonApp(
            log_dir=self.log_dir,
            module=module,
            server_url=server_url,
            record_file=self.records.path,
            port=free_port(),
        )
        self.apps.append(app)
        app.start()
        return app

    def log_sections(self) -> Iterator[tuple[str, str]]:
        yield from super().log_sections()
        for app in self.node_apps:
            yield from app.logs()

    def close(self) -> None:
        errors: list[BaseException] = []
        for app in reversed(self.node_apps):
            try:
                app.stop()
            except BaseException as exc:
                errors.append(exc)
        try:
            super().close()
        except BaseException as exc:
            errors.append(exc)
        if errors:
            raise errors[0]
