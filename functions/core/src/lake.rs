//! Lake layout and the storage seam.
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

/// A failed write. The message says what failed and where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
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
        return Err(StoreError::new(format!(
            "refusing lake key {key:?}: keys are relative paths without '.', '..' or empty segments"
        )));
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
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
