#!/usr/bin/env bash
# Runs every fuzz target for a fixed time and prints one line per target
# (executions, coverage, corpus, crashes). Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`). Usage:
#   fuzz/run.sh [seconds-per-target=60] [target ...]
# A crash leaves its input in fuzz/artifacts/<target>/ and makes this exit 1;
# replay it with `cargo +nightly fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
python3 seed.py
cargo +nightly fuzz build -O
status=0
mkdir -p logs
for t in "${targets[@]}"; do
  # -malloc_limit_mb: any single allocation over 256 MiB is reported as a
  # crash (unbounded allocation from input); payloads up to 1 MiB.
  if ! cargo +nightly fuzz run -O "$t" -- \
      -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=2048 -malloc_limit_mb=256 \
      -print_final_stats=1 >"logs/$t.log" 2>&1; then
    status=1
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1 | grep -oE 'cov: [0-9]+' | awk '{print $2}')
  corpus=$(ls "corpus/$t" | wc -l)
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  printf '%-16s %6ss  execs %10s  cov %6s  corpus %6s  crashes %s\n' \
    "$t" "$secs" "${execs:-?}" "${cov:-?}" "$corpus" "$crashes"
done
exit $status
