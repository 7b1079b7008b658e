//! Compaction: killed at every step and re-run, each partition ends with every
//! distinct row exactly once (fault injection on a local lake); and the whole
//! simulator lake compacted on S3 (s3s) through the real aws-sdk-s3 client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use ecs_lake::compact::{compact_partition, days};
use ecs_lake::lake::{LakeFiles, StoreErrorKind};
use ecs_lake::schema::{TABLES, TableDef, task_events};
use ecs_lake::{LakeStore, StoreError};
use ecs_lake_aws::{LocalStore, S3Store};
use ecs_lake_tests::S3Server;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The simulator's fleet, ingested in 7 batches (as 7 Lambda invocations
/// would), so each day has several files and duplicate deliveries land in
/// different ones.
async fn build<S: LakeStore>(store: &S) {
    ecs_lake_tests::ingest_simulation(store, &ecs_sim::Preset::fleet(30.0), 11, 7).await;
}

/// Every row of every file under `prefix` as text, the ingest time left out:
/// the identity compaction must keep exactly once. Computed apart from the
/// compactor (display strings, not Arrow's row format).
fn rows_of(files: &[Bytes]) -> Vec<String> {
    use arrow::util::display::array_value_to_string;
    let mut rows = Vec::new();
    for bytes in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let schema = batch.schema();
            for r in 0..batch.num_rows() {
                let row: Vec<String> = schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .filter(|(f, _)| f.name() != "ingested_at")
                    .map(|(f, c)| {
                        let v = if c.is_null(r) {
                            "∅".into()
                        } else {
                            array_value_to_string(c, r).unwrap()
                        };
                        format!("{}={v}", f.name())
                    })
                    .collect();
                rows.push(row.join("|"));
            }
        }
    }
    rows
}

async fn partition_rows<S: LakeFiles>(store: &S, table: &TableDef, day: &str) -> Vec<String> {
    let prefix = format!("{}/dt={day}/", table.name);
    let mut files = Vec::new();
    for key in store.list(&prefix).await.unwrap() {
        if key.ends_with(".parquet") {
            files.push(store.get(&key).await.unwrap());
        }
    }
    let mut rows = rows_of(&files);
    rows.sort();
    rows
}

fn distinct(rows: &[String]) -> Vec<String> {
    let mut d = rows.to_vec();
    d.dedup();
    d
}

/// A store that fails every operation from the `fail_at`-th on: a compactor
/// killed at that point (nothing after it happens).
struct Killed<'a> {
    inner: &'a LocalStore,
    ops: AtomicUsize,
    fail_at: usize,
}

impl Killed<'_> {
    fn step(&self) -> Result<(), StoreError> {
        if self.ops.fetch_add(1, Ordering::SeqCst) >= self.fail_at {
            Err(StoreError::new(StoreErrorKind::Unavailable, "killed"))
        } else {
            Ok(())
        }
    }
}

impl LakeStore for Killed<'_> {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.step()?;
        self.inner.put(key, body).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

impl LakeFiles for Killed<'_> {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.step()?;
        self.inner.list(prefix).await
    }
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.step()?;
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.step()?;
        self.inner.delete(key).await
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

#[tokio::test]
async fn killed_at_any_step_then_rerun_keeps_every_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("lake");
    let store = LocalStore::new(&original);
    build(&store).await;
    let table = &task_events::DEF;
    let day = days(&store, table).await.unwrap()[0].clone();
    let before = partition_rows(&store, table, &day).await;
    let want = distinct(&before);
    assert!(
        want.len() < before.len(),
        "the simulator's duplicate deliveries are in the partition"
    );
    let files = store
        .list(&format!("task_events/dt={day}/"))
        .await
        .unwrap()
        .len();
    assert!(files > 1, "{files} files");

    // A clean run, counting its steps.
    let clean = dir.path().join("clean");
    copy_dir(&original, &clean);
    let clean_store = LocalStore::new(&clean);
    let counting = Killed {
        inner: &clean_store,
        ops: AtomicUsize::new(0),
        fail_at: usize::MAX,
    };
    let report = compact_partition(&counting, table, &day).await.unwrap();
    assert_eq!(report.files_in, files);
    assert_eq!(report.duplicates, before.len() - want.len());
    assert_eq!(partition_rows(&clean_store, table, &day).await, want);
    let steps = counting.ops.load(Ordering::SeqCst);
    assert!(
        steps >= 1 + files + 1 + files,
        "list, gets, put, deletes: {steps}"
    );

    // Killed before each step in turn, then run again to completion.
    for fail_at in 0..steps {
        let run = dir.path().join(format!("killed-{fail_at}"));
        copy_dir(&original, &run);
        let lake = LocalStore::new(&run);
        let killed = Killed {
            inner: &lake,
            ops: AtomicUsize::new(0),
            fail_at,
        };
        assert!(compact_partition(&killed, table, &day).await.is_err());
        // Whatever the kill left, no row is lost.
        let left = partition_rows(&lake, table, &day).await;
        assert_eq!(
            distinct(&left),
            want,
            "killed at step {fail_at}: a row was lost"
        );
        compact_partition(&lake, table, &day).await.unwrap();
        assert_eq!(
            partition_rows(&lake, table, &day).await,
            want,
            "killed at step {fail_at}, then re-run"
        );
        // And a third run has nothing to do.
        assert!(compact_partition(&lake, table, &day).await.unwrap().skipped);
        std::fs::remove_dir_all(&run).unwrap();
    }
}

#[tokio::test]
async fn the_whole_lake_compacts_on_s3() {
    let server = S3Server::start(&["lake"]);
    let store = S3Store::new(server.client(), "lake", "ecs/prod");
    build(&store).await;
    let mut before: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for table in TABLES {
        for day in days(&store, table).await.unwrap() {
            let rows = partition_rows(&store, table, &day).await;
            before.insert((table.name.to_owned(), day), rows);
        }
    }
    assert!(before.len() >= 10, "{} partitions", before.len());
    for table in TABLES {
        for day in days(&store, table).await.unwrap() {
            let report = compact_partition(&store, table, &day).await.unwrap();
            assert_eq!(report.files_out.len(), 1, "{} {day}", table.name);
            let keys = store
                .list(&format!("{}/dt={day}/", table.name))
                .await
                .unwrap();
            assert_eq!(keys, report.files_out, "inputs deleted");
            let after = partition_rows(&store, table, &day).await;
            let want = distinct(&before[&(table.name.to_owned(), day.clone())]);
            assert_eq!(after, want, "{} {day}", table.name);
        }
    }
    // The simulator delivers duplicates: some were removed.
    let total_before: usize = before.values().map(Vec::len).sum();
    let total_distinct: usize = before.values().map(|r| distinct(r).len()).sum();
    assert!(total_distinct < total_before);
}

#[tokio::test]
async fn the_lambda_compacts_the_recent_days_and_the_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    build(&store).await;
    let all_days = days(&store, &task_events::DEF).await.unwrap();
    assert_eq!(all_days.len(), 2, "{all_days:?}");
    // "Today" is the second simulated day, still written to: compacted
    // too (the hourly run), as the closed day before it.
    let summary = compact_lambda::compact_recent(&store, &all_days[1], 3)
        .await
        .unwrap();
    assert!(
        summary.compacted >= 10 && summary.duplicates > 0,
        "{summary:?}"
    );
    for day in &all_days {
        let files = store.list(&format!("task_events/dt={day}/")).await.unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].contains("compacted-"), "{files:?}");
    }
    // The next run finds nothing left to do.
    let again = compact_lambda::compact_recent(&store, &all_days[1], 3)
        .await
        .unwrap();
    assert_eq!(
        (again.compacted, again.already_compact),
        (0, summary.compacted)
    );
}

/// Compaction tells a missing object from a failing store: the real
/// aws-sdk-s3 client's 404 reaches it as `NotFound`, with the key.
#[tokio::test]
async fn a_missing_object_on_s3_is_not_found() {
    let server = S3Server::start(&["lake"]);
    let store = S3Store::new(server.client(), "lake", "ecs/prod");
    let e = store
        .get("task_events/dt=2026-11-20/gone.parquet")
        .await
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::NotFound, "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("task_events/dt=2026-11-20/gone.parquet")
    );
    assert!(
        e.to_string()
            .contains("s3://lake/ecs/prod/task_events/dt=2026-11-20/gone.parquet"),
        "{e}"
    );
    let e = S3Store::new(server.client(), "no-such-bucket", "")
        .get("a/b.parquet")
        .await
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::NotFound, "{e}");
}
