//! Compaction of one day partition of one table: many small files (one per
//! ingest batch) become a few large ones, sorted by the table's sort columns,
//! with duplicate deliveries removed.
//!
//! Crash-safe by construction, with no manifest:
//!
//! 1. read every file of the partition (compacted or not);
//! 2. sort, and keep the first of rows equal in every column but the ingest
//!    time (a redelivered event, log event or sample is the same row ingested
//!    twice; so is a row of a compacted file that was re-read);
//! 3. **write** the outputs, named after the set of inputs, then
//! 4. **delete** the inputs that are not outputs.
//!
//! Compacting a `metrics` or `health` day also writes the day's derived
//! per-task table ([`crate::derived`]) after step 3, named after the run, and
//! deletes the derived files of earlier runs after step 4; a day already
//! compact whose derived file is missing is compacted again (which rebuilds it).
//!
//! Killed after 3, the next run reads the outputs *and* the leftover inputs,
//! and step 2 removes the rows they share; killed during 3, the partial
//! outputs are inputs of the next run like any other file. Either way the
//! partition ends with every row exactly once, which the fault-injection test
//! checks at every step. Outputs are written before anything is deleted, so
//! no row is ever only in memory.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;

use arrow::array::{Array, RecordBatch, new_null_array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use bytes::Bytes;
use futures::StreamExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::derived;
use crate::lake::{LakeFiles, StoreError};
use crate::parquet_io;
use crate::schema::TableDef;

/// Output files aim at this many bytes (the input's compressed size is the
/// estimate): inside the 64-256 MB that Athena and DataFusion read best.
pub const TARGET_FILE_BYTES: usize = 128 << 20;

/// Prefix of the files compaction writes.
pub const COMPACTED_PREFIX: &str = "compacted-";

#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{key}: {message}")]
    Read { key: String, message: String },
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    #[error("encoding Parquet: {0}")]
    Encode(#[from] parquet::errors::ParquetError),
    /// The task running the partition's compaction ended before it finished
    /// (a panic, or its runtime shutting down).
    #[error("compaction task ended early: {0}")]
    Aborted(String),
}

/// What one partition's compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub table: &'static str,
    pub day: String,
    pub files_in: usize,
    pub rows_in: usize,
    pub duplicates: usize,
    pub files_out: Vec<String>,
    pub deleted: usize,
    /// Nothing to do: one compacted file already.
    pub skipped: bool,
}

/// The compaction run that wrote a file, from its name
/// (`compacted-<run>-NNN.parquet`, `compacted-<run>-peaks.parquet`, ...).
pub fn run_of(file_name: &str) -> Option<&str> {
    file_name
        .strip_prefix(COMPACTED_PREFIX)?
        .split_once('-')
        .map(|(run, _)| run)
}

/// The partition's prefix: `<table>/dt=<day>/`.
pub fn partition_prefix(table: &TableDef, day: &str) -> String {
    format!("{}/dt={day}/", table.name)
}

/// The days of a table that have files (from `<table>/dt=<day>/` keys), sorted.
pub async fn days<S: LakeFiles>(store: &S, table: &TableDef) -> Result<Vec<String>, StoreError> {
    let prefix = format!("{}/dt=", table.name);
    let mut days: Vec<String> = store
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|k| {
            k.strip_prefix(&prefix)?
                .split_once('/')
                .map(|(d, _)| d.to_owned())
        })
        .collect();
    days.sort();
    days.dedup();
    Ok(days)
}

/// Reads one file into batches of the declared schema: columns matched by
/// name, a column the file lacks (written before it was declared) as nulls.
fn read(key: &str, bytes: Bytes, schema: &SchemaRef) -> Result<Vec<RecordBatch>, CompactError> {
    let err = |message: String| CompactError::Read {
        key: key.to_owned(),
        message,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        let columns = schema
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
                Some(c) => Err(err(format!(
                    "column {} is {}, the table declares {}",
                    f.name(),
                    c.data_type(),
                    f.data_type()
                ))),
                None if f.is_nullable() => Ok(new_null_array(f.data_type(), batch.num_rows())),
                None => Err(err(format!("no column {}", f.name()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(out)
}

/// Sorts by the table's sort columns and drops rows equal to an earlier one
/// in every column but the table's ingest time ([`TableDef::ingest_column`]).
fn sort_and_dedupe(table: &TableDef, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let sorted = take_record_batch(batch, &table.sort_order(batch)?)?;
    let (fields, columns): (Vec<SortField>, Vec<_>) = sorted
        .schema()
        .fields()
        .iter()
        .zip(sorted.columns())
        .filter(|(f, _)| f.name() != table.ingest_column)
        .map(|(f, c)| (SortField::new(f.data_type().clone()), c.clone()))
        .unzip();
    let rows = RowConverter::new(fields)?.convert_columns(&columns)?;
    let mut seen = HashSet::with_capacity(rows.num_rows());
    let keep: Vec<u32> = (0..rows.num_rows())
        .filter(|&i| seen.insert(rows.row(i)))
        .map(|i| i as u32)
        .collect();
    if keep.len() == sorted.num_rows() {
        return Ok(sorted);
    }
    take_record_batch(&sorted, &arrow::array::UInt32Array::from(keep))
}

/// Compacts `<table>/dt=<day>/`. Safe to re-run, and to run after a run that
/// was killed at any point (see the module docs).
pub async fn compact_partition<S: LakeFiles>(
    store: &S,
    table: &'static TableDef,
    day: &str,
) -> Result<CompactReport, CompactError> {
    let prefix = partition_prefix(table, day);
    let mut keys: Vec<String> = store
        .list(&prefix)
        .await?
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    keys.sort();
    let mut report = CompactReport {
        table: table.name,
        day: day.to_owned(),
        files_in: keys.len(),
        ..Default::default()
    };
    // Done already when every file is an output of one compaction run.
    let run_id = |k: &String| k.strip_prefix(&prefix).and_then(run_of).map(str::to_owned);
    let first_run = keys.first().and_then(run_id);
    let derived = derived::of_source(table.name);
    let derived_keys: Vec<String> = match derived {
        Some(d) => store.list(&partition_prefix(d.table, day)).await?,
        None => Vec::new(),
    };
    if keys.is_empty()
        || (first_run.is_some()
            && keys.iter().all(|k| run_id(k) == first_run)
            && derived.is_none_or(|d| {
                first_run
                    .as_deref()
                    .is_some_and(|run| derived_keys.contains(&d.key(day, run)))
            }))
    {
        report.skipped = true;
        return Ok(report);
    }

    let schema = (table.schema)();
    let mut batches = Vec::new();
    let mut bytes_in = 0;
    for key in &keys {
        let body = store.get(key).await?;
        bytes_in += body.len();
        batches.extend(read(key, body, &schema)?);
    }
    let all = concat_batches(&schema, &batches)?;
    drop(batches);
    report.rows_in = all.num_rows();
    let rows = sort_and_dedupe(table, &all)?;
    drop(all);
    report.duplicates = report.rows_in - rows.num_rows();

    // Outputs are named after the inputs: a re-run over the same files writes
    // the same keys; a run over other files (after a crash) writes new ones.
    let mut hash = Sha256::new();
    for key in &keys {
        hash.update(key.as_bytes());
        hash.update([0]);
    }
    let id = hex(&hash.finalize()[..12]);
    let files = bytes_in.div_ceil(TARGET_FILE_BYTES).max(1);
    let per_file = rows.num_rows().div_ceil(files).max(1);
    let mut start = 0;
    while start < rows.num_rows() {
        let len = per_file.min(rows.num_rows() - start);
        let key = format!(
            "{prefix}{COMPACTED_PREFIX}{id}-{:03}.parquet",
            report.files_out.len()
        );
        let body = parquet_io::encode(&rows.slice(start, len))?;
        store.put(&key, Bytes::from(body)).await?;
        report.files_out.push(key);
        start += len;
    }
    // The day's derived per-task rows, named after this run: written after
    // the outputs and before the inputs go, so a reader that finds this run's
    // derived file beside exactly this run's files may use it.
    let derived_key = derived.map(|d| d.key(day, &id));
    if let (Some(d), Some(key)) = (derived, &derived_key) {
        let batch = d.derive(&rows, crate::time::now_micros())?;
        store
            .put(key, Bytes::from(parquet_io::encode(&batch)?))
            .await?;
    }
    for key in keys.iter().filter(|k| !report.files_out.contains(k)) {
        store.delete(key).await?;
        report.deleted += 1;
    }
    for key in derived_keys
        .iter()
        .filter(|k| Some(*k) != derived_key.as_ref())
    {
        store.delete(key).await?;
    }
    Ok(report)
}

/// One day partition of one table.
#[derive(Debug, Clone)]
pub struct Partition {
    pub table: &'static TableDef,
    pub day: String,
}

/// A partition, or a whole table when `day` is `None` (its days could not
/// be listed), that could not be compacted. The next run retries it.
#[derive(Debug)]
pub struct CompactFailure {
    pub table: &'static str,
    pub day: Option<String>,
    pub error: CompactError,
}

impl fmt::Display for CompactFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.day {
            Some(day) => write!(f, "{} dt={day}: {}", self.table, self.error),
            None => write!(f, "{}: {}", self.table, self.error),
        }
    }
}

/// The partitions to compact, and the tables whose days could not be listed.
#[derive(Debug, Default)]
pub struct Plan {
    /// In the order of the tables given, then by day.
    pub partitions: Vec<Partition>,
    /// Tables whose days could not be listed, with why.
    pub unlisted: Vec<(&'static str, StoreError)>,
}

/// What a compaction run did.
#[derive(Debug, Default)]
pub struct CompactSummary {
    /// One per partition compacted or found compact already, in plan order.
    pub reports: Vec<CompactReport>,
    /// In plan order: listing failures first, then partitions.
    pub failures: Vec<CompactFailure>,
}

impl CompactSummary {
    /// The partitions that were compacted (not already compact).
    pub fn compacted(&self) -> impl Iterator<Item = &CompactReport> {
        self.reports.iter().filter(|r| !r.skipped)
    }

    pub fn already_compact(&self) -> usize {
        self.reports.iter().filter(|r| r.skipped).count()
    }
}

/// Lists the days of each table and keeps those `which` accepts.
pub async fn plan<S: LakeFiles>(
    store: &S,
    tables: &[&'static TableDef],
    which: impl Fn(&str) -> bool,
) -> Plan {
    let mut plan = Plan::default();
    for &table in tables {
        match days(store, table).await {
            Ok(days) => plan.partitions.extend(
                days.into_iter()
                    .filter(|d| which(d))
                    .map(|day| Partition { table, day }),
            ),
            Err(e) => plan.unlisted.push((table.name, e)),
        }
    }
    plan
}

/// Compacts the plan's partitions, `concurrency` at a time (each is read
/// whole into memory: memory bounds this, not the store), each with
/// `compact` (normally [`compact_partition`] on the store; a caller that
/// wants the partitions on several cores spawns it on its runtime). Never
/// fails as a whole: a failed partition is in the summary's failures, and
/// the others go on. The plan's unlisted tables are failures too.
pub async fn run<R, F>(plan: Plan, concurrency: usize, mut compact: R) -> CompactSummary
where
    R: FnMut(&'static TableDef, String) -> F,
    F: Future<Output = Result<CompactReport, CompactError>>,
{
    let Plan {
        partitions,
        unlisted,
    } = plan;
    let mut failures: Vec<CompactFailure> = unlisted
        .into_iter()
        .map(|(table, e)| CompactFailure {
            table,
            day: None,
            error: e.into(),
        })
        .collect();
    let mut done: Vec<(usize, Partition, Result<CompactReport, CompactError>)> =
        futures::stream::iter(partitions.into_iter().enumerate())
            .map(|(i, p)| {
                let work = compact(p.table, p.day.clone());
                async move { (i, p, work.await) }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    done.sort_by_key(|(i, _, _)| *i);
    let mut reports = Vec::with_capacity(done.len());
    for (_, Partition { table, day }, result) in done {
        match result {
            Ok(r) => {
                if !r.skipped {
                    info!(
                        table = table.name,
                        day,
                        files_in = r.files_in,
                        rows = r.rows_in,
                        duplicates = r.duplicates,
                        files_out = r.files_out.len(),
                        "compacted"
                    );
                }
                reports.push(r);
            }
            Err(error) => {
                warn!(table = table.name, day, %error, "compaction failed");
                failures.push(CompactFailure {
                    table: table.name,
                    day: Some(day),
                    error,
                });
            }
        }
    }
    CompactSummary { reports, failures }
}

/// The one compaction loop: every day of `tables` that `which` accepts,
/// compacted with [`compact_partition`], `concurrency` partitions at a time
/// on the caller's task. Used by the `compact` Lambda; `ecs-query compact`
/// runs [`plan`] and [`run`] itself to spread partitions over cores.
pub async fn compact_days<S: LakeFiles>(
    store: &S,
    tables: &[&'static TableDef],
    which: impl Fn(&str) -> bool,
    concurrency: usize,
) -> CompactSummary {
    let plan = plan(store, tables, which).await;
    run(plan, concurrency, |table, day| async move {
        compact_partition(store, table, &day).await
    })
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::health;

    #[test]
    fn dedupe_ignores_the_ingest_time_only() {
        use arrow::array::{StringArray, TimestampMicrosecondArray};
        let schema = (health::DEF.schema)();
        let n = 4;
        let ts = |v: Vec<i64>| {
            std::sync::Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
                as arrow::array::ArrayRef
        };
        let s = |v: Vec<Option<&str>>| {
            std::sync::Arc::new(StringArray::from(v)) as arrow::array::ArrayRef
        };
        let columns: Vec<arrow::array::ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "time" => ts(vec![1, 1, 1, 2]),
                "ingested_at" => ts(vec![10, 20, 30, 40]),
                "task_id" => s(vec![Some("t"); n]),
                "status" => s(vec![
                    Some("HEALTHY"),
                    Some("HEALTHY"),
                    Some("UNHEALTHY"),
                    Some("HEALTHY"),
                ]),
                "source" => s(vec![Some("poller"); n]),
                _ => new_null_array(f.data_type(), n),
            })
            .collect();
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let out = sort_and_dedupe(&health::DEF, &batch).unwrap();
        // Rows 0 and 1 differ only in ingested_at: one is dropped.
        assert_eq!(out.num_rows(), 3);
    }
}
