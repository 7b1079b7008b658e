#!/usr/bin/env python3
"""Query benchmark: the query language vs DuckDB on the same simulator lake,
and the same question over 7-, 30- and 90-day lakes.

Usage: python3 bench/run_query.py [COPIES] [--days 90] [--runs 5] [--rebuild]

The first run measures the lake as ingested (one file per ingest batch and
day), then compacts it with `ecs-query compact` (timed: the compaction
throughput) and measures again; later runs reuse the compacted lake.

Builds (once, kept in bench/out/) a lake of DAYS days from the simulator's
`scale` preset with COPIES copies of the fleet's services, through the same
normalization as the Lambdas (`ecs-query demo --preset scale --no-questions`).
The 7- and 30-day lakes are the last 7 and 30 days of it (symlinked day
partitions), so "cost follows the window" is measured on identical data.

For each question, ours is the wall time of the release `ecs-query` process
(start, plan, read, answer, print CSV), the median of RUNS. DuckDB runs the SQL
that `ecs-query --show-sql` prints for the same question (DataFusion's
unparser; DuckDB lacks CAST(TIMESTAMPTZ AS BIGINT), so those casts become
epoch_us), in-process from Python (no process start: in its favour) over views
`read_parquet('<lake>/<table>/*/*.parquet', hive_partitioning = true)`, with
all cores, median of RUNS after one warm-up; both answers are compared.
Prints Markdown; paste it into bench/RESULTS.md with the date and machine.
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import time

from common import QUESTIONS, for_duckdb, option, same  # bench/common.py

argv = sys.argv[1:]


days = int(option(argv, "--days", "90"))
runs = int(option(argv, "--runs", "5"))
rebuild = "--rebuild" in argv
argv = [a for a in argv if not a.startswith("--")]
copies = int(argv[0]) if argv else 20

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)
binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "ecs-query")
subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ecs-query"], cwd=root, check=True)
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "duckdb"],
               check=True)
import duckdb  # noqa: E402

START_MS = 1_795_046_400_000  # the simulator's presets start 2026-11-19T00:00:00Z
end_ms = START_MS + days * 86_400_000
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ms / 1000))
lake = os.path.join(out, f"qlake-{copies}x{days}d")
build_note = "reused"
if rebuild or not os.path.isdir(lake):
    subprocess.run(["rm", "-rf", lake], check=True)
    t0 = time.perf_counter()
    res = subprocess.run([binary, "--lake", lake, "demo", "--preset", "scale", "--copies", str(copies),
                          "--hours", str(days * 24), "--seed", "7", "--no-questions"],
                         check=True, capture_output=True, text=True)
    build_note = f"built in {time.perf_counter() - t0:.0f} s: " + " / ".join(
        l.strip() for l in res.stdout.splitlines() if "rows" in l or "ECS events" in l)

TABLES = ["task_events", "container_events", "service_events", "metrics", "health", "logs", "task_peaks"]


def window_lake(n):
    """The last n days of the lake, as symlinked day partitions."""
    if n >= days:
        return lake
    path = os.path.join(out, f"qlake-{copies}x{days}d-last{n}")
    subprocess.run(["rm", "-rf", path], check=True)
    first = time.strftime("%Y-%m-%d", time.gmtime((end_ms - n * 86_400_000) / 1000))
    for table in TABLES + ["_quarantine"]:
        src = os.path.join(lake, table)
        os.makedirs(os.path.join(path, table), exist_ok=True)
        if not os.path.isdir(src):
            continue
        for part in os.listdir(src):
            if part >= f"dt={first}":
                os.symlink(os.path.join(src, part), os.path.join(path, table, part))
    return path


def ours(lake_dir, question, fmt="csv"):
    return subprocess.run([binary, "--lake", lake_dir, "--now", now, "-f", fmt, question],
                          check=True, capture_output=True, text=True).stdout


def time_ours(lake_dir, question):
    ours(lake_dir, question)  # warm the page cache
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ours(lake_dir, question)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def duck(lake_dir):
    con = duckdb.connect()
    for table in TABLES:
        # A table with no day in a window lake: the full lake's columns, no rows.
        has_files = any(fs for _, _, fs in os.walk(os.path.join(lake_dir, table), followlinks=True))
        if not has_files and not os.path.isdir(os.path.join(lake, table)):
            continue  # task_peaks before compaction: no question reads it
        source = lake_dir if has_files else lake
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{source}/{table}/*/*.parquet', "
                    f"hive_partitioning = true){'' if has_files else ' WHERE false'}")
    return con


def time_duck(con, sql):
    con.execute(sql).fetchall()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), rows


def stats(lake_dir):
    con = duck(lake_dir)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("task_events", "metrics")}
    files = sum(sum(f.endswith(".parquet") for f in fs) for _, _, fs in os.walk(lake_dir, followlinks=True))
    size = int(subprocess.run(["du", "-sLm", lake_dir], capture_output=True, text=True).stdout.split()[0])
    return counts, files, size


QUESTIONS = QUESTIONS[:5] + ["restarts by day last 14d"] + QUESTIONS[5:]

def show_sql(lake_dir, q):
    return subprocess.run([binary, "--lake", lake_dir, "--now", now, "--show-sql", q],
                          check=True, capture_output=True, text=True).stdout


def raw_sql(lake_dir, q):
    """The question's SQL over the raw tables only: as planned with the
    lake's task_peaks out of sight (the plan any engine would run without
    the summary compaction writes)."""
    peaks = os.path.join(lake_dir, "task_peaks")
    hidden = peaks + ".hidden"
    if not os.path.exists(peaks):
        return show_sql(lake_dir, q)
    os.rename(peaks, hidden)
    try:
        return show_sql(lake_dir, q)
    finally:
        os.rename(hidden, peaks)


def question_table(lake_dir, title):
    counts, files, size = stats(lake_dir)
    print(f"\n{title}: {counts['task_events']:,} task events, {counts['metrics']:,} metric records, "
          f"{files:,} files, {size:,} MB\n")
    print("| question | ecs-query (process) | DuckDB, same SQL (in-process) | DuckDB, SQL on the raw tables | same answer |")
    print("|---|---:|---:|---:|---|")
    con = duck(lake_dir)
    for q in QUESTIONS:
        sql = show_sql(lake_dir, q)
        raw = raw_sql(lake_dir, q)
        t_ours = time_ours(lake_dir, q)
        cells, verdicts = [], []
        for text in (sql, raw):
            try:
                t_duck, rows = time_duck(con, for_duckdb(text))
                verdicts.append("yes" if same(ours(lake_dir, q), rows) else "NO")
                cells.append(f"{t_duck * 1000:.0f} ms")
            except Exception as e:  # noqa: BLE001 - report, don't stop
                cells.append("fails: " + str(e).splitlines()[0][:60])
                verdicts.append("-")
        if raw == sql:
            cells[1] = "(same)"
        print(f"| `{q}` | {t_ours * 1000:.0f} ms | {cells[0]} | {cells[1]} | {' / '.join(verdicts)} |")


print(f"Lake: {copies} copies of the fleet, {days} days, now = {now}; {build_note}")
print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; median of {runs} runs")
marker = os.path.join(lake, ".compacted")
if not os.path.exists(marker):
    question_table(lake, "As ingested (one file per ingest batch and day)")
    _, files_before, mb_before = stats(lake)
    t0 = time.perf_counter()
    res = subprocess.run([binary, "--lake", lake, "compact", "--include-today"], check=True,
                         capture_output=True, text=True)
    took = time.perf_counter() - t0
    open(marker, "w").close()
    total_rows = sum(int(m.group(1)) for m in re.finditer(r"files, (\d+) rows", res.stdout))
    print(f"\n`ecs-query compact`: {files_before:,} files ({mb_before:,} MB) -> {stats(lake)[1]:,} files "
          f"in {took:.1f} s: {total_rows / took:,.0f} rows/s, {mb_before / took:.0f} MB/s of Parquet read "
          f"(2 cores; {res.stdout.strip().splitlines()[-1]})")
question_table(lake, "Compacted")

print("\nCost follows the window, not the lake's age (`exit 137 by revision last 7d`, compacted):\n")
print("| lake | task events | metric records | files | ecs-query | DuckDB |")
print("|---|---:|---:|---:|---:|---:|")
q = "exit 137 by revision last 7d"
for n in (7, 30, days):
    path = window_lake(n)
    counts, files, _ = stats(path)
    sql = subprocess.run([binary, "--lake", path, "--now", now, "--show-sql", q],
                         check=True, capture_output=True, text=True).stdout
    t_duck, _ = time_duck(duck(path), for_duckdb(sql))
    print(f"| last {n} days | {counts['task_events']:,} | {counts['metrics']:,} | {files:,} | "
          f"{time_ours(path, q) * 1000:.0f} ms | {t_duck * 1000:.0f} ms |")
