//! Benchmark: CloudWatch Logs payloads -> decode (base64, gunzip) -> normalize
//! -> Parquet, single-threaded. Run through `bench/run_logs.py`, which also
//! measures DuckDB and pyarrow on the same decoded JSON in the same run.
//!
//! `cargo bench -p ecs-lake --bench logs -- <payloads> <out-dir>` generates
//! `<payloads>` application-log payloads and a tenth as many Container Insights
//! payloads (realistic lines: JSON and text app logs, stack traces, the odd
//! crash line; CI records from the real fixtures with fresh ids), writes the
//! decoded payloads as JSON lines (`app.jsonl`, `perf.jsonl`) for the peers and
//! one 1 MB-compressed subscription event (`awslogs_1mb.json`) for the
//! handler's peak-RSS measurement, then prints one JSON line per kind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a panic is a failed run

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ecs_lake::normalize::Normalizer;
use ecs_lake::parquet_io;
use serde_json::{Value, json};

/// Log events per payload: CloudWatch Logs batches up to 10,000 events / 1 MiB.
const EVENTS_PER_PAYLOAD: usize = 4_000;
/// Payloads per normalize+encode call (a Kinesis batch).
const PAYLOADS_PER_BATCH: usize = 10;

/// A small deterministic generator (xorshift), so every run sees the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: &[&str] = &[
    "/api/orders",
    "/api/cart",
    "/health",
    "/api/users",
    "/api/search",
];
const LEVELS: &[&str] = &["info", "info", "info", "info", "debug", "warn", "error"];

fn app_line(r: &mut Rng, t_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(t_ms).unwrap();
    match r.below(20) {
        0..=9 => json!({
            "level": LEVELS[r.below(LEVELS.len() as u64) as usize],
            "time": t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "msg": format!("{} {}/{} {}", ["GET", "POST"][r.below(2) as usize], PATHS[r.below(5) as usize], r.below(100_000), [200, 200, 201, 404, 500][r.below(5) as usize]),
            "duration_ms": r.below(2_000),
            "request_id": format!("{:016x}{:016x}", r.next(), r.next()),
        })
        .to_string(),
        10..=16 => format!(
            "{} {:>5} 1 --- [nio-8080-exec-{}] c.e.orders.OrderController : created order {} for customer {} in {} ms",
            t.format("%Y-%m-%d %H:%M:%S%.3f"),
            ["INFO", "INFO", "WARN", "DEBUG"][r.below(4) as usize],
            r.below(16),
            r.below(10_000_000),
            r.below(100_000),
            r.below(500)
        ),
        17 => format!(
            "\tat com.example.orders.OrderService.place(OrderService.java:{})",
            r.below(400)
        ),
        18 => "Received SIGTERM, starting graceful shutdown".to_owned(),
        _ => match r.below(4) {
            0 => "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory".to_owned(),
            1 => "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space".to_owned(),
            2 => "Killed".to_owned(),
            _ => format!("worker {} finished batch {}", r.below(64), r.below(1_000_000)),
        },
    }
}

fn perf_record(r: &mut Rng, templates: &[Value], t_ms: i64) -> String {
    let mut rec = templates[r.below(templates.len() as u64) as usize].clone();
    rec["TaskId"] = format!("{:016x}{:016x}", r.next(), r.next()).into();
    rec["Timestamp"] = t_ms.into();
    rec["MemoryUtilized"] = r.below(2048).into();
    rec["CpuUtilized"] = (r.below(10_000) as f64 / 7.0).into();
    rec.to_string()
}

fn payload_doc(group: &str, stream: &str, events: Vec<(i64, String)>) -> String {
    let events: Vec<Value> = events
        .into_iter()
        .enumerate()
        .map(|(i, (t, m))| json!({"id": format!("{:056}", t as u128 * 10_000 + i as u128), "timestamp": t, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group, "logStream": stream,
        "subscriptionFilters": ["ecs-lake"], "logEvents": events,
    })
    .to_string()
}

fn gzip_base64(doc: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(doc.as_bytes()).unwrap();
    STANDARD.encode(gz.finish().unwrap())
}

struct Kind {
    name: &'static str,
    docs: Vec<String>,
    payloads: Vec<String>,
    message_bytes: usize,
    events: usize,
}

fn generate(n: usize, r: &mut Rng) -> (Kind, Kind) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/aws/");
    let templates: Vec<Value> = [
        "ci_perf_Container_awsdocs.json",
        "ci_perf_Task_emf_awsdocs.json",
        "ci_perf_Task_fargate_logevent_message_uktrade.json",
    ]
    .iter()
    .map(|t| serde_json::from_slice(&std::fs::read(format!("{dir}{t}")).unwrap()).unwrap())
    .collect();
    let start = 1_795_000_000_000i64; // 2026-11-18
    let mut app = Kind {
        name: "application logs",
        docs: vec![],
        payloads: vec![],
        message_bytes: 0,
        events: 0,
    };
    let mut perf = Kind {
        name: "Container Insights",
        docs: vec![],
        payloads: vec![],
        message_bytes: 0,
        events: 0,
    };
    for p in 0..n {
        let task = format!("{:016x}{:016x}", r.next(), r.next());
        let t0 = start + p as i64 * 60_000;
        let events: Vec<(i64, String)> = (0..EVENTS_PER_PAYLOAD)
            .map(|i| (t0 + i as i64 * 10, app_line(r, t0 + i as i64 * 10)))
            .collect();
        app.message_bytes += events.iter().map(|(_, m)| m.len()).sum::<usize>();
        app.events += events.len();
        app.docs.push(payload_doc(
            "/ecs/orders",
            &format!("ecs/web/{task}"),
            events,
        ));
        if p % 10 == 0 {
            let events: Vec<(i64, String)> = (0..EVENTS_PER_PAYLOAD / 4)
                .map(|i| (t0, perf_record(r, &templates, t0 + i as i64)))
                .collect();
            perf.message_bytes += events.iter().map(|(_, m)| m.len()).sum::<usize>();
            perf.events += events.len();
            perf.docs.push(payload_doc(
                "/aws/ecs/containerinsights/prod/performance",
                "FargateTelemetry-1",
                events,
            ));
        }
    }
    for k in [&mut app, &mut perf] {
        k.payloads = k.docs.iter().map(|d| gzip_base64(d)).collect();
    }
    (app, perf)
}

fn measure(kind: &Kind) -> Value {
    let mut best = (f64::MAX, 0.0, 0.0, 0);
    for _round in 0..3 {
        let t0 = Instant::now();
        let (mut normalize_s, mut encode_s, mut parquet_bytes) = (0.0, 0.0, 0);
        for (b, batch) in kind.payloads.chunks(PAYLOADS_PER_BATCH).enumerate() {
            let t = Instant::now();
            let mut n = Normalizer::new(0);
            for (i, p) in batch.iter().enumerate() {
                n.push_logs_payload((b * PAYLOADS_PER_BATCH + i) as u32, p.as_bytes());
            }
            let counts = n.log_counts();
            assert_eq!(counts.rows, counts.log_events, "nothing quarantined");
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
        if total < best.0 {
            best = (total, normalize_s, encode_s, parquet_bytes);
        }
    }
    let (seconds, normalize_s, encode_s, parquet_bytes) = best;
    // The decoding share alone (base64 + inflate), best of 3.
    let decode_s = (0..3)
        .map(|_| {
            let t = Instant::now();
            for p in &kind.payloads {
                std::hint::black_box(
                    ecs_lake::sources::logs::decode::decode_payload(p.as_bytes()).unwrap(),
                );
            }
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    let decoded: usize = kind.docs.iter().map(String::len).sum();
    let encoded: usize = kind.payloads.iter().map(String::len).sum();
    json!({
        "kind": kind.name,
        "payloads": kind.payloads.len(),
        "events": kind.events,
        "message_bytes": kind.message_bytes,
        "decoded_json_bytes": decoded,
        "base64_bytes": encoded,
        "seconds": seconds,
        "decode_normalize_seconds": normalize_s,
        "encode_seconds": encode_s,
        "decode_only_seconds": decode_s,
        "events_per_s": kind.events as f64 / seconds,
        "message_mb_per_s": kind.message_bytes as f64 / seconds / 1e6,
        "decoded_json_mb_per_s": decoded as f64 / seconds / 1e6,
        "parquet_bytes": parquet_bytes,
    })
}

/// One subscription event whose payload is `compressed` bytes or more
/// compressed, or `decoded` bytes or more decoded, whichever comes first.
fn big_event(r: &mut Rng, compressed: usize, decoded: usize) -> (String, usize, usize) {
    let mut events = Vec::new();
    let t0 = 1_795_000_000_000i64;
    loop {
        for i in 0..2_000 {
            let t = t0 + (events.len() + i) as i64;
            events.push((t, app_line(r, t)));
        }
        let doc = payload_doc(
            "/ecs/orders",
            "ecs/web/0123456789abcdef0123456789abcdef",
            events.clone(),
        );
        let data = gzip_base64(&doc);
        if data.len() * 3 / 4 >= compressed || doc.len() >= decoded {
            return (
                json!({"awslogs": {"data": data}}).to_string(),
                doc.len(),
                events.len(),
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().map_or(200, |s| s.parse().expect("payloads"));
    let out = Path::new(args.get(1).map_or("bench/out", String::as_str)).to_owned();
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (app, perf) = generate(n, &mut rng);
    for (kind, file) in [(&app, "app.jsonl"), (&perf, "perf.jsonl")] {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out.join(file)).unwrap());
        for d in &kind.docs {
            writeln!(f, "{d}").unwrap();
        }
        f.flush().unwrap();
    }
    for kind in [&app, &perf] {
        println!("{}", measure(kind));
    }
    // For the handler's peak RSS: a 1 MB compressed payload, and one just
    // under the decoding limit.
    let limit = ecs_lake::sources::logs::decode::MAX_DECODED_BYTES - 600 * 1024;
    for (file, compressed, decoded) in [
        ("awslogs_1mb.json", 1_000_000, usize::MAX),
        ("awslogs_limit.json", usize::MAX, limit),
    ] {
        let (event, decoded, events) = big_event(&mut rng, compressed, decoded);
        std::fs::write(out.join(file), &event).unwrap();
        println!(
            "{}",
            json!({"kind": "payload", "file": out.join(file), "event_bytes": event.len(), "decoded_json_bytes": decoded, "events": events})
        );
    }
}
