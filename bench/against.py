"""This checkout's step throughput against an older commit's, measured in the same run.

    python bench/against.py --base 7f12b1b [--rounds 3] [--runs 1000] [--database postgres]

The base commit is checked out in a temporary git worktree; each round runs the base's
`bench/steps.py` and then this checkout's, one repeat each (`--json`), so both see the
same machine load, alternately. Each script starts `inlet` from its own checkout's `src/`
(bench/procs.py puts it on PYTHONPATH), under this virtualenv's Python and libraries.
Printed: each round's steps/s and server CPU per step (PostgreSQL CPU per step too on
PostgreSQL), the medians, and head/base ratios of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = ("steps_per_s", "server_cpu_us_per_step", "pg_cpu_us_per_step")


def one(script: Path, args: list[str]) -> dict[str, float | None]:
    """One repeat of a checkout's steps.py; its median figures."""
    argv = [sys.executable, str(script), "--repeat", "1", "--json", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: summary["median"].get(k) for k in FIGURES}


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", required=True, help="the commit to compare against")
    p.add_argument("--rounds", type=int, default=3, help="base+head pairs; medians reported")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    a = p.parse_args()
    args = ["--runs", str(a.runs), "--database", a.database, "--no-baseline"]
    with tempfile.TemporaryDirectory(prefix="inlet-base-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), a.base],
                       check=True, capture_output=True)  # fmt: skip
        try:
            rows: dict[str, list[dict[str, float | None]]] = {"base": [], "head": []}
            for i in range(a.rounds):
                for name, root in (("base", tree), ("head", REPO)):
                    row = one(root / "bench" / "steps.py", args)
                    rows[name].append(row)
                    shown = "  ".join(f"{k}={v:.0f}" for k, v in row.items() if v is not None)
                    print(f"round {i + 1} {name}: {shown}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)  # fmt: skip
    print(f"medians of {a.rounds} rounds, {a.runs} runs x 3 steps, {a.database}:")
    for key in FIGURES:
        base = median([r[key] for r in rows["base"]])
        head = median([r[key] for r in rows["head"]])
        if base is None or head is None:
            continue
        print(f"  {key:24s} base {base:9.1f}  head {head:9.1f}  head/base {head / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
