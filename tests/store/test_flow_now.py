"""The store contract for a function's flow control as it stands (the dashboard's
function page): calls holding and waiting for concurrency slots, runs held back, gates."""

from __future__ import annotations

from inlet.model import Rate, RunFlow
from inlet.store import Store

from .test_flow import NOW, start


async def test_calls_in_flight_and_parked_are_counted_by_concurrency_key(store: Store) -> None:
    one = RunFlow(concurrency=(("fn:app-fn", 1),))
    keyed = RunFlow(concurrency=(("fn:app-fn:abc", 1),))
    other = RunFlow(concurrency=(("fn:app-fnx", 1),))
    await start(store, 1, one)
    await start(store, 2, one)
    await start(store, 3, keyed)
    await start(store, 4, other, fn="app-fnx")
    claimed = await store.claim(NOW, 10, NOW + 30, "w")
    assert len(claimed) == 3

    flow = await store.flow_now("app-fn", NOW)
    assert flow.in_flight == {"fn:app-fn": 1, "fn:app-fn:abc": 1}
    assert flow.waiting == {"fn:app-fn": 1}
    assert flow.delayed == 0 and flow.gates == ()
    assert (await store.flow_now("app-fnx", NOW)).in_flight == {"fn:app-fnx": 1}


async def test_a_throttled_run_is_delayed_and_the_gate_shows_its_arrival_time(
    store: Store,
) -> None:
    throttle = RunFlow(throttle=Rate("app-fn", limit=1, period=10.0, burst=0))
    await start(store, 1, throttle)
    await start(store, 2, throttle)

    flow = await store.flow_now("app-fn", NOW)
    assert flow.delayed == 1
    [gate] = flow.gates
    assert (gate.gate, gate.key) == ("throttle", "app-fn")
    assert gate.tat is not None and gate.tat > NOW
    assert (await store.flow_now("app-fn", NOW + 60)).delayed == 0
