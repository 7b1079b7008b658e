//! `ecs-query compact`: merges each closed day partition's small files into
//! a few large sorted ones without duplicates ([`ecs_lake::compact`]), on a
//! local or S3 lake. Safe to interrupt and re-run.

use std::io::Write;

use ecs_lake::compact::{CompactError, CompactReport, compact_partition, plan, run as compact_all};
use ecs_lake::schema::TABLES;

use crate::backfill::open_store;
use crate::cli::{CompactArgs, LakeArgs};
use crate::error::CliError;

pub async fn run(
    lake_args: &LakeArgs,
    args: &CompactArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let store = open_store(lake_args).await?;
    let today = ecs_lake::time::today();
    let tables: Vec<_> = match &args.table {
        Some(name) => vec![ecs_query_engine::lake::table_named(name)?],
        None => TABLES.to_vec(),
    };
    let store_error = |e: ecs_lake::StoreError| CliError::Lake {
        location: lake_args.lake.clone(),
        message: e.to_string(),
        hint: "check the lake location and permissions (list, get, put, delete)",
    };
    let mut plan = plan(&store, &tables, |day| match &args.day {
        Some(d) => day == d,
        None => {
            args.since.as_ref().is_none_or(|s| day >= s.as_str())
                && (args.include_today || day < today.as_str())
        }
    })
    .await;
    if let Some((_, e)) = std::mem::take(&mut plan.unlisted).into_iter().next() {
        return Err(store_error(e));
    }
    // One partition per core at a time: each is read whole into memory.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let summary = compact_all(plan, workers, |table, day| {
        let store = store.clone();
        let task = tokio::spawn(async move { compact_partition(&store, table, &day).await });
        async move {
            task.await
                .unwrap_or_else(|e| Err(CompactError::Aborted(e.to_string())))
        }
    })
    .await;
    let mut reports: Vec<CompactReport> = summary.reports;
    let failures: Vec<String> = summary.failures.iter().map(ToString::to_string).collect();
    reports.sort_by(|a, b| (a.table, &a.day).cmp(&(b.table, &b.day)));
    let mut compacted = 0;
    for r in reports.iter().filter(|r| !r.skipped) {
        compacted += 1;
        writeln!(
            out,
            "{} dt={}: {} files, {} rows -> {} file(s), {} duplicate(s) removed",
            r.table,
            r.day,
            r.files_in,
            r.rows_in,
            r.files_out.len(),
            r.duplicates
        )?;
    }
    let skipped = reports.len() - compacted;
    writeln!(
        out,
        "compacted {compacted} partition(s); {skipped} already compact{}",
        if failures.is_empty() {
            String::new()
        } else {
            format!("; {} failed", failures.len())
        }
    )?;
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(CliError::WriteFailed {
            count: failures.len(),
            first: first.clone(),
        }),
    }
}
