//! CloudWatch Logs: subscription payloads into `metrics`, `logs` and `health` rows.
//!
//! A payload (`awslogs.data` of a Lambda subscription, or `data` of a Kinesis
//! record) is base64 of a gzip (or zlib) JSON document holding a batch of log
//! events from one log group and stream. Decoding is bounded by
//! [`MAX_DECODED_BYTES`]: a payload that inflates past it is quarantined unread.
//!
//! Routing is by content: events of `/aws/ecs/containerinsights/<cluster>/performance`
//! are Container Insights performance records (JSON) and become `metrics` rows
//! (plus `health` samples when the record carries `UnHealthyContainerHealthStatus`);
//! every other event becomes a `logs` row with task and container from the
//! awslogs stream name or FireLens metadata, a level and a crash `signature`.
//!
//! What happens to what (the conservation invariant, see [`LogCounts`]):
//! * CONTROL_MESSAGE payloads (CloudWatch Logs checking the destination) are
//!   counted and dropped.
//! * A payload that cannot be decoded (bad base64, corrupt or truncated gzip,
//!   over the limit, not CloudWatch Logs JSON) is quarantined whole.
//! * A log event that cannot be read (a performance record that is not JSON,
//!   a timestamp out of range) is quarantined on its own; the rest of the
//!   payload is kept.

use std::borrow::Cow;
use std::io::Read;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use crate::health;
use crate::lenient::{self, Micros};
use crate::normalize::{HealthSample, Normalizer, Part, RowError};

/// A payload that decompresses to more than this is quarantined unread.
///
/// CloudWatch Logs sends at most 1 MiB of log events per payload (10,000 events,
/// 256 KiB each at most), so this is 16x headroom; it bounds the handler's memory
/// (a payload is held decoded once, plus its rows).
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

const PERFORMANCE_PREFIX: &str = "/aws/ecs/containerinsights/";
const PERFORMANCE_SUFFIX: &str = "/performance";

/// Standard alphabet; padding optional (`aws_lambda_events` insists on it, real
/// producers and hand-made test payloads do not always send it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes one payload into the CloudWatch Logs JSON: base64 (when it is text)
/// of gzip or zlib, or already-decoded JSON (backfill of decoded payloads).
pub fn decode_payload(body: &[u8]) -> Result<Cow<'_, [u8]>, RowError> {
    let body = body.trim_ascii();
    if body.first() == Some(&b'{') {
        return Ok(Cow::Borrowed(body));
    }
    if body.len() > MAX_DECODED_BYTES {
        return Err(RowError::new(format!(
            "payload is {} bytes, over the {MAX_DECODED_BYTES}-byte limit",
            body.len()
        )));
    }
    // CloudWatch Logs payloads arrive as base64 text; backfill may hand over raw bytes.
    let compressed: Cow<'_, [u8]> = match compression(body) {
        Some(_) => Cow::Borrowed(body),
        None => Cow::Owned(BASE64.decode(body).map_err(|e| {
            RowError::new(format!(
                "payload is not base64, gzip, zlib or JSON: base64 says {e}"
            ))
        })?),
    };
    match compression(&compressed) {
        Some(kind) => inflate(&compressed, kind).map(Cow::Owned),
        None if compressed.first() == Some(&b'{') => Ok(Cow::Owned(compressed.into_owned())),
        None => Err(RowError::new(format!(
            "decoded payload is neither gzip nor zlib (starts with {:02x?}); CloudWatch Logs gzips every payload",
            &compressed[..compressed.len().min(4)]
        ))),
    }
}

#[derive(Clone, Copy)]
enum Compression {
    Gzip,
    Zlib,
}

fn compression(b: &[u8]) -> Option<Compression> {
    match b {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        // zlib: CM = 8 (deflate), and the header checksum holds.
        [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            Some(Compression::Zlib)
        }
        _ => None,
    }
}

/// Inflates gzip or zlib, refusing to produce more than [`MAX_DECODED_BYTES`].
fn inflate(compressed: &[u8], kind: Compression) -> Result<Vec<u8>, RowError> {
    // gzip's trailer holds the decoded size (mod 2^32): allocate once.
    let hint = match kind {
        Compression::Gzip if compressed.len() >= 18 => {
            let n = compressed.len();
            u32::from_le_bytes([
                compressed[n - 4],
                compressed[n - 3],
                compressed[n - 2],
                compressed[n - 1],
            ]) as usize
        }
        _ => compressed.len() * 8,
    };
    let mut out = Vec::with_capacity(hint.min(MAX_DECODED_BYTES + 1));
    let limit = MAX_DECODED_BYTES as u64 + 1;
    let (name, read) = match kind {
        Compression::Gzip => (
            "gzip",
            flate2::read::MultiGzDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out),
        ),
        Compression::Zlib => (
            "zlib",
            flate2::read::ZlibDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out),
        ),
    };
    read.map_err(|e| RowError::new(format!("{name} payload is corrupt or truncated: {e}")))?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(RowError::new(format!(
            "{name} payload inflates past the {MAX_DECODED_BYTES}-byte limit ({} bytes compressed); quarantined unread",
            compressed.len()
        )));
    }
    Ok(out)
}

/// The decoded payload. Unknown fields (`subscriptionFilters`, `policyLevel`, ...) are ignored.
#[derive(Deserialize)]
struct LogsData<'a> {
    #[serde(rename = "messageType", borrow)]
    message_type: Cow<'a, str>,
    #[serde(default, borrow)]
    owner: Option<Cow<'a, str>>,
    #[serde(rename = "logGroup", default, borrow)]
    log_group: Cow<'a, str>,
    #[serde(rename = "logStream", default, borrow)]
    log_stream: Cow<'a, str>,
    /// Missing only in a malformed payload (quarantined); `[]` is read as
    /// a payload without events.
    #[serde(rename = "logEvents", default, borrow)]
    log_events: Option<Vec<LogEvent<'a>>>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::int")]
    timestamp: Option<i64>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// What every event of one payload (or export file) shares.
pub(crate) struct StreamCtx<'a> {
    log_group: &'a str,
    log_stream: &'a str,
    owner: Option<&'a str>,
    /// `Some(cluster)` for a Container Insights performance log group.
    performance_cluster: Option<&'a str>,
    /// Task and container from an awslogs stream name.
    stream_task: Option<(&'a str, &'a str)>,
}

impl<'a> StreamCtx<'a> {
    pub(crate) fn new(log_group: &'a str, log_stream: &'a str, owner: Option<&'a str>) -> Self {
        Self {
            log_group,
            log_stream,
            owner,
            performance_cluster: performance_cluster(log_group),
            stream_task: awslogs_stream(log_stream),
        }
    }
}

/// The cluster of a Container Insights performance log group.
pub fn performance_cluster(log_group: &str) -> Option<&str> {
    log_group
        .strip_prefix(PERFORMANCE_PREFIX)?
        .strip_suffix(PERFORMANCE_SUFFIX)
        .filter(|c| !c.is_empty() && !c.contains('/'))
}

/// `(container, task_id)` from an awslogs stream name `prefix/container/task-id`.
/// The task id must look like one (32 hex digits, or an old-style UUID), so
/// other streams (Lambda's `2024/01/01/[$LATEST]...`) are not misread.
pub fn awslogs_stream(stream: &str) -> Option<(&str, &str)> {
    let mut parts = stream.rsplitn(3, '/');
    let task = parts.next()?;
    let container = parts.next()?;
    let prefix = parts.next()?;
    (!prefix.is_empty() && !container.is_empty() && looks_like_task_id(task))
        .then_some((container, task))
}

fn looks_like_task_id(s: &str) -> bool {
    let hex = |c: u8| c.is_ascii_hexdigit();
    match s.len() {
        32 => s.bytes().all(hex),
        36 => s.bytes().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == b'-'
            } else {
                hex(c)
            }
        }),
        _ => false,
    }
}

impl Normalizer {
    /// Normalizes one CloudWatch Logs payload; an undecodable one is quarantined whole.
    pub fn push_logs_payload(&mut self, input: u32, body: &[u8]) {
        if let Err(error) = self.logs_payload(input, body) {
            self.log_counts.payloads_quarantined += 1;
            self.reject(input, error);
        }
    }

    fn logs_payload(&mut self, input: u32, body: &[u8]) -> Result<(), RowError> {
        let decoded = decode_payload(body)?;
        let data: LogsData<'_> = serde_json::from_slice(&decoded)
            .map_err(|e| RowError::new(format!("payload is not a CloudWatch Logs message: {e}")))?;
        match data.message_type.as_ref() {
            "CONTROL_MESSAGE" => {
                self.log_counts.control_messages += 1;
                Ok(())
            }
            "DATA_MESSAGE" => {
                let events = data
                    .log_events
                    .ok_or_else(|| RowError::new("DATA_MESSAGE payload has no logEvents"))?;
                self.log_counts.data_messages += 1;
                let ctx = StreamCtx::new(&data.log_group, &data.log_stream, data.owner.as_deref());
                for (i, e) in events.iter().enumerate() {
                    let id = e.id.as_deref().filter(|s| !s.is_empty());
                    let time = e.timestamp.ok_or("no timestamp").and_then(|ms| {
                        lenient::millis_to_micros(ms).ok_or("timestamp out of range")
                    });
                    self.log_event(input, &ctx, i, id, time, &e.message);
                }
                Ok(())
            }
            other => Err(RowError::new(format!(
                "messageType {:?} is neither DATA_MESSAGE nor CONTROL_MESSAGE",
                lenient::truncate(other, 40)
            ))),
        }
    }

    /// Normalizes one line `<timestamp> <message>` of a CloudWatch Logs export.
    pub fn push_export_line(&mut self, input: u32, log_group: &str, log_stream: &str, line: &[u8]) {
        let ctx = StreamCtx::new(log_group, log_stream, None);
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (stamp, message) = line.split_once(' ').unwrap_or((line, ""));
        self.log_counts.log_events += 1;
        let result = lenient::parse_time(stamp)
            .map_err(|e| RowError::new(format!("export line does not start with a timestamp: {e}")))
            .and_then(|time| self.append_event(input, &ctx, None, time, message));
        match result {
            Ok(()) => self.log_counts.rows += 1,
            Err(error) => {
                self.log_counts.quarantined += 1;
                self.reject(input, error);
            }
        }
    }

    fn log_event(
        &mut self,
        input: u32,
        ctx: &StreamCtx<'_>,
        index: usize,
        id: Option<&str>,
        time: Result<Micros, &str>,
        message: &str,
    ) {
        self.log_counts.log_events += 1;
        let result = time
            .map_err(|e| RowError::new(format!("log event: {e}")))
            .and_then(|time| self.append_event(input, ctx, id, time, message));
        match result {
            Ok(()) => self.log_counts.rows += 1,
            Err(error) => {
                self.log_counts.quarantined += 1;
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
                self.reject_part(input, error, part);
            }
        }
    }

    /// Appends one log event as a `metrics` or `logs` row.
    fn append_event(
        &mut self,
        input: u32,
        ctx: &StreamCtx<'_>,
        id: Option<&str>,
        time: Micros,
        message: &str,
    ) -> Result<(), RowError> {
        match ctx.performance_cluster {
            Some(cluster) => self.metric(input, ctx, cluster, id, time, message),
            None => {
                self.log_line(input, ctx, id, time, message);
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Container Insights performance records

/// A performance record (Type Task, Container, Service, Cluster, ...). Every
/// numeric field may be a number or a string.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PerfRecord<'a> {
    #[serde(rename = "Type", borrow)]
    record_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cluster_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    service_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    task_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    task_definition_family: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "lenient::int")]
    task_definition_revision: Option<i64>,
    #[serde(borrow)]
    container_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    image: Option<Cow<'a, str>>,
    #[serde(borrow)]
    launch_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    availability_zone: Option<Cow<'a, str>>,
    #[serde(borrow)]
    known_status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    container_known_status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    container_instance_id: Option<Cow<'a, str>>,
    #[serde(rename = "EC2InstanceId", borrow)]
    ec2_instance_id: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "lenient::float")]
    timestamp: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    cpu_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    cpu_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    memory_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    memory_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_packets: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_dropped: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_errors: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_packets: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_dropped: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_errors: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    storage_read_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    storage_write_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    ephemeral_storage_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    ephemeral_storage_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    restart_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    un_healthy_container_health_status: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    created_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    started_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pull_started_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pull_stopped_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    desired_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    running_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pending_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    deployment_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    task_set_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_instance_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    service_count: Option<f64>,
    // Enhanced observability names the container-level metrics `Container*`;
    // they fill the same columns when the plain names are absent.
    #[serde(deserialize_with = "lenient::float")]
    container_cpu_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_cpu_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_memory_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_memory_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_network_rx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_network_tx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_storage_read_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_storage_write_bytes: Option<f64>,
}

/// A whole-number metric (bytes, MiB, counts) as sent, rounded.
fn whole(v: Option<f64>) -> Option<i64> {
    v.map(|v| v.round() as i64)
}

/// A millisecond timestamp field.
fn millis(field: &str, v: Option<f64>) -> Result<Option<Micros>, RowError> {
    v.map(|ms| {
        if ms.abs() < 1.0e15 {
            Ok((ms * 1000.0).round() as Micros)
        } else {
            Err(RowError::new(format!(
                "{field} {ms} is not a millisecond timestamp"
            )))
        }
    })
    .transpose()
}

fn opt<'b>(v: &'b Option<Cow<'_, str>>) -> Option<&'b str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Normalizer {
    fn metric(
        &mut self,
        input: u32,
        ctx: &StreamCtx<'_>,
        group_cluster: &str,
        id: Option<&str>,
        event_time: Micros,
        message: &str,
    ) -> Result<(), RowError> {
        let r: PerfRecord<'_> = serde_json::from_str(message).map_err(|e| {
            RowError::new(format!(
                "Container Insights performance record is not valid: {e}"
            ))
        })?;
        let record_type = opt(&r.record_type)
            .ok_or_else(|| RowError::new("Container Insights performance record has no Type"))?;
        let time = millis("Timestamp", r.timestamp)?.unwrap_or(event_time);
        let revision = r
            .task_definition_revision
            .map(|v| {
                i32::try_from(v).map_err(|_| {
                    RowError::new(format!("TaskDefinitionRevision {v} is out of range"))
                })
            })
            .transpose()?;
        let unhealthy = match r.un_healthy_container_health_status {
            None => None,
            Some(0.0) => Some(0),
            Some(1.0) => Some(1),
            Some(v) => {
                return Err(RowError::new(format!(
                    "UnHealthyContainerHealthStatus is {v}, expected 0 or 1"
                )));
            }
        };
        let (created_at, started_at, pull_started_at, pull_stopped_at) = (
            millis("CreatedAt", r.created_at)?,
            millis("StartedAt", r.started_at)?,
            millis("PullStartedAt", r.pull_started_at)?,
            millis("PullStoppedAt", r.pull_stopped_at)?,
        );
        let cluster = opt(&r.cluster_name).unwrap_or(group_cluster);
        let container = opt(&r.container_name);

        let m = &mut self.metrics;
        m.time.append_value(time);
        m.ingested_at.append_value(self.ingested_at);
        m.record_type.append_value(record_type);
        m.cluster.append_value(cluster);
        m.service.append_option(opt(&r.service_name));
        m.task_id.append_option(opt(&r.task_id));
        m.family.append_option(opt(&r.task_definition_family));
        m.revision.append_option(revision);
        m.container.append_option(container);
        m.image.append_option(opt(&r.image));
        m.launch_type.append_option(opt(&r.launch_type));
        m.availability_zone.append_option(opt(&r.availability_zone));
        m.known_status
            .append_option(opt(&r.known_status).or(opt(&r.container_known_status)));
        m.container_instance_id
            .append_option(opt(&r.container_instance_id));
        m.ec2_instance_id.append_option(opt(&r.ec2_instance_id));
        m.cpu_utilized
            .append_option(r.cpu_utilized.or(r.container_cpu_utilized));
        m.cpu_reserved
            .append_option(r.cpu_reserved.or(r.container_cpu_reserved));
        m.memory_utilized
            .append_option(whole(r.memory_utilized.or(r.container_memory_utilized)));
        m.memory_reserved
            .append_option(whole(r.memory_reserved.or(r.container_memory_reserved)));
        m.network_rx_bytes
            .append_option(whole(r.network_rx_bytes.or(r.container_network_rx_bytes)));
        m.network_rx_packets
            .append_option(whole(r.network_rx_packets));
        m.network_rx_dropped
            .append_option(whole(r.network_rx_dropped));
        m.network_rx_errors
            .append_option(whole(r.network_rx_errors));
        m.network_tx_bytes
            .append_option(whole(r.network_tx_bytes.or(r.container_network_tx_bytes)));
        m.network_tx_packets
            .append_option(whole(r.network_tx_packets));
        m.network_tx_dropped
            .append_option(whole(r.network_tx_dropped));
        m.network_tx_errors
            .append_option(whole(r.network_tx_errors));
        m.storage_read_bytes.append_option(whole(
            r.storage_read_bytes.or(r.container_storage_read_bytes),
        ));
        m.storage_write_bytes.append_option(whole(
            r.storage_write_bytes.or(r.container_storage_write_bytes),
        ));
        m.ephemeral_storage_utilized
            .append_option(r.ephemeral_storage_utilized);
        m.ephemeral_storage_reserved
            .append_option(r.ephemeral_storage_reserved);
        m.restart_count.append_option(whole(r.restart_count));
        m.unhealthy.append_option(unhealthy);
        m.created_at.append_option(created_at);
        m.started_at.append_option(started_at);
        m.pull_started_at.append_option(pull_started_at);
        m.pull_stopped_at.append_option(pull_stopped_at);
        m.desired_task_count
            .append_option(whole(r.desired_task_count));
        m.running_task_count
            .append_option(whole(r.running_task_count));
        m.pending_task_count
            .append_option(whole(r.pending_task_count));
        m.deployment_count.append_option(whole(r.deployment_count));
        m.task_set_count.append_option(whole(r.task_set_count));
        m.task_count.append_option(whole(r.task_count));
        m.container_instance_count
            .append_option(whole(r.container_instance_count));
        m.service_count.append_option(whole(r.service_count));
        m.log_group.append_value(ctx.log_group);
        m.log_stream
            .append_option(Some(ctx.log_stream).filter(|s| !s.is_empty()));
        m.event_id.append_option(id);
        m.raw.append_value(message);
        self.metric_inputs.push(input);

        if let (Some(unhealthy), Some(task_id)) = (unhealthy, opt(&r.task_id)) {
            let sample = HealthSample {
                time,
                cluster: Some(cluster),
                service: opt(&r.service_name),
                task_id,
                family: opt(&r.task_definition_family),
                revision,
                container,
                status: if unhealthy == 1 {
                    "UNHEALTHY"
                } else {
                    "HEALTHY"
                },
                source: health::FROM_CONTAINER_INSIGHTS,
            };
            self.health_sample(input, sample);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Application log lines

/// The fields of a JSON log line this module looks at: FireLens metadata and
/// the usual level keys. Everything else is skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonLine<'a> {
    #[serde(borrow)]
    container_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ecs_cluster: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ecs_task_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ecs_task_definition: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    /// FireLens: the container's line.
    #[serde(borrow)]
    log: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "json_level")]
    level: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    severity: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    levelname: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    lvl: Option<Level>,
    #[serde(rename = "log.level", deserialize_with = "json_level")]
    log_level: Option<Level>,
}

/// A normalized level name (a type without a lifetime, so serde does not
/// require the input to be `'static`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Level(&'static str);

/// A level field: a name (`"warn"`, `"WARNING"`) or a pino/bunyan number (30 = info).
fn json_level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value<'a> {
        Name(#[serde(borrow)] Cow<'a, str>),
        Number(f64),
        Other(serde::de::IgnoredAny),
    }
    let name = match Value::deserialize(d)? {
        Value::Name(name) => level_name(&name),
        Value::Number(n) => match n as i64 {
            ..=10 => Some("trace"),
            11..=20 => Some("debug"),
            21..=30 => Some("info"),
            31..=40 => Some("warn"),
            41..=50 => Some("error"),
            _ => Some("fatal"),
        },
        Value::Other(_) => None,
    };
    Ok(name.map(Level))
}

/// Normalizes a level name; `None` for words that are not levels.
pub fn level_name(word: &str) -> Option<&'static str> {
    const LEVELS: &[(&str, &str)] = &[
        ("trace", "trace"),
        ("debug", "debug"),
        ("dbug", "debug"),
        ("info", "info"),
        ("information", "info"),
        ("notice", "info"),
        ("warn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("eror", "error"),
        ("severe", "error"),
        ("fatal", "fatal"),
        ("critical", "fatal"),
        ("crit", "fatal"),
        ("panic", "fatal"),
        ("emerg", "fatal"),
        ("alert", "fatal"),
    ];
    LEVELS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|&(_, level)| level)
}

/// A level from a text line's first 80 bytes: an upper-case level word
/// (`ERROR`, `[WARN]`, `2024-... INFO ...`, `WARNING:root:`), a `level=` /
/// `severity=` pair, or a lower-case level word that opens the line and ends
/// with `:` (winston's `error: ...`).
pub fn text_level(message: &str) -> Option<&'static str> {
    let head = &message.as_bytes()[..message.len().min(80)];
    let mut start = 0;
    let mut first = true;
    while start < head.len() {
        if !head[start].is_ascii_alphabetic() {
            start += 1;
            continue;
        }
        let end = head[start..]
            .iter()
            .position(|c| !c.is_ascii_alphabetic())
            .map_or(head.len(), |p| start + p);
        let word = &message[start..end];
        let key_before = message[..start]
            .trim_end_matches(['=', ':', '"', ' '])
            .rsplit(|c: char| !c.is_ascii_alphabetic())
            .next()
            .is_some_and(|k| {
                ["level", "lvl", "severity", "loglevel"]
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(k))
            })
            && message[..start].ends_with(['=', ':', '"']);
        let upper = word.bytes().all(|c| c.is_ascii_uppercase());
        let opens_line = first && head.get(end) == Some(&b':');
        if (upper || key_before || opens_line)
            && let Some(level) = level_name(word)
        {
            return Some(level);
        }
        first = false;
        start = end;
    }
    None
}

/// Known crash and memory lines: (pattern, signature). Matched ASCII
/// case-insensitively; the leftmost match wins.
const SIGNATURES: &[(&str, &str)] = &[
    ("JavaScript heap out of memory", "node_heap_oom"),
    ("Reached heap limit", "node_heap_oom"),
    ("OutOfMemoryError", "java_oom"),
    ("MemoryError", "python_memory_error"),
    ("runtime: out of memory", "go_oom"),
    ("panicked at", "rust_panic"),
    ("Segmentation fault", "segfault"),
    ("SIGSEGV", "segfault"),
    ("SIGTERM", "sigterm"),
    ("graceful shutdown", "sigterm"),
    ("gracefully shutting down", "sigterm"),
    ("shutting down gracefully", "sigterm"),
    ("Killed", KILLED),
];
const KILLED: &str = "killed";

static SIGNATURE_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        // A full DFA: a dozen patterns make a small one, and it scans several
        // times faster than the default NFA (no prefilter applies to
        // case-insensitive patterns).
        .kind(Some(AhoCorasickKind::DFA))
        .build(SIGNATURES.iter().map(|(p, _)| p))
        .ok()
});

/// What a secret in a log message is replaced by.
pub const REDACTED_SECRET: &str = "<redacted>";
const REDACTED_KEY: &str = "<redacted:aws-access-key>";

/// Where a secret may start: AWS access key ids (`AKIA`, `ASIA`), bearer
/// tokens, and URLs (whose userinfo may hold a password).
static SECRET_MARKERS: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(["AKIA", "ASIA", "Bearer ", "bearer ", "BEARER ", "://"])
        .ok()
});

/// A log message with obvious secrets replaced: AWS access key ids
/// (`AKIA`/`ASIA` + 16 upper-case letters or digits, as a word) by
/// `<redacted:aws-access-key>`, bearer tokens (8 or more token characters
/// after `Bearer `) and the password of a URL's userinfo
/// (`scheme://user:PASSWORD@host`) by `<redacted>`. Messages without any
/// (nearly all) are returned as they came. Not a secret scanner: it catches
/// what is common and unambiguous, without guessing at entropy.
pub fn redact_secrets(message: &str) -> Cow<'_, str> {
    let Some(markers) = SECRET_MARKERS.as_ref() else {
        return Cow::Borrowed(message);
    };
    let bytes = message.as_bytes();
    let token_char = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b);
    let mut out: Option<String> = None;
    let mut done = 0;
    for m in markers.find_iter(message) {
        if m.start() < done {
            continue;
        }
        let span = match m.pattern().as_usize() {
            0 | 1 => {
                let end = m.start() + 20;
                let key = end <= bytes.len()
                    && bytes[m.end()..end]
                        .iter()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && (m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric())
                    && bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
                key.then_some((m.start(), end, REDACTED_KEY))
            }
            2..=4 => {
                let len = bytes[m.end()..]
                    .iter()
                    .take_while(|b| token_char(b))
                    .count();
                (len >= 8).then_some((m.end(), m.end() + len, REDACTED_SECRET))
            }
            _ => {
                let rest = &bytes[m.end()..];
                let authority = rest
                    .iter()
                    .position(|b| b"/?#\"'<> \t\r\n".contains(b))
                    .map_or(rest, |end| &rest[..end]);
                match (
                    authority.iter().position(|b| *b == b':'),
                    authority.iter().rposition(|b| *b == b'@'),
                ) {
                    (Some(colon), Some(at)) if colon + 1 < at => {
                        Some((m.end() + colon + 1, m.end() + at, REDACTED_SECRET))
                    }
                    _ => None,
                }
            }
        };
        if let Some((from, to, with)) = span {
            let s = out.get_or_insert_with(|| String::with_capacity(message.len()));
            s.push_str(&message[done..from]);
            s.push_str(with);
            done = to;
        }
    }
    match out {
        Some(mut s) => {
            s.push_str(&message[done..]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(message),
    }
}

/// The crash or memory signature of a log line, if it is a known one.
///
/// `Killed` counts only as the shell reports a SIGKILLed child: the whole line,
/// or `... <pid> Killed ...` (`/app/run.sh: line 3:    7 Killed    node app.js`),
/// case-sensitive, so "killed 3 idle connections" is not one.
pub fn signature(message: &str) -> Option<&'static str> {
    let matcher = SIGNATURE_MATCHER.as_ref()?;
    matcher.find_iter(message).find_map(|m| {
        let (_, name) = SIGNATURES[m.pattern().as_usize()];
        if name != KILLED {
            return Some(name);
        }
        let before = &message[..m.start()];
        let after = &message[m.end()..];
        let exact = &message[m.start()..m.end()] == "Killed";
        let word_end = after.is_empty() || after.starts_with(char::is_whitespace);
        let whole_line = before.trim().is_empty() && after.trim().is_empty();
        let after_pid = before.ends_with(char::is_whitespace)
            && before
                .split_whitespace()
                .next_back()
                .is_some_and(|w| w.bytes().all(|c| c.is_ascii_digit()));
        (exact && word_end && (whole_line || after_pid)).then_some(KILLED)
    })
}

impl Normalizer {
    fn log_line(
        &mut self,
        input: u32,
        ctx: &StreamCtx<'_>,
        id: Option<&str>,
        time: Micros,
        message: &str,
    ) {
        let json = message
            .starts_with('{')
            .then(|| serde_json::from_str::<JsonLine<'_>>(message).ok())
            .flatten()
            .unwrap_or_default();
        let task_id = opt(&json.ecs_task_arn)
            .and_then(|arn| arn.rsplit('/').next())
            .or(ctx.stream_task.map(|(_, task)| task));
        let container = opt(&json.container_name)
            .map(|c| c.trim_start_matches('/'))
            .or(ctx.stream_task.map(|(container, _)| container));
        let (family, revision) = match opt(&json.ecs_task_definition)
            .and_then(|td| td.rsplit('/').next())
            .and_then(|td| td.rsplit_once(':'))
        {
            Some((family, rev)) => (Some(family), rev.parse::<i32>().ok()),
            None => (None, None),
        };
        let level = json
            .level
            .or(json.severity)
            .or(json.levelname)
            .or(json.lvl)
            .or(json.log_level)
            .map(|Level(l)| l)
            .or_else(|| text_level(opt(&json.log).unwrap_or(message)));

        let l = &mut self.logs;
        l.time.append_value(time);
        l.ingested_at.append_value(self.ingested_at);
        l.log_group.append_value(ctx.log_group);
        l.log_stream.append_value(ctx.log_stream);
        l.event_id.append_option(id);
        l.account.append_option(ctx.owner);
        l.cluster.append_option(opt(&json.ecs_cluster));
        l.task_id.append_option(task_id);
        l.container.append_option(container);
        l.family.append_option(family);
        l.revision.append_option(revision);
        l.stream.append_option(opt(&json.source));
        l.level.append_option(level);
        l.signature.append_option(signature(message));
        if self.options.redact_secrets {
            l.message.append_value(redact_secrets(message));
        } else {
            l.message.append_value(message);
        }
        self.log_inputs.push(input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn performance_log_groups_name_their_cluster() {
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights/prod-eu/performance"),
            Some("prod-eu")
        );
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights//performance"),
            None
        );
        assert_eq!(performance_cluster("/ecs/app"), None);
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights/prod/application"),
            None
        );
    }

    #[test]
    fn awslogs_stream_names() {
        assert_eq!(
            awslogs_stream("ecs/web/5a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            Some(("web", "5a1b2c3d4e5f60718293a4b5c6d7e8f9"))
        );
        assert_eq!(
            awslogs_stream("my/pre/fix/app/0d7650e6-dec3-4c1a-9200-f72098071e8f"),
            Some(("app", "0d7650e6-dec3-4c1a-9200-f72098071e8f"))
        );
        assert_eq!(
            awslogs_stream("2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7"),
            None
        );
        assert_eq!(awslogs_stream("testLogStream"), None);
        assert_eq!(awslogs_stream("web/5a1b2c3d4e5f60718293a4b5c6d7e8f9"), None);
    }

    #[test]
    fn levels_from_text() {
        let cases = [
            ("[ERROR] First test message", Some("error")),
            (
                "2024-01-01 12:00:00.123 WARN 1 --- [main] c.e.App : slow",
                Some("warn"),
            ),
            ("WARNING:root:disk almost full", Some("warn")),
            (
                "time=2024-01-01T00:00:00Z level=info msg=started",
                Some("info"),
            ),
            ("error: connect ECONNREFUSED 10.0.0.1:5432", Some("error")),
            ("I sent info to the user", None),
            ("Sending error report", None),
            ("FATAL ERROR: Reached heap limit", Some("fatal")),
            ("plain text", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(text_level(line), want, "{line}");
        }
    }

    #[test]
    fn crash_signatures() {
        let cases = [
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                Some("node_heap_oom"),
            ),
            (
                "<--- JS stacktrace ---> FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
                Some("node_heap_oom"),
            ),
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
                Some("java_oom"),
            ),
            ("MemoryError", Some("python_memory_error")),
            ("fatal error: runtime: out of memory", Some("go_oom")),
            (
                "thread 'main' panicked at src/main.rs:3:5:\nindex out of bounds",
                Some("rust_panic"),
            ),
            ("Killed", Some("killed")),
            (
                "/app/run.sh: line 3:     7 Killed                  node server.js",
                Some("killed"),
            ),
            ("killed 3 idle connections", None),
            ("Killed 3 idle connections", None),
            ("Segmentation fault (core dumped)", Some("segfault")),
            ("signal SIGSEGV: segmentation violation", Some("segfault")),
            ("Received SIGTERM, shutting down", Some("sigterm")),
            ("Starting graceful shutdown", Some("sigterm")),
            ("GET /health 200", None),
        ];
        for (line, want) in cases {
            assert_eq!(signature(line), want, "{line}");
        }
    }

    #[test]
    fn json_levels_by_name_or_number() {
        let level = |json: &str| {
            let l: JsonLine<'_> = serde_json::from_str(json).unwrap();
            l.level
                .or(l.severity)
                .or(l.levelname)
                .or(l.log_level)
                .map(|Level(l)| l)
        };
        assert_eq!(level(r#"{"level":"WARNING","msg":"x"}"#), Some("warn"));
        assert_eq!(level(r#"{"level":50,"msg":"x"}"#), Some("error"));
        assert_eq!(level(r#"{"severity":"ERROR"}"#), Some("error"));
        assert_eq!(level(r#"{"log.level":"debug"}"#), Some("debug"));
        assert_eq!(level(r#"{"level":{"nested":true}}"#), None);
        assert_eq!(level(r#"{"msg":"no level"}"#), None);
    }

    #[test]
    fn zlib_headers_are_recognized() {
        assert!(matches!(
            compression(&[0x78, 0xda]),
            Some(Compression::Zlib)
        ));
        assert!(matches!(
            compression(&[0x78, 0x9c]),
            Some(Compression::Zlib)
        ));
        assert!(matches!(
            compression(&[0x1f, 0x8b]),
            Some(Compression::Gzip)
        ));
        assert!(compression(b"H4sI").is_none());
        assert!(compression(b"{}").is_none());
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn obvious_secrets_are_redacted() {
        let cases = [
            // (message, stored)
            (
                "using key AKIAIOSFODNN7EXAMPLE for s3",
                "using key <redacted:aws-access-key> for s3",
            ),
            (
                r#"{"accessKeyId":"ASIAY34FZKBOKMUTVV7A"}"#,
                r#"{"accessKeyId":"<redacted:aws-access-key>"}"#,
            ),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-_/+=",
                "Authorization: Bearer <redacted>",
            ),
            (
                "connecting to postgres://app:s3cr3t!pw@db.internal:5432/orders",
                "connecting to postgres://app:<redacted>@db.internal:5432/orders",
            ),
            (
                "redis://:hunter2@cache:6379 and https://u:p%40ss@x.example/a",
                "redis://:<redacted>@cache:6379 and https://u:<redacted>@x.example/a",
            ),
        ];
        for (message, stored) in cases {
            assert_eq!(redact_secrets(message), stored, "{message}");
        }
    }

    #[test]
    fn lookalikes_are_left_alone() {
        for message in [
            "GET https://example.com/health 200",
            "user@example.com logged in via http://host:8080/",
            "AKIAIOSFODNN7EXAMPL is short, XAKIAIOSFODNN7EXAMPLE is inside a word",
            "bearer of bad news",
            "Bearer short",
            "AKIAIOSFODNN7EXAMPLEX (21 characters)",
            "ünïcödé ://: @ AKIA",
        ] {
            assert!(
                matches!(redact_secrets(message), Cow::Borrowed(_)),
                "{message} -> {}",
                redact_secrets(message)
            );
        }
    }

    #[test]
    fn the_normalizer_redacts_unless_told_not_to() {
        use crate::normalize::{Normalizer, Options};
        let payload = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/api",
            "logStream": "ecs/app/0123456789abcdef0123456789abcdef", "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000_i64, "message": "key AKIAIOSFODNN7EXAMPLE"}],
        })
        .to_string();
        let message = |options: Options| {
            let mut n = Normalizer::new(0).with_options(options);
            n.push_logs_payload(0, payload.as_bytes());
            let (parts, _) = n.finish().unwrap();
            let logs = parts.into_iter().find(|p| p.table.name == "logs").unwrap();
            let column = logs.batch.column_by_name("message").unwrap();
            arrow::util::display::array_value_to_string(column, 0).unwrap()
        };
        assert_eq!(message(Options::default()), "key <redacted:aws-access-key>");
        assert_eq!(
            message(Options {
                redact_secrets: false
            }),
            "key AKIAIOSFODNN7EXAMPLE"
        );
    }
}
