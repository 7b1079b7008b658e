//! CloudWatch Logs: subscription payloads and export lines into `metrics`,
//! `logs` and `health` rows. Entry points: [`append_payload`],
//! [`append_export_line`].
//!
//! A payload (`awslogs.data` of a Lambda subscription, or `data` of a Kinesis
//! record) is base64 of a gzip (or zlib) JSON document holding a batch of log
//! events from one log group and stream ([`decode`], [`payload`]). Decoding
//! is bounded by [`decode::MAX_DECODED_BYTES`]: a payload that inflates past
//! it is refused unread.
//!
//! Routing is by log group: events of `/aws/ecs/containerinsights/<cluster>/performance`
//! are Container Insights performance records ([`insights`]); every other
//! event is an application line ([`app`]) with a [`level`] and a crash
//! [`signature`].
//!
//! What happens to what (the conservation invariant, see [`LogCounts`]):
//! * CONTROL_MESSAGE payloads (CloudWatch Logs checking the destination) are
//!   counted and dropped.
//! * A payload that cannot be decoded (bad base64, corrupt or truncated gzip,
//!   over the limit, not CloudWatch Logs JSON) is refused whole: the caller
//!   quarantines it and counts it in `payloads_quarantined`.
//! * A log event that cannot be read (a performance record that is not JSON,
//!   a timestamp out of range) is quarantined on its own; the rest of the
//!   payload is kept.
//!
//! [`LogCounts`]: crate::rows::LogCounts

pub mod app;
pub mod decode;
pub mod insights;
pub mod level;
pub mod payload;
pub mod signature;

use std::sync::LazyLock;

use memchr::memmem;
use payload::{LogsData, StreamCtx};

use crate::input::{Options, Part, RowError, truncate};
use crate::rows::Rows;
use crate::time::{self, Micros};

/// Normalizes one CloudWatch Logs payload into rows of `input`. `Err` when
/// the payload cannot be decoded: the caller quarantines it whole. Log
/// events that cannot be read are quarantined here, one by one.
pub fn append_payload(
    rows: &mut Rows,
    input: u32,
    body: &[u8],
    options: Options,
) -> Result<(), RowError> {
    let decoded = decode::decode_payload(body)?;
    // Validated once here, then parsed as text: `from_str` skips the
    // per-string UTF-8 checks `from_slice` makes (see bench/RESULTS.md, issue 21).
    let text = std::str::from_utf8(&decoded).map_err(|e| {
        RowError::new(format!(
            "payload is not a CloudWatch Logs message: not UTF-8 text ({e})"
        ))
    })?;
    let data: LogsData<'_> = serde_json::from_str(text)
        .map_err(|e| RowError::new(format!("payload is not a CloudWatch Logs message: {e}")))?;
    match data.message_type.as_ref() {
        "CONTROL_MESSAGE" => {
            rows.log_counts_mut().control_messages += 1;
            Ok(())
        }
        "DATA_MESSAGE" => {
            let events = data
                .log_events
                .ok_or_else(|| RowError::new("DATA_MESSAGE payload has no logEvents"))?;
            rows.log_counts_mut().data_messages += 1;
            let ctx = StreamCtx::new(&data.log_group, &data.log_stream, data.owner.as_deref());
            // Application lines are sized up front; Container Insights
            // records and ECS events (a lifecycle-event log group) go to
            // other tables.
            if ctx.performance_cluster.is_none()
                && !events.first().is_some_and(|e| is_ecs_event(&e.message))
            {
                app::reserve(rows, &ctx, &events, options);
            }
            for (i, e) in events.iter().enumerate() {
                let id = e.id.as_deref().filter(|s| !s.is_empty());
                let time = e
                    .timestamp
                    .ok_or("no timestamp")
                    .and_then(|ms| time::millis_to_micros(ms).ok_or("timestamp out of range"));
                log_event(rows, input, &ctx, i, id, time, &e.message, options);
            }
            Ok(())
        }
        other => Err(RowError::new(format!(
            "messageType {:?} is neither DATA_MESSAGE nor CONTROL_MESSAGE",
            truncate(other, 40)
        ))),
    }
}

/// Normalizes one line `<timestamp> <message>` of a CloudWatch Logs export
/// into a row of `input`. `Err` when it cannot be read (counted as a
/// quarantined log event): the caller quarantines the line.
pub fn append_export_line(
    rows: &mut Rows,
    input: u32,
    log_group: &str,
    log_stream: &str,
    line: &[u8],
    options: Options,
) -> Result<(), RowError> {
    let ctx = StreamCtx::new(log_group, log_stream, None);
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches(['\r', '\n']);
    let (stamp, message) = line.split_once(' ').unwrap_or((line, ""));
    rows.log_counts_mut().log_events += 1;
    let result = time::parse_time(stamp)
        .map_err(|e| RowError::new(format!("export line does not start with a timestamp: {e}")))
        .and_then(|time| append_event(rows, input, &ctx, None, time, message, options));
    let counts = rows.log_counts_mut();
    match result {
        Ok(()) => counts.rows += 1,
        Err(_) => counts.quarantined += 1,
    }
    result
}

/// True when a JSON document is a bare Container Insights performance
/// record (as copied out of `/aws/ecs/containerinsights/<cluster>/performance`,
/// one object per line): it names its type, time and cluster.
pub fn is_bare_performance_record(doc: &serde_json::Value) -> bool {
    doc.get("Type").is_some_and(serde_json::Value::is_string)
        && doc
            .get("Timestamp")
            .is_some_and(serde_json::Value::is_number)
        && doc
            .get("ClusterName")
            .is_some_and(serde_json::Value::is_string)
        && doc.get("detail-type").is_none()
}

/// Normalizes a bare Container Insights performance record (see
/// [`is_bare_performance_record`]) as a log event of its cluster's
/// performance log group, at its own `Timestamp`.
pub fn append_bare_record(
    rows: &mut Rows,
    input: u32,
    doc: &serde_json::Value,
    record: &str,
    options: Options,
) -> Result<(), RowError> {
    let cluster = doc
        .get("ClusterName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let millis = doc
        .get("Timestamp")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_default();
    let group = format!("/aws/ecs/containerinsights/{cluster}/performance");
    let ctx = StreamCtx::new(&group, "", None);
    rows.log_counts_mut().log_events += 1;
    let result = append_event(
        rows,
        input,
        &ctx,
        None,
        (millis * 1000.0) as Micros,
        record,
        options,
    );
    let counts = rows.log_counts_mut();
    match result {
        Ok(()) => counts.rows += 1,
        Err(_) => counts.quarantined += 1,
    }
    result
}

/// One log event of a payload: a row, or quarantined on its own.
#[allow(clippy::too_many_arguments)] // one event's fields, passed through
fn log_event(
    rows: &mut Rows,
    input: u32,
    ctx: &StreamCtx<'_>,
    index: usize,
    id: Option<&str>,
    time: Result<Micros, &str>,
    message: &str,
    options: Options,
) {
    rows.log_counts_mut().log_events += 1;
    let result = time
        .map_err(|e| RowError::new(format!("log event: {e}")))
        .and_then(|time| append_event(rows, input, ctx, id, time, message, options));
    match result {
        Ok(()) => rows.log_counts_mut().rows += 1,
        Err(error) => {
            rows.log_counts_mut().quarantined += 1;
            let raw = serde_json::json!({
                "logGroup": ctx.log_group,
                "logStream": ctx.log_stream,
                "id": id,
                "time": time.ok(),
                "message": message,
            });
            let part = Part {
                id: id.map_or_else(|| format!("#{index}"), str::to_owned),
                raw: raw.to_string().into_bytes(),
            };
            rows.reject_part(input, error, part);
        }
    }
}

/// Appends one log event as a `metrics` or `logs` row, or, when its
/// message is an ECS event (see [`is_ecs_event`]), as that event's rows.
fn append_event(
    rows: &mut Rows,
    input: u32,
    ctx: &StreamCtx<'_>,
    id: Option<&str>,
    time: Micros,
    message: &str,
    options: Options,
) -> Result<(), RowError> {
    if is_ecs_event(message) {
        crate::sources::cloudtrail::append_event(rows, input, message.as_bytes())
            .map_err(|e| RowError::new(format!("ECS event in a log group: {}", e.reason)))?;
        rows.log_counts_mut().ecs_events += 1;
        return Ok(());
    }
    match ctx.performance_cluster {
        Some(cluster) => insights::append(rows, input, ctx, cluster, id, time, message),
        None => {
            app::append(rows, input, ctx, id, time, message, options);
            Ok(())
        }
    }
}

/// True when a log message is an EventBridge event from `aws.ecs`: what the
/// lifecycle-event log groups Container Insights creates
/// (`/aws/events/ecs/containerinsights/<cluster>/performance`) and an
/// EventBridge rule with a CloudWatch Logs target hold. Other JSON (an app
/// that logs other services' events) stays a log line.
pub fn is_ecs_event(message: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(rename = "detail-type", borrow)]
        _detail_type: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        source: std::borrow::Cow<'a, str>,
    }
    // Cheap checks first (memchr's SIMD search): this runs on every
    // application log line.
    static DETAIL_TYPE: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("\"detail-type\""));
    static AWS_ECS: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("aws.ecs"));
    message.trim_start().starts_with('{')
        && DETAIL_TYPE.find(message.as_bytes()).is_some()
        && AWS_ECS.find(message.as_bytes()).is_some()
        && serde_json::from_str::<Head<'_>>(message).is_ok_and(|h| h.source == "aws.ecs")
}
