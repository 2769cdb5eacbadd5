"""The operator's CLI (`inlet runs|events|functions ...`) against a real `inlet dev` with the
official SDK's acceptance app: what it prints, and what it makes the server do."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

import inlet.cli.runs as runs_cli
from acceptance.harness import CoreStack, Stack, start_core, wait_for
from inlet.cli.main import cli

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreStack]:
    """One server and app for the module: each test uses functions of its own."""
    stack = Stack(tmp_path_factory.mktemp("cli-ops"))
    try:
        yield start_core(stack)
    finally:
        stack.close()


def inlet(core: CoreStack, *args: str, input: str | None = None) -> Result:
    # Wide enough that no table cuts an id or wraps a reason.
    return CliRunner().invoke(
        cli, [*args, "--url", core.server.url], input=input, env={"COLUMNS": "300"}
    )


def ran(core: CoreStack, name: str, **data: Any) -> dict[str, Any]:
    """Send ``name`` and wait for its one run to end."""
    event_id = core.server.send_one(name, {"key": f"cli-{time.monotonic_ns()}", **data})
    [run] = core.server.runs_for_event(event_id)
    return run


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def test_runs_ls_shows_each_run_with_its_status_and_filters_by_status(core: CoreStack) -> None:
    done = ran(core, "accept/three", x=1)
    failed = ran(core, "accept/no-retries")

    listed = inlet(core, "runs", "ls")
    assert listed.exit_code == 0, listed.output
    for run, status in ((done, "Completed"), (failed, "Failed")):
        [row] = [line for line in listed.stdout.splitlines() if run["run_id"] in line]
        assert run["function_id"] in row and status in row, row
    assert "no-retries always fails" in listed.stdout

    only_failed = inlet(core, "runs", "ls", "--status", "failed")
    assert failed["run_id"] in only_failed.stdout
    assert done["run_id"] not in only_failed.stdout

    one = inlet(core, "runs", "ls", "--limit", "1")
    assert "more runs match: --limit 1 shows 1; --all shows every one" in one.output
    every = json.loads(inlet(core, "runs", "ls", "--limit", "1", "--all", "--json").stdout)
    assert {done["run_id"], failed["run_id"]} <= {r["run_id"] for r in every}

    as_json = inlet(core, "runs", "ls", "--function", "accept-three-steps", "--json")
    rows = json.loads(as_json.stdout)
    assert done["run_id"] in [r["run_id"] for r in rows]
    assert {r["function_id"] for r in rows} == {"accept-three-steps"}


def test_runs_show_follow_prints_each_step_as_it_runs_and_ends_with_the_run(
    core: CoreStack,
) -> None:
    event_id = core.server.send_one("accept/durable", {"key": f"cli-{time.monotonic_ns()}"})
    [run] = core.server.runs_for_event(event_id, ended=False)

    followed = inlet(core, "runs", "show", run["run_id"], "--follow")

    assert followed.exit_code == 0, followed.output
    lines = followed.stdout.splitlines()
    assert lines[0].startswith(f"run {run['run_id']}  accept-durable")
    steps = [line.split()[1] for line in lines if line.startswith("#")]
    assert steps[:3] == ["a", "b", "c"], followed.stdout
    assert "ended Completed" in followed.stdout
    assert core.server.run(run["run_id"])["status"] == "Completed"


def test_runs_show_follow_exits_1_when_the_run_failed_and_json_parses(core: CoreStack) -> None:
    failed = ran(core, "accept/non-retriable")

    followed = inlet(core, "runs", "show", failed["run_id"], "--follow")
    assert followed.exit_code == 1, followed.output
    assert "ended Failed" in followed.stdout

    shown = inlet(core, "runs", "show", failed["run_id"], "--json")
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.stdout)
    assert answer["run"]["status"] == "Failed" and answer["history"]


def test_rerun_prints_a_new_run_id_that_completes(core: CoreStack) -> None:
    first = ran(core, "accept/three", x=2)

    again = inlet(core, "runs", "rerun", first["run_id"], "--from-step", "two")

    assert again.exit_code == 0, again.output
    new_id = again.stdout.strip()
    assert new_id and new_id != first["run_id"]
    run = core.server.wait_run(new_id, lambda r: r["status"] == "Completed", "completed", 30)
    assert run["output"] == first["output"] == {"one": 3, "two": 30, "three": "30-three"}


def test_replay_asks_first_then_replays_with_a_progress_report(core: CoreStack) -> None:
    since = rfc3339(time.time() - 1)
    failed = [ran(core, "accept/no-retries")["run_id"] for _ in range(2)]
    args = ("runs", "replay", "--function", "accept-no-retries", "--status", "Failed")

    declined = inlet(core, *args, "--since", since, input="n\n")
    assert declined.exit_code == 1, declined.output
    assert f"Replay 2 Failed runs of accept-no-retries created since {since[:19]}" in (
        declined.output
    )
    assert "nothing done" in declined.output

    replayed = inlet(core, *args, "--since", since, "--yes")

    assert replayed.exit_code == 0, replayed.output
    assert "done: replayed 2 of 2" in replayed.stdout
    listed = json.loads(
        inlet(core, "runs", "ls", "-f", "accept-no-retries", "--since", since, "--json").stdout
    )
    new = [r["run_id"] for r in listed if r["run_id"] not in failed]
    assert len(new) == 2, listed


def test_ctrl_c_during_a_replay_cancels_the_operation_on_the_server(
    core: CoreStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = rfc3339(time.time() - 1)
    ran(core, "accept/non-retriable")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runs_cli, "time", SimpleNamespace(sleep=interrupt, time=time.time))
    args = ("-f", "accept-non-retriable", "-s", "Failed", "--since", since, "-y")
    replayed = inlet(core, "runs", "replay", *args)

    [op_id] = re.findall(r"interrupted: cancelling bulk replay (\w+)", replayed.output)
    op = core.server.http.get(f"/v1/bulk/{op_id}").json()["data"]
    # The server may finish one run before the cancel lands: then it says so.
    assert op["state"] in ("cancelled", "done"), op
    assert f"{op['state']}: replayed {op['changed']} of 1" in replayed.stdout
    assert replayed.exit_code == (0 if op["state"] == "done" else 1)


def test_a_paused_function_skips_events_says_why_and_replays_them_once_resumed(
    core: CoreStack,
) -> None:
    paused = inlet(core, "functions", "pause", "accept-item")
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.startswith("accept-item paused since ")
    [row] = [
        line
        for line in inlet(core, "functions", "ls").stdout.splitlines()
        if "accept-item " in line
    ]
    assert "since 20" in row, row

    event_id = core.server.send_one("accept/item", {"i": 7, "key": "paused"})
    shown = wait_for(
        lambda: (r := inlet(core, "events", "show", event_id)) and "skipped" in r.stdout and r,
        10,
        "the skip to be recorded",
    )
    [row] = [line for line in shown.stdout.splitlines() if "accept-item" in line]
    assert "skipped: function paused" in row, shown.stdout
    assert '"i": 7' in shown.stdout
    assert core.server.runs(event_id) == []

    resumed = inlet(core, "functions", "resume", "accept-item")
    assert resumed.exit_code == 0, resumed.output
    assert [
        f["paused"] for f in _json(core, "functions", "ls") if f["function_id"] == "accept-item"
    ] == [False]
    replayed = inlet(
        core, "runs", "replay", "-f", "accept-item", "--status", "Skipped", "--since", "1h", "-y"
    )
    assert replayed.exit_code == 0, replayed.output
    assert "done: replayed 1 of 1" in replayed.stdout
    [run] = core.server.runs_for_event(event_id)
    assert run["status"] == "Completed" and run["output"] == {"i": 7, "key": "paused"}


def test_functions_ls_lists_triggers_and_invoke_prints_the_run_id(core: CoreStack) -> None:
    listed = inlet(core, "functions", "ls")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if "accept-expr " in line]
    assert "accept/expr if event.data.n > 1" in row and core.app.url in row
    assert "accept-item" in [f["function_id"] for f in _json(core, "functions", "ls")]

    invoked = inlet(core, "functions", "invoke", "accept-item", "--data", '{"i": 5}')

    assert invoked.exit_code == 0, invoked.output
    run_id = invoked.stdout.strip()
    run = core.server.wait_run(run_id, lambda r: r["status"] == "Completed", "completed", 30)
    assert run["output"]["i"] == 5


def test_functions_ls_shows_a_cron_functions_next_fire(core: CoreStack) -> None:
    app = core.stack.app("apps.time_app:cron_app", server_url=core.server.url)
    assert inlet(core, "apps", "sync", app.url).exit_code == 0

    listed = inlet(core, "functions", "ls")

    [row] = [line for line in listed.stdout.splitlines() if "accept-time-cron-ticker" in line]
    assert "cron * * * * *" in row, row
    [fire] = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:00", row)
    at = datetime.fromisoformat(fire).replace(tzinfo=UTC).timestamp()
    assert -2 < at - time.time() <= 61  # a minute may turn between the list and now


def test_events_ls_shows_the_events_of_a_name(core: CoreStack) -> None:
    event_id = core.server.send_one("accept/fanout", {"key": "ls"})
    listed = inlet(core, "events", "ls", "--name", "accept/fanout")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if event_id in line]
    assert "accept/fanout" in row and '{"key": "ls"}' in row
    assert event_id in [e["internal_id"] for e in _json(core, "events", "ls")]


def test_events_show_of_an_event_nobody_listens_to_names_the_nearest_names(
    core: CoreStack,
) -> None:
    event_id = core.server.send_one("accept/fanuot", {"key": "typo"})
    shown = inlet(core, "events", "show", event_id)
    assert shown.exit_code == 0, shown.output
    assert "no function listens to 'accept/fanuot'; the nearest names: 'accept/fanout'" in (
        " ".join(shown.stdout.split())
    )


def test_apps_sync_adds_an_app_and_a_bulk_cancel_stops_its_sleeping_runs(
    core: CoreStack,
) -> None:
    app = core.stack.app("apps.time_app:app", server_url=core.server.url)
    synced = inlet(core, "apps", "sync", app.url)
    assert synced.exit_code == 0, synced.output
    assert synced.stdout.startswith(f"{app.url}: synced accept-time, ")
    assert app.url in inlet(core, "apps", "ls").stdout
    sleeping = [core.server.send_one("time/sleep", {"key": f"s{i}", "seconds": 60}) for i in (1, 2)]
    for event_id in sleeping:
        core.server.wait_history(event_run(core, event_id), bool, "its first step")

    cancelled = inlet(core, "runs", "cancel", "--function", "accept-time-sleeper", "--yes")

    assert cancelled.exit_code == 0, cancelled.output
    assert "Cancel 2 Queued or Running runs of accept-time-sleeper" in cancelled.output
    assert "done: cancelled 2 of 2" in cancelled.stdout
    for event_id in sleeping:
        [run] = core.server.runs_for_event(event_id, timeout=10)
        assert run["status"] == "Cancelled", run


def event_run(core: CoreStack, event_id: str) -> str:
    [run] = core.server.runs_for_event(event_id, ended=False)
    return str(run["run_id"])


def test_bad_input_and_unknown_ids_get_messages_that_say_what_to_fix(core: CoreStack) -> None:
    bad = inlet(core, "runs", "ls", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "Invalid value for '--since': 'yesterday' is not a time" in bad.output
    assert "30m, 2h, 1d" in bad.output and "2026-11-22T18:00:00Z" in bad.output
    naive = inlet(core, "runs", "ls", "--until", "2026-11-22T18:00:00")
    assert naive.exit_code == 2 and "has no UTC offset" in naive.output

    unknown = inlet(core, "runs", "show", "01NOSUCHRUN0000000000000000")
    assert unknown.exit_code == 1
    assert "Error: run '01NOSUCHRUN0000000000000000' not found" in unknown.output
    unknown_fn = inlet(core, "functions", "pause", "nope")
    assert unknown_fn.exit_code == 1
    assert "function 'nope' is not registered; known functions: accept-big-state" in (
        unknown_fn.output
    )


def _json(core: CoreStack, *args: str) -> Any:
    result = inlet(core, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
