//! The `compact` Lambda's work: every table's closed days among the last
//! `days_back`, each compacted with [`ecs_lake::compact::compact_partition`]
//! (safe to re-run after a timeout or a crash: the next schedule finishes it).

use ecs_lake::compact::{LakeFiles, compact_partition, days};
use ecs_lake::schema::TABLES;
use serde::Serialize;
use tracing::{info, warn};

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

/// The UTC day `days` before `today` (YYYY-MM-DD), or `today` if it is not a date.
fn day_before(today: &str, days: u32) -> String {
    chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_sub_days(chrono::Days::new(u64::from(days))))
        .map_or_else(|| today.to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

/// Compacts the days in `[today - days_back, today)` of every table.
pub async fn compact_recent<S: LakeFiles>(
    store: &S,
    today: &str,
    days_back: u32,
) -> Result<Summary, CompactFailed> {
    let first = day_before(today, days_back);
    let mut summary = Summary::default();
    let mut failures = Vec::new();
    for table in TABLES {
        let table_days = match days(store, table).await {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: {e}", table.name));
                continue;
            }
        };
        for day in table_days
            .iter()
            .filter(|d| **d >= first && d.as_str() < today)
        {
            match compact_partition(store, table, day).await {
                Ok(r) if r.skipped => summary.already_compact += 1,
                Ok(r) => {
                    info!(
                        table = table.name,
                        day,
                        files_in = r.files_in,
                        rows = r.rows_in,
                        duplicates = r.duplicates,
                        files_out = r.files_out.len(),
                        "compacted"
                    );
                    summary.compacted += 1;
                    summary.rows += r.rows_in - r.duplicates;
                    summary.duplicates += r.duplicates;
                    summary.files_in += r.files_in;
                    summary.files_out += r.files_out.len();
                }
                Err(e) => {
                    warn!(table = table.name, day, error = %e, "compaction failed");
                    failures.push(format!("{} dt={day}: {e}", table.name));
                }
            }
        }
    }
    match failures.first() {
        None => Ok(summary),
        Some(first) => Err(CompactFailed {
            failures: failures.len(),
            first: first.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_before_crosses_months_and_years() {
        assert_eq!(super::day_before("2026-03-01", 1), "2026-02-28");
        assert_eq!(super::day_before("2027-01-02", 3), "2026-12-30");
        assert_eq!(super::day_before("junk", 3), "junk");
    }
}
