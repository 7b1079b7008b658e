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
epoch_us) over views `read_parquet('<lake>/<table>/*/*.parquet',
hive_partitioning = true)`, with all cores, median of RUNS after one warm-up,
twice: its CLI (PyPI `duckdb-cli`) as a new process per run like ours (start,
views, query, CSV out), and in-process from Python (no process start, the
views and the open database kept warm between runs: in its favour); the
in-process answers are compared with ours. Ours in-process is the engine
library in one process (`query/engine/examples/warm.rs`): the lake opened once,
each question planned and answered RUNS times after one warm-up, no printing.
Prints Markdown; paste it into bench/RESULTS.md with the date and machine.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

from common import DERIVED, QUESTIONS, TABLES, for_duckdb, option, same  # bench/common.py

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
# The engine in one warm process (query/engine/examples/warm.rs): DuckDB in-process's counterpart.
warm_binary = os.path.join(os.path.dirname(binary), "examples", "warm")
subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ecs-query-engine", "--example", "warm"],
               cwd=root, check=True)
# DuckDB twice: in-process from Python, and its CLI as a process per run (as ours is).
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "duckdb==1.4.4", "duckdb-cli==1.4.4"], check=True)
DUCKDB_CLI = os.path.join(os.path.dirname(sys.executable), "duckdb")
os.chmod(DUCKDB_CLI, 0o755)  # the wheel's script may come without its execute bit
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


def time_ours_warm(lake_dir, questions):
    """Ours in one process, the lake opened once: median ms per question."""
    res = subprocess.run([warm_binary, lake_dir, now, str(runs), *questions],
                         check=True, capture_output=True, text=True).stdout
    return {line["question"]: line["median_ms"] for line in map(json.loads, res.splitlines())}


def duck(lake_dir):
    con = duckdb.connect()
    con.execute(views(lake_dir))
    return con


def views(lake_dir):
    """The statements that make the lake's tables DuckDB views."""
    out = []
    for table in TABLES:
        has_files = any(fs for _, _, fs in os.walk(os.path.join(lake_dir, table), followlinks=True))
        if not has_files and not os.path.isdir(os.path.join(lake, table)):
            continue  # a derived table before compaction: no question reads it
        source = lake_dir if has_files else lake
        out.append(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{source}/{table}/*/*.parquet', "
                   f"hive_partitioning = true){'' if has_files else ' WHERE false'};")
    return "\n".join(out)


def time_duck_cli(lake_dir, sql):
    """The DuckDB CLI as a new process per run: start, views, query, CSV out."""
    script = f"{views(lake_dir)}\n{sql};\n"
    run = lambda: subprocess.run([DUCKDB_CLI, "-csv"], input=script, check=True, capture_output=True, text=True)
    run()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


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
    lake's derived tables out of sight (the plan any engine would run without
    the per-task tables compaction writes)."""
    hidden = [os.path.join(lake_dir, t) for t in DERIVED if os.path.exists(os.path.join(lake_dir, t))]
    for path in hidden:
        os.rename(path, path + ".hidden")
    try:
        return show_sql(lake_dir, q)
    finally:
        for path in hidden:
            os.rename(path + ".hidden", path)


def question_table(lake_dir, title):
    counts, files, size = stats(lake_dir)
    print(f"\n{title}: {counts['task_events']:,} task events, {counts['metrics']:,} metric records, "
          f"{files:,} files, {size:,} MB\n")
    print("| question | ecs-query (process) | DuckDB CLI, same SQL (process) | ecs-query engine (in-process, warm) "
          "| DuckDB, same SQL (in-process, warm) | DuckDB, SQL on the raw tables (in-process) | same answer |")
    print("|---|---:|---:|---:|---:|---:|---|")
    con = duck(lake_dir)
    warm = time_ours_warm(lake_dir, QUESTIONS)
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
        try:
            cli = f"{time_duck_cli(lake_dir, for_duckdb(sql)) * 1000:.0f} ms"
        except subprocess.CalledProcessError as e:
            cli = "fails: " + (e.stderr.strip().splitlines() or ["?"])[0][:60]
        print(f"| `{q}` | {t_ours * 1000:.0f} ms | {cli} | {warm[q]:.0f} ms | {cells[0]} | {cells[1]} "
              f"| {' / '.join(verdicts)} |")


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
for n in sorted({7, 30, days}):
    path = window_lake(n)
    counts, files, _ = stats(path)
    sql = subprocess.run([binary, "--lake", path, "--now", now, "--show-sql", q],
                         check=True, capture_output=True, text=True).stdout
    t_duck, _ = time_duck(duck(path), for_duckdb(sql))
    print(f"| last {n} days | {counts['task_events']:,} | {counts['metrics']:,} | {files:,} | "
          f"{time_ours(path, q) * 1000:.0f} ms | {t_duck * 1000:.0f} ms |")
