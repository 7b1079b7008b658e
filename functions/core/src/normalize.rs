//! The first half of the pipeline: inputs -> rows -> sorted per-day parts.
//!
//! [`Normalizer::push`] dispatches each input to its source by
//! [`InputKind`] and quarantines what the source refuses;
//! [`Normalizer::finish`] sorts each table by its sort columns and cuts it
//! into one [`TablePart`] per UTC day, remembering which inputs each part
//! holds rows of, so a failed write can be traced back to the inputs it
//! would lose.

use arrow::array::{RecordBatch, TimestampMicrosecondArray};
use arrow::compute::take_record_batch;
use arrow::error::ArrowError;

use crate::input::{Input, InputKind, Options, Quarantined, RowError};
use crate::rows::{LogCounts, Rows, TableRows};
use crate::schema::{TableDef, quarantine};
use crate::sources::{cloudtrail, config, health, logs, task_objects};
use crate::time::{self, Micros};

/// Rows of one table for one day, sorted, with the inputs they came from.
#[derive(Debug, Clone)]
pub struct TablePart {
    pub table: &'static TableDef,
    pub dt: String,
    pub batch: RecordBatch,
    /// Distinct input indices, ascending.
    pub inputs: Vec<u32>,
}

/// Normalizes a batch of inputs into every table's rows.
pub struct Normalizer {
    /// On the heap: one builder per column of every table is tens of KB,
    /// which the futures holding a normalizer would otherwise carry.
    rows: Box<Rows>,
    options: Options,
}

impl Normalizer {
    pub fn new(ingested_at: Micros) -> Self {
        Self {
            rows: Box::new(Rows::new(ingested_at)),
            options: Options::default(),
        }
    }

    /// Like [`Normalizer::new`], with room for `events` events of `bytes`
    /// bytes in all (see [`Rows::with_capacity`]).
    pub fn with_capacity(ingested_at: Micros, events: usize, bytes: usize) -> Self {
        Self {
            rows: Box::new(Rows::with_capacity(ingested_at, events, bytes)),
            options: Options::default(),
        }
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
                self.rows.log_counts_mut().payloads_quarantined += 1;
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

    /// Normalizes one EventBridge event; a bad one is quarantined, never an
    /// error. A JSON document that is not an event but something else the
    /// user holds is read as that: a configuration answer (`aws ecs
    /// describe-task-definition` output, see [`config`]), task objects
    /// ([`task_objects`]), a CloudTrail record ([`cloudtrail`]), a bare
    /// Container Insights record ([`logs`]).
    pub fn push_event(&mut self, input: u32, raw: &[u8]) {
        let Err(error) = cloudtrail::append_event(&mut self.rows, input, raw) else {
            return;
        };
        let result = match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(doc) if error.detail_type.is_none() && config::is_config_document(&doc) => {
                config::append(&mut self.rows, input, &doc)
            }
            Ok(doc) if error.detail_type.is_none() && task_objects::is_task_document(&doc) => {
                task_objects::append(&mut self.rows, input, &doc)
            }
            Ok(doc) if error.detail_type.is_none() && cloudtrail::is_record(&doc) => {
                cloudtrail::append(&mut self.rows, input, &doc)
            }
            Ok(doc) if error.detail_type.is_none() && logs::is_bare_performance_record(&doc) => {
                let record = String::from_utf8_lossy(raw);
                logs::append_bare_record(&mut self.rows, input, &doc, &record, self.options)
            }
            _ => Err(error),
        };
        if let Err(error) = result {
            self.reject(input, error);
        }
    }

    /// Normalizes one CloudWatch Logs payload; an undecodable one is quarantined whole.
    pub fn push_logs_payload(&mut self, input: u32, body: &[u8]) {
        if let Err(error) = logs::append_payload(&mut self.rows, input, body, self.options) {
            self.rows.log_counts_mut().payloads_quarantined += 1;
            self.reject(input, error);
        }
    }

    /// Normalizes one line `<timestamp> <message>` of a CloudWatch Logs export.
    pub fn push_export_line(&mut self, input: u32, log_group: &str, log_stream: &str, line: &[u8]) {
        let result = logs::append_export_line(
            &mut self.rows,
            input,
            log_group,
            log_stream,
            line,
            self.options,
        );
        if let Err(error) = result {
            self.reject(input, error);
        }
    }

    /// Appends a JSON array of polled health samples; an unreadable one is quarantined whole.
    pub fn push_health_samples(&mut self, input: u32, body: &[u8]) {
        if let Err(error) = health::append(&mut self.rows, input, body) {
            self.reject(input, error);
        }
    }

    /// Records an input rejected before normalization (e.g. an unreadable SQS body).
    pub fn reject(&mut self, input: u32, error: RowError) {
        self.rows.reject(input, error);
    }

    /// Log-event counts so far (CloudWatch Logs inputs only).
    pub fn log_counts(&self) -> LogCounts {
        self.rows.log_counts()
    }

    /// Finishes every non-empty table into sorted per-day parts.
    pub fn finish(self) -> Result<(Vec<TablePart>, Vec<Quarantined>), ArrowError> {
        let (tables, quarantined) = self.rows.finish()?;
        let mut parts = Vec::new();
        for TableRows {
            table,
            batch,
            inputs,
        } in tables
        {
            parts.extend(split_by_day(table, &batch, &inputs)?);
        }
        Ok((parts, quarantined))
    }
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
    let order = def.sort_order(batch)?;
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
        let day = time::day_number(times.value(start));
        let mut end = start + 1;
        while end < sorted.num_rows() && time::day_number(times.value(end)) == day {
            end += 1;
        }
        let dt = time::date_of(times.value(start));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normalizer_redacts_unless_told_not_to() {
        let payload = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/api",
            "logStream": "ecs/app/0123456789abcdef0123456789abcdef", "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000_i64, "message": "key AKIAIOSFODNN7EXAMPLE"}],
        })
        .to_string();
        let message = |options: Options| {
            let mut n = Normalizer::new(0).with_options(options);
            n.push_logs_payload(0, payload.as_bytes());
            let (parts, _) = n.finish().unwrap();
            let logs = parts.into_iter().find(|p| p.table.name == "logs").unwrap();
            let column = logs.batch.column_by_name("message").unwrap();
            arrow::util::display::array_value_to_string(column, 0).unwrap()
        };
        assert_eq!(message(Options::default()), "key <redacted:aws-access-key>");
        assert_eq!(
            message(Options {
                redact_secrets: false
            }),
            "key AKIAIOSFODNN7EXAMPLE"
        );
    }
}
