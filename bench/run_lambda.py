#!/usr/bin/env python3
"""Lambda binary size and cold init time for every Lambda (ingest-events, ingest-logs, poll-health, compact, report, subscribe-logs).

Usage: python3 bench/run_lambda.py [RUNS] [FUNCTION...]   (default 30, every function)
       ARM64_ARTIFACTS=sam/.aws-sam/build [ARM64_ONLY=1] python3 bench/run_lambda.py [RUNS] [FUNCTION...]

With ARM64_ARTIFACTS (the directory `sam build` writes), the arm64
`bootstrap` of each function is measured too, beside the x86_64 build: under
`qemu-aarch64` (Debian qemu-user, libc6-arm64-cross) on an x86_64 machine, so
its init is the emulator's, far slower than on Graviton, and is labelled so.

Builds the release binary (the same profile `cargo lambda build --release`
uses: lto, codegen-units=1, strip, panic=abort) for this machine, then starts
it RUNS times against a minimal Lambda Runtime API on loopback and measures
init: from process spawn to its first `GET /runtime/invocation/next`, i.e.
everything `main` does before it can take an event (tracing, config, the
aws-config chain and the S3 client). The Lambda sandbox's own start-up is not
included: it is the same for every runtime.
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
functions = sys.argv[2:] or [
    "ingest-events", "ingest-logs", "poll-health", "compact", "report", "subscribe-logs"
]
arm64 = os.environ.get("ARM64_ARTIFACTS")
# The template's logical id of each function (`sam build` writes <id>/bootstrap,
# or <id>-Shared/bootstrap for functions it builds once together: the report's
# binary also runs the watch).
logical_ids = {
    "ingest-events": "IngestEventsFunction", "ingest-logs": "IngestLogsFunction",
    "poll-health": "PollHealthFunction", "compact": "CompactFunction",
    "report": "ReportFunction", "subscribe-logs": "SubscribeLogsFunction",
}
build = ["cargo", "build", "--release", "--quiet"]
for f in functions:
    build += ["-p", f]
arm64_only = arm64 and os.environ.get("ARM64_ONLY") == "1"
if not arm64_only:
    subprocess.run(build, cwd=root, check=True)
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))

first_poll = threading.Event()
polled_at = [0.0]


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.endswith("/runtime/invocation/next") and not first_poll.is_set():
            polled_at[0] = time.perf_counter()
            first_poll.set()
        # Never hand out an event: the process is killed after the first poll.
        time.sleep(5)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = {
    "PATH": os.environ.get("PATH", ""),
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIABENCH",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "LAKE_BUCKET": "bench-lake",
    "CLUSTERS": "bench",
    "DESTINATION_ARN": "arn:aws:lambda:us-east-1:111122223333:function:bench",
}


def cold_starts(binary, emulate=False):
    inits = []
    command = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", binary] if emulate else [binary]
    for _ in range(runs):
        first_poll.clear()
        t0 = time.perf_counter()
        p = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not first_poll.wait(60):
            p.kill()
            sys.exit(f"{binary} never polled for an event")
        inits.append((polled_at[0] - t0) * 1000)
        p.kill()
        p.wait()
    return sorted(inits)


def row(name, binary, emulate=False):
    inits = cold_starts(binary, emulate)
    size = os.path.getsize(binary) / 1e6
    p90 = inits[int(len(inits) * 0.9) - 1]
    return f"| {name} | {size:.1f} MB | {statistics.median(inits):.1f} ms | {p90:.1f} ms |"


if not arm64_only:
    print(f"release builds for {os.uname().machine}, {runs} cold starts each\n")
    print("| function | binary size (stripped) | init, median | init, p90 |")
    print("|---|---:|---:|---:|")
    for f in functions:
        print(row(f, os.path.join(target, "release", f)))
if arm64:
    print(f"\narm64 artifacts of `sam build` ({arm64}), under qemu-aarch64 on {os.uname().machine}: "
          "emulated init, not Graviton's\n")
    print("| function | binary size (stripped) | init under qemu, median | init under qemu, p90 |")
    print("|---|---:|---:|---:|")
    for f in functions:
        built = os.path.join(root, arm64, logical_ids[f])
        if not os.path.isdir(built):
            built += "-Shared"
        print(row(f, os.path.join(built, "bootstrap"), emulate=True))
server.shutdown()
print("\nTargets: <= 15 MB, init <= 30 ms (the ingest functions; compact and report run on a schedule).")
