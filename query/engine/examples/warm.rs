//! The engine in one warm process, for `bench/run_query.py`: opens a lake
//! once and answers each question `RUNS` times after one warm-up, as DuckDB
//! in-process answers with its database and views kept open. Prints one JSON
//! line per question: its median time in ms (plan, read, answer; no process
//! start, no printing) and its row count.
//!
//! ```sh
//! cargo run --release -p ecs-query-engine --example warm -- \
//!     LAKE 2026-12-19T00:00:00Z 5 "exit 137 by revision last 7d" "deployments last 7d"
//! ```

use std::time::Instant;

use ecs_query_engine::lang::parser::parse_time;
use ecs_query_engine::{Lake, LakeConfig, ask, collect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: warm LAKE NOW RUNS QUESTION...";
    let lake = args.next().ok_or(usage)?;
    let now = args.next().ok_or(usage)?;
    let now = parse_time(&now, false).ok_or_else(|| format!("{now:?} is not a UTC time"))?;
    let runs: usize = args.next().ok_or(usage)?.parse()?;
    let lake = Lake::open(&LakeConfig::at(lake)).await?;
    for question in args {
        let mut rows = 0;
        let mut samples = Vec::with_capacity(runs);
        for run in 0..=runs {
            let started = Instant::now();
            let batches = collect(ask::plan(&lake, &question, now).await?).await?;
            rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
            if run > 0 {
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        samples.sort_by(f64::total_cmp);
        let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
        let line = serde_json::json!({ "question": question, "median_ms": median, "rows": rows });
        println!("{line}");
    }
    Ok(())
}
