//! The compaction loop over a lake in memory, fed by the real ingest
//! pipeline: the days it picks, what it reports, and duplicates across
//! deliveries (quarantined inputs included) removed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use ecs_lake::compact::{compact_days, compact_partition, partition_prefix};
use ecs_lake::lake::{LakeFiles, StoreErrorKind};
use ecs_lake::schema::{health, quarantine};
use ecs_lake::time::parse_time;
use ecs_lake::{Input, LakeStore, StoreError, ingest};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A lake in memory, for the loop's tests.
#[derive(Default)]
struct Memory(Mutex<BTreeMap<String, Bytes>>);

impl Memory {
    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LakeStore for Memory {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.objects().insert(key.to_owned(), body);
        Ok(())
    }
    fn location(&self) -> String {
        "memory".into()
    }
}

impl LakeFiles for Memory {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .objects()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.objects()
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::new(StoreErrorKind::NotFound, key).with_key(key))
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.objects().remove(key);
        Ok(())
    }
}

/// Rows in the files under `prefix`, from their Parquet footers.
fn rows_in(store: &Memory, prefix: &str) -> i64 {
    store
        .objects()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, body)| {
            ParquetRecordBatchReaderBuilder::try_new(body.clone())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows()
        })
        .sum()
}

#[tokio::test]
async fn a_redelivered_bad_input_is_quarantined_once_after_compaction() {
    let store = Memory::default();
    let bad = Input::new("msg-1", &b"{not an event"[..]);
    let first = parse_time("2026-11-20T10:00:00Z").unwrap();
    let later = first + 3_600_000_000;
    let prefix = partition_prefix(&quarantine::DEF, "2026-11-20");

    let report = ingest(&store, "events", std::slice::from_ref(&bad), first).await;
    assert_eq!(report.quarantined(), 1);
    let compacted = compact_partition(&store, &quarantine::DEF, "2026-11-20")
        .await
        .unwrap();
    assert_eq!(compacted.rows_in, 1);
    // SQS delivers the message again an hour later: same bytes, same id,
    // another received_at, next to the compacted file.
    let report = ingest(&store, "events", &[bad], later).await;
    assert_eq!(report.quarantined(), 1);
    assert_eq!(rows_in(&store, &prefix), 2);

    let r = compact_partition(&store, &quarantine::DEF, "2026-11-20")
        .await
        .unwrap();
    assert_eq!((r.rows_in, r.duplicates), (2, 1));
    assert_eq!(rows_in(&store, &prefix), 1);
}

#[tokio::test]
async fn compact_days_compacts_the_chosen_days_and_reports_each() {
    let store = Memory::default();
    // Distinct bytes: the same bytes would make the same file.
    let bad = |id: &str| Input::new(id, format!("nope {id}").into_bytes());
    let day = |d: &str| parse_time(&format!("{d}T12:00:00Z")).unwrap();
    for (d, ids) in [
        ("2026-11-19", ["a", "b"]),
        ("2026-11-20", ["c", "d"]),
        ("2026-11-21", ["e", "f"]),
    ] {
        for id in ids {
            ingest(&store, "events", &[bad(id)], day(d)).await;
        }
    }
    let tables = [&quarantine::DEF, &health::DEF];
    let summary = compact_days(&store, &tables, |d| d < "2026-11-21", 2).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let done: Vec<_> = summary
        .compacted()
        .map(|r| (r.table, r.day.as_str(), r.files_in, r.rows_in))
        .collect();
    assert_eq!(
        done,
        [
            ("_quarantine", "2026-11-19", 2, 2),
            ("_quarantine", "2026-11-20", 2, 2)
        ]
    );
    assert_eq!(summary.already_compact(), 0);
    // The day left out keeps its two files.
    let left = store
        .objects()
        .keys()
        .filter(|k| k.starts_with("_quarantine/dt=2026-11-21/"))
        .count();
    assert_eq!(left, 2);

    let again = compact_days(&store, &tables, |d| d < "2026-11-21", 2).await;
    assert_eq!((again.compacted().count(), again.already_compact()), (0, 2));
}
