//! # ingest-logs: CloudWatch Logs subscriptions into the lake
//!
//! Subscribe application log groups and Container Insights performance log
//! groups (`/aws/ecs/containerinsights/<cluster>/performance`) to this function.
//! Two invocation shapes:
//!
//! * **Lambda subscription** `{"awslogs": {"data": "<base64 gzip>"}}`: one
//!   payload. A failed write returns an error so Lambda's async retry
//!   redelivers it; anything unreadable is quarantined and the call succeeds.
//! * **Kinesis Data Streams** (subscription -> stream -> Lambda):
//!   `Records[].kinesis.data` is the same payload. A record whose rows could not
//!   be written is returned in `batchItemFailures` (by sequence number), so
//!   Kinesis retries from it (requires `ReportBatchItemFailures`).
//!
//! CONTROL_MESSAGE payloads (CloudWatch Logs checking that the destination is
//! reachable) are counted and dropped. Decoding is bounded by
//! [`ecs_lake::sources::logs::decode::MAX_DECODED_BYTES`] per payload. The handler never panics
//! on input and never reads the environment.

use ecs_lake::envelope;
use ecs_lake::input::RowError;
use ecs_lake::rows::LogCounts;
use ecs_lake::time::Micros;
use ecs_lake::{Input, LakeStore, Options, Report, ingest_with};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The ingester name in object keys and quarantine rows.
pub const SOURCE: &str = "logs";

/// What the handler answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// For Kinesis: the records to retry.
    Kinesis(BatchResponse),
    /// For a direct subscription: what happened to the payload.
    Direct(DirectSummary),
}

/// `{"batchItemFailures": [{"itemIdentifier": "<sequence number>"}]}`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DirectSummary {
    /// `written` (including a control message or a payload with some
    /// quarantined events) or `quarantined` (the payload could not be read).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub log_events: usize,
    pub rows: usize,
    pub quarantined_events: usize,
    pub control_messages: usize,
}

/// A failed write on a direct invocation: Lambda retries the payload.
#[derive(Debug, thiserror::Error)]
#[error("the payload could not be written to the lake, so it will be retried: {0}")]
pub struct WriteFailed(pub String);

/// The one parse of an invocation. Payloads are kept as the text they arrived as.
#[derive(Deserialize)]
struct Invocation<'a> {
    #[serde(borrow, default)]
    awslogs: Option<&'a RawValue>,
    #[serde(rename = "Records", borrow, default)]
    records: Option<&'a RawValue>,
}

/// Handles one invocation. `payload` is the invocation's JSON, byte for byte.
pub async fn handle<S: LakeStore>(
    store: &S,
    payload: &RawValue,
    now: Micros,
) -> Result<(Response, Report), WriteFailed> {
    handle_with(store, payload, now, Options::default()).await
}

/// [`handle`] with other normalization [`Options`] (`main` reads
/// `REDACT_SECRETS` from the environment).
pub async fn handle_with<S: LakeStore>(
    store: &S,
    payload: &RawValue,
    now: Micros,
    options: Options,
) -> Result<(Response, Report), WriteFailed> {
    let text = payload.get();
    let unreadable = |why: String| {
        Input::rejected(
            "invocation",
            text.as_bytes().to_vec(),
            RowError::new(format!(
                "invocation is neither a CloudWatch Logs subscription ({{\"awslogs\":{{\"data\":...}}}}) nor a Kinesis event: {why}"
            )),
        )
    };
    let invocation = match serde_json::from_str::<Invocation<'_>>(text) {
        Ok(i) => i,
        Err(e) => return direct(store, unreadable(e.to_string()), now, options).await,
    };
    match (invocation.awslogs, invocation.records) {
        (Some(awslogs), _) => {
            let input = envelope::awslogs_input("awslogs", awslogs)
                .unwrap_or_else(|| unreadable("awslogs has no data".into()));
            direct(store, input, now, options).await
        }
        (None, Some(records)) => match envelope::payload_records("", records) {
            Some(inputs) => kinesis(store, &inputs, now, options).await,
            None => {
                direct(
                    store,
                    unreadable("Records are not Kinesis records".into()),
                    now,
                    options,
                )
                .await
            }
        },
        (None, None) => {
            direct(
                store,
                unreadable("no awslogs or Records".into()),
                now,
                options,
            )
            .await
        }
    }
}

async fn kinesis<S: LakeStore>(
    store: &S,
    inputs: &[Input],
    now: Micros,
    options: Options,
) -> Result<(Response, Report), WriteFailed> {
    let report = ingest_with(store, SOURCE, inputs, now, options).await;
    let response = BatchResponse {
        batch_item_failures: report
            .failed_inputs(inputs)
            .map(|i| ItemFailure {
                item_identifier: i.id.clone(),
            })
            .collect(),
    };
    Ok((Response::Kinesis(response), report))
}

/// A direct subscription: one payload; a failed write fails the invocation.
async fn direct<S: LakeStore>(
    store: &S,
    input: Input,
    now: Micros,
    options: Options,
) -> Result<(Response, Report), WriteFailed> {
    let inputs = [input];
    let report = ingest_with(store, SOURCE, &inputs, now, options).await;
    let reason = report.single().map_err(WriteFailed)?;
    let outcome = if reason.is_some() {
        "quarantined"
    } else {
        "written"
    };
    let reason = reason.map(str::to_owned);
    let LogCounts {
        log_events,
        rows,
        quarantined,
        control_messages,
        ..
    } = report.logs;
    let summary = DirectSummary {
        outcome,
        reason,
        log_events,
        rows,
        quarantined_events: quarantined,
        control_messages,
    };
    Ok((Response::Direct(summary), report))
}
