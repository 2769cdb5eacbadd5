"""The store contract for alerts: one firing per (rule, subject) until it resolves, an
outbox row per target for each change of state, delivered once and retried until then."""

from __future__ import annotations

import pytest

from inlet.store import Store
from inlet.store.alerts import Alert

NOW = 1_800_000_000.0
HOOKS = ("http://127.0.0.1:9/a", "https://hooks.slack.com/services/x")


def alert(n: int, rule: str = "function.failing", subject: str = "app-fn") -> Alert:
    return Alert(
        id=f"01ALERT{n:019d}",
        rule=rule,
        subject=subject,
        state="firing",
        fired_at=NOW + n,
        summary={"function": subject, "error": "KeyError: 'API_KEY'", "run_id": "01RUN"},
    )


async def test_an_alert_fires_once_with_a_delivery_per_target(store: Store) -> None:
    assert await store.fire(alert(1), HOOKS, NOW)

    due = await store.due_deliveries(NOW, 10)
    assert [(d.target, d.kind, d.attempts) for d in due] == [
        (HOOKS[0], "fired", 0),
        (HOOKS[1], "fired", 0),
    ]
    assert due[0].alert.summary["error"] == "KeyError: 'API_KEY'"
    assert due[0].alert.state == "firing"
    assert len({d.id for d in due}) == 2


async def test_a_second_firing_of_the_same_rule_and_subject_changes_nothing(store: Store) -> None:
    assert await store.fire(alert(1), HOOKS, NOW)

    assert not await store.fire(alert(2), HOOKS, NOW + 5)

    assert [a.id for a in await store.list_alerts()] == [alert(1).id]
    assert len(await store.due_deliveries(NOW + 10, 10)) == 2


async def test_another_subject_or_rule_fires_on_its_own(store: Store) -> None:
    assert await store.fire(alert(1), (), NOW)
    assert await store.fire(alert(2, subject="app-other"), (), NOW)
    assert await store.fire(alert(3, rule="queue.late"), (), NOW)

    assert len(await store.list_alerts(state="firing")) == 3


async def test_resolving_adds_resolved_deliveries_and_allows_a_new_firing(store: Store) -> None:
    assert await store.fire(alert(1), HOOKS[:1], NOW)

    assert await store.resolve("function.failing", "app-fn", NOW + 60, HOOKS[:1])
    assert not await store.resolve("function.failing", "app-fn", NOW + 61, HOOKS[:1])

    (resolved,) = await store.list_alerts(state="resolved")
    assert resolved.resolved_at == NOW + 60
    due = await store.due_deliveries(NOW + 60, 10)
    assert [(d.kind, d.alert.state) for d in due] == [
        ("fired", "resolved"),
        ("resolved", "resolved"),
    ]
    assert await store.fire(alert(2), HOOKS[:1], NOW + 70)
    assert [a.state for a in await store.list_alerts()] == ["firing", "resolved"]


async def test_resolving_what_never_fired_is_a_no_op(store: Store) -> None:
    assert not await store.resolve("function.failing", "app-fn", NOW, HOOKS)
    assert await store.due_deliveries(NOW, 10) == []


async def test_a_delivered_row_is_never_due_again(store: Store) -> None:
    await store.fire(alert(1), HOOKS[:1], NOW)
    (due,) = await store.due_deliveries(NOW, 10)

    assert await store.mark_delivered(due.id, NOW + 1)
    assert not await store.mark_delivered(due.id, NOW + 2)
    assert not await store.mark_failed(due.id, "late", NOW + 3)

    assert await store.due_deliveries(NOW + 1000, 10) == []


async def test_a_failed_delivery_waits_for_its_next_attempt(store: Store) -> None:
    await store.fire(alert(1), HOOKS[:1], NOW)
    (due,) = await store.due_deliveries(NOW, 10)

    assert await store.mark_failed(due.id, "HTTP 500", NOW + 30)

    assert await store.due_deliveries(NOW + 29, 10) == []
    (again,) = await store.due_deliveries(NOW + 30, 10)
    assert (again.id, again.attempts, again.last_error) == (due.id, 1, "HTTP 500")


@pytest.mark.parametrize("state", ["firing", "resolved"])
async def test_alerts_are_listed_newest_first_and_by_state(store: Store, state: str) -> None:
    for n in range(3):
        await store.fire(alert(n, subject=f"fn-{n}"), (), NOW)
    await store.resolve("function.failing", "fn-1", NOW + 10, ())

    listed = await store.list_alerts(state="firing" if state == "firing" else "resolved")

    expected = ["fn-2", "fn-0"] if state == "firing" else ["fn-1"]
    assert [a.subject for a in listed] == expected
    assert [a.subject for a in await store.list_alerts(limit=2)] == ["fn-2", "fn-1"]


async def test_the_deliveries_of_alerts_say_where_each_stands(store: Store) -> None:
    assert await store.fire(alert(1), HOOKS, NOW)
    assert await store.fire(alert(2, subject="app-other"), HOOKS[:1], NOW)
    first, second = await store.due_deliveries(NOW, 2)
    assert await store.mark_delivered(first.id, NOW + 1)
    assert await store.mark_failed(second.id, "HTTP 500", NOW + 30)

    rows = await store.alert_deliveries([alert(1).id, "01NOSUCHALERT"])
    assert [(d.target, d.kind, d.attempts, d.delivered_at, d.last_error) for d in rows] == [
        (HOOKS[0], "fired", 1, NOW + 1, None),
        (HOOKS[1], "fired", 1, None, "HTTP 500"),
    ]
    assert rows[1].next_at == NOW + 30
    assert {d.alert_id for d in await store.alert_deliveries([alert(2).id])} == {alert(2).id}
    assert await store.alert_deliveries([]) == []
