#!/usr/bin/env python3
"""CloudWatch Logs benchmark: ecs-lake decode + normalize + Parquet vs DuckDB and
pyarrow on the same decoded JSON, same run; plus the ingest-logs handler's peak RSS.

Usage: python3 bench/run_logs.py [PAYLOADS]   (default 200: 800k application log events)

All engines are pinned to one core (taskset; DuckDB `SET threads = 1`, pyarrow
`set_cpu_count(1)`). ecs-lake starts from what the Lambda receives (base64 of
gzip) and does more: decoding, routing, stream-name and FireLens parsing, levels
and crash signatures. The peers start from the decoded JSON (already base64- and
gunzip-decoded, which ecs-lake's "without decoding" column subtracts) and only
unnest the log events into Parquet. Prints Markdown; paste it into
bench/RESULTS.md with the date and machine.
"""
import json
import os
import platform
import subprocess
import sys
import time

payloads = int(sys.argv[1]) if len(sys.argv) > 1 else 200
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "bench", "out", "logs")
os.makedirs(out, exist_ok=True)

subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "duckdb", "pyarrow"], check=True)
import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.json as pj  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

res = subprocess.run(
    ["taskset", "-c", "0", "cargo", "bench", "--quiet", "-p", "ecs-lake", "--bench", "logs", "--", str(payloads), out],
    cwd=root, check=True, capture_output=True, text=True,
)
lines = [json.loads(l) for l in res.stdout.strip().splitlines() if l.startswith("{")]
ours = {l["kind"]: l for l in lines if "seconds" in l}
big = [l for l in lines if l["kind"] == "payload"]


def best_of_3(f):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


con = duckdb.connect()
con.execute("SET threads = 1")
pa.set_cpu_count(1)
pa.set_io_thread_count(1)


def duck(src, dst):
    con.execute(
        f"COPY (SELECT logGroup AS log_group, logStream AS log_stream, e.id AS event_id, "
        f"make_timestamp(e.timestamp * 1000) AS time, e.message AS message "
        f"FROM (SELECT logGroup, logStream, unnest(logEvents) AS e FROM read_json('{src}', "
        f"format = 'newline_delimited', maximum_object_size = 67108864))) "
        f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"
    )


def arrow(src, dst):
    t = pj.read_json(src, read_options=pj.ReadOptions(use_threads=False, block_size=1 << 26))
    events = t["logEvents"]
    idx = pc.list_parent_indices(events)
    flat = pc.list_flatten(events)
    table = pa.table({
        "log_group": pc.take(t["logGroup"], idx),
        "log_stream": pc.take(t["logStream"], idx),
        "event_id": pc.struct_field(flat, "id"),
        "time": pc.cast(pc.multiply(pc.struct_field(flat, "timestamp"), 1000), pa.timestamp("us", "UTC")),
        "message": pc.struct_field(flat, "message"),
    })
    pq.write_table(table, dst, compression="zstd")


print(f"CloudWatch Logs payloads, one core, best of 3 ({platform.processor() or platform.machine()}, "
      f"duckdb {duckdb.__version__}, pyarrow {pa.__version__})\n")
print("| input | engine | log events/s | MB/s of decoded JSON | MB/s of message text | Parquet bytes |")
print("|---|---|---:|---:|---:|---:|")
for kind, src in [("application logs", "app.jsonl"), ("Container Insights", "perf.jsonl")]:
    o = ours[kind]
    n, mb, msg = o["events"], o["decoded_json_bytes"] / 1e6, o["message_bytes"] / 1e6
    label = f"{kind}: {o['payloads']} payloads, {n:,} events, {mb:.1f} MB decoded"
    s = o["seconds"]
    print(f"| {label} | ecs-lake: base64 + gunzip + normalize + Parquet | {n / s:,.0f} | {mb / s:.1f} | {msg / s:.1f} | {o['parquet_bytes']:,} |")
    s2 = s - o["decode_only_seconds"]
    print(f"| | ecs-lake without decoding (minus the measured decode time) | {n / s2:,.0f} | {mb / s2:.1f} | {msg / s2:.1f} | |")
    path = os.path.join(out, src)
    for name, f in [("DuckDB read_json + unnest -> COPY parquet", duck), ("pyarrow read_json + flatten -> write_table", arrow)]:
        dst = os.path.join(out, f"{name.split()[0]}.parquet")
        s = best_of_3(lambda: f(path, dst))
        print(f"| | {name} | {n / s:,.0f} | {mb / s:.1f} | {msg / s:.1f} | {os.path.getsize(dst):,} |")

subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ingest-logs", "--example", "peak_rss"], cwd=root, check=True)
print("\n| ingest-logs handler, one invocation | compressed | decoded JSON | log events | peak RSS | target |")
print("|---|---:|---:|---:|---:|---:|")
for b in big:
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    r = subprocess.run([os.path.join(target_dir, "release", "examples", "peak_rss"), b["file"]],
                       check=True, capture_output=True, text=True)
    m = json.loads(r.stdout)
    assert m["rows"] == b["events"], m
    compressed = b["event_bytes"] * 3 / 4 / 1e6
    target = "<= 64 MB" if "1mb" in b["file"] else "(limit case)"
    print(f"| {os.path.basename(b['file'])} | {compressed:.2f} MB | {b['decoded_json_bytes'] / 1e6:.1f} MB | {m['log_events']:,} "
          f"| {m['peak_rss_kib'] / 1024:.1f} MiB | {target} |")
