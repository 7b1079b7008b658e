//! Sustained load through the real handlers: two simulator streams (a scaled
//! fleet: Container Insights records, application logs and ECS events; and
//! task churn: ECS task events) are fed, as the Lambdas receive them (SQS
//! batches of 100 events, CloudWatch Logs subscription payloads), to
//! `ingest-events` and `ingest-logs`, writing through aws-sdk-s3 to the
//! in-process S3 endpoint. Paced at `--rate` events per second (ECS events +
//! log events) for `--minutes`; prints throughput, handler latency
//! percentiles, RSS over time and the row accounting (rows in = rows out).
//!
//! ```text
//! cargo run --release -p ecs-lake-tests --bin ecs-load -- --rate 10000 --minutes 10
//! ```
//!
//! Memory is bounded by construction: the simulator streams, the queue
//! between it and the handlers holds at most `QUEUE` invocations, and each
//! invocation's buffers are dropped when it returns. The run checks it: RSS
//! is sampled every second.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a load tool: a panic is a failed run

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ecs_lake_aws::S3Store;
use ecs_lake_tests::S3Server;
use ecs_sim::{DeploymentTruth, Preset, Sink, TaskTruth};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::{Mutex, mpsc};

/// Invocations waiting between the simulator and the handlers.
const QUEUE: usize = 32;
/// Events per SQS batch (the template's `BatchSize`).
const SQS_BATCH: usize = 100;
const NOW: i64 = 1_800_000_000_000_000;

#[derive(Parser)]
#[command(about = "Sustained simulator load through the ingest handlers")]
struct Args {
    /// Target events per second (ECS events + log events); 0 = as fast as possible.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// How long to run.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Concurrent handler invocations (Lambda instances).
    #[arg(long, default_value_t = 2)]
    instances: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

enum Invocation {
    Sqs { json: String, events: u64 },
    Logs { json: String },
}

/// Turns the simulator's output into invocations on the queue.
struct Feed {
    tx: mpsc::Sender<Invocation>,
    pending: Vec<String>,
    batch: u64,
    stop: Arc<AtomicBool>,
}

impl Feed {
    fn send(&mut self, inv: Invocation) {
        if self.stop.load(Ordering::Relaxed) || self.tx.blocking_send(inv).is_err() {
            // The run is over: park this generator thread until the process exits.
            loop {
                std::thread::park();
            }
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let records: Vec<_> = self
            .pending
            .drain(..)
            .enumerate()
            .map(|(i, body)| {
                json!({"messageId": format!("load-{}-{i}", self.batch), "body": body, "eventSource": "aws:sqs"})
            })
            .collect();
        let events = records.len() as u64;
        self.batch += 1;
        let json = json!({ "Records": records }).to_string();
        self.send(Invocation::Sqs { json, events });
    }
}

impl Sink for Feed {
    fn event(&mut self, json: String) {
        self.pending.push(json);
        if self.pending.len() == SQS_BATCH {
            self.flush();
        }
    }
    fn log_payload(&mut self, data: String) {
        let json = json!({"awslogs": {"data": data}}).to_string();
        self.send(Invocation::Logs { json });
    }
    fn task(&mut self, _: TaskTruth) {}
    fn deployment(&mut self, _: DeploymentTruth) {}
}

#[derive(Default)]
struct Totals {
    ecs_events: AtomicU64,
    log_events: AtomicU64,
    rows: AtomicU64,
    quarantined: AtomicU64,
    failed: AtomicU64,
    ecs_written: AtomicU64,
    /// The largest invocation payload so far, bytes.
    largest: AtomicU64,
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Rows per table in the lake directory, from the Parquet footers.
fn lake_rows(root: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut rows = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let table = path
                    .strip_prefix(root)
                    .ok()
                    .and_then(|p| p.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .unwrap_or_default();
                let file = std::fs::File::open(&path).unwrap();
                let n = SerializedFileReader::new(file)
                    .unwrap()
                    .metadata()
                    .file_metadata()
                    .num_rows() as u64;
                *rows.entry(table).or_insert(0) += n;
            }
        }
    }
    rows
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.instances.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(args));
    // The generators are parked mid-stream; end them with the process.
    std::process::exit(0);
}

async fn run(args: Args) {
    let server = S3Server::start(&["lake"]);
    let store = Arc::new(S3Store::new(server.client(), "lake", "ecs"));
    let (tx, rx) = mpsc::channel::<Invocation>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let stop = Arc::new(AtomicBool::new(false));

    // Two streams: a scaled fleet for 90 days (logs-heavy) and task churn (events-heavy).
    let streams = [
        Preset::scale(8, 4, 24.0 * 90.0),
        Preset::churn(400, 24.0 * 30.0),
    ];
    for (i, preset) in streams.into_iter().enumerate() {
        let mut feed = Feed {
            tx: tx.clone(),
            pending: Vec::new(),
            batch: (i as u64) << 40,
            stop: Arc::clone(&stop),
        };
        let seed = args.seed + i as u64;
        std::thread::spawn(move || {
            ecs_sim::simulate_into(&preset, seed, &mut feed);
            feed.flush();
        });
    }
    drop(tx);

    let totals = Arc::new(Totals::default());
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.instances.max(1) {
        let (rx, store, totals, stop) = (
            Arc::clone(&rx),
            Arc::clone(&store),
            Arc::clone(&totals),
            Arc::clone(&stop),
        );
        let rate = args.rate;
        workers.push(tokio::spawn(async move {
            let mut sqs_ms = Vec::new();
            let mut logs_ms = Vec::new();
            while start.elapsed() < duration && !stop.load(Ordering::Relaxed) {
                let Some(inv) = rx.lock().await.recv().await else {
                    break;
                };
                let began = Instant::now();
                let bytes = match &inv {
                    Invocation::Sqs { json, .. } | Invocation::Logs { json } => json.len() as u64,
                };
                totals.largest.fetch_max(bytes, Ordering::Relaxed);
                match inv {
                    Invocation::Sqs { json, events } => {
                        let payload = RawValue::from_string(json).unwrap();
                        let (_, report) = ingest_events::handle(store.as_ref(), &payload, NOW)
                            .await
                            .expect("SQS invocations answer with batchItemFailures");
                        sqs_ms.push(began.elapsed().as_micros() as u64);
                        totals.ecs_events.fetch_add(events, Ordering::Relaxed);
                        totals
                            .ecs_written
                            .fetch_add(report.written() as u64, Ordering::Relaxed);
                        totals
                            .quarantined
                            .fetch_add(report.quarantined() as u64, Ordering::Relaxed);
                        totals
                            .failed
                            .fetch_add(report.failed() as u64, Ordering::Relaxed);
                    }
                    Invocation::Logs { json } => {
                        let payload = RawValue::from_string(json).unwrap();
                        let (_, report) = ingest_logs::handle(store.as_ref(), &payload, NOW)
                            .await
                            .expect("the in-process S3 accepts every write");
                        logs_ms.push(began.elapsed().as_micros() as u64);
                        let l = &report.logs;
                        totals
                            .log_events
                            .fetch_add(l.log_events as u64, Ordering::Relaxed);
                        totals.rows.fetch_add(l.rows as u64, Ordering::Relaxed);
                        totals
                            .quarantined
                            .fetch_add(l.quarantined as u64, Ordering::Relaxed);
                        totals
                            .failed
                            .fetch_add(report.failed() as u64, Ordering::Relaxed);
                    }
                }
                if rate > 0 {
                    let done = totals.ecs_events.load(Ordering::Relaxed)
                        + totals.log_events.load(Ordering::Relaxed);
                    let due = Duration::from_secs_f64(done as f64 / rate as f64);
                    if let Some(ahead) = due.checked_sub(start.elapsed()) {
                        tokio::time::sleep(ahead.min(Duration::from_secs(5))).await;
                    }
                }
            }
            (sqs_ms, logs_ms)
        }));
    }

    // RSS every second; a progress line every 30 s.
    let sampler = {
        let (totals, stop) = (Arc::clone(&totals), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let t = start.elapsed().as_secs_f64();
                let rss = rss_mib();
                samples.push((t, rss));
                if samples.len() % 30 == 0 {
                    let events = totals.ecs_events.load(Ordering::Relaxed)
                        + totals.log_events.load(Ordering::Relaxed);
                    eprintln!(
                        "{t:>6.0} s  {events:>10} events  {:>8.0}/s  RSS {rss:.0} MiB  largest invocation {} KiB",
                        events as f64 / t,
                        totals.largest.load(Ordering::Relaxed) / 1024
                    );
                }
            }
            samples
        })
    };

    let mut sqs = Vec::new();
    let mut logs = Vec::new();
    for w in workers {
        let (s, l) = w.await.unwrap();
        sqs.extend(s);
        logs.extend(l);
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let samples = sampler.await.unwrap();
    sqs.sort_unstable();
    logs.sort_unstable();

    let ecs = totals.ecs_events.load(Ordering::Relaxed);
    let log_events = totals.log_events.load(Ordering::Relaxed);
    let window = |from: f64, to: f64| {
        samples
            .iter()
            .filter(|(t, _)| (from..to).contains(t))
            .map(|(_, r)| *r)
            .fold(0.0_f64, f64::max)
    };
    // Rows read back from the Parquet footers of every object written.
    let lake_rows = lake_rows(&server.bucket_dir("lake").join("ecs"));
    let table = |name: &str| lake_rows.get(name).copied().unwrap_or(0);
    let peak = samples.iter().map(|(_, r)| *r).fold(0.0_f64, f64::max);
    let minute = 60.0_f64.min(elapsed / 4.0);
    let summary = json!({
        "seconds": elapsed.round(),
        "target_rate": args.rate,
        "instances": args.instances,
        "ecs_events": ecs,
        "log_events": log_events,
        "events_per_s": ((ecs + log_events) as f64 / elapsed).round(),
        "sqs_invocations": sqs.len(),
        "sqs_p50_ms": percentile(&sqs, 0.50),
        "sqs_p99_ms": percentile(&sqs, 0.99),
        "sqs_max_ms": percentile(&sqs, 1.0),
        "logs_invocations": logs.len(),
        "logs_p50_ms": percentile(&logs, 0.50),
        "logs_p99_ms": percentile(&logs, 0.99),
        "logs_max_ms": percentile(&logs, 1.0),
        "rss_first_minute_mib": window(0.0, minute).round(),
        "rss_last_minute_mib": window(elapsed - minute, elapsed + 1.0).round(),
        "rss_peak_mib": peak.round(),
        "ecs_written": totals.ecs_written.load(Ordering::Relaxed),
        "log_rows": totals.rows.load(Ordering::Relaxed),
        "quarantined": totals.quarantined.load(Ordering::Relaxed),
        "failed": totals.failed.load(Ordering::Relaxed),
        "largest_invocation_kib": totals.largest.load(Ordering::Relaxed) / 1024,
        "lake_rows": lake_rows,
        "ecs_events_lost": totals.ecs_written.load(Ordering::Relaxed) as i64
            - (table("task_events") + table("service_events") + table("instance_events")) as i64,
        "log_rows_lost": totals.rows.load(Ordering::Relaxed) as i64
            - (table("logs") + table("metrics")) as i64,
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
}
