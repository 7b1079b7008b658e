//! CloudWatch Logs as users export them, read as the CloudWatch Logs
//! payloads the subscription would have delivered:
//!
//! * `aws logs filter-log-events` output: `{"events": [{"logStreamName",
//!   "timestamp", "message", "ingestionTime", "eventId"}], "searchedLogStreams", "nextToken"}`
//!   (no log group: it is the `--log-group` the user passes);
//! * `aws logs get-log-events` output: `{"events": [{"timestamp", "message",
//!   "ingestionTime"}], "nextForwardToken", "nextBackwardToken"}` (neither
//!   log group nor stream);
//! * CloudWatch Logs Insights results: `aws logs get-query-results` output
//!   (`{"results": [[{"field", "value"}]]}`), the console's JSON download (an
//!   array of objects keyed by field) and its CSV download (a header row of
//!   field names), with `@timestamp` (`YYYY-MM-DD HH:MM:SS.mmm`, UTC),
//!   `@message`, `@logStream` and `@log` (`<account>:<log group>`).
//!
//! The events of each log group and stream become one decoded payload
//! (`{"messageType": "DATA_MESSAGE", ...}`, at most [`EVENTS_PER_PAYLOAD`]
//! events), so they take the subscription's path: routing by log group
//! (Container Insights records, ECS events, application lines), levels,
//! signatures, redaction, and per-event quarantine. A row that cannot be a
//! log event (no `@message`, a time that cannot be read) becomes an input of
//! its own, rejected with the reason; the rest of the document is kept.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::input::{Input, InputKind, RowError, truncate};
use crate::time;

/// Log events per payload built from a document: well inside the 16 MiB a
/// payload may decode to with CloudWatch Logs' 256 KiB events.
pub const EVENTS_PER_PAYLOAD: usize = 10_000;

/// What the user says about documents that do not name their log group or
/// stream (`ecs-query ingest --log-group/--log-stream`).
#[derive(Debug, Clone, Default)]
pub struct LogNames {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    /// The account that owns the group (a subscription payload's `owner`),
    /// when the caller knows it: then a line read from a document and the
    /// same line delivered by the subscription are equal rows.
    pub owner: Option<String>,
}

/// A log document that cannot be placed without a name the user must give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}, which does not name its log group")]
pub struct MissingLogGroup {
    /// What the document is, e.g. "an `aws logs filter-log-events` output".
    pub what: &'static str,
}

/// One log event read from a document, or why a row of it cannot be one.
struct Event {
    group: Option<String>,
    stream: Option<String>,
    owner: Option<String>,
    id: Option<String>,
    /// Epoch milliseconds.
    timestamp: Option<i64>,
    message: String,
}

/// `filter-log-events` / `get-log-events` output: `None` when the document is
/// not one (no `events` list of objects with `message`).
pub fn log_events_output(
    name: &str,
    map: &std::collections::HashMap<std::borrow::Cow<'_, str>, &RawValue>,
    names: &LogNames,
) -> Option<Result<Vec<Input>, MissingLogGroup>> {
    #[derive(Deserialize)]
    struct OutputEvent {
        #[serde(rename = "logStreamName", default)]
        log_stream_name: Option<String>,
        #[serde(default)]
        timestamp: Option<Value>,
        #[serde(default)]
        message: Option<String>,
        #[serde(rename = "eventId", default)]
        event_id: Option<String>,
    }
    let events: Vec<Map<String, Value>> = serde_json::from_str(map.get("events")?.get()).ok()?;
    let is_output = map.contains_key("nextForwardToken")
        || map.contains_key("nextBackwardToken")
        || map.contains_key("searchedLogStreams")
        || map.contains_key("nextToken")
        || events
            .first()
            .is_some_and(|e| e.contains_key("message") && e.contains_key("timestamp"));
    if !is_output {
        return None;
    }
    let what = if map.contains_key("nextForwardToken") {
        "an `aws logs get-log-events` output"
    } else {
        "an `aws logs filter-log-events` output"
    };
    let Some(group) = names.log_group.clone() else {
        return Some(Err(MissingLogGroup { what }));
    };
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let raw = Value::Object(e.clone()).to_string().into_bytes();
        let e = serde_json::from_value::<OutputEvent>(Value::Object(e))
            .map_err(|e| RowError::new(format!("{what}: events[{i}]: {e}")))
            .and_then(|e| {
                let message = e
                    .message
                    .ok_or_else(|| RowError::new(format!("{what}: events[{i}] has no message")))?;
                let timestamp = e
                    .timestamp
                    .map(|t| {
                        t.as_i64().ok_or_else(|| {
                            RowError::new(format!(
                                "{what}: events[{i}]: timestamp {t} is not epoch milliseconds"
                            ))
                        })
                    })
                    .transpose()?;
                Ok(Event {
                    group: Some(group.clone()),
                    stream: e.log_stream_name.or_else(|| names.log_stream.clone()),
                    owner: names.owner.clone(),
                    id: e.event_id,
                    timestamp,
                    message,
                })
            })
            .map_err(|error| (error, raw));
        rows.push(e);
    }
    Some(Ok(payloads(name, rows)))
}

/// `aws logs get-query-results` output (`{"results": [[{"field", "value"}]]}`):
/// `None` when the document is not one.
pub fn query_results(
    name: &str,
    map: &std::collections::HashMap<std::borrow::Cow<'_, str>, &RawValue>,
    names: &LogNames,
) -> Option<Result<Vec<Input>, MissingLogGroup>> {
    #[derive(Deserialize)]
    struct Cell {
        field: String,
        #[serde(default)]
        value: Option<String>,
    }
    let results: Vec<Vec<Cell>> = serde_json::from_str(map.get("results")?.get()).ok()?;
    let rows = results
        .into_iter()
        .map(|r| {
            r.into_iter()
                .filter_map(|c| Some((c.field, c.value?)))
                .collect()
        })
        .collect();
    Some(insights_rows(name, rows, names))
}

/// The console's JSON download of Insights results: an array of objects
/// keyed by field, at least one named `@...`. `None` when it is not one.
pub fn insights_json(
    name: &str,
    items: &[&RawValue],
    names: &LogNames,
) -> Option<Result<Vec<Input>, MissingLogGroup>> {
    // Most arrays are EventBridge events: tell by the first item's keys,
    // before building a tree of every item.
    let first: std::collections::HashMap<std::borrow::Cow<'_, str>, serde::de::IgnoredAny> =
        serde_json::from_str(items.first()?.get()).ok()?;
    if !first.keys().any(|k| k.starts_with('@')) || first.contains_key("detail-type") {
        return None;
    }
    let rows: Vec<BTreeMap<String, Value>> = items
        .iter()
        .map(|v| serde_json::from_str(v.get()))
        .collect::<Result<_, _>>()
        .ok()?;
    let is_insights = !rows.is_empty()
        && rows
            .iter()
            .all(|r| r.keys().any(|k| k.starts_with('@')) && !r.contains_key("detail-type"));
    if !is_insights {
        return None;
    }
    let rows = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Null => None,
                    other => Some((k, other.to_string())),
                })
                .collect()
        })
        .collect();
    Some(insights_rows(name, rows, names))
}

/// True when a text file is Insights results as CSV: its header names
/// `@message` or `@timestamp`.
pub fn looks_like_insights_csv(content: &[u8]) -> bool {
    let first = content
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    !first.trim_ascii_start().starts_with(b"{")
        && first.contains(&b',')
        && (contains(first, b"@message") || contains(first, b"@timestamp"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Insights results downloaded as CSV.
pub fn insights_csv(
    name: &str,
    content: &[u8],
    names: &LogNames,
) -> Result<Vec<Input>, MissingLogGroup> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(content);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Err(e) => {
            return Ok(vec![Input::rejected(
                format!("{name}:1"),
                content.to_vec(),
                RowError::new(format!("Insights CSV: the header cannot be read: {e}")),
            )]);
        }
    };
    let mut rows = Vec::new();
    let mut broken = Vec::new();
    for (i, record) in reader.records().enumerate() {
        match record {
            Ok(r) => rows.push(
                headers
                    .iter()
                    .cloned()
                    .zip(r.iter().map(str::to_owned))
                    .collect::<BTreeMap<_, _>>(),
            ),
            Err(e) => broken.push(Input::rejected(
                format!("{name}:record#{i}"),
                Vec::new(),
                RowError::new(format!("Insights CSV: record {i}: {e}")),
            )),
        }
    }
    let mut inputs = insights_rows(name, rows, names)?;
    inputs.extend(broken);
    Ok(inputs)
}

/// Insights rows (field -> value) as log events.
fn insights_rows(
    name: &str,
    rows: Vec<BTreeMap<String, String>>,
    names: &LogNames,
) -> Result<Vec<Input>, MissingLogGroup> {
    const WHAT: &str = "Insights results";
    let events: Vec<Result<Event, (RowError, Vec<u8>)>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let raw = serde_json::to_vec(&r).unwrap_or_default();
            let row = |r: &mut BTreeMap<String, String>| -> Result<Event, RowError> {
            let message = r.remove("@message").ok_or_else(|| {
                RowError::new(format!(
                    "{WHAT}: row {i} has no @message (run the query with `fields @timestamp, @message, @logStream, @log`)"
                ))
            })?;
            let timestamp = r
                .get("@timestamp")
                .map(|t| {
                    insights_time(t).ok_or_else(|| {
                        RowError::new(format!(
                            "{WHAT}: row {i}: @timestamp {:?} is not a time",
                            truncate(t, 40)
                        ))
                    })
                })
                .transpose()?;
            // `@log` is `<account>:<log group>`.
            let (owner, group) = match r.get("@log").and_then(|l| l.split_once(':')) {
                Some((owner, group)) => (Some(owner.to_owned()), Some(group.to_owned())),
                None => (names.owner.clone(), names.log_group.clone()),
            };
            // No id: `@ptr` is a query's pointer, not the event's id.
            Ok(Event {
                group,
                stream: r
                    .remove("@logStream")
                    .or_else(|| names.log_stream.clone()),
                owner,
                id: None,
                timestamp,
                message,
            })
            };
            row(&mut r).map_err(|error| (error, raw))
        })
        .collect();
    if events
        .iter()
        .any(|e| e.as_ref().is_ok_and(|e| e.group.is_none()))
    {
        return Err(MissingLogGroup {
            what: "Insights results without @log",
        });
    }
    Ok(payloads(name, events))
}

/// `2024-01-15 10:23:45.123` (UTC, as Insights prints it), or any time the
/// lake reads (RFC 3339), as epoch milliseconds.
fn insights_time(s: &str) -> Option<i64> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
        .or_else(|| time::parse_time(s).ok().map(|us| us.div_euclid(1000)))
}

/// One decoded payload per log group, stream and owner (in chunks of
/// [`EVENTS_PER_PAYLOAD`]); one rejected input per row that is not an
/// event, holding the row.
fn payloads(name: &str, events: Vec<Result<Event, (RowError, Vec<u8>)>>) -> Vec<Input> {
    type Key = (String, String, Option<String>);
    let mut groups: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
    let mut inputs = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        match e {
            Ok(e) => groups
                .entry((
                    e.group.unwrap_or_default(),
                    e.stream.unwrap_or_default(),
                    e.owner,
                ))
                .or_default()
                .push(json!({"id": e.id, "timestamp": e.timestamp, "message": e.message})),
            Err((error, raw)) => inputs.push(Input::rejected(format!("{name}:#{i}"), raw, error)),
        }
    }
    for ((group, stream, owner), events) in groups {
        for (n, chunk) in events.chunks(EVENTS_PER_PAYLOAD).enumerate() {
            let payload = json!({
                "messageType": "DATA_MESSAGE",
                "owner": owner,
                "logGroup": group,
                "logStream": stream,
                "subscriptionFilters": [],
                "logEvents": chunk,
            });
            inputs.push(Input::of(
                InputKind::LogsPayload,
                format!("{name}:{group}:{stream}#{n}"),
                payload.to_string().into_bytes(),
            ));
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insights_times() {
        assert_eq!(
            insights_time("2024-01-15 10:23:45.123"),
            Some(1_705_314_225_123)
        );
        assert_eq!(
            insights_time("2024-01-15T10:23:45.123Z"),
            Some(1_705_314_225_123)
        );
        assert_eq!(insights_time("yesterday"), None);
    }

    #[test]
    fn csv_headers_are_recognised() {
        assert!(looks_like_insights_csv(
            b"@timestamp,@message\n2024-01-15 10:23:45.123,hello\n"
        ));
        assert!(!looks_like_insights_csv(b"{\"@message\": \"x\"}\n"));
        assert!(!looks_like_insights_csv(b"time,message\n"));
    }
}
