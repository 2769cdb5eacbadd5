"""What a batch of rows carries into the store comes back as it went in. PostgreSQL takes
a batch as one JSON array (postgres.sql): strings with quotes, backslashes, escapes and
characters outside ASCII, JSON bytes whose key order matters, and floats at the edges of
their range must survive the trip; every backend is held to the same."""

from __future__ import annotations

from dataclasses import replace

from inlet.store.base import Store

from .test_contract import DAY, NOW, event, new_run

AWKWARD = {
    "z": 'a "quote", a \\ backslash, a \\u0000 written out, \t a tab and \n a newline',
    "a": "é, 中文, 😀",
    "m": [1, None, True, {"y": 2, "b": 1}],
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "big": 2**53 + 1,
    "": "an empty key",
}


async def test_events_and_runs_written_as_a_batch_come_back_as_they_went_in(
    store: Store,
) -> None:
    events = [replace(event(n), data={**AWKWARD, "n": n}) for n in range(1, 4)]
    events[1] = replace(events[1], name='app/a "name" with é')
    runs = [replace(new_run(n, ev), key=f'event:"{n}" é') for n, ev in enumerate(events, 1)]
    result = await store.ingest(events, runs, NOW + 0.123456789, DAY)
    assert len(result.run_ids) == 3
    for ev in events:
        stored = await store.get_event(ev.internal_id)
        assert stored == ev
        assert stored is not None and list(stored.data) == list(ev.data)  # key order too
        assert list(stored.data["m"][3]) == ["y", "b"]
    for run_id, ev in zip(result.run_ids, events, strict=True):
        run = await store.get_run(run_id)
        assert run is not None and run.event_ids == (ev.internal_id,)
        assert run.created_at == NOW + 0.123456789
    # The run keys went in with their quotes: the same events again start nothing.
    again = await store.ingest([], runs, NOW + 1, DAY)
    assert again.run_ids == ()
