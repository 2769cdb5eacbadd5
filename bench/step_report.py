"""bench/steps.py's figures: one repeat's Result from what was measured, its report
lines, and the medians over the repeats."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pg
from app_alone import BASELINE_CONCURRENCY, STEPS_PER_RUN
from procs import (
    Child,
    cpu_of,
    cpu_seconds,
    main_thread_cpu_seconds,
    nearest_rank,
    self_cpu_seconds,
)
from runs import Run
from stats import field_medians


@dataclass
class Result:
    runs: int
    completed: int
    failed: int
    wall_s: float
    runs_per_s: float
    steps_per_s: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    start_p50_ms: float | None
    server_cpu_us_per_step: float
    server_cpu_us_per_run: float
    server_cores: float
    server_idle_cpu_ms_per_s: float
    server_loop_thread_share: float
    app_cpu_us_per_step: float
    app_cores: float
    app_cpu_share: float
    bench_cpu_us_per_step: float
    baseline_steps_per_s: float | None = None
    baseline_app_cpu_us_per_step: float | None = None
    baseline_calls_per_run: float | None = None
    efficiency: float | None = None
    # PostgreSQL only; None with SQLite.
    pg_cpu_us_per_step: float | None = None
    pg_cores: float | None = None
    db_commits_per_step: float | None = None
    db_rollbacks_per_step: float | None = None
    db_rows_written_per_step: float | None = None
    db_rows_inserted_per_step: float | None = None
    db_rows_updated_per_step: float | None = None
    db_rows_deleted_per_step: float | None = None
    db_blocks_read_per_step: float | None = None
    db_cache_hit: float | None = None
    db_wal_bytes_per_step: float | None = None
    db_wal_syncs_per_step: float | None = None
    db_idle_commits_per_s: float | None = None
    pg_idle_cpu_ms_per_s: float | None = None
    index_use: list[pg.TableUse] | None = None
    db_statements_per_step: float | None = None
    top_statements: list[tuple[int, float, str]] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CpuSample:
    inlet: float
    inlet_main_thread: float
    app: float
    bench: float
    postgres: float

    @staticmethod
    def take(inlets: list[Child], app: Child, pg_pid: int | None) -> CpuSample:
        return CpuSample(
            cpu_of(inlets),
            sum(main_thread_cpu_seconds(c.proc.pid) for c in inlets),
            cpu_seconds(app.proc.pid),
            self_cpu_seconds(),
            0.0 if pg_pid is None else cpu_seconds(pg_pid),
        )

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


def summarise(
    n: int,
    sent: dict[str, float],
    runs: dict[str, Run],
    t0: float,
    cpu: CpuSample,
    idle_ms_per_s: float,
    app_stats: dict[str, Any],
) -> Result:
    notes: list[str] = []
    completed = [r for r in runs.values() if r.status == "Completed"]
    failed = sum(1 for r in runs.values() if r.status in ("Failed", "Cancelled"))
    if len(completed) < n:
        notes.append(f"only {len(completed)}/{n} runs reported Completed by the server")
    ends = [r.ended_at for r in completed if r.ended_at is not None]
    if len(ends) == len(completed) and ends:
        end = max(ends)
    else:
        # The server's timestamps are missing: fall back to the app's own clock.
        end = float(app_stats.get("last_completed_at") or time.time())
        notes.append("wall time from the app's last completion (server ended_at missing)")
    wall = max(end - t0, 1e-9)
    latencies = [(r.ended_at - sent[r.event_id]) * 1000 for r in completed if r.ended_at]
    starts = [(r.started_at - sent[r.event_id]) * 1000 for r in completed if r.started_at]
    steps = n * STEPS_PER_RUN
    return Result(
        runs=n,
        completed=len(completed),
        failed=failed,
        wall_s=wall,
        runs_per_s=len(completed) / wall,
        steps_per_s=len(completed) * STEPS_PER_RUN / wall,
        latency_p50_ms=nearest_rank(latencies, 50),
        latency_p99_ms=nearest_rank(latencies, 99),
        start_p50_ms=nearest_rank(starts, 50),
        server_cpu_us_per_step=cpu.inlet / steps * 1e6,
        server_cpu_us_per_run=cpu.inlet / n * 1e6,
        server_cores=cpu.inlet / wall,
        server_loop_thread_share=cpu.inlet_main_thread / max(cpu.inlet, 1e-9),
        server_idle_cpu_ms_per_s=idle_ms_per_s,
        app_cpu_us_per_step=cpu.app / steps * 1e6,
        app_cores=cpu.app / wall,
        app_cpu_share=cpu.app / max(cpu.app + cpu.inlet, 1e-9),
        bench_cpu_us_per_step=cpu.bench / steps * 1e6,
        notes=notes,
    )


def add_database_figures(r: Result, cpu: CpuSample, window: pg.Window) -> None:
    steps = r.runs * STEPS_PER_RUN
    s = window.stats
    r.pg_cpu_us_per_step = cpu.postgres / steps * 1e6
    r.pg_cores = cpu.postgres / r.wall_s
    r.db_commits_per_step = s.xact_commit / steps
    r.db_rollbacks_per_step = s.xact_rollback / steps
    r.db_rows_written_per_step = (s.tup_inserted + s.tup_updated + s.tup_deleted) / steps
    r.db_rows_inserted_per_step = s.tup_inserted / steps
    r.db_rows_updated_per_step = s.tup_updated / steps
    r.db_rows_deleted_per_step = s.tup_deleted / steps
    r.db_blocks_read_per_step = s.blks_read / steps
    blocks = s.blks_hit + s.blks_read
    r.db_cache_hit = s.blks_hit / blocks if blocks else None
    r.db_wal_bytes_per_step = window.wal_bytes / steps
    r.db_wal_syncs_per_step = s.wal_sync / steps
    r.db_idle_commits_per_s = window.idle_commits_per_s
    r.pg_idle_cpu_ms_per_s = window.idle_cpu_ms_per_s
    r.index_use = window.tables
    r.db_statements_per_step = window.statements / steps
    r.top_statements = window.top


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def report_lines(r: Result) -> list[str]:
    lines = [
        f"  runs {r.completed}/{r.runs} completed ({r.failed} failed)  wall {r.wall_s:.2f} s",
        f"  throughput  {r.runs_per_s:8.1f} runs/s  {r.steps_per_s:8.1f} steps/s",
        f"  latency     p50 {fmt(r.latency_p50_ms)} ms  p99 {fmt(r.latency_p99_ms)} ms"
        f"  (event sent → run ended; run started p50 {fmt(r.start_p50_ms)} ms)",
        f"  server CPU  {r.server_cpu_us_per_step:6.0f} µs/step  {r.server_cpu_us_per_run:6.0f}"
        f" µs/run  {r.server_cores:.2f} cores  (idle {r.server_idle_cpu_ms_per_s:.0f} ms/s,"
        f" main thread {r.server_loop_thread_share:.0%})",
        f"  app CPU     {r.app_cpu_us_per_step:6.0f} µs/step  {r.app_cores:.2f} cores"
        f"  app share of server+app CPU {r.app_cpu_share:.0%}",
        f"  bench CPU   {r.bench_cpu_us_per_step:6.0f} µs/step (this script: sending, waiting)",
    ]
    if r.baseline_steps_per_s is not None:
        lines.append(
            f"  app alone   {r.baseline_steps_per_s:8.1f} steps/s"
            f"  {fmt(r.baseline_app_cpu_us_per_step)} µs app CPU/step"
            f"  ({fmt(r.baseline_calls_per_run)} calls/run, driven directly, {BASELINE_CONCURRENCY}"
            " at a time)"
        )
        lines.append(f"  Inlet / app alone  {fmt(r.efficiency, '.0%')} of the app-alone steps/s")
    if r.pg_cpu_us_per_step is not None:
        lines.extend(database_lines(r))
    lines.extend(f"  note: {n}" for n in r.notes)
    return lines


def database_lines(r: Result) -> list[str]:
    both = (r.pg_cpu_us_per_step or 0) + r.server_cpu_us_per_step
    return [
        f"  PostgreSQL  {fmt(r.pg_cpu_us_per_step, '6.0f')} µs/step  {fmt(r.pg_cores, '.2f')}"
        f" cores  (server + PostgreSQL {both:.0f} µs/step)",
        f"  database    {fmt(r.db_statements_per_step, '.1f')} statements/step"
        f"  {fmt(r.db_commits_per_step, '.2f')} commits/step"
        f" ({fmt(r.db_rollbacks_per_step, '.2f')} rollbacks)"
        f"  {fmt(r.db_rows_written_per_step, '.2f')} rows written/step"
        f" (ins {fmt(r.db_rows_inserted_per_step, '.2f')},"
        f" upd {fmt(r.db_rows_updated_per_step, '.2f')},"
        f" del {fmt(r.db_rows_deleted_per_step, '.2f')})",
        f"  WAL         {fmt(r.db_wal_bytes_per_step)} B/step"
        f"  {fmt(r.db_wal_syncs_per_step, '.2f')} syncs/step"
        f"  blocks read {fmt(r.db_blocks_read_per_step, '.2f')}/step"
        f"  cache hit {fmt(r.db_cache_hit, '.1%')}",
        f"  idle after  {fmt(r.db_idle_commits_per_s, '.1f')} commits/s"
        f"  PostgreSQL {fmt(r.pg_idle_cpu_ms_per_s)} ms/s CPU"
        f"  ({pg.IDLE_WINDOW:.0f} s, inlet processes running)",
    ]


# Every measured figure; counts and notes are merged separately.
MEDIAN_FIELDS = tuple(
    f.name
    for f in fields(Result)
    if f.name not in ("runs", "completed", "failed", "notes", "index_use", "top_statements")
)


def medians(results: list[Result]) -> dict[str, float | None]:
    return field_medians(results, MEDIAN_FIELDS)


def median_result(results: list[Result]) -> Result:
    m = medians(results)
    first = results[0]
    merged = {**asdict(first), **m, "notes": [n for r in results for n in r.notes]}
    merged["completed"] = min(r.completed for r in results)
    merged["failed"] = max(r.failed for r in results)
    merged["index_use"] = None
    return Result(**merged)
