//! Unwrapping deliveries into inputs: SQS batches, backfill files.
//!
//! A backfill file may hold one EventBridge event, a JSON array of events,
//! JSON lines of events, or an SQS event (`{"Records": [{"body": ...}]}`),
//! optionally gzipped. Each event becomes one [`Input`]; anything that cannot
//! be split (a line that is not JSON) still becomes an input, so it is
//! quarantined with its reason instead of being skipped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ingest::Input;
use crate::normalize::RowError;

/// Largest decompressed backfill file accepted (the CLI holds a file in memory).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Deserialize)]
struct SqsRecord<'a> {
    #[serde(rename = "messageId", borrow, default)]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
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
pub fn split_file(name: &str, content: &[u8]) -> Vec<Input> {
    let text = trim_ascii_start(content);
    if text.is_empty() {
        return Vec::new();
    }
    if text[0] == b'[' {
        if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(text) {
            return items
                .iter()
                .enumerate()
                .map(|(i, v)| Input::new(format!("{name}:#{i}"), v.get().as_bytes().to_vec()))
                .collect();
        }
    } else if let Ok(doc) = serde_json::from_slice::<&RawValue>(text) {
        return split_document(name, doc);
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
            Ok(doc) => inputs.extend(split_document(&id, doc)),
            Err(_) => inputs.push(Input::new(id, line.to_vec())),
        }
    }
    inputs
}

/// One JSON document: an SQS event (one input per record) or a single event.
fn split_document(name: &str, doc: &RawValue) -> Vec<Input> {
    if let Ok(map) = serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(doc.get())
        && let Some(records) = map.get("Records")
        && let Ok(records) = serde_json::from_str::<Vec<SqsRecord<'_>>>(records.get())
    {
        return records
            .iter()
            .enumerate()
            .map(|(i, r)| sqs_input(name, i, r.message_id.as_deref(), r.body.as_deref()))
            .collect();
    }
    vec![Input::new(name.to_owned(), doc.get().as_bytes().to_vec())]
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
