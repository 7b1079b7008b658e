//! Tables derived at compaction: per task and day, what every question's
//! per-task summary would otherwise aggregate from millions of raw rows.
//!
//! - `task_peaks` from `metrics` ([`crate::schema::task_peaks`]): a task's
//!   memory and CPU maxima (used and reserved) over its Task and Container
//!   records.
//! - `task_health` from `health` ([`crate::schema::task_health`]): a task's
//!   first HEALTHY (not from Container Insights) and first UNHEALTHY
//!   observation, and its UNHEALTHY count.
//!
//! Maxima, minima and counts compose, so a day's per-task figures, written
//! once when the day is compacted (named after the run:
//! `compacted-<run>-<suffix>.parquet`), answer for every day a window covers
//! whole; the read side checks that a day's derived file belongs to the
//! compaction run whose files the day holds before it uses it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;

use crate::schema::{TableDef, health, metrics, task_health, task_peaks};

/// A table derived from another at compaction.
pub struct Derived {
    /// The derived table.
    pub table: &'static TableDef,
    /// The table whose compacted day it is derived from.
    pub source: &'static TableDef,
    /// The file name's suffix after the run (`compacted-<run>-<suffix>.parquet`).
    suffix: &'static str,
    /// The derived rows of one day of the source's rows (declared schema),
    /// each stamped with `compacted_at`.
    derive: fn(&RecordBatch, i64) -> Result<RecordBatch, ArrowError>,
}

/// Each task's memory and CPU peaks per day of `metrics`.
pub static TASK_PEAKS: Derived = Derived {
    table: &task_peaks::DEF,
    source: &metrics::DEF,
    suffix: "peaks",
    derive: of_metrics,
};

/// Each task's health firsts and UNHEALTHY count per day of `health`.
pub static TASK_HEALTH: Derived = Derived {
    table: &task_health::DEF,
    source: &health::DEF,
    suffix: "health",
    derive: of_health,
};

/// Every derived table.
pub static ALL: &[&Derived] = &[&TASK_PEAKS, &TASK_HEALTH];

/// The table derived from `source`, if any.
pub fn of_source(source: &str) -> Option<&'static Derived> {
    ALL.iter().copied().find(|d| d.source.name == source)
}

impl Derived {
    /// The name of a compaction run's derived file.
    pub fn file_name(&self, run: &str) -> String {
        format!(
            "{}{run}-{}.parquet",
            crate::compact::COMPACTED_PREFIX,
            self.suffix
        )
    }

    /// The derived file of a compaction run's outputs for one day.
    pub fn key(&self, day: &str, run: &str) -> String {
        format!("{}/dt={day}/{}", self.table.name, self.file_name(run))
    }

    /// The derived rows of one day of the source's rows, sorted by task id.
    pub fn derive(&self, rows: &RecordBatch, compacted_at: i64) -> Result<RecordBatch, ArrowError> {
        (self.derive)(rows, compacted_at)
    }
}

fn column<'a>(rows: &'a RecordBatch, table: &str, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    rows.column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("{table} without {name}")))
}

fn timestamps(v: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter(v).with_timezone("UTC"))
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
fn of_metrics(rows: &RecordBatch, compacted_at: i64) -> Result<RecordBatch, ArrowError> {
    let column = |name: &str| column(rows, metrics::NAME, name);
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
    let ts = |v: Vec<i64>| timestamps(v.into_iter().map(Some));
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

#[derive(Default)]
struct Health {
    first: i64,
    last: i64,
    samples: i64,
    first_healthy: Option<i64>,
    first_unhealthy: Option<i64>,
    unhealthy: i64,
}

fn min_of(a: Option<i64>, t: i64) -> Option<i64> {
    Some(a.map_or(t, |a| a.min(t)))
}

/// One row per task of a day of `health` rows (declared schema), sorted by
/// task id. HEALTHY from Container Insights does not count as the first
/// healthy observation (it reports the task's aggregate, not the check that
/// let traffic in), as in the read side's raw aggregate.
fn of_health(rows: &RecordBatch, compacted_at: i64) -> Result<RecordBatch, ArrowError> {
    let column = |name: &str| column(rows, health::NAME, name);
    let task_id = column(health::col::task_id)?.as_string::<i32>();
    let time = column(health::col::time)?.as_primitive::<TimestampMicrosecondType>();
    let status = column(health::col::status)?.as_string::<i32>();
    let source = column(health::col::source)?.as_string::<i32>();

    let mut tasks: BTreeMap<&str, Health> = BTreeMap::new();
    for i in 0..rows.num_rows() {
        if task_id.is_null(i) || time.is_null(i) {
            continue;
        }
        let t = time.value(i);
        let h = tasks.entry(task_id.value(i)).or_insert_with(|| Health {
            first: t,
            last: t,
            ..Health::default()
        });
        h.first = h.first.min(t);
        h.last = h.last.max(t);
        h.samples += 1;
        match (!status.is_null(i)).then(|| status.value(i)) {
            Some("HEALTHY")
                if source.is_null(i)
                    || source.value(i) != crate::sources::health::FROM_CONTAINER_INSIGHTS =>
            {
                h.first_healthy = min_of(h.first_healthy, t);
            }
            Some("UNHEALTHY") => {
                h.first_unhealthy = min_of(h.first_unhealthy, t);
                h.unhealthy += 1;
            }
            _ => {}
        }
    }

    let schema = (task_health::DEF.schema)();
    let health: Vec<&Health> = tasks.values().collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(tasks.keys())),
        timestamps(health.iter().map(|h| Some(h.first))),
        timestamps(health.iter().map(|h| Some(h.last))),
        Arc::new(Int64Array::from_iter_values(
            health.iter().map(|h| h.samples),
        )),
        timestamps(health.iter().map(|h| h.first_healthy)),
        timestamps(health.iter().map(|h| h.first_unhealthy)),
        Arc::new(Int64Array::from_iter_values(
            health.iter().map(|h| h.unhealthy),
        )),
        timestamps(std::iter::repeat_n(Some(compacted_at), health.len())),
    ];
    RecordBatch::try_new(schema, columns)
}
