"""One peer under one workload of issue #16's benchmark; bench/peers/run runs this with
the peers' venv. See bench/peers/README.md.

    bench/peers/run --peer dbos-sqlite|dbos-postgres|celery --workload w1|w3|latency
        [--runs N] [--pg-url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from types import FrameType
from typing import NoReturn

from figures import Figures
from services import PeerError

PEERS = ("dbos-sqlite", "dbos-postgres", "celery")
WORKLOADS = ("w1", "w3", "latency")
DEFAULT_RUNS = {"w1": 1000, "w3": 300, "latency": 100}
MAX_RUNS = 100_000
# Every wait is bounded by one deadline for the whole command (SIGALRM), so a run that
# never ends fails the command, stopping what it started, instead of hanging it.
BASE_DEADLINE_S = 120
DEADLINE_S_PER_RUN = 0.2


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/peers/run", description="Run one peer (DBOS or Celery) under one workload."
    )
    parser.add_argument("--peer", required=True, choices=PEERS)
    parser.add_argument("--workload", required=True, choices=WORKLOADS)
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs (default: w1 1,000, w3 300, latency 100)",
    )
    parser.add_argument(
        "--pg-url",
        default=None,
        help="dbos-postgres: use this database instead of a throwaway PostgreSQL server",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = DEFAULT_RUNS[args.workload]
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs {args.runs} is out of range: give 1 to {MAX_RUNS}")
    if args.pg_url is not None and args.peer != "dbos-postgres":
        parser.error(f"--pg-url is for --peer dbos-postgres only, not {args.peer}")
    return args


def measure(args: argparse.Namespace) -> Figures:
    if args.peer == "celery":
        import celery_peer

        return celery_peer.run(args.workload, args.runs)
    import dbos_peer

    database = "sqlite" if args.peer == "dbos-sqlite" else "postgres"
    return dbos_peer.run(args.workload, args.runs, database, args.pg_url)


def table(figures: Figures) -> str:
    rows = [f"{'figure':<22} {'value':>12}"]
    for key, value in figures.items():
        if isinstance(value, float):
            rows.append(f"{key:<22} {value:>12.1f}")
        elif isinstance(value, int) or value is None:
            rows.append(f"{key:<22} {'-' if value is None else value:>12}")
    return "\n".join(rows)


def raise_on_signals(deadline_s: int) -> None:
    """SIGALRM after `deadline_s` and SIGTERM raise PeerError in the main thread, so the
    peer's servers are stopped by the `finally` blocks that started them."""

    def interrupted(signum: int, frame: FrameType | None) -> NoReturn:
        if signum == signal.SIGALRM:
            raise PeerError(f"not done within its deadline of {deadline_s} s")
        raise PeerError(f"stopped by {signal.Signals(signum).name}")

    for signum in (signal.SIGALRM, signal.SIGTERM):
        signal.signal(signum, interrupted)
    signal.alarm(deadline_s)


def main(argv: list[str]) -> int:
    args = parse(argv)
    raise_on_signals(int(BASE_DEADLINE_S + DEADLINE_S_PER_RUN * args.runs))
    load = os.getloadavg()[0]
    started = time.monotonic()
    try:
        figures = measure(args)
    except PeerError as exc:
        print(f"bench/peers/run: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"peer": args.peer, "workload": args.workload, "error": str(exc)}))
        return 1
    figures = {"peer": args.peer, "workload": args.workload, **figures}
    figures["load_1m_start"] = load
    figures["load_1m_end"] = os.getloadavg()[0]
    figures["elapsed_s"] = time.monotonic() - started
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.peer} {args.workload} ({args.runs} runs)")
        print(table(figures))
        notes = figures.get("peer_notes")
        if notes:
            print(f"note: {notes}")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The servers are stopped by now; skip the finalizers, which after a failure may try
    # to reach them again (Celery's result consumer retries the stopped Redis).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
