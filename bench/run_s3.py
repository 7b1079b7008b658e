#!/usr/bin/env python3
"""Questions over S3: the query language vs DuckDB on lakes as the Lambdas
write them, served by a loopback S3 endpoint with injected latency (issue 19).

Usage: python3 bench/run_s3.py [COPIES] [--days 90] [--runs 3] [--latency-ms 20]
                               [--variants ingested,nightly,intraday] [--slow 60] [--rebuild]

Builds (once, kept in bench/out/s3/, the endpoint's root: each lake is a
bucket) a lake of DAYS days from the simulator's `scale` preset with COPIES
copies of the fleet's services, as the Lambdas write it: one Parquet file per
invocation, table and day (`ecs-query demo --files as-lambdas`: ECS events in
SQS batches of at most 100 within 20 s, each CloudWatch Logs payload alone).
Its variants:
  ingested   the lake as written;
  nightly    every closed day compacted (`ecs-query compact`), the last day
             ("today": `now` is the end of the simulated range) as ingested;
  intraday   nightly, and today's files older than the last hour compacted
             too: see intraday_compaction(), the hook for it.
The 7- and 30-day lakes of a variant are its last 7 and 30 days (hardlinked
day partitions: s3s-fs does not follow symlinks; every lake is a bucket).

The endpoint (`s3-endpoint`, release) waits LATENCY ms before answering each
request and counts requests by kind and response bytes; its counters are reset
and read around each run. For each question, ours is the wall time of the
release `ecs-query` process (`--lake s3://BUCKET/ --endpoint-url ...`), the
median of RUNS, each a new process (nothing cached). DuckDB runs the SQL that
`ecs-query --show-sql` prints (epoch_us for DataFusion's CAST(... AS BIGINT))
in-process from Python with httpfs against the same endpoint, over views
`read_parquet('s3://BUCKET/<table>/*/*.parquet', hive_partitioning = true)`,
each run in a new in-process database (its caches empty, like our new
process), timed from the query's start (connecting, loading httpfs and creating
the secret and views are not timed, nor are their requests counted). Requests
are the median run's. Answers are compared row by row. A run slower than SLOW
seconds is not repeated. Prints Markdown for bench/RESULTS.md.
"""
import csv
import datetime
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
VENV = os.path.join(OUT, "venv")


def in_venv():
    """Re-runs this script in bench/out/venv with duckdb 1.4.4 and its httpfs wheel."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "duckdb==1.4.4", "duckdb-ext-httpfs", "pytz"], check=True)
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


in_venv()
import duckdb  # noqa: E402
from common import QUESTIONS, TABLES, for_duckdb, option, same  # noqa: E402 (bench/common.py)

argv = sys.argv[1:]


days = int(option(argv, "--days", "90"))
runs = int(option(argv, "--runs", "3"))
latency_ms = int(option(argv, "--latency-ms", "20"))
slow_s = float(option(argv, "--slow", "60"))
variants = option(argv, "--variants", "ingested,nightly,intraday").split(",")
rebuild = "--rebuild" in argv
argv = [a for a in argv if not a.startswith("--")]
copies = int(argv[0]) if argv else 10

# Build, then copy the binaries out of the (shared) target directory, so a
# build of another branch cannot swap them mid-run.
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
# One package per build: built together, their features unify and both rebuild.
subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ecs-query"], cwd=ROOT, check=True)
subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ecs-lake-tests", "--bin", "s3-endpoint"], cwd=ROOT,
               check=True)
bindir = os.path.join(OUT, "bin")
os.makedirs(bindir, exist_ok=True)
for name in ("ecs-query", "s3-endpoint"):
    shutil.copy2(os.path.join(target, "release", name), os.path.join(bindir, name))
ECS_QUERY = os.path.join(bindir, "ecs-query")
ENDPOINT = os.path.join(bindir, "s3-endpoint")

HTTPFS = next(
    os.path.join(VENV, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "site-packages", line.strip())
    for line in subprocess.run([sys.executable, "-m", "pip", "show", "-f", "duckdb-ext-httpfs"],
                               check=True, capture_output=True, text=True).stdout.splitlines()
    if line.strip().endswith("httpfs.duckdb_extension"))

ACCESS_KEY, SECRET_KEY, REGION = "AKIAECSLAKETESTKEY00", "ecs-lake-test-secret-key", "us-east-1"
START_MS = 1_795_046_400_000  # the simulator's presets start 2026-11-19T00:00:00Z
DAY_MS = 86_400_000
end_ms = START_MS + days * DAY_MS
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ms / 1000))
today = time.strftime("%Y-%m-%d", time.gmtime((end_ms - 1) / 1000))
S3_ROOT = os.path.join(OUT, "s3")
os.makedirs(S3_ROOT, exist_ok=True)
base = f"lake-{copies}x{days}d"


def bucket_dir(bucket):
    return os.path.join(S3_ROOT, bucket)


def note_path(bucket):
    return os.path.join(OUT, f"s3-{bucket}.json")


def read_note(bucket):
    try:
        with open(note_path(bucket)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def write_note(bucket, note):
    with open(note_path(bucket), "w") as f:
        json.dump(note, f)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def hardlink_days(src, dst, keep):
    """dst holds src's day partitions for which keep(day) holds, as hardlinks."""
    for table in sorted(os.listdir(src)):
        if not os.path.isdir(os.path.join(src, table)):
            continue
        os.makedirs(os.path.join(dst, table), exist_ok=True)
        parts = [p for p in os.listdir(os.path.join(src, table)) if p.startswith("dt=") and keep(p[3:])]
        if parts:
            run(["cp", "-al"] + [os.path.join(src, table, p) for p in parts] + [os.path.join(dst, table)])


def build_ingested():
    bucket = base
    if not rebuild and read_note(bucket):
        return bucket
    shutil.rmtree(bucket_dir(bucket), ignore_errors=True)
    t0 = time.perf_counter()
    rss = os.path.join(OUT, "demo-rss-kb")
    res = run(["/usr/bin/time", "-o", rss, "-f", "%M", ECS_QUERY, "--lake", bucket_dir(bucket), "demo",
               "--preset", "scale", "--copies", str(copies), "--hours", str(days * 24), "--seed", "7",
               "--no-questions", "--files", "as-lambdas"])
    took = time.perf_counter() - t0
    with open(rss) as f:
        rss_mb = int(f.read().split()[-1]) / 1024
    summary = " / ".join(line.strip() for line in res.stdout.splitlines()
                         if "rows" in line or "ECS events" in line or "SQS batches" in line)
    write_note(bucket, {"built_s": round(took), "peak_rss_mb": round(rss_mb), "summary": summary})
    return bucket


def build_nightly(src):
    """Every closed day compacted; today as ingested."""
    bucket = f"{base}-nightly"
    if not rebuild and read_note(bucket):
        return bucket
    shutil.rmtree(bucket_dir(bucket), ignore_errors=True)
    hardlink_days(bucket_dir(src), bucket_dir(bucket), lambda day: day < today)
    t0 = time.perf_counter()
    # Every day in this copy is closed ("today" by the clock may be inside the range: all of them).
    res = run([ECS_QUERY, "--lake", bucket_dir(bucket), "compact", "--include-today"])
    took = time.perf_counter() - t0
    hardlink_days(bucket_dir(src), bucket_dir(bucket), lambda day: day >= today)
    write_note(bucket, {"compact_s": round(took), "summary": res.stdout.strip().splitlines()[-1]})
    return bucket


def intraday_compaction(lake_dir):
    """HOOK for the intra-day compaction: today's files older than the last
    hour compacted, the newer ones left as ingested (the lake just before
    the next hourly run). Returns a note on what ran, or None to skip the variant.

    The compact Lambda compacts the open day every hour (at :20); `ecs-query
    compact` has no flag for "files older than", so it is emulated: today's
    files whose rows are all older than now - 1 h (their `time` or `event_time`
    maximum, read from the files on disk) are compacted by `compact --day
    TODAY` while the newer ones are moved aside, then put back. Replace the
    emulation with the command once `ecs-query compact` can select files by
    age (e.g. an `--older-than 1h` flag)."""
    hour_ago = datetime.datetime.fromtimestamp((end_ms - 3_600_000) / 1000, datetime.timezone.utc)
    aside = os.path.join(OUT, "intraday-last-hour")
    shutil.rmtree(aside, ignore_errors=True)
    con = duckdb.connect()
    moved = []
    try:
        for table in os.listdir(lake_dir):
            part = os.path.join(lake_dir, table, f"dt={today}")
            if not parquet_files(part):
                continue
            column = "event_time" if table.endswith("_events") else "time"
            newest = con.execute(f"SELECT filename, max({column}) FROM read_parquet('{part}/*.parquet', "
                                 "filename = true) GROUP BY filename").fetchall()
            for path, latest in newest:
                if latest is not None and latest >= hour_ago:
                    away = os.path.join(aside, table, os.path.basename(path))
                    os.makedirs(os.path.dirname(away), exist_ok=True)
                    os.rename(path, away)
                    moved.append((path, away))
        res = run([ECS_QUERY, "--lake", lake_dir, "compact", "--day", today])
    finally:
        for path, away in moved:
            os.rename(away, path)
        shutil.rmtree(aside, ignore_errors=True)
    return f"{res.stdout.strip().splitlines()[-1]}; {len(moved)} files of the last hour left as ingested"


def build_intraday(nightly):
    bucket = f"{base}-intraday"
    if not rebuild and read_note(bucket):
        return bucket
    shutil.rmtree(bucket_dir(bucket), ignore_errors=True)
    hardlink_days(bucket_dir(nightly), bucket_dir(bucket), lambda day: True)
    t0 = time.perf_counter()
    summary = intraday_compaction(bucket_dir(bucket))
    if summary is None:
        shutil.rmtree(bucket_dir(bucket), ignore_errors=True)
        return None
    write_note(bucket, {"compact_s": round(time.perf_counter() - t0), "summary": summary})
    return bucket


def window_lake(bucket, n):
    """The last n days of a lake, as another bucket."""
    if n >= days:
        return bucket
    name = f"{bucket}-last{n}"
    if rebuild or not os.path.isdir(bucket_dir(name)):
        shutil.rmtree(bucket_dir(name), ignore_errors=True)
        first = time.strftime("%Y-%m-%d", time.gmtime((end_ms - n * DAY_MS) / 1000))
        hardlink_days(bucket_dir(bucket), bucket_dir(name), lambda day: day >= first)
    return name


def parquet_files(path):
    return [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".parquet")]


def lake_stats(bucket):
    path = bucket_dir(bucket)
    files = parquet_files(path)
    today_files = sum(f"/dt={today}/" in f for f in files)
    size = int(run(["du", "-sm", path]).stdout.split()[0])
    con = duckdb.connect()
    counts = {}
    for table in ("task_events", "metrics"):
        has = any(f"/{table}/" in f for f in files)
        counts[table] = con.execute(f"SELECT count(*) FROM read_parquet('{path}/{table}/*/*.parquet')").fetchone()[0] \
            if has else 0
    return counts, len(files), today_files, size


# ---- the endpoint ----------------------------------------------------------------

endpoint = subprocess.Popen([ENDPOINT, "--root", S3_ROOT, "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
URL = endpoint.stdout.readline().strip()
HOSTPORT = URL.removeprefix("http://")


def stats(reset=False):
    req = urllib.request.Request(URL + ("/__bench/reset" if reset else "/__bench/stats"),
                                 method="POST" if reset else "GET")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


ENV = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
           AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
ENV.pop("AWS_PROFILE", None)


def ours_cmd(bucket, *args):
    return [ECS_QUERY, "--lake", f"s3://{bucket}/", "--endpoint-url", URL, "--region", REGION,
            "--now", now, *args]


def ours(bucket, args):
    return subprocess.run(ours_cmd(bucket, "-f", "csv", *args), check=True, capture_output=True, text=True,
                          env=ENV).stdout


def sql_of(bucket, args):
    return run(ours_cmd(bucket, "--show-sql", *args), env=ENV).stdout


def measure(once):
    """Runs once() up to RUNS times (not again after a slow run): (median s, median run's requests, last result)."""
    samples = []
    result = None
    for _ in range(runs):
        stats(reset=True)
        t0 = time.perf_counter()
        result = once()
        took = time.perf_counter() - t0
        samples.append((took, stats(reset=True)))
        if took > slow_s:
            break
    samples.sort(key=lambda s: s[0])
    took, reqs = samples[len(samples) // 2]
    return took, reqs, result, len(samples)


def duck_connect(bucket):
    con = duckdb.connect()
    con.execute(f"LOAD '{HTTPFS}'")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{ACCESS_KEY}', SECRET '{SECRET_KEY}', ENDPOINT '{HOSTPORT}', "
                f"URL_STYLE 'path', USE_SSL false, REGION '{REGION}')")
    local = bucket_dir(bucket)
    for table in TABLES:
        if parquet_files(os.path.join(local, table)):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('s3://{bucket}/{table}/*/*.parquet', "
                        "hive_partitioning = true)")
        else:
            # No day of this table in this lake: its columns (from any lake on disk), no rows, no request.
            others = [f for d in sorted(os.listdir(S3_ROOT)) for f in parquet_files(os.path.join(S3_ROOT, d, table))[:1]]
            if not others:
                continue  # a derived table before any compaction: no question reads it
            one = others[0]
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{one}', hive_partitioning = true) "
                        "LIMIT 0")
    return con


def duck_once(bucket, sql, timeout_s=600):
    """One run in a new in-process database; returns (seconds, requests, rows)."""
    con = duck_connect(bucket)
    stats(reset=True)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        return time.perf_counter() - t0, stats(reset=True), rows
    finally:
        timer.cancel()
        con.close()


def time_duck(bucket, sql):
    samples = []
    for _ in range(runs):
        samples.append(duck_once(bucket, sql))
        if samples[-1][0] > slow_s:
            break
    samples.sort(key=lambda s: s[0])
    took, reqs, rows = samples[len(samples) // 2]
    return took, reqs, rows, len(samples)


def requests_cell(r):
    return f"{r['list']} / {r['get']} / {r['head']}"


def in_flight(r, seconds):
    """Requests in flight: mean over the run (endpoint time summed / wall time), and the most at once."""
    if "request_ms" not in r or seconds <= 0:
        return "-"
    return f"{r['request_ms'] / 1000 / seconds:.1f} / {r['max_in_flight']}"


def mb(r):
    return f"{r['bytes'] / 1e6:.1f}"


def ms(seconds, n):
    return f"{seconds * 1000:,.0f} ms" + ("" if n == runs else f" ({n} run{'s' if n > 1 else ''})")




def oom_task(bucket):
    """A task OOM-killed in the lake's last day (asked of the lake on disk)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((end_ms - DAY_MS) / 1000))
    out = run([ECS_QUERY, "--lake", bucket_dir(bucket), "--now", now, "-f", "csv", "sql",
               "SELECT task_id FROM tasks WHERE stop_cause = 'oom_killed' "
               f"AND stopped_at >= TIMESTAMP '{since}' ORDER BY stopped_at DESC LIMIT 1"]).stdout
    rows = list(csv.reader(io.StringIO(out)))[1:]
    return rows[0][0] if rows else None


def question_table(bucket, title, timeline_task):
    counts, files, today_files, size = lake_stats(bucket)
    print(f"\n{title} (`s3://{bucket}/`): {counts['task_events']:,} task events, {counts['metrics']:,} metric "
          f"records, {files:,} files ({today_files:,} in today's partitions), {size:,} MB\n")
    print("| question | ecs-query | DuckDB | ours: LIST / GET / HEAD | ours MB | ours in flight (mean / max) "
          "| DuckDB: LIST / GET / HEAD | DuckDB MB | DuckDB in flight | same answer |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    asks = [(q, [q]) for q in QUESTIONS]
    if timeline_task:
        asks.append((f"timeline {timeline_task[:12]}", ["timeline", timeline_task]))
    for label, args in asks:
        t_ours, r_ours, text, n_ours = measure(lambda: ours(bucket, args))
        try:
            t_duck, r_duck, rows, n_duck = time_duck(bucket, for_duckdb(sql_of(bucket, args)))
            duck = [ms(t_duck, n_duck), requests_cell(r_duck), mb(r_duck), in_flight(r_duck, t_duck)]
            verdict = "yes" if same(text, rows) else "NO"
        except Exception as e:  # noqa: BLE001 - report, don't stop
            duck, verdict = ["fails: " + str(e).splitlines()[0][:80], "-", "-", "-"], "-"
        print(f"| `{label}` | {ms(t_ours, n_ours)} | {duck[0]} | {requests_cell(r_ours)} | {mb(r_ours)} | "
              f"{in_flight(r_ours, t_ours)} | {duck[1]} | {duck[2]} | {duck[3]} | {verdict} |", flush=True)


def window_table(bucket, label):
    q = "exit 137 by revision last 7d"
    print(f"\nCost follows the window, not the lake's age (`{q}`, {label}):\n")
    print("| lake | files | ecs-query | ours: LIST / GET / HEAD | ours MB | DuckDB | DuckDB: LIST / GET / HEAD "
          "| DuckDB MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({min(n, days) for n in (7, 30, 90, days)}):
        lake = window_lake(bucket, n)
        t_ours, r_ours, _, n_ours = measure(lambda: ours(lake, [q]))
        t_duck, r_duck, _, n_duck = time_duck(lake, for_duckdb(sql_of(lake, [q])))
        print(f"| last {n} days | {len(parquet_files(bucket_dir(lake))):,} | {ms(t_ours, n_ours)} | "
              f"{requests_cell(r_ours)} | {mb(r_ours)} | {ms(t_duck, n_duck)} | {requests_cell(r_duck)} | "
              f"{mb(r_duck)} |", flush=True)


try:
    ingested = build_ingested()
    lakes = {"ingested": ingested}
    if "nightly" in variants or "intraday" in variants:
        lakes["nightly"] = build_nightly(ingested)
    if "intraday" in variants:
        intraday = build_intraday(lakes["nightly"])
        if intraday:
            lakes["intraday"] = intraday
    build = read_note(ingested)
    print(f"Lake: {copies} copies of the fleet (`scale`), {days} days, now = {now} (today = {today}); built as the "
          f"Lambdas write it in {build['built_s']} s, peak RSS {build['peak_rss_mb']} MB: {build['summary']}")
    if "nightly" in lakes:
        note = read_note(lakes["nightly"])
        print(f"Nightly: `ecs-query compact` of every closed day in {note['compact_s']} s ({note['summary']})")
    if "intraday" in lakes:
        note = read_note(lakes["intraday"])
        print(f"Nightly + intra-day: today's files older than the last hour compacted in {note['compact_s']} s "
              f"({note['summary']})")
    elif "intraday" in variants:
        print("Nightly + intra-day: skipped (intraday_compaction() in bench/run_s3.py is the hook)")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {datetime.date.today()}; S3 endpoint on loopback, "
          f"{latency_ms} ms before each answer; median of {runs} runs; duckdb {duckdb.__version__} "
          f"(httpfs, {duckdb.connect().execute('SELECT current_setting(' + chr(39) + 'threads' + chr(39) + ')').fetchone()[0]}"
          " threads)")
    task = oom_task(ingested)
    for variant in variants:
        if variant in lakes:
            question_table(lakes[variant], {"ingested": "As ingested", "nightly": "Nightly compaction",
                                            "intraday": "Nightly + intra-day compaction"}[variant], task)
    for variant in variants:
        if variant in lakes:
            window_table(lakes[variant], variant)
finally:
    endpoint.terminate()
    try:
        endpoint.wait(timeout=10)
    except subprocess.TimeoutExpired:
        endpoint.kill()
