//! Benchmark: normalization + Parquet encoding of ECS Task State Change events,
//! single-threaded. Run through `bench/run_ingest.py`, which also measures DuckDB
//! on the same JSON lines in the same run.
//!
//! `cargo bench -p ecs-lake --bench normalize -- <events> <jsonl-path>`
//! writes the generated events to `<jsonl-path>` (from the real payloads in
//! `tests/fixtures/aws/`, with fresh ids, task ARNs, times and versions), then
//! prints one JSON line with the measurement. With a third argument `read`, it
//! reads the first `<events>` lines of `<jsonl-path>` instead (simulator output).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a panic is a failed run

use std::io::Write;
use std::time::Instant;

use ecs_lake::normalize::Normalizer;
use ecs_lake::parquet_io;

/// Events per normalize+encode call: the largest SQS batch a Lambda receives.
const BATCH: usize = 10_000;

const TEMPLATES: &[&str] = &[
    "ecs_task_stopped_fargate_essential_exit2_fivexl.json",
    "ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json",
    "ecs_task_stopped_ec2_bridge_userinitiated_aws-samples.json",
    "ecs_task_running_fargate_pv1.3.0_awsdocs.json",
    "ecs_task_running_fargate_guardduty_sidecar_docs2025.json",
];

fn generate(n: usize) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/aws/");
    let templates: Vec<serde_json::Value> = TEMPLATES
        .iter()
        .map(|t| serde_json::from_slice(&std::fs::read(format!("{dir}{t}")).unwrap()).unwrap())
        .collect();
    let start = 1_795_000_000i64; // 2026-11-18
    (0..n)
        .map(|i| {
            let mut e = templates[i % templates.len()].clone();
            let task_id = format!("{:032x}", 0x5eed_0000_0000u64 as u128 * 7919 + i as u128);
            let t = chrono::DateTime::from_timestamp(
                start + (i as i64) * 3,
                (i as u32 % 1000) * 1_000_000,
            )
            .unwrap();
            e["id"] = format!("{:08x}-0000-4000-8000-{:012x}", i, i).into();
            e["time"] = t.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
            let arn = e["detail"]["taskArn"].as_str().unwrap().to_owned();
            let new_arn = format!("{}/{task_id}", arn.rsplit_once('/').unwrap().0);
            e["detail"]["taskArn"] = new_arn.clone().into();
            e["resources"] = serde_json::json!([new_arn]);
            e["detail"]["version"] = ((i % 7) + 1).into();
            e["detail"]["updatedAt"] = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into();
            serde_json::to_string(&e).unwrap()
        })
        .collect()
}

fn main() {
    // cargo bench passes `--bench`; take the first two other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().map_or(200_000, |s| s.parse().expect("events"));
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "bench/out/task_events.jsonl".into());

    let lines: Vec<String> = if args.get(2).is_some_and(|a| a == "read") {
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .take(n)
            .map(str::to_owned)
            .collect()
    } else {
        let lines = generate(n);
        if let Some(dir) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for l in &lines {
            writeln!(f, "{l}").unwrap();
        }
        f.flush().unwrap();
        lines
    };
    let n = lines.len();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();

    let (mut best, mut best_normalize, mut best_encode) = (f64::MAX, 0.0, 0.0);
    let mut parquet_bytes = 0;
    for _round in 0..3 {
        let t0 = Instant::now();
        let (mut normalize_s, mut encode_s) = (0.0, 0.0);
        parquet_bytes = 0;
        for (b, chunk) in lines.chunks(BATCH).enumerate() {
            let t = Instant::now();
            let bytes = chunk.iter().map(|l| l.len()).sum();
            let mut n = Normalizer::with_capacity(0, chunk.len(), bytes);
            for (i, l) in chunk.iter().enumerate() {
                n.push_event((b * BATCH + i) as u32, l.as_bytes());
            }
            let (parts, quarantined) = n.finish().unwrap();
            assert!(quarantined.is_empty());
            normalize_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            for p in parts {
                parquet_bytes += parquet_io::encode(&p.batch).unwrap().len();
            }
            encode_s += t.elapsed().as_secs_f64();
        }
        let total = t0.elapsed().as_secs_f64();
        if total < best {
            (best, best_normalize, best_encode) = (total, normalize_s, encode_s);
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "events": n,
            "json_bytes": bytes,
            "seconds": best,
            "normalize_seconds": best_normalize,
            "encode_seconds": best_encode,
            "events_per_s": n as f64 / best,
            "json_mb_per_s": bytes as f64 / best / 1e6,
            "parquet_bytes": parquet_bytes,
            "path": path,
        })
    );
}
