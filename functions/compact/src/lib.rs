//! The `compact` Lambda's work, every hour: every table's days among the
//! last `days_back` and the open day, compacted by the core's one loop,
//! [`ecs_lake::compact::compact_days`] (safe to re-run after a timeout or a
//! crash: the next schedule finishes it).
//!
//! The open day is where post-mortem questions look, and the Lambdas write
//! it one small file per invocation: compacted every hour, it is one sorted
//! file plus at most an hour of small ones. Each run merges the day so far
//! again (the previous run's output with the files that came since), as the
//! nightly compaction of a closed day does; a day already compact (the
//! closed ones after their last merge) costs one listing.

use ecs_lake::compact::compact_days;
use ecs_lake::lake::LakeFiles;
use ecs_lake::schema::TABLES;
use ecs_lake::time::day_before;
use serde::Serialize;

/// What one invocation did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub compacted: usize,
    pub already_compact: usize,
    pub rows: usize,
    pub duplicates: usize,
    pub files_in: usize,
    pub files_out: usize,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{} partition(s) could not be compacted (first: {first}); the next run retries them",
    failures
)]
pub struct CompactFailed {
    pub failures: usize,
    pub first: String,
}

/// Partitions compacted at a time: one, since each is read whole into the
/// Lambda's memory.
const CONCURRENCY: usize = 1;

/// Compacts the days in `[today - days_back, today]` of every table.
pub async fn compact_recent<S: LakeFiles>(
    store: &S,
    today: &str,
    days_back: u32,
) -> Result<Summary, CompactFailed> {
    let first = day_before(today, days_back);
    let done = compact_days(
        store,
        TABLES,
        |d| d >= first.as_str() && d <= today,
        CONCURRENCY,
    )
    .await;
    if let Some(first) = done.failures.first() {
        return Err(CompactFailed {
            failures: done.failures.len(),
            first: first.to_string(),
        });
    }
    let mut summary = Summary {
        already_compact: done.already_compact(),
        ..Summary::default()
    };
    for r in done.compacted() {
        summary.compacted += 1;
        summary.rows += r.rows_in - r.duplicates;
        summary.duplicates += r.duplicates;
        summary.files_in += r.files_in;
        summary.files_out += r.files_out.len();
    }
    Ok(summary)
}
