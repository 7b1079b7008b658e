//! What the pipeline takes in, and what it says about an input it cannot read.
//!
//! The leaf of the ingest pipeline: every source and the pipeline itself
//! depend on these types; they depend on nothing in the crate.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

/// One input: a unit of delivery that succeeds or fails as a whole
/// (an SQS message, one event of a direct invocation, a CloudWatch Logs
/// payload, a Kinesis record, one line of a file).
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it came from, for quarantine and logs: SQS message id, `file:line`.
    pub id: String,
    pub body: Bytes,
    pub kind: InputKind,
    /// Set when the input was already found unreadable before normalization
    /// (e.g. an SQS record without a body); it goes straight to quarantine.
    pub rejected: Option<RowError>,
}

/// What an input's body is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InputKind {
    /// One EventBridge ECS event, JSON.
    #[default]
    Event,
    /// One CloudWatch Logs subscription payload: the base64 `awslogs.data` or
    /// Kinesis `data`, raw gzip/zlib bytes, or the decoded JSON itself.
    LogsPayload,
    /// One line `<timestamp> <message>` of a CloudWatch Logs export.
    ExportLine {
        log_group: Arc<str>,
        log_stream: Arc<str>,
    },
    /// A JSON array of `PolledHealth` samples from the DescribeTasks poller
    /// (`sources::health`).
    HealthSamples,
}

impl Input {
    /// An EventBridge event.
    pub fn new(id: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self::of(InputKind::Event, id, body)
    }

    pub fn of(kind: InputKind, id: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            id: id.into(),
            body: body.into(),
            kind,
            rejected: None,
        }
    }

    pub fn rejected(id: impl Into<String>, body: impl Into<Bytes>, error: RowError) -> Self {
        Self {
            rejected: Some(error),
            ..Self::new(id, body)
        }
    }
}

/// How inputs are normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Replace obvious secrets in log messages (`redact::redact_secrets`). On by default.
    pub redact_secrets: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redact_secrets: true,
        }
    }
}

/// Why one input (or one record of it) could not be normalized. Stored with
/// it in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub reason: String,
    /// The EventBridge detail-type, when the envelope could be read.
    pub detail_type: Option<String>,
}

impl RowError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            detail_type: None,
        }
    }

    pub fn with_detail_type(mut self, detail_type: &str) -> Self {
        self.detail_type
            .get_or_insert_with(|| detail_type.to_owned());
        self
    }
}

/// Something that was quarantined: a whole input, or one record inside it
/// (a log event of a CloudWatch Logs payload whose other events were kept).
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub input: u32,
    pub error: RowError,
    /// `None` when the whole input is quarantined.
    pub part: Option<Part>,
}

/// One record of an input, quarantined on its own.
#[derive(Debug, Clone)]
pub struct Part {
    /// Appended to the input's id: `<input id>/<id>`.
    pub id: String,
    /// The record, byte for byte as far as it could be read.
    pub raw: Vec<u8>,
}

/// Cuts a value quoted in a rejection reason, on a character boundary, so a
/// megabyte of garbage does not become a megabyte of reason.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é...");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
