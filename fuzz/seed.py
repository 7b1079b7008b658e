#!/usr/bin/env python3
"""Seeds each fuzz target's corpus (fuzz/corpus/<target>/) from the real AWS
payloads in tests/fixtures/aws and a few hand-written queries, so libFuzzer
starts from well-formed inputs. Idempotent; the corpus is not committed."""
import base64, json, pathlib, zlib

ROOT = pathlib.Path(__file__).resolve().parent
FIX = ROOT.parent / "tests" / "fixtures" / "aws"
CORPUS = ROOT / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    ecs = sorted(FIX.glob("ecs_*.json"))
    for f in ecs:
        put("event_body", f.name, f.read_bytes())
    records = [
        {"messageId": str(i), "receiptHandle": "r", "body": f.read_text(),
         "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
         "awsRegion": "us-east-1"}
        for i, f in enumerate(ecs)
    ]
    put("sqs_invocation", "batch.json", json.dumps({"Records": records}))
    put("sqs_invocation", "direct.json", ecs[0].read_bytes())
    put("sqs_invocation", "empty.json", '{"Records": []}')

    for f in sorted(FIX.glob("cwl_*.json")):
        put("logs_payload", f.name, f.read_bytes())
        doc = json.loads(f.read_text())
        data = doc.get("awslogs", {}).get("data")
        if data:
            put("logs_payload", f.name + ".gz", base64.b64decode(data))
            # gzip or zlib, as CloudWatch Logs and its test payloads send them
            put("logs_payload", f.name + ".json", zlib.decompress(base64.b64decode(data), 47))
    for f in sorted(FIX.glob("ci_perf_*.json")):
        put("log_message", f.name, b"\x00" + json.dumps(json.loads(f.read_text())).encode())
    lines = [
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "java.lang.OutOfMemoryError: Java heap space",
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "Traceback (most recent call last):",
        "Error: connect ETIMEDOUT 10.0.0.1:5432",
        '{"level":"error","msg":"GET https://user:hunter2@db.internal/ failed","auth":"Bearer abcdefgh12345678"}',
        "AKIAIOSFODNN7EXAMPLE used for s3",
    ]
    for i, line in enumerate(lines):
        put("log_message", f"app{i}", b"\x01" + line.encode())

    for f in sorted(FIX.glob("*.json")):
        put("backfill_file", f.name, f.read_bytes())
    put("backfill_file", "insights.csv",
        "@timestamp,@message,@log,@logStream\n"
        "2024-05-19 06:10:16.682,\"{\"\"level\"\":\"\"error\"\"}\",111122223333:/ecs/api,ecs/api/0123456789abcdef0123456789abcdef\n")

    put("health_samples", "samples.json", json.dumps([
        {"time": 1795521600000000, "cluster": "prod", "service": "api", "task_id": "0123456789abcdef0123456789abcdef",
         "family": "api", "revision": 42, "container": None, "status": "HEALTHY"},
        {"time": 1795521600000000, "cluster": "prod", "service": "api", "task_id": "0123456789abcdef0123456789abcdef",
         "family": "api", "revision": 42, "container": "app", "status": "UNHEALTHY"},
    ]))

    queries = [
        "exit 137 by revision last 7d", "oom by service last 24h", "stops by cause since 2026-11-01",
        "unhealthy by deployment last 7d where service=api", "memory peak by revision last 30d",
        "top 10 tasks by memory peak last 24h", 'logs "heap out of memory" by revision last 7d',
        "EXIT 137 BY Rev, SVC Last 7 Days WHERE Svc != api AND rev=api:42 TOP 5",
        "time to healthy by launch type", "crash loops by exit code", "oom for api in prod",
        "stops since 2026-11-01T10:00 until 2026-11-02", "deployments by outcome last 2w",
    ]
    for i, q in enumerate(queries):
        put("query_parser", f"q{i}", q)


if __name__ == "__main__":
    main()
