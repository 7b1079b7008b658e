#!/usr/bin/env python3
"""Ingest benchmark: ecs-lake normalization + Parquet vs DuckDB, same JSON lines, same run.

Usage: python3 bench/run_ingest.py [EVENTS]   (default 200000)

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

events = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)
jsonl = os.path.join(out, "task_events.jsonl")

subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "duckdb"], check=True)
import duckdb  # noqa: E402

res = subprocess.run(
    ["taskset", "-c", "0", "cargo", "bench", "--quiet", "-p", "ecs-lake", "--bench", "normalize", "--", str(events), jsonl],
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
        f"COPY (SELECT * FROM read_json('{jsonl}', format = 'newline_delimited')) "
        f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
    )
    best = min(best, time.perf_counter() - t0)
duck_bytes = os.path.getsize(target)

mb = ours["json_bytes"] / 1e6
print(f"{events} ECS Task State Change events, {mb:.1f} MB of JSON lines, one core, best of 3"
      f" ({platform.processor() or platform.machine()}, duckdb {duckdb.__version__})\n")
print("| engine | events/s | MB/s of JSON | Parquet bytes |")
print("|---|---:|---:|---:|")
print(f"| ecs-lake normalize + classify + Parquet | {ours['events_per_s']:,.0f} | {ours['json_mb_per_s']:.1f} | {ours['parquet_bytes']:,} |")
print(f"| DuckDB read_json -> COPY parquet | {events / best:,.0f} | {mb / best:.1f} | {duck_bytes:,} |")
