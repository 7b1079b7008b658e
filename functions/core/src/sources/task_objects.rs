//! Task objects as users hold them: `aws ecs describe-tasks`, `run-task` and
//! `stop-task` outputs (AWS CLI v1 with epoch seconds as floats, v2 with
//! ISO-8601), and the SDK's / Step Functions' `ecs:runTask.sync` output
//! (PascalCase keys, epoch milliseconds): `{"tasks": [...]}`, `{"task":
//! {...}}` or a bare task, also inside a botocore/placebo recording
//! (`{"status_code", "data"}`, times as `{"__class__": "datetime", ...}`
//! objects without a zone, read as UTC: see [`placebo_datetime`]). Stopped tasks vanish from the ECS API after
//! about an hour: a saved output is often the only record of a task.
//!
//! A task object is what an `ECS Task State Change` event carries in its
//! `detail`, so each becomes that event (keys in camelCase, times in
//! ISO-8601) and goes through [`super::events::append`]: the same rows, the
//! same classifier, the same redaction. The event's `id` is
//! `task-object-<hash>` of the task ARN, `version`, `lastStatus` and
//! `updatedAt`/`stoppedAt` (the same state read twice is one row in the
//! views), its `time` the task's `updatedAt` (else the latest lifecycle
//! time), its account and region those of the task ARN.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::input::RowError;
use crate::rows::Rows;

/// Where the event ids of task objects start: what tells them from
/// EventBridge's in `task_events.event_id`.
pub const EVENT_ID_PREFIX: &str = "task-object-";

/// The task objects of a document: its `tasks`, its `task`, or itself.
fn tasks_of(doc: &Value) -> Option<Vec<&Value>> {
    let o = doc.as_object()?;
    if o.contains_key("detail-type") {
        return None;
    }
    let is_task = |v: &Value| {
        v.get("taskArn").or_else(|| v.get("TaskArn")).is_some()
            && v.get("lastStatus")
                .or_else(|| v.get("LastStatus"))
                .is_some()
    };
    // A botocore/placebo recording: `{"status_code": 200, "data": {...}}`.
    if let Some(data) = o.get("data").filter(|_| o.contains_key("status_code")) {
        return tasks_of(data);
    }
    for key in ["tasks", "Tasks"] {
        if let Some(Value::Array(list)) = o.get(key) {
            return Some(list.iter().collect());
        }
    }
    for key in ["task", "Task"] {
        if let Some(t) = o.get(key).filter(|t| is_task(t)) {
            return Some(vec![t]);
        }
    }
    is_task(doc).then(|| vec![doc])
}

/// True when a JSON document holds task objects (see the module docs).
pub fn is_task_document(doc: &Value) -> bool {
    tasks_of(doc).is_some()
}

/// Appends every task of the document as a task state change, or none
/// (the document is refused whole, saying which task and why).
pub fn append(rows: &mut Rows, input: u32, doc: &Value) -> Result<(), RowError> {
    let tasks = tasks_of(doc).unwrap_or_default();
    if tasks.is_empty() {
        let failures = doc
            .get("failures")
            .map(Value::to_string)
            .unwrap_or_else(|| "none".into());
        return Err(RowError::new(format!(
            "task objects: the document lists no task (failures: {failures})"
        )));
    }
    let events: Vec<String> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            event_of(t)
                .map_err(|e| RowError::new(format!("task objects: tasks[{i}]: {}", e.reason)))
        })
        .collect::<Result<_, _>>()?;
    // All or nothing: each event is tried on scratch rows first.
    // Boxed: `Rows` holds every table's builders (too large for the stack
    // of a debug build, as in `Normalizer`).
    let mut scratch = Box::new(Rows::new(rows.ingested_at()));
    for (i, e) in events.iter().enumerate() {
        super::events::append(&mut scratch, 0, e.as_bytes())
            .map_err(|e| RowError::new(format!("task objects: tasks[{i}]: {}", e.reason)))?;
    }
    for e in &events {
        super::events::append(rows, input, e.as_bytes())?;
    }
    Ok(())
}

/// `TaskArn` -> `taskArn`, recursively; times (keys ending in `At`) given
/// as numbers become ISO-8601: epoch milliseconds from 1e11 up (the SDK's),
/// else epoch seconds (the CLI v1's floats).
fn canonical(v: &Value, key: Option<&str>) -> Result<Value, RowError> {
    Ok(match v {
        Value::Object(o) if o.get("__class__").and_then(Value::as_str) == Some("datetime") => {
            Value::String(placebo_datetime(o, key.unwrap_or_default())?)
        }
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                let mut name = k.clone();
                if let Some(first) = name.get(..1) {
                    let lower = first.to_ascii_lowercase();
                    name.replace_range(..1, &lower);
                }
                out.insert(name.clone(), canonical(v, Some(&name))?);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| canonical(v, None))
                .collect::<Result<_, _>>()?,
        ),
        Value::Number(n) if key.is_some_and(|k| k.ends_with("At")) => {
            let k = key.unwrap_or_default();
            let x = n
                .as_f64()
                .ok_or_else(|| RowError::new(format!("{k} is {n}, not a time")))?;
            let micros = if x.abs() >= 1e11 { x * 1e3 } else { x * 1e6 };
            let t = DateTime::from_timestamp_micros(micros.round() as i64)
                .ok_or_else(|| RowError::new(format!("{k} is {n}, out of range")))?;
            Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
        Value::Bool(_) if key.is_some_and(|k| k.ends_with("At")) => {
            return Err(RowError::new(format!(
                "{} is {v}, not a time",
                key.unwrap_or_default()
            )));
        }
        other => other.clone(),
    })
}

/// A botocore/placebo datetime (`{"__class__": "datetime", "year": ...,
/// "microsecond": ...}`) as ISO-8601. botocore gives ECS times in the
/// recording machine's local zone and the recording drops the zone: read as
/// UTC, which is right for recordings made in UTC (CI, servers) and off by
/// the recorder's offset otherwise.
fn placebo_datetime(o: &Map<String, Value>, key: &str) -> Result<String, RowError> {
    let part = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or_default() as u32;
    chrono::NaiveDate::from_ymd_opt(part("year") as i32, part("month"), part("day"))
        .and_then(|d| {
            d.and_hms_micro_opt(
                part("hour"),
                part("minute"),
                part("second"),
                part("microsecond"),
            )
        })
        .map(|t| t.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true))
        .ok_or_else(|| RowError::new(format!("{key} is not a valid datetime")))
}

/// The task as an `ECS Task State Change` event, JSON text.
fn event_of(task: &Value) -> Result<String, RowError> {
    let detail = canonical(task, None)?;
    let text = |k: &str| detail.get(k).and_then(Value::as_str);
    let arn = text("taskArn").ok_or_else(|| RowError::new("no taskArn"))?;
    let time = [
        "updatedAt",
        "stoppedAt",
        "executionStoppedAt",
        "stoppingAt",
        "startedAt",
        "pullStoppedAt",
        "createdAt",
    ]
    .iter()
    .find_map(|k| text(k))
    .ok_or_else(|| {
        RowError::new(format!(
            "task {arn} has no time (createdAt, updatedAt, ...)"
        ))
    })?;
    // arn:aws:ecs:<region>:<account>:task/...
    let mut parts = arn.split(':');
    let (region, account) = (parts.nth(3), parts.next());
    // The state's identity, the same whichever way the times are written.
    let at = text("updatedAt")
        .or(text("stoppedAt"))
        .and_then(|t| crate::time::parse_time(t).ok())
        .map(|m| m.to_string())
        .unwrap_or_default();
    let version = detail
        .get("version")
        .map(Value::to_string)
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [arn, &version, text("lastStatus").unwrap_or_default(), &at] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(json!({
        "version": "0",
        "id": format!("{EVENT_ID_PREFIX}{digest}"),
        "detail-type": super::events::TASK_STATE_CHANGE,
        "source": "aws.ecs",
        "account": account,
        "time": time,
        "region": region,
        "resources": [arn],
        "detail": detail,
    })
    .to_string())
}
