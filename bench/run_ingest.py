#!/usr/bin/env python3
"""Ingest benchmark: ecs-lake normalization + Parquet vs DuckDB, same JSON lines, same run.

Usage: python3 bench/run_ingest.py [EVENTS] [--sim]   (default 200000)

Events are the fixtures' task events with fresh ids (2.8 KB each, with their
ENI attachments), or with --sim the simulator's task state change events
(`ecs-sim --preset scale`: every lifecycle step of every task, 1-1.5 KB each).

Both sides are pinned to one core: ecs-lake is single-threaded by design (one
Lambda invocation), DuckDB runs with `SET threads = 1`. DuckDB does less work:
it converts JSON to Parquet with inferred nested types, without flattening,
classifying or keeping the raw event; it is the floor for "JSON in, Parquet out".
Prints a Markdown table; paste it into bench/RESULTS.md with the date and machine.
"""
import json
import os
import platform
import subprocess
import sys
import time

args = [a for a in sys.argv[1:] if not a.startswith("--")]
sim = "--sim" in sys.argv
events = int(args[0]) if args else 200_000
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)
jsonl = os.path.join(out, "sim_task_events.jsonl" if sim else "task_events.jsonl")
mode = []
if sim:
    simdir = os.path.join(out, "sim")
    subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "ecs-sim", "--", "--preset", "scale",
                    "--copies", str(max(1, events // 1500)), "--hours", "168", "--out", simdir],
                   cwd=root, check=True, capture_output=True)
    # The simulator writes service by service; EventBridge delivers in about
    # time order, so the benchmark gets the task events sorted by their time.
    with open(os.path.join(simdir, "events.jsonl")) as src:
        lines = [l for l in src if '"ECS Task State Change"' in l]
    lines.sort(key=lambda l: json.loads(l)["time"])
    lines = lines[:events]
    with open(jsonl, "w") as dst:
        dst.writelines(lines)
    events = len(lines)
    mode = ["read"]

subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "duckdb"], check=True)
import duckdb  # noqa: E402

res = subprocess.run(
    ["taskset", "-c", "0", "cargo", "bench", "--quiet", "-p", "ecs-lake", "--bench", "normalize", "--", str(events), jsonl] + mode,
    cwd=root, check=True, capture_output=True, text=True,
)
ours = json.loads(res.stdout.strip().splitlines()[-1])

con = duckdb.connect()
con.execute("SET threads = 1")
best = float("inf")
target = os.path.join(out, "duckdb.parquet")
for _ in range(3):
    t0 = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_json('{jsonl}', format = 'newline_delimited', sample_size = -1)) "
        f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
    )
    best = min(best, time.perf_counter() - t0)
duck_bytes = os.path.getsize(target)

mb = ours["json_bytes"] / 1e6
print(f"{events} ECS Task State Change events ({'simulator' if sim else 'fixtures'}), {mb:.1f} MB of JSON lines, one core, best of 3"
      f" ({platform.processor() or platform.machine()}, duckdb {duckdb.__version__})\n")
print("| engine | events/s | MB/s of JSON | Parquet bytes |")
print("|---|---:|---:|---:|")
print(f"| ecs-lake normalize + classify + Parquet | {ours['events_per_s']:,.0f} | {ours['json_mb_per_s']:.1f} | {ours['parquet_bytes']:,} |")
print(f"| DuckDB read_json -> COPY parquet | {events / best:,.0f} | {mb / best:.1f} | {duck_bytes:,} |")
