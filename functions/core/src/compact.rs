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
//! Killed after 3, the next run reads the outputs *and* the leftover inputs,
//! and step 2 removes the rows they share; killed during 3, the partial
//! outputs are inputs of the next run like any other file. Either way the
//! partition ends with every row exactly once, which the fault-injection test
//! checks at every step. Outputs are written before anything is deleted, so
//! no row is ever only in memory.

use std::collections::HashSet;
use std::future::Future;

use arrow::array::{Array, RecordBatch, new_null_array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::lake::{LakeStore, StoreError};
use crate::parquet_io;
use crate::schema::TableDef;

/// A store compaction can also list, read and delete in.
pub trait LakeFiles: LakeStore {
    /// Keys (relative to the lake root) under `prefix`, in any order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Bytes, StoreError>> + Send;
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Output files aim at this many bytes (the input's compressed size is the
/// estimate): inside the 64-256 MB that Athena and DataFusion read best.
pub const TARGET_FILE_BYTES: usize = 128 << 20;

/// Columns that differ between two deliveries of the same row.
pub const INGEST_COLUMNS: &[&str] = &["ingested_at", "quarantined_at"];

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
/// in every column but [`INGEST_COLUMNS`].
fn sort_and_dedupe(table: &TableDef, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let sorted = take_record_batch(batch, &crate::normalize::sort_order(table, batch)?)?;
    let (fields, columns): (Vec<SortField>, Vec<_>) = sorted
        .schema()
        .fields()
        .iter()
        .zip(sorted.columns())
        .filter(|(f, _)| !INGEST_COLUMNS.contains(&f.name().as_str()))
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
    let run_id = |k: &String| {
        k.strip_prefix(&prefix)?
            .strip_prefix(COMPACTED_PREFIX)?
            .split_once('-')
            .map(|(id, _)| id.to_owned())
    };
    let first_run = keys.first().and_then(run_id);
    if keys.is_empty() || (first_run.is_some() && keys.iter().all(|k| run_id(k) == first_run)) {
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
    for key in keys.iter().filter(|k| !report.files_out.contains(k)) {
        store.delete(key).await?;
        report.deleted += 1;
    }
    Ok(report)
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
