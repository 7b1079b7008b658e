//! `ecs-query ingest`: backfill the lake from files, through the same
//! normalization and writer as the Lambdas.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

use ecs_lake::envelope::{maybe_gunzip, split_file};
use ecs_lake::lenient::now_micros;
use ecs_lake::{LakeStore, Outcome, ingest};
use ecs_lake_aws::{LakeLocation, LocalStore, S3Store};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{IngestArgs, LakeArgs};
use crate::error::CliError;
use crate::lake;

/// Events normalized and written per call into the core; bounds memory on big files.
const CHUNK_EVENTS: usize = 50_000;

/// What a backfill did, summed over files.
#[derive(Debug, Default)]
pub struct Totals {
    pub files: usize,
    pub events: usize,
    pub written: usize,
    pub quarantined: usize,
    pub rows: BTreeMap<&'static str, usize>,
    pub failed: Vec<String>,
}

pub async fn run(
    lake_args: &LakeArgs,
    args: IngestArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let totals = match lake::location(lake_args)? {
        LakeLocation::Local(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| CliError::Lake {
                location: lake_args.lake.clone(),
                message: format!("cannot create the lake directory: {e}"),
                hint: "pass a writable directory with --lake",
            })?;
            ingest_files(&LocalStore::new(dir), &args.files).await?
        }
        LakeLocation::S3 { bucket, prefix } => {
            let client = lake::s3_client(lake_args).await;
            ingest_files(&S3Store::new(client, bucket, prefix), &args.files).await?
        }
    };
    print_totals(&totals, &lake_args.lake, out)?;
    match totals.failed.first() {
        Some(first) => Err(CliError::WriteFailed {
            count: totals.failed.len(),
            first: first.clone(),
        }),
        None => Ok(()),
    }
}

/// Ingests files into a store. Stops at the first file that cannot be read
/// (what was ingested before stays: re-running is idempotent).
pub async fn ingest_files<S: LakeStore>(
    store: &S,
    files: &[impl AsRef<Path>],
) -> Result<Totals, CliError> {
    let progress = if files.len() > 1 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut totals = Totals::default();
    for path in files {
        let path = path.as_ref();
        let read = |e| CliError::ReadFile {
            path: path.to_owned(),
            source: e,
        };
        let bytes = std::fs::read(path).map_err(read)?;
        let content = maybe_gunzip(bytes).map_err(read)?;
        let inputs = split_file(&path.display().to_string(), &content);
        drop(content);
        totals.files += 1;
        totals.events += inputs.len();
        for chunk in inputs.chunks(CHUNK_EVENTS) {
            let report = ingest(store, "events", chunk, now_micros()).await;
            for (table, n) in &report.rows {
                *totals.rows.entry(table).or_default() += n;
            }
            for outcome in &report.outcomes {
                match outcome {
                    Outcome::Written => totals.written += 1,
                    Outcome::Quarantined { .. } => totals.quarantined += 1,
                    Outcome::Failed { error } => totals.failed.push(error.clone()),
                }
            }
        }
        progress.inc(1);
        progress.set_message(format!("{} events", totals.events));
    }
    progress.finish_and_clear();
    Ok(totals)
}

fn print_totals(t: &Totals, lake: &str, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "read {} events from {} file(s) into {lake}",
        t.events, t.files
    )?;
    writeln!(out, "  written      {}", t.written)?;
    writeln!(
        out,
        "  quarantined  {}{}",
        t.quarantined,
        if t.quarantined > 0 {
            "  (see: ecs-query sql \"SELECT input_id, reason FROM quarantine\")"
        } else {
            ""
        }
    )?;
    if !t.failed.is_empty() {
        writeln!(out, "  failed       {}", t.failed.len())?;
    }
    for (table, rows) in &t.rows {
        writeln!(out, "  {:<18} {rows} rows", lake::sql_name_of(table))?;
    }
    Ok(())
}
