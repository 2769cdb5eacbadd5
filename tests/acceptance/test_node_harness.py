"""The Node tier cannot vanish from CI unnoticed: without its packages it fails there."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import node_app

pytestmark = pytest.mark.acceptance


def test_missing_node_packages_fail_the_tests_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(node_app, "MODULES", tmp_path / "node_modules")
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match=r"inngest3 is missing \(run scripts/bootstrap"):
        node_app.require_node()


def test_missing_node_packages_skip_the_tests_on_a_developers_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(node_app, "MODULES", tmp_path / "node_modules")
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="the Node tier cannot run"):
        node_app.require_node()


def test_a_missing_deno_is_named_when_the_mixed_runtimes_need_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(node_app, "DENO", tmp_path / "deno")
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="deno is missing"):
        node_app.require_node(deno=True)
