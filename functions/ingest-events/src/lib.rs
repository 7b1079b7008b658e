//! # ingest-events: ECS events from EventBridge into the lake
//!
//! Two invocation shapes:
//!
//! * **SQS** (production: EventBridge rule -> SQS -> Lambda, batched). Each SQS
//!   body is one EventBridge event. A body that cannot be normalized is
//!   quarantined and counts as done; a record whose rows could not be written
//!   is returned in `batchItemFailures` so SQS redelivers just that record
//!   (requires `ReportBatchItemFailures` on the event source mapping).
//! * **Direct** EventBridge invocation (one event). A failed write returns an
//!   error so Lambda's async retry redelivers it.
//!
//! The handler never panics on input and never reads the environment: `main`
//! builds the store once and passes it in.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use ecs_lake::envelope::sqs_input;
use ecs_lake::input::RowError;
use ecs_lake::time::Micros;
use ecs_lake::{Input, LakeStore, Report, ingest};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What the handler answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// For SQS: the records to redeliver.
    Sqs(SqsBatchResponse),
    /// For a direct invocation: what happened to the event.
    Direct(DirectSummary),
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DirectSummary {
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A failed write on a direct invocation: Lambda retries the event.
#[derive(Debug, thiserror::Error)]
#[error("the event could not be written to the lake, so it will be retried: {0}")]
pub struct WriteFailed(pub String);

/// The one parse of an invocation: its SQS records, if it has any. A direct
/// EventBridge event has no `Records` and is used as the text it arrived as.
#[derive(Deserialize)]
struct Invocation {
    #[serde(rename = "Records", default)]
    records: Option<Vec<SqsMessage>>,
}

/// Handles one invocation. `payload` is the invocation's JSON, byte for byte.
pub async fn handle<S: LakeStore>(
    store: &S,
    payload: &RawValue,
    now: Micros,
) -> Result<(Response, Report), WriteFailed> {
    let text = payload.get();
    let records = match serde_json::from_str::<Invocation>(text) {
        Ok(invocation) => invocation.records,
        Err(e) => {
            let reason = format!("payload is neither an SQS event nor an EventBridge event: {e}");
            let input = Input::rejected(
                "invocation",
                text.as_bytes().to_vec(),
                RowError::new(reason),
            );
            return direct(store, input, now).await;
        }
    };
    let Some(records) = records else {
        return direct(
            store,
            Input::new("invocation", text.as_bytes().to_vec()),
            now,
        )
        .await;
    };
    let inputs: Vec<Input> = records
        .iter()
        .enumerate()
        .map(|(i, r)| sqs_input("", i, r.message_id.as_deref(), r.body.as_deref()))
        .collect();
    let report = ingest(store, "events", &inputs, now).await;
    let mut response = SqsBatchResponse::default();
    for input in report.failed_inputs(&inputs) {
        response.add_failure(input.id.clone());
    }
    Ok((Response::Sqs(response), report))
}

/// A direct EventBridge invocation: one input; a failed write fails the invocation.
async fn direct<S: LakeStore>(
    store: &S,
    input: Input,
    now: Micros,
) -> Result<(Response, Report), WriteFailed> {
    let inputs = [input];
    let report = ingest(store, "events", &inputs, now).await;
    let reason = report.single().map_err(WriteFailed)?;
    let summary = DirectSummary {
        outcome: if reason.is_some() {
            "quarantined"
        } else {
            "written"
        },
        reason: reason.map(str::to_owned),
    };
    Ok((Response::Direct(summary), report))
}
