//! Peak memory of one `ingest-logs` invocation: reads a subscription event
//! (`{"awslogs":{"data":...}}`) from a file, runs the real handler against a
//! local lake in a temporary directory, and prints the process's peak RSS
//! (`VmHWM`) before and after. Run through `bench/run_logs.py`.
//!
//! `cargo run --release -p ingest-logs --example peak_rss -- <event.json>`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement: a panic is a failed run

use ecs_lake_aws::LocalStore;
use serde_json::value::RawValue;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: peak_rss <event.json>");
    let lake = tempfile::tempdir().unwrap();
    let store = LocalStore::new(lake.path());
    let before = peak_rss_kib();
    // As the runtime hands it over: the invocation's JSON text.
    let payload: Box<RawValue> =
        RawValue::from_string(std::fs::read_to_string(&path).unwrap()).unwrap();
    let (_, report) = ingest_logs::handle(&store, &payload, 0).await.unwrap();
    let after = peak_rss_kib();
    println!(
        "{}",
        serde_json::json!({
            "event_bytes": payload.get().len(),
            "log_events": report.logs.log_events,
            "rows": report.logs.rows,
            "written": report.written(),
            "peak_rss_before_kib": before,
            "peak_rss_kib": after,
        })
    );
}
