//! The `task_peaks` table: each task's peaks for one day of `metrics`,
//! derived at compaction from the day's rows (see [`crate::schema::task_peaks`]).
//!
//! The per-task summary the read side builds for every question takes the
//! maxima of memory and CPU (used and reserved) over a task's Task and
//! Container records: over a week, millions of per-minute rows for tens of
//! thousands of tasks. Maxima compose, so a day's per-task maxima, written
//! once when the day is compacted, answer for every day a window covers
//! whole; the read side checks that a day's peaks belong to the compaction
//! run whose files the day holds before it uses them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;

use crate::schema::{metrics, task_peaks};

/// The name of a compaction run's peaks file.
pub fn file_name(run: &str) -> String {
    format!("{}{run}-peaks.parquet", crate::compact::COMPACTED_PREFIX)
}

/// The peaks file of a compaction run's outputs for one day.
pub fn key(day: &str, run: &str) -> String {
    format!("{}/dt={day}/{}", task_peaks::NAME, file_name(run))
}

#[derive(Default)]
struct Peaks {
    first: i64,
    last: i64,
    samples: i64,
    memory: Option<i64>,
    memory_reserved: Option<i64>,
    cpu: Option<f64>,
    cpu_reserved: Option<f64>,
}

fn max_i64(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

fn max_f64(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One row per task of a day of `metrics` rows (declared schema), sorted by
/// task id; records without a task id (Service, Cluster) are not a task's.
pub fn of_metrics(rows: &RecordBatch, compacted_at: i64) -> Result<RecordBatch, ArrowError> {
    let column = |name: &str| {
        rows.column_by_name(name)
            .ok_or_else(|| ArrowError::SchemaError(format!("metrics without {name}")))
    };
    let task_id = column(metrics::col::task_id)?.as_string::<i32>();
    let time = column(metrics::col::time)?.as_primitive::<TimestampMicrosecondType>();
    let memory = column(metrics::col::memory_utilized)?.as_primitive::<Int64Type>();
    let memory_reserved = column(metrics::col::memory_reserved)?.as_primitive::<Int64Type>();
    let cpu = column(metrics::col::cpu_utilized)?.as_primitive::<Float64Type>();
    let cpu_reserved = column(metrics::col::cpu_reserved)?.as_primitive::<Float64Type>();
    let get_i64 = |a: &Int64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    let get_f64 = |a: &Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));

    let mut tasks: BTreeMap<&str, Peaks> = BTreeMap::new();
    for i in 0..rows.num_rows() {
        if task_id.is_null(i) {
            continue;
        }
        let t = time.value(i);
        let p = tasks.entry(task_id.value(i)).or_insert_with(|| Peaks {
            first: t,
            last: t,
            ..Peaks::default()
        });
        p.first = p.first.min(t);
        p.last = p.last.max(t);
        p.samples += 1;
        p.memory = max_i64(p.memory, get_i64(memory, i));
        p.memory_reserved = max_i64(p.memory_reserved, get_i64(memory_reserved, i));
        p.cpu = max_f64(p.cpu, get_f64(cpu, i));
        p.cpu_reserved = max_f64(p.cpu_reserved, get_f64(cpu_reserved, i));
    }

    let schema = (task_peaks::DEF.schema)();
    let ts =
        |v: Vec<i64>| Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC")) as ArrayRef;
    let peaks: Vec<&Peaks> = tasks.values().collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(tasks.keys())),
        ts(peaks.iter().map(|p| p.first).collect()),
        ts(peaks.iter().map(|p| p.last).collect()),
        Arc::new(Int64Array::from_iter_values(
            peaks.iter().map(|p| p.samples),
        )),
        Arc::new(Int64Array::from_iter(peaks.iter().map(|p| p.memory))),
        Arc::new(Int64Array::from_iter(
            peaks.iter().map(|p| p.memory_reserved),
        )),
        Arc::new(Float64Array::from_iter(peaks.iter().map(|p| p.cpu))),
        Arc::new(Float64Array::from_iter(
            peaks.iter().map(|p| p.cpu_reserved),
        )),
        ts(vec![compacted_at; peaks.len()]),
    ];
    RecordBatch::try_new(schema, columns)
}
