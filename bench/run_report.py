#!/usr/bin/env python3
"""The weekly report's size limit in one function: time and peak memory of
`ecs-query report` over one ISO week of growing simulated fleets, the figure
behind the README's "past this size, run the report on Athena"
(`ReportQueryEngine=athena`).

Usage: python3 bench/run_report.py [COPIES ...] [--runs 3]

For each COPIES (default 4 16 64), builds (once, kept in bench/out/) a lake of
the simulator's `scale` preset with that many copies of the fleet's services
over 11 days from 2026-11-19 (`ecs-query demo --preset scale --no-questions`),
compacted as the hourly function leaves it (`ecs-query compact`), and times
`ecs-query report --week 2026-W48` (a whole ISO week, Monday to Sunday) under
`/usr/bin/time`: wall time and peak RSS, the median of RUNS. The week's rows are
counted by DuckDB from the lake's files. No peer: the function's limits (its
memory, 3008 MB, about two vCPUs, and 15 minutes) are the subject. Prints
Markdown; paste it into bench/RESULTS.md with the date and machine.
"""
import os
import platform
import statistics
import subprocess
import sys
import tempfile

from common import option  # bench/common.py

argv = sys.argv[1:]
runs = int(option(argv, "--runs", "3"))
sizes = [int(a) for a in argv] or [4, 16, 64]

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)
binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "ecs-query")
subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ecs-query"], cwd=root, check=True)
try:
    import duckdb
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb==1.4.4"], check=True)
    import duckdb

WEEK, FIRST, LAST = "2026-W48", "2026-11-23", "2026-11-29"
HOURS = 11 * 24  # 2026-11-19 to 2026-11-30: W48 whole
COUNTED = ["task_events", "metrics", "health", "logs"]


def lake_of(copies):
    lake = os.path.join(out, f"rlake-{copies}x11d")
    if not os.path.isdir(lake):
        subprocess.run([binary, "--lake", lake, "demo", "--preset", "scale", "--copies", str(copies),
                        "--hours", str(HOURS), "--seed", "7", "--no-questions"],
                       check=True, capture_output=True)
        subprocess.run([binary, "--lake", lake, "compact", "--include-today"], check=True, capture_output=True)
    return lake


def week_rows(lake):
    """The week's rows per table, and the lake's services."""
    con = duckdb.connect()
    rows = {}
    events = os.path.join(lake, "task_events", "*", "*.parquet")
    rows["services"] = con.execute(
        f"SELECT count(DISTINCT (cluster, service, family)) FROM read_parquet('{events}', hive_partitioning = true)"
    ).fetchone()[0]
    for table in COUNTED:
        files = os.path.join(lake, table, "*", "*.parquet")
        rows[table] = con.execute(
            f"SELECT count(*) FROM read_parquet('{files}', hive_partitioning = true) "
            f"WHERE CAST(dt AS VARCHAR) BETWEEN '{FIRST}' AND '{LAST}'").fetchone()[0]
    return rows


def report(lake):
    times, rss = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as report_dir:
            res = subprocess.run(["/usr/bin/time", "-f", "%e %M", binary, "--lake", lake, "report",
                                  "--week", WEEK, "--out", report_dir],
                                 check=True, capture_output=True, text=True)
        wall, kb = res.stderr.strip().splitlines()[-1].split()
        times.append(float(wall))
        rss.append(int(kb) / 1024)
    return statistics.median(times), statistics.median(rss)


print(f"`ecs-query report --week {WEEK}` (release), the simulator's `scale` fleet, "
      f"median of {runs} ({platform.machine()}, {os.cpu_count()} cores)\n")
print("| fleet copies | services | week's rows: task events / metrics / health / logs | time | peak RSS |")
print("|---:|---:|---|---:|---:|")
for copies in sizes:
    lake = lake_of(copies)
    rows = week_rows(lake)
    wall, rss = report(lake)
    counted = " / ".join(f"{rows[t]:,}" for t in COUNTED)
    print(f"| {copies} | {rows['services']} | {counted} | {wall:.1f} s | {rss:,.0f} MiB |", flush=True)
