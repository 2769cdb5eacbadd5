"""What routing W4's events costs the event loop, in this process: `Registry.plan_and_skips`
(the runs each event starts and the refusals of the other functions listening) per event,
for W4's ten functions (`listen-0` … `listen-9`, each `event.data.fn == k`) in batches of
100, and `new_ulid` per id (each event, run and queue item has one).

    .venv/bin/python bench/routing.py [--batches 200] [--repeat 5]

Prints the process CPU (`time.process_time`) per event and per id for each repeat, and
the medians. Nothing is started or stored: it measures the Python the server runs per
event before the store thread sees it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from procs import REPO

sys.path.insert(0, str(REPO / "src"))  # this checkout's, whichever the venv installed
from inlet.ids import new_ulid
from inlet.model import Event, Function, Trigger
from inlet.runs.registry import Registry

BATCH = 100


def registry() -> Registry:
    return Registry(
        Function(
            slug=f"bench-listen-{k}",
            app_url="http://127.0.0.1:1",
            name=f"listen-{k}",
            url="http://127.0.0.1:1/api/inngest",
            triggers=(Trigger(event="suite/ingest", expression=f"event.data.fn == {k}"),),
        )
        for k in range(10)
    )


def batch(now: float, first: int) -> list[Event]:
    return [
        Event(
            internal_id=new_ulid(now),
            name="suite/ingest",
            data={"fn": (first + j) % 10},
            id=new_ulid(now),
            ts=int(now * 1000),
            received_at=now,
        )
        for j in range(BATCH)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    routes, now = registry(), time.time()
    batches = [batch(now, n * BATCH) for n in range(opts.batches)]
    events = opts.batches * BATCH
    plan, ids = [], []
    for r in range(opts.repeat):
        cpu = time.process_time()
        for events_of in batches:
            routes.plan_and_skips(events_of, now)
        plan.append((time.process_time() - cpu) / events * 1e6)
        cpu = time.process_time()
        for _ in range(events):
            new_ulid(now)
        ids.append((time.process_time() - cpu) / events * 1e6)
        print(f"repeat {r + 1}: plan_and_skips {plan[-1]:.1f} us/event,", end=" ")
        print(f"new_ulid {ids[-1]:.2f} us/id")
    print(
        f"median of {opts.repeat}: plan_and_skips {statistics.median(plan):.1f} us/event,"
        f" new_ulid {statistics.median(ids):.2f} us/id"
    )


if __name__ == "__main__":
    main()
