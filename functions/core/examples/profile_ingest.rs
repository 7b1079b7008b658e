//! Normalize and encode a benchmark input once, with nothing else in the
//! process: the program the instruction counts in `bench/RESULTS.md`
//! (issue 21) come from. Wall time on a shared machine varies by up to 1.6x
//! between runs of the same binary; callgrind's counts do not.
//!
//! ```text
//! # inputs: what the benchmarks write, cut to the lines profiled (the whole
//! # file is read, so a 322 MB file would add its reading to the counts)
//! python3 bench/run_ingest.py 200000 --sim     # bench/out/sim_task_events.jsonl
//! python3 bench/run_logs.py 200                # bench/out/logs/app.jsonl, perf.jsonl
//! head -20000 bench/out/sim_task_events.jsonl > bench/out/events-20k.jsonl
//! head -20 bench/out/logs/app.jsonl > bench/out/app-20.jsonl
//! # a release build with symbols (the release profile strips them)
//! CARGO_TARGET_DIR=target-prof CARGO_PROFILE_RELEASE_STRIP=false \
//!   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
//!   cargo build --release -p ecs-lake --example profile_ingest
//! valgrind --tool=callgrind target-prof/release/examples/profile_ingest \
//!   events bench/out/events-20k.jsonl 20000
//! valgrind --tool=callgrind target-prof/release/examples/profile_ingest \
//!   logs bench/out/app-20.jsonl 20
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//! ```
//!
//! `events FILE N`: the first N lines of FILE, one EventBridge event each,
//! in batches of 10,000 (an SQS batch at its largest, as the `normalize`
//! bench). `logs FILE N`: the first N lines, one decoded CloudWatch Logs
//! payload each, in batches of 10 (a Kinesis batch, as the `logs` bench).
//! An optional fourth argument repeats the whole run that many times and
//! prints the best times.

use std::error::Error;
use std::time::Instant;

use ecs_lake::normalize::Normalizer;
use ecs_lake::parquet_io;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: profile_ingest <events|logs> FILE N [ROUNDS]");
        std::process::exit(2)
    };
    let logs = match args.first().map(String::as_str) {
        Some("events") => false,
        Some("logs") => true,
        _ => usage(),
    };
    let (Some(file), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>())) else {
        usage()
    };
    let rounds = match args.get(3).map(|r| r.parse::<usize>()) {
        None => 1,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => usage(),
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let lines: Vec<&str> = text.lines().take(n).collect();
    let per_batch = if logs { 10 } else { 10_000 };

    let (mut best_normalize, mut best_encode) = (f64::MAX, f64::MAX);
    let (mut rows, mut bytes) = (0, 0);
    for _ in 0..rounds {
        let (mut normalize, mut encode) = (0.0, 0.0);
        (rows, bytes) = (0, 0);
        for (b, batch) in lines.chunks(per_batch).enumerate() {
            let started = Instant::now();
            let size = batch.iter().map(|l| l.len()).sum();
            let mut norm = Normalizer::with_capacity(0, batch.len(), size);
            for (i, line) in batch.iter().enumerate() {
                let input = (b * per_batch + i) as u32;
                if logs {
                    norm.push_logs_payload(input, line.as_bytes());
                } else {
                    norm.push_event(input, line.as_bytes());
                }
            }
            let (parts, _quarantined) = norm.finish()?;
            normalize += started.elapsed().as_secs_f64();
            let started = Instant::now();
            for part in parts {
                rows += part.batch.num_rows();
                bytes += parquet_io::encode(&part.batch)?.len();
            }
            encode += started.elapsed().as_secs_f64();
        }
        best_normalize = best_normalize.min(normalize);
        best_encode = best_encode.min(encode);
    }
    println!(
        "{} inputs -> {rows} rows, {bytes} Parquet bytes; best of {rounds}: normalize {best_normalize:.3} s, encode {best_encode:.3} s",
        lines.len()
    );
    Ok(())
}
