//! Unwrapping deliveries into inputs: SQS batches, backfill files.
//!
//! A backfill file may hold, optionally gzipped:
//! * one EventBridge event, a JSON array of them, or JSON lines of them;
//! * an SQS event (`{"Records": [{"body": ...}]}`): one input per body;
//! * CloudWatch Logs payloads: a Lambda subscription event
//!   (`{"awslogs": {"data": ...}}`), a Kinesis event (`Records[].kinesis.data`),
//!   a Firehose event (`records[].data`), or a decoded payload
//!   (`{"messageType": ...}`); one input per payload;
//! * a CloudWatch Logs export: text lines `<timestamp> <message>` (see
//!   [`looks_like_export`]), one input per line.
//! * CloudWatch Logs as `aws logs filter-log-events` / `get-log-events` and
//!   Logs Insights (JSON, CSV) print them ([`log_documents`]): one payload
//!   input per log group and stream.
//!
//! Anything that cannot be split (a line that is not JSON) still becomes an
//! input, so it is quarantined with its reason instead of being skipped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::input::{Input, InputKind, RowError};
use crate::lenient::Str;
use crate::time;

pub mod log_documents;

pub use log_documents::{LogNames, MissingLogGroup};

/// Largest decompressed backfill file accepted (the CLI holds a file in memory).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Deserialize)]
struct SqsRecord<'a> {
    #[serde(rename = "messageId", borrow, default)]
    message_id: Str<'a>,
    #[serde(borrow, default)]
    body: Str<'a>,
}

/// Decompresses gzip content (detected by its magic bytes); other bytes pass through.
pub fn maybe_gunzip(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 8);
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "decompresses to more than {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// Splits a file's (decompressed) content into one input per event.
/// `name` prefixes the input ids (`name:line`, `name:#index`, `name:messageId`).
/// A log document that does not name its log group is one rejected input
/// (see [`split_file_named`]).
pub fn split_file(name: &str, content: &[u8]) -> Vec<Input> {
    split_file_named(name, content, &LogNames::default()).unwrap_or_else(|missing| {
        vec![Input::rejected(
            name,
            content.to_vec(),
            RowError::new(format!("{missing}: pass its log group")),
        )]
    })
}

/// Like [`split_file`], with the log group and stream of log documents that
/// do not name them (`filter-log-events` output, Insights results without
/// `@log`); `Err` when such a document comes without them.
pub fn split_file_named(
    name: &str,
    content: &[u8],
    names: &LogNames,
) -> Result<Vec<Input>, MissingLogGroup> {
    let text = trim_ascii_start(content);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text[0] == b'[' {
        if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(text) {
            if let Some(inputs) = log_documents::insights_json(name, &items, names) {
                return inputs;
            }
            return Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Input::new(format!("{name}:#{i}"), v.get().as_bytes().to_vec()))
                .collect());
        }
    } else if let Ok(doc) = serde_json::from_slice::<&RawValue>(text) {
        return split_document(name, doc, names);
    } else if log_documents::looks_like_insights_csv(text) {
        return log_documents::insights_csv(name, text, names);
    }
    // JSON lines (or something broken: each line is then quarantined on its own).
    let mut inputs = Vec::new();
    for (n, line) in content.split(|&b| b == b'\n').enumerate() {
        let line = trim_ascii_start(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let id = format!("{name}:{}", n + 1);
        match serde_json::from_slice::<&RawValue>(line) {
            Ok(doc) => inputs.extend(split_document(&id, doc, names)?),
            Err(_) => inputs.push(Input::new(id, line.to_vec())),
        }
    }
    Ok(inputs)
}

#[derive(Deserialize)]
struct DataRecord<'a> {
    #[serde(borrow, default)]
    kinesis: Option<KinesisData<'a>>,
    /// Firehose records carry `data` directly.
    #[serde(borrow, default)]
    data: Str<'a>,
    #[serde(rename = "recordId", borrow, default)]
    record_id: Str<'a>,
}

#[derive(Deserialize)]
struct KinesisData<'a> {
    #[serde(borrow, default)]
    data: Str<'a>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Str<'a>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// The input of a subscription event's `awslogs` object; `None` without `data`.
pub fn awslogs_input(name: &str, awslogs: &RawValue) -> Option<Input> {
    let a = serde_json::from_str::<AwsLogs<'_>>(awslogs.get()).ok()?;
    Some(Input::of(
        InputKind::LogsPayload,
        name,
        a.data.as_bytes().to_vec(),
    ))
}

/// The CloudWatch Logs payloads of a Kinesis (`Records[].kinesis.data`) or
/// Firehose (`records[].data`) event, one input per record, identified by
/// sequence number or record id (`name:` first unless `name` is empty). A
/// record without data is quarantined. `None` when these are not such records.
pub fn payload_records(name: &str, records: &RawValue) -> Option<Vec<Input>> {
    let data = serde_json::from_str::<Vec<DataRecord<'_>>>(records.get()).ok()?;
    if !data.iter().all(|r| r.kinesis.is_some() || r.data.is_some()) {
        return None;
    }
    let inputs = data
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kinesis = r.kinesis.as_ref();
            let key = kinesis
                .and_then(|k| k.sequence_number.as_deref())
                .or(r.record_id.as_deref())
                .map_or_else(|| format!("#{i}"), str::to_owned);
            let id = if name.is_empty() {
                key
            } else {
                format!("{name}:{key}")
            };
            match kinesis
                .and_then(|k| k.data.as_deref())
                .or(r.data.as_deref())
            {
                Some(data) => Input::of(InputKind::LogsPayload, id, data.as_bytes().to_vec()),
                None => Input {
                    kind: InputKind::LogsPayload,
                    ..Input::rejected(id, Vec::new(), RowError::new("record has no data"))
                },
            }
        })
        .collect();
    Some(inputs)
}

/// The ECS agent's state reports of a CloudTrail trail file (`Records` of
/// CloudTrail records), one input per record; the other services' and calls'
/// records are not ECS task data and are reported as one rejected input
/// saying how many and which. `None` when these are not CloudTrail records.
fn cloudtrail_records(name: &str, records: &RawValue) -> Option<Vec<Input>> {
    let records: Vec<&RawValue> = serde_json::from_str(records.get()).ok()?;
    let mut inputs = Vec::new();
    let mut others: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, raw) in records.iter().enumerate() {
        let record: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
        if !crate::sources::cloudtrail::is_record(&record) {
            return None;
        }
        if crate::sources::cloudtrail::is_state_report(&record) {
            let id = record
                .get("eventID")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| format!("#{i}"), str::to_owned);
            inputs.push(Input::new(
                format!("{name}:{id}"),
                raw.get().as_bytes().to_vec(),
            ));
        } else {
            let call = |k| {
                record
                    .get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
            };
            *others
                .entry(format!("{} {}", call("eventSource"), call("eventName")))
                .or_default() += 1;
        }
    }
    if !others.is_empty() {
        let count: usize = others.values().sum();
        let calls: Vec<String> = others.iter().map(|(c, n)| format!("{c} x{n}")).collect();
        inputs.push(Input::rejected(
            format!("{name}:other-records"),
            Vec::new(),
            RowError::new(format!(
                "{count} CloudTrail record(s) are not the ECS agent's state reports, not read: {}",
                crate::input::truncate(&calls.join(", "), 400)
            )),
        ));
    }
    Some(inputs)
}

/// One JSON document: an SQS, Kinesis or Firehose event (one input per record),
/// a CloudWatch Logs payload or log document, or a single ECS event.
fn split_document(
    name: &str,
    doc: &RawValue,
    names: &LogNames,
) -> Result<Vec<Input>, MissingLogGroup> {
    let Ok(map) = serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(doc.get()) else {
        return Ok(vec![Input::new(
            name.to_owned(),
            doc.get().as_bytes().to_vec(),
        )]);
    };
    if let Some(input) = map.get("awslogs").and_then(|a| awslogs_input(name, a)) {
        return Ok(vec![input]);
    }
    if map.contains_key("messageType") {
        return Ok(vec![Input::of(
            InputKind::LogsPayload,
            name,
            doc.get().as_bytes().to_vec(),
        )]);
    }
    if let Some(inputs) = log_documents::log_events_output(name, &map, names)
        .or_else(|| log_documents::query_results(name, &map, names))
    {
        return inputs;
    }
    if let Some(inputs) = map.get("Records").and_then(|r| cloudtrail_records(name, r)) {
        return Ok(inputs);
    }
    if let Some(inputs) = map
        .get("Records")
        .or(map.get("records"))
        .and_then(|r| payload_records(name, r))
        .filter(|inputs| !inputs.is_empty())
    {
        return Ok(inputs);
    }
    if let Some(records) = map.get("Records")
        && let Ok(records) = serde_json::from_str::<Vec<SqsRecord<'_>>>(records.get())
        && records
            .iter()
            .any(|r| r.body.is_some() || r.message_id.is_some())
    {
        return Ok(records
            .iter()
            .enumerate()
            .map(|(i, r)| sqs_input(name, i, r.message_id.as_deref(), r.body.as_deref()))
            .collect());
    }
    Ok(vec![Input::new(
        name.to_owned(),
        doc.get().as_bytes().to_vec(),
    )])
}

/// Whether a file's content is a CloudWatch Logs export: text whose first
/// line starts with an RFC 3339 timestamp and a space.
pub fn looks_like_export(content: &[u8]) -> bool {
    let first = content
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    let stamp = first.split(|&b| b == b' ').next().unwrap_or_default();
    first.len() > stamp.len()
        && std::str::from_utf8(stamp).is_ok_and(|s| time::parse_time(s).is_ok())
}

/// Splits a CloudWatch Logs export into one input per non-empty line.
pub fn split_export(name: &str, content: &[u8], log_group: &str, log_stream: &str) -> Vec<Input> {
    let kind = InputKind::ExportLine {
        log_group: Arc::from(log_group),
        log_stream: Arc::from(log_stream),
    };
    content
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(n, line)| Input::of(kind.clone(), format!("{name}:{}", n + 1), line.to_vec()))
        .collect()
}

/// The input for one SQS record; a record without a body is quarantined.
pub fn sqs_input(name: &str, index: usize, message_id: Option<&str>, body: Option<&str>) -> Input {
    let id = match message_id {
        Some(m) if name.is_empty() => m.to_owned(),
        Some(m) => format!("{name}:{m}"),
        None => format!("{name}:#{index}"),
    };
    match body {
        Some(body) => Input::new(id, body.as_bytes().to_vec()),
        None => Input::rejected(id, Vec::new(), RowError::new("SQS record has no body")),
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"1","detail-type":"ECS Task State Change","time":"2026-11-20T00:00:00Z","detail":{}}"#;

    fn ids(inputs: &[Input]) -> Vec<&str> {
        inputs.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn one_event_an_array_and_json_lines() {
        assert_eq!(ids(&split_file("f", EVENT.as_bytes())), ["f"]);
        let array = format!("[{EVENT},\n {EVENT}]");
        assert_eq!(ids(&split_file("f", array.as_bytes())), ["f:#0", "f:#1"]);
        let lines = format!("{EVENT}\n\n{EVENT}\nnot json\n");
        let inputs = split_file("f", lines.as_bytes());
        assert_eq!(ids(&inputs), ["f:1", "f:3", "f:4"]);
        assert_eq!(&inputs[2].body[..], b"not json");
    }

    #[test]
    fn sqs_envelopes_give_one_input_per_record() {
        let body = serde_json::to_string(EVENT).unwrap();
        let sqs =
            format!(r#"{{"Records":[{{"messageId":"m1","body":{body}}},{{"messageId":"m2"}}]}}"#);
        let inputs = split_file("f", sqs.as_bytes());
        assert_eq!(ids(&inputs), ["f:m1", "f:m2"]);
        assert_eq!(&inputs[0].body[..], EVENT.as_bytes());
        assert!(
            inputs[1].rejected.is_some(),
            "a record without a body is quarantined, not dropped"
        );
    }

    #[test]
    fn logs_payload_shapes_give_one_input_per_payload() {
        let kinds = |text: &str| {
            split_file("f", text.as_bytes())
                .into_iter()
                .map(|i| {
                    (
                        i.id,
                        i.kind == InputKind::LogsPayload,
                        String::from_utf8(i.body.to_vec()).unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(r#"{"awslogs":{"data":"H4sI"}}"#),
            [("f".into(), true, "H4sI".into())]
        );
        assert_eq!(
            kinds(
                r#"{"Records":[{"kinesis":{"data":"eNo","sequenceNumber":"49"}},{"kinesis":{}}]}"#
            ),
            [
                ("f:49".into(), true, "eNo".into()),
                ("f:#1".into(), true, String::new())
            ]
        );
        assert_eq!(
            kinds(r#"{"records":[{"recordId":"r1","data":"H4sI"}],"deliveryStreamArn":"x"}"#),
            [("f:r1".into(), true, "H4sI".into())]
        );
        let decoded = r#"{"messageType":"DATA_MESSAGE","logEvents":[]}"#;
        assert_eq!(kinds(decoded), [("f".into(), true, decoded.into())]);
        // JSON lines of payloads
        let lines = format!(
            "{}\n{}\n",
            r#"{"awslogs":{"data":"a"}}"#, r#"{"awslogs":{"data":"b"}}"#
        );
        assert_eq!(kinds(&lines).len(), 2);
        // SQS is still SQS, events still events.
        assert!(!kinds(r#"{"Records":[{"messageId":"m","body":"{}"}]}"#)[0].1);
        assert!(!kinds(EVENT)[0].1);
    }

    #[test]
    fn exports_are_recognized_by_their_leading_timestamp() {
        let export = b"2026-11-20T10:00:00.000Z starting\n\n2026-11-20T10:00:01.000Z Killed\n";
        assert!(looks_like_export(export));
        assert!(!looks_like_export(EVENT.as_bytes()));
        assert!(!looks_like_export(b"not json\n"));
        assert!(!looks_like_export(b"2026-11-20T10:00:00Z"));
        let inputs = split_export("x.gz", export, "/ecs/web", "ecs/web/abc");
        assert_eq!(ids(&inputs), ["x.gz:1", "x.gz:3"]);
        assert!(
            matches!(&inputs[1].kind, InputKind::ExportLine { log_group, .. } if &**log_group == "/ecs/web")
        );
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(EVENT.as_bytes()).unwrap();
        let packed = gz.finish().unwrap();
        assert_eq!(maybe_gunzip(packed).unwrap(), EVENT.as_bytes());
        assert_eq!(maybe_gunzip(b"plain".to_vec()).unwrap(), b"plain");
        assert!(maybe_gunzip(vec![0x1f, 0x8b, 0, 1, 2]).is_err());
    }
}
