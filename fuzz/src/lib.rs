//! What the fuzz targets share: a store that keeps nothing, and the ingest
//! pipeline run to the end on one input, with the pipeline's invariant checked.

use bytes::Bytes;
use ecs_lake::{Input, LakeStore, Options, StoreError};

/// 2026-11-21T12:00:00Z, the fixed "now" of every run.
pub const NOW: i64 = 1_795_521_600_000_000;

/// Accepts every write and keeps nothing: the targets exercise decoding,
/// normalization and Parquet encoding, not storage.
pub struct Discard;

impl LakeStore for Discard {
    async fn put(&self, _: &str, _: Bytes) -> Result<(), StoreError> {
        Ok(())
    }
    fn location(&self) -> String {
        "discard".into()
    }
}

/// Ingests one input (redaction on, as in production) and checks what holds
/// for any input: one outcome, and it is not `Failed` (nothing failed to write).
pub fn ingest_one(input: Input) {
    let inputs = [input];
    let report = futures::executor::block_on(ecs_lake::ingest_with(
        &Discard,
        "fuzz",
        &inputs,
        NOW,
        Options::default(),
    ));
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(report.failed(), 0, "{:?}", report.outcomes);
}
