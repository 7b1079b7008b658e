//! The rows of one batch, as the sources append them: one typed Arrow
//! builder per table (from [`crate::schema`]), the input each row came from,
//! what was quarantined, and the log-event counts.
//!
//! Sources append straight to the builders, column by column, with no row
//! struct in between: that is what keeps normalization at hundreds of
//! thousands of events a second. What a source cannot reach is the
//! bookkeeping: each table's method ([`Rows::task_event`], [`Rows::metric`],
//! [`Rows::log`], ...) records the row's input and appends its `ingested_at`
//! in the same call that hands out the builder, so the input list and the
//! builder cannot drift apart.

use arrow::array::{RecordBatch, StringBuilder};
use arrow::error::ArrowError;

use crate::input::{Part, Quarantined, RowError};
use crate::schema::{
    TableDef, container_definitions, container_events, health, instance_events, logs, metrics,
    other_events, service_deployments, service_events, service_revisions, services,
    target_group_attributes, target_groups, task_definitions, task_events,
};
use crate::time::Micros;

/// Log-event bookkeeping for CloudWatch Logs inputs. Conservation, per batch:
/// `log_events == rows + quarantined` for DATA_MESSAGE payloads, where `rows`
/// counts log events that became `logs` or `metrics` rows or were ECS events
/// (health samples are derived, extra rows).
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
    /// Of those, how many became a `logs` or `metrics` row, or, for an ECS
    /// event written to a log group, the event's rows.
    pub rows: usize,
    /// Of `rows`, how many were ECS events (read as events, not log lines).
    pub ecs_events: usize,
    /// Of those, how many were quarantined on their own.
    pub quarantined: usize,
}

/// One `health` row.
pub struct HealthSample<'a> {
    pub time: Micros,
    pub cluster: Option<&'a str>,
    pub service: Option<&'a str>,
    pub task_id: &'a str,
    pub family: Option<&'a str>,
    pub revision: Option<i32>,
    pub container: Option<&'a str>,
    pub status: &'a str,
    /// `health.source`: one of the `FROM_*` names of `sources::health`.
    pub source: &'static str,
}

/// A table's builder and, row for row, the input each row came from.
#[derive(Default)]
struct Table<B> {
    builder: B,
    inputs: Vec<u32>,
}

impl<B> Table<B> {
    fn row(&mut self, input: u32) -> &mut B {
        self.inputs.push(input);
        &mut self.builder
    }
}

/// One table's finished rows, unsorted, with the input of each row.
pub struct TableRows {
    pub table: &'static TableDef,
    pub batch: RecordBatch,
    /// `inputs[i]` is the input row `i` came from.
    pub inputs: Vec<u32>,
}

/// Every table's rows for one batch, plus what was quarantined.
pub struct Rows {
    ingested_at: Micros,
    tasks: Table<task_events::Builder>,
    containers: Table<container_events::Builder>,
    services: Table<service_events::Builder>,
    instances: Table<instance_events::Builder>,
    others: Table<other_events::Builder>,
    metrics: Table<metrics::Builder>,
    logs: Table<logs::Builder>,
    health: Table<health::Builder>,
    task_definitions: Table<task_definitions::Builder>,
    container_definitions: Table<container_definitions::Builder>,
    service_configs: Table<services::Builder>,
    target_groups: Table<target_groups::Builder>,
    target_group_attributes: Table<target_group_attributes::Builder>,
    service_deployments: Table<service_deployments::Builder>,
    service_revisions: Table<service_revisions::Builder>,
    quarantined: Vec<Quarantined>,
    log_counts: LogCounts,
}

impl Rows {
    /// Empty tables; every row gets `ingested_at`.
    pub fn new(ingested_at: Micros) -> Self {
        Self {
            ingested_at,
            tasks: Table::default(),
            containers: Table::default(),
            services: Table::default(),
            instances: Table::default(),
            others: Table::default(),
            metrics: Table::default(),
            logs: Table::default(),
            health: Table::default(),
            task_definitions: Table::default(),
            container_definitions: Table::default(),
            service_configs: Table::default(),
            target_groups: Table::default(),
            target_group_attributes: Table::default(),
            service_deployments: Table::default(),
            service_revisions: Table::default(),
            quarantined: Vec::new(),
            log_counts: LogCounts::default(),
        }
    }

    /// Like [`Rows::new`], with room for `events` task events of `bytes` bytes
    /// in all, so the `raw` column (the bulk of the data) is allocated once
    /// instead of growing by doubling.
    pub fn with_capacity(ingested_at: Micros, events: usize, bytes: usize) -> Self {
        let mut rows = Self::new(ingested_at);
        rows.tasks.builder.raw = StringBuilder::with_capacity(events, bytes);
        rows
    }

    /// Makes room in the `logs` table, while it is still empty, for `rows`
    /// rows with `bytes(column)` bytes of values in each string column.
    /// A CloudWatch Logs payload's size is known once it is decoded; growing
    /// by doubling instead copied every column several times (bench/RESULTS.md,
    /// issue 21). Once the table has rows, it grows as it goes.
    pub fn reserve_logs(&mut self, rows: usize, bytes: impl Fn(&str) -> usize) {
        if self.logs.inputs.is_empty() {
            self.logs.builder = logs::Builder::with_capacity(rows, bytes);
            self.logs.inputs.reserve(rows);
        }
    }

    /// The `task_events` builder for one more row of `input`, its
    /// `ingested_at` appended: the caller appends every other column.
    pub fn task_event(&mut self, input: u32) -> &mut task_events::Builder {
        let b = self.tasks.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `container_events`.
    pub fn container_event(&mut self, input: u32) -> &mut container_events::Builder {
        let b = self.containers.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `service_events`.
    pub fn service_event(&mut self, input: u32) -> &mut service_events::Builder {
        let b = self.services.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `instance_events`.
    pub fn instance_event(&mut self, input: u32) -> &mut instance_events::Builder {
        let b = self.instances.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `other_events`.
    pub fn other_event(&mut self, input: u32) -> &mut other_events::Builder {
        let b = self.others.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `metrics`.
    pub fn metric(&mut self, input: u32) -> &mut metrics::Builder {
        let b = self.metrics.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `logs`.
    pub fn log(&mut self, input: u32) -> &mut logs::Builder {
        let b = self.logs.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `task_definitions`.
    pub fn task_definition(&mut self, input: u32) -> &mut task_definitions::Builder {
        let b = self.task_definitions.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `container_definitions`.
    pub fn container_definition(&mut self, input: u32) -> &mut container_definitions::Builder {
        let b = self.container_definitions.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `services`.
    pub fn service(&mut self, input: u32) -> &mut services::Builder {
        let b = self.service_configs.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `target_groups`.
    pub fn target_group(&mut self, input: u32) -> &mut target_groups::Builder {
        let b = self.target_groups.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `target_group_attributes`.
    pub fn target_group_attribute(&mut self, input: u32) -> &mut target_group_attributes::Builder {
        let b = self.target_group_attributes.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `service_deployments`.
    pub fn service_deployment(&mut self, input: u32) -> &mut service_deployments::Builder {
        let b = self.service_deployments.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// Like [`Rows::task_event`], for `service_revisions`.
    pub fn service_revision(&mut self, input: u32) -> &mut service_revisions::Builder {
        let b = self.service_revisions.row(input);
        b.ingested_at.append_value(self.ingested_at);
        b
    }

    /// When this batch's rows are written.
    pub fn ingested_at(&self) -> Micros {
        self.ingested_at
    }

    /// Appends one `health` row (three sources derive them, so it is one call).
    pub fn health_sample(&mut self, input: u32, s: HealthSample<'_>) {
        let h = self.health.row(input);
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
    }

    /// Quarantines a whole input.
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

    /// Log-event counts so far (CloudWatch Logs inputs only).
    pub fn log_counts(&self) -> LogCounts {
        self.log_counts
    }

    /// The log-event counts, for the logs source to keep.
    pub fn log_counts_mut(&mut self) -> &mut LogCounts {
        &mut self.log_counts
    }

    /// Finishes every table (empty ones included, in [`crate::schema::TABLES`]
    /// order) and hands back the quarantine list.
    pub fn finish(self) -> Result<(Vec<TableRows>, Vec<Quarantined>), ArrowError> {
        fn done<B>(
            table: &'static TableDef,
            mut t: Table<B>,
            finish: impl FnOnce(&mut B) -> Result<RecordBatch, ArrowError>,
        ) -> Result<TableRows, ArrowError> {
            Ok(TableRows {
                table,
                batch: finish(&mut t.builder)?,
                inputs: t.inputs,
            })
        }
        let tables = vec![
            done(&task_events::DEF, self.tasks, task_events::Builder::finish)?,
            done(
                &container_events::DEF,
                self.containers,
                container_events::Builder::finish,
            )?,
            done(
                &service_events::DEF,
                self.services,
                service_events::Builder::finish,
            )?,
            done(
                &instance_events::DEF,
                self.instances,
                instance_events::Builder::finish,
            )?,
            done(
                &other_events::DEF,
                self.others,
                other_events::Builder::finish,
            )?,
            done(&metrics::DEF, self.metrics, metrics::Builder::finish)?,
            done(&logs::DEF, self.logs, logs::Builder::finish)?,
            done(&health::DEF, self.health, health::Builder::finish)?,
            done(
                &task_definitions::DEF,
                self.task_definitions,
                task_definitions::Builder::finish,
            )?,
            done(
                &container_definitions::DEF,
                self.container_definitions,
                container_definitions::Builder::finish,
            )?,
            done(
                &services::DEF,
                self.service_configs,
                services::Builder::finish,
            )?,
            done(
                &target_groups::DEF,
                self.target_groups,
                target_groups::Builder::finish,
            )?,
            done(
                &target_group_attributes::DEF,
                self.target_group_attributes,
                target_group_attributes::Builder::finish,
            )?,
            done(
                &service_deployments::DEF,
                self.service_deployments,
                service_deployments::Builder::finish,
            )?,
            done(
                &service_revisions::DEF,
                self.service_revisions,
                service_revisions::Builder::finish,
            )?,
        ];
        Ok((tables, self.quarantined))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::input::Options;

    /// A real Lambda subscription payload (tests/fixtures/aws/SOURCES.md).
    const PAYLOAD: &str =
        include_str!("../../../tests/fixtures/aws/cwl_lambda_awslogs_aws-lambda-go.json");

    #[test]
    fn one_payload_fills_the_logs_table_without_growing_it() {
        let doc: serde_json::Value = serde_json::from_str(PAYLOAD).unwrap();
        let data = doc["awslogs"]["data"].as_str().unwrap();
        let mut rows = Rows::new(0);
        crate::sources::logs::append_payload(&mut rows, 0, data.as_bytes(), Options::default())
            .unwrap();
        let b = &rows.logs.builder;
        assert_eq!(b.len(), 2, "the fixture's two log events");
        // Sized from the payload: each column's values fill exactly the room
        // made for them (a builder that had grown would have slack), the
        // messages with 1/32 more for redaction.
        let message = &b.message;
        assert!(message.values_capacity() >= message.values_slice().len());
        assert!(
            message.values_capacity()
                <= message.values_slice().len() + message.values_slice().len() / 32
        );
        for (name, column) in [
            ("log_group", &b.log_group),
            ("log_stream", &b.log_stream),
            ("event_id", &b.event_id),
        ] {
            assert!(!column.values_slice().is_empty(), "{name}");
            assert_eq!(
                column.values_capacity(),
                column.values_slice().len(),
                "{name}"
            );
        }
        assert!(rows.logs.inputs.capacity() >= 2);
    }
}
