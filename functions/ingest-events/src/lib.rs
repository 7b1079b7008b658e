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

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use ecs_lake::envelope::sqs_input;
use ecs_lake::lenient::Micros;
use ecs_lake::normalize::RowError;
use ecs_lake::{Input, LakeStore, Outcome, Report, ingest_events};
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

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Option<&'a RawValue>,
}

/// Handles one invocation. `payload` is the invocation's JSON, byte for byte.
pub async fn handle<S: LakeStore>(
    store: &S,
    payload: &RawValue,
    now: Micros,
) -> Result<(Response, Report), WriteFailed> {
    let text = payload.get();
    let is_sqs = serde_json::from_str::<Probe<'_>>(text).is_ok_and(|p| p.records.is_some());
    if is_sqs {
        let inputs = match serde_json::from_str::<SqsEvent>(text) {
            Ok(event) => event
                .records
                .iter()
                .enumerate()
                .map(|(i, r)| sqs_input("", i, r.message_id.as_deref(), r.body.as_deref()))
                .collect(),
            Err(e) => vec![Input::rejected(
                "invocation",
                text.as_bytes().to_vec(),
                RowError::new(format!("payload has Records but is not an SQS event: {e}")),
            )],
        };
        let report = ingest_events(store, &inputs, now).await;
        let mut response = SqsBatchResponse::default();
        for (input, outcome) in inputs.iter().zip(&report.outcomes) {
            if matches!(outcome, Outcome::Failed { .. }) {
                response.add_failure(input.id.clone());
            }
        }
        return Ok((Response::Sqs(response), report));
    }

    let inputs = [Input::new("invocation", text.as_bytes().to_vec())];
    let report = ingest_events(store, &inputs, now).await;
    let summary = match &report.outcomes[..] {
        [Outcome::Written] => DirectSummary {
            outcome: "written",
            reason: None,
        },
        [Outcome::Quarantined { reason }] => DirectSummary {
            outcome: "quarantined",
            reason: Some(reason.clone()),
        },
        [Outcome::Failed { error }] => return Err(WriteFailed(error.clone())),
        other => {
            return Err(WriteFailed(format!(
                "expected one outcome, got {}",
                other.len()
            )));
        }
    };
    Ok((Response::Direct(summary), report))
}
