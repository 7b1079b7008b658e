//! What the fuzz targets share: a store that keeps nothing, and one input
//! normalized into Arrow record batches, with the pipeline's invariant
//! checked. (Parquet encoding is exercised by `sqs_invocation`, which runs the
//! whole handler; here it would cost most of each execution.)

use std::collections::BTreeSet;

use bytes::Bytes;
use ecs_lake::normalize::Normalizer;
use ecs_lake::{Input, InputKind, LakeStore, StoreError};

/// 2026-11-21T12:00:00Z, the fixed "now" of every run.
pub const NOW: i64 = 1_795_521_600_000_000;

/// Accepts every write and keeps nothing: `sqs_invocation` exercises the
/// handler, normalization and Parquet encoding, not storage.
pub struct Discard;

impl LakeStore for Discard {
    async fn put(&self, _: &str, _: Bytes) -> Result<(), StoreError> {
        Ok(())
    }
    fn location(&self) -> String {
        "discard".into()
    }
}

/// Normalizes one input (redaction on, as in production) into record
/// batches and checks what holds for any input: it has rows (or quarantine
/// rows for some of its records), or it is quarantined whole with a reason,
/// not both; neither only when it held no records (`[]`, a payload with
/// `"logEvents": []`, a control message), never for an event.
pub fn normalize_one(input: &Input) {
    let mut n = Normalizer::new(NOW);
    n.push(0, input);
    let counts = n.log_counts();
    let (parts, quarantined) = n.finish().expect("builders stay in step");
    let mut with_rows: BTreeSet<u32> = parts.iter().flat_map(|p| p.inputs.clone()).collect();
    let mut whole = 0;
    for q in &quarantined {
        assert!(!q.error.reason.is_empty());
        if q.part.is_some() {
            with_rows.insert(q.input);
        } else {
            whole += 1;
        }
    }
    let outcomes = with_rows.len() + whole;
    assert!(outcomes <= 1, "one outcome");
    if outcomes == 0 {
        assert_ne!(input.kind, InputKind::Event, "an event left no trace");
        assert_eq!(counts.log_events, 0, "log events left no trace");
    }
    assert_eq!(
        counts.rows + counts.quarantined,
        counts.log_events,
        "log events conserved"
    );
}
