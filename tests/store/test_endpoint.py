"""The store contract for durable endpoints (``Store.record_endpoint``), on memory, SQLite
and PostgreSQL: reported steps become memos and history rows once, a ``RunComplete`` ends
the run and drops its waiting call, going async makes that call due now, a failed step
makes the call due as attempt 1 with the request's attempt 0 in the history, and nothing
changes for a run that ended or one that would pass its limits."""

from __future__ import annotations

from dataclasses import replace

from inlet.model import STEP_DISCOVERY, NewRun, RunStatus
from inlet.steps.checkpoint import StateLimits, Verdict
from inlet.steps.endpoint import ENDPOINT_ITEM, Report, parse_steps
from inlet.store import Store

from .test_contract import DAY, NOW, event

LIMITS = StateLimits(max_state_bytes=10_000, max_steps=100)
HOLD = 3600.0
RUN = "01ENDPOINTRUN00000000000001"


async def endpoint_run(store: Store) -> str:
    """A run as ``POST /v1/checkpoint`` makes it: its call waits while the request runs."""
    ev = event(1, "http/run.started")
    new = NewRun(RUN, "GET http://a/x", (ev.internal_id,), RUN, NOW + HOLD)
    result = await store.ingest([ev], [new], NOW, DAY)
    assert result.run_ids == (RUN,)
    return RUN


def report(*ops: dict[str, object]) -> Report:
    return parse_steps(RUN, {"steps": list(ops)}, now=NOW, max_step_output_bytes=1000)


def step_run(name: str) -> dict[str, object]:
    return {"id": name, "op": "StepRun", "name": name, "data": name}


async def test_steps_become_memos_and_history_rows_once(store: Store) -> None:
    run_id = await endpoint_run(store)
    assert await store.record_endpoint(run_id, report(step_run("a")), LIMITS, NOW) is Verdict.SAVED
    again = report(step_run("a"), step_run("b"))
    assert await store.record_endpoint(run_id, again, LIMITS, NOW + 1) is Verdict.SAVED

    state = await store.run_state(run_id)
    assert state is not None and [m.step_id for m in state.memos] == ["a", "b"]
    assert state.run.status is RunStatus.RUNNING and state.run.step_count == 2
    rows = await store.history(run_id)
    assert [(r.outcome, r.op_step, r.item_id) for r in rows] == [
        ("step", "a", ENDPOINT_ITEM),
        ("step", "b", ENDPOINT_ITEM),
    ]
    assert await store.next_due() == NOW + HOLD  # the request still runs it


async def test_run_complete_ends_the_run_and_drops_its_waiting_call(store: Store) -> None:
    run_id = await endpoint_run(store)
    done = report(step_run("a"), {"id": "c", "op": "RunComplete", "data": {"status": 200}})
    assert await store.record_endpoint(run_id, done, LIMITS, NOW + 1) is Verdict.SAVED

    run = await store.get_run(run_id)
    assert run is not None and run.status is RunStatus.COMPLETED
    assert run.output == {"status": 200} and run.ended_at == NOW + 1
    assert await store.next_due() is None
    # A report after the end changes nothing.
    late = await store.record_endpoint(run_id, report(step_run("z")), LIMITS, NOW + 2)
    assert late is Verdict.STALE
    state = await store.run_state(run_id)
    assert state is not None and [m.step_id for m in state.memos] == ["a"]


async def test_going_async_makes_the_call_due_now(store: Store) -> None:
    run_id = await endpoint_run(store)
    slept = report(step_run("a"), {"id": "s", "op": "Sleep", "name": "nap"})
    assert await store.record_endpoint(run_id, slept, LIMITS, NOW + 5) is Verdict.SAVED

    [claim] = await store.claim(NOW + 5, 10, NOW + 35, "w")
    assert claim.item.run_id == run_id and claim.item.step_id == STEP_DISCOVERY
    assert claim.item.attempt == 0


async def test_a_failed_step_makes_the_call_attempt_1_after_the_requests_attempt_0(
    store: Store,
) -> None:
    run_id = await endpoint_run(store)
    error = {"name": "Error", "message": "boom"}
    failed = report({"id": "a", "op": "StepError", "name": "a", "error": error})
    assert await store.record_endpoint(run_id, failed, LIMITS, NOW + 5) is Verdict.SAVED

    [claim] = await store.claim(NOW + 5, 10, NOW + 35, "w")
    assert claim.item.run_id == run_id and claim.item.attempt == 1
    [row] = await store.history(run_id)
    assert (row.outcome, row.attempt, row.error) == ("retry", 0, "a: Error: boom")


async def test_a_report_over_the_limits_or_for_no_run_records_nothing(store: Store) -> None:
    run_id = await endpoint_run(store)
    tight = replace(LIMITS, max_steps=1)
    two = report(step_run("a"), step_run("b"))
    assert await store.record_endpoint(run_id, two, tight, NOW) is Verdict.OVER_LIMIT
    state = await store.run_state(run_id)
    assert state is not None and state.memos == ()
    missing = await store.record_endpoint("01NOSUCHRUN", two, LIMITS, NOW)
    assert missing is Verdict.MISSING
