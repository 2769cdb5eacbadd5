"""The executor's state machine, one reply at a time (docs/protocol.md §5, §7)."""

from __future__ import annotations

import orjson
import pytest

from inlet.model import (
    Event,
    Function,
    ItemKind,
    Outcome,
    QueueItem,
    Run,
    RunState,
    RunStatus,
)
from inlet.steps.backoff import RetryPolicy
from inlet.steps.machine import Call, Limits, Reply, interpret

NOW = 1_800_000_000.0
SDK = {"x-inngest-sdk": "inngest-py:v0.5.19", "x-inngest-req-version": "2"}
LIMITS = Limits(max_step_output_bytes=1000, max_state_bytes=5000, max_steps=10)


def call(
    *,
    attempt: int = 0,
    retries: int = 2,
    kind: ItemKind = ItemKind.DISCOVERY,
    join: bool = True,
    version: int = -1,
    state_size: int = 0,
    step_count: int = 0,
) -> Call:
    run = Run(
        id="R",
        function_slug="app-fn",
        event_ids=("E",),
        status=RunStatus.RUNNING,
        created_at=NOW,
        request_version=version,
        state_size=state_size,
        step_count=step_count,
    )
    event = Event(internal_id="E", name="app/x", data={}, id="E", ts=1)
    fn = Function(
        slug="app-fn",
        app_url="http://a",
        name="fn",
        url="http://a/api/inngest?fnId=app-fn&stepId=step",
        triggers=(),
        retries=retries,
    )
    item = QueueItem(
        id="I",
        run_id="R",
        kind=kind,
        step_id="step" if kind is ItemKind.DISCOVERY else "s1",
        due_at=NOW,
        attempt=attempt,
        join=join,
    )
    return Call(
        item=item,
        state=RunState(run=run, events=(event,), memos=()),
        function=fn,
        started_at=NOW - 0.01,
    )


def reply(status: int, body: object, **headers: str) -> Reply:
    return Reply(
        status=status,
        headers={**SDK, **{k.replace("_", "-"): v for k, v in headers.items()}},
        body=orjson.dumps(body),
    )


FIXED = RetryPolicy(5.0)


def run(c: Call, r: Reply, retry: RetryPolicy = FIXED) -> Outcome:
    return interpret(c, r, now=NOW, jitter=0.5, retry=retry, limits=LIMITS)


def test_a_200_completes_the_run_with_the_returned_value() -> None:
    out = run(call(), reply(200, {"ok": 1}))
    assert out.finish is not None and out.finish.status is RunStatus.COMPLETED
    assert out.finish.output == {"ok": 1}
    assert out.request_version == 2


def test_the_request_version_is_recorded_only_the_first_time() -> None:
    assert run(call(version=2), reply(200, None)).request_version is None


def test_a_step_run_is_memoised_as_data_and_followed_by_a_discovery() -> None:
    out = run(call(), reply(206, [{"id": "h1", "op": "StepRun", "displayName": "a", "data": 5}]))
    assert [(m.step_id, m.value) for m in out.memos] == [("h1", {"data": 5})]
    assert [(i.kind, i.step_id, i.after_join) for i in out.enqueue] == [
        (ItemKind.DISCOVERY, "step", False)
    ]
    assert out.attempt.outcome == "step" and out.attempt.output == 5


def test_a_step_error_with_attempts_left_retries_the_same_item() -> None:
    err = {"name": "ValueError", "message": "nope"}
    out = run(call(attempt=0), reply(206, [{"id": "h1", "op": "StepError", "error": err}]))
    assert out.retry_at == NOW + 5.0 and out.memos == () and out.finish is None
    assert "ValueError: nope" in (out.attempt.error or "")


def test_a_step_error_on_the_last_attempt_is_memoised_as_the_steps_error() -> None:
    err = {"name": "ValueError", "message": "nope", "stack": "tb"}
    out = run(
        call(attempt=2, retries=2), reply(206, [{"id": "h1", "op": "StepError", "error": err}])
    )
    assert out.retry_at is None
    assert out.memos[0].value == {"error": err}
    assert out.enqueue[0].kind is ItemKind.DISCOVERY


def test_a_step_failed_error_always_gets_string_name_and_message() -> None:
    out = run(call(), reply(206, [{"id": "h1", "op": "StepFailed", "error": {"message": 3}}]))
    assert out.memos[0].value == {"error": {"name": "Error", "message": "3"}}


def test_parallel_planned_steps_become_targeted_items_and_force_planning() -> None:
    ops = [{"id": h, "op": "StepPlanned", "name": h, "opts": None} for h in ("a", "b")]
    out = run(call(), reply(206, ops))
    assert [(i.kind, i.step_id, i.join) for i in out.enqueue] == [
        (ItemKind.STEP, "a", True),
        (ItemKind.STEP, "b", True),
    ]
    assert out.force_plan is True and out.attempt.outcome == "planned"


def test_a_race_branch_discovers_without_waiting_for_the_others() -> None:
    out = run(
        call(kind=ItemKind.STEP, join=False), reply(206, [{"id": "s1", "op": "StepRun", "data": 1}])
    )
    assert out.enqueue[0].after_join is False
    joined = run(
        call(kind=ItemKind.STEP, join=True), reply(206, [{"id": "s1", "op": "StepRun", "data": 1}])
    )
    assert joined.enqueue[0].after_join is True


def test_a_reply_without_the_sdk_header_is_retried_with_the_reason() -> None:
    out = run(call(), Reply(status=200, headers={}, body=b"<html>ok</html>"))
    assert out.retry_at is not None and out.finish is None
    assert "X-Inngest-SDK" in (out.attempt.error or "")


def test_no_retry_true_fails_the_run_at_once_with_the_sdks_error_body() -> None:
    body = {
        "code": "non_retriable_error",
        "message": "bad input",
        "name": "NonRetriableError",
        "stack": "tb",
    }
    out = run(call(attempt=0), reply(500, body, x_inngest_no_retry="true"))
    assert out.finish is not None and out.finish.status is RunStatus.FAILED
    assert out.finish.output == body
    assert out.finish.error == {
        "error": "invalid status code: 500",
        "name": "NonRetriableError",
        "message": "bad input",
        "stack": "tb",
    }


def test_a_function_error_is_retried_until_attempts_run_out() -> None:
    body = {"name": "Exception", "message": "boom"}
    assert run(call(attempt=1, retries=2), reply(500, body)).retry_at == NOW + 5.0
    last = run(call(attempt=2, retries=2), reply(500, body))
    assert last.finish is not None and last.finish.status is RunStatus.FAILED


def test_retries_zero_means_one_attempt() -> None:
    out = run(call(attempt=0, retries=0), reply(500, {"name": "E", "message": "m"}))
    assert out.finish is not None and out.finish.status is RunStatus.FAILED


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", NOW + 30),
        ("2027-01-16T08:00:00.000Z", NOW + 86_400),
        ("0", NOW + 5.0),
    ],
)
def test_retry_after_sets_the_next_attempt_time_within_bounds(header: str, expected: float) -> None:
    out = run(
        call(), reply(500, {"name": "RetryAfterError", "message": "later"}, retry_after=header)
    )
    assert out.retry_at == pytest.approx(expected)


def test_the_backoff_table_applies_without_a_fixed_interval() -> None:
    out = run(call(attempt=1), reply(500, {"name": "E", "message": "m"}), RetryPolicy(None))
    assert out.retry_at == NOW + 30 + 0.5 * 30


def test_a_connection_error_is_retried_and_recorded() -> None:
    out = run(call(), Reply(status=0, error="cannot connect to http://a: refused"))
    assert out.retry_at is not None and out.attempt.error == "cannot connect to http://a: refused"


def test_a_step_output_over_the_limit_fails_the_run_with_a_clear_reason() -> None:
    out = run(
        call(), reply(206, [{"id": "h", "op": "StepRun", "displayName": "big", "data": "x" * 2000}])
    )
    assert out.finish is not None and out.finish.status is RunStatus.FAILED
    assert "step 'big' returned" in (out.attempt.error or "")
    assert "over the fixed limit of 1000 bytes per step" in (out.attempt.error or "")
    assert "return a reference" in (out.attempt.error or "")


def test_state_over_the_limit_fails_the_run() -> None:
    out = run(call(state_size=4900), reply(206, [{"id": "h", "op": "StepRun", "data": "x" * 200}]))
    assert out.finish is not None
    assert "over the fixed limit of 5000 bytes per run" in (out.attempt.error or "")


def test_a_step_past_the_step_limit_fails_the_run_saying_how_to_split_it() -> None:
    out = run(call(step_count=10), reply(206, [{"id": "h", "op": "StepRun", "data": 1}]))
    assert out.finish is not None and out.finish.status is RunStatus.FAILED
    assert "more than 10 steps, the fixed limit per run" in (out.attempt.error or "")
    assert "step.invoke" in (out.attempt.error or "")


def test_a_streamed_answer_is_unwrapped() -> None:
    inner = orjson.dumps([{"id": "h", "op": "StepRun", "data": 1}]).decode()
    envelope = b"   " + orjson.dumps({"status": 206, "headers": {}, "body": inner})
    out = run(call(), Reply(status=201, headers=SDK, body=envelope))
    assert out.memos[0].value == {"data": 1}


def test_run_complete_finishes_the_run_with_its_data() -> None:
    out = run(call(), reply(206, [{"id": "c", "op": "RunComplete", "data": {"v": 2}}]))
    assert out.finish is not None and out.finish.output == {"v": 2}


def test_an_unknown_opcode_fails_the_run_naming_it() -> None:
    out = run(call(), reply(206, [{"id": "h", "op": "Teleport", "name": "t"}]))
    assert out.finish is not None and "'Teleport'" in (out.attempt.error or "")


def test_an_empty_opcode_list_changes_nothing() -> None:
    out = run(call(), reply(206, []))
    assert out.memos == () and out.enqueue == () and out.finish is None


def test_a_finished_branch_returns_a_version_2_run_to_inline_execution() -> None:
    out = run(
        call(kind=ItemKind.STEP, version=2), reply(206, [{"id": "s1", "op": "StepRun", "data": 1}])
    )
    assert out.force_plan is False


def test_a_version_1_run_keeps_planning_after_a_parallel_group() -> None:
    out = run(
        call(kind=ItemKind.STEP, version=1),
        Reply(
            status=206,
            headers={"x-inngest-sdk": "inngest-js:v3.54.2", "x-inngest-req-version": "1"},
            body=orjson.dumps([{"id": "s1", "op": "StepRun", "data": 1}]),
        ),
    )
    assert out.force_plan is None


def test_a_sleep_planned_with_other_steps_marks_its_timer_as_joining_the_group() -> None:
    group = [
        {"id": "a", "op": "StepPlanned", "name": "a"},
        {"id": "z", "op": "Sleep", "name": "z", "opts": {"duration": "1s"}},
    ]
    out = run(call(version=2), reply(206, group))
    [timer] = [i for i in out.enqueue if i.kind is ItemKind.TIMER]
    assert timer.payload == {"memo": None, "op": "Sleep", "joins_group": True}
    alone = run(call(version=2), reply(206, [group[1]]))
    assert alone.enqueue[0].payload == {"memo": None, "op": "Sleep"}
