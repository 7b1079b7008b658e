//! Accumulates normalized rows for a batch of inputs and splits them into
//! sorted, per-day table parts, remembering which input each row came from so a
//! failed write can be traced back to the inputs it would lose.

use arrow::array::{RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use arrow::error::ArrowError;

use crate::ingest::{Input, InputKind};
use crate::lenient::{MICROS_PER_DAY, Micros, date_of};
use crate::schema::{
    TableDef, container_events, health, instance_events, logs, metrics, quarantine, service_events,
    task_events,
};

/// Why one input could not be normalized. Stored with it in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub reason: String,
    /// The EventBridge detail-type, when the envelope could be read.
    pub detail_type: Option<String>,
}

impl RowError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            detail_type: None,
        }
    }

    pub fn with_detail_type(mut self, detail_type: &str) -> Self {
        self.detail_type
            .get_or_insert_with(|| detail_type.to_owned());
        self
    }
}

/// Something that was quarantined: a whole input, or one record inside it
/// (a log event of a CloudWatch Logs payload whose other events were kept).
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub input: u32,
    pub error: RowError,
    /// `None` when the whole input is quarantined.
    pub part: Option<Part>,
}

/// One record of an input, quarantined on its own.
#[derive(Debug, Clone)]
pub struct Part {
    /// Appended to the input's id: `<input id>/<id>`.
    pub id: String,
    /// The record, byte for byte as far as it could be read.
    pub raw: Vec<u8>,
}

/// Log-event bookkeeping for CloudWatch Logs inputs. Conservation, per batch:
/// `log_events == rows + quarantined` for DATA_MESSAGE payloads, where `rows`
/// counts `logs` and `metrics` rows (health samples are derived, extra rows).
/// Payloads that cannot be decoded are quarantined whole and counted in
/// `payloads_quarantined`, their events unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    /// DATA_MESSAGE payloads read.
    pub data_messages: usize,
    /// CONTROL_MESSAGE payloads (CloudWatch Logs' destination checks), dropped.
    pub control_messages: usize,
    /// Payloads that could not be decoded, quarantined whole.
    pub payloads_quarantined: usize,
    /// Log events in DATA_MESSAGE payloads (and export lines).
    pub log_events: usize,
    /// Of those, how many became a `logs` or `metrics` row.
    pub rows: usize,
    /// Of those, how many were quarantined on their own.
    pub quarantined: usize,
}

/// Rows of one table for one day, sorted, with the inputs they came from.
#[derive(Debug, Clone)]
pub struct TablePart {
    pub table: &'static TableDef,
    pub dt: String,
    pub batch: RecordBatch,
    /// Distinct input indices, ascending.
    pub inputs: Vec<u32>,
}

/// One `health` row.
pub(crate) struct HealthSample<'a> {
    pub time: Micros,
    pub cluster: Option<&'a str>,
    pub service: Option<&'a str>,
    pub task_id: &'a str,
    pub family: Option<&'a str>,
    pub revision: Option<i32>,
    pub container: Option<&'a str>,
    pub status: &'a str,
    pub source: &'static str,
}

/// Builders for every table an ingester writes, plus the quarantine list.
pub struct Normalizer {
    pub(crate) ingested_at: Micros,
    pub(crate) tasks: task_events::Builder,
    pub(crate) task_inputs: Vec<u32>,
    pub(crate) containers: container_events::Builder,
    pub(crate) container_inputs: Vec<u32>,
    pub(crate) services: service_events::Builder,
    pub(crate) service_inputs: Vec<u32>,
    pub(crate) instances: instance_events::Builder,
    pub(crate) instance_inputs: Vec<u32>,
    pub(crate) metrics: metrics::Builder,
    pub(crate) metric_inputs: Vec<u32>,
    pub(crate) logs: logs::Builder,
    pub(crate) log_inputs: Vec<u32>,
    pub(crate) health: health::Builder,
    pub(crate) health_inputs: Vec<u32>,
    pub(crate) quarantined: Vec<Quarantined>,
    pub(crate) log_counts: LogCounts,
    pub(crate) options: Options,
}

/// How inputs are normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Replace obvious secrets in log messages ([`crate::logs::redact_secrets`]). On by default.
    pub redact_secrets: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redact_secrets: true,
        }
    }
}

impl Normalizer {
    pub fn new(ingested_at: Micros) -> Self {
        Self {
            options: Options::default(),
            ingested_at,
            tasks: Default::default(),
            task_inputs: Vec::new(),
            containers: Default::default(),
            container_inputs: Vec::new(),
            services: Default::default(),
            service_inputs: Vec::new(),
            instances: Default::default(),
            instance_inputs: Vec::new(),
            metrics: Default::default(),
            metric_inputs: Vec::new(),
            logs: Default::default(),
            log_inputs: Vec::new(),
            health: Default::default(),
            health_inputs: Vec::new(),
            quarantined: Vec::new(),
            log_counts: LogCounts::default(),
        }
    }

    /// Like [`Normalizer::new`], with room for `events` events of `bytes` bytes in
    /// all, so the `raw` column (the bulk of the data) is allocated once instead
    /// of growing by doubling.
    pub fn with_capacity(ingested_at: Micros, events: usize, bytes: usize) -> Self {
        let mut n = Self::new(ingested_at);
        n.tasks.raw = arrow::array::StringBuilder::with_capacity(events, bytes);
        n
    }

    /// The same normalizer with other [`Options`].
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Normalizes one input of any kind; what cannot be read is quarantined.
    pub fn push(&mut self, index: u32, input: &Input) {
        if let Some(error) = &input.rejected {
            if input.kind == InputKind::LogsPayload {
                self.log_counts.payloads_quarantined += 1;
            }
            self.reject(index, error.clone());
            return;
        }
        match &input.kind {
            InputKind::Event => self.push_event(index, &input.body),
            InputKind::LogsPayload => self.push_logs_payload(index, &input.body),
            InputKind::ExportLine {
                log_group,
                log_stream,
            } => self.push_export_line(index, log_group, log_stream, &input.body),
            InputKind::HealthSamples => self.push_health_samples(index, &input.body),
        }
    }

    /// Normalizes one EventBridge event; a bad one is quarantined, never an error.
    pub fn push_event(&mut self, input: u32, raw: &[u8]) {
        if let Err(error) = self.event(input, raw) {
            self.reject(input, error);
        }
    }

    /// Records an input rejected before normalization (e.g. an unreadable SQS body).
    pub fn reject(&mut self, input: u32, error: RowError) {
        self.quarantined.push(Quarantined {
            input,
            error,
            part: None,
        });
    }

    /// Quarantines one record of an input; the input's other records are kept.
    pub fn reject_part(&mut self, input: u32, error: RowError, part: Part) {
        self.quarantined.push(Quarantined {
            input,
            error,
            part: Some(part),
        });
    }

    pub(crate) fn health_sample(&mut self, input: u32, s: HealthSample<'_>) {
        let h = &mut self.health;
        h.time.append_value(s.time);
        h.ingested_at.append_value(self.ingested_at);
        h.cluster.append_option(s.cluster);
        h.service.append_option(s.service);
        h.task_id.append_value(s.task_id);
        h.family.append_option(s.family);
        h.revision.append_option(s.revision);
        h.container.append_option(s.container);
        h.status.append_value(s.status);
        h.source.append_value(s.source);
        self.health_inputs.push(input);
    }

    /// Log-event counts so far (CloudWatch Logs inputs only).
    pub fn log_counts(&self) -> LogCounts {
        self.log_counts
    }

    /// Finishes every non-empty table into sorted per-day parts.
    pub fn finish(mut self) -> Result<(Vec<TablePart>, Vec<Quarantined>), ArrowError> {
        let mut parts = Vec::new();
        let tables = [
            (&task_events::DEF, self.tasks.finish()?, self.task_inputs),
            (
                &container_events::DEF,
                self.containers.finish()?,
                self.container_inputs,
            ),
            (
                &service_events::DEF,
                self.services.finish()?,
                self.service_inputs,
            ),
            (
                &instance_events::DEF,
                self.instances.finish()?,
                self.instance_inputs,
            ),
            (&metrics::DEF, self.metrics.finish()?, self.metric_inputs),
            (&logs::DEF, self.logs.finish()?, self.log_inputs),
            (&health::DEF, self.health.finish()?, self.health_inputs),
        ];
        for (def, batch, inputs) in tables {
            parts.extend(split_by_day(def, &batch, &inputs)?);
        }
        Ok((parts, self.quarantined))
    }
}

/// The row order of a table's sort columns (`TableDef::sort_by`).
pub fn sort_order(def: &TableDef, batch: &RecordBatch) -> Result<UInt32Array, ArrowError> {
    let sort_columns = def
        .sort_by
        .iter()
        .map(|name| {
            Ok(SortColumn {
                values: batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| ArrowError::SchemaError(format!("no column {name}")))?,
                options: None,
            })
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    lexsort_to_indices(&sort_columns, None)
}

/// Sorts a table's rows by its sort columns and cuts them into one part per UTC day.
/// `inputs[i]` is the input row `i` came from.
pub fn split_by_day(
    def: &'static TableDef,
    batch: &RecordBatch,
    inputs: &[u32],
) -> Result<Vec<TablePart>, ArrowError> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let order = sort_order(def, batch)?;
    // Batches usually arrive in time order: then skip copying every row.
    let in_order = order
        .values()
        .iter()
        .enumerate()
        .all(|(i, &o)| i as u32 == o);
    let (sorted, sorted_inputs) = if in_order {
        (batch.clone(), inputs.to_vec())
    } else {
        let inputs = order.values().iter().map(|&i| inputs[i as usize]).collect();
        (take_record_batch(batch, &order)?, inputs)
    };

    let times = sorted
        .column_by_name(def.time_column)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| {
            ArrowError::SchemaError(format!("{} is not a timestamp", def.time_column))
        })?;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < sorted.num_rows() {
        let day = times.value(start).div_euclid(MICROS_PER_DAY);
        let mut end = start + 1;
        while end < sorted.num_rows() && times.value(end).div_euclid(MICROS_PER_DAY) == day {
            end += 1;
        }
        let dt = date_of(times.value(start));
        let mut part_inputs = sorted_inputs[start..end].to_vec();
        part_inputs.sort_unstable();
        part_inputs.dedup();
        parts.push(TablePart {
            table: def,
            dt,
            batch: sorted.slice(start, end - start),
            inputs: part_inputs,
        });
        start = end;
    }
    Ok(parts)
}

/// Builds the quarantine rows for rejected inputs.
pub fn quarantine_batch(
    source: &str,
    received_at: Micros,
    rejected: &[(Option<&str>, &RowError, &[u8])],
) -> Result<RecordBatch, ArrowError> {
    let mut b = quarantine::Builder::default();
    for (input_id, error, raw) in rejected {
        b.received_at.append_value(received_at);
        b.source.append_value(source);
        b.input_id.append_option(*input_id);
        b.reason.append_value(&error.reason);
        b.detail_type.append_option(error.detail_type.as_deref());
        b.size.append_value(raw.len() as i64);
        b.raw.append_value(raw);
    }
    b.finish()
}
