"""The examples tier: ``examples/embeddings`` and ``examples/generation`` run as real
processes (uvicorn) against the real ``inlet dev`` of the acceptance harness.

The embeddings example runs in its own venv (``examples/embeddings/setup``, a no-op when
current, about a minute when not): its model and vector store never enter Inlet's venv.
Without it, or without chromium for the generation page, the tier is skipped locally
but fails when ``CI`` is set.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from acceptance.harness import ROOT, ManagedProcess, Stack, _clean_env, wait_for
from ports import free_port

EMBEDDINGS = ROOT / "examples" / "embeddings"
STACK_KEY = pytest.StashKey[Stack]()


def example_module(path: str) -> ModuleType:
    """A stdlib-only module of an example, loaded by its path: in this test package the
    name ``examples`` is ``tests/examples``, not the repository's ``examples/``."""
    spec = importlib.util.spec_from_file_location(f"example_{Path(path).stem}", ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed = example_module("examples/embeddings/seed.py")


def missing(reason: str) -> None:
    """Skip locally; fail in CI, where an example test must never pass by not running."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the example tests must run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def embeddings_python() -> Path:
    """The embeddings example's venv python, installed by its own setup script."""
    done = subprocess.run(
        ["bash", str(EMBEDDINGS / "setup")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        missing(f"examples/embeddings/setup failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class ExampleApp:
    """An example's FastAPI app under uvicorn, from the repository root."""

    stack: Stack = field(repr=False)
    name: str
    module: str
    python: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    ready: tuple[int, ...] = (200,)
    """The statuses of an unsigned GET of /api/inngest that mean up (401 in production)."""
    process: ManagedProcess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        argv = [self.python, "-m", "uvicorn", self.module, "--host", "127.0.0.1"]
        argv += ["--port", str(self.port)]
        self.process = ManagedProcess(self.name, argv, _clean_env(self.env), self.stack.log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def serve_url(self) -> str:
        return f"{self.url}/api/inngest"

    def start(self, timeout: float = 60.0) -> None:
        self.process.start()

        def ready() -> bool:
            self.process.assert_running()
            return httpx.get(self.serve_url, timeout=5.0).status_code in self.ready

        wait_for(ready, timeout, f"{self.name} to answer GET {self.serve_url}")

    def stop(self) -> None:
        self.process.stop()


class ExampleStack(Stack):
    """A Stack that also stops the example apps and shows their logs on failure."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.examples: list[ExampleApp] = []
        self.helpers: list[ManagedProcess] = []

    def helper(self, name: str, argv: list[str]) -> ManagedProcess:
        """Another process of the test (a database server), stopped after the apps."""
        process = ManagedProcess(name, argv, _clean_env({}), self.log_dir)
        self.helpers.append(process)
        return process

    def example(self, name: str, module: str, python: str, env: dict[str, str]) -> ExampleApp:
        app = ExampleApp(self, name, module, python, env)
        self.examples.append(app)
        return app

    def log_sections(self) -> Iterator[tuple[str, str]]:
        yield from super().log_sections()
        for process in [*(app.process for app in self.examples), *self.helpers]:
            yield from process.logs()

    def close(self) -> None:
        for app in reversed(self.examples):
            app.stop()
        try:
            super().close()
        finally:
            for process in self.helpers:
                process.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach every process log of the test's stack to the report."""
    report = yield
    module = getattr(item, "module", None)
    stack = item.stash.get(STACK_KEY, None) or getattr(module, "STACK", {}).get("stack")
    if stack is not None and report.failed:
        for name, text in stack.log_sections():
            report.sections.append((f"{name} ({report.when})", text))
    return report
