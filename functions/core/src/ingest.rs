//! The ingest pipeline shared by the Lambdas and `ecs-query ingest`:
//! inputs -> normalized rows ([`crate::normalize`]) -> sorted per-day
//! Parquet parts -> store, plus quarantine, with an outcome for every input.
//! The last stage: it depends on everything before it, nothing depends on it.
//!
//! Invariant (tested for every batch): every input ends up exactly once as
//! `Written`, `Quarantined` or `Failed`; `Failed` means a write failed and the
//! caller must redeliver it (SQS `batchItemFailures`), nothing else does.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::StreamExt;
use tracing::{info, warn};

use crate::input::{Input, InputKind, Options};
use crate::lake::{InputDigest, LakeStore, input_digest, part_key};
use crate::normalize::{Normalizer, TablePart, quarantine_batch};
use crate::parquet_io;
use crate::rows::LogCounts;
use crate::schema::quarantine;
use crate::time::{Micros, date_of};

/// What became of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Quarantined { reason: String },
    Failed { error: String },
}

/// The result of one ingest call.
#[derive(Debug, Default)]
pub struct Report {
    /// One per input, in input order.
    pub outcomes: Vec<Outcome>,
    /// Rows written per table.
    pub rows: BTreeMap<&'static str, usize>,
    /// Keys of the objects written.
    pub objects: Vec<String>,
    /// Log-event counts, for CloudWatch Logs inputs.
    pub logs: LogCounts,
}

impl Report {
    pub fn written(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Written))
            .count()
    }
    pub fn quarantined(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Quarantined { .. }))
            .count()
    }
    /// The outcome of a one-input call: `Ok(None)` written, `Ok(Some(reason))`
    /// quarantined, `Err(error)` when the write failed (the caller must retry).
    pub fn single(&self) -> Result<Option<&str>, String> {
        match &self.outcomes[..] {
            [Outcome::Written] => Ok(None),
            [Outcome::Quarantined { reason }] => Ok(Some(reason)),
            [Outcome::Failed { error }] => Err(error.clone()),
            other => Err(format!("expected one outcome, got {}", other.len())),
        }
    }

    /// The inputs whose writes failed (to return for redelivery), in input order.
    pub fn failed_inputs<'a>(&'a self, inputs: &'a [Input]) -> impl Iterator<Item = &'a Input> {
        inputs
            .iter()
            .zip(&self.outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
            .map(|(i, _)| i)
    }

    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Failed { .. }))
            .count()
    }
}

/// Concurrent object writes per batch.
const PUT_CONCURRENCY: usize = 8;

struct Object {
    key: String,
    body: Bytes,
    inputs: Vec<u32>,
    table: &'static str,
    rows: usize,
}

/// Normalizes inputs of any [`InputKind`] and writes them to the lake. Never
/// fails as a whole: per-input problems are in the report. `source` names the
/// ingester (`events`, `logs`, `backfill`) in object keys and quarantine rows.
pub async fn ingest<S: LakeStore>(
    store: &S,
    source: &str,
    inputs: &[Input],
    now: Micros,
) -> Report {
    ingest_with(store, source, inputs, now, Options::default()).await
}

/// [`ingest`] with other normalization [`Options`] (e.g. secrets kept).
pub async fn ingest_with<S: LakeStore>(
    store: &S,
    source: &str,
    inputs: &[Input],
    now: Micros,
    options: Options,
) -> Report {
    let (events, bytes) = inputs
        .iter()
        .filter(|i| i.kind == InputKind::Event)
        .fold((0, 0), |(n, b), i| (n + 1, b + i.body.len()));
    let mut normalizer = Normalizer::with_capacity(now, events, bytes).with_options(options);
    for (i, input) in inputs.iter().enumerate() {
        normalizer.push(i as u32, input);
    }
    write(store, source, inputs, normalizer, now).await
}

/// Encodes the normalized parts and quarantine, writes them, and settles every input.
pub async fn write<S: LakeStore>(
    store: &S,
    source: &str,
    inputs: &[Input],
    normalizer: Normalizer,
    now: Micros,
) -> Report {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; inputs.len()];
    // Each input is hashed once; object keys are derived from these digests.
    let digests: Vec<InputDigest> = inputs.iter().map(|i| input_digest(&i.body)).collect();
    let mut objects: Vec<Object> = Vec::new();

    let log_counts = normalizer.log_counts();
    let (parts, quarantined) = match normalizer.finish() {
        Ok(done) => done,
        Err(e) => {
            // Only reachable through a bug (a builder out of step): fail the
            // whole batch so it is redelivered rather than lost.
            let error = format!("internal error building rows: {e}");
            warn!(%error, "batch failed");
            return Report {
                outcomes: vec![Outcome::Failed { error }; inputs.len()],
                ..Default::default()
            };
        }
    };

    for part in parts {
        let TablePart {
            table,
            dt,
            batch,
            inputs: part_inputs,
        } = part;
        let key = part_key(
            table,
            &dt,
            source,
            part_inputs.iter().map(|&i| &digests[i as usize]),
        );
        match parquet_io::encode(&batch) {
            Ok(bytes) => objects.push(Object {
                key,
                body: bytes.into(),
                inputs: part_inputs,
                table: table.name,
                rows: batch.num_rows(),
            }),
            Err(e) => fail(&mut outcomes, &part_inputs, format!("encoding {key}: {e}")),
        }
    }

    if !quarantined.is_empty() {
        let ids: Vec<String> = quarantined
            .iter()
            .map(|q| {
                let id = &inputs[q.input as usize].id;
                match &q.part {
                    Some(part) => format!("{id}/{}", part.id),
                    None => id.clone(),
                }
            })
            .collect();
        let rejected: Vec<_> = quarantined
            .iter()
            .zip(&ids)
            .map(|(q, id)| {
                let raw = match &q.part {
                    Some(part) => &part.raw[..],
                    None => &inputs[q.input as usize].body[..],
                };
                (Some(id.as_str()), &q.error, raw)
            })
            .collect();
        let mut q_inputs: Vec<u32> = quarantined.iter().map(|q| q.input).collect();
        q_inputs.sort_unstable();
        q_inputs.dedup();
        let dt = date_of(now);
        let key = part_key(
            &quarantine::DEF,
            &dt,
            source,
            q_inputs.iter().map(|&i| &digests[i as usize]),
        );
        let encoded = quarantine_batch(source, now, &rejected)
            .map_err(|e| e.to_string())
            .and_then(|b| parquet_io::encode(&b).map_err(|e| e.to_string()));
        match encoded {
            Ok(bytes) => objects.push(Object {
                key,
                body: bytes.into(),
                inputs: q_inputs,
                table: quarantine::NAME,
                rows: rejected.len(),
            }),
            Err(e) => fail(
                &mut outcomes,
                &q_inputs,
                format!("encoding quarantine: {e}"),
            ),
        }
        for (q, id) in quarantined.iter().zip(&ids) {
            warn!(input = %id, reason = %q.error.reason, detail_type = q.error.detail_type.as_deref(), "quarantined");
        }
    }

    let results: Vec<(Object, Result<(), String>)> = futures::stream::iter(objects)
        .map(|o| async move {
            let r = store
                .put(&o.key, o.body.clone())
                .await
                .map_err(|e| e.to_string());
            (o, r)
        })
        .buffer_unordered(PUT_CONCURRENCY)
        .collect()
        .await;

    let mut report = Report {
        logs: log_counts,
        ..Default::default()
    };
    for (o, r) in results {
        match r {
            Ok(()) => {
                *report.rows.entry(o.table).or_default() += o.rows;
                report.objects.push(o.key);
            }
            Err(e) => {
                warn!(key = %o.key, error = %e, "write failed");
                fail(&mut outcomes, &o.inputs, format!("writing {}: {e}", o.key));
            }
        }
    }
    report.objects.sort();

    // Only a whole-input quarantine settles the input as quarantined; an input
    // with some quarantined records is written (its quarantine rows included).
    let reasons: BTreeMap<u32, &str> = quarantined
        .iter()
        .filter(|q| q.part.is_none())
        .map(|q| (q.input, q.error.reason.as_str()))
        .collect();
    report.outcomes = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| match reasons.get(&(i as u32)) {
                Some(reason) => Outcome::Quarantined {
                    reason: (*reason).to_owned(),
                },
                None => Outcome::Written,
            })
        })
        .collect();
    info!(
        location = %store.location(),
        inputs = inputs.len(),
        written = report.written(),
        quarantined = report.quarantined(),
        failed = report.failed(),
        objects = report.objects.len(),
        log_events = report.logs.log_events,
        control_messages = report.logs.control_messages,
        "batch ingested"
    );
    report
}

fn fail(outcomes: &mut [Option<Outcome>], inputs: &[u32], error: String) {
    for &i in inputs {
        outcomes[i as usize].get_or_insert_with(|| Outcome::Failed {
            error: error.clone(),
        });
    }
}
