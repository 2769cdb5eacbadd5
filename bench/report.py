"""`bench/run`'s tables: the medians of every workload beside issue #16's targets, and the
peers' figures with the ratios Inlet/peer."""

from __future__ import annotations

from typing import Any

Figures = dict[str, Any]

# (workload, key) -> label, format. The order is the table's.
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("W1", "runs_per_s", "runs/s", ".0f"),
    ("W1", "steps_per_s", "steps/s", ".0f"),
    ("W1", "latency_p50_ms", "run latency p50 (burst), ms", ".0f"),
    ("W1", "latency_p99_ms", "run latency p99 (burst), ms", ".0f"),
    ("W1", "cpu_us_per_step", "server CPU/step, µs", ".0f"),
    ("W1", "app_cpu_us_per_step", "app CPU/step, µs", ".0f"),
    ("W1", "db_cpu_us_per_step", "PostgreSQL CPU/step, µs", ".0f"),
    ("W1", "statements_per_step", "statements/step", ".1f"),
    ("W1", "commits_per_step", "commits/step", ".2f"),
    ("W1", "app_alone_steps_per_s", "app alone, steps/s", ".0f"),
    ("W1", "of_app_alone", "Inlet / app alone", ".0%"),
    ("W1-TS", "runs_per_s", "runs/s", ".0f"),
    ("W1-TS", "steps_per_s", "steps/s", ".0f"),
    ("W1-TS", "latency_p50_ms", "run latency p50 (burst), ms", ".0f"),
    ("W1-TS", "latency_p99_ms", "run latency p99 (burst), ms", ".0f"),
    ("W1-TS", "cpu_us_per_step", "server CPU/step, µs", ".0f"),
    ("W1-TS", "app_cpu_us_per_step", "app CPU/step, µs", ".0f"),
    ("W1-TS", "db_cpu_us_per_step", "PostgreSQL CPU/step, µs", ".0f"),
    ("latency", "latency_p50_ms", "3-step run p50, ms", ".1f"),
    ("latency", "latency_p99_ms", "3-step run p99, ms", ".1f"),
    ("W2", "children", "children (one parent)", ".0f"),
    ("W2", "fan_out_s", "all children done, s", ".2f"),
    ("W2", "cpu_us_per_run", "server CPU/run, µs", ".0f"),
    ("W3", "lateness_p50_ms", "wake-up lateness p50, ms", ".1f"),
    ("W3", "lateness_p99_ms", "wake-up lateness p99, ms", ".1f"),
    ("W3", "fired_late_p50_ms", "of which: timer fired late p50 (server history), ms", ".1f"),
    ("W3", "fired_late_p99_ms", "of which: timer fired late p99 (server history), ms", ".1f"),
    ("W3", "fired_to_step_p50_ms", "of which: fired to step start p50, ms", ".1f"),
    ("W3", "fired_to_step_p99_ms", "of which: fired to step start p99, ms", ".1f"),
    ("W4", "single_events_per_s", "single-event requests/s", ".0f"),
    ("W4", "single_cpu_us_per_event", "server CPU/event (single), µs", ".0f"),
    ("W4", "single_client_cpu_us_per_event", "client CPU/event (single), µs", ".0f"),
    ("W4", "batch_events_per_s", "events/s in batches of 100", ".0f"),
    ("W4", "batch_cpu_us_per_event", "server CPU/event (batch), µs", ".0f"),
    ("W4", "batch_client_cpu_us_per_event", "client CPU/event (batch), µs", ".0f"),
)


def target(workload: str, key: str, backend: str, row: Figures) -> str:
    """Issue #16's target for a figure, and whether this run met it ('' when none)."""
    value = row.get(key)
    app = row.get("app_cpu_us_per_step")
    goals: dict[tuple[str, str], tuple[str, float | None, bool]] = {
        # (label, bound, upper bound?)
        ("latency", "latency_p50_ms"): (
            "< 5" if backend == "sqlite" else "< 10",
            5.0 if backend == "sqlite" else 10.0,
            True,
        ),
        ("W2", "fan_out_s"): ("< 1.5", 1.5, True),
        ("W3", "lateness_p99_ms"): ("< 10", 10.0, True),
        ("W4", "single_events_per_s"): (">= 4000", 4000.0, False),
        ("W4", "batch_events_per_s"): (">= 20000", 20000.0, False),
        ("W1", "of_app_alone"): (">= 90%", 0.9, False)
        if backend == "sqlite"
        else ("", None, False),
    }
    if workload == "W1" and key == "cpu_us_per_step" and isinstance(app, int | float):
        share = 0.25 if backend == "sqlite" else 0.5
        goals[(workload, key)] = (f"<= app/{int(1 / share)} ({app * share:.0f})", app * share, True)
    if workload == "W1" and key == "db_cpu_us_per_step" and isinstance(app, int | float):
        goals[(workload, key)] = (f"<= app/3 ({app / 3:.0f})", app / 3, True)
    if workload == "W1" and backend == "postgres":
        goals[("W1", "statements_per_step")] = ("<= 6", 6.0, True)
        goals[("W1", "commits_per_step")] = ("<= 0.3", 0.3, True)
    label, bound, upper = goals.get((workload, key), ("", None, False))
    if bound is None or not isinstance(value, int | float):
        return label
    met = value < bound if upper else value >= bound
    return f"{label} {'met' if met else 'MISSED'}"


def fmt(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "-"


def table(medians: dict[str, Figures], backend: str, repeats: int) -> list[str]:
    lines = [
        f"| workload | figure | median of {repeats} | target (issue #16) |",
        "|---|---|---|---|",
    ]
    for workload, key, label, spec in ROWS:
        row = medians.get(workload)
        if row is None or (key.startswith("db_") and row.get(key) is None):
            continue
        if key in ("statements_per_step", "commits_per_step") and row.get(key) is None:
            continue
        value = fmt(row.get(key), spec)
        lines.append(f"| {workload} | {label} | {value} | {target(workload, key, backend, row)} |")
    lines.extend(backlog_rows(medians.get("W5")))
    notes = sorted({n for row in medians.values() for n in row.get("notes") or []})
    lines.extend(f"note: {n}" for n in notes)
    return lines


def backlog_rows(row: Figures | None) -> list[str]:
    """W5: claim latency and memory at each backlog level; the target is the largest
    level's p50 within 20% of the smallest's. The p50s carry their 95% intervals, and the
    ratio row says whether the samples resolve the target or the difference is noise."""
    if not row:
        return []
    levels = sorted(int(k.rsplit("_", 1)[1]) for k in row if k.startswith("rss_mb_at_"))
    lines = []
    for level in levels:
        low, high = (
            row.get(f"claim_p50_low_ms_at_{level}"),
            row.get(f"claim_p50_high_ms_at_{level}"),
        )
        value = fmt(row.get(f"claim_p50_ms_at_{level}"), ".2f")
        if isinstance(low, int | float) and isinstance(high, int | float):
            value += f" ({low:.2f}-{high:.2f})"
        label = f"claim latency p50 (95% interval) at {level:,} queued, ms"
        lines.append(f"| W5 | {label} | {value} | |")
    for key, label, spec in (
        ("claim_p90_ms", "claim latency p90", ".2f"),
        ("claim_p99_ms", "claim latency p99", ".2f"),
        ("rss_mb", "server RSS", ".0f"),
    ):
        unit = "MB" if key == "rss_mb" else "ms"
        for level in levels:
            value = fmt(row.get(f"{key}_at_{level}"), spec)
            lines.append(f"| W5 | {label} at {level:,} queued, {unit} | {value} | |")
    if len(levels) > 1:
        lines.append(backlog_ratio(row, levels[0], levels[-1]))
    return lines


def backlog_ratio(row: Figures, first: int, last: int) -> str:
    """p50 at the last level / at the first, with the range the two intervals allow."""
    label = f"claim p50 at {last:,} / at {first:,}"

    def number(key: str, level: int) -> float | None:
        value = row.get(f"{key}_at_{level}")
        return float(value) if isinstance(value, int | float) and value > 0 else None

    p_first, p_last = number("claim_p50_ms", first), number("claim_p50_ms", last)
    if p_first is None or p_last is None:
        return f"| W5 | {label} | - | <= 1.2 |"
    ratio = p_last / p_first
    met = ratio <= 1.2
    value, verdict = f"{ratio:.2f}", f"<= 1.2 {'met' if met else 'MISSED'}"
    lo_first, hi_first = number("claim_p50_low_ms", first), number("claim_p50_high_ms", first)
    lo_last, hi_last = number("claim_p50_low_ms", last), number("claim_p50_high_ms", last)
    if lo_first and hi_first and lo_last and hi_last:
        low, high = lo_last / hi_first, hi_last / lo_first
        value += f" ({low:.2f}-{high:.2f})"
        if not (high <= 1.2 if met else low > 1.2):
            verdict += " (within the intervals: not resolved)"
    return f"| W5 | {label} | {value} | {verdict} |"


# (workload, Inlet's key, the peer's key, label). A peer's CPU is its whole worker (DBOS
# runs the steps in its own process), so Inlet's is its server's plus the app's.
PEER_KEYS = (
    ("W1", "steps_per_s", "steps_per_s", "steps/s"),
    ("W1", "runs_per_s", "runs_per_s", "runs/s"),
    (
        "W1",
        "server_and_app_cpu_us_per_step",
        "cpu_us_per_step",
        "CPU/step (Inlet: server + app), µs",
    ),
    ("W1", "db_cpu_us_per_step", "db_cpu_us_per_step", "database CPU/step, µs"),
    ("W3", "lateness_p50_ms", "lateness_p50_ms", "lateness p50, ms"),
    ("W3", "lateness_p99_ms", "lateness_p99_ms", "lateness p99, ms"),
    ("latency", "latency_p50_ms", "latency_p50_ms", "3-step run p50, ms"),
    ("latency", "latency_p99_ms", "latency_p99_ms", "3-step run p99, ms"),
)


def peer_table(
    medians: dict[str, Figures], peers: dict[str, Figures], missing: str | None
) -> list[str]:
    """Inlet's figure, each peer's, and Inlet/peer (above 1 is better for /s, below 1 for
    µs and ms)."""
    if missing:
        return [f"peers: {missing}"]
    names = sorted({key.split("/")[0] for key in peers})
    lines = [
        "| workload | figure | Inlet | " + " | ".join(f"{n} | Inlet/{n}" for n in names) + " |",
        "|---|---|---|" + "---|---|" * len(names),
    ]
    for workload, key, their_key, label in PEER_KEYS:
        mine = (medians.get(workload) or {}).get(key)
        if mine is None:
            continue
        cells = []
        for name in names:
            figures = peers.get(f"{name}/{workload}") or {}
            theirs = figures.get(their_key)
            ratio = mine / theirs if isinstance(theirs, int | float) and theirs else None
            cells.append(f"{fmt(theirs, '.1f')} | {fmt(ratio, '.2f')}")
        lines.append(f"| {workload} | {label} | {fmt(mine, '.1f')} | " + " | ".join(cells) + " |")
    for key, figures in sorted(peers.items()):
        if "error" in figures:
            lines.append(f"note: peer {key} failed: {figures['error']}")
    return lines
