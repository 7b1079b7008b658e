//! CloudTrail records of the ECS agent's state reports, `SubmitTaskStateChange`
//! and `SubmitContainerStateChange` (trail files `{"Records": [...]}`, one
//! record per input, or an EventBridge `AWS API Call via CloudTrail` event
//! carrying one in its `detail`). They hold what the agent told ECS, among
//! it the `OutOfMemoryError` reasons, also when no exit code was reported.
//!
//! A record becomes the `ECS Task State Change` event it reports and goes
//! through [`super::events::append`] (same rows, classifier, redaction):
//! `requestParameters.task`, `status` (task changes only), `reason`, the
//! containers (`containerName` -> `name`, `status` -> `lastStatus`,
//! `exitCode`, `reason`, `runtimeId`, `imageDigest`, `networkBindings`) and
//! the pull and execution-stop times. The event id is `cloudtrail-<eventID>`,
//! its time the record's `eventTime`. The agent does not report a task's
//! definition, group or `version`, so such a row has no revision or service,
//! and in the `tasks` view it stands for a task only when nothing else in the
//! lake does (any event with a version is newer).

use serde_json::{Map, Value, json};

use crate::input::RowError;
use crate::rows::Rows;

/// Where the event ids of CloudTrail records start.
pub const EVENT_ID_PREFIX: &str = "cloudtrail-";

/// The agent's state reports: the only ECS calls read.
pub const EVENT_NAMES: [&str; 2] = ["SubmitTaskStateChange", "SubmitContainerStateChange"];

/// True when a JSON document is a CloudTrail record (any service's): its
/// `eventSource` is a service endpoint (`ecs.amazonaws.com`), which tells it
/// from the Lambda event records that also carry one (`aws:kinesis`, `aws:sqs`).
pub fn is_record(doc: &Value) -> bool {
    doc.get("eventSource")
        .and_then(Value::as_str)
        .is_some_and(|s| s.ends_with(".amazonaws.com"))
        && doc.get("eventName").is_some_and(Value::is_string)
        && doc.get("eventTime").is_some_and(Value::is_string)
        && doc.get("detail-type").is_none()
}

/// True when a CloudTrail record is one of the agent's state reports.
pub fn is_state_report(doc: &Value) -> bool {
    doc.get("eventSource").and_then(Value::as_str) == Some("ecs.amazonaws.com")
        && doc
            .get("eventName")
            .and_then(Value::as_str)
            .is_some_and(|n| EVENT_NAMES.contains(&n))
}

/// Appends an EventBridge event as [`super::events::append`] does, and an
/// agent's state report recorded by CloudTrail (`AWS API Call via
/// CloudTrail`, which that leaves to this module) as the task state change
/// it reports: the entry point for every EventBridge event.
pub fn append_event(rows: &mut Rows, input: u32, raw: &[u8]) -> Result<(), RowError> {
    match super::events::append(rows, input, raw) {
        Err(e) if e.reason == super::events::AGENT_REPORT => {
            let event: Value = serde_json::from_slice(raw)
                .map_err(|e| RowError::new(format!("CloudTrail event: {e}")))?;
            append(rows, input, event.get("detail").unwrap_or(&Value::Null))
                .map_err(|e| e.with_detail_type(super::events::CLOUDTRAIL_API_CALL))
        }
        other => other,
    }
}

/// Appends the task state change a CloudTrail record reports, or says why
/// it cannot.
pub fn append(rows: &mut Rows, input: u32, record: &Value) -> Result<(), RowError> {
    let event = event_of(record)?;
    super::events::append(rows, input, event.to_string().as_bytes())
        .map_err(|e| RowError::new(format!("CloudTrail record: {}", e.reason)))
}

/// The record as an `ECS Task State Change` event.
fn event_of(record: &Value) -> Result<Value, RowError> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let name = text(record, "eventName").unwrap_or_default();
    if !is_state_report(record) {
        return Err(RowError::new(format!(
            "CloudTrail record of {} {name}: not an ECS agent state report (SubmitTaskStateChange, SubmitContainerStateChange)",
            text(record, "eventSource").unwrap_or_default()
        )));
    }
    let Some(p) = record.get("requestParameters").filter(|p| p.is_object()) else {
        return Err(RowError::new(format!(
            "CloudTrail {name} record has no requestParameters"
        )));
    };
    let event_time = text(record, "eventTime")
        .ok_or_else(|| RowError::new(format!("CloudTrail {name} record has no eventTime")))?;
    let region = text(record, "awsRegion");
    let account = text(record, "recipientAccountId").or_else(|| {
        record
            .pointer("/userIdentity/accountId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let task = text(p, "task").ok_or_else(|| {
        RowError::new(format!(
            "CloudTrail {name} record names no task (requestParameters.task)"
        ))
    })?;
    let cluster = text(p, "cluster");
    let cluster_arn = cluster.map(|c| {
        if c.starts_with("arn:") {
            c
        } else {
            format!(
                "arn:aws:ecs:{}:{}:cluster/{c}",
                region.as_deref().unwrap_or_default(),
                account.as_deref().unwrap_or_default()
            )
        }
    });
    let container = |c: &Value| -> Value {
        let mut out = Map::new();
        for (from, to) in [
            ("containerName", "name"),
            ("status", "lastStatus"),
            ("exitCode", "exitCode"),
            ("reason", "reason"),
            ("runtimeId", "runtimeId"),
            ("imageDigest", "imageDigest"),
            ("networkBindings", "networkBindings"),
        ] {
            match c.get(from) {
                Some(Value::String(s)) if s.is_empty() => {}
                Some(v) if !v.is_null() => {
                    out.insert(to.to_owned(), v.clone());
                }
                _ => {}
            }
        }
        out.insert("taskArn".to_owned(), json!(task));
        Value::Object(out)
    };
    let containers: Vec<Value> = if name == "SubmitTaskStateChange" {
        p.get("containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(container).collect())
            .unwrap_or_default()
    } else {
        vec![container(p)]
    };
    let mut detail = Map::new();
    detail.insert("taskArn".into(), json!(task));
    if let Some(arn) = cluster_arn {
        detail.insert("clusterArn".into(), json!(arn));
    }
    if name == "SubmitTaskStateChange" {
        if let Some(status) = text(p, "status") {
            detail.insert("lastStatus".into(), json!(status));
        }
        if let Some(reason) = text(p, "reason").filter(|r| !r.is_empty()) {
            detail.insert("stoppedReason".into(), json!(reason));
        }
        for k in ["pullStartedAt", "pullStoppedAt", "executionStoppedAt"] {
            if let Some(t) = p.get(k).filter(|t| !t.is_null()) {
                detail.insert(k.into(), t.clone());
            }
        }
    }
    detail.insert("containers".into(), Value::Array(containers));
    let id = text(record, "eventID").unwrap_or_else(|| format!("{name}-{task}-{event_time}"));
    Ok(json!({
        "version": "0",
        "id": format!("{EVENT_ID_PREFIX}{id}"),
        "detail-type": super::events::TASK_STATE_CHANGE,
        "source": "aws.ecs",
        "account": account,
        "time": event_time,
        "region": region,
        "resources": [task],
        "detail": detail,
    }))
}
