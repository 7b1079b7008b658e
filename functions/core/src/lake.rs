//! Lake layout and the storage seam: [`LakeStore`] (put) for the writers,
//! [`LakeFiles`] (list, get, delete) for compaction, and [`StoreError`],
//! which keeps the kind of a failure (not found, denied, throttled, ...).
//!
//! Layout: `<prefix>/<table>/dt=YYYY-MM-DD/<source>-<hash>.parquet`, Hive style,
//! so DataFusion, DuckDB and Athena (partition projection) prune by date.
//! Quarantine lives beside the tables as `<prefix>/_quarantine/dt=.../`.
//!
//! Object names are deterministic: the hash covers the table, the day and the
//! exact bytes of the inputs whose rows the file holds. A retried invocation
//! with the same batch therefore overwrites its own objects instead of adding
//! copies. (A retry with a *different* batch, e.g. after an SQS partial batch
//! failure, writes new names; the rows it repeats carry the same `event_id` and
//! are removed by the views and by compaction.)

use std::future::Future;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::schema::TableDef;

/// Where lake objects are stored. Keys are relative to the lake root
/// (`task_events/dt=2026-11-20/events-ab12.parquet`); the store adds its prefix.
///
/// Handlers are generic over this so tests pass a local directory or an
/// in-process S3 endpoint, and production passes S3.
pub trait LakeStore: Send + Sync {
    fn put(&self, key: &str, body: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A human-readable location, for logs (`s3://bucket/prefix`, a path).
    fn location(&self) -> String;
}

/// A store that can also list, read and delete: what compaction needs.
pub trait LakeFiles: LakeStore {
    /// Keys (relative to the lake root) under `prefix`, in any order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Bytes, StoreError>> + Send;
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What kind of failure a store reported, as far as the store can tell.
/// Callers decide on it (a missing object is not a throttled one); the
/// message says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// No such object (S3 `NoSuchKey`/404, a missing file).
    NotFound,
    /// The caller may not do this (S3 `AccessDenied`/403, expired or invalid
    /// credentials; a file permission).
    Denied,
    /// The store asked to slow down (S3 `SlowDown`/503, 429).
    Throttled,
    /// The request did not finish in time (an attempt timeout, the
    /// invocation's deadline, S3 `RequestTimeout`).
    Timeout,
    /// The store could not be reached or failed on its side (connection
    /// errors, S3 500/502/504).
    Unavailable,
    /// A key the lake refuses (see [`validate_key`]): a bug, not the store.
    InvalidKey,
    /// Anything else.
    Other,
}

impl StoreErrorKind {
    /// Whether trying again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Timeout | Self::Unavailable)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::Denied => "denied",
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::InvalidKey => "invalid key",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed store operation: its kind, the lake key it was about (when it
/// was about one), and a message saying what failed and where, with the
/// store's own words (`GET s3://bucket/key: NoSuchKey: ...`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    /// The lake key (relative to the root), or the prefix of a listing.
    pub key: Option<String>,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            key: None,
            message: message.into(),
        }
    }

    /// The same error, about `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == StoreErrorKind::NotFound
    }
}

/// The identity of one input's bytes, computed once per input and shared by
/// every part its rows land in.
pub type InputDigest = [u8; 32];

pub fn input_digest(bytes: &[u8]) -> InputDigest {
    Sha256::digest(bytes).into()
}

/// The key of one table part: `<table>/dt=<dt>/<source>-<hash>.parquet`, where
/// the hash covers the table, the day and the digests of the part's inputs.
pub fn part_key<'a>(
    table: &TableDef,
    dt: &str,
    source: &str,
    inputs: impl IntoIterator<Item = &'a InputDigest>,
) -> String {
    let mut h = Sha256::new();
    h.update(table.name.as_bytes());
    h.update([0]);
    h.update(dt.as_bytes());
    for digest in inputs {
        h.update(digest);
    }
    let digest = h.finalize();
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}/dt={dt}/{source}-{hex}.parquet", table.name)
}

/// Rejects keys that could escape the lake root or that no store accepts.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        return Err(StoreError::new(
            StoreErrorKind::InvalidKey,
            format!(
                "refusing lake key {key:?}: keys are relative paths without '.', '..' or empty segments"
            ),
        )
        .with_key(key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::task_events;

    #[test]
    fn keys_are_deterministic_and_depend_on_content() {
        let (one, two, onetwo) = (
            input_digest(b"one"),
            input_digest(b"two"),
            input_digest(b"onetwo"),
        );
        let a = part_key(&task_events::DEF, "2026-11-20", "events", [&one, &two]);
        let b = part_key(&task_events::DEF, "2026-11-20", "events", [&one, &two]);
        let c = part_key(&task_events::DEF, "2026-11-20", "events", [&onetwo]);
        let d = part_key(&task_events::DEF, "2026-11-21", "events", [&one, &two]);
        assert_ne!(a, d, "the day is part of the key");
        assert_eq!(a, b);
        assert_ne!(a, c, "input boundaries are part of the key");
        assert!(a.starts_with("task_events/dt=2026-11-20/events-"), "{a}");
        assert!(a.ends_with(".parquet"));
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(validate_key("task_events/dt=2026-11-20/x.parquet").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a\\b",
            "./a",
        ] {
            let e = validate_key(bad).unwrap_err();
            assert_eq!(e.kind, StoreErrorKind::InvalidKey, "{bad}");
            assert_eq!(e.key.as_deref(), Some(bad));
        }
    }
}
